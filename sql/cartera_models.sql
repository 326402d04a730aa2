------------------------------------------------------------------------------
-- 0.4.0: the other customer-base models of the field, each with its
-- uncertainty (docs/predictive.md): Pareto/NBD and MBG/NBD on the same
-- (x, t_x, T) histogram as BG/NBD, BG/BB for discrete opportunities, the
-- shifted-beta-geometric for contracts.  New objects only: the whole file is
-- the "models" block of the upgrade from 0.3.0 (tools/refresh-upgrade).
-- Every fit's result type ends with log_likelihood, customers, iterations,
-- converged (and time_unit for the continuous-time models), then one se_*
-- per parameter, aic and bic, as bgnbd_params does since 0.4.0.
------------------------------------------------------------------------------

------------------------------------------------------------------------------
-- Pareto/NBD and MBG/NBD (src/pareto_nbd.c, src/mbgnbd.c, src/btyd_agg.c, src/btyd_predict.c)
------------------------------------------------------------------------------
-- The same (x, t_x, T) histogram and transition function as bgnbd_fit, and
-- the same prediction functions, overloaded on the parameter type.

CREATE TYPE cartera.pareto_nbd_params AS (
  r              double precision,
  alpha          double precision,
  s              double precision,
  beta           double precision,
  log_likelihood double precision,
  customers      bigint,
  iterations     integer,
  converged      boolean,
  time_unit      text,
  se_r           double precision,
  se_alpha       double precision,
  se_s           double precision,
  se_beta        double precision,
  aic            double precision,
  bic            double precision,
  log_covariance double precision[]
);
COMMENT ON TYPE cartera.pareto_nbd_params IS
  'Pareto/NBD model (Schmittlein, Morrison & Colombo 1987): purchase rate ~ Gamma(r, alpha) while alive, exponential lifetime with rate ~ Gamma(s, beta); alpha and beta are per time_unit';
COMMENT ON COLUMN cartera.pareto_nbd_params.r IS 'shape of the Gamma distribution of purchase rates while alive';
COMMENT ON COLUMN cartera.pareto_nbd_params.alpha IS 'rate parameter of the Gamma distribution of purchase rates, in time_unit';
COMMENT ON COLUMN cartera.pareto_nbd_params.s IS 'shape of the Gamma distribution of dropout rates';
COMMENT ON COLUMN cartera.pareto_nbd_params.beta IS 'rate parameter of the Gamma distribution of dropout rates, in time_unit';
COMMENT ON COLUMN cartera.pareto_nbd_params.log_likelihood IS 'log-likelihood at the estimate (NULL for parameters built by hand)';
COMMENT ON COLUMN cartera.pareto_nbd_params.customers IS 'customers the model was fitted on';
COMMENT ON COLUMN cartera.pareto_nbd_params.iterations IS 'optimiser iterations';
COMMENT ON COLUMN cartera.pareto_nbd_params.converged IS 'whether the optimiser met its convergence test';
COMMENT ON COLUMN cartera.pareto_nbd_params.time_unit IS 'days or weeks: the unit of t_x, T and t; NULL when not stated';
COMMENT ON COLUMN cartera.pareto_nbd_params.se_r IS 'standard error of r (observed information at the estimate; NULL for parameters built by hand or an edge estimate)';
COMMENT ON COLUMN cartera.pareto_nbd_params.se_alpha IS 'standard error of alpha (observed information at the estimate; NULL for parameters built by hand or an edge estimate)';
COMMENT ON COLUMN cartera.pareto_nbd_params.se_s IS 'standard error of s (observed information at the estimate; NULL for parameters built by hand or an edge estimate)';
COMMENT ON COLUMN cartera.pareto_nbd_params.se_beta IS 'standard error of beta (observed information at the estimate; NULL for parameters built by hand or an edge estimate)';
COMMENT ON COLUMN cartera.pareto_nbd_params.aic IS 'Akaike information criterion, 2k - 2 log_likelihood (k = 4)';
COMMENT ON COLUMN cartera.pareto_nbd_params.bic IS 'Bayesian information criterion, k ln(customers) - 2 log_likelihood';
COMMENT ON COLUMN cartera.pareto_nbd_params.log_covariance IS 'covariance matrix of ln(r, alpha, s, beta), 16 numbers by rows: what the prediction intervals use (NULL when the fit has none)';

CREATE FUNCTION cartera.pareto_nbd_fit_finalfn(internal) RETURNS cartera.pareto_nbd_params
  AS 'MODULE_PATHNAME', 'cartera_pareto_nbd_fit_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.pareto_nbd_fit_finalfn(internal) IS 'final function of pareto_nbd_fit(): maximum likelihood on the (x, t_x, T) histogram';
CREATE AGGREGATE cartera.pareto_nbd_fit(frequency integer, t_x double precision, "T" double precision) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.pareto_nbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.pareto_nbd_fit(integer, double precision, double precision) IS
  'fit Pareto/NBD by maximum likelihood to (frequency, t_x, T) rows in one unstated time unit';
CREATE AGGREGATE cartera.pareto_nbd_fit(frequency integer, t_x double precision, "T" double precision, time_unit text) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.pareto_nbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.pareto_nbd_fit(integer, double precision, double precision, text) IS
  'fit Pareto/NBD by maximum likelihood to (frequency, t_x, T) rows measured in time_unit (days or weeks)';
CREATE AGGREGATE cartera.pareto_nbd_fit(frequency integer, t_x double precision, "T" double precision, time_unit text, penalizer double precision) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.pareto_nbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.pareto_nbd_fit(integer, double precision, double precision, text, double precision) IS
  'fit Pareto/NBD with an L2 penalty on the parameters (lifetimes penalizer_coef)';
CREATE AGGREGATE cartera.pareto_nbd_fit(summary cartera.rfm_summary, time_unit text) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.pareto_nbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.pareto_nbd_fit(cartera.rfm_summary, text) IS
  'fit Pareto/NBD to rfm() summaries, converting their day counts to time_unit (days or weeks); leads are skipped';
CREATE AGGREGATE cartera.pareto_nbd_fit(summary cartera.rfm_summary, time_unit text, penalizer double precision) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.pareto_nbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.pareto_nbd_fit(cartera.rfm_summary, text, double precision) IS
  'fit Pareto/NBD to rfm() summaries with an L2 penalty on the parameters';
