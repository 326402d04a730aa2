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
-- Pareto/NBD and MBG/NBD (src/pareto_nbd.c, src/mbgnbd.c, src/model_sql.c)
------------------------------------------------------------------------------

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
