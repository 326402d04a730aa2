-- cartera 0.2.0 -> 0.3.0, written by hand: every object changed since 0.2.0,
-- in the order of the install script.  sql/setup.sql and test/upgrade.sql
-- check that updating from each release gives exactly a fresh install.
\echo Use "ALTER EXTENSION cartera UPDATE TO '0.3.0'" to load this file. \quit

------------------------------------------------------------------------------
-- 0.3.0: the two-step form of the combinable aggregates (src/partial_agg.c),
-- for shards: postgres_fdw (PostgreSQL 15) pushes whole aggregates to a
-- remote server, never partial ones.  NAME_partial(...) takes the arguments of
-- NAME(...) and returns its state as bytea (run it on each shard: one row
-- comes back); NAME_merge(bytea) combines such states and gives what NAME()
-- over all the rows gives.  docs/scaling.md shows the queries.
------------------------------------------------------------------------------

CREATE FUNCTION cartera.rfm_partial_finalfn(internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'cartera_rfm_partial_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.rfm_partial_finalfn(internal) IS
  'final function of rfm_partial(): the state of rfm() serialized, with a header and checksum';
CREATE FUNCTION cartera.rfm_merge_transfn(internal, bytea) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_rfm_merge_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION cartera.rfm_merge_transfn(internal, bytea) IS
  'transition function of rfm_merge(): checks, deserializes and combines one rfm_partial() state';
CREATE FUNCTION cartera.bgnbd_fit_partial_finalfn(internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'cartera_bgnbd_fit_partial_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgnbd_fit_partial_finalfn(internal) IS
  'final function of bgnbd_fit_partial(): the state of bgnbd_fit() serialized, with a header and checksum';
CREATE FUNCTION cartera.bgnbd_fit_merge_transfn(internal, bytea) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgnbd_fit_merge_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgnbd_fit_merge_transfn(internal, bytea) IS
  'transition function of bgnbd_fit_merge(): checks, deserializes and combines one bgnbd_fit_partial() state';
CREATE FUNCTION cartera.gamma_gamma_fit_partial_finalfn(internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'cartera_gamma_gamma_fit_partial_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.gamma_gamma_fit_partial_finalfn(internal) IS
  'final function of gamma_gamma_fit_partial(): the state of gamma_gamma_fit() serialized, with a header and checksum';
CREATE FUNCTION cartera.gamma_gamma_fit_merge_transfn(internal, bytea) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_gamma_gamma_fit_merge_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION cartera.gamma_gamma_fit_merge_transfn(internal, bytea) IS
  'transition function of gamma_gamma_fit_merge(): checks, deserializes and combines one gamma_gamma_fit_partial() state';
CREATE FUNCTION cartera.breakpoints_partial_finalfn(internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'cartera_breakpoints_partial_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.breakpoints_partial_finalfn(internal) IS
  'final function of breakpoints_partial(): the state of breakpoints() serialized, with a header and checksum';
CREATE FUNCTION cartera.breakpoints_merge_transfn(internal, bytea) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_breakpoints_merge_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION cartera.breakpoints_merge_transfn(internal, bytea) IS
  'transition function of breakpoints_merge(): checks, deserializes and combines one breakpoints_partial() state';

CREATE AGGREGATE cartera.rfm_partial(purchased_at timestamptz, amount numeric, as_of timestamptz) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_partial(timestamptz, numeric, timestamptz) IS
  'first step of rfm(timestamptz, numeric, timestamptz) on a shard: its state as bytea, for cartera.rfm_merge()';
CREATE AGGREGATE cartera.rfm_partial(purchased_at timestamptz, amount numeric) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_partial(timestamptz, numeric) IS
  'first step of rfm(timestamptz, numeric) on a shard: its state as bytea, for cartera.rfm_merge()';
CREATE AGGREGATE cartera.rfm_partial(purchased_at timestamptz, amount double precision, as_of timestamptz) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_partial(timestamptz, double precision, timestamptz) IS
  'first step of rfm(timestamptz, double precision, timestamptz) on a shard: its state as bytea, for cartera.rfm_merge()';
CREATE AGGREGATE cartera.rfm_partial(purchased_at timestamptz, amount double precision) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_partial(timestamptz, double precision) IS
  'first step of rfm(timestamptz, double precision) on a shard: its state as bytea, for cartera.rfm_merge()';
CREATE AGGREGATE cartera.rfm_partial(purchased_at timestamptz, amount bigint, as_of timestamptz) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_partial(timestamptz, bigint, timestamptz) IS
  'first step of rfm(timestamptz, bigint, timestamptz) on a shard: its state as bytea, for cartera.rfm_merge()';
CREATE AGGREGATE cartera.rfm_partial(purchased_at timestamptz, amount bigint) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_partial(timestamptz, bigint) IS
  'first step of rfm(timestamptz, bigint) on a shard: its state as bytea, for cartera.rfm_merge()';
CREATE AGGREGATE cartera.rfm_partial(purchased_at date, amount numeric, as_of date) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_partial(date, numeric, date) IS
  'first step of rfm(date, numeric, date) on a shard: its state as bytea, for cartera.rfm_merge()';
CREATE AGGREGATE cartera.rfm_partial(purchased_at date, amount numeric) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_partial(date, numeric) IS
  'first step of rfm(date, numeric) on a shard: its state as bytea, for cartera.rfm_merge()';
CREATE AGGREGATE cartera.rfm_partial(purchased_at date, amount double precision, as_of date) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_partial(date, double precision, date) IS
  'first step of rfm(date, double precision, date) on a shard: its state as bytea, for cartera.rfm_merge()';
CREATE AGGREGATE cartera.rfm_partial(purchased_at date, amount double precision) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_partial(date, double precision) IS
  'first step of rfm(date, double precision) on a shard: its state as bytea, for cartera.rfm_merge()';
CREATE AGGREGATE cartera.rfm_partial(purchased_at date, amount bigint, as_of date) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_partial(date, bigint, date) IS
  'first step of rfm(date, bigint, date) on a shard: its state as bytea, for cartera.rfm_merge()';
CREATE AGGREGATE cartera.rfm_partial(purchased_at date, amount bigint) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_partial(date, bigint) IS
  'first step of rfm(date, bigint) on a shard: its state as bytea, for cartera.rfm_merge()';
CREATE AGGREGATE cartera.rfm_merge(state bytea) (
  SFUNC = cartera.rfm_merge_transfn,
  FINALFUNC = cartera.rfm_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_merge(bytea) IS
  'second step: combines rfm_partial() states (NULLs skipped) into the cartera.rfm_summary that rfm() gives over all their rows';

CREATE AGGREGATE cartera.bgnbd_fit_partial(frequency integer, t_x double precision, "T" double precision) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.bgnbd_fit_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgnbd_fit_partial(integer, double precision, double precision) IS
  'first step of bgnbd_fit(integer, double precision, double precision) on a shard: its state as bytea, for cartera.bgnbd_fit_merge()';
CREATE AGGREGATE cartera.bgnbd_fit_partial(frequency integer, t_x double precision, "T" double precision, time_unit text) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.bgnbd_fit_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgnbd_fit_partial(integer, double precision, double precision, text) IS
  'first step of bgnbd_fit(integer, double precision, double precision, text) on a shard: its state as bytea, for cartera.bgnbd_fit_merge()';
CREATE AGGREGATE cartera.bgnbd_fit_partial(frequency integer, t_x double precision, "T" double precision, time_unit text, penalizer double precision) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.bgnbd_fit_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgnbd_fit_partial(integer, double precision, double precision, text, double precision) IS
  'first step of bgnbd_fit(integer, double precision, double precision, text, double precision) on a shard: its state as bytea, for cartera.bgnbd_fit_merge()';
CREATE AGGREGATE cartera.bgnbd_fit_partial(summary cartera.rfm_summary, time_unit text) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.bgnbd_fit_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgnbd_fit_partial(cartera.rfm_summary, text) IS
  'first step of bgnbd_fit(cartera.rfm_summary, text) on a shard: its state as bytea, for cartera.bgnbd_fit_merge()';
CREATE AGGREGATE cartera.bgnbd_fit_partial(summary cartera.rfm_summary, time_unit text, penalizer double precision) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.bgnbd_fit_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgnbd_fit_partial(cartera.rfm_summary, text, double precision) IS
  'first step of bgnbd_fit(cartera.rfm_summary, text, double precision) on a shard: its state as bytea, for cartera.bgnbd_fit_merge()';
CREATE AGGREGATE cartera.bgnbd_fit_merge(state bytea) (
  SFUNC = cartera.bgnbd_fit_merge_transfn,
  FINALFUNC = cartera.bgnbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgnbd_fit_merge(bytea) IS
  'second step: combines bgnbd_fit_partial() states (NULLs skipped) into the cartera.bgnbd_params that bgnbd_fit() gives over all their rows';

CREATE AGGREGATE cartera.gamma_gamma_fit_partial(frequency integer, monetary double precision) (
  SFUNC = cartera.gamma_gamma_fit_transfn,
  FINALFUNC = cartera.gamma_gamma_fit_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.gamma_gamma_fit_partial(integer, double precision) IS
  'first step of gamma_gamma_fit(integer, double precision) on a shard: its state as bytea, for cartera.gamma_gamma_fit_merge()';
CREATE AGGREGATE cartera.gamma_gamma_fit_partial(frequency integer, monetary double precision, penalizer double precision) (
  SFUNC = cartera.gamma_gamma_fit_transfn,
  FINALFUNC = cartera.gamma_gamma_fit_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.gamma_gamma_fit_partial(integer, double precision, double precision) IS
  'first step of gamma_gamma_fit(integer, double precision, double precision) on a shard: its state as bytea, for cartera.gamma_gamma_fit_merge()';
CREATE AGGREGATE cartera.gamma_gamma_fit_partial(summary cartera.rfm_summary) (
  SFUNC = cartera.gamma_gamma_fit_transfn,
  FINALFUNC = cartera.gamma_gamma_fit_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.gamma_gamma_fit_partial(cartera.rfm_summary) IS
  'first step of gamma_gamma_fit(cartera.rfm_summary) on a shard: its state as bytea, for cartera.gamma_gamma_fit_merge()';
CREATE AGGREGATE cartera.gamma_gamma_fit_partial(summary cartera.rfm_summary, penalizer double precision) (
  SFUNC = cartera.gamma_gamma_fit_transfn,
  FINALFUNC = cartera.gamma_gamma_fit_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.gamma_gamma_fit_partial(cartera.rfm_summary, double precision) IS
  'first step of gamma_gamma_fit(cartera.rfm_summary, double precision) on a shard: its state as bytea, for cartera.gamma_gamma_fit_merge()';
CREATE AGGREGATE cartera.gamma_gamma_fit_merge(state bytea) (
  SFUNC = cartera.gamma_gamma_fit_merge_transfn,
  FINALFUNC = cartera.gamma_gamma_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.gamma_gamma_fit_merge(bytea) IS
  'second step: combines gamma_gamma_fit_partial() states (NULLs skipped) into the cartera.gamma_gamma_params that gamma_gamma_fit() gives over all their rows';

CREATE AGGREGATE cartera.breakpoints_partial(value double precision, n integer) (
  SFUNC = cartera.breakpoints_transfn,
  STYPE = internal,
  FINALFUNC = cartera.breakpoints_partial_finalfn,
  COMBINEFUNC = cartera.breakpoints_combinefn,
  SERIALFUNC = cartera.breakpoints_serialfn,
  DESERIALFUNC = cartera.breakpoints_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.breakpoints_partial(double precision, integer) IS
  'first step of breakpoints(double precision, integer) on a shard: its state as bytea, for cartera.breakpoints_merge()';
CREATE AGGREGATE cartera.breakpoints_merge(state bytea) (
  SFUNC = cartera.breakpoints_merge_transfn,
  FINALFUNC = cartera.breakpoints_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.breakpoints_combinefn,
  SERIALFUNC = cartera.breakpoints_serialfn,
  DESERIALFUNC = cartera.breakpoints_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.breakpoints_merge(bytea) IS
  'second step: combines breakpoints_partial() states (NULLs skipped) into the double precision[] that breakpoints() gives over all their rows';

-- What PostgreSQL 15's postgres_fdw does not ship: (summary).field and an
-- aggregate with a text constant argument.  The same in shippable form:
CREATE FUNCTION cartera.bgnbd_fit_unit_days_transfn(internal, cartera.rfm_summary, integer) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgnbd_fit_unit_days_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.bgnbd_fit_unit_days_transfn(internal, cartera.rfm_summary, integer, double precision) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgnbd_fit_unit_days_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgnbd_fit_unit_days_transfn(internal, cartera.rfm_summary, integer) IS
  'transition function of bgnbd_fit_partial(summary, unit_days)';
COMMENT ON FUNCTION cartera.bgnbd_fit_unit_days_transfn(internal, cartera.rfm_summary, integer, double precision) IS
  'transition function of bgnbd_fit_partial(summary, unit_days, penalizer)';
CREATE AGGREGATE cartera.bgnbd_fit_partial(summary cartera.rfm_summary, unit_days integer) (
  SFUNC = cartera.bgnbd_fit_unit_days_transfn,
  FINALFUNC = cartera.bgnbd_fit_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgnbd_fit_partial(cartera.rfm_summary, integer) IS
  'bgnbd_fit_partial(summary, ''weeks'' or ''days'') with the time unit in days (7 or 1): a form postgres_fdw ships to a shard';
CREATE AGGREGATE cartera.bgnbd_fit_partial(summary cartera.rfm_summary, unit_days integer, penalizer double precision) (
  SFUNC = cartera.bgnbd_fit_unit_days_transfn,
  FINALFUNC = cartera.bgnbd_fit_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgnbd_fit_partial(cartera.rfm_summary, integer, double precision) IS
  'bgnbd_fit_partial(summary, time unit, penalizer) with the time unit in days (7 or 1): a form postgres_fdw ships to a shard';
CREATE FUNCTION cartera.summary_recency_days(summary cartera.rfm_summary) RETURNS integer
  AS 'MODULE_PATHNAME', 'cartera_summary_recency_days' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.summary_recency_days(cartera.rfm_summary) IS
  '(summary).recency_days as a function call, which postgres_fdw ships to a shard';
CREATE FUNCTION cartera.summary_frequency(summary cartera.rfm_summary) RETURNS integer
  AS 'MODULE_PATHNAME', 'cartera_summary_frequency' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.summary_frequency(cartera.rfm_summary) IS
  '(summary).frequency as a function call, which postgres_fdw ships to a shard';
CREATE FUNCTION cartera.summary_monetary_total(summary cartera.rfm_summary) RETURNS numeric
  AS 'MODULE_PATHNAME', 'cartera_summary_monetary_total' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.summary_monetary_total(cartera.rfm_summary) IS
  '(summary).monetary_total as a function call, which postgres_fdw ships to a shard';

-- The first step on every partition of a table at once: with the partitions
-- foreign tables on shards (postgres_fdw, server option extensions 'cartera'),
-- each branch is one aggregate the shard computes, and the shards answer one
-- row each (concurrently with the server option async_capable 'true').
CREATE FUNCTION cartera.partial_states(relation regclass, partial_aggregate text)
  RETURNS TABLE (partition regclass, state bytea)
  LANGUAGE plpgsql VOLATILE STRICT PARALLEL RESTRICTED
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  q text;
BEGIN
  -- one branch per leaf partition (a plain table is its own leaf); the
  -- partition travels as an oid literal so that a pushed-down branch never
  -- names a relation the shard does not have
  SELECT string_agg(format('SELECT %s::oid, %s FROM %s', t.relid::oid, partial_aggregate, t.relid),
                    ' UNION ALL ' ORDER BY t.relid::oid)
    INTO q
    FROM (SELECT l.relid FROM pg_catalog.pg_partition_tree(relation) l WHERE l.isleaf
          UNION
          SELECT c.oid::regclass FROM pg_catalog.pg_class c
           WHERE c.oid = relation AND c.relkind IN ('r', 'f', 'm')) t;
  IF q IS NULL THEN
    RAISE EXCEPTION '% is neither a table nor a partitioned table with partitions', relation
      USING ERRCODE = 'wrong_object_type',
            HINT = 'Pass the partitioned table whose partitions live on the shards.';
  END IF;
  RETURN QUERY EXECUTE format('SELECT p::regclass, s FROM (%s) u(p, s)', q);
END
$fn$;
-- it runs the SQL text it is given: not for PUBLIC (GRANT it to the role that fits models)
REVOKE EXECUTE ON FUNCTION cartera.partial_states(regclass, text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.partial_states(regclass, text) IS
  'runs the aggregate expression partial_aggregate (e.g. cartera.bgnbd_fit_partial(summary, ''weeks'')) on every leaf partition of relation; returns one state per partition for the matching _merge() aggregate';
