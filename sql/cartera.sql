-- cartera: the C core (segment type, per-customer aggregates, scoring).
-- Edit this file; the Makefile copies it to the versioned install script.

\echo Use "CREATE EXTENSION cartera" to load this file. \quit

DO $$
BEGIN
  IF pg_catalog.to_regnamespace('cartera') IS NOT NULL THEN
    RAISE EXCEPTION 'schema "cartera" already exists'
      USING DETAIL = 'The extension keeps all of its objects in its own schema "cartera".',
            HINT = 'Rename or drop the existing schema, then run CREATE EXTENSION cartera again.';
  END IF;
END
$$;

CREATE SCHEMA cartera;
COMMENT ON SCHEMA cartera IS 'cartera: customer portfolio analytics (RFM, life cycle, CLV)';
GRANT USAGE ON SCHEMA cartera TO PUBLIC;

------------------------------------------------------------------------------
-- segment: one RFM cell
------------------------------------------------------------------------------

CREATE TYPE cartera.segment;

CREATE FUNCTION cartera.segment_in(cstring) RETURNS cartera.segment
  AS 'MODULE_PATHNAME', 'cartera_segment_in'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cartera.segment_out(cartera.segment) RETURNS cstring
  AS 'MODULE_PATHNAME', 'cartera_segment_out'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cartera.segment_recv(internal) RETURNS cartera.segment
  AS 'MODULE_PATHNAME', 'cartera_segment_recv'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cartera.segment_send(cartera.segment) RETURNS bytea
  AS 'MODULE_PATHNAME', 'cartera_segment_send'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE cartera.segment (
  INPUT = cartera.segment_in,
  OUTPUT = cartera.segment_out,
  RECEIVE = cartera.segment_recv,
  SEND = cartera.segment_send,
  INTERNALLENGTH = 2,
  PASSEDBYVALUE,
  ALIGNMENT = int2,
  STORAGE = plain
);
COMMENT ON TYPE cartera.segment IS
  'RFM cell: recency, frequency and monetary scores 1..9; input ''543'', ''5-4-3'' or ''R5F4M3'', output ''543''';
COMMENT ON FUNCTION cartera.segment_in(cstring) IS 'text input of cartera.segment';
COMMENT ON FUNCTION cartera.segment_out(cartera.segment) IS 'text output of cartera.segment';
COMMENT ON FUNCTION cartera.segment_recv(internal) IS 'binary input of cartera.segment (three bytes R, F, M)';
COMMENT ON FUNCTION cartera.segment_send(cartera.segment) IS 'binary output of cartera.segment (three bytes R, F, M)';

CREATE FUNCTION cartera.segment(r integer, f integer, m integer) RETURNS cartera.segment
  AS 'MODULE_PATHNAME', 'cartera_segment_make'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.segment(integer, integer, integer) IS
  'build a segment from recency, frequency and monetary scores (each 1..9)';

CREATE FUNCTION cartera.recency_score(cartera.segment) RETURNS integer
  AS 'MODULE_PATHNAME', 'cartera_segment_recency'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.recency_score(cartera.segment) IS 'R score of a segment (1..9, higher = more recent)';
CREATE FUNCTION cartera.frequency_score(cartera.segment) RETURNS integer
  AS 'MODULE_PATHNAME', 'cartera_segment_frequency'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.frequency_score(cartera.segment) IS 'F score of a segment (1..9, higher = more frequent)';
CREATE FUNCTION cartera.monetary_score(cartera.segment) RETURNS integer
  AS 'MODULE_PATHNAME', 'cartera_segment_monetary'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.monetary_score(cartera.segment) IS 'M score of a segment (1..9, higher = more spend)';

-- STABLE, not IMMUTABLE: the result depends on cartera.language
CREATE FUNCTION cartera.segment_name(cartera.segment) RETURNS text
  AS 'MODULE_PATHNAME', 'cartera_segment_name'
  LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.segment_name(cartera.segment) IS
  'named segment of the R x F grid (Champions, Loyal, ... Hibernating) in the language of cartera.language';

