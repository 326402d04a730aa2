-- The two-step form of the combinable aggregates, for shards (docs/scaling.md).
-- NAME_partial(...) takes the arguments of NAME(...) and returns its state as
-- bytea; NAME_merge(bytea) combines such states and applies NAME's final
-- function.  Run the partial on every shard (one row comes back from each)
-- and merge on the coordinator: the answer is that of NAME() over all rows.
-- Runs after the cdnow test, whose tables it reads.
SET search_path = public, cartera;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET extra_float_digits = 0;

-- three "shards": customers split by id, as a hash-partitioned table would
CREATE TABLE part_purchase AS
  SELECT customer_id, purchased_at, amount, customer_id % 3 AS shard FROM cdnow_purchase;
INSERT INTO part_purchase VALUES (1, '1997-05-05', -3.50, 1), (2, '1997-05-06', NULL, 2), (3, NULL, 4, 0);
CREATE TABLE part_summary AS
  SELECT customer_id, customer_id % 3 AS shard, rfm(purchased_at, amount, date '1997-09-30') AS s
    FROM part_purchase GROUP BY customer_id;

-- one row per shard: the states are a few kilobytes, not the purchases
SELECT shard, count(*) AS customers,
       length(bgnbd_fit_partial(s, 'weeks')) > 0 AS has_state,
       substr(bgnbd_fit_partial(s, 'weeks'), 1, 4) AS header
  FROM part_summary GROUP BY shard ORDER BY shard;

-- rfm over a customer's rows split across shards, and over everything
SELECT (SELECT rfm_merge(p) FROM (SELECT rfm_partial(purchased_at, amount, date '1997-09-30') p
                                    FROM part_purchase WHERE customer_id = 1 GROUP BY (purchased_at::date - date '1997-01-01') % 3) x)
       = (SELECT rfm(purchased_at, amount, date '1997-09-30') FROM part_purchase WHERE customer_id = 1) AS customer_1_same,
       (SELECT rfm_merge(p) FROM (SELECT rfm_partial(purchased_at, amount, date '1997-09-30') p
                                    FROM part_purchase GROUP BY shard) x)
       = (SELECT rfm(purchased_at, amount, date '1997-09-30') FROM part_purchase) AS portfolio_same;
SELECT (rfm_merge(p)).* FROM (SELECT rfm_partial(purchased_at, amount, date '1997-09-30') p
                                FROM part_purchase WHERE customer_id = 1 GROUP BY shard) x;
-- every overload: date / timestamptz purchases, numeric / float8 / bigint amounts, with and without as_of
SELECT bool_and(a IS NOT DISTINCT FROM b) AS every_overload_same FROM (
  SELECT (SELECT rfm_merge(p) FROM (SELECT rfm_partial(purchased_at::date, amount::float8, date '1997-09-30') p FROM part_purchase GROUP BY shard) x),
         (SELECT rfm(purchased_at::date, amount::float8, date '1997-09-30') FROM part_purchase)
  UNION ALL
  SELECT (SELECT rfm_merge(p) FROM (SELECT rfm_partial(purchased_at::date, round(amount)::bigint, date '1997-09-30') p FROM part_purchase GROUP BY shard) x),
         (SELECT rfm(purchased_at::date, round(amount)::bigint, date '1997-09-30') FROM part_purchase)
  UNION ALL
  SELECT (SELECT rfm_merge(p) FROM (SELECT rfm_partial(purchased_at::timestamptz, amount) p FROM part_purchase GROUP BY shard) x),
         (SELECT rfm(purchased_at::timestamptz, amount) FROM part_purchase)) t(a, b);

