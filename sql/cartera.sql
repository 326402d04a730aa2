-- cartera: the C core (segment type, per-customer aggregates, scoring, BTYD).
-- Edit this file and sql/cartera_portfolio.sql; the Makefile builds the
-- versioned install and upgrade scripts from them.

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
-- SSPACE: a state takes 272 bytes (a 64-byte aligned struct in a 256-byte
-- chunk) plus the purchase days beyond five; without it the planner assumes
-- 8 kB per group for an internal state and avoids hash aggregation.
CREATE AGGREGATE cartera.rfm(purchased_at timestamptz, amount numeric, as_of timestamptz) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_finalfn,
  STYPE = internal,
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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

------------------------------------------------------------------------------
-- predictive CLV: BG/NBD (purchases and dropout) and Gamma-Gamma (spend)
------------------------------------------------------------------------------

CREATE TYPE cartera.bgnbd_params AS (
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
COMMENT ON TYPE cartera.bgnbd_params IS
  'BG/NBD model (Fader, Hardie & Lee 2005): purchase rate ~ Gamma(r, alpha), dropout ~ Beta(a, b); alpha is per time_unit';
COMMENT ON COLUMN cartera.bgnbd_params.r IS 'shape of the Gamma distribution of purchase rates';
COMMENT ON COLUMN cartera.bgnbd_params.alpha IS 'scale of the Gamma distribution of purchase rates, in time_unit';
COMMENT ON COLUMN cartera.bgnbd_params.a IS 'first shape of the Beta distribution of dropout probabilities';
COMMENT ON COLUMN cartera.bgnbd_params.b IS 'second shape of the Beta distribution of dropout probabilities';
COMMENT ON COLUMN cartera.bgnbd_params.log_likelihood IS 'log-likelihood at the estimate (NULL for parameters built by hand)';
COMMENT ON COLUMN cartera.bgnbd_params.customers IS 'customers the model was fitted on';
COMMENT ON COLUMN cartera.bgnbd_params.iterations IS 'optimiser iterations';
COMMENT ON COLUMN cartera.bgnbd_params.converged IS 'whether the optimiser met its convergence test';
COMMENT ON COLUMN cartera.bgnbd_params.time_unit IS 'days or weeks: the unit of t_x, T and t; NULL when not stated';
COMMENT ON COLUMN cartera.bgnbd_params.se_r IS 'standard error of r (observed information at the estimate; NULL for parameters built by hand or an edge estimate)';
COMMENT ON COLUMN cartera.bgnbd_params.se_alpha IS 'standard error of alpha';
COMMENT ON COLUMN cartera.bgnbd_params.se_a IS 'standard error of a';
COMMENT ON COLUMN cartera.bgnbd_params.se_b IS 'standard error of b';
COMMENT ON COLUMN cartera.bgnbd_params.aic IS 'Akaike information criterion, 2k - 2 log_likelihood (k = 4)';
COMMENT ON COLUMN cartera.bgnbd_params.bic IS 'Bayesian information criterion, k ln(customers) - 2 log_likelihood';
COMMENT ON COLUMN cartera.bgnbd_params.log_covariance IS 'covariance matrix of ln(r, alpha, a, b), 16 numbers by rows: what the prediction intervals use (NULL when the fit has none)';

CREATE TYPE cartera.gamma_gamma_params AS (
  p              double precision,
  q              double precision,
  gamma          double precision,
  log_likelihood double precision,
  customers      bigint,
  iterations     integer,
  converged      boolean,
  se_p           double precision,
  se_q           double precision,
  se_gamma       double precision,
  aic            double precision,
  bic            double precision
);
COMMENT ON TYPE cartera.gamma_gamma_params IS
  'Gamma-Gamma spend model (Fader, Hardie & Lee 2005): spend ~ Gamma(p, nu), nu ~ Gamma(q, gamma)';
COMMENT ON COLUMN cartera.gamma_gamma_params.p IS 'shape of the per-transaction spend distribution';
COMMENT ON COLUMN cartera.gamma_gamma_params.q IS 'shape of the Gamma distribution of nu across customers';
COMMENT ON COLUMN cartera.gamma_gamma_params.gamma IS 'scale of the Gamma distribution of nu across customers (currency)';
COMMENT ON COLUMN cartera.gamma_gamma_params.log_likelihood IS 'log-likelihood at the estimate (NULL for parameters built by hand)';
COMMENT ON COLUMN cartera.gamma_gamma_params.customers IS 'repeat customers with positive spend the model was fitted on';
COMMENT ON COLUMN cartera.gamma_gamma_params.iterations IS 'optimiser iterations';
COMMENT ON COLUMN cartera.gamma_gamma_params.converged IS 'whether the optimiser met its convergence test';
COMMENT ON COLUMN cartera.gamma_gamma_params.se_p IS 'standard error of p (observed information at the estimate)';
COMMENT ON COLUMN cartera.gamma_gamma_params.se_q IS 'standard error of q';
COMMENT ON COLUMN cartera.gamma_gamma_params.se_gamma IS 'standard error of gamma';
COMMENT ON COLUMN cartera.gamma_gamma_params.aic IS 'Akaike information criterion, 2k - 2 log_likelihood (k = 3)';
COMMENT ON COLUMN cartera.gamma_gamma_params.bic IS 'Bayesian information criterion, k ln(customers) - 2 log_likelihood';

CREATE FUNCTION cartera.bgnbd_fit_transfn(internal, "any") RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgnbd_fit_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.bgnbd_fit_transfn(internal, "any", "any") RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgnbd_fit_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.bgnbd_fit_transfn(internal, "any", "any", "any") RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgnbd_fit_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.bgnbd_fit_transfn(internal, "any", "any", "any", "any") RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgnbd_fit_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.bgnbd_fit_transfn(internal, "any", "any", "any", "any", "any") RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgnbd_fit_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.gamma_gamma_fit_transfn(internal, "any") RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_gamma_gamma_fit_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.gamma_gamma_fit_transfn(internal, "any", "any") RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_gamma_gamma_fit_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.gamma_gamma_fit_transfn(internal, "any", "any", "any") RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_gamma_gamma_fit_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.fit_histogram_combinefn(internal, internal) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_histogram_combinefn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.fit_histogram_serialfn(internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'cartera_histogram_serialfn' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION cartera.fit_histogram_deserialfn(bytea, internal) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_histogram_deserialfn' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION cartera.bgnbd_fit_finalfn(internal) RETURNS cartera.bgnbd_params
  AS 'MODULE_PATHNAME', 'cartera_bgnbd_fit_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION cartera.gamma_gamma_fit_finalfn(internal) RETURNS cartera.gamma_gamma_params
  AS 'MODULE_PATHNAME', 'cartera_gamma_gamma_fit_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgnbd_fit_transfn(internal, "any") IS 'transition function of bgnbd_fit(summary)';
COMMENT ON FUNCTION cartera.bgnbd_fit_transfn(internal, "any", "any") IS 'transition function of bgnbd_fit(summary, time_unit)';
COMMENT ON FUNCTION cartera.bgnbd_fit_transfn(internal, "any", "any", "any") IS 'transition function of bgnbd_fit(frequency, t_x, T) and bgnbd_fit(summary, time_unit, penalizer)';
COMMENT ON FUNCTION cartera.bgnbd_fit_transfn(internal, "any", "any", "any", "any") IS 'transition function of bgnbd_fit(frequency, t_x, T, time_unit)';
COMMENT ON FUNCTION cartera.bgnbd_fit_transfn(internal, "any", "any", "any", "any", "any") IS 'transition function of bgnbd_fit(frequency, t_x, T, time_unit, penalizer)';
COMMENT ON FUNCTION cartera.gamma_gamma_fit_transfn(internal, "any") IS 'transition function of gamma_gamma_fit(summary)';
COMMENT ON FUNCTION cartera.gamma_gamma_fit_transfn(internal, "any", "any") IS 'transition function of gamma_gamma_fit(frequency, monetary) and gamma_gamma_fit(summary, penalizer)';
COMMENT ON FUNCTION cartera.gamma_gamma_fit_transfn(internal, "any", "any", "any") IS 'transition function of gamma_gamma_fit(frequency, monetary, penalizer)';
COMMENT ON FUNCTION cartera.fit_histogram_combinefn(internal, internal) IS 'merges two partial fit histograms';
COMMENT ON FUNCTION cartera.fit_histogram_serialfn(internal) IS 'serializes a fit histogram for parallel workers';
COMMENT ON FUNCTION cartera.fit_histogram_deserialfn(bytea, internal) IS 'deserializes a fit histogram';
COMMENT ON FUNCTION cartera.bgnbd_fit_finalfn(internal) IS 'final function of bgnbd_fit(): maximum likelihood on the histogram';
COMMENT ON FUNCTION cartera.gamma_gamma_fit_finalfn(internal) IS 'final function of gamma_gamma_fit(): maximum likelihood on the histogram';
CREATE AGGREGATE cartera.bgnbd_fit(frequency integer, t_x double precision, "T" double precision) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.bgnbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgnbd_fit(integer, double precision, double precision) IS
  'fit BG/NBD by maximum likelihood to (frequency, t_x, T) rows in one unstated time unit';
CREATE AGGREGATE cartera.bgnbd_fit(frequency integer, t_x double precision, "T" double precision, time_unit text) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.bgnbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgnbd_fit(integer, double precision, double precision, text) IS
  'fit BG/NBD by maximum likelihood to (frequency, t_x, T) rows measured in time_unit (days or weeks)';
CREATE AGGREGATE cartera.bgnbd_fit(frequency integer, t_x double precision, "T" double precision, time_unit text, penalizer double precision) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.bgnbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgnbd_fit(integer, double precision, double precision, text, double precision) IS
  'fit BG/NBD with an L2 penalty on the parameters (lifetimes penalizer_coef)';
CREATE AGGREGATE cartera.bgnbd_fit(summary cartera.rfm_summary, time_unit text) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.bgnbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgnbd_fit(cartera.rfm_summary, text) IS
  'fit BG/NBD to rfm() summaries, converting their day counts to time_unit (days or weeks); leads are skipped';
CREATE AGGREGATE cartera.bgnbd_fit(summary cartera.rfm_summary, time_unit text, penalizer double precision) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.bgnbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgnbd_fit(cartera.rfm_summary, text, double precision) IS
  'fit BG/NBD to rfm() summaries with an L2 penalty on the parameters';
CREATE AGGREGATE cartera.gamma_gamma_fit(frequency integer, monetary double precision) (
  SFUNC = cartera.gamma_gamma_fit_transfn,
  FINALFUNC = cartera.gamma_gamma_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.gamma_gamma_fit(integer, double precision) IS
  'fit Gamma-Gamma to (repeat purchases, mean repeat spend); one-time buyers skipped, non-positive spend left out with a NOTICE';
CREATE AGGREGATE cartera.gamma_gamma_fit(frequency integer, monetary double precision, penalizer double precision) (
  SFUNC = cartera.gamma_gamma_fit_transfn,
  FINALFUNC = cartera.gamma_gamma_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.gamma_gamma_fit(integer, double precision, double precision) IS
  'fit Gamma-Gamma with an L2 penalty on the parameters';
CREATE AGGREGATE cartera.gamma_gamma_fit(summary cartera.rfm_summary) (
  SFUNC = cartera.gamma_gamma_fit_transfn,
  FINALFUNC = cartera.gamma_gamma_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.gamma_gamma_fit(cartera.rfm_summary) IS
  'fit Gamma-Gamma to rfm() summaries (frequency, repeat_avg)';
CREATE AGGREGATE cartera.gamma_gamma_fit(summary cartera.rfm_summary, penalizer double precision) (
  SFUNC = cartera.gamma_gamma_fit_transfn,
  FINALFUNC = cartera.gamma_gamma_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.gamma_gamma_fit(cartera.rfm_summary, double precision) IS
  'fit Gamma-Gamma to rfm() summaries with an L2 penalty on the parameters';

CREATE FUNCTION cartera.bgnbd_params(r double precision, alpha double precision,
                                     a double precision, b double precision,
                                     time_unit text DEFAULT NULL)
  RETURNS cartera.bgnbd_params
  AS 'MODULE_PATHNAME', 'cartera_bgnbd_params_make' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgnbd_params(double precision, double precision, double precision, double precision, text) IS
  'BG/NBD parameters fitted elsewhere (lifetimes, pymc-marketing, CLVTools); alpha is per time_unit';
CREATE FUNCTION cartera.gamma_gamma_params(p double precision, q double precision, gamma double precision)
  RETURNS cartera.gamma_gamma_params
  AS 'MODULE_PATHNAME', 'cartera_gamma_gamma_params_make' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.gamma_gamma_params(double precision, double precision, double precision) IS
  'Gamma-Gamma parameters fitted elsewhere';

CREATE FUNCTION cartera.expected_purchases(params cartera.bgnbd_params, t double precision,
                                           frequency double precision, t_x double precision,
                                           "T" double precision)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases(cartera.bgnbd_params, double precision, double precision, double precision, double precision) IS
  'expected repeat purchases in the next t time units given frequency, t_x, T (all in the model''s time unit)';
CREATE FUNCTION cartera.expected_purchases(params cartera.bgnbd_params, t double precision,
                                           summary cartera.rfm_summary, time_unit text)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases_summary' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases(cartera.bgnbd_params, double precision, cartera.rfm_summary, text) IS
  'expected repeat purchases in the next t time units of an rfm() summary; time_unit must be the model''s';
CREATE FUNCTION cartera.expected_purchases_new(params cartera.bgnbd_params, t double precision)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_expected_purchases_new' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_purchases_new(cartera.bgnbd_params, double precision) IS
  'expected repeat purchases in the first t time units of a customer just acquired';
CREATE FUNCTION cartera.p_alive(params cartera.bgnbd_params, frequency double precision,
                                t_x double precision, "T" double precision)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_p_alive' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.p_alive(cartera.bgnbd_params, double precision, double precision, double precision) IS
  'probability that the customer is still active (in [0, 1]) given frequency, t_x, T in the model''s time unit';
CREATE FUNCTION cartera.p_alive(params cartera.bgnbd_params, summary cartera.rfm_summary, time_unit text)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_p_alive_summary' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.p_alive(cartera.bgnbd_params, cartera.rfm_summary, text) IS
  'probability that the customer of an rfm() summary is still active; time_unit must be the model''s';
CREATE FUNCTION cartera.probability_of_purchases(params cartera.bgnbd_params, t double precision, n integer)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_probability_of_purchases' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.probability_of_purchases(cartera.bgnbd_params, double precision, integer) IS
  'P(X(t) = n): probability that a customer just acquired makes n repeat purchases in t time units';
CREATE FUNCTION cartera.expected_avg_spend(params cartera.gamma_gamma_params, frequency double precision,
                                           monetary double precision)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_expected_avg_spend' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_avg_spend(cartera.gamma_gamma_params, double precision, double precision) IS
  'expected spend per purchase given repeat purchases and their mean spend (population mean for frequency 0)';
CREATE FUNCTION cartera.expected_avg_spend(params cartera.gamma_gamma_params, summary cartera.rfm_summary)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_expected_avg_spend_summary' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.expected_avg_spend(cartera.gamma_gamma_params, cartera.rfm_summary) IS
  'expected spend per purchase of the customer of an rfm() summary';
CREATE FUNCTION cartera.clv_predicted(bgnbd cartera.bgnbd_params, gg cartera.gamma_gamma_params,
                                      frequency double precision, t_x double precision,
                                      "T" double precision, monetary double precision,
                                      months integer DEFAULT 12,
                                      monthly_discount_rate double precision DEFAULT 0.01)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_clv_predicted' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.clv_predicted(cartera.bgnbd_params, cartera.gamma_gamma_params, double precision, double precision, double precision, double precision, integer, double precision) IS
  'predicted CLV over the next months (30-day months), discounted monthly (lifetimes customer_lifetime_value)';
CREATE FUNCTION cartera.clv_predicted(bgnbd cartera.bgnbd_params, gg cartera.gamma_gamma_params,
                                      summary cartera.rfm_summary, time_unit text,
                                      months integer DEFAULT 12,
                                      monthly_discount_rate double precision DEFAULT 0.01)
  RETURNS double precision
  AS 'MODULE_PATHNAME', 'cartera_clv_predicted_summary' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.clv_predicted(cartera.bgnbd_params, cartera.gamma_gamma_params, cartera.rfm_summary, text, integer, double precision) IS
  'predicted CLV of the customer of an rfm() summary over the next months, discounted monthly';

-- Calibration / holdout check of a BG/NBD fit, the numbers behind lifetimes'
-- "calibration vs holdout purchases" plot.  Reads any purchases table; the
-- purchase column may be date, timestamp or timestamptz (days are local days).
CREATE FUNCTION cartera.calibration_holdout(purchases regclass, customer_column name,
                                            purchased_at_column name,
                                            calibration_end date, holdout_end date,
                                            time_unit text DEFAULT 'weeks')
  RETURNS TABLE (customer text, frequency integer, t_x double precision, "T" double precision,
                 predicted double precision, actual bigint)
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
  IF holdout_end <= calibration_end THEN
    RAISE EXCEPTION 'holdout_end must be after calibration_end, not % <= %', holdout_end, calibration_end
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- the checks above stay here (the errors of 0.3.0, their CONTEXT included);
  -- the work is the model-generic overload's (sql/cartera_models.sql)
  RETURN QUERY
  SELECT * FROM cartera.calibration_holdout(purchases, customer_column, purchased_at_column,
                                            calibration_end, holdout_end, time_unit, 'bgnbd');
END
$fn$;
COMMENT ON FUNCTION cartera.calibration_holdout(regclass, name, name, date, date, text) IS
  'fit BG/NBD on purchases up to calibration_end and compare, per customer, predicted and actual repeat purchase days in the holdout up to holdout_end';

CREATE FUNCTION cartera.calibration_holdout_summary(purchases regclass, customer_column name,
                                                    purchased_at_column name,
                                                    calibration_end date, holdout_end date,
                                                    time_unit text DEFAULT 'weeks',
                                                    max_frequency integer DEFAULT 7)
  RETURNS TABLE (frequency integer, customers bigint, actual_mean double precision,
                 predicted_mean double precision)
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  RETURN QUERY
  SELECT * FROM cartera.calibration_holdout_summary(purchases, customer_column, purchased_at_column,
                                                    calibration_end, holdout_end, time_unit,
                                                    max_frequency, 'bgnbd');
END
$fn$;
COMMENT ON FUNCTION cartera.calibration_holdout_summary(regclass, name, name, date, date, text, integer) IS
  'mean actual vs predicted holdout purchases by calibration frequency (the last bucket is max_frequency or more)';

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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
  SSPACE = 288,
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
