-- Every aggregate is combinable: with parallel query forced, workers build
-- partial states that are serialized, sent to the leader, deserialized and
-- combined.  The answers must be identical to the serial plan's.
SET search_path = public, cartera;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

-- a table large enough to be split among workers
CREATE TABLE par_purchase AS
  SELECT p.customer_id, p.purchased_at, p.amount
    FROM cdnow_purchase p, generate_series(1, 4) copy
   ORDER BY md5(p.customer_id::text || copy || p.purchased_at::text || p.amount::text);
INSERT INTO par_purchase VALUES (1, '1997-05-05', -3.50), (2, '1997-05-06', NULL), (3, NULL, 4);
ANALYZE par_purchase;

-- the serial answers
SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE serial_rfm AS
  SELECT customer_id, rfm(purchased_at, amount, date '1997-09-30') AS s,
         lifecycle(purchased_at, date '1998-06-30') AS l,
         clv(purchased_at, amount, date '1998-06-30', interval '2 years') AS c
    FROM par_purchase GROUP BY customer_id;
CREATE TEMP TABLE serial_total AS
  SELECT rfm(purchased_at, amount, date '1997-09-30') AS s,
         breakpoints(amount::float8, 5) AS b FROM par_purchase;

-- force parallel plans with 2 workers
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
SET enable_hashagg = off;

-- per customer (GROUP BY): Partial GroupAggregate in the workers, Finalize in the leader
EXPLAIN (COSTS OFF)
  SELECT customer_id, rfm(purchased_at, amount, date '1997-09-30')
    FROM par_purchase GROUP BY customer_id;
SELECT count(*) AS customers,
       count(*) FILTER (WHERE p.s IS NOT DISTINCT FROM serial_rfm.s) AS rfm_equal,
       count(*) FILTER (WHERE p.l = serial_rfm.l) AS lifecycle_equal,
       count(*) FILTER (WHERE p.c = serial_rfm.c) AS clv_equal
  FROM (SELECT customer_id, rfm(purchased_at, amount, date '1997-09-30') AS s,
               lifecycle(purchased_at, date '1998-06-30') AS l,
               clv(purchased_at, amount, date '1998-06-30', interval '2 years') AS c
          FROM par_purchase GROUP BY customer_id) p
  JOIN serial_rfm USING (customer_id);
RESET enable_hashagg;
-- and both agree with plain SQL on the shuffled rows (purchases, days, totals)
SELECT count(*) AS customers_checked,
       count(*) FILTER (WHERE (s).purchases <> q.purchases OR (s).purchase_days <> q.days
                           OR (s).monetary_total <> q.total OR (s).last_purchase <> q.last) AS disagreements
  FROM serial_rfm JOIN (
    SELECT customer_id, count(*) FILTER (WHERE amount >= 0) AS purchases,
           count(DISTINCT purchased_at) FILTER (WHERE amount >= 0) AS days,
           sum(amount) AS total, max(purchased_at) FILTER (WHERE amount >= 0) AS last
      FROM par_purchase
     WHERE purchased_at <= '1997-09-30' AND amount IS NOT NULL
     GROUP BY customer_id) q USING (customer_id);

-- portfolio-wide: Partial Aggregate in the workers, Finalize Aggregate in the leader
EXPLAIN (COSTS OFF)
  SELECT rfm(purchased_at, amount, date '1997-09-30'), breakpoints(amount::float8, 5) FROM par_purchase;
SELECT p.s = t.s AS rfm_equal, p.b = t.b AS breakpoints_equal, (p.s).purchases, (p.s).monetary_total, p.b
  FROM (SELECT rfm(purchased_at, amount, date '1997-09-30') AS s,
               breakpoints(amount::float8, 5) AS b FROM par_purchase) p, serial_total t;

-- the workers really ran
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT rfm(purchased_at, amount, date '1997-09-30') FROM par_purchase;