-- BG/NBD and Gamma-Gamma fits: merged per-shard states give the one-step fit, to the last bit
SELECT (SELECT bgnbd_fit_merge(p) FROM (SELECT bgnbd_fit_partial(s, 'weeks') p FROM part_summary GROUP BY shard) x)
       = (SELECT bgnbd_fit(s, 'weeks') FROM part_summary) AS bgnbd_same,
       (SELECT bgnbd_fit_merge(p) FROM (SELECT bgnbd_fit_partial(s, 'weeks', 0.01) p FROM part_summary GROUP BY shard) x)
       = (SELECT bgnbd_fit(s, 'weeks', 0.01) FROM part_summary) AS penalized_same,
       (SELECT bgnbd_fit_merge(p) FROM (SELECT bgnbd_fit_partial((s).frequency, (s).t_x_days / 7.0, (s).age_days / 7.0) p
                                          FROM part_summary GROUP BY shard) x)
       = (SELECT bgnbd_fit((s).frequency, (s).t_x_days / 7.0, (s).age_days / 7.0) FROM part_summary) AS columns_same,
       (SELECT gamma_gamma_fit_merge(p) FROM (SELECT gamma_gamma_fit_partial(s) p FROM part_summary GROUP BY shard) x)
       = (SELECT gamma_gamma_fit(s) FROM part_summary) AS gamma_gamma_same,
       (SELECT breakpoints_merge(p) FROM (SELECT breakpoints_partial((s).monetary_total::float8, 5) p FROM part_summary GROUP BY shard) x)
       = (SELECT breakpoints((s).monetary_total::float8, 5) FROM part_summary) AS breakpoints_same;
-- many rows, few distinct values (the state may keep counts rather than every value)
SELECT (SELECT breakpoints_merge(p) FROM (SELECT breakpoints_partial((x % 3)::float8, 5) p
                                            FROM generate_series(1, 10000) x GROUP BY x % 2) q)
       = (SELECT breakpoints((x % 3)::float8, 5) FROM generate_series(1, 10000) x) AS repeated_values_same;
SELECT round((m).r::numeric, 3) AS r, round((m).alpha::numeric, 3) AS alpha,
       round((m).a::numeric, 3) AS a, round((m).b::numeric, 3) AS b, (m).customers, (m).time_unit
  FROM (SELECT bgnbd_fit_merge(p) AS m FROM (SELECT bgnbd_fit_partial(s, 'weeks') p FROM part_summary GROUP BY shard) x) q;

-- empty and NULL: a shard without rows sends NULL (skipped); no states at all
-- give what the one-step aggregate gives over no rows
SELECT rfm_partial(purchased_at, amount, date '1997-09-30') IS NULL AS no_rows_partial_is_null
  FROM part_purchase WHERE false;
SELECT rfm_merge(p) IS NULL AS rfm_none, bgnbd_fit_merge(p) IS NULL AS bgnbd_none,
       gamma_gamma_fit_merge(p) IS NULL AS gg_none, breakpoints_merge(p) IS NULL AS breakpoints_none
  FROM (VALUES (NULL::bytea), (NULL)) v(p);
SELECT rfm_merge(p) FROM (SELECT NULL::bytea WHERE false) v(p);
SELECT (SELECT bgnbd_fit_merge(p) FROM (SELECT bgnbd_fit_partial(s, 'weeks') FROM part_summary GROUP BY shard
                                        UNION ALL SELECT NULL) x(p))
       = (SELECT bgnbd_fit(s, 'weeks') FROM part_summary) AS null_shard_skipped;
-- a shard whose values are all NULL has a state that counts nothing
SELECT breakpoints_merge(p) AS all_null_values
  FROM (SELECT breakpoints_partial(NULL::float8, 5) FROM generate_series(1, 3)) x(p);

-- the arguments that must agree across rows must agree across shards too
SELECT bgnbd_fit_merge(p) FROM (SELECT bgnbd_fit_partial(s, 'weeks') FROM part_summary WHERE shard = 0
                                UNION ALL SELECT bgnbd_fit_partial(s, 'days') FROM part_summary WHERE shard = 1) x(p);
SELECT breakpoints_merge(p) FROM (SELECT breakpoints_partial(amount::float8, 5) FROM part_purchase WHERE shard = 0
                                  UNION ALL SELECT breakpoints_partial(amount::float8, 4) FROM part_purchase WHERE shard = 1) x(p);
