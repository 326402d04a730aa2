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