-- parallel hash aggregation: Partial HashAggregate in the workers, Finalize
-- HashAggregate in the leader (which takes each deserialized state as is)
SET enable_sort = off;
EXPLAIN (COSTS OFF)
  SELECT customer_id, rfm(purchased_at, amount, date '1997-09-30')
    FROM par_purchase GROUP BY customer_id;
SELECT count(*) AS customers,
       count(*) FILTER (WHERE p.s IS NOT DISTINCT FROM serial_rfm.s) AS rfm_equal,
       count(*) FILTER (WHERE p.l = serial_rfm.l) AS lifecycle_equal,
       count(*) FILTER (WHERE p.c = serial_rfm.c) AS clv_equal
  FROM (SELECT customer_id, rfm(purchased_at, amount, date '1997-09-30') AS s,
               lifecycle(purchased_at, date '1998-06-30') AS l,
               clv(purchased_at, amount, date '1998-06-30', interval '2 years') AS c
          FROM par_purchase GROUP BY customer_id) p
  JOIN serial_rfm USING (customer_id);
RESET enable_sort;

-- Memory: a state is 272 bytes per customer (more with over five purchase
-- days), so at work_mem = 64kB the 2,357 customers do not fit and the hash
-- aggregation spills to disk in batches (PostgreSQL writes the input rows
-- of the groups that do not fit and aggregates them in later batches).
-- Spilled, serial and parallel, the answers are those of the in-memory run.
CREATE FUNCTION pg_temp.hashagg_spilled(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  plan json;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, FORMAT JSON) ' || q INTO plan;
  RETURN (plan -> 0 -> 'Plan' ->> 'Node Type') = 'Aggregate'
     AND (plan -> 0 -> 'Plan' ->> 'Strategy') = 'Hashed'
     AND (plan -> 0 -> 'Plan' ->> 'HashAgg Batches')::int > 1;
END $$;
SET work_mem = '64kB';
SET enable_sort = off;
SET max_parallel_workers_per_gather = 0;
SELECT pg_temp.hashagg_spilled($q$
  SELECT customer_id, rfm(purchased_at, amount, date '1997-09-30'),
         lifecycle(purchased_at, date '1998-06-30'),
         clv(purchased_at, amount, date '1998-06-30', interval '2 years')
    FROM par_purchase GROUP BY customer_id $q$) AS serial_spilled;
SELECT count(*) AS customers,
       count(*) FILTER (WHERE p.s IS NOT DISTINCT FROM serial_rfm.s) AS rfm_equal,
       count(*) FILTER (WHERE p.l = serial_rfm.l) AS lifecycle_equal,
       count(*) FILTER (WHERE p.c = serial_rfm.c) AS clv_equal
  FROM (SELECT customer_id, rfm(purchased_at, amount, date '1997-09-30') AS s,
               lifecycle(purchased_at, date '1998-06-30') AS l,
               clv(purchased_at, amount, date '1998-06-30', interval '2 years') AS c
          FROM par_purchase GROUP BY customer_id) p
  JOIN serial_rfm USING (customer_id);
SET max_parallel_workers_per_gather = 2;
SELECT pg_temp.hashagg_spilled($q$
  SELECT customer_id, rfm(purchased_at, amount, date '1997-09-30')
    FROM par_purchase GROUP BY customer_id $q$) AS parallel_spilled;
SELECT count(*) AS customers,
       count(*) FILTER (WHERE p.s IS NOT DISTINCT FROM serial_rfm.s) AS rfm_equal,
       count(*) FILTER (WHERE p.l = serial_rfm.l) AS lifecycle_equal,
       count(*) FILTER (WHERE p.c = serial_rfm.c) AS clv_equal
  FROM (SELECT customer_id, rfm(purchased_at, amount, date '1997-09-30') AS s,
               lifecycle(purchased_at, date '1998-06-30') AS l,
               clv(purchased_at, amount, date '1998-06-30', interval '2 years') AS c
          FROM par_purchase GROUP BY customer_id) p
  JOIN serial_rfm USING (customer_id);
RESET enable_sort;
RESET work_mem;

DROP TABLE par_purchase;
