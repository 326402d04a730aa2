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
  bic            double precision
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
  bic            double precision
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


------------------------------------------------------------------------------
-- BG/BB: discrete-time opportunities (src/bgbb.c, src/bgbb_sql.c)
------------------------------------------------------------------------------

------------------------------------------------------------------------------
-- shifted-beta-geometric: contractual retention (src/sbg.c, src/sbg_sql.c)
------------------------------------------------------------------------------