SELECT rfm_merge(p) FROM (SELECT rfm_partial(purchased_at, amount, date '1997-09-30') FROM part_purchase WHERE shard = 0
                          UNION ALL SELECT rfm_partial(purchased_at, amount, date '1997-10-31') FROM part_purchase WHERE shard = 1) x(p);

-- partial states are combinable themselves: parallel workers give the same bytes' meaning
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
CREATE TEMP TABLE parallel_partial AS
  SELECT bgnbd_fit_partial(s, 'weeks') AS b, breakpoints_partial((s).monetary_total::float8, 5) AS k FROM part_summary;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
SELECT (SELECT bgnbd_fit_merge(b) FROM parallel_partial) = (SELECT bgnbd_fit(s, 'weeks') FROM part_summary) AS parallel_bgnbd_same,
       (SELECT breakpoints_merge(k) FROM parallel_partial) = (SELECT breakpoints((s).monetary_total::float8, 5) FROM part_summary) AS parallel_breakpoints_same;

-- Forms postgres_fdw (PostgreSQL 15) ships to a shard: it sends neither a
-- field of a composite column, (s).frequency, nor an aggregate with a text
-- constant argument, bgnbd_fit_partial(s, 'weeks').  The time unit in days
-- and the field accessors say the same in shippable form.
SELECT (SELECT bgnbd_fit_merge(p) FROM (SELECT bgnbd_fit_partial(s, 7) p FROM part_summary GROUP BY shard) x)
       = (SELECT bgnbd_fit(s, 'weeks') FROM part_summary) AS unit_days_7_is_weeks,
       (SELECT bgnbd_fit_merge(p) FROM (SELECT bgnbd_fit_partial(s, 1, 0.01) p FROM part_summary GROUP BY shard) x)
       = (SELECT bgnbd_fit(s, 'days', 0.01) FROM part_summary) AS unit_days_1_is_days;
SELECT bool_and(summary_recency_days(s) = (s).recency_days AND summary_frequency(s) = (s).frequency
                AND summary_monetary_total(s) = (s).monetary_total) AS accessors_match
  FROM part_summary;
-- a lead has no recency or frequency
SELECT summary_recency_days(l), summary_frequency(l), summary_monetary_total(l)
  FROM (SELECT ROW(NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, date '1997-09-30')::rfm_summary) q(l);
SELECT bgnbd_fit_partial(s, 3) FROM part_summary;
SELECT bgnbd_fit_partial(s, NULL::integer) FROM part_summary;

-- partial_states(): the first step on every leaf partition of a table
CREATE TABLE part_state (customer_id bigint, summary rfm_summary) PARTITION BY HASH (customer_id);
CREATE TABLE part_state_0 PARTITION OF part_state FOR VALUES WITH (MODULUS 3, REMAINDER 0);
CREATE TABLE part_state_1 PARTITION OF part_state FOR VALUES WITH (MODULUS 3, REMAINDER 1);
CREATE TABLE part_state_2 PARTITION OF part_state FOR VALUES WITH (MODULUS 3, REMAINDER 2);
INSERT INTO part_state SELECT customer_id, s FROM part_summary;
SELECT partition, state IS NOT NULL AS has_state
  FROM partial_states('part_state', 'cartera.bgnbd_fit_partial(summary, ''weeks'')') ORDER BY 1;
SELECT (SELECT bgnbd_fit_merge(state) FROM partial_states('part_state', 'cartera.bgnbd_fit_partial(summary, ''weeks'')'))
       = (SELECT bgnbd_fit(s, 'weeks') FROM part_summary) AS partial_states_bgnbd_same,
       (SELECT gamma_gamma_fit_merge(state) FROM partial_states('part_state', 'cartera.gamma_gamma_fit_partial(summary)'))
       = (SELECT gamma_gamma_fit(s) FROM part_summary) AS partial_states_gg_same;
-- a plain table is its own only partition; a view has none
SELECT count(*) AS plain_table_states FROM partial_states('part_summary', 'cartera.breakpoints_partial((s).frequency, 5)');
CREATE VIEW part_view AS SELECT * FROM part_summary;
SELECT * FROM partial_states('part_view', 'cartera.breakpoints_partial((s).frequency, 5)');
SELECT * FROM partial_states('part_state', NULL);