-- shards: the state of bgnbd_fit_partial() is the (x, t_x, T) histogram every
-- transaction model fits on, so one partial state per shard serves all three
CREATE AGGREGATE cartera.pareto_nbd_fit_merge(state bytea) (
  SFUNC = cartera.bgnbd_fit_merge_transfn,
  FINALFUNC = cartera.pareto_nbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.pareto_nbd_fit_merge(bytea) IS
  'second step: combines bgnbd_fit_partial() states (NULLs skipped) into the cartera.pareto_nbd_params that pareto_nbd_fit() gives over all their rows';

CREATE FUNCTION cartera.pareto_nbd_params(r double precision, alpha double precision,
                                   s double precision, beta double precision,
                                   time_unit text DEFAULT NULL)
  RETURNS cartera.pareto_nbd_params
  AS 'MODULE_PATHNAME', 'cartera_bgnbd_params_make' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.pareto_nbd_params(double precision, double precision, double precision, double precision, text) IS
  'Pareto/NBD parameters fitted elsewhere (lifetimes, BTYD, CLVTools, pymc-marketing); alpha is per time_unit';

CREATE FUNCTION cartera.expected_purchases(params cartera.pareto_nbd_params, t double precision,
                                           frequency double precision, t_x double precision,
                                           "T" double precision)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases(cartera.pareto_nbd_params, double precision, double precision, double precision, double precision) IS
  'Pareto/NBD: expected repeat purchases in the next t time units given frequency, t_x, T (all in the model''s time unit)';
CREATE FUNCTION cartera.expected_purchases(params cartera.pareto_nbd_params, t double precision,
                                           summary cartera.rfm_summary, time_unit text)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases_summary' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases(cartera.pareto_nbd_params, double precision, cartera.rfm_summary, text) IS
  'Pareto/NBD: expected repeat purchases in the next t time units of an rfm() summary; time_unit must be the model''s';
CREATE FUNCTION cartera.expected_purchases_new(params cartera.pareto_nbd_params, t double precision)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases_new' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases_new(cartera.pareto_nbd_params, double precision) IS
  'Pareto/NBD: expected repeat purchases in the first t time units of a customer just acquired';
CREATE FUNCTION cartera.p_alive(params cartera.pareto_nbd_params, frequency double precision,
                                t_x double precision, "T" double precision)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_p_alive' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.p_alive(cartera.pareto_nbd_params, double precision, double precision, double precision) IS
  'Pareto/NBD: probability that the customer is still active (in [0, 1], below 1 also for one-time buyers) given frequency, t_x, T';
CREATE FUNCTION cartera.p_alive(params cartera.pareto_nbd_params, summary cartera.rfm_summary, time_unit text)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_p_alive_summary' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.p_alive(cartera.pareto_nbd_params, cartera.rfm_summary, text) IS
  'Pareto/NBD: probability that the customer of an rfm() summary is still active; time_unit must be the model''s';
CREATE FUNCTION cartera.probability_of_purchases(params cartera.pareto_nbd_params, t double precision, n integer)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_probability_of_purchases' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.probability_of_purchases(cartera.pareto_nbd_params, double precision, integer) IS
  'Pareto/NBD: P(X(t) = n), the probability that a customer just acquired makes n repeat purchases in t time units';
CREATE FUNCTION cartera.clv_predicted(model cartera.pareto_nbd_params, gg cartera.gamma_gamma_params,
                                      frequency double precision, t_x double precision,
                                      "T" double precision, monetary double precision,
                                      months integer DEFAULT 12,
                                      monthly_discount_rate double precision DEFAULT 0.01)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_clv_predicted' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.clv_predicted(cartera.pareto_nbd_params, cartera.gamma_gamma_params, double precision, double precision, double precision, double precision, integer, double precision) IS
  'Pareto/NBD with Gamma-Gamma: predicted CLV over the next months (30-day months), discounted monthly';
CREATE FUNCTION cartera.clv_predicted(model cartera.pareto_nbd_params, gg cartera.gamma_gamma_params,
                                      summary cartera.rfm_summary, time_unit text,
                                      months integer DEFAULT 12,
                                      monthly_discount_rate double precision DEFAULT 0.01)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_clv_predicted_summary' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.clv_predicted(cartera.pareto_nbd_params, cartera.gamma_gamma_params, cartera.rfm_summary, text, integer, double precision) IS
  'Pareto/NBD with Gamma-Gamma: predicted CLV of the customer of an rfm() summary over the next months, discounted monthly';

CREATE TYPE cartera.mbgnbd_params AS (
  r              double precision,
  alpha          double precision,
  a              double precision,
  b              double precision,
  log_likelihood double precision,
  customers      bigint,
  iterations     integer,
  converged      boolean,
  time_unit      text,
  se_r           double precision,
  se_alpha       double precision,
  se_a           double precision,
  se_b           double precision,
  aic            double precision,
  bic            double precision,
  log_covariance double precision[]
);
COMMENT ON TYPE cartera.mbgnbd_params IS
  'MBG/NBD model (Batislam, Denizel & Filiztekin 2007; lifetimes ModifiedBetaGeoFitter): BG/NBD whose customers may drop out after the first purchase too; alpha is per time_unit';
COMMENT ON COLUMN cartera.mbgnbd_params.r IS 'shape of the Gamma distribution of purchase rates';
COMMENT ON COLUMN cartera.mbgnbd_params.alpha IS 'rate parameter of the Gamma distribution of purchase rates, in time_unit';
COMMENT ON COLUMN cartera.mbgnbd_params.a IS 'first shape of the Beta distribution of dropout probabilities (after every purchase, the first included)';
COMMENT ON COLUMN cartera.mbgnbd_params.b IS 'second shape of the Beta distribution of dropout probabilities';
COMMENT ON COLUMN cartera.mbgnbd_params.log_likelihood IS 'log-likelihood at the estimate (NULL for parameters built by hand)';
COMMENT ON COLUMN cartera.mbgnbd_params.customers IS 'customers the model was fitted on';
COMMENT ON COLUMN cartera.mbgnbd_params.iterations IS 'optimiser iterations';
COMMENT ON COLUMN cartera.mbgnbd_params.converged IS 'whether the optimiser met its convergence test';
COMMENT ON COLUMN cartera.mbgnbd_params.time_unit IS 'days or weeks: the unit of t_x, T and t; NULL when not stated';
COMMENT ON COLUMN cartera.mbgnbd_params.se_r IS 'standard error of r (observed information at the estimate; NULL for parameters built by hand or an edge estimate)';
COMMENT ON COLUMN cartera.mbgnbd_params.se_alpha IS 'standard error of alpha (observed information at the estimate; NULL for parameters built by hand or an edge estimate)';
COMMENT ON COLUMN cartera.mbgnbd_params.se_a IS 'standard error of a (observed information at the estimate; NULL for parameters built by hand or an edge estimate)';
COMMENT ON COLUMN cartera.mbgnbd_params.se_b IS 'standard error of b (observed information at the estimate; NULL for parameters built by hand or an edge estimate)';
COMMENT ON COLUMN cartera.mbgnbd_params.aic IS 'Akaike information criterion, 2k - 2 log_likelihood (k = 4)';
COMMENT ON COLUMN cartera.mbgnbd_params.bic IS 'Bayesian information criterion, k ln(customers) - 2 log_likelihood';
COMMENT ON COLUMN cartera.mbgnbd_params.log_covariance IS 'covariance matrix of ln(r, alpha, a, b), 16 numbers by rows: what the prediction intervals use (NULL when the fit has none)';

CREATE FUNCTION cartera.mbgnbd_fit_finalfn(internal) RETURNS cartera.mbgnbd_params
  AS 'MODULE_PATHNAME', 'cartera_mbgnbd_fit_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.mbgnbd_fit_finalfn(internal) IS 'final function of mbgnbd_fit(): maximum likelihood on the (x, t_x, T) histogram';
CREATE AGGREGATE cartera.mbgnbd_fit(frequency integer, t_x double precision, "T" double precision) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.mbgnbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.mbgnbd_fit(integer, double precision, double precision) IS
  'fit MBG/NBD by maximum likelihood to (frequency, t_x, T) rows in one unstated time unit';
CREATE AGGREGATE cartera.mbgnbd_fit(frequency integer, t_x double precision, "T" double precision, time_unit text) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.mbgnbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.mbgnbd_fit(integer, double precision, double precision, text) IS
  'fit MBG/NBD by maximum likelihood to (frequency, t_x, T) rows measured in time_unit (days or weeks)';
CREATE AGGREGATE cartera.mbgnbd_fit(frequency integer, t_x double precision, "T" double precision, time_unit text, penalizer double precision) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.mbgnbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.mbgnbd_fit(integer, double precision, double precision, text, double precision) IS
  'fit MBG/NBD with an L2 penalty on the parameters (lifetimes penalizer_coef)';
CREATE AGGREGATE cartera.mbgnbd_fit(summary cartera.rfm_summary, time_unit text) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.mbgnbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.mbgnbd_fit(cartera.rfm_summary, text) IS
  'fit MBG/NBD to rfm() summaries, converting their day counts to time_unit (days or weeks); leads are skipped';
CREATE AGGREGATE cartera.mbgnbd_fit(summary cartera.rfm_summary, time_unit text, penalizer double precision) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.mbgnbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.mbgnbd_fit(cartera.rfm_summary, text, double precision) IS
  'fit MBG/NBD to rfm() summaries with an L2 penalty on the parameters';
-- shards: the state of bgnbd_fit_partial() is the (x, t_x, T) histogram every
-- transaction model fits on, so one partial state per shard serves all three
CREATE AGGREGATE cartera.mbgnbd_fit_merge(state bytea) (
  SFUNC = cartera.bgnbd_fit_merge_transfn,
  FINALFUNC = cartera.mbgnbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.mbgnbd_fit_merge(bytea) IS
  'second step: combines bgnbd_fit_partial() states (NULLs skipped) into the cartera.mbgnbd_params that mbgnbd_fit() gives over all their rows';

CREATE FUNCTION cartera.mbgnbd_params(r double precision, alpha double precision,
                                   a double precision, b double precision,
                                   time_unit text DEFAULT NULL)
  RETURNS cartera.mbgnbd_params
  AS 'MODULE_PATHNAME', 'cartera_bgnbd_params_make' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.mbgnbd_params(double precision, double precision, double precision, double precision, text) IS
  'MBG/NBD parameters fitted elsewhere (lifetimes, BTYD, CLVTools, pymc-marketing); alpha is per time_unit';

CREATE FUNCTION cartera.expected_purchases(params cartera.mbgnbd_params, t double precision,
                                           frequency double precision, t_x double precision,
                                           "T" double precision)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases(cartera.mbgnbd_params, double precision, double precision, double precision, double precision) IS
  'MBG/NBD: expected repeat purchases in the next t time units given frequency, t_x, T (all in the model''s time unit)';
CREATE FUNCTION cartera.expected_purchases(params cartera.mbgnbd_params, t double precision,
                                           summary cartera.rfm_summary, time_unit text)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases_summary' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases(cartera.mbgnbd_params, double precision, cartera.rfm_summary, text) IS
  'MBG/NBD: expected repeat purchases in the next t time units of an rfm() summary; time_unit must be the model''s';
CREATE FUNCTION cartera.expected_purchases_new(params cartera.mbgnbd_params, t double precision)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases_new' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases_new(cartera.mbgnbd_params, double precision) IS
  'MBG/NBD: expected repeat purchases in the first t time units of a customer just acquired';
CREATE FUNCTION cartera.p_alive(params cartera.mbgnbd_params, frequency double precision,
                                t_x double precision, "T" double precision)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_p_alive' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.p_alive(cartera.mbgnbd_params, double precision, double precision, double precision) IS
  'MBG/NBD: probability that the customer is still active (in [0, 1], below 1 also for one-time buyers) given frequency, t_x, T';
CREATE FUNCTION cartera.p_alive(params cartera.mbgnbd_params, summary cartera.rfm_summary, time_unit text)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_p_alive_summary' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.p_alive(cartera.mbgnbd_params, cartera.rfm_summary, text) IS
  'MBG/NBD: probability that the customer of an rfm() summary is still active; time_unit must be the model''s';
CREATE FUNCTION cartera.probability_of_purchases(params cartera.mbgnbd_params, t double precision, n integer)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_probability_of_purchases' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.probability_of_purchases(cartera.mbgnbd_params, double precision, integer) IS
  'MBG/NBD: P(X(t) = n), the probability that a customer just acquired makes n repeat purchases in t time units';
CREATE FUNCTION cartera.clv_predicted(model cartera.mbgnbd_params, gg cartera.gamma_gamma_params,
                                      frequency double precision, t_x double precision,
                                      "T" double precision, monetary double precision,
                                      months integer DEFAULT 12,
                                      monthly_discount_rate double precision DEFAULT 0.01)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_clv_predicted' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.clv_predicted(cartera.mbgnbd_params, cartera.gamma_gamma_params, double precision, double precision, double precision, double precision, integer, double precision) IS
  'MBG/NBD with Gamma-Gamma: predicted CLV over the next months (30-day months), discounted monthly';
CREATE FUNCTION cartera.clv_predicted(model cartera.mbgnbd_params, gg cartera.gamma_gamma_params,
                                      summary cartera.rfm_summary, time_unit text,
                                      months integer DEFAULT 12,
                                      monthly_discount_rate double precision DEFAULT 0.01)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_clv_predicted_summary' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.clv_predicted(cartera.mbgnbd_params, cartera.gamma_gamma_params, cartera.rfm_summary, text, integer, double precision) IS
  'MBG/NBD with Gamma-Gamma: predicted CLV of the customer of an rfm() summary over the next months, discounted monthly';


-- The month of the discounted CLV made explicit (issue 16): the forms above
-- count 30-day months (lifetimes' customer_lifetime_value); these take the
-- month: a fixed length of 28 to 31 days ('30 days 10:30' is the mean
-- Gregorian month, 30.4375 days, pymc-marketing's since its issue 2749) or
-- '1 month', calendar months from the summary's as_of.
CREATE FUNCTION cartera.clv_predicted(model cartera.bgnbd_params, gg cartera.gamma_gamma_params,
                                      frequency double precision, t_x double precision,
                                      "T" double precision, monetary double precision,
                                      months integer, monthly_discount_rate double precision, month interval)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_clv_predicted' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.clv_predicted(cartera.bgnbd_params, cartera.gamma_gamma_params, double precision, double precision, double precision, double precision, integer, double precision, interval) IS
  'BG/NBD with Gamma-Gamma: predicted CLV over the next months of the given length (28 to 31 days), discounted monthly';
CREATE FUNCTION cartera.clv_predicted(model cartera.bgnbd_params, gg cartera.gamma_gamma_params,
                                      summary cartera.rfm_summary, time_unit text,
                                      months integer, monthly_discount_rate double precision, month interval)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_clv_predicted_summary' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.clv_predicted(cartera.bgnbd_params, cartera.gamma_gamma_params, cartera.rfm_summary, text, integer, double precision, interval) IS
  'BG/NBD with Gamma-Gamma: predicted CLV of an rfm() summary over the next months (a length of 28 to 31 days, or ''1 month'': calendar months from its as_of), discounted monthly';
CREATE FUNCTION cartera.clv_predicted(model cartera.pareto_nbd_params, gg cartera.gamma_gamma_params,
                                      frequency double precision, t_x double precision,
                                      "T" double precision, monetary double precision,
                                      months integer, monthly_discount_rate double precision, month interval)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_clv_predicted' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.clv_predicted(cartera.pareto_nbd_params, cartera.gamma_gamma_params, double precision, double precision, double precision, double precision, integer, double precision, interval) IS
  'Pareto/NBD with Gamma-Gamma: predicted CLV over the next months of the given length (28 to 31 days), discounted monthly';
CREATE FUNCTION cartera.clv_predicted(model cartera.pareto_nbd_params, gg cartera.gamma_gamma_params,
                                      summary cartera.rfm_summary, time_unit text,
                                      months integer, monthly_discount_rate double precision, month interval)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_clv_predicted_summary' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.clv_predicted(cartera.pareto_nbd_params, cartera.gamma_gamma_params, cartera.rfm_summary, text, integer, double precision, interval) IS
  'Pareto/NBD with Gamma-Gamma: predicted CLV of an rfm() summary over the next months (a length of 28 to 31 days, or ''1 month'': calendar months from its as_of), discounted monthly';
CREATE FUNCTION cartera.clv_predicted(model cartera.mbgnbd_params, gg cartera.gamma_gamma_params,
                                      frequency double precision, t_x double precision,
                                      "T" double precision, monetary double precision,
                                      months integer, monthly_discount_rate double precision, month interval)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_clv_predicted' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.clv_predicted(cartera.mbgnbd_params, cartera.gamma_gamma_params, double precision, double precision, double precision, double precision, integer, double precision, interval) IS
  'MBG/NBD with Gamma-Gamma: predicted CLV over the next months of the given length (28 to 31 days), discounted monthly';
CREATE FUNCTION cartera.clv_predicted(model cartera.mbgnbd_params, gg cartera.gamma_gamma_params,
                                      summary cartera.rfm_summary, time_unit text,
                                      months integer, monthly_discount_rate double precision, month interval)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_clv_predicted_summary' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.clv_predicted(cartera.mbgnbd_params, cartera.gamma_gamma_params, cartera.rfm_summary, text, integer, double precision, interval) IS
  'MBG/NBD with Gamma-Gamma: predicted CLV of an rfm() summary over the next months (a length of 28 to 31 days, or ''1 month'': calendar months from its as_of), discounted monthly';

-- Prediction intervals by the delta method (src/interval.c): the fit's
-- covariance of ln(params) carried through the prediction's gradient, on
-- the logit scale for P(alive) and the log scale for expected purchases.
CREATE TYPE cartera.prediction_interval AS (
  estimate  double precision,
  std_error double precision,
  lower     double precision,
  upper     double precision,
  level     double precision
);
COMMENT ON TYPE cartera.prediction_interval IS
  'a prediction with its delta-method standard error and interval (symmetric on the logit scale for probabilities, the log scale for counts)';
COMMENT ON COLUMN cartera.prediction_interval.estimate IS 'the prediction at the estimate (what p_alive() or expected_purchases() return)';
COMMENT ON COLUMN cartera.prediction_interval.std_error IS 'delta-method standard error of the prediction, from the fit''s log_covariance';
COMMENT ON COLUMN cartera.prediction_interval.lower IS 'lower end of the interval';
COMMENT ON COLUMN cartera.prediction_interval.upper IS 'upper end of the interval';
COMMENT ON COLUMN cartera.prediction_interval.level IS 'the interval''s confidence level (0.95: 95 %)';

CREATE FUNCTION cartera.p_alive_interval(params cartera.bgnbd_params, frequency double precision,
                                         t_x double precision, "T" double precision,
                                         level double precision DEFAULT 0.95)
  RETURNS cartera.prediction_interval
  AS 'MODULE_PATHNAME', 'cartera_p_alive_interval' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.p_alive_interval(cartera.bgnbd_params, double precision, double precision, double precision, double precision) IS
  'BG/NBD: P(alive) with its delta-method interval at level (needs a fitted model''s log_covariance)';
CREATE FUNCTION cartera.p_alive_interval(params cartera.bgnbd_params, summary cartera.rfm_summary, time_unit text,
                                         level double precision DEFAULT 0.95)
  RETURNS cartera.prediction_interval
  AS 'MODULE_PATHNAME', 'cartera_p_alive_interval' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.p_alive_interval(cartera.bgnbd_params, cartera.rfm_summary, text, double precision) IS
  'BG/NBD: P(alive) of an rfm() summary with its delta-method interval';
CREATE FUNCTION cartera.expected_purchases_interval(params cartera.bgnbd_params, t double precision,
                                                    frequency double precision, t_x double precision,
                                                    "T" double precision, level double precision DEFAULT 0.95)
  RETURNS cartera.prediction_interval
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases_interval' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases_interval(cartera.bgnbd_params, double precision, double precision, double precision, double precision, double precision) IS
  'BG/NBD: expected repeat purchases in the next t time units with their delta-method interval';
CREATE FUNCTION cartera.expected_purchases_interval(params cartera.bgnbd_params, t double precision,
                                                    summary cartera.rfm_summary, time_unit text,
                                                    level double precision DEFAULT 0.95)
  RETURNS cartera.prediction_interval
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases_interval' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases_interval(cartera.bgnbd_params, double precision, cartera.rfm_summary, text, double precision) IS
  'BG/NBD: expected repeat purchases of an rfm() summary in the next t time units with their delta-method interval';

CREATE FUNCTION cartera.p_alive_interval(params cartera.pareto_nbd_params, frequency double precision,
                                         t_x double precision, "T" double precision,
                                         level double precision DEFAULT 0.95)
  RETURNS cartera.prediction_interval
  AS 'MODULE_PATHNAME', 'cartera_p_alive_interval' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.p_alive_interval(cartera.pareto_nbd_params, double precision, double precision, double precision, double precision) IS
  'Pareto/NBD: P(alive) with its delta-method interval at level (needs a fitted model''s log_covariance)';
CREATE FUNCTION cartera.p_alive_interval(params cartera.pareto_nbd_params, summary cartera.rfm_summary, time_unit text,
                                         level double precision DEFAULT 0.95)
  RETURNS cartera.prediction_interval
  AS 'MODULE_PATHNAME', 'cartera_p_alive_interval' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.p_alive_interval(cartera.pareto_nbd_params, cartera.rfm_summary, text, double precision) IS
  'Pareto/NBD: P(alive) of an rfm() summary with its delta-method interval';
CREATE FUNCTION cartera.expected_purchases_interval(params cartera.pareto_nbd_params, t double precision,
                                                    frequency double precision, t_x double precision,
                                                    "T" double precision, level double precision DEFAULT 0.95)
  RETURNS cartera.prediction_interval
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases_interval' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases_interval(cartera.pareto_nbd_params, double precision, double precision, double precision, double precision, double precision) IS
  'Pareto/NBD: expected repeat purchases in the next t time units with their delta-method interval';
CREATE FUNCTION cartera.expected_purchases_interval(params cartera.pareto_nbd_params, t double precision,
                                                    summary cartera.rfm_summary, time_unit text,
                                                    level double precision DEFAULT 0.95)
  RETURNS cartera.prediction_interval
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases_interval' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases_interval(cartera.pareto_nbd_params, double precision, cartera.rfm_summary, text, double precision) IS
  'Pareto/NBD: expected repeat purchases of an rfm() summary in the next t time units with their delta-method interval';

CREATE FUNCTION cartera.p_alive_interval(params cartera.mbgnbd_params, frequency double precision,
                                         t_x double precision, "T" double precision,
                                         level double precision DEFAULT 0.95)
  RETURNS cartera.prediction_interval
  AS 'MODULE_PATHNAME', 'cartera_p_alive_interval' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.p_alive_interval(cartera.mbgnbd_params, double precision, double precision, double precision, double precision) IS
  'MBG/NBD: P(alive) with its delta-method interval at level (needs a fitted model''s log_covariance)';
CREATE FUNCTION cartera.p_alive_interval(params cartera.mbgnbd_params, summary cartera.rfm_summary, time_unit text,
                                         level double precision DEFAULT 0.95)
  RETURNS cartera.prediction_interval
  AS 'MODULE_PATHNAME', 'cartera_p_alive_interval' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.p_alive_interval(cartera.mbgnbd_params, cartera.rfm_summary, text, double precision) IS
  'MBG/NBD: P(alive) of an rfm() summary with its delta-method interval';
CREATE FUNCTION cartera.expected_purchases_interval(params cartera.mbgnbd_params, t double precision,
                                                    frequency double precision, t_x double precision,
                                                    "T" double precision, level double precision DEFAULT 0.95)
  RETURNS cartera.prediction_interval
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases_interval' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases_interval(cartera.mbgnbd_params, double precision, double precision, double precision, double precision, double precision) IS
  'MBG/NBD: expected repeat purchases in the next t time units with their delta-method interval';
CREATE FUNCTION cartera.expected_purchases_interval(params cartera.mbgnbd_params, t double precision,
                                                    summary cartera.rfm_summary, time_unit text,
                                                    level double precision DEFAULT 0.95)
  RETURNS cartera.prediction_interval
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases_interval' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases_interval(cartera.mbgnbd_params, double precision, cartera.rfm_summary, text, double precision) IS
  'MBG/NBD: expected repeat purchases of an rfm() summary in the next t time units with their delta-method interval';

------------------------------------------------------------------------------
-- BG/BB: discrete-time opportunities (src/bgbb.c, src/bgbb_sql.c)
------------------------------------------------------------------------------

CREATE TYPE cartera.bgbb_summary AS (
  frequency integer,
  recency   integer,
  n         integer
);
COMMENT ON TYPE cartera.bgbb_summary IS
  'one customer''s history on a grid of discrete transaction opportunities (BG/BB): what cartera.bgbb_history() returns and cartera.bgbb_fit() reads';
COMMENT ON COLUMN cartera.bgbb_summary.frequency IS 'x: opportunities after the first purchase''s (the acquisition, opportunity 0) with a purchase, 0..n';
COMMENT ON COLUMN cartera.bgbb_summary.recency IS 't_x: the last opportunity with a purchase, counted from the acquisition (1..n); 0 when frequency is 0';
COMMENT ON COLUMN cartera.bgbb_summary.n IS 'complete opportunities observed after the acquisition';

CREATE TYPE cartera.bgbb_params AS (
  alpha          double precision,
  beta           double precision,
  gamma          double precision,
  delta          double precision,
  log_likelihood double precision,
  customers      bigint,
  iterations     integer,
  converged      boolean,
  se_alpha       double precision,
  se_beta        double precision,
  se_gamma       double precision,
  se_delta       double precision,
  aic            double precision,
  bic            double precision
);
COMMENT ON TYPE cartera.bgbb_params IS
  'BG/BB model (Fader, Hardie & Shang 2010): at each discrete opportunity an alive customer transacts with probability p ~ Beta(alpha, beta) and, before it, dies with probability theta ~ Beta(gamma, delta)';
COMMENT ON COLUMN cartera.bgbb_params.alpha IS 'first shape of the Beta distribution of transaction probabilities p';
COMMENT ON COLUMN cartera.bgbb_params.beta IS 'second shape of the Beta distribution of transaction probabilities p';
COMMENT ON COLUMN cartera.bgbb_params.gamma IS 'first shape of the Beta distribution of dropout probabilities theta';
COMMENT ON COLUMN cartera.bgbb_params.delta IS 'second shape of the Beta distribution of dropout probabilities theta';
COMMENT ON COLUMN cartera.bgbb_params.log_likelihood IS 'log-likelihood at the estimate (NULL for parameters built by hand)';
COMMENT ON COLUMN cartera.bgbb_params.customers IS 'customers the model was fitted on (those with n >= 1)';
COMMENT ON COLUMN cartera.bgbb_params.iterations IS 'optimiser iterations';
COMMENT ON COLUMN cartera.bgbb_params.converged IS 'whether the optimiser met its convergence test';
COMMENT ON COLUMN cartera.bgbb_params.se_alpha IS 'standard error of alpha (observed information at the estimate; NULL for parameters built by hand or an edge estimate)';
COMMENT ON COLUMN cartera.bgbb_params.se_beta IS 'standard error of beta';
COMMENT ON COLUMN cartera.bgbb_params.se_gamma IS 'standard error of gamma';
COMMENT ON COLUMN cartera.bgbb_params.se_delta IS 'standard error of delta';
COMMENT ON COLUMN cartera.bgbb_params.aic IS 'Akaike information criterion, 2k - 2 log_likelihood (k = 4)';
COMMENT ON COLUMN cartera.bgbb_params.bic IS 'Bayesian information criterion, k ln(customers) - 2 log_likelihood';

-- bgbb_history(): a purchase log to (frequency, recency, n) on a period grid
CREATE FUNCTION cartera.bgbb_history_transfn(internal, timestamptz, timestamptz, interval, timestamptz) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgbb_history_transfn' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgbb_history_transfn(internal, timestamptz, timestamptz, interval, timestamptz) IS
  'transition function of bgbb_history(): the period of one purchase';
CREATE FUNCTION cartera.bgbb_history_combinefn(internal, internal) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgbb_history_combinefn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgbb_history_combinefn(internal, internal) IS
  'merges two partial bgbb_history() states';
CREATE FUNCTION cartera.bgbb_history_serialfn(internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'cartera_bgbb_history_serialfn' LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgbb_history_serialfn(internal) IS
  'serializes a bgbb_history() state for parallel workers';
CREATE FUNCTION cartera.bgbb_history_deserialfn(bytea, internal) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgbb_history_deserialfn' LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgbb_history_deserialfn(bytea, internal) IS
  'deserializes a bgbb_history() state';
CREATE FUNCTION cartera.bgbb_history_finalfn(internal) RETURNS cartera.bgbb_summary
  AS 'MODULE_PATHNAME', 'cartera_bgbb_history_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgbb_history_finalfn(internal) IS
  'final function of bgbb_history(): frequency, recency and n from the periods with a purchase';
CREATE AGGREGATE cartera.bgbb_history(purchased_at timestamptz, origin timestamptz, period interval, as_of timestamptz) (
  SFUNC = cartera.bgbb_history_transfn,
  FINALFUNC = cartera.bgbb_history_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.bgbb_history_combinefn,
  SERIALFUNC = cartera.bgbb_history_serialfn,
  DESERIALFUNC = cartera.bgbb_history_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_history(timestamptz, timestamptz, interval, timestamptz) IS
  'one customer''s purchases as a BG/BB history: periods [origin + k period, origin + (k+1) period), the first purchase''s period is the acquisition, n the complete periods after it up to as_of; purchases after as_of are ignored';

-- bgbb_fit(): maximum likelihood on the shared fit histogram (kind BG/BB)
CREATE FUNCTION cartera.bgbb_fit_transfn(internal, "any") RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgbb_fit_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.bgbb_fit_transfn(internal, "any", "any") RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgbb_fit_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.bgbb_fit_transfn(internal, "any", "any", "any") RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgbb_fit_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.bgbb_fit_transfn(internal, "any", "any", "any", "any") RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgbb_fit_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.bgbb_fit_transfn(internal, "any", "any", "any", "any", "any") RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgbb_fit_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgbb_fit_transfn(internal, "any") IS 'transition function of bgbb_fit(summary)';
COMMENT ON FUNCTION cartera.bgbb_fit_transfn(internal, "any", "any") IS 'transition function of bgbb_fit(summary, penalizer)';
COMMENT ON FUNCTION cartera.bgbb_fit_transfn(internal, "any", "any", "any") IS 'transition function of bgbb_fit(frequency, recency, n)';
COMMENT ON FUNCTION cartera.bgbb_fit_transfn(internal, "any", "any", "any", "any") IS 'transition function of bgbb_fit(frequency, recency, n, customers or penalizer)';
COMMENT ON FUNCTION cartera.bgbb_fit_transfn(internal, "any", "any", "any", "any", "any") IS 'transition function of bgbb_fit(frequency, recency, n, customers, penalizer)';
CREATE FUNCTION cartera.bgbb_fit_finalfn(internal) RETURNS cartera.bgbb_params
  AS 'MODULE_PATHNAME', 'cartera_bgbb_fit_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgbb_fit_finalfn(internal) IS 'final function of bgbb_fit(): maximum likelihood on the histogram';

CREATE AGGREGATE cartera.bgbb_fit(frequency integer, recency integer, n integer) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit(integer, integer, integer) IS
  'fit BG/BB by maximum likelihood to one (frequency, recency, n) row per customer; rows with n = 0 carry no information and are skipped';
CREATE AGGREGATE cartera.bgbb_fit(frequency integer, recency integer, n integer, penalizer double precision) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit(integer, integer, integer, double precision) IS
  'fit BG/BB with an L2 penalty on the parameters (lifetimes penalizer_coef)';
CREATE AGGREGATE cartera.bgbb_fit(frequency integer, recency integer, n integer, customers bigint) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit(integer, integer, integer, bigint) IS
  'fit BG/BB to a summary table: each row is a history and the number of customers with it (NULL count: row skipped)';
CREATE AGGREGATE cartera.bgbb_fit(frequency integer, recency integer, n integer, customers bigint, penalizer double precision) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit(integer, integer, integer, bigint, double precision) IS
  'fit BG/BB to a summary table of histories with customer counts, with an L2 penalty on the parameters';
CREATE AGGREGATE cartera.bgbb_fit(frequency integer, recency integer, n integer, customers integer) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit(integer, integer, integer, integer) IS
  'fit BG/BB to a summary table whose customer counts are integer (a count written as an integer is never taken for a penalizer)';
CREATE AGGREGATE cartera.bgbb_fit(frequency integer, recency integer, n integer, customers integer, penalizer double precision) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit(integer, integer, integer, integer, double precision) IS
  'fit BG/BB to a summary table with integer customer counts, with an L2 penalty on the parameters';
CREATE AGGREGATE cartera.bgbb_fit(summary cartera.bgbb_summary) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit(cartera.bgbb_summary) IS
  'fit BG/BB to bgbb_history() summaries (NULL summaries and n = 0 skipped)';
CREATE AGGREGATE cartera.bgbb_fit(summary cartera.bgbb_summary, penalizer double precision) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit(cartera.bgbb_summary, double precision) IS
  'fit BG/BB to bgbb_history() summaries with an L2 penalty on the parameters';

-- the two-step form for shards (src/partial_agg.c)
CREATE FUNCTION cartera.bgbb_fit_partial_finalfn(internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'cartera_bgbb_fit_partial_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgbb_fit_partial_finalfn(internal) IS
  'final function of bgbb_fit_partial(): the state of bgbb_fit() serialized, with a header and checksum';
CREATE FUNCTION cartera.bgbb_fit_merge_transfn(internal, bytea) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgbb_fit_merge_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgbb_fit_merge_transfn(internal, bytea) IS
  'transition function of bgbb_fit_merge(): checks, deserializes and combines one bgbb_fit_partial() state';
CREATE AGGREGATE cartera.bgbb_fit_partial(frequency integer, recency integer, n integer) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit_partial(integer, integer, integer) IS
  'first step of bgbb_fit(integer, integer, integer) on a shard: its state as bytea, for cartera.bgbb_fit_merge()';
CREATE AGGREGATE cartera.bgbb_fit_partial(frequency integer, recency integer, n integer, penalizer double precision) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit_partial(integer, integer, integer, double precision) IS
  'first step of bgbb_fit(integer, integer, integer, double precision) on a shard, for cartera.bgbb_fit_merge()';
CREATE AGGREGATE cartera.bgbb_fit_partial(frequency integer, recency integer, n integer, customers bigint) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit_partial(integer, integer, integer, bigint) IS
  'first step of bgbb_fit(integer, integer, integer, bigint) on a shard, for cartera.bgbb_fit_merge()';
CREATE AGGREGATE cartera.bgbb_fit_partial(frequency integer, recency integer, n integer, customers bigint, penalizer double precision) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit_partial(integer, integer, integer, bigint, double precision) IS
  'first step of bgbb_fit(integer, integer, integer, bigint, double precision) on a shard, for cartera.bgbb_fit_merge()';
CREATE AGGREGATE cartera.bgbb_fit_partial(frequency integer, recency integer, n integer, customers integer) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit_partial(integer, integer, integer, integer) IS
  'first step of bgbb_fit(integer, integer, integer, integer) on a shard, for cartera.bgbb_fit_merge()';
CREATE AGGREGATE cartera.bgbb_fit_partial(frequency integer, recency integer, n integer, customers integer, penalizer double precision) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit_partial(integer, integer, integer, integer, double precision) IS
  'first step of bgbb_fit(integer, integer, integer, integer, double precision) on a shard, for cartera.bgbb_fit_merge()';
CREATE AGGREGATE cartera.bgbb_fit_partial(summary cartera.bgbb_summary) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit_partial(cartera.bgbb_summary) IS
  'first step of bgbb_fit(cartera.bgbb_summary) on a shard, for cartera.bgbb_fit_merge()';
CREATE AGGREGATE cartera.bgbb_fit_partial(summary cartera.bgbb_summary, penalizer double precision) (
  SFUNC = cartera.bgbb_fit_transfn, FINALFUNC = cartera.bgbb_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit_partial(cartera.bgbb_summary, double precision) IS
  'first step of bgbb_fit(cartera.bgbb_summary, double precision) on a shard, for cartera.bgbb_fit_merge()';
CREATE AGGREGATE cartera.bgbb_fit_merge(state bytea) (
  SFUNC = cartera.bgbb_fit_merge_transfn, FINALFUNC = cartera.bgbb_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgbb_fit_merge(bytea) IS
  'second step: combines bgbb_fit_partial() states (NULLs skipped) into the cartera.bgbb_params that bgbb_fit() gives over all their rows';

-- parameters and predictions
CREATE FUNCTION cartera.bgbb_params(alpha double precision, beta double precision,
                                    gamma double precision, delta double precision)
  RETURNS cartera.bgbb_params
  AS 'MODULE_PATHNAME', 'cartera_bgbb_params_make' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgbb_params(double precision, double precision, double precision, double precision) IS
  'BG/BB parameters fitted elsewhere (lifetimes, BTYD, CLVTools, a spreadsheet)';
CREATE FUNCTION cartera.p_alive(params cartera.bgbb_params, frequency integer, recency integer, n integer)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_bgbb_p_alive' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.p_alive(cartera.bgbb_params, integer, integer, integer) IS
  'BG/BB: probability that the customer is alive at the next opportunity n + 1 given frequency, recency, n';
CREATE FUNCTION cartera.p_alive(params cartera.bgbb_params, summary cartera.bgbb_summary)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_bgbb_p_alive_summary' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.p_alive(cartera.bgbb_params, cartera.bgbb_summary) IS
  'BG/BB: probability that the customer of a bgbb_history() summary is alive at the next opportunity';
CREATE FUNCTION cartera.expected_purchases(params cartera.bgbb_params, future_opportunities integer,
                                           frequency integer, recency integer, n integer)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_bgbb_expected_purchases' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases(cartera.bgbb_params, integer, integer, integer, integer) IS
  'BG/BB: expected transactions in the next future_opportunities opportunities given frequency, recency, n';
CREATE FUNCTION cartera.expected_purchases(params cartera.bgbb_params, future_opportunities integer,
                                           summary cartera.bgbb_summary)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_bgbb_expected_purchases_summary' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases(cartera.bgbb_params, integer, cartera.bgbb_summary) IS
  'BG/BB: expected transactions in the next future_opportunities opportunities of a bgbb_history() summary';
CREATE FUNCTION cartera.expected_purchases_new(params cartera.bgbb_params, n integer)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_bgbb_expected_purchases_new' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases_new(cartera.bgbb_params, integer) IS
  'BG/BB: expected transactions in the first n opportunities after a customer''s acquisition';
CREATE FUNCTION cartera.probability_of_purchases(params cartera.bgbb_params, n integer, frequency integer)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_bgbb_probability_of_purchases' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.probability_of_purchases(cartera.bgbb_params, integer, integer) IS
  'BG/BB: P(X(n) = frequency), probability that a customer just acquired transacts at exactly frequency of the next n opportunities';

------------------------------------------------------------------------------
-- shifted-beta-geometric: contractual retention (src/sbg.c, src/sbg_sql.c)
------------------------------------------------------------------------------

CREATE TYPE cartera.sbg_params AS (
  alpha          double precision,
  beta           double precision,
  log_likelihood double precision,
  customers      bigint,
  iterations     integer,
  converged      boolean,
  se_alpha       double precision,
  se_beta        double precision,
  aic            double precision,
  bic            double precision
);
COMMENT ON TYPE cartera.sbg_params IS
  'shifted-beta-geometric model of contractual retention (Fader & Hardie 2007): churn probability per renewal ~ Beta(alpha, beta)';
COMMENT ON COLUMN cartera.sbg_params.alpha IS 'first shape of the Beta distribution of churn probabilities';
COMMENT ON COLUMN cartera.sbg_params.beta IS 'second shape of the Beta distribution of churn probabilities (mean churn alpha/(alpha+beta))';
COMMENT ON COLUMN cartera.sbg_params.log_likelihood IS 'log-likelihood at the estimate (NULL for parameters built by hand)';
COMMENT ON COLUMN cartera.sbg_params.customers IS 'customers (cohort size) the model was fitted on';
COMMENT ON COLUMN cartera.sbg_params.iterations IS 'optimiser iterations';
COMMENT ON COLUMN cartera.sbg_params.converged IS 'whether the optimiser met its convergence test at an interior point';
COMMENT ON COLUMN cartera.sbg_params.se_alpha IS 'standard error of alpha (observed information at the estimate; NULL for parameters built by hand or an edge estimate)';
COMMENT ON COLUMN cartera.sbg_params.se_beta IS 'standard error of beta';
COMMENT ON COLUMN cartera.sbg_params.aic IS 'Akaike information criterion, 2k - 2 log_likelihood (k = 2)';
COMMENT ON COLUMN cartera.sbg_params.bic IS 'Bayesian information criterion, k ln(customers) - 2 log_likelihood';

CREATE FUNCTION cartera.sbg_params(alpha double precision, beta double precision)
  RETURNS cartera.sbg_params
  AS 'MODULE_PATHNAME', 'cartera_sbg_params_make' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.sbg_params(double precision, double precision) IS
  'an sBG model from its two parameters (fitted elsewhere), for the sbg_* projections';

CREATE FUNCTION cartera.sbg_fit(survivors bigint[], penalizer double precision DEFAULT 0)
  RETURNS cartera.sbg_params
  AS 'MODULE_PATHNAME', 'cartera_sbg_fit_survivors' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.sbg_fit(bigint[], double precision) IS
  'fit the sBG model to a cohort''s survivor counts: customers active at the start of periods 1, 2, ... (the first is the cohort size)';

CREATE FUNCTION cartera.sbg_fit_transfn(internal, integer, boolean) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_sbg_fit_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.sbg_fit_transfn(internal, integer, boolean, double precision) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_sbg_fit_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.sbg_fit_transfn(internal, date, date, date, interval) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_sbg_fit_dates_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION cartera.sbg_fit_transfn(internal, date, date, date, interval, double precision) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_sbg_fit_dates_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION cartera.sbg_fit_transfn(internal, timestamptz, timestamptz, timestamptz, interval) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_sbg_fit_dates_transfn' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION cartera.sbg_fit_transfn(internal, timestamptz, timestamptz, timestamptz, interval, double precision) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_sbg_fit_dates_transfn' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION cartera.sbg_fit_finalfn(internal) RETURNS cartera.sbg_params
  AS 'MODULE_PATHNAME', 'cartera_sbg_fit_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION cartera.sbg_fit_partial_finalfn(internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'cartera_sbg_fit_partial_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION cartera.sbg_fit_merge_transfn(internal, bytea) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_sbg_fit_merge_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION cartera.sbg_fit_transfn(internal, integer, boolean) IS 'transition function of sbg_fit(periods, active)';
COMMENT ON FUNCTION cartera.sbg_fit_transfn(internal, integer, boolean, double precision) IS 'transition function of sbg_fit(periods, active, penalizer)';
COMMENT ON FUNCTION cartera.sbg_fit_transfn(internal, date, date, date, interval) IS 'transition function of sbg_fit(started, ended, as_of, period) on dates';
COMMENT ON FUNCTION cartera.sbg_fit_transfn(internal, date, date, date, interval, double precision) IS 'transition function of sbg_fit(started, ended, as_of, period, penalizer) on dates';
COMMENT ON FUNCTION cartera.sbg_fit_transfn(internal, timestamptz, timestamptz, timestamptz, interval) IS 'transition function of sbg_fit(started, ended, as_of, period) on timestamps';
COMMENT ON FUNCTION cartera.sbg_fit_transfn(internal, timestamptz, timestamptz, timestamptz, interval, double precision) IS 'transition function of sbg_fit(started, ended, as_of, period, penalizer) on timestamps';
COMMENT ON FUNCTION cartera.sbg_fit_finalfn(internal) IS 'final function of sbg_fit(): maximum likelihood on the (period, active) histogram';
COMMENT ON FUNCTION cartera.sbg_fit_partial_finalfn(internal) IS
  'final function of sbg_fit_partial(): the state of sbg_fit() serialized, with a header and checksum';
COMMENT ON FUNCTION cartera.sbg_fit_merge_transfn(internal, bytea) IS
  'transition function of sbg_fit_merge(): checks, deserializes and combines one sbg_fit_partial() state';

CREATE AGGREGATE cartera.sbg_fit(periods integer, active boolean) (
  SFUNC = cartera.sbg_fit_transfn, FINALFUNC = cartera.sbg_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.sbg_fit(integer, boolean) IS
  'fit the sBG model to one row per customer: the period of churn (active false, >= 1) or the periods completed (active true, >= 0)';
CREATE AGGREGATE cartera.sbg_fit(periods integer, active boolean, penalizer double precision) (
  SFUNC = cartera.sbg_fit_transfn, FINALFUNC = cartera.sbg_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.sbg_fit(integer, boolean, double precision) IS
  'fit the sBG model to (periods, active) rows with an L2 penalty on alpha and beta';
CREATE AGGREGATE cartera.sbg_fit(started date, ended date, as_of date, period interval) (
  SFUNC = cartera.sbg_fit_transfn, FINALFUNC = cartera.sbg_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.sbg_fit(date, date, date, interval) IS
  'fit the sBG model to contracts: start, end (NULL = still active), as_of and the renewal period; renewals fall on started + k * period';
CREATE AGGREGATE cartera.sbg_fit(started date, ended date, as_of date, period interval, penalizer double precision) (
  SFUNC = cartera.sbg_fit_transfn, FINALFUNC = cartera.sbg_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.sbg_fit(date, date, date, interval, double precision) IS
  'fit the sBG model to contracts on dates with an L2 penalty on alpha and beta';
CREATE AGGREGATE cartera.sbg_fit(started timestamptz, ended timestamptz, as_of timestamptz, period interval) (
  SFUNC = cartera.sbg_fit_transfn, FINALFUNC = cartera.sbg_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.sbg_fit(timestamptz, timestamptz, timestamptz, interval) IS
  'fit the sBG model to contracts on timestamps (renewal days in the session time zone)';
CREATE AGGREGATE cartera.sbg_fit(started timestamptz, ended timestamptz, as_of timestamptz, period interval, penalizer double precision) (
  SFUNC = cartera.sbg_fit_transfn, FINALFUNC = cartera.sbg_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.sbg_fit(timestamptz, timestamptz, timestamptz, interval, double precision) IS
  'fit the sBG model to contracts on timestamps with an L2 penalty on alpha and beta';

-- the two-step form for shards (src/partial_agg.c), as bgnbd_fit_partial/_merge
CREATE AGGREGATE cartera.sbg_fit_partial(periods integer, active boolean) (
  SFUNC = cartera.sbg_fit_transfn, FINALFUNC = cartera.sbg_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.sbg_fit_partial(integer, boolean) IS
  'first step of sbg_fit(integer, boolean) on a shard: its state as bytea, for cartera.sbg_fit_merge()';
CREATE AGGREGATE cartera.sbg_fit_partial(periods integer, active boolean, penalizer double precision) (
  SFUNC = cartera.sbg_fit_transfn, FINALFUNC = cartera.sbg_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.sbg_fit_partial(integer, boolean, double precision) IS
  'first step of sbg_fit(integer, boolean, double precision) on a shard: its state as bytea, for cartera.sbg_fit_merge()';
CREATE AGGREGATE cartera.sbg_fit_partial(started date, ended date, as_of date, period interval) (
  SFUNC = cartera.sbg_fit_transfn, FINALFUNC = cartera.sbg_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.sbg_fit_partial(date, date, date, interval) IS
  'first step of sbg_fit(date, date, date, interval) on a shard: its state as bytea, for cartera.sbg_fit_merge()';
CREATE AGGREGATE cartera.sbg_fit_partial(started date, ended date, as_of date, period interval, penalizer double precision) (
  SFUNC = cartera.sbg_fit_transfn, FINALFUNC = cartera.sbg_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.sbg_fit_partial(date, date, date, interval, double precision) IS
  'first step of sbg_fit(date, date, date, interval, double precision) on a shard: its state as bytea, for cartera.sbg_fit_merge()';
CREATE AGGREGATE cartera.sbg_fit_partial(started timestamptz, ended timestamptz, as_of timestamptz, period interval) (
  SFUNC = cartera.sbg_fit_transfn, FINALFUNC = cartera.sbg_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.sbg_fit_partial(timestamptz, timestamptz, timestamptz, interval) IS
  'first step of sbg_fit(timestamptz, timestamptz, timestamptz, interval) on a shard: its state as bytea, for cartera.sbg_fit_merge()';
CREATE AGGREGATE cartera.sbg_fit_partial(started timestamptz, ended timestamptz, as_of timestamptz, period interval, penalizer double precision) (
  SFUNC = cartera.sbg_fit_transfn, FINALFUNC = cartera.sbg_fit_partial_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.sbg_fit_partial(timestamptz, timestamptz, timestamptz, interval, double precision) IS
  'first step of sbg_fit(timestamptz, timestamptz, timestamptz, interval, double precision) on a shard: its state as bytea, for cartera.sbg_fit_merge()';
CREATE AGGREGATE cartera.sbg_fit_merge(state bytea) (
  SFUNC = cartera.sbg_fit_merge_transfn, FINALFUNC = cartera.sbg_fit_finalfn, STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn, SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn, PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.sbg_fit_merge(bytea) IS
  'second step of sbg_fit() over shards: merges sbg_fit_partial() states and fits';

-- projections (src/sbg_sql.c); t counts periods since the start, renewals the periods survived
CREATE FUNCTION cartera.sbg_survival(params cartera.sbg_params, t integer) RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_sbg_survival' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.sbg_survival(cartera.sbg_params, integer) IS
  'S(t): share of a new cohort still active after t periods, B(alpha, beta + t)/B(alpha, beta)';
CREATE FUNCTION cartera.sbg_retention(params cartera.sbg_params, t integer) RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_sbg_retention' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.sbg_retention(cartera.sbg_params, integer) IS
  'r(t) = S(t)/S(t-1): share of the customers active in period t who renew at its end, rising with t';
CREATE FUNCTION cartera.sbg_churn_probability(params cartera.sbg_params, t integer) RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_sbg_churn_probability' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.sbg_churn_probability(cartera.sbg_params, integer) IS
  'P(T = t): probability that a new customer churns in period t (0 for t = 0)';
CREATE FUNCTION cartera.sbg_projection(params cartera.sbg_params, periods integer,
    OUT period integer, OUT survival double precision, OUT retention double precision,
    OUT churn_probability double precision)
  RETURNS SETOF record
  AS 'MODULE_PATHNAME', 'cartera_sbg_projection' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
  ROWS 13;
COMMENT ON FUNCTION cartera.sbg_projection(cartera.sbg_params, integer) IS
  'one row per period 0 .. periods: survival S(t), retention r(t) (NULL at 0) and churn probability P(T = t), for charts';
CREATE FUNCTION cartera.sbg_derl(params cartera.sbg_params, discount_rate double precision, renewals integer)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_sbg_derl' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.sbg_derl(cartera.sbg_params, double precision, integer) IS
  'discounted expected residual lifetime (Fader & Hardie 2010) of a customer who has renewed renewals times: expected further payments, the next one undiscounted; multiply by the payment for the residual value';
------------------------------------------------------------------------------
-- diagnostics: calibration/holdout for every transaction model, tracking curve, repeat-purchase histogram, P(alive) matrices
------------------------------------------------------------------------------
-- Is the model right?  The checks of Fader, Hardie & Lee (2005) and of
-- lifetimes' plotting module, as rows (docs/predictive.md): each fits the
-- named model ('bgnbd', 'pareto_nbd' or 'mbgnbd') on the purchases up to
-- calibration_end and sets its predictions beside what happened.  The
-- purchases table is read as calibration_holdout reads it: one purchase per
-- customer and day, the purchase column a date, timestamp or timestamptz.

CREATE FUNCTION cartera.diagnostics_unit_days(purchases regclass, customer_column name,
                                              purchased_at_column name, calibration_end date,
                                              time_unit text, model text)
  RETURNS integer
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  unit_days integer := CASE lower(time_unit) WHEN 'days' THEN 1 WHEN 'weeks' THEN 7 END;
BEGIN
  IF unit_days IS NULL THEN
    RAISE EXCEPTION 'time unit must be "days" or "weeks", not "%"', time_unit
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF model IS NULL OR lower(model) NOT IN ('bgnbd', 'pareto_nbd', 'mbgnbd') THEN
    RAISE EXCEPTION 'model must be "bgnbd", "pareto_nbd" or "mbgnbd", not "%"', model
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF purchases IS NULL THEN
    RAISE EXCEPTION 'purchases table must not be null'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = purchases
                   AND a.attname = customer_column AND a.attnum > 0 AND NOT a.attisdropped) THEN
    RAISE EXCEPTION 'column "%" does not exist in %', customer_column, purchases
      USING ERRCODE = 'undefined_column';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = purchases
                   AND a.attname = purchased_at_column AND a.attnum > 0 AND NOT a.attisdropped
                   AND a.atttypid IN ('date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype)) THEN
    RAISE EXCEPTION 'column "%" of % must exist and be a date, timestamp or timestamptz',
                    purchased_at_column, purchases
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF calibration_end IS NULL OR NOT isfinite(calibration_end) THEN
    RAISE EXCEPTION 'calibration_end must be a finite date, not %', coalesce(calibration_end::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN unit_days;
END
$fn$;
COMMENT ON FUNCTION cartera.diagnostics_unit_days(regclass, name, name, date, text, text) IS
  'checks the arguments the model diagnostics share (unit, model, columns, calibration_end) and returns the days of time_unit (1 or 7)';

CREATE FUNCTION cartera.calibration_holdout(purchases regclass, customer_column name,
                                            purchased_at_column name,
                                            calibration_end date, holdout_end date,
                                            time_unit text, model text)
  RETURNS TABLE (customer text, frequency integer, t_x double precision, "T" double precision,
                 predicted double precision, actual bigint)
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  unit_days integer := cartera.diagnostics_unit_days(purchases, customer_column, purchased_at_column,
                                                     calibration_end, time_unit, model);
BEGIN
  IF holdout_end IS NULL OR NOT isfinite(holdout_end) THEN
    RAISE EXCEPTION 'holdout_end must be a finite date, not %', coalesce(holdout_end::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF holdout_end <= calibration_end THEN
    RAISE EXCEPTION 'holdout_end must be after calibration_end, not % <= %', holdout_end, calibration_end
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY EXECUTE format($q$
    WITH calibration AS (
      SELECT %1$I::text AS customer, cartera.rfm(%2$I::date, 0::bigint, $1) AS s
        FROM %3$s WHERE %2$I::date <= $1 GROUP BY 1),
    model AS (SELECT cartera.%4$s_fit(s, $3) AS m FROM calibration),
    holdout AS (
      SELECT %1$I::text AS customer, count(DISTINCT %2$I::date) AS n
        FROM %3$s WHERE %2$I::date > $1 AND %2$I::date <= $2 GROUP BY 1)
    SELECT c.customer, (c.s).frequency, (c.s).t_x_days / $4::float8, (c.s).age_days / $4::float8,
           cartera.expected_purchases(model.m, ($2 - $1) / $4::float8, c.s, $3),
           coalesce(h.n, 0)
      FROM calibration c CROSS JOIN model LEFT JOIN holdout h USING (customer)
     WHERE (c.s).purchases > 0
     ORDER BY c.customer$q$,
    customer_column, purchased_at_column, purchases, lower(model))
  USING calibration_end, holdout_end, time_unit, unit_days;
END
$fn$;
COMMENT ON FUNCTION cartera.calibration_holdout(regclass, name, name, date, date, text, text) IS
  'fit model (bgnbd, pareto_nbd or mbgnbd) on purchases up to calibration_end and compare, per customer, predicted and actual repeat purchase days in the holdout up to holdout_end';

CREATE FUNCTION cartera.calibration_holdout_summary(purchases regclass, customer_column name,
                                                    purchased_at_column name,
                                                    calibration_end date, holdout_end date,
                                                    time_unit text, max_frequency integer,
                                                    model text)
  RETURNS TABLE (frequency integer, customers bigint, actual_mean double precision,
                 predicted_mean double precision)
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF max_frequency IS NULL OR max_frequency < 1 THEN
    RAISE EXCEPTION 'max_frequency must be at least 1, not %', coalesce(max_frequency::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
  SELECT least(c.frequency, max_frequency), count(*), avg(c.actual)::float8, avg(c.predicted)
    FROM cartera.calibration_holdout(purchases, customer_column, purchased_at_column,
                                     calibration_end, holdout_end, time_unit, model) c
   GROUP BY 1 ORDER BY 1;
END
$fn$;
COMMENT ON FUNCTION cartera.calibration_holdout_summary(regclass, name, name, date, date, text, integer, text) IS
  'mean actual vs predicted holdout purchases by calibration frequency for model (bgnbd, pareto_nbd or mbgnbd); the last bucket is max_frequency or more';

-- Fader, Hardie & Lee (2005) Fig. 1: repeat purchases period by period, the
-- calibration and the holdout, against the model's E[X(t)] for a customer
-- just acquired summed over the customers at their own ages.
CREATE FUNCTION cartera.tracking_curve(purchases regclass, customer_column name,
                                       purchased_at_column name,
                                       calibration_end date, holdout_end date,
                                       time_unit text DEFAULT 'weeks', model text DEFAULT 'bgnbd')
  RETURNS TABLE (period integer, period_start date, period_end date, in_calibration boolean,
                 actual_repeat bigint, expected_repeat double precision,
                 actual_cumulative bigint, expected_cumulative double precision)
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  unit_days integer := cartera.diagnostics_unit_days(purchases, customer_column, purchased_at_column,
                                                     calibration_end, time_unit, model);
BEGIN
  IF holdout_end IS NULL OR NOT isfinite(holdout_end) THEN
    RAISE EXCEPTION 'holdout_end must be a finite date, not %', coalesce(holdout_end::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF holdout_end <= calibration_end THEN
    RAISE EXCEPTION 'holdout_end must be after calibration_end, not % <= %', holdout_end, calibration_end
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY EXECUTE format($q$
    WITH days AS (
      SELECT DISTINCT %1$I::text AS customer, %2$I::date AS day
        FROM %3$s WHERE %2$I::date <= $2),
    firsts AS (
      SELECT customer, min(day) AS first_day FROM days GROUP BY customer HAVING min(day) <= $1),
    model AS (
      SELECT cartera.%4$s_fit(s, $3) AS m
        FROM (SELECT cartera.rfm(d.day, 0::bigint, $1) AS s
                FROM days d JOIN firsts f USING (customer) WHERE d.day <= $1
               GROUP BY d.customer) c),
    origin AS (SELECT min(first_day) AS o FROM firsts),
    periods AS (
      SELECT p AS period, o + (p - 1) * $4 AS period_start, least(o + p * $4 - 1, $2) AS period_end
        FROM origin, generate_series(1, ($2 - o) / $4 + 1) p),
    cohorts AS (SELECT first_day, count(*) AS n FROM firsts GROUP BY first_day),
    actual AS (
      SELECT (d.day - origin.o) / $4 + 1 AS period, count(*) AS n
        FROM days d JOIN firsts f USING (customer) CROSS JOIN origin
       WHERE d.day > f.first_day GROUP BY 1),
    expected AS (
      SELECT p.period,
             sum(c.n * (cartera.expected_purchases_new(model.m, (p.period_end - c.first_day) / $4::float8)
                        - cartera.expected_purchases_new(model.m,
                            greatest(p.period_start - 1 - c.first_day, 0) / $4::float8))) AS e
        FROM periods p JOIN cohorts c ON c.first_day <= p.period_end CROSS JOIN model
       GROUP BY p.period)
    SELECT p.period, p.period_start, p.period_end, p.period_end <= $1,
           coalesce(a.n, 0), coalesce(e.e, 0),
           (sum(coalesce(a.n, 0)) OVER w)::bigint, sum(coalesce(e.e, 0)) OVER w
      FROM periods p LEFT JOIN actual a USING (period) LEFT JOIN expected e USING (period)
    WINDOW w AS (ORDER BY p.period)
     ORDER BY p.period$q$,
    customer_column, purchased_at_column, purchases, lower(model))
  USING calibration_end, holdout_end, time_unit, unit_days;
END
$fn$;
COMMENT ON FUNCTION cartera.tracking_curve(regclass, name, name, date, date, text, text) IS
  'repeat purchases per period (week or day from the first customer''s first purchase) of the customers acquired by calibration_end, actual vs expected by model fitted on the calibration period, incremental and cumulative, through holdout_end';

-- Fader, Hardie & Lee (2005) Fig. 2: how many customers made 0, 1, 2, ...
-- repeat purchases in the calibration period, and how many the model expects.
CREATE FUNCTION cartera.repeat_purchase_histogram(purchases regclass, customer_column name,
                                                  purchased_at_column name, calibration_end date,
                                                  time_unit text DEFAULT 'weeks',
                                                  model text DEFAULT 'bgnbd',
                                                  max_frequency integer DEFAULT 7)
  RETURNS TABLE (frequency integer, actual_customers bigint, expected_customers double precision)
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  unit_days integer := cartera.diagnostics_unit_days(purchases, customer_column, purchased_at_column,
                                                     calibration_end, time_unit, model);
BEGIN
  IF max_frequency IS NULL OR max_frequency < 1 OR max_frequency > 1000 THEN
    RAISE EXCEPTION 'max_frequency must be between 1 and 1000, not %', coalesce(max_frequency::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY EXECUTE format($q$
    WITH calibration AS (
      SELECT cartera.rfm(%2$I::date, 0::bigint, $1) AS s
        FROM %3$s WHERE %2$I::date <= $1 GROUP BY %1$I::text),
    model AS (SELECT cartera.%4$s_fit(s, $2) AS m FROM calibration),
    cohorts AS (
      SELECT (s).age_days AS age, count(*) AS n FROM calibration WHERE (s).purchases > 0 GROUP BY 1),
    probability AS (
      SELECT c.age, c.n, x,
             cartera.probability_of_purchases(model.m, c.age / $4::float8, x) AS p
        FROM cohorts c CROSS JOIN model CROSS JOIN generate_series(0, $3 - 1) x),
    expected AS (
      SELECT x, sum(n * p) AS e FROM probability GROUP BY x
      UNION ALL
      SELECT $3, sum(n * (1 - total))
        FROM (SELECT n, sum(p) AS total FROM probability GROUP BY age, n) t),
    actual AS (
      SELECT least((s).frequency, $3) AS x, count(*) AS n
        FROM calibration WHERE (s).purchases > 0 GROUP BY 1)
    SELECT b.x, coalesce(a.n, 0), coalesce(e.e, 0)
      FROM generate_series(0, $3) b(x) LEFT JOIN actual a USING (x) LEFT JOIN expected e USING (x)
     ORDER BY b.x$q$,
    customer_column, purchased_at_column, purchases, lower(model))
  USING calibration_end, time_unit, max_frequency, unit_days;
END
$fn$;
COMMENT ON FUNCTION cartera.repeat_purchase_histogram(regclass, name, name, date, text, text, integer) IS
  'customers by repeat purchases in the calibration period up to calibration_end, actual vs expected by model (sum of P(X(T) = x) at each customer''s T); the last bucket is max_frequency or more';

-- lifetimes' plot_probability_alive_matrix and plot_frequency_recency_matrix:
-- P(alive) and expected purchases over a grid of histories of one length T.
CREATE FUNCTION cartera.model_matrix_grid("T" double precision, max_frequency integer,
                                          recency_steps integer, horizon double precision)
  RETURNS TABLE (frequency integer, recency double precision)
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF "T" IS NULL OR NOT ("T" > 0 AND "T" < 'Infinity'::float8) THEN
    RAISE EXCEPTION 'T must be a positive finite number, not %', coalesce("T"::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF max_frequency IS NULL OR max_frequency < 1 OR max_frequency > 1000 THEN
    RAISE EXCEPTION 'max_frequency must be between 1 and 1000, not %', coalesce(max_frequency::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF recency_steps IS NULL OR recency_steps < 1 OR recency_steps > 1000 THEN
    RAISE EXCEPTION 'recency_steps must be between 1 and 1000, not %', coalesce(recency_steps::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF horizon IS NULL OR NOT (horizon >= 0 AND horizon < 'Infinity'::float8) THEN
    RAISE EXCEPTION 'horizon must be a finite number >= 0, not %', coalesce(horizon::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
  SELECT 0, 0::float8
  UNION ALL
  SELECT x, CASE WHEN k = recency_steps THEN "T" ELSE "T" * k / recency_steps END
    FROM generate_series(1, max_frequency) x, generate_series(0, recency_steps) k
   ORDER BY 1, 2;
END
$fn$;
COMMENT ON FUNCTION cartera.model_matrix_grid(double precision, integer, integer, double precision) IS
  'the (frequency, recency) grid of model_matrix(): (0, 0), then frequency 1 to max_frequency with recency 0 to T in recency_steps steps; checks the arguments';

CREATE FUNCTION cartera.model_matrix(params cartera.bgnbd_params, "T" double precision,
                                     max_frequency integer DEFAULT 10, recency_steps integer DEFAULT 10,
                                     horizon double precision DEFAULT 52)
  RETURNS TABLE (frequency integer, recency double precision, p_alive double precision,
                 expected_purchases double precision)
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF params IS NULL THEN
    RAISE EXCEPTION 'model parameters must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  RETURN QUERY
  SELECT g.frequency, g.recency, cartera.p_alive(params, g.frequency, g.recency, "T"),
         cartera.expected_purchases(params, horizon, g.frequency, g.recency, "T")
    FROM cartera.model_matrix_grid("T", max_frequency, recency_steps, horizon) g;
END
$fn$;
COMMENT ON FUNCTION cartera.model_matrix(cartera.bgnbd_params, double precision, integer, integer, double precision) IS
  'BG/NBD: P(alive) and expected purchases in the next horizon time units over a frequency x recency grid of histories of length T (lifetimes'' probability-alive and frequency-recency matrices)';

CREATE FUNCTION cartera.model_matrix(params cartera.pareto_nbd_params, "T" double precision,
                                     max_frequency integer DEFAULT 10, recency_steps integer DEFAULT 10,
                                     horizon double precision DEFAULT 52)
  RETURNS TABLE (frequency integer, recency double precision, p_alive double precision,
                 expected_purchases double precision)
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF params IS NULL THEN
    RAISE EXCEPTION 'model parameters must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  RETURN QUERY
  SELECT g.frequency, g.recency, cartera.p_alive(params, g.frequency, g.recency, "T"),
         cartera.expected_purchases(params, horizon, g.frequency, g.recency, "T")
    FROM cartera.model_matrix_grid("T", max_frequency, recency_steps, horizon) g;
END
$fn$;
COMMENT ON FUNCTION cartera.model_matrix(cartera.pareto_nbd_params, double precision, integer, integer, double precision) IS
  'Pareto/NBD: P(alive) and expected purchases in the next horizon time units over a frequency x recency grid of histories of length T';

CREATE FUNCTION cartera.model_matrix(params cartera.mbgnbd_params, "T" double precision,
                                     max_frequency integer DEFAULT 10, recency_steps integer DEFAULT 10,
                                     horizon double precision DEFAULT 52)
  RETURNS TABLE (frequency integer, recency double precision, p_alive double precision,
                 expected_purchases double precision)
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF params IS NULL THEN
    RAISE EXCEPTION 'model parameters must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  RETURN QUERY
  SELECT g.frequency, g.recency, cartera.p_alive(params, g.frequency, g.recency, "T"),
         cartera.expected_purchases(params, horizon, g.frequency, g.recency, "T")
    FROM cartera.model_matrix_grid("T", max_frequency, recency_steps, horizon) g;
END
$fn$;
COMMENT ON FUNCTION cartera.model_matrix(cartera.mbgnbd_params, double precision, integer, integer, double precision) IS
  'MBG/NBD: P(alive) and expected purchases in the next horizon time units over a frequency x recency grid of histories of length T';

-- One call, the candidate models compared: the three transaction models fitted
-- to the same calibration summaries, with standard errors, information
-- criteria and, given a holdout, how well each predicts it.
CREATE FUNCTION cartera.compare_models(purchases regclass, customer_column name, purchased_at_column name,
                                       calibration_end date, holdout_end date DEFAULT NULL,
                                       time_unit text DEFAULT 'weeks')
  RETURNS TABLE (model text, customers bigint, converged boolean,
                 r double precision, alpha double precision, a double precision, b double precision,
                 s double precision, beta double precision,
                 se_r double precision, se_alpha double precision, se_a double precision, se_b double precision,
                 se_s double precision, se_beta double precision,
                 log_likelihood double precision, aic double precision, bic double precision,
                 delta_bic double precision, holdout_actual double precision, holdout_predicted double precision,
                 holdout_rmse double precision, holdout_bias double precision)
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  unit_days integer := cartera.diagnostics_unit_days(purchases, customer_column, purchased_at_column,
                                                     calibration_end, time_unit, 'bgnbd');
BEGIN
  IF holdout_end IS NOT NULL AND (NOT isfinite(holdout_end) OR holdout_end <= calibration_end) THEN
    RAISE EXCEPTION 'holdout_end must be a finite date after calibration_end, not %', holdout_end
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Pass NULL to compare the fits alone.';
  END IF;
  RETURN QUERY EXECUTE format($q$
    WITH calibration AS (
      SELECT %1$I::text AS customer, cartera.rfm(%2$I::date, 0::bigint, $1) AS s
        FROM %3$s WHERE %2$I::date <= $1 GROUP BY 1),
    fits AS (
      SELECT cartera.bgnbd_fit(c.s, $3) AS bg, cartera.pareto_nbd_fit(c.s, $3) AS pn,
             cartera.mbgnbd_fit(c.s, $3) AS mb
        FROM calibration c WHERE (c.s).purchases > 0),
    holdout AS (
      SELECT %1$I::text AS customer, count(DISTINCT %2$I::date) AS n
        FROM %3$s WHERE $2 IS NOT NULL AND %2$I::date > $1 AND %2$I::date <= $2 GROUP BY 1),
    predicted AS (
      SELECT coalesce(h.n, 0)::float8 AS actual,
             cartera.expected_purchases(f.bg, ($2 - $1) / $4::float8, c.s, $3) AS bgnbd,
             cartera.expected_purchases(f.pn, ($2 - $1) / $4::float8, c.s, $3) AS pareto_nbd,
             cartera.expected_purchases(f.mb, ($2 - $1) / $4::float8, c.s, $3) AS mbgnbd
        FROM calibration c CROSS JOIN fits f LEFT JOIN holdout h USING (customer)
       WHERE (c.s).purchases > 0 AND $2 IS NOT NULL),
    errors AS (
      SELECT e.model, sum(e.actual) AS actual, sum(e.pred) AS pred,
             sqrt(avg((e.pred - e.actual) ^ 2)) AS rmse, (sum(e.pred) - sum(e.actual)) / nullif(sum(e.actual), 0) AS bias
        FROM predicted p, LATERAL (VALUES ('bgnbd', p.bgnbd, p.actual), ('pareto_nbd', p.pareto_nbd, p.actual),
                                          ('mbgnbd', p.mbgnbd, p.actual)) e(model, pred, actual)
       GROUP BY e.model),
    compared AS (
      SELECT m.* FROM fits f, LATERAL (VALUES
        ('bgnbd', (f.bg).customers, (f.bg).converged, (f.bg).r, (f.bg).alpha, (f.bg).a, (f.bg).b, NULL::float8, NULL::float8,
         (f.bg).se_r, (f.bg).se_alpha, (f.bg).se_a, (f.bg).se_b, NULL::float8, NULL::float8,
         (f.bg).log_likelihood, (f.bg).aic, (f.bg).bic),
        ('pareto_nbd', (f.pn).customers, (f.pn).converged, (f.pn).r, (f.pn).alpha, NULL, NULL, (f.pn).s, (f.pn).beta,
         (f.pn).se_r, (f.pn).se_alpha, NULL, NULL, (f.pn).se_s, (f.pn).se_beta,
         (f.pn).log_likelihood, (f.pn).aic, (f.pn).bic),
        ('mbgnbd', (f.mb).customers, (f.mb).converged, (f.mb).r, (f.mb).alpha, (f.mb).a, (f.mb).b, NULL, NULL,
         (f.mb).se_r, (f.mb).se_alpha, (f.mb).se_a, (f.mb).se_b, NULL, NULL,
         (f.mb).log_likelihood, (f.mb).aic, (f.mb).bic))
        m(model, customers, converged, r, alpha, a, b, s, beta, se_r, se_alpha, se_a, se_b, se_s, se_beta,
          log_likelihood, aic, bic)
       WHERE m.customers IS NOT NULL)
    SELECT c.model, c.customers, c.converged, c.r, c.alpha, c.a, c.b, c.s, c.beta,
           c.se_r, c.se_alpha, c.se_a, c.se_b, c.se_s, c.se_beta, c.log_likelihood, c.aic, c.bic,
           c.bic - min(c.bic) OVER (), e.actual, e.pred, e.rmse, e.bias
      FROM compared c LEFT JOIN errors e USING (model)
     ORDER BY c.bic, c.model$q$,
    customer_column, purchased_at_column, purchases)
  USING calibration_end, holdout_end, lower(time_unit), unit_days;
END
$fn$;
COMMENT ON FUNCTION cartera.compare_models(regclass, name, name, date, date, text) IS
  'fit BG/NBD, Pareto/NBD and MBG/NBD to the same summaries (purchases up to calibration_end) and compare them: parameters, standard errors, log-likelihood, AIC, BIC (delta_bic from the best) and, with holdout_end, the actual and predicted repeat purchase days of the holdout, RMSE per customer and bias';
