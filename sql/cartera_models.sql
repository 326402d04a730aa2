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