CREATE FUNCTION cartera.segment_eq(cartera.segment, cartera.segment) RETURNS boolean
  AS 'MODULE_PATHNAME', 'cartera_segment_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION cartera.segment_ne(cartera.segment, cartera.segment) RETURNS boolean
  AS 'MODULE_PATHNAME', 'cartera_segment_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION cartera.segment_lt(cartera.segment, cartera.segment) RETURNS boolean
  AS 'MODULE_PATHNAME', 'cartera_segment_lt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION cartera.segment_le(cartera.segment, cartera.segment) RETURNS boolean
  AS 'MODULE_PATHNAME', 'cartera_segment_le' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION cartera.segment_gt(cartera.segment, cartera.segment) RETURNS boolean
  AS 'MODULE_PATHNAME', 'cartera_segment_gt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION cartera.segment_ge(cartera.segment, cartera.segment) RETURNS boolean
  AS 'MODULE_PATHNAME', 'cartera_segment_ge' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION cartera.segment_cmp(cartera.segment, cartera.segment) RETURNS integer
  AS 'MODULE_PATHNAME', 'cartera_segment_cmp' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION cartera.segment_hash(cartera.segment) RETURNS integer
  AS 'MODULE_PATHNAME', 'cartera_segment_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION cartera.segment_hash_extended(cartera.segment, bigint) RETURNS bigint
  AS 'MODULE_PATHNAME', 'cartera_segment_hash_extended' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION cartera.segment_eq(cartera.segment, cartera.segment) IS 'implementation of = for segment';
COMMENT ON FUNCTION cartera.segment_ne(cartera.segment, cartera.segment) IS 'implementation of <> for segment';
COMMENT ON FUNCTION cartera.segment_lt(cartera.segment, cartera.segment) IS 'implementation of < for segment';
COMMENT ON FUNCTION cartera.segment_le(cartera.segment, cartera.segment) IS 'implementation of <= for segment';
COMMENT ON FUNCTION cartera.segment_gt(cartera.segment, cartera.segment) IS 'implementation of > for segment';
COMMENT ON FUNCTION cartera.segment_ge(cartera.segment, cartera.segment) IS 'implementation of >= for segment';
COMMENT ON FUNCTION cartera.segment_cmp(cartera.segment, cartera.segment) IS 'btree comparison of segments (R, then F, then M)';
COMMENT ON FUNCTION cartera.segment_hash(cartera.segment) IS 'hash of a segment';
COMMENT ON FUNCTION cartera.segment_hash_extended(cartera.segment, bigint) IS 'seeded 64-bit hash of a segment';