-- A state is checked before it is used: a bytea from elsewhere, the state of
-- another aggregate, a damaged or a crafted one is refused with an error.
SELECT bgnbd_fit_merge('\x00'::bytea);
SELECT rfm_merge('hello world'::bytea);
SELECT bgnbd_fit_merge(p) FROM (SELECT breakpoints_partial(amount::float8, 5) FROM part_purchase) x(p);
SELECT gamma_gamma_fit_merge(p) FROM (SELECT bgnbd_fit_partial(s, 'weeks') FROM part_summary) x(p);
-- a future format version
SELECT rfm_merge(set_byte(p, 4, 2)) FROM (SELECT rfm_partial(purchased_at, amount, date '1997-09-30') FROM part_purchase) x(p);
-- an unknown kind of state
SELECT rfm_merge(set_byte(p, 5, 9)) FROM (SELECT rfm_partial(purchased_at, amount, date '1997-09-30') FROM part_purchase) x(p);
-- one byte changed, or the end cut off: the checksum no longer matches
SELECT breakpoints_merge(set_byte(p, 30, get_byte(p, 30) # 1)) FROM (SELECT breakpoints_partial(amount::float8, 5) FROM part_purchase) x(p);
SELECT rfm_merge(substr(p, 1, length(p) - 3)) FROM (SELECT rfm_partial(purchased_at, amount, date '1997-09-30') FROM part_purchase) x(p);

-- Crafted states with a valid checksum: the payload itself is checked.
-- The header is 'CART', version 1, the kind, the CRC-32C of the payload.
CREATE FUNCTION pg_temp.crc32c(b bytea) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  crc bigint := 4294967295;
BEGIN
  FOR i IN 0 .. length(b) - 1 LOOP
    crc := crc # get_byte(b, i);
    FOR k IN 1 .. 8 LOOP
      crc := CASE WHEN crc & 1 = 1 THEN (crc >> 1) # 2197175160 ELSE crc >> 1 END;
    END LOOP;
  END LOOP;
  RETURN crc # 4294967295;
END
$$;
CREATE FUNCTION pg_temp.wrap(kind int, payload bytea) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
  SELECT 'CART'::bytea || decode(lpad(to_hex(1), 2, '0') || lpad(to_hex(kind), 2, '0')
                                 || lpad(to_hex(pg_temp.crc32c(payload)), 8, '0'), 'hex') || payload
$$;
CREATE FUNCTION pg_temp.payload(state bytea) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
  SELECT substr(state, 11)
$$;
CREATE TEMP TABLE crafted AS
  SELECT (SELECT rfm_partial(purchased_at, amount, date '1997-09-30') FROM part_purchase WHERE customer_id = 3) AS rfm1,
         (SELECT bgnbd_fit_partial(s, 'weeks') FROM part_summary WHERE customer_id <= 5) AS bg,
         (SELECT gamma_gamma_fit_partial(s) FROM part_summary WHERE customer_id <= 50) AS gg,
         (SELECT breakpoints_partial(v, 5) FROM generate_series(1, 4) v) AS bp;
-- the re-wrapped states are accepted as they are
SELECT pg_temp.wrap(1, pg_temp.payload(rfm1)) = rfm1 AS rfm_rewrapped,
       pg_temp.wrap(2, pg_temp.payload(bg)) = bg AS bgnbd_rewrapped,
       pg_temp.wrap(4, pg_temp.payload(bp)) = bp AS breakpoints_rewrapped
  FROM crafted;
-- rfm: purchases set to 0 while a purchase day remains
SELECT rfm_merge(pg_temp.wrap(1, overlay(pg_temp.payload(rfm1) PLACING '\x0000000000000000'::bytea FROM 19))) FROM crafted;
-- rfm: a decimal scale of 1000 in the amount total (the final would overflow its buffer)
SELECT rfm_merge(pg_temp.wrap(1, overlay(pg_temp.payload(rfm1) PLACING '\x03e8'::bytea FROM 55))) FROM crafted;
-- rfm: the last purchase after as_of
SELECT rfm_merge(pg_temp.wrap(1, overlay(pg_temp.payload(rfm1) PLACING '\x7000000000000000'::bytea FROM 35))) FROM crafted;
-- rfm: a payload that ends early, or before its purchase days
SELECT rfm_merge(pg_temp.wrap(1, substr(pg_temp.payload(rfm1), 1, 30))) FROM crafted;
SELECT rfm_merge(pg_temp.wrap(1, overlay(pg_temp.payload(rfm1) PLACING int4send(1000) FROM 47))) FROM crafted;
-- a Gamma-Gamma histogram handed to the BG/NBD merge
SELECT bgnbd_fit_merge(pg_temp.wrap(2, pg_temp.payload(gg))) FROM crafted;
-- BG/NBD: time unit 3
SELECT bgnbd_fit_merge(pg_temp.wrap(2, overlay(pg_temp.payload(bg) PLACING '\x00000003'::bytea FROM 5))) FROM crafted;
-- BG/NBD: a negative penalizer
SELECT bgnbd_fit_merge(pg_temp.wrap(2, overlay(pg_temp.payload(bg) PLACING float8send(-1) FROM 9))) FROM crafted;
-- BG/NBD: a customer count the weights do not add up to
SELECT bgnbd_fit_merge(pg_temp.wrap(2, overlay(pg_temp.payload(bg) PLACING int8send(99) FROM 17))) FROM crafted;
-- BG/NBD: more cells than the length holds
SELECT bgnbd_fit_merge(pg_temp.wrap(2, overlay(pg_temp.payload(bg) PLACING int8send(1000) FROM 33))) FROM crafted;
-- BG/NBD: the first cell with t_x > T, then with weight 0.5
SELECT bgnbd_fit_merge(pg_temp.wrap(2, overlay(pg_temp.payload(bg) PLACING float8send(1e9) FROM 49))) FROM crafted;
SELECT bgnbd_fit_merge(pg_temp.wrap(2, overlay(pg_temp.payload(bg) PLACING float8send(0.5) FROM 65))) FROM crafted;
-- Gamma-Gamma: a mean spend of 0, and a state with a time unit
SELECT gamma_gamma_fit_merge(pg_temp.wrap(3, overlay(pg_temp.payload(gg) PLACING float8send(0) FROM 49))) FROM crafted;
SELECT gamma_gamma_fit_merge(pg_temp.wrap(3, overlay(pg_temp.payload(gg) PLACING '\x00000007'::bytea FROM 5))) FROM crafted;
-- Gamma-Gamma: negative counts
SELECT gamma_gamma_fit_merge(pg_temp.wrap(3, overlay(pg_temp.payload(gg) PLACING int8send(-1) FROM 25))) FROM crafted;
-- histogram: too short to hold its header
SELECT bgnbd_fit_merge(pg_temp.wrap(2, '\x0000000300'::bytea));
-- breakpoints: n = 42, a NaN value, a count that does not match, too short
SELECT breakpoints_merge(pg_temp.wrap(4, overlay(pg_temp.payload(bp) PLACING '\x0000002a'::bytea FROM 1))) FROM crafted;
SELECT breakpoints_merge(pg_temp.wrap(4, overlay(pg_temp.payload(bp) PLACING float8send('NaN') FROM 21))) FROM crafted;
SELECT breakpoints_merge(pg_temp.wrap(4, overlay(pg_temp.payload(bp) PLACING int8send(5) FROM 5))) FROM crafted;
SELECT breakpoints_merge(pg_temp.wrap(4, '\x00000005'::bytea));
-- the states survive the trip unchanged: the crafted table's own states merge fine
SELECT breakpoints_merge(bp) AS bp_ok, (rfm_merge(rfm1)).purchases AS rfm_ok FROM crafted;

DROP VIEW part_view;
DROP TABLE part_state, part_summary, part_purchase;
