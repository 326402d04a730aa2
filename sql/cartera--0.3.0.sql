-- cartera 0.3.0 as released (frozen: do not edit; changes go in sql/cartera.sql or
-- the portfolio scripts and in the hand-written upgrade sql/cartera--0.3.0--0.4.0.sql).
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
  time_unit      text
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

CREATE TYPE cartera.gamma_gamma_params AS (
  p              double precision,
  q              double precision,
  gamma          double precision,
  log_likelihood double precision,
  customers      bigint,
  iterations     integer,
  converged      boolean
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
  RETURN QUERY EXECUTE format($q$
    WITH calibration AS (
      SELECT %1$I::text AS customer, cartera.rfm(%2$I::date, 0::bigint, $1) AS s
        FROM %3$s WHERE %2$I::date <= $1 GROUP BY 1),
    model AS (SELECT cartera.bgnbd_fit(s, $3) AS m FROM calibration),
    holdout AS (
      SELECT %1$I::text AS customer, count(DISTINCT %2$I::date) AS n
        FROM %3$s WHERE %2$I::date > $1 AND %2$I::date <= $2 GROUP BY 1)
    SELECT c.customer, (c.s).frequency, (c.s).t_x_days / $4::float8, (c.s).age_days / $4::float8,
           cartera.expected_purchases(model.m, ($2 - $1) / $4::float8, c.s, $3),
           coalesce(h.n, 0)
      FROM calibration c CROSS JOIN model LEFT JOIN holdout h USING (customer)
     WHERE (c.s).purchases > 0
     ORDER BY c.customer$q$,
    customer_column, purchased_at_column, purchases)
  USING calibration_end, holdout_end, time_unit, unit_days;
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
  LANGUAGE sql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT least(c.frequency, max_frequency), count(*), avg(c.actual), avg(c.predicted)
    FROM cartera.calibration_holdout(purchases, customer_column, purchased_at_column,
                                     calibration_end, holdout_end, time_unit) c
   GROUP BY 1 ORDER BY 1
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

------------------------------------------------------------------------------
-- 0.2.0: the portfolio layer (tables, state kept by triggers) and the C
-- helpers it needs.  Appended to sql/cartera.sql for a fresh install; on its
-- own it is the upgrade from 0.1.0.
------------------------------------------------------------------------------

CREATE FUNCTION cartera.clv(summary cartera.rfm_summary, lifespan interval) RETURNS numeric
  AS 'MODULE_PATHNAME', 'cartera_clv_summary'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.clv(cartera.rfm_summary, interval) IS
  'the clv() formula on a stored rfm_summary: net total x lifespan / observed years (at least one)';

-- Agents own customers.  login is the database role the agent connects as
-- (row-level security matches it against current_user).
CREATE TABLE cartera.agent (
  agent_id    bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  name        text NOT NULL CONSTRAINT agent_name_not_blank CHECK (btrim(name) <> ''),
  login       name UNIQUE,
  email       text CONSTRAINT agent_email_shape CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$'),
  region      text,
  speciality  text,
  active      boolean NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE cartera.agent IS 'sales agents; each customer has an owner agent';
COMMENT ON COLUMN cartera.agent.login IS 'database role the agent logs in as; row-level security shows them their own portfolio';
COMMENT ON COLUMN cartera.agent.region IS 'region the agent covers (lead assignment prefers the same region)';
COMMENT ON COLUMN cartera.agent.speciality IS 'named segment the agent is best with (lead assignment prefers it)';

CREATE TABLE cartera.customer (
  customer_id        bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  full_name          text NOT NULL CONSTRAINT customer_name_not_blank CHECK (btrim(full_name) <> ''),
  company            text,
  billing_id         text,
  email              text CONSTRAINT customer_email_shape CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$'),
  phone              text CONSTRAINT customer_phone_shape CHECK (phone ~ '^\+?[0-9 ().-]{6,20}$'),
  mobile_phone       text CONSTRAINT customer_mobile_shape CHECK (mobile_phone ~ '^\+?[0-9 ().-]{6,20}$'),
  postal_address     text,
  work_address       text,
  country            text CONSTRAINT customer_country_iso CHECK (country ~ '^[A-Z]{2}$'),
  region             text,
  city               text,
  birthday           date CONSTRAINT customer_birthday_sane CHECK (birthday >= date '1900-01-01'),
  relationship       text NOT NULL DEFAULT 'customer'
                       CONSTRAINT customer_relationship_known
                       CHECK (relationship IN ('customer', 'business', 'distributor', 'partner')),
  referral_source    text,
  referred_by        bigint REFERENCES cartera.customer (customer_id) ON DELETE SET NULL,
  owner_agent_id     bigint REFERENCES cartera.agent (agent_id) ON DELETE SET NULL,
  marketing_consent  boolean NOT NULL DEFAULT false,
  lost_reason        text,
  life_events        jsonb NOT NULL DEFAULT '[]'
                       CONSTRAINT customer_life_events_array CHECK (jsonb_typeof(life_events) = 'array'),
  created_at         timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT customer_not_own_referrer CHECK (referred_by <> customer_id)
);
CREATE INDEX customer_owner_idx ON cartera.customer (owner_agent_id);
CREATE INDEX customer_email_idx ON cartera.customer (lower(email));
COMMENT ON TABLE cartera.customer IS 'the customer registry: current customers and leads (customers with no purchase yet)';
COMMENT ON COLUMN cartera.customer.billing_id IS 'tax / billing identifier (NIF, RFC, CUIT, VAT number...)';
COMMENT ON COLUMN cartera.customer.country IS 'ISO 3166-1 alpha-2 country code, upper case (ES, MX, US...)';
COMMENT ON COLUMN cartera.customer.relationship IS 'kind of relationship: customer, business, distributor, partner';
COMMENT ON COLUMN cartera.customer.referral_source IS 'how the customer came (campaign, web, fair, referral...)';
COMMENT ON COLUMN cartera.customer.referred_by IS 'the customer who referred this one';
COMMENT ON COLUMN cartera.customer.owner_agent_id IS 'the agent whose portfolio this customer is in';
COMMENT ON COLUMN cartera.customer.marketing_consent IS 'whether the customer accepted marketing contact (alerts of marketing kinds need it)';
COMMENT ON COLUMN cartera.customer.lost_reason IS 'why a lost customer left, as they told us';
COMMENT ON COLUMN cartera.customer.life_events IS 'life events as a JSON array of {"event": ..., "date": ...} (bought a car, moved, had a child...)';

CREATE TABLE cartera.purchase (
  purchase_id   bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  customer_id   bigint NOT NULL REFERENCES cartera.customer (customer_id),
  purchased_at  timestamptz NOT NULL,
  amount        numeric NOT NULL,
  kind          text NOT NULL DEFAULT 'sale' CONSTRAINT purchase_kind_known CHECK (kind IN ('sale', 'refund')),
  currency      text CONSTRAINT purchase_currency_iso CHECK (currency ~ '^[A-Z]{3}$'),
  product       text,
  category      text,
  quantity      numeric NOT NULL DEFAULT 1 CONSTRAINT purchase_quantity_positive CHECK (quantity > 0),
  external_id   text UNIQUE,
  CONSTRAINT purchase_amount_sign CHECK ((kind = 'sale' AND amount >= 0) OR (kind = 'refund' AND amount < 0)),
  CONSTRAINT purchase_amount_finite CHECK (amount NOT IN ('NaN', 'Infinity', '-Infinity')),
  CONSTRAINT purchase_date_finite CHECK (isfinite(purchased_at))
);
CREATE INDEX purchase_customer_idx ON cartera.purchase (customer_id, purchased_at);
COMMENT ON TABLE cartera.purchase IS 'purchases (sales, amount >= 0) and refunds (amount < 0); customer_state follows it';
COMMENT ON COLUMN cartera.purchase.kind IS 'sale (amount >= 0; 0 for free orders) or refund (amount < 0)';
COMMENT ON COLUMN cartera.purchase.external_id IS 'id in the source system: reload with INSERT ... ON CONFLICT (external_id) DO NOTHING';

-- Where purchases come from: cartera.purchase, and tables attached with
-- cartera.track_purchases().  The state of a customer sums all sources.
CREATE TABLE cartera.purchase_source (
  source           regclass PRIMARY KEY,
  customer_column  name NOT NULL,
  at_column        name NOT NULL,
  amount_column    name NOT NULL
);
COMMENT ON TABLE cartera.purchase_source IS 'tables whose rows are purchases kept in customer_state (cartera.purchase and tracked tables)';
INSERT INTO cartera.purchase_source VALUES ('cartera.purchase', 'customer_id', 'purchased_at', 'amount');

-- The portfolio-wide model behind segments and predictions, set by refresh().
CREATE TABLE cartera.portfolio_model (
  singleton        boolean PRIMARY KEY DEFAULT true CONSTRAINT portfolio_model_one_row CHECK (singleton),
  as_of            timestamptz NOT NULL,
  recency_breaks   double precision[],
  frequency_breaks double precision[],
  monetary_breaks  double precision[],
  bgnbd            cartera.bgnbd_params,
  gamma_gamma      cartera.gamma_gamma_params,
  refreshed_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE cartera.portfolio_model IS 'quintile breakpoints and BG/NBD / Gamma-Gamma fits of the whole portfolio, set by cartera.refresh()';

CREATE TABLE cartera.customer_state (
  customer_id        bigint PRIMARY KEY,
  summary            cartera.rfm_summary NOT NULL,
  status             cartera.lifecycle_status NOT NULL,
  segment            cartera.segment,
  clv                numeric,
  p_alive            double precision,
  expected_purchases_12m double precision,
  clv_predicted_12m  double precision,
  updated_at         timestamptz NOT NULL DEFAULT now(),
  last_alert_at      timestamptz,
  rfm_state          bytea
);
CREATE INDEX customer_state_status_idx ON cartera.customer_state (status);
COMMENT ON TABLE cartera.customer_state IS
  'one row per customer, kept by triggers on the purchase sources: always equal to cartera.rfm() over the customer''s rows at summary.as_of';
COMMENT ON COLUMN cartera.customer_state.summary IS 'rfm() of all the customer''s purchase rows at (summary).as_of';
COMMENT ON COLUMN cartera.customer_state.status IS 'life-cycle status at (summary).as_of';
COMMENT ON COLUMN cartera.customer_state.segment IS 'RFM cell from the portfolio breakpoints of the last refresh(); NULL for leads or before the first refresh()';
COMMENT ON COLUMN cartera.customer_state.clv IS 'seed formula CLV with lifespan cartera.clv_lifespan';
COMMENT ON COLUMN cartera.customer_state.p_alive IS 'purchase probability: BG/NBD P(alive) from the last refresh() model';
COMMENT ON COLUMN cartera.customer_state.expected_purchases_12m IS 'BG/NBD expected repeat purchases in the next 52 weeks';
COMMENT ON COLUMN cartera.customer_state.clv_predicted_12m IS 'BG/NBD + Gamma-Gamma CLV over the next 12 months, 1 % monthly discount';
COMMENT ON COLUMN cartera.customer_state.updated_at IS 'when the row was last recomputed';
COMMENT ON COLUMN cartera.customer_state.last_alert_at IS 'when the last contact alert was raised for the customer';
COMMENT ON COLUMN cartera.customer_state.rfm_state IS
  'the aggregate state behind summary (cartera.rfm_state()): a new purchase is merged into it instead of rereading the history; NULL = recompute from the purchases on the next change';

CREATE TABLE cartera.status_transition (
  transition_id  bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  customer_id    bigint NOT NULL,
  changed_at     timestamptz NOT NULL,
  from_status    cartera.lifecycle_status,
  to_status      cartera.lifecycle_status NOT NULL,
  from_segment   cartera.segment,
  to_segment     cartera.segment
);
CREATE INDEX status_transition_customer_idx ON cartera.status_transition (customer_id, changed_at);
CREATE INDEX status_transition_changed_idx ON cartera.status_transition (changed_at);
COMMENT ON TABLE cartera.status_transition IS 'history of life-cycle status and segment changes, written by the state maintenance';

-- One query over every purchase source: (customer_id, purchased_at, amount).
-- The SECURITY DEFINER maintenance runs this query, and casts the columns,
-- with the rights of the extension's owner.  The owner of a tracked table
-- could change a column to a type of their own whose cast to bigint,
-- timestamptz or numeric is a function of theirs, which would then run with
-- those rights; so every source is checked, each time, to still have
-- columns of the built-in types track_purchases() accepts (docs/security.md).
CREATE FUNCTION cartera.purchase_rows_sql() RETURNS text
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  sql text;
  bad text;
BEGIN
  SELECT string_agg(format('SELECT %I::bigint AS customer_id, %I::timestamptz AS purchased_at, %I::numeric AS amount FROM %s',
                           p.customer_column, p.at_column, p.amount_column, p.source), ' UNION ALL '
                    ORDER BY p.source::oid),
         min(c.bad)
    INTO sql, bad
    FROM cartera.purchase_source p
    CROSS JOIN LATERAL (
      SELECT min(format('%s column "%s" of %s', v.role, v.colname, p.source)) AS bad
        FROM (VALUES ('customer', p.customer_column, ARRAY['smallint', 'integer', 'bigint']::regtype[]),
                     ('purchase time', p.at_column, ARRAY['date', 'timestamp', 'timestamptz']::regtype[]),
                     ('amount', p.amount_column, ARRAY['numeric', 'smallint', 'integer', 'bigint', 'real', 'double precision']::regtype[]))
             v(role, colname, allowed)
        LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = p.source AND a.attname = v.colname AND a.attnum > 0 AND NOT a.attisdropped
       WHERE NOT coalesce(a.atttypid = ANY (v.allowed), false)
          OR NOT coalesce((SELECT r.relkind FROM pg_catalog.pg_class r WHERE r.oid = p.source) IN ('r', 'p'), false)) c;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'the % is no longer a table column of a type cartera reads', bad
      USING ERRCODE = 'datatype_mismatch',
            DETAIL = 'A tracked table must keep the columns given to cartera.track_purchases(), of a built-in integer, date/timestamp or numeric type.',
            HINT = 'Run cartera.untrack_purchases() on it, fix the table, then cartera.track_purchases() again.';
  END IF;
  RETURN coalesce(sql, 'SELECT NULL::bigint, NULL::timestamptz, NULL::numeric WHERE false');
END
$fn$;
COMMENT ON FUNCTION cartera.purchase_rows_sql() IS
  'the SQL text of one query returning (customer_id, purchased_at, amount) from every purchase source; refuses a source whose columns no longer have the built-in types track_purchases() accepts';

-- A logged change of status or segment, as passed between functions.
CREATE TYPE cartera.state_transition AS (
  customer_id  bigint,
  from_status  cartera.lifecycle_status,
  to_status    cartera.lifecycle_status,
  from_segment cartera.segment,
  to_segment   cartera.segment
);
COMMENT ON TYPE cartera.state_transition IS 'one change of life-cycle status or segment of a customer';

-- The aggregate state behind an rfm_summary, as bytea: customer_state keeps
-- it so that a new purchase is merged in without reading the history again.
CREATE FUNCTION cartera.rfm_state_finalfn(internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'cartera_rfm_serialfn' LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.rfm_state_finalfn(internal) IS 'final function of cartera.rfm_state(): the serialized state';
CREATE AGGREGATE cartera.rfm_state(purchased_at timestamptz, amount numeric, as_of timestamptz) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_state_finalfn,
  STYPE = internal,
  SSPACE = 288,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_state(timestamptz, numeric, timestamptz) IS
  'the state of cartera.rfm() over the same rows, serialized (what customer_state.rfm_state keeps)';
CREATE FUNCTION cartera.rfm_state_summary(state bytea) RETURNS cartera.rfm_summary
  AS 'MODULE_PATHNAME', 'cartera_rfm_state_summary' LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.rfm_state_summary(bytea) IS
  'the rfm_summary of a state made by cartera.rfm_state(): rfm_state_summary(rfm_state(...)) = rfm(...)';

-- The one statement that scores states and stores them in customer_state,
-- logging status/segment transitions.  fresh is a query returning
-- (customer_id bigint, state bytea, complete boolean): complete = false when
-- the state leaves rows out (after as_of), so it must not be kept for merging.
-- Parameters: $2 as_of, $3 the CLV lifespan; fresh may use $1 and $4.
-- Used by recompute_state() and by the C insert trigger (state_trigger.c).
CREATE FUNCTION cartera.state_update_sql(fresh text, result text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
  SELECT format($q$
    WITH fresh AS (%s),
    summarised AS (
      SELECT f.customer_id, cartera.rfm_state_summary(f.state) AS summary,
             CASE WHEN f.complete THEN f.state END AS state
        FROM fresh f),
    scored AS (
      SELECT f.customer_id, f.summary, f.state,
             cartera.lifecycle_status(f.summary, $2) AS status,
             CASE WHEN m.recency_breaks IS NOT NULL AND (f.summary).purchases > 0
                  THEN cartera.rfm_segment(f.summary, m.recency_breaks, m.frequency_breaks, m.monetary_breaks) END AS segment,
             cartera.clv(f.summary, $3) AS clv,
             CASE WHEN m.bgnbd IS NOT NULL AND (f.summary).purchases > 0
                  THEN cartera.p_alive(m.bgnbd, f.summary, (m.bgnbd).time_unit) END AS p_alive,
             CASE WHEN m.bgnbd IS NOT NULL AND (f.summary).purchases > 0
                  THEN cartera.expected_purchases(m.bgnbd, CASE (m.bgnbd).time_unit WHEN 'weeks' THEN 52 ELSE 364 END,
                                                  f.summary, (m.bgnbd).time_unit) END AS expected_12m,
             CASE WHEN m.bgnbd IS NOT NULL AND m.gamma_gamma IS NOT NULL AND (f.summary).purchases > 0
                  THEN cartera.clv_predicted(m.bgnbd, m.gamma_gamma, f.summary, (m.bgnbd).time_unit, 12, 0.01) END AS clv_12m
        FROM summarised f LEFT JOIN cartera.portfolio_model m ON true),
    old AS (
      SELECT s.customer_id, s.status AS old_status, s.segment AS old_segment
        FROM cartera.customer_state s JOIN fresh f USING (customer_id)),
    upserted AS (
      INSERT INTO cartera.customer_state AS s
             (customer_id, summary, status, segment, clv, p_alive, expected_purchases_12m, clv_predicted_12m,
              updated_at, rfm_state)
      SELECT customer_id, summary, status, segment, clv, p_alive, expected_12m, clv_12m, clock_timestamp(), state
        FROM scored
      ON CONFLICT (customer_id) DO UPDATE
         SET summary = excluded.summary, status = excluded.status, segment = excluded.segment,
             clv = excluded.clv, p_alive = excluded.p_alive,
             expected_purchases_12m = excluded.expected_purchases_12m,
             clv_predicted_12m = excluded.clv_predicted_12m, updated_at = excluded.updated_at,
             rfm_state = excluded.rfm_state
      RETURNING s.customer_id, s.status, s.segment),
    logged AS (
      INSERT INTO cartera.status_transition (customer_id, changed_at, from_status, to_status, from_segment, to_segment)
      SELECT u.customer_id, $2, o.old_status, u.status, o.old_segment, u.segment
        FROM upserted u LEFT JOIN old o USING (customer_id)
       WHERE o.customer_id IS NULL
          OR o.old_status IS DISTINCT FROM u.status
          OR o.old_segment IS DISTINCT FROM u.segment
      RETURNING customer_id, from_status, to_status, from_segment, to_segment)
    %s$q$, fresh, result)
$fn$;
COMMENT ON FUNCTION cartera.state_update_sql(text, text) IS
  'the SQL text that scores (status, segment, CLV, predictions) and stores customer states given by a query of (customer_id, state, complete), logging transitions';

-- Recompute customer_state for some customers (NULL = all) from every
-- purchase source, in one aggregate pass, and log the transitions.
-- Concurrency: the state rows are locked (in customer order, so two writers
-- never deadlock) before the purchases are read; under READ COMMITTED the
-- next statement then sees everything committed before the lock was granted,
-- so concurrent writers never leave a stale state.
CREATE FUNCTION cartera.recompute_state(customers bigint[], as_of timestamptz)
  RETURNS TABLE (customer_id bigint, from_status cartera.lifecycle_status, to_status cartera.lifecycle_status,
                 from_segment cartera.segment, to_segment cartera.segment)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  sources text := cartera.purchase_rows_sql();
  -- the library may not be loaded yet in this session: fall back to the default
  lifespan interval := coalesce(current_setting('cartera.clv_lifespan', true), '3 years')::interval;
BEGIN
  IF customers IS NOT NULL THEN
    INSERT INTO cartera.customer_state AS s (customer_id, summary, status)
      SELECT DISTINCT c, ROW(NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, as_of)::cartera.rfm_summary,
             'lead'::cartera.lifecycle_status
        FROM unnest(customers) c WHERE c IS NOT NULL
      ON CONFLICT (customer_id) DO NOTHING;
    PERFORM 1 FROM cartera.customer_state s
      WHERE s.customer_id = ANY (customers) ORDER BY s.customer_id FOR UPDATE OF s;
  ELSE
    LOCK TABLE cartera.customer_state IN SHARE ROW EXCLUSIVE MODE;
  END IF;

  RETURN QUERY EXECUTE cartera.state_update_sql(format($q$
      WITH aggregated AS (
        SELECT r.customer_id, cartera.rfm_state(r.purchased_at, r.amount, $2) AS state,
               coalesce(max(r.purchased_at) <= $2, true) AS complete
          FROM (%s) r
         WHERE ($1 IS NULL OR r.customer_id = ANY ($1))
         GROUP BY r.customer_id)
      SELECT a.customer_id, a.state, a.complete FROM aggregated a
      UNION ALL
      -- customers named but without any purchase row left: back to lead
      SELECT s.customer_id, (SELECT cartera.rfm_state(NULL::timestamptz, NULL::numeric, $2)), true
        FROM cartera.customer_state s
       WHERE ($1 IS NULL OR s.customer_id = ANY ($1))
         AND NOT EXISTS (SELECT 1 FROM aggregated a WHERE a.customer_id = s.customer_id)$q$, sources),
    'SELECT * FROM logged')
  USING customers, as_of, lifespan;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.recompute_state(bigint[], timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION cartera.recompute_state(bigint[], timestamptz) IS
  'recompute customer_state of the given customers (NULL: all) at as_of from every purchase source; returns the status/segment transitions it logged';

-- INSERT on a purchase source: merge the new rows into the stored states
-- (src/state_trigger.c).  Arguments: customer, time, amount columns and,
-- for cartera.purchase, the purchase id column (cross-sell rules).
CREATE FUNCTION cartera.purchase_rows_added() RETURNS trigger
  AS 'MODULE_PATHNAME', 'cartera_purchase_rows_added' LANGUAGE C SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp;
REVOKE EXECUTE ON FUNCTION cartera.purchase_rows_added() FROM PUBLIC;
COMMENT ON FUNCTION cartera.purchase_rows_added() IS
  'INSERT statement trigger of every purchase source: refuses future purchases, merges the new rows into each customer''s stored state and raises purchase alerts';

-- Statement-level maintenance: one pass per statement over the transition
-- tables, so a COPY of a million rows recomputes each customer once.
-- TG_ARGV: the customer column and the purchase-time column of the table.
CREATE FUNCTION cartera.purchase_rows_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  customer_column name := TG_ARGV[0];
  at_column name := TG_ARGV[1];
  customers bigint[];
  latest timestamptz;
  now_ts timestamptz := clock_timestamp();
BEGIN
  -- before any cast of a tracked table's columns below, which run with the
  -- owner's rights: the columns must still be of built-in types (the
  -- extension's own cartera.purchase is checked by recompute_state)
  IF TG_RELID <> 'cartera.purchase'::regclass THEN
    PERFORM cartera.purchase_rows_sql();
  END IF;
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM cartera.recompute_state(NULL, now_ts);
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    EXECUTE format('SELECT max(%I::timestamptz) FROM new_rows', at_column) INTO latest;
    IF latest > now_ts THEN
      RAISE EXCEPTION 'purchase date % is in the future', latest
        USING ERRCODE = 'check_violation',
              DETAIL = format('Table %s, column %I; the server time is %s.', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, at_column, now_ts),
              HINT = 'Record purchases when they happen; planned orders are not purchases yet.';
    END IF;
  END IF;
  EXECUTE CASE TG_OP
    WHEN 'DELETE' THEN format('SELECT array_agg(DISTINCT %I::bigint) FROM old_rows', customer_column)
    ELSE format('SELECT array_agg(DISTINCT c) FROM (SELECT %1$I::bigint FROM new_rows UNION ALL SELECT %1$I::bigint FROM old_rows) r(c)',
                customer_column) END
    INTO customers;
  IF customers IS NOT NULL THEN
    -- welcome, welcome back and transition alerts are raised now
    -- (cartera_alerts.sql); cross-sell rules look only at inserted purchases,
    -- which purchase_rows_added() handles (an UPDATE, e.g. a merge moving
    -- purchases, is not a new sale)
    PERFORM cartera.raise_purchase_alerts(
      ARRAY(SELECT ROW(t.*)::cartera.state_transition FROM cartera.recompute_state(customers, now_ts) t),
      NULL, now_ts);
  END IF;
  RETURN NULL;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.purchase_rows_changed() FROM PUBLIC;
COMMENT ON FUNCTION cartera.purchase_rows_changed() IS
  'UPDATE, DELETE and TRUNCATE statement trigger of every purchase source (INSERT: purchase_rows_added()): refuses future purchase dates and recomputes the state of the customers touched';

CREATE TRIGGER cartera_state_insert AFTER INSERT ON cartera.purchase
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cartera.purchase_rows_added('customer_id', 'purchased_at', 'amount', 'purchase_id');
CREATE TRIGGER cartera_state_update AFTER UPDATE ON cartera.purchase
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cartera.purchase_rows_changed('customer_id', 'purchased_at');
CREATE TRIGGER cartera_state_delete AFTER DELETE ON cartera.purchase
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cartera.purchase_rows_changed('customer_id', 'purchased_at');
CREATE TRIGGER cartera_state_truncate AFTER TRUNCATE ON cartera.purchase
  FOR EACH STATEMENT EXECUTE FUNCTION cartera.purchase_rows_changed('customer_id', 'purchased_at');

-- Every customer has a state row from the moment it exists (a lead).
CREATE FUNCTION cartera.customer_rows_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO cartera.customer_state (customer_id, summary, status, rfm_state)
      SELECT n.customer_id,
             ROW(NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, now())::cartera.rfm_summary,
             'lead', (SELECT cartera.rfm_state(NULL::timestamptz, NULL::numeric, now()))
        FROM new_rows n
      ON CONFLICT (customer_id) DO NOTHING;
  ELSE
    DELETE FROM cartera.customer_state s USING old_rows o WHERE s.customer_id = o.customer_id;
  END IF;
  RETURN NULL;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.customer_rows_changed() FROM PUBLIC;
COMMENT ON FUNCTION cartera.customer_rows_changed() IS
  'statement trigger of cartera.customer: a new customer starts as a lead in customer_state; a deleted one leaves it';
CREATE TRIGGER cartera_customer_insert AFTER INSERT ON cartera.customer
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cartera.customer_rows_changed();
CREATE TRIGGER cartera_customer_delete AFTER DELETE ON cartera.customer
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cartera.customer_rows_changed();

-- Attach a purchases table the DBA already has.
CREATE FUNCTION cartera.track_purchases(source regclass, customer_column name,
                                        at_column name, amount_column name)
  RETURNS bigint
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  col record;
BEGIN
  IF EXISTS (SELECT 1 FROM cartera.purchase_source p WHERE p.source = track_purchases.source) THEN
    RAISE EXCEPTION 'purchases of % are already tracked', source
      USING ERRCODE = 'duplicate_object', HINT = 'Use cartera.untrack_purchases() first to change the columns.';
  END IF;
  FOR col IN
    SELECT c.role, c.colname, a.atttypid, c.allowed
      FROM (VALUES ('customer', customer_column, ARRAY['smallint', 'integer', 'bigint']::regtype[]),
                   ('purchase time', at_column, ARRAY['date', 'timestamp', 'timestamptz']::regtype[]),
                   ('amount', amount_column, ARRAY['numeric', 'smallint', 'integer', 'bigint', 'real', 'double precision']::regtype[]))
           c(role, colname, allowed)
      LEFT JOIN pg_attribute a ON a.attrelid = source AND a.attname = c.colname AND a.attnum > 0 AND NOT a.attisdropped
  LOOP
    IF col.atttypid IS NULL THEN
      RAISE EXCEPTION 'column "%" does not exist in %', col.colname, source USING ERRCODE = 'undefined_column';
    END IF;
    IF NOT col.atttypid = ANY (col.allowed) THEN
      RAISE EXCEPTION '% column "%" of % has type %, not one of %', col.role, col.colname, source,
                      col.atttypid::regtype, col.allowed
        USING ERRCODE = 'datatype_mismatch';
    END IF;
  END LOOP;
  IF NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                  WHERE i.indrelid = source AND a.attname = customer_column) THEN
    RAISE NOTICE 'no index on %.%: every purchase statement will scan the table', source, customer_column
      USING HINT = format('CREATE INDEX ON %s (%I);', source, customer_column);
  END IF;

  INSERT INTO cartera.purchase_source VALUES (source, customer_column, at_column, amount_column);
  EXECUTE format('CREATE TRIGGER cartera_state_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows '
                 'FOR EACH STATEMENT EXECUTE FUNCTION cartera.purchase_rows_added(%L, %L, %L)',
                 source, customer_column, at_column, amount_column);
  EXECUTE format('CREATE TRIGGER cartera_state_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '
                 'FOR EACH STATEMENT EXECUTE FUNCTION cartera.purchase_rows_changed(%L, %L)', source, customer_column, at_column);
  EXECUTE format('CREATE TRIGGER cartera_state_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows '
                 'FOR EACH STATEMENT EXECUTE FUNCTION cartera.purchase_rows_changed(%L, %L)', source, customer_column, at_column);
  EXECUTE format('CREATE TRIGGER cartera_state_truncate AFTER TRUNCATE ON %s '
                 'FOR EACH STATEMENT EXECUTE FUNCTION cartera.purchase_rows_changed(%L, %L)', source, customer_column, at_column);
  RETURN (SELECT count(*) FROM cartera.recompute_state(NULL, clock_timestamp()));
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.track_purchases(regclass, name, name, name) FROM PUBLIC;
COMMENT ON FUNCTION cartera.track_purchases(regclass, name, name, name) IS
  'keep customer_state up to date from an existing purchases table (customer id, purchase time, amount columns); returns the transitions logged by the initial recompute';

CREATE FUNCTION cartera.untrack_purchases(source regclass) RETURNS bigint
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  IF source = 'cartera.purchase'::regclass THEN
    RAISE EXCEPTION 'cartera.purchase is always tracked' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  DELETE FROM cartera.purchase_source p WHERE p.source = untrack_purchases.source;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'purchases of % are not tracked', source USING ERRCODE = 'undefined_object';
  END IF;
  EXECUTE format('DROP TRIGGER cartera_state_insert ON %s', source);
  EXECUTE format('DROP TRIGGER cartera_state_update ON %s', source);
  EXECUTE format('DROP TRIGGER cartera_state_delete ON %s', source);
  EXECUTE format('DROP TRIGGER cartera_state_truncate ON %s', source);
  RETURN (SELECT count(*) FROM cartera.recompute_state(NULL, clock_timestamp()));
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.untrack_purchases(regclass) FROM PUBLIC;
COMMENT ON FUNCTION cartera.untrack_purchases(regclass) IS
  'stop following a purchases table attached with track_purchases() and recompute the portfolio without it';

-- Whole-portfolio refresh: quintile breakpoints, BG/NBD and Gamma-Gamma fits,
-- then every customer's state (status, segment, predictions) at as_of.
CREATE FUNCTION cartera.refresh(as_of timestamptz DEFAULT now(), time_unit text DEFAULT 'weeks')
  RETURNS TABLE (customers bigint, transitions bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  changes cartera.state_transition[];
BEGIN
  IF lower(time_unit) NOT IN ('days', 'weeks') THEN
    RAISE EXCEPTION 'time unit must be "days" or "weeks", not "%"', time_unit
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  LOCK TABLE cartera.customer_state IN SHARE ROW EXCLUSIVE MODE;
  EXECUTE format($q$
    INSERT INTO cartera.portfolio_model AS m
           (as_of, recency_breaks, frequency_breaks, monetary_breaks, bgnbd, gamma_gamma, refreshed_at)
    -- a fit that found no interior maximum (WARNING already given) is not
    -- used for predictions: its parameters sit at the edge of the space
    SELECT $1, rb, fb, mb, CASE WHEN (b).converged THEN b END, CASE WHEN (g).converged THEN g END,
           clock_timestamp()
      FROM (SELECT cartera.breakpoints((s).recency_days, 5) AS rb, cartera.breakpoints((s).frequency, 5) AS fb,
                   cartera.breakpoints((s).monetary_total::float8, 5) AS mb,
                   cartera.bgnbd_fit(s, $2) AS b, cartera.gamma_gamma_fit(s) AS g
              FROM (SELECT cartera.rfm(r.purchased_at, r.amount, $1) AS s FROM (%s) r GROUP BY r.customer_id) q
             WHERE (s).purchases > 0) fits
    ON CONFLICT (singleton) DO UPDATE
       SET as_of = excluded.as_of, recency_breaks = excluded.recency_breaks,
           frequency_breaks = excluded.frequency_breaks, monetary_breaks = excluded.monetary_breaks,
           bgnbd = excluded.bgnbd, gamma_gamma = excluded.gamma_gamma, refreshed_at = excluded.refreshed_at$q$,
    cartera.purchase_rows_sql())
  USING as_of, lower(time_unit);
  changes := ARRAY(SELECT ROW(t.*)::cartera.state_transition FROM cartera.recompute_state(NULL, as_of) t);
  transitions := coalesce(array_length(changes, 1), 0);
  -- segment changes (a Champion falling to At Risk) raise their alerts here too
  PERFORM cartera.raise_transition_alerts(changes, as_of);
  customers := (SELECT count(*) FROM cartera.customer_state);
  RETURN NEXT;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.refresh(timestamptz, text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.refresh(timestamptz, text) IS
  'recompute breakpoints, BG/NBD and Gamma-Gamma fits and every customer''s state at as_of; returns customers and transitions logged';

-- user data survives pg_dump (the extension's own objects are recreated by CREATE EXTENSION)
SELECT pg_catalog.pg_extension_config_dump('cartera.agent', '');
SELECT pg_catalog.pg_extension_config_dump('cartera.customer', '');
SELECT pg_catalog.pg_extension_config_dump('cartera.purchase', '');
SELECT pg_catalog.pg_extension_config_dump('cartera.purchase_source', 'WHERE source <> ''cartera.purchase''::regclass');
SELECT pg_catalog.pg_extension_config_dump('cartera.portfolio_model', '');
SELECT pg_catalog.pg_extension_config_dump('cartera.customer_state', '');
SELECT pg_catalog.pg_extension_config_dump('cartera.status_transition', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('cartera.agent', 'agent_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('cartera.customer', 'customer_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('cartera.purchase', 'purchase_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('cartera.status_transition', 'transition_id'), '');
COMMENT ON SEQUENCE cartera.agent_agent_id_seq IS 'identity of cartera.agent';
COMMENT ON SEQUENCE cartera.customer_customer_id_seq IS 'identity of cartera.customer';
COMMENT ON SEQUENCE cartera.purchase_purchase_id_seq IS 'identity of cartera.purchase';
COMMENT ON SEQUENCE cartera.status_transition_transition_id_seq IS 'identity of cartera.status_transition';

-- 0.1.0 called alpha and gamma scales; in the papers' parameterisation they are rates
COMMENT ON COLUMN cartera.bgnbd_params.alpha IS 'rate parameter of the Gamma distribution of purchase rates (its inverse scale), in time_unit';
COMMENT ON COLUMN cartera.gamma_gamma_params.gamma IS 'rate parameter of the Gamma distribution of nu across customers (currency)';

------------------------------------------------------------------------------
-- 0.2.0: segments as data, interactions, alerts and the daily follow-up job.
------------------------------------------------------------------------------

-- The named-segment map: rectangles of the R x F grid (scores 1..5).  Empty
-- means the built-in grid of cartera.segment_name(); call
-- cartera.segment_map_customize() to copy that grid here and edit it.  (An
-- empty start keeps pg_dump simple: every row in the table is user data.)
CREATE TABLE cartera.segment_map (
  name_en      text PRIMARY KEY,
  name_es      text NOT NULL UNIQUE,
  r_min        integer NOT NULL, r_max integer NOT NULL,
  f_min        integer NOT NULL, f_max integer NOT NULL,
  CONSTRAINT segment_map_ranges CHECK (1 <= r_min AND r_min <= r_max AND r_max <= 5
                                       AND 1 <= f_min AND f_min <= f_max AND f_max <= 5)
);
COMMENT ON TABLE cartera.segment_map IS
  'named segments as rectangles of the recency x frequency grid (scores 1..5); empty = the built-in grid; when filled, every cell must have exactly one name';

-- the built-in grid of SPEC.md as rectangles (the same names segment_name() gives)
-- (no SET search_path: it names no object, and without it the planner
-- inlines the VALUES list instead of planning a function call each time)
CREATE FUNCTION cartera.segment_map_defaults()
  RETURNS TABLE (name_en text, name_es text, r_min integer, r_max integer, f_min integer, f_max integer)
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
  VALUES ('Champions',          'Campeones',           5, 5, 4, 5),
         ('Loyal',              'Leales',              3, 4, 4, 5),
         ('Potential Loyalist', 'Leales potenciales',  4, 5, 2, 3),
         ('New',                'Nuevos',              5, 5, 1, 1),
         ('Promising',          'Prometedores',        4, 4, 1, 1),
         ('Need Attention',     'Requieren atención',  3, 3, 3, 3),
         ('About to Sleep',     'A punto de dormir',   3, 3, 1, 2),
         ('At Risk',            'En riesgo',           1, 2, 3, 4),
         ('Can''t Lose Them',   'No se pueden perder', 1, 2, 5, 5),
         ('Hibernating',        'Hibernando',          1, 2, 1, 2)
$fn$;
COMMENT ON FUNCTION cartera.segment_map_defaults() IS 'the built-in named-segment grid as rectangles';

CREATE FUNCTION cartera.segment_map_customize() RETURNS bigint
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  IF EXISTS (SELECT 1 FROM cartera.segment_map) THEN
    RAISE EXCEPTION 'the segment map is already customized' USING ERRCODE = 'duplicate_object',
      HINT = 'Edit cartera.segment_map directly, or empty it to go back to the built-in grid.';
  END IF;
  INSERT INTO cartera.segment_map SELECT * FROM cartera.segment_map_defaults();
  RETURN (SELECT count(*) FROM cartera.segment_map);
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.segment_map_customize() FROM PUBLIC;
COMMENT ON FUNCTION cartera.segment_map_customize() IS 'copy the built-in grid into cartera.segment_map so it can be edited';

-- Every cell of the 5 x 5 grid covered exactly once, checked after each statement.
CREATE FUNCTION cartera.segment_map_check() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  gaps text;
  doubles text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM cartera.segment_map) THEN
    RETURN NULL;                -- empty: the built-in grid applies
  END IF;
  SELECT string_agg(format('R%sF%s', r, f), ', ' ORDER BY r, f) FILTER (WHERE n = 0),
         string_agg(format('R%sF%s (%s)', r, f, names), ', ' ORDER BY r, f) FILTER (WHERE n > 1)
    INTO gaps, doubles
    FROM (SELECT r, f, count(m.name_en) AS n, string_agg(m.name_en, ' / ' ORDER BY m.name_en) AS names
            FROM generate_series(1, 5) r CROSS JOIN generate_series(1, 5) f
            LEFT JOIN cartera.segment_map m ON r BETWEEN m.r_min AND m.r_max AND f BETWEEN m.f_min AND m.f_max
           GROUP BY r, f) cells;
  IF gaps IS NOT NULL OR doubles IS NOT NULL THEN
    RAISE EXCEPTION 'the segment map must name every recency x frequency cell exactly once'
      USING ERRCODE = 'check_violation',
            DETAIL = concat_ws(' ', 'Cells without a name: ' || gaps || '.', 'Cells with several names: ' || doubles || '.'),
            HINT = 'The check runs after each statement: change several rectangles in one statement, e.g. UPDATE ... FROM (VALUES ...).';
  END IF;
  RETURN NULL;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.segment_map_check() FROM PUBLIC;
COMMENT ON FUNCTION cartera.segment_map_check() IS 'statement trigger: a filled segment map covers the 5 x 5 grid with no gaps and no overlaps';
CREATE TRIGGER segment_map_changed AFTER INSERT OR UPDATE OR DELETE ON cartera.segment_map
  FOR EACH STATEMENT EXECUTE FUNCTION cartera.segment_map_check();

-- name of a segment from the map (or the built-in grid), in cartera.language
-- unless a language is given.  PL/pgSQL, not SQL: it runs once per alert
-- candidate and per BI row, and PL/pgSQL keeps its plan for the session.
CREATE FUNCTION cartera.segment_label(s cartera.segment, language text DEFAULT NULL) RETURNS text
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  r integer := cartera.recency_score(s);
  f integer := cartera.frequency_score(s);
  name_en text;
  name_es text;
BEGIN
  IF s IS NULL THEN
    RETURN NULL;
  END IF;
  IF r > 5 OR f > 5 THEN
    -- a finer grid (up to 9 scores) maps onto the 5 x 5 one
    r := (r - 1) * 5 / 9 + 1;
    f := (f - 1) * 5 / 9 + 1;
  END IF;
  SELECT m.name_en, m.name_es INTO name_en, name_es
    FROM (SELECT m.name_en, m.name_es, m.r_min, m.r_max, m.f_min, m.f_max FROM cartera.segment_map m
          UNION ALL
          SELECT d.* FROM cartera.segment_map_defaults() d WHERE NOT EXISTS (SELECT 1 FROM cartera.segment_map)) m
   WHERE r BETWEEN m.r_min AND m.r_max AND f BETWEEN m.f_min AND m.f_max;
  RETURN CASE coalesce(language, current_setting('cartera.language', true), 'es') WHEN 'en' THEN name_en ELSE name_es END;
END
$fn$;
COMMENT ON FUNCTION cartera.segment_label(cartera.segment, text) IS
  'named segment of a cell from cartera.segment_map (or the built-in grid), in cartera.language (es, en) unless a language is given';

-- Qualitative information: calls, visits, complaints, opinions, needs.
CREATE TABLE cartera.interaction (
  interaction_id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  customer_id    bigint NOT NULL REFERENCES cartera.customer (customer_id) ON DELETE CASCADE,
  agent_id       bigint REFERENCES cartera.agent (agent_id) ON DELETE SET NULL,
  happened_at    timestamptz NOT NULL DEFAULT now(),
  channel        text NOT NULL CONSTRAINT interaction_channel_known
                   CHECK (channel IN ('phone', 'email', 'visit', 'chat', 'whatsapp', 'social', 'web', 'survey', 'other')),
  sentiment      smallint CONSTRAINT interaction_sentiment_range CHECK (sentiment BETWEEN -2 AND 2),
  is_complaint   boolean NOT NULL DEFAULT false,
  need           text,
  note           text
);
CREATE INDEX interaction_customer_idx ON cartera.interaction (customer_id, happened_at);
COMMENT ON TABLE cartera.interaction IS 'contacts with a customer and what they said: complaints, opinions, needs (a complaint raises a red alert)';
COMMENT ON COLUMN cartera.interaction.sentiment IS 'from -2 (very negative) to 2 (very positive)';
COMMENT ON COLUMN cartera.interaction.need IS 'a need or interest the customer expressed';

-- Special dates.  A fixed day (month, day) or the nth weekday of a month
-- (month, weekday 0 = Sunday, nth; nth = -1 for the last one), per country
-- (NULL = every country).  Empty means the built-in calendar of
-- cartera.occasion_defaults(); cartera.occasion_customize() copies it here to
-- edit (every row in the table is user data, so pg_dump keeps it as is).
CREATE TABLE cartera.occasion (
  occasion_id  bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  name_es      text NOT NULL,
  name_en      text NOT NULL,
  country      text CONSTRAINT occasion_country_iso CHECK (country ~ '^[A-Z]{2}$'),
  month        integer NOT NULL CONSTRAINT occasion_month CHECK (month BETWEEN 1 AND 12),
  day          integer CONSTRAINT occasion_day CHECK (day BETWEEN 1 AND 31),
  weekday      integer CONSTRAINT occasion_weekday CHECK (weekday BETWEEN 0 AND 6),
  nth          integer CONSTRAINT occasion_nth CHECK (nth IN (-1, 1, 2, 3, 4, 5)),
  offset_days  integer NOT NULL DEFAULT 0,
  CONSTRAINT occasion_fixed_or_weekday CHECK ((day IS NOT NULL AND weekday IS NULL AND nth IS NULL)
                                            OR (day IS NULL AND weekday IS NOT NULL AND nth IS NOT NULL))
);
COMMENT ON TABLE cartera.occasion IS
  'special dates that raise green alerts for customers of that country: a fixed day, or the nth weekday of a month; empty = the built-in calendar';
COMMENT ON COLUMN cartera.occasion.weekday IS '0 = Sunday ... 6 = Saturday, with nth';
COMMENT ON COLUMN cartera.occasion.nth IS '1..5: the nth such weekday of the month; -1: the last one';
COMMENT ON COLUMN cartera.occasion.offset_days IS 'days added to the computed date (Black Friday = the day after the 4th Thursday of November)';

-- the built-in calendar for Spanish- and English-speaking markets
CREATE FUNCTION cartera.occasion_defaults() RETURNS SETOF cartera.occasion
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
  SELECT (-row_number() OVER ())::bigint, o.*
    FROM (VALUES
      ('Navidad', 'Christmas', NULL::text, 12, 25, NULL::int, NULL::int, 0),
      ('San Valentín', 'Valentine''s Day', NULL, 2, 14, NULL, NULL, 0),
      ('Día Internacional de la Amistad', 'International Friendship Day', NULL, 7, 30, NULL, NULL, 0),
      ('Reyes Magos', 'Epiphany', 'ES', 1, 6, NULL, NULL, 0),
      ('Reyes Magos', 'Epiphany', 'MX', 1, 6, NULL, NULL, 0),
      ('Día de la Madre', 'Mother''s Day', 'ES', 5, NULL, 0, 1, 0),
      ('Día de la Madre', 'Mother''s Day', 'MX', 5, 10, NULL, NULL, 0),
      ('Día de la Madre', 'Mother''s Day', 'US', 5, NULL, 0, 2, 0),
      ('Día de la Madre', 'Mother''s Day', 'AR', 10, NULL, 0, 3, 0),
      ('Día del Padre', 'Father''s Day', 'ES', 3, 19, NULL, NULL, 0),
      ('Día del Padre', 'Father''s Day', 'MX', 6, NULL, 0, 3, 0),
      ('Día del Padre', 'Father''s Day', 'US', 6, NULL, 0, 3, 0),
      ('Día del Amigo', 'Friend''s Day', 'AR', 7, 20, NULL, NULL, 0),
      ('Black Friday', 'Black Friday', NULL, 11, NULL, 4, 4, 1)) o
$fn$;
COMMENT ON FUNCTION cartera.occasion_defaults() IS 'the built-in calendar of special dates (ids are negative: not stored)';

-- the occasions in force: the table, or the built-in calendar while it is empty
CREATE FUNCTION cartera.occasions() RETURNS SETOF cartera.occasion
  LANGUAGE sql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
  SELECT * FROM cartera.occasion
  UNION ALL
  SELECT * FROM cartera.occasion_defaults() WHERE NOT EXISTS (SELECT 1 FROM cartera.occasion)
$fn$;
COMMENT ON FUNCTION cartera.occasions() IS 'the occasions in force: cartera.occasion, or the built-in calendar while that table is empty';

CREATE FUNCTION cartera.occasion_customize() RETURNS bigint
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  IF EXISTS (SELECT 1 FROM cartera.occasion) THEN
    RAISE EXCEPTION 'the occasion calendar is already customized' USING ERRCODE = 'duplicate_object',
      HINT = 'Edit cartera.occasion directly, or empty it to go back to the built-in calendar.';
  END IF;
  INSERT INTO cartera.occasion (name_es, name_en, country, month, day, weekday, nth, offset_days)
    SELECT name_es, name_en, country, month, day, weekday, nth, offset_days FROM cartera.occasion_defaults()
     ORDER BY occasion_id DESC;
  RETURN (SELECT count(*) FROM cartera.occasion);
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.occasion_customize() FROM PUBLIC;
COMMENT ON FUNCTION cartera.occasion_customize() IS 'copy the built-in calendar into cartera.occasion so it can be edited';

-- the date of an occasion in a year
CREATE FUNCTION cartera.occasion_date(o cartera.occasion, year integer) RETURNS date
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
  SELECT CASE
    WHEN o.day IS NOT NULL THEN
      -- 29 February in a common year falls on 1 March
      make_date(year, o.month, 1) + (o.day - 1) + o.offset_days
    WHEN o.nth > 0 THEN
      make_date(year, o.month, 1)
        + ((o.weekday - extract(dow FROM make_date(year, o.month, 1))::int + 7) % 7)
        + 7 * (o.nth - 1) + o.offset_days
    ELSE
      (make_date(year, o.month, 1) + interval '1 month')::date - 1
        - ((extract(dow FROM (make_date(year, o.month, 1) + interval '1 month')::date - 1)::int - o.weekday + 7) % 7)
        + o.offset_days
  END
$fn$;
COMMENT ON FUNCTION cartera.occasion_date(cartera.occasion, integer) IS 'the date an occasion falls on in a given year';

-- Cross-sell: a purchase of X suggests offering Y, N days later.
CREATE TABLE cartera.cross_sell_rule (
  rule_id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  bought_category  text,
  bought_product   text,
  offer            text NOT NULL,
  after_days       integer NOT NULL DEFAULT 0 CONSTRAINT cross_sell_after_days CHECK (after_days >= 0),
  active           boolean NOT NULL DEFAULT true,
  CONSTRAINT cross_sell_rule_trigger CHECK (bought_category IS NOT NULL OR bought_product IS NOT NULL)
);
COMMENT ON TABLE cartera.cross_sell_rule IS 'bought a product or category -> offer something else after some days (bought a car -> offer insurance)';

-- Monthly goals per agent.
CREATE TABLE cartera.agent_target (
  agent_id        bigint NOT NULL REFERENCES cartera.agent (agent_id) ON DELETE CASCADE,
  month           date NOT NULL CONSTRAINT agent_target_first_of_month CHECK (month = date_trunc('month', month)::date),
  revenue_target  numeric CONSTRAINT agent_target_revenue CHECK (revenue_target >= 0),
  retention_target numeric CONSTRAINT agent_target_retention CHECK (retention_target BETWEEN 0 AND 1),
  PRIMARY KEY (agent_id, month)
);
COMMENT ON TABLE cartera.agent_target IS 'monthly goals of each agent: revenue and retention rate (0..1)';
COMMENT ON COLUMN cartera.agent_target.month IS 'first day of the month';

-- What each kind of alert is.  Categories: service (never suppressed),
-- relationship (an agent contacts the customer: counts toward the cap),
-- marketing (needs consent, counts toward the cap), internal (agent tasks).
CREATE TABLE cartera.alert_kind (
  kind        text PRIMARY KEY,
  colour      text NOT NULL CONSTRAINT alert_kind_colour CHECK (colour IN ('red', 'amber', 'green', 'blue')),
  category    text NOT NULL CONSTRAINT alert_kind_category CHECK (category IN ('service', 'relationship', 'marketing', 'internal')),
  due_days    integer NOT NULL DEFAULT 1 CONSTRAINT alert_kind_due CHECK (due_days >= 0),
  cooldown    interval NOT NULL DEFAULT '1 day',
  message_es  text NOT NULL,
  message_en  text NOT NULL,
  enabled     boolean NOT NULL DEFAULT true
);
COMMENT ON TABLE cartera.alert_kind IS
  'alert kinds: colour (red = act now, amber = follow up soon, green = opportunity, blue = for the agent), contact category, due days, cool-down, messages (%s = customer name, detail)';
COMMENT ON COLUMN cartera.alert_kind.cooldown IS 'no new alert of this kind for the same customer (or agent) within this interval of the last one, closed or not';
INSERT INTO cartera.alert_kind (kind, colour, category, due_days, cooldown, message_es, message_en) VALUES
  ('complaint',        'red',   'service',      0, '0 days',   'Queja de %s: atender hoy. %s', 'Complaint from %s: handle today. %s'),
  ('cant_lose',        'red',   'relationship', 1, '30 days',  '%s es de alto valor y está en riesgo: llamar. %s', '%s is high-value and at risk: call them. %s'),
  ('champion_at_risk', 'red',   'relationship', 1, '30 days',  '%s era Campeón y ha caído: contactar ya. %s', '%s was a Champion and has dropped: contact them now. %s'),
  ('reactivation',     'amber', 'marketing',    7, '30 days',  '%s está dormido: ofrecer reactivación. %s', '%s is dormant: offer a reactivation deal. %s'),
  ('exit_survey',      'amber', 'relationship', 7, '365 days', '%s se ha perdido: preguntar por qué se fue. %s', '%s is lost: ask why they left. %s'),
  ('idle_lead',        'amber', 'internal',     3, '14 days',  'Lead %s sin actividad: convertir o reasignar. %s', 'Lead %s is idle: convert or reassign. %s'),
  ('welcome',          'green', 'relationship', 2, '100 years','Primera compra de %s: dar la bienvenida. %s', 'First purchase by %s: welcome them. %s'),
  ('welcome_back',     'green', 'relationship', 2, '30 days',  '%s ha vuelto a comprar: dar la bienvenida de nuevo. %s', '%s is buying again: welcome them back. %s'),
  ('cross_sell',       'green', 'marketing',    0, '7 days',   'Ofrecer a %s: %s', 'Offer %s: %s'),
  ('birthday',         'green', 'marketing',    0, '300 days', 'Cumpleaños de %s: felicitar. %s', 'Birthday of %s: congratulate them. %s'),
  ('occasion',         'green', 'marketing',    0, '7 days',   'Ocasión especial para %s: %s', 'Special occasion for %s: %s'),
  ('below_target',     'blue',  'internal',     1, '25 days',  'Objetivo mensual de %s por debajo del ritmo. %s', 'Monthly goal of %s behind pace. %s');

CREATE TABLE cartera.alert (
  alert_id      bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  customer_id   bigint REFERENCES cartera.customer (customer_id) ON DELETE CASCADE,
  agent_id      bigint REFERENCES cartera.agent (agent_id) ON DELETE SET NULL,
  kind          text NOT NULL REFERENCES cartera.alert_kind (kind),
  colour        text NOT NULL CONSTRAINT alert_colour CHECK (colour IN ('red', 'amber', 'green', 'blue')),
  raised_at     timestamptz NOT NULL,
  due_on        date NOT NULL,
  message       text NOT NULL,
  detail        text,
  status        text NOT NULL DEFAULT 'open'
                  CONSTRAINT alert_status CHECK (status IN ('open', 'acknowledged', 'snoozed', 'done', 'dismissed')),
  snoozed_until date,
  closed_at     timestamptz,
  resolution    text,
  CONSTRAINT alert_has_subject CHECK (customer_id IS NOT NULL OR agent_id IS NOT NULL),
  CONSTRAINT alert_snooze_date CHECK ((status = 'snoozed') = (snoozed_until IS NOT NULL))
);
-- at most one open alert per (customer, kind), and per (agent, kind) for agent alerts
CREATE UNIQUE INDEX alert_one_open_per_customer ON cartera.alert (customer_id, kind)
  WHERE status IN ('open', 'acknowledged', 'snoozed') AND customer_id IS NOT NULL;
CREATE UNIQUE INDEX alert_one_open_per_agent ON cartera.alert (agent_id, kind)
  WHERE status IN ('open', 'acknowledged', 'snoozed') AND customer_id IS NULL;
CREATE INDEX alert_customer_kind_raised_idx ON cartera.alert (customer_id, kind, raised_at);
CREATE INDEX alert_agent_open_idx ON cartera.alert (agent_id) WHERE status IN ('open', 'acknowledged', 'snoozed');
COMMENT ON TABLE cartera.alert IS 'follow-up alerts for agents: colour, due date, message; open -> acknowledged -> done, or snoozed / dismissed';
COMMENT ON COLUMN cartera.alert.customer_id IS 'the customer concerned; NULL for alerts about the agent (below_target)';
COMMENT ON COLUMN cartera.alert.agent_id IS 'the agent who must act: the customer''s owner when raised';
COMMENT ON COLUMN cartera.alert.status IS 'open, acknowledged, snoozed (until snoozed_until), done, dismissed';
COMMENT ON COLUMN cartera.alert.resolution IS 'what was done, or why the alert was dismissed';

-- The one place where the contact policy is applied: consent for marketing,
-- at most cartera.max_contacts relationship/marketing alerts per customer per
-- cartera.contact_window, each kind's cool-down, one open alert per (customer,
-- kind); service alerts (complaints) only skip when one is already open.
-- Candidates come as parallel arrays, so callers stay set-based.  Every new
-- alert is announced with NOTIFY cartera_alert (JSON: id, kind, colour,
-- customer, agent).  Returns how many alerts of each kind were raised.
CREATE FUNCTION cartera.raise_alerts(customer_ids bigint[], kinds text[], due_dates date[],
                                     details text[], agent_ids bigint[], as_of timestamptz)
  RETURNS TABLE (kind text, raised bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  -- same defaults as the cartera.* settings in guc.c (the library may not be loaded yet)
  max_contacts integer := coalesce(current_setting('cartera.max_contacts', true), '3')::integer;
  contact_window interval := coalesce(current_setting('cartera.contact_window', true), '30 days')::interval;
  lang text := coalesce(current_setting('cartera.language', true), 'es');
BEGIN
  IF coalesce(array_length(kinds, 1), 0) = 0 THEN
    RETURN;                     -- nothing proposed: skip the policy queries
  END IF;
  RETURN QUERY
  WITH candidate AS (
    SELECT c.customer_id, c.kind, c.due_on, c.detail, c.agent_id
      FROM unnest(customer_ids, kinds, due_dates, details, agent_ids) AS c(customer_id, kind, due_on, detail, agent_id)),
  allowed AS (
    SELECT c.*, k.colour, k.category, k.due_days,
           coalesce(c.agent_id, cu.owner_agent_id) AS owner,
           rtrim(format(CASE WHEN lang = 'en' THEN k.message_en ELSE k.message_es END,
                        coalesce(cu.full_name, ag.name), coalesce(c.detail, ''))) AS message
      FROM candidate c
      JOIN cartera.alert_kind k ON k.kind = c.kind AND k.enabled
      LEFT JOIN cartera.customer cu ON cu.customer_id = c.customer_id
      LEFT JOIN cartera.agent ag ON ag.agent_id = c.agent_id
     WHERE (c.customer_id IS NULL OR cu.customer_id IS NOT NULL)
       AND (k.category <> 'marketing' OR cu.marketing_consent)
       -- (two tests, not one with OR: each can use its index)
       AND NOT EXISTS (SELECT 1 FROM cartera.alert a
                        WHERE c.customer_id IS NOT NULL AND a.customer_id = c.customer_id AND a.kind = c.kind
                          AND a.raised_at > as_of - k.cooldown AND a.raised_at <= as_of)
       AND NOT EXISTS (SELECT 1 FROM cartera.alert a
                        WHERE c.customer_id IS NULL AND a.customer_id IS NULL AND a.agent_id = c.agent_id
                          AND a.kind = c.kind AND a.raised_at > as_of - k.cooldown AND a.raised_at <= as_of)),
  recent AS (
    SELECT a.customer_id, count(*) AS contacts
      FROM cartera.alert a JOIN cartera.alert_kind k ON k.kind = a.kind
     WHERE k.category IN ('relationship', 'marketing')
       AND a.raised_at > as_of - contact_window AND a.raised_at <= as_of
       AND a.customer_id IN (SELECT customer_id FROM allowed)
     GROUP BY a.customer_id),
  ranked AS (
    SELECT al.*, coalesce(r.contacts, 0) AS contacts,
           row_number() OVER (PARTITION BY al.customer_id, al.category IN ('relationship', 'marketing')
                              ORDER BY array_position(ARRAY['red', 'amber', 'green', 'blue'], al.colour), al.kind) AS nth
      FROM allowed al LEFT JOIN recent r ON r.customer_id = al.customer_id),
  inserted AS (
    INSERT INTO cartera.alert (customer_id, agent_id, kind, colour, raised_at, due_on, message, detail)
    SELECT customer_id, owner, r.kind, colour, as_of, coalesce(due_on, as_of::date + due_days), message, detail
      FROM ranked r
     WHERE category NOT IN ('relationship', 'marketing') OR contacts + nth <= max_contacts
    ON CONFLICT DO NOTHING
    RETURNING alert_id, alert.kind, alert.colour, alert.customer_id, alert.agent_id),
  touched AS (
    UPDATE cartera.customer_state s SET last_alert_at = as_of
      FROM inserted i WHERE s.customer_id = i.customer_id
    RETURNING 1),
  announced AS (
    SELECT i.kind, pg_notify('cartera_alert',
                             json_build_object('id', i.alert_id, 'kind', i.kind, 'colour', i.colour,
                                               'customer', i.customer_id, 'agent', i.agent_id)::text) AS n
      FROM inserted i)
  SELECT a.kind, count(*) FROM announced a GROUP BY a.kind;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.raise_alerts(bigint[], text[], date[], text[], bigint[], timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION cartera.raise_alerts(bigint[], text[], date[], text[], bigint[], timestamptz) IS
  'raise candidate alerts through the contact policy (consent, cap, cool-down, one open per kind) and NOTIFY cartera_alert; returns counts per kind';

-- Alerts on changes of state: a Champion who falls to At Risk.
CREATE FUNCTION cartera.raise_transition_alerts(changes cartera.state_transition[], as_of timestamptz)
  RETURNS TABLE (kind text, raised bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
  IF coalesce(array_length(changes, 1), 0) = 0 THEN
    RETURN;
  END IF;
  -- segment names are looked up once per distinct segment, not per change
  -- (a bulk load brings tens of thousands of changes, over at most 729 cells)
  RETURN QUERY
  WITH t AS (SELECT * FROM unnest(changes)),
  -- first the Champions among the segments left (usually none), then the
  -- names of the segments those customers moved to
  champion AS (
    SELECT x.s, cartera.segment_label(x.s) AS shown
      FROM (SELECT DISTINCT t.from_segment AS s FROM t WHERE t.from_segment IS NOT NULL) x
     WHERE cartera.segment_label(x.s, 'en') = 'Champions'),
  moved AS (
    SELECT t.*, ch.shown AS from_shown FROM t JOIN champion ch ON ch.s = t.from_segment),
  label AS (
    SELECT x.s, cartera.segment_label(x.s, 'en') AS en, cartera.segment_label(x.s) AS shown
      FROM (SELECT DISTINCT m.to_segment AS s FROM moved m WHERE m.to_segment IS NOT NULL) x)
  SELECT r.kind, r.raised FROM (
    SELECT array_agg(m.customer_id) AS ids, array_agg('champion_at_risk'::text) AS kinds,
           array_agg(NULL::date) AS dues,
           array_agg(format('%s -> %s', m.from_shown, coalesce(lt.shown, m.to_status::text))) AS details,
           array_agg(NULL::bigint) AS agents
      FROM moved m LEFT JOIN label lt ON lt.s = m.to_segment
     WHERE lt.en = 'At Risk' OR (m.to_status = 'at_risk' AND m.from_status <> 'at_risk')) c,
    LATERAL cartera.raise_alerts(c.ids, c.kinds, c.dues, c.details, c.agents, as_of) r
   WHERE c.ids IS NOT NULL;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.raise_transition_alerts(cartera.state_transition[], timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION cartera.raise_transition_alerts(cartera.state_transition[], timestamptz) IS
  'raise the alerts that a change of state calls for (a Champion falling to At Risk)';

-- Alerts a purchase statement calls for: first purchase, coming back after
-- dormancy, cross-sell rules on the products bought, and transitions.
CREATE FUNCTION cartera.raise_purchase_alerts(changes cartera.state_transition[], purchase_ids bigint[], as_of timestamptz)
  RETURNS TABLE (kind text, raised bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
-- Small statements, each skipped when it has nothing to do: this runs for
-- every purchase statement whose customers change status or segment.
DECLARE
  ids bigint[];
  kinds text[];
  dues date[];
  details text[];
  sell_ids bigint[];
  sell_kinds text[];
  sell_dues date[];
  sell_details text[];
BEGIN
  IF coalesce(array_length(changes, 1), 0) = 0 AND purchase_ids IS NULL THEN
    RETURN;
  END IF;
  -- a customer who buys again no longer needs to be won back (first, so
  -- that an alert raised below by this same purchase stays open)
  IF EXISTS (SELECT 1 FROM unnest(changes) t WHERE t.to_status IN ('new', 'active', 'reactivated')) THEN
    UPDATE cartera.alert a
       SET status = 'done', closed_at = as_of, snoozed_until = NULL,
           resolution = coalesce(a.resolution, 'the customer bought again')
      FROM unnest(changes) t
     WHERE a.customer_id = t.customer_id AND t.to_status IN ('new', 'active', 'reactivated')
       AND a.kind IN ('reactivation', 'exit_survey', 'cant_lose', 'champion_at_risk', 'idle_lead')
       AND a.status IN ('open', 'acknowledged', 'snoozed');
  END IF;
  -- a first purchase that is recent (status new), or coming back after
  -- dormancy; loading old history raises neither
  SELECT array_agg(t.customer_id), array_agg(CASE WHEN t.to_status = 'new' THEN 'welcome' ELSE 'welcome_back' END),
         array_agg(NULL::date), array_agg(NULL::text)
    INTO ids, kinds, dues, details
    FROM unnest(changes) t
   WHERE (t.from_status = 'lead' AND t.to_status = 'new')
      OR (t.to_status = 'reactivated' AND t.from_status IS DISTINCT FROM 'reactivated');
  -- cross-sell rules on the products just bought
  IF purchase_ids IS NOT NULL THEN
    SELECT array_agg(c.customer_id), array_agg('cross_sell'::text), array_agg(c.due_on), array_agg(c.offer)
      INTO sell_ids, sell_kinds, sell_dues, sell_details
      FROM (SELECT DISTINCT ON (p.customer_id, r.rule_id) p.customer_id,
                   (p.purchased_at + make_interval(days => r.after_days))::date AS due_on, r.offer
              FROM cartera.purchase p
              JOIN cartera.cross_sell_rule r ON r.active
               AND (r.bought_category IS NULL OR r.bought_category = p.category)
               AND (r.bought_product IS NULL OR r.bought_product = p.product)
             WHERE p.purchase_id = ANY (purchase_ids) AND p.kind = 'sale'
               -- an offer whose moment passed more than a month ago is not an opportunity
               AND p.purchased_at + make_interval(days => r.after_days) >= as_of - interval '30 days') c;
    ids := ids || sell_ids;
    kinds := kinds || sell_kinds;
    dues := dues || sell_dues;
    details := details || sell_details;
  END IF;
  IF ids IS NOT NULL THEN
    RETURN QUERY SELECT r.kind, r.raised
                   FROM cartera.raise_alerts(ids, kinds, dues, details,
                                             array_fill(NULL::bigint, ARRAY[array_length(ids, 1)]), as_of) r;
  END IF;
  RETURN QUERY SELECT r.kind, r.raised FROM cartera.raise_transition_alerts(changes, as_of) r;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.raise_purchase_alerts(cartera.state_transition[], bigint[], timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION cartera.raise_purchase_alerts(cartera.state_transition[], bigint[], timestamptz) IS
  'raise welcome, welcome back, cross-sell and transition alerts for a purchase statement, and close win-back alerts of customers who bought again';

-- A complaint raises a red alert at once.
CREATE FUNCTION cartera.interaction_rows_added() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  PERFORM cartera.raise_alerts(array_agg(n.customer_id), array_agg('complaint'::text), array_agg(NULL::date),
                               array_agg(left(coalesce(n.note, n.need, ''), 200)), array_agg(NULL::bigint), clock_timestamp())
     FROM new_rows n WHERE n.is_complaint
    HAVING count(*) > 0;
  RETURN NULL;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.interaction_rows_added() FROM PUBLIC;
COMMENT ON FUNCTION cartera.interaction_rows_added() IS 'statement trigger of cartera.interaction: complaints raise red alerts';
CREATE TRIGGER interaction_complaint AFTER INSERT ON cartera.interaction
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cartera.interaction_rows_added();

-- Acting on alerts.  Each returns the alert's new status.
CREATE FUNCTION cartera.alert_set_status(alert_id bigint, new_status text, until date DEFAULT NULL,
                                         resolution text DEFAULT NULL)
  RETURNS text
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  old_status text;
BEGIN
  SELECT a.status INTO old_status FROM cartera.alert a WHERE a.alert_id = alert_set_status.alert_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'alert % does not exist', alert_id USING ERRCODE = 'no_data_found';
  END IF;
  IF old_status IN ('done', 'dismissed') THEN
    RAISE EXCEPTION 'alert % is already %', alert_id, old_status
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Closed alerts stay closed; a new situation raises a new alert.';
  END IF;
  IF new_status = 'snoozed' AND (until IS NULL OR until <= current_date) THEN
    RAISE EXCEPTION 'snooze needs a date after today, not %', coalesce(until::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE cartera.alert a
     SET status = new_status,
         snoozed_until = CASE WHEN new_status = 'snoozed' THEN until END,
         closed_at = CASE WHEN new_status IN ('done', 'dismissed') THEN clock_timestamp() END,
         resolution = coalesce(alert_set_status.resolution, a.resolution)
   WHERE a.alert_id = alert_set_status.alert_id;
  RETURN new_status;
END
$fn$;
COMMENT ON FUNCTION cartera.alert_set_status(bigint, text, date, text) IS 'move an alert to a new status (used by the acknowledge/complete/snooze/dismiss functions)';
REVOKE EXECUTE ON FUNCTION cartera.alert_set_status(bigint, text, date, text) FROM PUBLIC;

CREATE FUNCTION cartera.acknowledge_alert(alert_id bigint) RETURNS text
  LANGUAGE sql SET search_path = pg_catalog, cartera, pg_temp
  BEGIN ATOMIC SELECT cartera.alert_set_status(alert_id, 'acknowledged'); END;
CREATE FUNCTION cartera.complete_alert(alert_id bigint, resolution text DEFAULT NULL) RETURNS text
  LANGUAGE sql SET search_path = pg_catalog, cartera, pg_temp
  BEGIN ATOMIC SELECT cartera.alert_set_status(alert_id, 'done', NULL, resolution); END;
CREATE FUNCTION cartera.snooze_alert(alert_id bigint, until date) RETURNS text
  LANGUAGE sql SET search_path = pg_catalog, cartera, pg_temp
  BEGIN ATOMIC SELECT cartera.alert_set_status(alert_id, 'snoozed', until); END;
CREATE FUNCTION cartera.dismiss_alert(alert_id bigint, reason text DEFAULT NULL) RETURNS text
  LANGUAGE sql SET search_path = pg_catalog, cartera, pg_temp
  BEGIN ATOMIC SELECT cartera.alert_set_status(alert_id, 'dismissed', NULL, reason); END;
REVOKE EXECUTE ON FUNCTION cartera.acknowledge_alert(bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION cartera.complete_alert(bigint, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION cartera.snooze_alert(bigint, date) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION cartera.dismiss_alert(bigint, text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.acknowledge_alert(bigint) IS 'the agent has seen the alert and will act';
COMMENT ON FUNCTION cartera.complete_alert(bigint, text) IS 'the alert was acted on (with what was done)';
COMMENT ON FUNCTION cartera.snooze_alert(bigint, date) IS 'hide the alert until a date; the daily job reopens it then';
COMMENT ON FUNCTION cartera.dismiss_alert(bigint, text) IS 'close the alert without acting (with why)';

-- Lead assignment: same region first, then the agent whose speciality is the
-- customer's segment, then the lowest open load (open alerts, then portfolio).
CREATE FUNCTION cartera.assign_owner(customer_id bigint, reassign boolean DEFAULT false) RETURNS bigint
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  chosen bigint;
  current_owner bigint;
BEGIN
  SELECT c.owner_agent_id INTO current_owner FROM cartera.customer c WHERE c.customer_id = assign_owner.customer_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'customer % does not exist', customer_id USING ERRCODE = 'no_data_found';
  END IF;
  IF current_owner IS NOT NULL AND NOT reassign THEN
    RETURN current_owner;
  END IF;
  SELECT a.agent_id INTO chosen
    FROM cartera.agent a
    CROSS JOIN (SELECT c.region, cartera.segment_label(s.segment, 'en') AS segment_name
                  FROM cartera.customer c LEFT JOIN cartera.customer_state s USING (customer_id)
                 WHERE c.customer_id = assign_owner.customer_id) me
    LEFT JOIN LATERAL (SELECT count(*) AS n FROM cartera.alert x
                        WHERE x.agent_id = a.agent_id AND x.status IN ('open', 'acknowledged', 'snoozed')) load ON true
    LEFT JOIN LATERAL (SELECT count(*) AS n FROM cartera.customer x WHERE x.owner_agent_id = a.agent_id) portfolio ON true
   WHERE a.active AND (NOT reassign OR a.agent_id IS DISTINCT FROM current_owner)
   ORDER BY (a.region IS NOT DISTINCT FROM me.region AND a.region IS NOT NULL) DESC,
            (a.speciality IS NOT DISTINCT FROM me.segment_name AND a.speciality IS NOT NULL) DESC,
            load.n, portfolio.n, a.agent_id
   LIMIT 1;
  IF chosen IS NULL THEN
    RAISE EXCEPTION 'no active agent to assign customer % to', customer_id
      USING ERRCODE = 'no_data_found', HINT = 'Add an agent: INSERT INTO cartera.agent (name, login) VALUES (...).';
  END IF;
  UPDATE cartera.customer c SET owner_agent_id = chosen WHERE c.customer_id = assign_owner.customer_id;
  UPDATE cartera.alert x SET agent_id = chosen
   WHERE x.customer_id = assign_owner.customer_id AND x.status IN ('open', 'acknowledged', 'snoozed');
  RETURN chosen;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.assign_owner(bigint, boolean) FROM PUBLIC;
COMMENT ON FUNCTION cartera.assign_owner(bigint, boolean) IS
  'give a customer the best-suited agent (same region, segment speciality, lowest open load); with reassign, move them to another agent';

-- New customers without an owner get one when there are agents.
CREATE FUNCTION cartera.customer_owner_missing() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  c bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM cartera.agent WHERE active) THEN
    RETURN NULL;
  END IF;
  -- one call per new lead: load changes with every assignment
  FOR c IN SELECT n.customer_id FROM new_rows n WHERE n.owner_agent_id IS NULL ORDER BY n.customer_id LOOP
    PERFORM cartera.assign_owner(c);
  END LOOP;
  RETURN NULL;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.customer_owner_missing() FROM PUBLIC;
COMMENT ON FUNCTION cartera.customer_owner_missing() IS 'statement trigger of cartera.customer: new customers without an owner are assigned one';
CREATE TRIGGER customer_assign_owner AFTER INSERT ON cartera.customer
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cartera.customer_owner_missing();

-- The daily job.  One pass over the customers (no per-customer queries):
-- statuses move with time, snoozed alerts wake up, then every rule proposes
-- candidates and raise_alerts applies the contact policy.  Running it twice
-- for the same day raises nothing new (cool-downs and one open alert per kind).
CREATE FUNCTION cartera.run_followups(as_of date DEFAULT current_date)
  RETURNS TABLE (kind text, raised bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  -- the end of the day, but never later than now
  as_ts timestamptz := least((as_of + 1)::timestamptz, clock_timestamp());
  idle interval := coalesce(current_setting('cartera.lead_idle_after', true), '14 days')::interval;
  horizon interval := coalesce(current_setting('cartera.occasion_horizon', true), '7 days')::interval;
  changes cartera.state_transition[];
  high_value numeric;
BEGIN
  -- 1. statuses move with time: recompute them from the stored summaries
  WITH moved AS (
    UPDATE cartera.customer_state s
       SET status = cartera.lifecycle_status(s.summary, as_ts), updated_at = clock_timestamp()
      FROM (SELECT customer_id, status AS old_status FROM cartera.customer_state) o
     WHERE o.customer_id = s.customer_id
       AND (s.summary).purchases > 0 AND (s.summary).last_purchase <= as_ts
       AND s.status IS DISTINCT FROM cartera.lifecycle_status(s.summary, as_ts)
    RETURNING s.customer_id, o.old_status, s.status, s.segment),
  logged AS (
    INSERT INTO cartera.status_transition (customer_id, changed_at, from_status, to_status, from_segment, to_segment)
    SELECT customer_id, as_ts, old_status, status, segment, segment FROM moved)
  SELECT array_agg(ROW(customer_id, old_status, status, segment, segment)::cartera.state_transition)
    INTO changes FROM moved;

  -- 2. snoozed alerts whose date has come are open again
  UPDATE cartera.alert a SET status = 'open', snoozed_until = NULL
   WHERE a.status = 'snoozed' AND a.snoozed_until <= as_of;

  SELECT percentile_cont(0.8) WITHIN GROUP (ORDER BY s.clv) INTO high_value
    FROM cartera.customer_state s WHERE (s.summary).purchases > 0;

  -- 3. every rule proposes candidates; the policy decides
  RETURN QUERY
  WITH candidate AS (
    -- high-value customers at risk
    SELECT s.customer_id, 'cant_lose'::text AS kind, NULL::date AS due_on,
           format('CLV %s', s.clv) AS detail, NULL::bigint AS agent_id
      FROM cartera.customer_state s WHERE s.status = 'at_risk' AND s.clv >= high_value
    UNION ALL
    SELECT s.customer_id, 'reactivation', NULL, format('%s days without buying', (s.summary).recency_days), NULL
      FROM cartera.customer_state s WHERE s.status = 'dormant'
    UNION ALL
    SELECT s.customer_id, 'exit_survey', NULL, NULL, NULL
      FROM cartera.customer_state s JOIN cartera.customer c USING (customer_id)
     WHERE s.status = 'lost' AND c.lost_reason IS NULL
    UNION ALL
    -- leads with no purchase and no contact for a while
    SELECT c.customer_id, 'idle_lead', NULL,
           CASE WHEN c.owner_agent_id IS NULL THEN 'no owner: cartera.assign_owner()' END, NULL
      FROM cartera.customer c JOIN cartera.customer_state s USING (customer_id)
     WHERE s.status = 'lead' AND c.created_at <= as_ts - idle
       AND NOT EXISTS (SELECT 1 FROM cartera.interaction i
                        WHERE i.customer_id = c.customer_id AND i.happened_at > as_ts - idle)
    UNION ALL
    -- birthdays in the next days (29 February counts on 28 February in common years)
    SELECT c.customer_id, 'birthday', b.next_birthday, to_char(b.next_birthday, 'YYYY-MM-DD'), NULL
      FROM cartera.customer c
      CROSS JOIN LATERAL (
        SELECT min(d) AS next_birthday
          FROM (SELECT make_date(y, extract(month FROM c.birthday)::int,
                                 least(extract(day FROM c.birthday)::int,
                                       extract(day FROM (make_date(y, extract(month FROM c.birthday)::int, 1)
                                                         + interval '1 month - 1 day'))::int)) AS d
                  FROM generate_series(extract(year FROM as_of)::int, extract(year FROM as_of)::int + 1) y) yy
         WHERE d >= as_of) b
     WHERE c.birthday IS NOT NULL AND b.next_birthday <= as_of + horizon
    UNION ALL
    -- occasions of the customer's country (or of every country) in the next days
    SELECT c.customer_id, 'occasion', d.on_date,
           format('%s (%s)', CASE WHEN current_setting('cartera.language', true) = 'en' THEN o.name_en ELSE o.name_es END,
                  to_char(d.on_date, 'YYYY-MM-DD')), NULL
      FROM cartera.occasions() o
      CROSS JOIN LATERAL (SELECT cartera.occasion_date(o, y) AS on_date
                            FROM generate_series(extract(year FROM as_of)::int, extract(year FROM as_of)::int + 1) y) d
      JOIN cartera.customer c ON o.country IS NULL OR o.country = c.country
     WHERE d.on_date BETWEEN as_of AND as_of + horizon
    UNION ALL
    -- agents behind the pace of their monthly revenue goal
    SELECT NULL, 'below_target', NULL,
           format('%s of %s (%s%% of the month gone)', coalesce(m.revenue, 0), t.revenue_target,
                  round(100.0 * extract(day FROM as_of) / extract(day FROM (date_trunc('month', as_of) + interval '1 month - 1 day')))),
           t.agent_id
      FROM cartera.agent_target t
      LEFT JOIN LATERAL (SELECT sum(p.amount) AS revenue
                           FROM cartera.purchase p JOIN cartera.customer c USING (customer_id)
                          WHERE c.owner_agent_id = t.agent_id
                            AND p.purchased_at >= date_trunc('month', as_of) AND p.purchased_at < as_ts) m ON true
     WHERE t.month = date_trunc('month', as_of)::date AND t.revenue_target > 0
       AND coalesce(m.revenue, 0) < t.revenue_target * extract(day FROM as_of)
                                     / extract(day FROM (date_trunc('month', as_of) + interval '1 month - 1 day'))),
  gathered AS (
    SELECT array_agg(customer_id) AS ids, array_agg(c.kind) AS kinds, array_agg(due_on) AS dues,
           array_agg(detail) AS details, array_agg(agent_id) AS agents
      FROM candidate c),
  raised AS (
    SELECT r.kind, r.raised FROM gathered g, LATERAL cartera.raise_alerts(g.ids, g.kinds, g.dues, g.details, g.agents, as_ts) r
     WHERE g.ids IS NOT NULL
    UNION ALL
    SELECT t.kind, t.raised FROM cartera.raise_transition_alerts(changes, as_ts) t)
  SELECT k.kind, coalesce(sum(r.raised), 0)::bigint
    FROM cartera.alert_kind k LEFT JOIN raised r ON r.kind = k.kind
   GROUP BY k.kind ORDER BY k.kind;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.run_followups(date) FROM PUBLIC;
COMMENT ON FUNCTION cartera.run_followups(date) IS
  'the daily follow-up job: moves statuses with time and raises the alerts of every rule through the contact policy; returns alerts raised per kind';

-- Register the daily job with pg_cron.
CREATE FUNCTION cartera.schedule(cron text DEFAULT '0 7 * * *') RETURNS bigint
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  job bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
    RAISE EXCEPTION 'pg_cron is not installed in this database'
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = 'cartera.schedule() registers cartera.run_followups() as a pg_cron job.',
            HINT = 'Install pg_cron (shared_preload_libraries = ''pg_cron'', then CREATE EXTENSION pg_cron), or call cartera.run_followups() daily from another scheduler.';
  END IF;
  EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job
    USING 'cartera-followups', cron, 'SELECT * FROM cartera.run_followups()';
  RETURN job;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.schedule(text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.schedule(text) IS 'register cartera.run_followups() as the pg_cron job "cartera-followups" (daily at 07:00 by default)';

-- user data survives pg_dump
SELECT pg_catalog.pg_extension_config_dump('cartera.segment_map', '');
SELECT pg_catalog.pg_extension_config_dump('cartera.interaction', '');
SELECT pg_catalog.pg_extension_config_dump('cartera.occasion', '');
SELECT pg_catalog.pg_extension_config_dump('cartera.cross_sell_rule', '');
SELECT pg_catalog.pg_extension_config_dump('cartera.agent_target', '');
SELECT pg_catalog.pg_extension_config_dump('cartera.alert', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('cartera.interaction', 'interaction_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('cartera.occasion', 'occasion_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('cartera.cross_sell_rule', 'rule_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('cartera.alert', 'alert_id'), '');
COMMENT ON SEQUENCE cartera.interaction_interaction_id_seq IS 'identity of cartera.interaction';
COMMENT ON SEQUENCE cartera.occasion_occasion_id_seq IS 'identity of cartera.occasion';
COMMENT ON SEQUENCE cartera.cross_sell_rule_rule_id_seq IS 'identity of cartera.cross_sell_rule';
COMMENT ON SEQUENCE cartera.alert_alert_id_seq IS 'identity of cartera.alert';

-- Why a customer has their status, segment and alerts, in words.
CREATE FUNCTION cartera.explain(customer_id bigint) RETURNS SETOF text
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  c cartera.customer;
  s cartera.customer_state;
  m cartera.portfolio_model;
  en boolean := coalesce(current_setting('cartera.language', true), 'es') = 'en';
  owner text;
  a record;
  n integer := 0;
BEGIN
  SELECT * INTO c FROM cartera.customer x WHERE x.customer_id = explain.customer_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'customer % does not exist', customer_id USING ERRCODE = 'no_data_found';
  END IF;
  SELECT * INTO s FROM cartera.customer_state x WHERE x.customer_id = explain.customer_id;
  SELECT * INTO m FROM cartera.portfolio_model;
  SELECT name INTO owner FROM cartera.agent WHERE agent_id = c.owner_agent_id;

  RETURN NEXT format(CASE WHEN en THEN '%s (customer %s), owner: %s.' ELSE '%s (cliente %s), responsable: %s.' END,
                     c.full_name, c.customer_id, coalesce(owner, CASE WHEN en THEN 'none' ELSE 'ninguno' END));
  IF s.customer_id IS NULL OR (s.summary).purchases = 0 THEN
    RETURN NEXT CASE WHEN en THEN 'Status lead: no purchase yet.' ELSE 'Estado lead: todavía no ha comprado.' END;
  ELSE
    RETURN NEXT format(CASE WHEN en
        THEN 'Status %s as of %s: last purchase %s days before (%s), first %s days before; %s purchases on %s days, %s in total, average ticket %s.'
        ELSE 'Estado %s a %s: última compra %s días antes (%s), primera %s días antes; %s compras en %s días, %s en total, ticket medio %s.' END,
      s.status, to_char((s.summary).as_of, 'YYYY-MM-DD'), (s.summary).recency_days,
      to_char((s.summary).last_purchase, 'YYYY-MM-DD'), (s.summary).age_days,
      (s.summary).purchases, (s.summary).purchase_days, (s.summary).monetary_total, (s.summary).avg_ticket);
    RETURN NEXT format(CASE WHEN en
        THEN 'Thresholds: at risk after %s, dormant after %s, lost after %s, new within %s (mode %s); the gap before the last purchase was %s days.'
        ELSE 'Umbrales: en riesgo tras %s, dormido tras %s, perdido tras %s, nuevo dentro de %s (modo %s); el hueco antes de la última compra fue de %s días.' END,
      coalesce(current_setting('cartera.at_risk_after', true), '60 days'),
      coalesce(current_setting('cartera.dormant_after', true), '120 days'),
      coalesce(current_setting('cartera.lost_after', true), '365 days'),
      coalesce(current_setting('cartera.new_window', true), '30 days'),
      coalesce(current_setting('cartera.lifecycle_mode', true), 'fixed'),
      coalesce((s.summary).last_gap_days::text, '-'));
    IF s.segment IS NOT NULL THEN
      RETURN NEXT format(CASE WHEN en
          THEN 'Segment %s "%s": recency %s days -> R%s (cuts %s), frequency %s -> F%s (cuts %s), spend %s -> M%s (cuts %s), from the refresh of %s.'
          ELSE 'Segmento %s "%s": recencia %s días -> R%s (cortes %s), frecuencia %s -> F%s (cortes %s), gasto %s -> M%s (cortes %s), del refresh de %s.' END,
        s.segment, cartera.segment_label(s.segment),
        (s.summary).recency_days, cartera.recency_score(s.segment), m.recency_breaks,
        (s.summary).frequency, cartera.frequency_score(s.segment), m.frequency_breaks,
        (s.summary).monetary_total, cartera.monetary_score(s.segment), m.monetary_breaks,
        to_char(m.as_of, 'YYYY-MM-DD'));
    ELSE
      RETURN NEXT CASE WHEN en THEN 'No segment yet: run cartera.refresh().' ELSE 'Sin segmento todavía: ejecutar cartera.refresh().' END;
    END IF;
    RETURN NEXT format(CASE WHEN en
        THEN 'Value: CLV (formula) %s; purchase probability %s; expected purchases next 12 months %s; predicted CLV 12 months %s.'
        ELSE 'Valor: CLV (fórmula) %s; probabilidad de compra %s; compras esperadas en 12 meses %s; CLV predicho a 12 meses %s.' END,
      s.clv, coalesce(round(s.p_alive::numeric, 3)::text, '-'), coalesce(round(s.expected_purchases_12m::numeric, 2)::text, '-'),
      coalesce(round(s.clv_predicted_12m::numeric, 2)::text, '-'));
  END IF;
  FOR a IN SELECT x.colour, x.kind, x.due_on, x.status, x.message FROM cartera.alert x
            WHERE x.customer_id = explain.customer_id AND x.status IN ('open', 'acknowledged', 'snoozed')
            ORDER BY array_position(ARRAY['red', 'amber', 'green', 'blue'], x.colour), x.due_on LOOP
    n := n + 1;
    RETURN NEXT format(CASE WHEN en THEN 'Alert [%s] %s due %s (%s): %s' ELSE 'Alerta [%s] %s para %s (%s): %s' END,
                       a.colour, a.kind, a.due_on, a.status, a.message);
  END LOOP;
  IF n = 0 THEN
    RETURN NEXT CASE WHEN en THEN 'No open alerts.' ELSE 'Sin alertas abiertas.' END;
  END IF;
  IF c.lost_reason IS NOT NULL THEN
    RETURN NEXT format(CASE WHEN en THEN 'Reason given for leaving: %s' ELSE 'Motivo de la baja: %s' END, c.lost_reason);
  END IF;
END
$fn$;
COMMENT ON FUNCTION cartera.explain(bigint) IS
  'why a customer has their status, segment, value and open alerts, in cartera.language (thresholds and values involved)';

------------------------------------------------------------------------------
-- 0.2.0: views for BI tools, duplicate customers and merging them.
--
-- The views are the API for Metabase, Superset, Power BI and Grafana: their
-- column names and types are stable and every column carries a COMMENT.
-- Conventions shared by all of them:
--  * security_invoker: they run with the rights of the role reading them, so
--    row-level security on the portfolio tables applies (an agent sees their
--    own portfolio; shares and totals are over what the reader can see);
--  * status and segment come out as text (lifecycle status name, segment as
--    its canonical three digits), which every BI driver reads;
--  * segment names are in cartera.language (es by default, en);
--  * "open" alerts are those still to do: status open or acknowledged
--    (snoozed ones are hidden until their date);
--  * customer-level figures come from customer_state (every purchase source,
--    tracked tables included); monthly figures come from the rows of
--    cartera.purchase (refunds included, net), per calendar month in the
--    session's TimeZone: tables attached with cartera.track_purchases() are
--    not in the monthly views;
--  * set-based: no per-row queries; segment names are looked up once per
--    segment where the view aggregates.
------------------------------------------------------------------------------

-- One row per customer: registry, owner agent, state.
CREATE VIEW cartera.customer_overview WITH (security_invoker = true) AS
SELECT c.customer_id,
       c.full_name,
       c.company,
       c.email,
       c.phone,
       c.mobile_phone,
       c.country,
       c.region,
       c.city,
       c.relationship,
       c.owner_agent_id,
       a.name AS owner_agent_name,
       c.marketing_consent,
       c.created_at,
       s.status::text AS status,
       s.segment::text AS segment,
       CASE WHEN s.segment IS NOT NULL THEN cartera.segment_label(s.segment) END AS segment_name,
       (s.summary).first_purchase,
       (s.summary).last_purchase,
       (s.summary).purchases,
       (s.summary).frequency,
       (s.summary).recency_days,
       (s.summary).monetary_total,
       (s.summary).avg_ticket,
       s.clv,
       s.p_alive AS purchase_probability,
       s.expected_purchases_12m,
       s.clv_predicted_12m,
       (s.summary).as_of AS state_as_of,
       coalesce(o.open_alerts, 0) AS open_alerts
  FROM cartera.customer c
  LEFT JOIN cartera.customer_state s ON s.customer_id = c.customer_id
  LEFT JOIN cartera.agent a ON a.agent_id = c.owner_agent_id
  LEFT JOIN (SELECT al.customer_id, count(*) AS open_alerts
               FROM cartera.alert al
              WHERE al.status IN ('open', 'acknowledged') AND al.customer_id IS NOT NULL
              GROUP BY al.customer_id) o ON o.customer_id = c.customer_id;
COMMENT ON VIEW cartera.customer_overview IS
  'one row per customer: registry fields, owner agent, life-cycle status, RFM segment and name, purchase summary, CLV, purchase probability and open alerts';
COMMENT ON COLUMN cartera.customer_overview.customer_id IS 'customer id (cartera.customer)';
COMMENT ON COLUMN cartera.customer_overview.full_name IS 'customer name';
COMMENT ON COLUMN cartera.customer_overview.company IS 'company the customer works for or is';
COMMENT ON COLUMN cartera.customer_overview.email IS 'e-mail address';
COMMENT ON COLUMN cartera.customer_overview.phone IS 'landline phone';
COMMENT ON COLUMN cartera.customer_overview.mobile_phone IS 'mobile phone';
COMMENT ON COLUMN cartera.customer_overview.country IS 'ISO 3166-1 alpha-2 country code';
COMMENT ON COLUMN cartera.customer_overview.region IS 'region';
COMMENT ON COLUMN cartera.customer_overview.city IS 'city';
COMMENT ON COLUMN cartera.customer_overview.relationship IS 'kind of relationship: customer, business, distributor, partner';
COMMENT ON COLUMN cartera.customer_overview.owner_agent_id IS 'id of the agent whose portfolio the customer is in; NULL if unassigned';
COMMENT ON COLUMN cartera.customer_overview.owner_agent_name IS 'name of the owner agent';
COMMENT ON COLUMN cartera.customer_overview.marketing_consent IS 'whether the customer accepted marketing contact';
COMMENT ON COLUMN cartera.customer_overview.created_at IS 'when the customer was registered';
COMMENT ON COLUMN cartera.customer_overview.status IS 'life-cycle status at state_as_of: lead, new, active, reactivated, at_risk, dormant, lost';
COMMENT ON COLUMN cartera.customer_overview.segment IS 'RFM cell as three digits R, F, M (1..5, 5 = best) from the last cartera.refresh(); NULL for leads or before the first refresh()';
COMMENT ON COLUMN cartera.customer_overview.segment_name IS 'named segment of the cell (cartera.segment_map) in cartera.language';
COMMENT ON COLUMN cartera.customer_overview.first_purchase IS 'first purchase';
COMMENT ON COLUMN cartera.customer_overview.last_purchase IS 'last purchase';
COMMENT ON COLUMN cartera.customer_overview.purchases IS 'number of purchases (refunds are not purchases), every purchase source';
COMMENT ON COLUMN cartera.customer_overview.frequency IS 'repeat purchase days: distinct purchase days - 1';
COMMENT ON COLUMN cartera.customer_overview.recency_days IS 'days from the last purchase to state_as_of';
COMMENT ON COLUMN cartera.customer_overview.monetary_total IS 'net revenue of the customer (sales minus refunds), every purchase source';
COMMENT ON COLUMN cartera.customer_overview.avg_ticket IS 'average ticket: monetary_total / purchases';
COMMENT ON COLUMN cartera.customer_overview.clv IS 'seed-formula customer lifetime value (lifespan cartera.clv_lifespan)';
COMMENT ON COLUMN cartera.customer_overview.purchase_probability IS 'probability that the customer is still active (BG/NBD P(alive) of the last refresh())';
COMMENT ON COLUMN cartera.customer_overview.expected_purchases_12m IS 'expected repeat purchases in the next 12 months (BG/NBD)';
COMMENT ON COLUMN cartera.customer_overview.clv_predicted_12m IS 'predicted value of the next 12 months (BG/NBD + Gamma-Gamma, 1 % monthly discount)';
COMMENT ON COLUMN cartera.customer_overview.state_as_of IS 'instant the state was computed at (last purchase statement, refresh() or run_followups())';
COMMENT ON COLUMN cartera.customer_overview.open_alerts IS 'alerts about the customer still to do (open or acknowledged)';

-- Per named segment.
CREATE VIEW cartera.segment_summary WITH (security_invoker = true) AS
WITH per_cell AS (
  SELECT s.segment, count(*) AS customers,
         sum((s.summary).purchases) AS purchases,
         sum((s.summary).monetary_total) AS revenue,
         sum((s.summary).recency_days) AS recency_sum, count((s.summary).recency_days) AS recency_n,
         sum((s.summary).frequency) AS frequency_sum,
         sum(s.clv) AS clv_sum, count(s.clv) AS clv_n,
         sum(s.clv_predicted_12m) AS clv_predicted_12m
    FROM cartera.customer_state s
   GROUP BY s.segment),
per_name AS (
  SELECT n.segment_name, sum(p.customers) AS customers, sum(p.purchases) AS purchases, sum(p.revenue) AS revenue,
         sum(p.recency_sum) AS recency_sum, sum(p.recency_n) AS recency_n, sum(p.frequency_sum) AS frequency_sum,
         sum(p.clv_sum) AS clv_sum, sum(p.clv_n) AS clv_n, sum(p.clv_predicted_12m) AS clv_predicted_12m
    FROM per_cell p
    CROSS JOIN LATERAL (SELECT CASE WHEN p.segment IS NOT NULL THEN cartera.segment_label(p.segment) END AS segment_name) n
   GROUP BY n.segment_name)
SELECT p.segment_name,
       p.customers::bigint AS customers,
       p.customers / sum(p.customers) OVER () AS customer_share,
       p.revenue,
       p.revenue / nullif(sum(p.revenue) OVER (), 0) AS revenue_share,
       p.revenue / nullif(p.purchases, 0) AS avg_ticket,
       p.recency_sum / nullif(p.recency_n, 0) AS avg_recency_days,
       p.frequency_sum / p.customers AS avg_frequency,
       p.clv_sum / nullif(p.clv_n, 0) AS avg_clv,
       p.clv_predicted_12m
  FROM per_name p;
COMMENT ON VIEW cartera.segment_summary IS
  'per named segment (cartera.segment_map, in cartera.language): customers, revenue, average ticket, recency, frequency, CLV and shares of the portfolio; one row with a NULL name for customers without a segment (leads, or before the first refresh())';
COMMENT ON COLUMN cartera.segment_summary.segment_name IS 'named segment in cartera.language; NULL: customers without a segment';
COMMENT ON COLUMN cartera.segment_summary.customers IS 'customers in the segment';
COMMENT ON COLUMN cartera.segment_summary.customer_share IS 'share of all customers (0..1)';
COMMENT ON COLUMN cartera.segment_summary.revenue IS 'net revenue of the segment''s customers (sum of monetary_total)';
COMMENT ON COLUMN cartera.segment_summary.revenue_share IS 'share of the portfolio''s net revenue (0..1)';
COMMENT ON COLUMN cartera.segment_summary.avg_ticket IS 'average ticket: revenue / purchases of the segment';
COMMENT ON COLUMN cartera.segment_summary.avg_recency_days IS 'average days since the last purchase';
COMMENT ON COLUMN cartera.segment_summary.avg_frequency IS 'average repeat purchase days (frequency)';
COMMENT ON COLUMN cartera.segment_summary.avg_clv IS 'average seed-formula CLV';
COMMENT ON COLUMN cartera.segment_summary.clv_predicted_12m IS 'sum of the predicted 12-month values of the segment''s customers';

-- The R x F grid: all 25 cells, empty ones included (a complete heat map).
CREATE VIEW cartera.rfm_grid WITH (security_invoker = true) AS
WITH cells AS (
  SELECT cartera.recency_score(s.segment) AS r, cartera.frequency_score(s.segment) AS f,
         count(*) AS customers, sum((s.summary).monetary_total) AS revenue,
         sum(cartera.monetary_score(s.segment)) AS monetary_score_sum
    FROM cartera.customer_state s
   WHERE s.segment IS NOT NULL
   GROUP BY 1, 2),
grid AS (
  SELECT r, f FROM generate_series(1, 5) r CROSS JOIN generate_series(1, 5) f
  UNION
  SELECT r, f FROM cells)
SELECT g.r AS recency_score,
       g.f AS frequency_score,
       cartera.segment_label(cartera.segment(g.r, g.f, 1)) AS segment_name,
       coalesce(c.customers, 0) AS customers,
       coalesce(c.customers, 0)::numeric / nullif(sum(c.customers) OVER (), 0) AS customer_share,
       coalesce(c.revenue, 0) AS revenue,
       c.revenue / nullif(sum(c.revenue) OVER (), 0) AS revenue_share,
       c.revenue / c.customers AS avg_revenue,
       c.monetary_score_sum::numeric / c.customers AS avg_monetary_score
  FROM grid g
  LEFT JOIN cells c ON c.r = g.r AND c.f = g.f;
COMMENT ON VIEW cartera.rfm_grid IS
  'the recency x frequency grid of segmented customers: one row per cell (all 25 of the 5 x 5 grid, empty ones included) with its segment name, customers and revenue';
COMMENT ON COLUMN cartera.rfm_grid.recency_score IS 'R score (1..5, 5 = bought most recently)';
COMMENT ON COLUMN cartera.rfm_grid.frequency_score IS 'F score (1..5, 5 = buys most often)';
COMMENT ON COLUMN cartera.rfm_grid.segment_name IS 'named segment of the cell in cartera.language';
COMMENT ON COLUMN cartera.rfm_grid.customers IS 'customers in the cell';
COMMENT ON COLUMN cartera.rfm_grid.customer_share IS 'share of the segmented customers (0..1)';
COMMENT ON COLUMN cartera.rfm_grid.revenue IS 'net revenue of the cell''s customers';
COMMENT ON COLUMN cartera.rfm_grid.revenue_share IS 'share of the segmented customers'' net revenue (0..1); NULL for an empty cell';
COMMENT ON COLUMN cartera.rfm_grid.avg_revenue IS 'net revenue per customer; NULL for an empty cell';
COMMENT ON COLUMN cartera.rfm_grid.avg_monetary_score IS 'average M score (1..5) of the cell''s customers; NULL for an empty cell';

-- Per life-cycle status, every status listed (in life-cycle order).
CREATE VIEW cartera.lifecycle_summary WITH (security_invoker = true) AS
WITH per_status AS (
  SELECT s.status, count(*) AS customers,
         sum((s.summary).purchases) AS purchases,
         sum((s.summary).monetary_total) AS revenue,
         avg((s.summary).recency_days) AS avg_recency_days,
         avg(s.clv) AS avg_clv,
         avg(s.p_alive) AS avg_purchase_probability,
         sum(s.clv_predicted_12m) AS clv_predicted_12m
    FROM cartera.customer_state s
   GROUP BY s.status)
SELECT st.status::text AS status,
       st.n::integer AS status_order,
       coalesce(p.customers, 0) AS customers,
       coalesce(p.customers, 0)::numeric / nullif(sum(p.customers) OVER (), 0) AS customer_share,
       coalesce(p.revenue, 0) AS revenue,
       p.revenue / nullif(sum(p.revenue) OVER (), 0) AS revenue_share,
       p.revenue / nullif(p.purchases, 0) AS avg_ticket,
       p.avg_recency_days,
       p.avg_clv,
       p.avg_purchase_probability,
       p.clv_predicted_12m
  FROM unnest(enum_range(NULL::cartera.lifecycle_status)) WITH ORDINALITY st(status, n)
  LEFT JOIN per_status p ON p.status = st.status;
COMMENT ON VIEW cartera.lifecycle_summary IS
  'per life-cycle status (all seven, in order lead, new, active, reactivated, at_risk, dormant, lost): customers, revenue, average ticket, recency, CLV, purchase probability';
COMMENT ON COLUMN cartera.lifecycle_summary.status IS 'life-cycle status';
COMMENT ON COLUMN cartera.lifecycle_summary.status_order IS 'position of the status in the life cycle (1 = lead ... 7 = lost), for sorting';
COMMENT ON COLUMN cartera.lifecycle_summary.customers IS 'customers with this status';
COMMENT ON COLUMN cartera.lifecycle_summary.customer_share IS 'share of all customers (0..1)';
COMMENT ON COLUMN cartera.lifecycle_summary.revenue IS 'net revenue of these customers (sum of monetary_total)';
COMMENT ON COLUMN cartera.lifecycle_summary.revenue_share IS 'share of the portfolio''s net revenue (0..1)';
COMMENT ON COLUMN cartera.lifecycle_summary.avg_ticket IS 'average ticket: revenue / purchases';
COMMENT ON COLUMN cartera.lifecycle_summary.avg_recency_days IS 'average days since the last purchase (leads excluded)';
COMMENT ON COLUMN cartera.lifecycle_summary.avg_clv IS 'average seed-formula CLV';
COMMENT ON COLUMN cartera.lifecycle_summary.avg_purchase_probability IS 'average probability of being active (BG/NBD P(alive))';
COMMENT ON COLUMN cartera.lifecycle_summary.clv_predicted_12m IS 'sum of the predicted 12-month values';

-- Pareto / ABC: customers by net revenue, best first.  A is the smallest set
-- of best customers that reaches 80 % of the revenue (the customer crossing
-- the line is in A), B reaches 95 %, C is the rest (and anyone with no
-- positive revenue).
CREATE VIEW cartera.abc_analysis WITH (security_invoker = true) AS
WITH ranked AS (
  SELECT s.customer_id, (s.summary).monetary_total AS revenue,
         row_number() OVER w AS revenue_rank,
         count(*) OVER () AS customers,
         sum(greatest((s.summary).monetary_total, 0)) OVER () AS total,
         sum(greatest((s.summary).monetary_total, 0)) OVER (w ROWS UNBOUNDED PRECEDING) AS cumulative
    FROM cartera.customer_state s
   WHERE (s.summary).purchases > 0
  WINDOW w AS (ORDER BY (s.summary).monetary_total DESC, s.customer_id))
SELECT r.revenue_rank,
       r.customer_id,
       c.full_name,
       c.owner_agent_id,
       r.revenue,
       greatest(r.revenue, 0) / nullif(r.total, 0) AS revenue_share,
       r.cumulative / nullif(r.total, 0) AS cumulative_share,
       r.revenue_rank::numeric / r.customers AS customer_percentile,
       CASE WHEN r.revenue > 0 AND r.cumulative - r.revenue < 0.80 * r.total THEN 'A'
            WHEN r.revenue > 0 AND r.cumulative - r.revenue < 0.95 * r.total THEN 'B'
            ELSE 'C' END AS abc_class
  FROM ranked r
  JOIN cartera.customer c ON c.customer_id = r.customer_id;
COMMENT ON VIEW cartera.abc_analysis IS
  'Pareto (ABC) analysis of the customers with purchases, best first: A = the fewest customers making 80 % of the net revenue, B = the next ones up to 95 %, C = the rest';
COMMENT ON COLUMN cartera.abc_analysis.revenue_rank IS 'position by net revenue, 1 = highest (ties by customer_id)';
COMMENT ON COLUMN cartera.abc_analysis.customer_id IS 'customer id';
COMMENT ON COLUMN cartera.abc_analysis.full_name IS 'customer name';
COMMENT ON COLUMN cartera.abc_analysis.owner_agent_id IS 'owner agent id';
COMMENT ON COLUMN cartera.abc_analysis.revenue IS 'net revenue of the customer (monetary_total, every purchase source)';
COMMENT ON COLUMN cartera.abc_analysis.revenue_share IS 'the customer''s share of the positive revenue (0..1)';
COMMENT ON COLUMN cartera.abc_analysis.cumulative_share IS 'share of the revenue made by this customer and every better one (0..1)';
COMMENT ON COLUMN cartera.abc_analysis.customer_percentile IS 'revenue_rank / customers: the customer is in the top this fraction of customers';
COMMENT ON COLUMN cartera.abc_analysis.abc_class IS 'A (up to 80 % of the revenue), B (up to 95 %), C (the rest)';

-- Per agent (and one row for unassigned customers, when there are any).
CREATE VIEW cartera.agent_portfolio WITH (security_invoker = true) AS
WITH owners AS (
  SELECT a.agent_id, a.name, a.active FROM cartera.agent a
  UNION ALL
  SELECT NULL, NULL, NULL),
per_owner AS (
  SELECT c.owner_agent_id AS agent_id, count(*) AS customers,
         count(*) FILTER (WHERE s.status = 'lead') AS lead_count,
         count(*) FILTER (WHERE s.status = 'new') AS new_count,
         count(*) FILTER (WHERE s.status = 'active') AS active_count,
         count(*) FILTER (WHERE s.status = 'reactivated') AS reactivated_count,
         count(*) FILTER (WHERE s.status = 'at_risk') AS at_risk_count,
         count(*) FILTER (WHERE s.status = 'dormant') AS dormant_count,
         count(*) FILTER (WHERE s.status = 'lost') AS lost_count,
         sum((s.summary).monetary_total) AS revenue,
         sum(s.clv) AS clv,
         sum(s.clv_predicted_12m) AS clv_predicted_12m
    FROM cartera.customer c
    LEFT JOIN cartera.customer_state s ON s.customer_id = c.customer_id
   GROUP BY c.owner_agent_id),
per_agent_alerts AS (
  SELECT al.agent_id, count(*) AS open_alerts,
         count(*) FILTER (WHERE al.colour = 'red') AS red_alerts,
         count(*) FILTER (WHERE al.colour = 'amber') AS amber_alerts,
         count(*) FILTER (WHERE al.colour = 'green') AS green_alerts,
         count(*) FILTER (WHERE al.colour = 'blue') AS blue_alerts,
         count(*) FILTER (WHERE al.due_on < current_date) AS overdue_alerts
    FROM cartera.alert al
   WHERE al.status IN ('open', 'acknowledged')
   GROUP BY al.agent_id)
SELECT o.agent_id,
       o.name AS agent_name,
       o.active AS agent_active,
       coalesce(p.customers, 0) AS customers,
       coalesce(p.lead_count, 0) AS lead_count,
       coalesce(p.new_count, 0) AS new_count,
       coalesce(p.active_count, 0) AS active_count,
       coalesce(p.reactivated_count, 0) AS reactivated_count,
       coalesce(p.at_risk_count, 0) AS at_risk_count,
       coalesce(p.dormant_count, 0) AS dormant_count,
       coalesce(p.lost_count, 0) AS lost_count,
       coalesce(p.revenue, 0) AS revenue,
       p.clv,
       p.clv_predicted_12m,
       coalesce(x.open_alerts, 0) AS open_alerts,
       coalesce(x.red_alerts, 0) AS red_alerts,
       coalesce(x.amber_alerts, 0) AS amber_alerts,
       coalesce(x.green_alerts, 0) AS green_alerts,
       coalesce(x.blue_alerts, 0) AS blue_alerts,
       coalesce(x.overdue_alerts, 0) AS overdue_alerts
  FROM owners o
  LEFT JOIN per_owner p ON p.agent_id IS NOT DISTINCT FROM o.agent_id
  LEFT JOIN per_agent_alerts x ON x.agent_id IS NOT DISTINCT FROM o.agent_id
 WHERE o.agent_id IS NOT NULL OR p.customers > 0 OR x.open_alerts > 0;
COMMENT ON VIEW cartera.agent_portfolio IS
  'per agent: customers by life-cycle status, revenue, CLV and the open alerts they must act on, by colour; a row with a NULL agent counts unassigned customers and alerts';
COMMENT ON COLUMN cartera.agent_portfolio.agent_id IS 'agent id; NULL: customers without an owner';
COMMENT ON COLUMN cartera.agent_portfolio.agent_name IS 'agent name';
COMMENT ON COLUMN cartera.agent_portfolio.agent_active IS 'whether the agent is active';
COMMENT ON COLUMN cartera.agent_portfolio.customers IS 'customers the agent owns';
COMMENT ON COLUMN cartera.agent_portfolio.lead_count IS 'owned customers with status lead (no purchase yet)';
COMMENT ON COLUMN cartera.agent_portfolio.new_count IS 'owned customers with status new';
COMMENT ON COLUMN cartera.agent_portfolio.active_count IS 'owned customers with status active';
COMMENT ON COLUMN cartera.agent_portfolio.reactivated_count IS 'owned customers with status reactivated';
COMMENT ON COLUMN cartera.agent_portfolio.at_risk_count IS 'owned customers with status at_risk';
COMMENT ON COLUMN cartera.agent_portfolio.dormant_count IS 'owned customers with status dormant';
COMMENT ON COLUMN cartera.agent_portfolio.lost_count IS 'owned customers with status lost';
COMMENT ON COLUMN cartera.agent_portfolio.revenue IS 'net revenue of the owned customers (sum of monetary_total)';
COMMENT ON COLUMN cartera.agent_portfolio.clv IS 'sum of the seed-formula CLV of the owned customers';
COMMENT ON COLUMN cartera.agent_portfolio.clv_predicted_12m IS 'sum of the predicted 12-month values of the owned customers';
COMMENT ON COLUMN cartera.agent_portfolio.open_alerts IS 'alerts assigned to the agent still to do (open or acknowledged)';
COMMENT ON COLUMN cartera.agent_portfolio.red_alerts IS 'open red alerts (act now)';
COMMENT ON COLUMN cartera.agent_portfolio.amber_alerts IS 'open amber alerts (follow up soon)';
COMMENT ON COLUMN cartera.agent_portfolio.green_alerts IS 'open green alerts (opportunities)';
COMMENT ON COLUMN cartera.agent_portfolio.blue_alerts IS 'open blue alerts (for the agent: targets)';
COMMENT ON COLUMN cartera.agent_portfolio.overdue_alerts IS 'open alerts past their due date';

-- The to-do list: what to act on first.
CREATE VIEW cartera.alert_queue WITH (security_invoker = true) AS
SELECT al.alert_id,
       al.kind,
       al.colour,
       array_position(ARRAY['red', 'amber', 'green', 'blue'], al.colour) AS severity,
       al.status,
       al.customer_id,
       c.full_name AS customer_name,
       al.agent_id,
       a.name AS agent_name,
       al.raised_at,
       al.due_on,
       greatest(current_date - al.due_on, 0) AS days_overdue,
       al.message,
       al.detail
  FROM cartera.alert al
  LEFT JOIN cartera.customer c ON c.customer_id = al.customer_id
  LEFT JOIN cartera.agent a ON a.agent_id = al.agent_id
 WHERE al.status IN ('open', 'acknowledged')
 ORDER BY severity, al.due_on, al.alert_id;
COMMENT ON VIEW cartera.alert_queue IS
  'alerts still to do (open or acknowledged), most urgent first: by colour (red, amber, green, blue), then due date';
COMMENT ON COLUMN cartera.alert_queue.alert_id IS 'alert id (act on it with cartera.acknowledge_alert, complete_alert, snooze_alert, dismiss_alert)';
COMMENT ON COLUMN cartera.alert_queue.kind IS 'alert kind (cartera.alert_kind)';
COMMENT ON COLUMN cartera.alert_queue.colour IS 'red = act now, amber = follow up soon, green = opportunity, blue = for the agent';
COMMENT ON COLUMN cartera.alert_queue.severity IS 'colour as a sort key: 1 red, 2 amber, 3 green, 4 blue';
COMMENT ON COLUMN cartera.alert_queue.status IS 'open or acknowledged';
COMMENT ON COLUMN cartera.alert_queue.customer_id IS 'customer concerned; NULL for alerts about the agent';
COMMENT ON COLUMN cartera.alert_queue.customer_name IS 'customer name';
COMMENT ON COLUMN cartera.alert_queue.agent_id IS 'agent who must act';
COMMENT ON COLUMN cartera.alert_queue.agent_name IS 'name of the agent who must act';
COMMENT ON COLUMN cartera.alert_queue.raised_at IS 'when the alert was raised';
COMMENT ON COLUMN cartera.alert_queue.due_on IS 'date by which to act';
COMMENT ON COLUMN cartera.alert_queue.days_overdue IS 'days past due_on (current_date - due_on); 0 when not yet due';
COMMENT ON COLUMN cartera.alert_queue.message IS 'what to do, in the language the alert was raised in';
COMMENT ON COLUMN cartera.alert_queue.detail IS 'details (amounts, dates, offers)';

-- Monthly KPIs per agent: revenue and its growth, buying customers, month on
-- month retention, against the agent's targets.  Sales are credited to the
-- customer's current owner.  Every month from the first to the last month
-- with purchases or targets has a row per agent, so a month without sales
-- shows revenue 0 and retention 0.
CREATE VIEW cartera.kpi_monthly WITH (security_invoker = true) AS
WITH rows AS (
  SELECT c.owner_agent_id AS agent_id, p.customer_id,
         date_trunc('month', p.purchased_at)::date AS month, p.amount, p.kind
    FROM cartera.purchase p
    JOIN cartera.customer c ON c.customer_id = p.customer_id),
buying AS (   -- customer-months with a sale; bought the month before too?
  SELECT b.agent_id, b.month,
         lag(b.month) OVER (PARTITION BY b.customer_id ORDER BY b.month) = (b.month - interval '1 month')::date AS retained
    FROM (SELECT DISTINCT r.agent_id, r.customer_id, r.month FROM rows r WHERE r.kind = 'sale') b),
per_month AS (
  SELECT coalesce(rv.agent_id, bu.agent_id) AS agent_id, coalesce(rv.month, bu.month) AS month,
         coalesce(rv.revenue, 0) AS revenue, coalesce(bu.active, 0) AS active, coalesce(bu.retained, 0) AS retained
    FROM (SELECT r.agent_id, r.month, sum(r.amount) AS revenue FROM rows r GROUP BY r.agent_id, r.month) rv
    FULL JOIN (SELECT b.agent_id, b.month, count(*) AS active, count(*) FILTER (WHERE b.retained) AS retained
                 FROM buying b GROUP BY b.agent_id, b.month) bu
      ON bu.month = rv.month AND bu.agent_id IS NOT DISTINCT FROM rv.agent_id),
agents AS (
  SELECT DISTINCT pm.agent_id FROM per_month pm
  UNION
  SELECT t.agent_id FROM cartera.agent_target t),
months AS (
  SELECT gs::date AS month
    FROM (SELECT min(m) AS first_month, max(m) AS last_month
            FROM (SELECT pm.month AS m FROM per_month pm UNION ALL SELECT t.month FROM cartera.agent_target t) x) b,
         generate_series(b.first_month::timestamp, b.last_month::timestamp, interval '1 month') gs),
series AS (
  SELECT m.month, ag.agent_id,
         coalesce(pm.revenue, 0) AS revenue,
         lag(coalesce(pm.revenue, 0)) OVER w AS previous_revenue,
         coalesce(pm.active, 0) AS active_customers,
         lag(coalesce(pm.active, 0)) OVER w AS previous_active_customers,
         coalesce(pm.retained, 0) AS retained_customers
    FROM months m
    CROSS JOIN agents ag
    LEFT JOIN per_month pm ON pm.month = m.month AND pm.agent_id IS NOT DISTINCT FROM ag.agent_id
  WINDOW w AS (PARTITION BY ag.agent_id ORDER BY m.month))
SELECT s.month,
       s.agent_id,
       a.name AS agent_name,
       s.revenue,
       s.previous_revenue,
       CASE WHEN s.previous_revenue > 0 THEN s.revenue / s.previous_revenue - 1 END AS revenue_growth,
       s.active_customers,
       s.previous_active_customers,
       s.retained_customers,
       s.retained_customers::numeric / nullif(s.previous_active_customers, 0) AS retention_rate,
       t.revenue_target,
       s.revenue / nullif(t.revenue_target, 0) AS revenue_vs_target,
       t.retention_target,
       s.retained_customers::numeric / nullif(s.previous_active_customers, 0) - t.retention_target AS retention_vs_target
  FROM series s
  LEFT JOIN cartera.agent a ON a.agent_id = s.agent_id
  LEFT JOIN cartera.agent_target t ON t.agent_id = s.agent_id AND t.month = s.month;
COMMENT ON VIEW cartera.kpi_monthly IS
  'monthly KPIs per agent (sales credited to the customer''s current owner; NULL agent = unassigned customers): net revenue and growth, buying customers, retention from the previous month, against cartera.agent_target; from the rows of cartera.purchase (tables attached with track_purchases() are not included), calendar months in the session TimeZone';
COMMENT ON COLUMN cartera.kpi_monthly.month IS 'first day of the month';
COMMENT ON COLUMN cartera.kpi_monthly.agent_id IS 'owner agent of the customers; NULL: customers without an owner';
COMMENT ON COLUMN cartera.kpi_monthly.agent_name IS 'agent name';
COMMENT ON COLUMN cartera.kpi_monthly.revenue IS 'net revenue of the month (sales minus refunds in cartera.purchase)';
COMMENT ON COLUMN cartera.kpi_monthly.previous_revenue IS 'net revenue of the previous month; NULL for the first month';
COMMENT ON COLUMN cartera.kpi_monthly.revenue_growth IS 'revenue / previous_revenue - 1 (0.10 = +10 %); NULL when the previous month had no positive revenue';
COMMENT ON COLUMN cartera.kpi_monthly.active_customers IS 'customers with at least one sale in the month (not the life-cycle status "active")';
COMMENT ON COLUMN cartera.kpi_monthly.previous_active_customers IS 'customers with a sale in the previous month; NULL for the first month';
COMMENT ON COLUMN cartera.kpi_monthly.retained_customers IS 'customers with a sale in the previous month and again in this one';
COMMENT ON COLUMN cartera.kpi_monthly.retention_rate IS 'retained_customers / previous_active_customers (0..1); NULL when nobody bought the previous month';
COMMENT ON COLUMN cartera.kpi_monthly.revenue_target IS 'the agent''s revenue target for the month (cartera.agent_target)';
COMMENT ON COLUMN cartera.kpi_monthly.revenue_vs_target IS 'revenue / revenue_target (1 = target met)';
COMMENT ON COLUMN cartera.kpi_monthly.retention_target IS 'the agent''s retention target for the month (0..1)';
COMMENT ON COLUMN cartera.kpi_monthly.retention_vs_target IS 'retention_rate - retention_target (>= 0: target met)';

-- Portfolio-wide month on month retention.
CREATE VIEW cartera.retention_monthly WITH (security_invoker = true) AS
WITH buying AS (
  SELECT b.month,
         lag(b.month) OVER (PARTITION BY b.customer_id ORDER BY b.month) = (b.month - interval '1 month')::date AS retained,
         row_number() OVER (PARTITION BY b.customer_id ORDER BY b.month) = 1 AS first_time
    FROM (SELECT DISTINCT p.customer_id, date_trunc('month', p.purchased_at)::date AS month
            FROM cartera.purchase p WHERE p.kind = 'sale') b),
per_month AS (
  SELECT b.month, count(*) AS active, count(*) FILTER (WHERE b.retained) AS retained,
         count(*) FILTER (WHERE b.first_time) AS first_time
    FROM buying b GROUP BY b.month),
series AS (
  SELECT gs::date AS month,
         coalesce(pm.active, 0) AS active_customers,
         lag(coalesce(pm.active, 0)) OVER (ORDER BY gs) AS previous_active_customers,
         coalesce(pm.retained, 0) AS retained_customers,
         coalesce(pm.first_time, 0) AS new_customers
    FROM (SELECT min(month) AS first_month, max(month) AS last_month FROM per_month) b
    CROSS JOIN generate_series(b.first_month::timestamp, b.last_month::timestamp, interval '1 month') gs
    LEFT JOIN per_month pm ON pm.month = gs::date)
SELECT s.month,
       s.active_customers,
       s.previous_active_customers,
       s.retained_customers,
       s.previous_active_customers - s.retained_customers AS churned_customers,
       s.new_customers,
       s.active_customers - s.retained_customers - s.new_customers AS returning_customers,
       s.retained_customers::numeric / nullif(s.previous_active_customers, 0) AS retention_rate,
       (s.previous_active_customers - s.retained_customers)::numeric / nullif(s.previous_active_customers, 0) AS churn_rate
  FROM series s;
COMMENT ON VIEW cartera.retention_monthly IS
  'portfolio-wide retention month on month: customers who bought in the previous month, how many bought again, how many did not (churned), new and returning buyers; every month from the first to the last sale in cartera.purchase (tracked tables not included), session TimeZone';
COMMENT ON COLUMN cartera.retention_monthly.month IS 'first day of the month';
COMMENT ON COLUMN cartera.retention_monthly.active_customers IS 'customers with at least one sale in the month';
COMMENT ON COLUMN cartera.retention_monthly.previous_active_customers IS 'customers with a sale in the previous month; NULL for the first month';
COMMENT ON COLUMN cartera.retention_monthly.retained_customers IS 'customers with a sale in the previous month and in this one';
COMMENT ON COLUMN cartera.retention_monthly.churned_customers IS 'customers with a sale in the previous month and none in this one';
COMMENT ON COLUMN cartera.retention_monthly.new_customers IS 'customers whose first sale is in this month';
COMMENT ON COLUMN cartera.retention_monthly.returning_customers IS 'customers buying this month after a gap of at least one month without sales';
COMMENT ON COLUMN cartera.retention_monthly.retention_rate IS 'retained / previous active (0..1)';
COMMENT ON COLUMN cartera.retention_monthly.churn_rate IS 'churned / previous active (0..1) = 1 - retention_rate';

-- Cohorts by month of first sale.
CREATE VIEW cartera.cohort_retention WITH (security_invoker = true) AS
WITH buying AS (
  SELECT DISTINCT p.customer_id, date_trunc('month', p.purchased_at)::date AS month
    FROM cartera.purchase p WHERE p.kind = 'sale'),
cohort AS (
  SELECT b.customer_id, min(b.month) AS cohort_month FROM buying b GROUP BY b.customer_id),
sizes AS (
  SELECT c.cohort_month, count(*) AS cohort_size FROM cohort c GROUP BY c.cohort_month),
activity AS (
  SELECT c.cohort_month,
         ((extract(year FROM b.month) - extract(year FROM c.cohort_month)) * 12
          + extract(month FROM b.month) - extract(month FROM c.cohort_month))::integer AS month_offset,
         count(*) AS active
    FROM buying b JOIN cohort c ON c.customer_id = b.customer_id
   GROUP BY 1, 2),
last AS (
  SELECT max(b.month) AS last_month FROM buying b)
SELECT s.cohort_month,
       o.month_offset,
       (s.cohort_month + make_interval(months => o.month_offset))::date AS month,
       s.cohort_size,
       coalesce(a.active, 0) AS active_customers,
       coalesce(a.active, 0)::numeric / s.cohort_size AS retention_rate
  FROM sizes s
  CROSS JOIN last l
  CROSS JOIN LATERAL generate_series(0, ((extract(year FROM l.last_month) - extract(year FROM s.cohort_month)) * 12
                                         + extract(month FROM l.last_month) - extract(month FROM s.cohort_month))::integer) o(month_offset)
  LEFT JOIN activity a ON a.cohort_month = s.cohort_month AND a.month_offset = o.month_offset;
COMMENT ON VIEW cartera.cohort_retention IS
  'cohorts of customers by the month of their first sale: for each month after it (offset 0, 1, ... up to the last month with sales) the share of the cohort that bought; from cartera.purchase (tracked tables not included), session TimeZone';
COMMENT ON COLUMN cartera.cohort_retention.cohort_month IS 'first day of the month of the cohort''s first sale';
COMMENT ON COLUMN cartera.cohort_retention.month_offset IS 'months since the cohort month (0 = the cohort month itself)';
COMMENT ON COLUMN cartera.cohort_retention.month IS 'first day of the month cohort_month + month_offset';
COMMENT ON COLUMN cartera.cohort_retention.cohort_size IS 'customers in the cohort';
COMMENT ON COLUMN cartera.cohort_retention.active_customers IS 'customers of the cohort with a sale in that month';
COMMENT ON COLUMN cartera.cohort_retention.retention_rate IS 'active_customers / cohort_size (0..1; 1 at offset 0)';

-- Birthdays and occasions (cartera.occasions(): the table, or the built-in
-- calendar while it is empty; for the customer's country or every country)
-- from today to 30 days ahead.  29 February birthdays fall on
-- 28 February in common years, as in cartera.run_followups().
CREATE VIEW cartera.upcoming_occasions WITH (security_invoker = true) AS
WITH today AS (
  SELECT current_date AS d, extract(year FROM current_date)::integer AS yr,
         coalesce(current_setting('cartera.language', true), 'es') AS lang),
dates AS (
  SELECT c.customer_id, 'birthday'::text AS kind, NULL::bigint AS occasion_id,
         CASE WHEN t.lang = 'en' THEN 'Birthday' ELSE 'Cumpleaños' END AS occasion_name,
         b.on_date,
         (extract(year FROM b.on_date) - extract(year FROM c.birthday))::integer AS turns
    FROM cartera.customer c
    CROSS JOIN today t
    CROSS JOIN LATERAL (
      SELECT make_date(y, extract(month FROM c.birthday)::integer,
                       least(extract(day FROM c.birthday)::integer,
                             extract(day FROM make_date(y, extract(month FROM c.birthday)::integer, 1)
                                              + interval '1 month - 1 day')::integer)) AS on_date
        FROM generate_series(t.yr, t.yr + 1) g(y)) b
   WHERE c.birthday IS NOT NULL AND b.on_date BETWEEN t.d AND t.d + 30
  UNION ALL
  SELECT c.customer_id, 'occasion', o.occasion_id,
         CASE WHEN t.lang = 'en' THEN o.name_en ELSE o.name_es END,
         od.on_date, NULL
    FROM cartera.occasions() o
    CROSS JOIN today t
    CROSS JOIN LATERAL (SELECT cartera.occasion_date(o, g.y) AS on_date FROM generate_series(t.yr, t.yr + 1) g(y)) od
    JOIN cartera.customer c ON o.country IS NULL OR o.country = c.country
   WHERE od.on_date BETWEEN t.d AND t.d + 30)
SELECT d.on_date AS occasion_date,
       d.on_date - current_date AS days_until,
       d.kind,
       d.occasion_id,
       d.occasion_name,
       d.turns,
       d.customer_id,
       c.full_name,
       c.country,
       c.marketing_consent,
       c.owner_agent_id,
       a.name AS owner_agent_name
  FROM dates d
  JOIN cartera.customer c ON c.customer_id = d.customer_id
  LEFT JOIN cartera.agent a ON a.agent_id = c.owner_agent_id;
COMMENT ON VIEW cartera.upcoming_occasions IS
  'birthdays and special dates (cartera.occasions(), for the customer''s country or every country) from today (current_date) to 30 days ahead, one row per customer and date';
COMMENT ON COLUMN cartera.upcoming_occasions.occasion_date IS 'the date of the birthday or occasion';
COMMENT ON COLUMN cartera.upcoming_occasions.days_until IS 'days from today (0 = today, at most 30)';
COMMENT ON COLUMN cartera.upcoming_occasions.kind IS 'birthday or occasion';
COMMENT ON COLUMN cartera.upcoming_occasions.occasion_id IS 'cartera.occasion id (negative for the built-in calendar); NULL for birthdays';
COMMENT ON COLUMN cartera.upcoming_occasions.occasion_name IS 'name of the occasion (or Birthday) in cartera.language';
COMMENT ON COLUMN cartera.upcoming_occasions.turns IS 'age the customer turns on that birthday; NULL for occasions';
COMMENT ON COLUMN cartera.upcoming_occasions.customer_id IS 'customer id';
COMMENT ON COLUMN cartera.upcoming_occasions.full_name IS 'customer name';
COMMENT ON COLUMN cartera.upcoming_occasions.country IS 'customer country';
COMMENT ON COLUMN cartera.upcoming_occasions.marketing_consent IS 'whether the customer accepted marketing contact (greetings and offers need it)';
COMMENT ON COLUMN cartera.upcoming_occasions.owner_agent_id IS 'owner agent id';
COMMENT ON COLUMN cartera.upcoming_occasions.owner_agent_name IS 'owner agent name';

-- Migration matrix from the transition log: per month, from (segment name,
-- status) to (segment name, status).
CREATE VIEW cartera.segment_migration WITH (security_invoker = true) AS
WITH per_cell AS (
  SELECT date_trunc('month', t.changed_at)::date AS month,
         t.from_status, t.from_segment, t.to_status, t.to_segment, count(*) AS transitions
    FROM cartera.status_transition t
   GROUP BY 1, 2, 3, 4, 5)
SELECT p.month,
       p.from_status::text AS from_status,
       CASE WHEN p.from_segment IS NOT NULL THEN cartera.segment_label(p.from_segment) END AS from_segment_name,
       p.to_status::text AS to_status,
       CASE WHEN p.to_segment IS NOT NULL THEN cartera.segment_label(p.to_segment) END AS to_segment_name,
       sum(p.transitions)::bigint AS transitions
  FROM per_cell p
 GROUP BY 1, 2, 3, 4, 5;
COMMENT ON VIEW cartera.segment_migration IS
  'migration matrix from cartera.status_transition: per month (session TimeZone), how many changes went from one (segment name, status) to another; a NULL "from" is the first state logged for a customer';
COMMENT ON COLUMN cartera.segment_migration.month IS 'first day of the month the changes were logged in (changed_at)';
COMMENT ON COLUMN cartera.segment_migration.from_status IS 'life-cycle status before; NULL for the first state logged';
COMMENT ON COLUMN cartera.segment_migration.from_segment_name IS 'named segment before, in cartera.language; NULL without a segment';
COMMENT ON COLUMN cartera.segment_migration.to_status IS 'life-cycle status after';
COMMENT ON COLUMN cartera.segment_migration.to_segment_name IS 'named segment after, in cartera.language; NULL without a segment';
COMMENT ON COLUMN cartera.segment_migration.transitions IS 'number of changes logged';

------------------------------------------------------------------------------
-- Duplicate customers and merging them.
------------------------------------------------------------------------------

-- Candidate pairs: the same e-mail (case-insensitive), the same phone number
-- (digits only, landline or mobile, at least 6 digits), or a similar name in
-- the same city.  Names and cities are compared without case, repeated spaces
-- or the accents of Spanish, Portuguese and French (José = Jose, Muñoz =
-- Munoz; folded here, the unaccent extension is not needed).  Name similarity
-- is pg_trgm's similarity() when pg_trgm is installed in the database (found
-- at run time, in whatever schema: cartera does not require it), otherwise the
-- folded names must be equal.  The name test compares every pair of customers
-- of a city: its cost grows with the square of the largest city.
CREATE FUNCTION cartera.duplicate_customers(min_similarity real DEFAULT 0.6)
  RETURNS TABLE (keep_id bigint, drop_id bigint, reason text, score real)
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  trgm_schema name;
  name_score text;
  name_match text;
BEGIN
  IF min_similarity IS NULL OR NOT (min_similarity > 0 AND min_similarity <= 1) THEN
    RAISE EXCEPTION 'minimum name similarity must be greater than 0 and at most 1, not %', coalesce(min_similarity::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'pg_trgm similarity goes from 0 (nothing in common) to 1 (same trigrams); 0.6 is the default.';
  END IF;
  SELECT n.nspname INTO trgm_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
   WHERE e.extname = 'pg_trgm';
  IF trgm_schema IS NOT NULL THEN
    name_score := format('%I.similarity(a.name, b.name)', trgm_schema);
    name_match := name_score || ' >= $1';
  ELSE
    name_score := '1';
    name_match := 'a.name = b.name';
  END IF;
  RETURN QUERY EXECUTE format($q$
    WITH base AS (
      SELECT c.customer_id,
             lower(btrim(c.email)) AS email,
             regexp_replace(c.phone, '[^0-9]', '', 'g') AS phone,
             regexp_replace(c.mobile_phone, '[^0-9]', '', 'g') AS mobile,
             lower(translate(regexp_replace(btrim(c.full_name), '\s+', ' ', 'g'), %1$L, %2$L)) AS name,
             lower(translate(regexp_replace(btrim(c.city), '\s+', ' ', 'g'), %1$L, %2$L)) AS city
        FROM cartera.customer c),
    phones AS (
      SELECT b.customer_id, b.phone AS digits FROM base b WHERE length(b.phone) >= 6
      UNION
      SELECT b.customer_id, b.mobile FROM base b WHERE length(b.mobile) >= 6),
    matches AS (
      SELECT a.customer_id AS keep_id, b.customer_id AS drop_id, 1 AS rank, 'email' AS reason, 1::real AS score
        FROM base a JOIN base b ON b.email = a.email AND b.customer_id > a.customer_id
      UNION
      SELECT a.customer_id, b.customer_id, 2, 'phone', 1::real
        FROM phones a JOIN phones b ON b.digits = a.digits AND b.customer_id > a.customer_id
      UNION
      SELECT a.customer_id, b.customer_id, 3, 'name', (%3$s)::real
        FROM base a JOIN base b ON b.city = a.city AND b.customer_id > a.customer_id
       WHERE %4$s)
    SELECT m.keep_id, m.drop_id, string_agg(m.reason, ', ' ORDER BY m.rank), max(m.score)
      FROM matches m
     GROUP BY m.keep_id, m.drop_id
     ORDER BY m.keep_id, m.drop_id$q$,
    'ÁÀÂÄÃÅáàâäãåÉÈÊËéèêëÍÌÎÏíìîïÓÒÔÖÕóòôöõÚÙÛÜúùûüÑñÇç',
    'AAAAAAaaaaaaEEEEeeeeIIIIiiiiOOOOOoooooUUUUuuuuNnCc',
    name_score, name_match)
  USING min_similarity;
END
$fn$;
COMMENT ON FUNCTION cartera.duplicate_customers(real) IS
  'candidate duplicate customers (keep = older id, drop = newer): same e-mail, same phone digits, or similar name in the same city (ignoring case and accents; pg_trgm similarity >= min_similarity when pg_trgm is installed, else equal names); reason lists what matched, score is 1 for e-mail or phone, else the name similarity';

-- The audit log of merges.
CREATE TABLE cartera.customer_merge (
  merge_id     bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  keep_id      bigint NOT NULL,
  drop_id      bigint NOT NULL,
  merged_at    timestamptz NOT NULL DEFAULT now(),
  merged_by    name NOT NULL DEFAULT current_user,
  dropped_row  jsonb NOT NULL,
  moved        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX customer_merge_keep_idx ON cartera.customer_merge (keep_id);
CREATE INDEX customer_merge_drop_idx ON cartera.customer_merge (drop_id);
COMMENT ON TABLE cartera.customer_merge IS 'audit log of cartera.merge_customers(): which customer was merged into which, by whom, and the deleted registry row';
COMMENT ON COLUMN cartera.customer_merge.keep_id IS 'the customer that remains';
COMMENT ON COLUMN cartera.customer_merge.drop_id IS 'the duplicate that was merged into keep_id and deleted';
COMMENT ON COLUMN cartera.customer_merge.merged_at IS 'when the merge happened (transaction time)';
COMMENT ON COLUMN cartera.customer_merge.merged_by IS 'database role that ran the merge';
COMMENT ON COLUMN cartera.customer_merge.dropped_row IS 'the deleted cartera.customer row as it was before the merge (JSON)';
COMMENT ON COLUMN cartera.customer_merge.moved IS 'what moved to keep_id: row counts per table, dismissed alerts, registry fields that changed';

-- Merge a duplicate into the customer to keep, in one transaction:
--  1. both customers are locked (in id order: two merges never deadlock);
--  2. keep's empty registry fields are filled from drop's; life events are
--     united; created_at becomes the earlier one; marketing consent stays only
--     if both records had it (one record without consent may be a withdrawal,
--     and contacting someone who said no is worse than missing a campaign);
--  3. drop's alerts move to keep, except an open one of a kind keep already has
--     open, which is dismissed ("merged into customer N"); open alerts go to
--     keep's owner; interactions, referrals (referred_by) and the
--     status_transition history move to keep;
--  4. drop's purchases move to keep, in cartera.purchase and in every table
--     attached with track_purchases(): the purchase triggers recompute both
--     states and raise the alerts a purchase statement calls for (moving the
--     alerts first makes cool-downs see drop's history: no second welcome);
--  5. an audit row goes to cartera.customer_merge, drop is deleted and keep's
--     state is recomputed at clock_timestamp().
-- It runs with the caller's rights (a manager: write access to the portfolio
-- tables and EXECUTE on cartera.recompute_state).
CREATE FUNCTION cartera.merge_customers(keep bigint, drop bigint)
  RETURNS cartera.customer_merge
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  keep_row cartera.customer;
  drop_row cartera.customer;
  new_keep cartera.customer;
  src record;
  n bigint;
  tracked bigint := 0;
  moved jsonb := '{}';
  result cartera.customer_merge;
BEGIN
  IF keep IS NULL OR drop IS NULL THEN
    RAISE EXCEPTION 'customers to merge must not be null'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF keep = drop THEN
    RAISE EXCEPTION 'cannot merge customer % into itself', keep
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Pass the customer to keep first and its duplicate second.';
  END IF;

  -- 1. lock both
  PERFORM 1 FROM cartera.customer c
    WHERE c.customer_id IN (merge_customers.keep, merge_customers.drop)
    ORDER BY c.customer_id FOR UPDATE;
  SELECT * INTO keep_row FROM cartera.customer c WHERE c.customer_id = merge_customers.keep;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'customer % does not exist', keep
      USING ERRCODE = 'no_data_found', DETAIL = 'It was given as the customer to keep.';
  END IF;
  SELECT * INTO drop_row FROM cartera.customer c WHERE c.customer_id = merge_customers.drop;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'customer % does not exist', drop
      USING ERRCODE = 'no_data_found', DETAIL = 'It was given as the duplicate to merge into customer ' || keep || '.';
  END IF;

  -- 2. registry: keep's values win, drop's fill the gaps
  UPDATE cartera.customer k
     SET company = coalesce(k.company, d.company),
         billing_id = coalesce(k.billing_id, d.billing_id),
         email = coalesce(k.email, d.email),
         phone = coalesce(k.phone, d.phone),
         mobile_phone = coalesce(k.mobile_phone, d.mobile_phone),
         postal_address = coalesce(k.postal_address, d.postal_address),
         work_address = coalesce(k.work_address, d.work_address),
         country = coalesce(k.country, d.country),
         region = coalesce(k.region, d.region),
         city = coalesce(k.city, d.city),
         birthday = coalesce(k.birthday, d.birthday),
         referral_source = coalesce(k.referral_source, d.referral_source),
         -- never the customer itself: keep referred by drop takes drop's referrer
         referred_by = nullif(coalesce(nullif(k.referred_by, d.customer_id), d.referred_by), k.customer_id),
         owner_agent_id = coalesce(k.owner_agent_id, d.owner_agent_id),
         marketing_consent = k.marketing_consent AND d.marketing_consent,
         lost_reason = coalesce(k.lost_reason, d.lost_reason),
         life_events = k.life_events || (SELECT coalesce(jsonb_agg(e.value ORDER BY e.ordinality), '[]')
                                            FROM jsonb_array_elements(d.life_events) WITH ORDINALITY e
                                           WHERE NOT k.life_events @> jsonb_build_array(e.value)),
         created_at = least(k.created_at, d.created_at)
    FROM cartera.customer d
   WHERE k.customer_id = keep_row.customer_id AND d.customer_id = drop_row.customer_id
  RETURNING k.* INTO new_keep;
  moved := jsonb_build_object('changed_fields',
             (SELECT coalesce(jsonb_agg(f.key ORDER BY f.key), '[]')
                FROM jsonb_each(to_jsonb(new_keep)) f
               WHERE f.value IS DISTINCT FROM to_jsonb(keep_row) -> f.key));

  -- 3. alerts (open duplicates of a kind dismissed first), interactions,
  --    referrals, history
  UPDATE cartera.alert d
     SET status = 'dismissed', snoozed_until = NULL, closed_at = clock_timestamp(),
         resolution = format('merged into customer %s', keep_row.customer_id)
   WHERE d.customer_id = drop_row.customer_id
     AND d.status IN ('open', 'acknowledged', 'snoozed')
     AND EXISTS (SELECT 1 FROM cartera.alert k
                  WHERE k.customer_id = keep_row.customer_id AND k.kind = d.kind
                    AND k.status IN ('open', 'acknowledged', 'snoozed'));
  GET DIAGNOSTICS n = ROW_COUNT;
  moved := moved || jsonb_build_object('alerts_dismissed', n);
  UPDATE cartera.alert a
     SET customer_id = keep_row.customer_id,
         agent_id = CASE WHEN a.status IN ('open', 'acknowledged', 'snoozed')
                         THEN coalesce(new_keep.owner_agent_id, a.agent_id) ELSE a.agent_id END
   WHERE a.customer_id = drop_row.customer_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  moved := moved || jsonb_build_object('alerts', n);
  UPDATE cartera.interaction i SET customer_id = keep_row.customer_id WHERE i.customer_id = drop_row.customer_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  moved := moved || jsonb_build_object('interactions', n);
  UPDATE cartera.customer c SET referred_by = keep_row.customer_id
   WHERE c.referred_by = drop_row.customer_id AND c.customer_id <> keep_row.customer_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  moved := moved || jsonb_build_object('referrals', n);
  UPDATE cartera.status_transition t SET customer_id = keep_row.customer_id WHERE t.customer_id = drop_row.customer_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  moved := moved || jsonb_build_object('transitions', n);
  UPDATE cartera.customer_state k SET last_alert_at = greatest(k.last_alert_at, d.last_alert_at)
    FROM cartera.customer_state d
   WHERE k.customer_id = keep_row.customer_id AND d.customer_id = drop_row.customer_id
     AND d.last_alert_at IS NOT NULL;

  -- 4. purchases, from every source (the triggers recompute both states)
  UPDATE cartera.purchase p SET customer_id = keep_row.customer_id WHERE p.customer_id = drop_row.customer_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  moved := moved || jsonb_build_object('purchases', n);
  FOR src IN SELECT s.source, s.customer_column FROM cartera.purchase_source s
              WHERE s.source <> 'cartera.purchase'::regclass ORDER BY s.source::oid LOOP
    EXECUTE format('UPDATE %s SET %I = $1 WHERE %I = $2', src.source, src.customer_column, src.customer_column)
      USING keep_row.customer_id, drop_row.customer_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    tracked := tracked + n;
  END LOOP;
  moved := moved || jsonb_build_object('tracked_purchases', tracked);
  -- what the triggers logged for drop while it emptied is not history
  DELETE FROM cartera.status_transition t WHERE t.customer_id = drop_row.customer_id;

  -- 5. audit, delete, recompute
  INSERT INTO cartera.customer_merge (keep_id, drop_id, dropped_row, moved)
    VALUES (keep_row.customer_id, drop_row.customer_id, to_jsonb(drop_row), moved)
    RETURNING * INTO result;
  DELETE FROM cartera.customer c WHERE c.customer_id = drop_row.customer_id;
  PERFORM cartera.recompute_state(ARRAY[keep_row.customer_id], clock_timestamp());
  RETURN result;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.merge_customers(bigint, bigint) FROM PUBLIC;
COMMENT ON FUNCTION cartera.merge_customers(bigint, bigint) IS
  'merge duplicate customer drop into keep atomically: fill keep''s empty registry fields, move alerts (dismissing duplicates of an open kind), interactions, referrals, history and purchases of every source, log to cartera.customer_merge, delete drop, recompute keep''s state; returns the audit row';

-- user data survives pg_dump
SELECT pg_catalog.pg_extension_config_dump('cartera.customer_merge', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('cartera.customer_merge', 'merge_id'), '');
COMMENT ON SEQUENCE cartera.customer_merge_merge_id_seq IS 'identity of cartera.customer_merge';

-- The duplicate candidates as a view, for BI tools and review screens.
CREATE VIEW cartera.customer_duplicates WITH (security_invoker = true) AS
SELECT d.keep_id, k.full_name AS keep_name, d.drop_id, x.full_name AS drop_name, d.reason, d.score
  FROM cartera.duplicate_customers() d
  JOIN cartera.customer k ON k.customer_id = d.keep_id
  JOIN cartera.customer x ON x.customer_id = d.drop_id;
COMMENT ON VIEW cartera.customer_duplicates IS
  'likely duplicate customers (same e-mail or phone, or similar name in the same city; default similarity 0.6): merge with cartera.merge_customers(keep_id, drop_id)';
COMMENT ON COLUMN cartera.customer_duplicates.keep_id IS 'the older record, to keep';
COMMENT ON COLUMN cartera.customer_duplicates.keep_name IS 'name of the record to keep';
COMMENT ON COLUMN cartera.customer_duplicates.drop_id IS 'the newer record, to merge into keep_id';
COMMENT ON COLUMN cartera.customer_duplicates.drop_name IS 'name of the record to merge';
COMMENT ON COLUMN cartera.customer_duplicates.reason IS 'what matched: email, phone, name (comma-separated)';
COMMENT ON COLUMN cartera.customer_duplicates.score IS '1 for an e-mail or phone match, else the name similarity (0..1)';

------------------------------------------------------------------------------
-- 0.2.0: row-level security per agent (docs/security.md).
--
-- An agent is a database role named in cartera.agent.login.  Row-level
-- security shows an agent only their own portfolio: the customers they own,
-- those customers' purchases, interactions, alerts, state and history, their
-- own targets and their own agent row.  A manager (superuser, the owner of the
-- extension's tables, or a member of a role named cartera_manager) sees
-- everything.  The install script creates no role: the DBA creates the group
-- roles and gives them their privileges with cartera.grant_agent_role() and
-- cartera.grant_manager_role().
--
-- The maintenance functions (triggers, recompute_state, raise_alerts,
-- run_followups, refresh) are SECURITY DEFINER and run as the owner of the
-- tables, which row-level security does not restrict (no FORCE ROW LEVEL
-- SECURITY): they keep seeing the whole portfolio whoever fires them.
-- The policies call the two functions below through a scalar subquery, so
-- they are evaluated once per statement (an InitPlan), not once per row.
------------------------------------------------------------------------------

-- The agent the current role is.  SECURITY INVOKER on purpose: inside a
-- SECURITY DEFINER function current_user would be the owner, not the caller.
-- It reads cartera.agent under the caller's own policies (an agent sees the
-- row whose login is current_user), so it needs SELECT on cartera.agent.
CREATE FUNCTION cartera.current_agent_id() RETURNS bigint
  LANGUAGE sql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
  SELECT a.agent_id FROM cartera.agent a WHERE a.login = current_user
$fn$;
COMMENT ON FUNCTION cartera.current_agent_id() IS
  'agent_id of the agent whose login is current_user, NULL when the current role is not an agent';

-- Managers see every portfolio: superusers (they bypass row-level security
-- anyway), members of the owner of the extension's tables, and members of a
-- role named cartera_manager when the DBA has created one.  "Member" means
-- inheriting its privileges (pg_has_role USAGE).
CREATE FUNCTION cartera.is_manager() RETURNS boolean
  LANGUAGE sql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
  SELECT EXISTS (
    SELECT 1 FROM pg_catalog.pg_roles r
     WHERE (r.rolname = 'cartera_manager'
            OR r.oid = (SELECT c.relowner FROM pg_catalog.pg_class c
                         WHERE c.oid = 'cartera.customer'::pg_catalog.regclass))
       AND pg_catalog.pg_has_role(current_user, r.oid, 'USAGE'))
$fn$;
COMMENT ON FUNCTION cartera.is_manager() IS
  'true when the current role sees every portfolio: superuser, member of the tables'' owner or of role cartera_manager';

-- What an agent creates is theirs: a customer they add without naming an
-- owner is in their portfolio (for other roles the default is NULL, as
-- before, and cartera.assign_owner() picks the owner), and an interaction
-- they record is signed by them.
ALTER TABLE cartera.customer ALTER COLUMN owner_agent_id SET DEFAULT cartera.current_agent_id();
ALTER TABLE cartera.interaction ALTER COLUMN agent_id SET DEFAULT cartera.current_agent_id();

ALTER TABLE cartera.agent ENABLE ROW LEVEL SECURITY;
ALTER TABLE cartera.customer ENABLE ROW LEVEL SECURITY;
ALTER TABLE cartera.purchase ENABLE ROW LEVEL SECURITY;
ALTER TABLE cartera.interaction ENABLE ROW LEVEL SECURITY;
ALTER TABLE cartera.alert ENABLE ROW LEVEL SECURITY;
ALTER TABLE cartera.customer_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE cartera.status_transition ENABLE ROW LEVEL SECURITY;
ALTER TABLE cartera.agent_target ENABLE ROW LEVEL SECURITY;

-- Managers: everything, on every table under row-level security (what they
-- may do is then a matter of table privileges).
CREATE POLICY manager_all ON cartera.agent
  USING ((SELECT cartera.is_manager())) WITH CHECK ((SELECT cartera.is_manager()));
CREATE POLICY manager_all ON cartera.customer
  USING ((SELECT cartera.is_manager())) WITH CHECK ((SELECT cartera.is_manager()));
CREATE POLICY manager_all ON cartera.purchase
  USING ((SELECT cartera.is_manager())) WITH CHECK ((SELECT cartera.is_manager()));
CREATE POLICY manager_all ON cartera.interaction
  USING ((SELECT cartera.is_manager())) WITH CHECK ((SELECT cartera.is_manager()));
CREATE POLICY manager_all ON cartera.alert
  USING ((SELECT cartera.is_manager())) WITH CHECK ((SELECT cartera.is_manager()));
CREATE POLICY manager_all ON cartera.customer_state
  USING ((SELECT cartera.is_manager())) WITH CHECK ((SELECT cartera.is_manager()));
CREATE POLICY manager_all ON cartera.status_transition
  USING ((SELECT cartera.is_manager())) WITH CHECK ((SELECT cartera.is_manager()));
CREATE POLICY manager_all ON cartera.agent_target
  USING ((SELECT cartera.is_manager())) WITH CHECK ((SELECT cartera.is_manager()));

-- Agents: their own row of cartera.agent, their customers and what hangs
-- from them.  WITH CHECK keeps every written row inside the portfolio: an
-- agent cannot create a customer for someone else, hand a customer over,
-- nor put a purchase, interaction or alert on another agent's customer.
CREATE POLICY agent_own ON cartera.agent FOR SELECT
  USING (login = current_user);
CREATE POLICY agent_own ON cartera.customer
  USING (owner_agent_id = (SELECT cartera.current_agent_id()))
  WITH CHECK (owner_agent_id = (SELECT cartera.current_agent_id()));
CREATE POLICY agent_own ON cartera.purchase
  USING (customer_id IN (SELECT c.customer_id FROM cartera.customer c
                          WHERE c.owner_agent_id = (SELECT cartera.current_agent_id())))
  WITH CHECK (customer_id IN (SELECT c.customer_id FROM cartera.customer c
                               WHERE c.owner_agent_id = (SELECT cartera.current_agent_id())));
CREATE POLICY agent_own ON cartera.interaction
  USING (customer_id IN (SELECT c.customer_id FROM cartera.customer c
                          WHERE c.owner_agent_id = (SELECT cartera.current_agent_id())))
  WITH CHECK (customer_id IN (SELECT c.customer_id FROM cartera.customer c
                               WHERE c.owner_agent_id = (SELECT cartera.current_agent_id()))
              AND (agent_id IS NULL OR agent_id = (SELECT cartera.current_agent_id())));
-- an alert about a customer follows the customer's owner (also after a
-- reassignment); an alert about the agent (customer_id NULL) follows agent_id
CREATE POLICY agent_own ON cartera.alert
  USING (CASE WHEN customer_id IS NULL THEN agent_id = (SELECT cartera.current_agent_id())
              ELSE customer_id IN (SELECT c.customer_id FROM cartera.customer c
                                    WHERE c.owner_agent_id = (SELECT cartera.current_agent_id())) END)
  WITH CHECK (CASE WHEN customer_id IS NULL THEN agent_id = (SELECT cartera.current_agent_id())
                   ELSE customer_id IN (SELECT c.customer_id FROM cartera.customer c
                                         WHERE c.owner_agent_id = (SELECT cartera.current_agent_id())) END);
CREATE POLICY agent_own ON cartera.customer_state FOR SELECT
  USING (customer_id IN (SELECT c.customer_id FROM cartera.customer c
                          WHERE c.owner_agent_id = (SELECT cartera.current_agent_id())));
CREATE POLICY agent_own ON cartera.status_transition FOR SELECT
  USING (customer_id IN (SELECT c.customer_id FROM cartera.customer c
                          WHERE c.owner_agent_id = (SELECT cartera.current_agent_id())));
CREATE POLICY agent_own ON cartera.agent_target FOR SELECT
  USING (agent_id = (SELECT cartera.current_agent_id()));

COMMENT ON POLICY manager_all ON cartera.agent IS 'managers (cartera.is_manager()) see and change every agent';
COMMENT ON POLICY manager_all ON cartera.customer IS 'managers (cartera.is_manager()) see and change every customer';
COMMENT ON POLICY manager_all ON cartera.purchase IS 'managers (cartera.is_manager()) see and change every purchase';
COMMENT ON POLICY manager_all ON cartera.interaction IS 'managers (cartera.is_manager()) see and change every interaction';
COMMENT ON POLICY manager_all ON cartera.alert IS 'managers (cartera.is_manager()) see and change every alert';
COMMENT ON POLICY manager_all ON cartera.customer_state IS 'managers (cartera.is_manager()) see every customer''s state';
COMMENT ON POLICY manager_all ON cartera.status_transition IS 'managers (cartera.is_manager()) see every customer''s history';
COMMENT ON POLICY manager_all ON cartera.agent_target IS 'managers (cartera.is_manager()) see and set every agent''s targets';
COMMENT ON POLICY agent_own ON cartera.agent IS 'an agent sees their own row (login = current_user)';
COMMENT ON POLICY agent_own ON cartera.customer IS 'an agent sees and writes only the customers they own';
COMMENT ON POLICY agent_own ON cartera.purchase IS 'an agent sees and writes only purchases of the customers they own';
COMMENT ON POLICY agent_own ON cartera.interaction IS 'an agent sees and writes only interactions with the customers they own, as themselves';
COMMENT ON POLICY agent_own ON cartera.alert IS 'an agent sees and acts on alerts about the customers they own and alerts addressed to them';
COMMENT ON POLICY agent_own ON cartera.customer_state IS 'an agent sees the state of the customers they own';
COMMENT ON POLICY agent_own ON cartera.status_transition IS 'an agent sees the history of the customers they own';
COMMENT ON POLICY agent_own ON cartera.agent_target IS 'an agent sees their own targets';

-- The privileges of an agent role.  Run by the DBA (or the extension owner)
-- once per group role, and again after an upgrade that adds views.
CREATE FUNCTION cartera.grant_agent_role(grantee regrole) RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  v regclass;
BEGIN
  IF grantee IS NULL THEN
    RAISE EXCEPTION 'a role is needed' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  EXECUTE format('GRANT USAGE ON SCHEMA cartera TO %s', grantee);
  -- the portfolio: row-level security keeps it to the agent's own rows
  EXECUTE format('GRANT SELECT, INSERT, UPDATE ON cartera.customer TO %s', grantee);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON cartera.purchase, cartera.interaction TO %s', grantee);
  -- alerts are raised by the system; agents only move them along
  EXECUTE format('GRANT SELECT, UPDATE (status, snoozed_until, closed_at, resolution) ON cartera.alert TO %s', grantee);
  EXECUTE format('GRANT SELECT ON cartera.customer_state, cartera.status_transition, cartera.agent, '
                 'cartera.agent_target TO %s', grantee);
  -- configuration and the portfolio-wide model (no customer data)
  EXECUTE format('GRANT SELECT ON cartera.segment_map, cartera.occasion, cartera.cross_sell_rule, '
                 'cartera.alert_kind, cartera.portfolio_model TO %s', grantee);
  EXECUTE format('GRANT EXECUTE ON FUNCTION cartera.alert_set_status(bigint, text, date, text), '
                 'cartera.acknowledge_alert(bigint), cartera.complete_alert(bigint, text), '
                 'cartera.snooze_alert(bigint, date), cartera.dismiss_alert(bigint, text) TO %s', grantee);
  -- the BI views (security_invoker: they show what the tables show the agent;
  -- a materialized view would ignore row-level security, so none is granted)
  FOR v IN SELECT c.oid FROM pg_catalog.pg_class c
            WHERE c.relnamespace = 'cartera'::pg_catalog.regnamespace AND c.relkind = 'v'
            ORDER BY c.relname LOOP
    EXECUTE format('GRANT SELECT ON %s TO %s', v, grantee);
  END LOOP;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.grant_agent_role(regrole) FROM PUBLIC;
COMMENT ON FUNCTION cartera.grant_agent_role(regrole) IS
  'grant a (group) role what an agent needs: own portfolio tables (row-level security), views, alert actions; nothing that runs maintenance';

-- The privileges of a manager role: an agent's, plus writing every table a
-- manager runs (agents, targets, configuration, alerts) and lead assignment.
-- Row-level security treats as managers only members of cartera_manager, so
-- the grantee must be that role or a member of it.
CREATE FUNCTION cartera.grant_manager_role(grantee regrole) RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  manager oid := (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = 'cartera_manager');
BEGIN
  IF grantee IS NULL THEN
    RAISE EXCEPTION 'a role is needed' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF manager IS NULL THEN
    RAISE EXCEPTION 'role "cartera_manager" does not exist'
      USING ERRCODE = 'undefined_object',
            DETAIL = 'Row-level security shows every portfolio to members of cartera_manager only.',
            HINT = 'CREATE ROLE cartera_manager NOLOGIN; then SELECT cartera.grant_manager_role(''cartera_manager'');';
  END IF;
  IF NOT pg_catalog.pg_has_role(grantee, manager, 'USAGE') THEN
    RAISE EXCEPTION 'role % is not a member of cartera_manager', grantee
      USING ERRCODE = 'invalid_grant_operation',
            DETAIL = 'Row-level security would show it no portfolio.',
            HINT = format('GRANT cartera_manager TO %s;', grantee);
  END IF;
  PERFORM cartera.grant_agent_role(grantee);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON cartera.agent, cartera.agent_target, cartera.customer, '
                 'cartera.purchase, cartera.interaction, cartera.alert, cartera.segment_map, cartera.occasion, '
                 'cartera.cross_sell_rule, cartera.alert_kind TO %s', grantee);
  EXECUTE format('GRANT SELECT ON cartera.purchase_source TO %s', grantee);
  EXECUTE format('GRANT EXECUTE ON FUNCTION cartera.assign_owner(bigint, boolean) TO %s', grantee);
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.grant_manager_role(regrole) FROM PUBLIC;
COMMENT ON FUNCTION cartera.grant_manager_role(regrole) IS
  'grant cartera_manager (or a member of it) what a manager needs: every portfolio, agents, targets, configuration, lead assignment';