CREATE OPERATOR cartera.= (
  LEFTARG = cartera.segment, RIGHTARG = cartera.segment, FUNCTION = cartera.segment_eq,
  COMMUTATOR = OPERATOR(cartera.=), NEGATOR = OPERATOR(cartera.<>),
  RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR cartera.<> (
  LEFTARG = cartera.segment, RIGHTARG = cartera.segment, FUNCTION = cartera.segment_ne,
  COMMUTATOR = OPERATOR(cartera.<>), NEGATOR = OPERATOR(cartera.=),
  RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR cartera.< (
  LEFTARG = cartera.segment, RIGHTARG = cartera.segment, FUNCTION = cartera.segment_lt,
  COMMUTATOR = OPERATOR(cartera.>), NEGATOR = OPERATOR(cartera.>=),
  RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
CREATE OPERATOR cartera.<= (
  LEFTARG = cartera.segment, RIGHTARG = cartera.segment, FUNCTION = cartera.segment_le,
  COMMUTATOR = OPERATOR(cartera.>=), NEGATOR = OPERATOR(cartera.>),
  RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
CREATE OPERATOR cartera.> (
  LEFTARG = cartera.segment, RIGHTARG = cartera.segment, FUNCTION = cartera.segment_gt,
  COMMUTATOR = OPERATOR(cartera.<), NEGATOR = OPERATOR(cartera.<=),
  RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
CREATE OPERATOR cartera.>= (
  LEFTARG = cartera.segment, RIGHTARG = cartera.segment, FUNCTION = cartera.segment_ge,
  COMMUTATOR = OPERATOR(cartera.<=), NEGATOR = OPERATOR(cartera.<),
  RESTRICT = scalargesel, JOIN = scalargejoinsel);
COMMENT ON OPERATOR cartera.= (cartera.segment, cartera.segment) IS 'equal';
COMMENT ON OPERATOR cartera.<> (cartera.segment, cartera.segment) IS 'not equal';
COMMENT ON OPERATOR cartera.< (cartera.segment, cartera.segment) IS 'less than (R, then F, then M)';
COMMENT ON OPERATOR cartera.<= (cartera.segment, cartera.segment) IS 'less than or equal';
COMMENT ON OPERATOR cartera.> (cartera.segment, cartera.segment) IS 'greater than';
COMMENT ON OPERATOR cartera.>= (cartera.segment, cartera.segment) IS 'greater than or equal';

CREATE OPERATOR CLASS cartera.segment_ops
  DEFAULT FOR TYPE cartera.segment USING btree AS
    OPERATOR 1 cartera.<,
    OPERATOR 2 cartera.<=,
    OPERATOR 3 cartera.=,
    OPERATOR 4 cartera.>=,
    OPERATOR 5 cartera.>,
    FUNCTION 1 cartera.segment_cmp(cartera.segment, cartera.segment);
CREATE OPERATOR CLASS cartera.segment_hash_ops
  DEFAULT FOR TYPE cartera.segment USING hash AS
    OPERATOR 1 cartera.=,
    FUNCTION 1 cartera.segment_hash(cartera.segment),
    FUNCTION 2 cartera.segment_hash_extended(cartera.segment, bigint);
COMMENT ON OPERATOR CLASS cartera.segment_ops USING btree IS 'btree (sorting, indexing, merge joins) for segment';
COMMENT ON OPERATOR CLASS cartera.segment_hash_ops USING hash IS 'hash (GROUP BY, hash joins, hash indexes) for segment';

CREATE CAST (cartera.segment AS text) WITH INOUT AS ASSIGNMENT;
CREATE CAST (text AS cartera.segment) WITH INOUT;
COMMENT ON CAST (cartera.segment AS text) IS 'canonical text form, e.g. ''543''';
COMMENT ON CAST (text AS cartera.segment) IS 'parse ''543'', ''5-4-3'' or ''R5F4M3''';

------------------------------------------------------------------------------
-- per-customer aggregates: one transition state, several finals
------------------------------------------------------------------------------

CREATE TYPE cartera.lifecycle_status AS ENUM
  ('lead', 'new', 'active', 'reactivated', 'at_risk', 'dormant', 'lost');
COMMENT ON TYPE cartera.lifecycle_status IS
  'customer life-cycle status: lead (no purchase yet), new, active, reactivated, at_risk, dormant, lost';

CREATE TYPE cartera.rfm_summary AS (
  first_purchase timestamptz,
  last_purchase  timestamptz,
  purchases      bigint,
  purchase_days  integer,
  frequency      integer,
  recency_days   integer,
  age_days       integer,
  t_x_days       integer,
  monetary_total numeric,
  avg_ticket     numeric,
  repeat_avg     numeric,
  mean_gap_days  double precision,
  last_gap_days  integer,
  as_of          timestamptz
);
COMMENT ON TYPE cartera.rfm_summary IS 'per-customer purchase summary returned by cartera.rfm()';
COMMENT ON COLUMN cartera.rfm_summary.first_purchase IS 'first purchase at or before as_of';
COMMENT ON COLUMN cartera.rfm_summary.last_purchase IS 'last purchase at or before as_of';
COMMENT ON COLUMN cartera.rfm_summary.purchases IS 'number of purchase rows (amount >= 0; refunds are not purchases)';
COMMENT ON COLUMN cartera.rfm_summary.purchase_days IS 'distinct calendar days with a purchase (session TimeZone)';
COMMENT ON COLUMN cartera.rfm_summary.frequency IS 'repeat purchase days = purchase_days - 1 (the x of BG/NBD)';
COMMENT ON COLUMN cartera.rfm_summary.recency_days IS 'days from the last purchase day to as_of';
COMMENT ON COLUMN cartera.rfm_summary.age_days IS 'days from the first purchase day to as_of (the T of BG/NBD)';
COMMENT ON COLUMN cartera.rfm_summary.t_x_days IS 'days from the first to the last purchase day (the t_x of BG/NBD)';
COMMENT ON COLUMN cartera.rfm_summary.monetary_total IS 'exact sum of all amounts, refunds included';
COMMENT ON COLUMN cartera.rfm_summary.avg_ticket IS 'monetary_total / purchases (two more decimals than the amounts)';
COMMENT ON COLUMN cartera.rfm_summary.repeat_avg IS 'mean spend per repeat purchase day (first day excluded; lifetimes monetary_value); NULL when frequency = 0';
COMMENT ON COLUMN cartera.rfm_summary.mean_gap_days IS 't_x_days / frequency: mean days between purchase days; NULL when frequency = 0';
COMMENT ON COLUMN cartera.rfm_summary.last_gap_days IS 'days between the last two purchase days; NULL when frequency = 0';
COMMENT ON COLUMN cartera.rfm_summary.as_of IS 'the instant the summary describes';

-- One C transition function serves every overload: it reads the declared
-- argument types once per query.  One SQL declaration per arity.
CREATE FUNCTION cartera.rfm_transfn(internal, "any") RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_rfm_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.rfm_transfn(internal, "any", "any") RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_rfm_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.rfm_transfn(internal, "any", "any", "any") RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_rfm_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.rfm_transfn(internal, "any", "any", "any", "any") RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_rfm_transfn' LANGUAGE C PARALLEL SAFE;
-- not STRICT: PostgreSQL requires a non-strict combine for internal states
CREATE FUNCTION cartera.rfm_combinefn(internal, internal) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_rfm_combinefn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.rfm_serialfn(internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'cartera_rfm_serialfn' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION cartera.rfm_deserialfn(bytea, internal) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_rfm_deserialfn' LANGUAGE C STRICT PARALLEL SAFE;
-- the finals depend on the session TimeZone and cartera.* settings: STABLE
CREATE FUNCTION cartera.rfm_finalfn(internal) RETURNS cartera.rfm_summary
  AS 'MODULE_PATHNAME', 'cartera_rfm_finalfn' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION cartera.lifecycle_finalfn(internal) RETURNS cartera.lifecycle_status
  AS 'MODULE_PATHNAME', 'cartera_lifecycle_finalfn' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION cartera.clv_finalfn(internal) RETURNS numeric
  AS 'MODULE_PATHNAME', 'cartera_clv_finalfn' LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION cartera.rfm_transfn(internal, "any") IS 'transition function of lifecycle(purchased_at)';
COMMENT ON FUNCTION cartera.rfm_transfn(internal, "any", "any") IS 'transition function of rfm(purchased_at, amount) and lifecycle(purchased_at, as_of)';
COMMENT ON FUNCTION cartera.rfm_transfn(internal, "any", "any", "any") IS 'transition function of rfm(purchased_at, amount, as_of) and clv(purchased_at, amount, lifespan)';
COMMENT ON FUNCTION cartera.rfm_transfn(internal, "any", "any", "any", "any") IS 'transition function of clv(purchased_at, amount, as_of, lifespan)';
COMMENT ON FUNCTION cartera.rfm_combinefn(internal, internal) IS 'merges two partial per-customer states (parallel and partial aggregation)';
COMMENT ON FUNCTION cartera.rfm_serialfn(internal) IS 'serializes a per-customer state for parallel workers';
COMMENT ON FUNCTION cartera.rfm_deserialfn(bytea, internal) IS 'deserializes a per-customer state from a parallel worker';
COMMENT ON FUNCTION cartera.rfm_finalfn(internal) IS 'final function of rfm(): builds the rfm_summary';
COMMENT ON FUNCTION cartera.lifecycle_finalfn(internal) IS 'final function of lifecycle(): classifies the customer';
COMMENT ON FUNCTION cartera.clv_finalfn(internal) IS 'final function of clv(): the seed formula';

-- rfm(purchased_at, amount [, as_of]) -> rfm_summary
CREATE AGGREGATE cartera.rfm(purchased_at timestamptz, amount numeric, as_of timestamptz) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm(timestamptz, numeric, timestamptz) IS
  'per-customer RFM summary of purchases up to as_of; NULL amounts/dates skipped, negative amounts are refunds';
CREATE AGGREGATE cartera.rfm(purchased_at timestamptz, amount numeric) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm(timestamptz, numeric) IS
  'per-customer RFM summary of purchases up to the transaction timestamp; NULL amounts/dates skipped, negative amounts are refunds';
CREATE AGGREGATE cartera.rfm(purchased_at timestamptz, amount double precision, as_of timestamptz) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm(timestamptz, double precision, timestamptz) IS
  'per-customer RFM summary of purchases up to as_of; NULL amounts/dates skipped, negative amounts are refunds';
CREATE AGGREGATE cartera.rfm(purchased_at timestamptz, amount double precision) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm(timestamptz, double precision) IS
  'per-customer RFM summary of purchases up to the transaction timestamp; NULL amounts/dates skipped, negative amounts are refunds';
CREATE AGGREGATE cartera.rfm(purchased_at timestamptz, amount bigint, as_of timestamptz) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm(timestamptz, bigint, timestamptz) IS
  'per-customer RFM summary of purchases up to as_of; NULL amounts/dates skipped, negative amounts are refunds';
CREATE AGGREGATE cartera.rfm(purchased_at timestamptz, amount bigint) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm(timestamptz, bigint) IS
  'per-customer RFM summary of purchases up to the transaction timestamp; NULL amounts/dates skipped, negative amounts are refunds';
CREATE AGGREGATE cartera.rfm(purchased_at date, amount numeric, as_of date) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm(date, numeric, date) IS
  'per-customer RFM summary of purchases up to as_of; NULL amounts/dates skipped, negative amounts are refunds';
CREATE AGGREGATE cartera.rfm(purchased_at date, amount numeric) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm(date, numeric) IS
  'per-customer RFM summary of purchases up to the transaction timestamp; NULL amounts/dates skipped, negative amounts are refunds';
CREATE AGGREGATE cartera.rfm(purchased_at date, amount double precision, as_of date) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm(date, double precision, date) IS
  'per-customer RFM summary of purchases up to as_of; NULL amounts/dates skipped, negative amounts are refunds';
CREATE AGGREGATE cartera.rfm(purchased_at date, amount double precision) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm(date, double precision) IS
  'per-customer RFM summary of purchases up to the transaction timestamp; NULL amounts/dates skipped, negative amounts are refunds';
CREATE AGGREGATE cartera.rfm(purchased_at date, amount bigint, as_of date) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm(date, bigint, date) IS
  'per-customer RFM summary of purchases up to as_of; NULL amounts/dates skipped, negative amounts are refunds';
CREATE AGGREGATE cartera.rfm(purchased_at date, amount bigint) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm(date, bigint) IS
  'per-customer RFM summary of purchases up to the transaction timestamp; NULL amounts/dates skipped, negative amounts are refunds';

-- lifecycle(purchased_at [, as_of]) -> lifecycle_status
CREATE AGGREGATE cartera.lifecycle(purchased_at timestamptz, as_of timestamptz) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.lifecycle_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.lifecycle(timestamptz, timestamptz) IS
  'life-cycle status of a customer at as_of (thresholds: cartera.at_risk_after, dormant_after, lost_after, new_window, lifecycle_mode)';
CREATE AGGREGATE cartera.lifecycle(purchased_at timestamptz) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.lifecycle_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.lifecycle(timestamptz) IS
  'life-cycle status of a customer at the transaction timestamp (thresholds: cartera.at_risk_after, dormant_after, lost_after, new_window, lifecycle_mode)';
CREATE AGGREGATE cartera.lifecycle(purchased_at date, as_of date) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.lifecycle_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.lifecycle(date, date) IS
  'life-cycle status of a customer at as_of (thresholds: cartera.at_risk_after, dormant_after, lost_after, new_window, lifecycle_mode)';
CREATE AGGREGATE cartera.lifecycle(purchased_at date) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.lifecycle_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.lifecycle(date) IS
  'life-cycle status of a customer at the transaction timestamp (thresholds: cartera.at_risk_after, dormant_after, lost_after, new_window, lifecycle_mode)';

-- clv(purchased_at, amount [, as_of], lifespan) -> numeric
CREATE AGGREGATE cartera.clv(purchased_at timestamptz, amount numeric, as_of timestamptz, lifespan interval) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.clv_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.clv(timestamptz, numeric, timestamptz, interval) IS
  'customer lifetime value: average ticket x purchases per year (observed, at least one year) x lifespan in years';
CREATE AGGREGATE cartera.clv(purchased_at timestamptz, amount numeric, lifespan interval) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.clv_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.clv(timestamptz, numeric, interval) IS
  'customer lifetime value: average ticket x purchases per year (observed, at least one year) x lifespan in years';
CREATE AGGREGATE cartera.clv(purchased_at timestamptz, amount double precision, as_of timestamptz, lifespan interval) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.clv_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.clv(timestamptz, double precision, timestamptz, interval) IS
  'customer lifetime value: average ticket x purchases per year (observed, at least one year) x lifespan in years';
CREATE AGGREGATE cartera.clv(purchased_at timestamptz, amount double precision, lifespan interval) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.clv_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.clv(timestamptz, double precision, interval) IS
  'customer lifetime value: average ticket x purchases per year (observed, at least one year) x lifespan in years';
CREATE AGGREGATE cartera.clv(purchased_at timestamptz, amount bigint, as_of timestamptz, lifespan interval) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.clv_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.clv(timestamptz, bigint, timestamptz, interval) IS
  'customer lifetime value: average ticket x purchases per year (observed, at least one year) x lifespan in years';
CREATE AGGREGATE cartera.clv(purchased_at timestamptz, amount bigint, lifespan interval) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.clv_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.clv(timestamptz, bigint, interval) IS
  'customer lifetime value: average ticket x purchases per year (observed, at least one year) x lifespan in years';
CREATE AGGREGATE cartera.clv(purchased_at date, amount numeric, as_of date, lifespan interval) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.clv_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.clv(date, numeric, date, interval) IS
  'customer lifetime value: average ticket x purchases per year (observed, at least one year) x lifespan in years';
CREATE AGGREGATE cartera.clv(purchased_at date, amount numeric, lifespan interval) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.clv_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.clv(date, numeric, interval) IS
  'customer lifetime value: average ticket x purchases per year (observed, at least one year) x lifespan in years';
CREATE AGGREGATE cartera.clv(purchased_at date, amount double precision, as_of date, lifespan interval) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.clv_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.clv(date, double precision, date, interval) IS
  'customer lifetime value: average ticket x purchases per year (observed, at least one year) x lifespan in years';
CREATE AGGREGATE cartera.clv(purchased_at date, amount double precision, lifespan interval) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.clv_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.clv(date, double precision, interval) IS
  'customer lifetime value: average ticket x purchases per year (observed, at least one year) x lifespan in years';
CREATE AGGREGATE cartera.clv(purchased_at date, amount bigint, as_of date, lifespan interval) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.clv_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.clv(date, bigint, date, interval) IS
  'customer lifetime value: average ticket x purchases per year (observed, at least one year) x lifespan in years';
CREATE AGGREGATE cartera.clv(purchased_at date, amount bigint, lifespan interval) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.clv_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.clv(date, bigint, interval) IS
  'customer lifetime value: average ticket x purchases per year (observed, at least one year) x lifespan in years';

CREATE FUNCTION cartera.lifecycle_status(summary cartera.rfm_summary, as_of timestamptz)
  RETURNS cartera.lifecycle_status
  AS 'MODULE_PATHNAME', 'cartera_lifecycle_status_at'
  LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.lifecycle_status(cartera.rfm_summary, timestamptz) IS
  'life-cycle status of a stored rfm_summary at another instant as_of (not before its last purchase)';
CREATE FUNCTION cartera.lifecycle_status(summary cartera.rfm_summary)
  RETURNS cartera.lifecycle_status
  AS 'MODULE_PATHNAME', 'cartera_lifecycle_status'
  LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.lifecycle_status(cartera.rfm_summary) IS
  'life-cycle status of a stored rfm_summary at its own as_of';

CREATE FUNCTION cartera.clv_simple(avg_ticket numeric, purchases_per_year numeric,
                                   lifespan_years numeric, margin numeric DEFAULT 1)
  RETURNS numeric
  AS 'MODULE_PATHNAME', 'cartera_clv_simple'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.clv_simple(numeric, numeric, numeric, numeric) IS
  'customer lifetime value = average ticket x purchases per year x lifespan in years x margin (0..1)';

------------------------------------------------------------------------------
-- quantile scoring
------------------------------------------------------------------------------

CREATE FUNCTION cartera.breakpoints_transfn(internal, double precision, integer) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_breakpoints_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.breakpoints_combinefn(internal, internal) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_breakpoints_combinefn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.breakpoints_serialfn(internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'cartera_breakpoints_serialfn' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION cartera.breakpoints_deserialfn(bytea, internal) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_breakpoints_deserialfn' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION cartera.breakpoints_finalfn(internal) RETURNS double precision[]
  AS 'MODULE_PATHNAME', 'cartera_breakpoints_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.breakpoints_transfn(internal, double precision, integer) IS 'transition function of breakpoints()';
COMMENT ON FUNCTION cartera.breakpoints_combinefn(internal, internal) IS 'merges two partial breakpoints() states';
COMMENT ON FUNCTION cartera.breakpoints_serialfn(internal) IS 'serializes a breakpoints() state';
COMMENT ON FUNCTION cartera.breakpoints_deserialfn(bytea, internal) IS 'deserializes a breakpoints() state';
COMMENT ON FUNCTION cartera.breakpoints_finalfn(internal) IS 'final function of breakpoints(): the n-1 cut points';

-- the final sorts the collected values in place, which leaves the state valid
CREATE AGGREGATE cartera.breakpoints(value double precision, n integer) (
  SFUNC = cartera.breakpoints_transfn,
  STYPE = internal,
  FINALFUNC = cartera.breakpoints_finalfn,
  COMBINEFUNC = cartera.breakpoints_combinefn,
  SERIALFUNC = cartera.breakpoints_serialfn,
  DESERIALFUNC = cartera.breakpoints_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.breakpoints(double precision, integer) IS
  'n-1 quantile cut points of the values (n = 2..9): cut k is the value at rank ceil(k*N/n); NULL and NaN skipped';

CREATE FUNCTION cartera.score(value double precision, breakpoints double precision[],
                              higher_is_better boolean DEFAULT true)
  RETURNS integer
  AS 'MODULE_PATHNAME', 'cartera_score'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.score(double precision, double precision[], boolean) IS
  'score 1..n of a value: 1 + number of breakpoints below it (reversed when higher_is_better is false)';

CREATE FUNCTION cartera.rfm_segment(summary cartera.rfm_summary,
                                    recency_breaks double precision[],
                                    frequency_breaks double precision[],
                                    monetary_breaks double precision[])
  RETURNS cartera.segment
  AS 'MODULE_PATHNAME', 'cartera_rfm_segment'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.rfm_segment(cartera.rfm_summary, double precision[], double precision[], double precision[]) IS
  'RFM cell of a summary: R scores recency_days (fewer days = higher), F frequency, M monetary_total; NULL for a lead';

COMMENT ON OPERATOR FAMILY cartera.segment_ops USING btree IS 'btree operator family of segment';
COMMENT ON OPERATOR FAMILY cartera.segment_hash_ops USING hash IS 'hash operator family of segment';
