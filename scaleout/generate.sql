-- Seeded synthetic purchases in bench.cust / bench.p: the generator of
-- bench/bench.py generate(), in plain SQL (psql variables seed, purchases,
-- customers, end) so that scaleout/run needs no Python.  Everyone buys once,
-- 40 % of the customers buy again with log-normal weights, amounts log-normal
-- (median 33), first purchases spread over 5 years up to :end.  Unlike
-- bench/, customers drop out: each one's repeat purchases fall before an
-- exponential lifetime (mean 2 years) ends, so that the BG/NBD family has a
-- dropout to find and its fits converge, as on real data (CDNOW).
SET TimeZone = 'UTC';
SET client_min_messages = warning;
SET max_parallel_workers_per_gather = 0;   -- serial, so random() is reproducible
CREATE SCHEMA IF NOT EXISTS bench;
DROP TABLE IF EXISTS bench.cust, bench.p;
SELECT setseed(:seed);
CREATE TABLE bench.cust AS
  SELECT c AS customer_id,
         CASE WHEN random() < 0.4
              THEN exp(1.0 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) ELSE 0 END AS w,
         timestamptz :'end' - random() * interval '1826 days' AS first_at,
         -ln(1 - random()) * 730 AS life_days
    FROM generate_series(1, :customers) c;
ALTER TABLE bench.cust ADD COLUMN n bigint NOT NULL DEFAULT 1;
WITH tot AS (SELECT sum(w) AS sw FROM bench.cust),
     e AS (SELECT c.customer_id, (:purchases - :customers) * c.w / tot.sw AS x FROM bench.cust c, tot WHERE c.w > 0),
     f AS (SELECT customer_id, floor(x)::bigint AS n, x - floor(x) AS frac FROM e),
     r AS (SELECT :purchases - :customers - sum(n) AS rest FROM f),
     g AS (SELECT customer_id, n + CASE WHEN row_number() OVER (ORDER BY frac DESC, customer_id) <= r.rest THEN 1 ELSE 0 END AS n
             FROM f, r)
UPDATE bench.cust c SET n = 1 + g.n FROM g WHERE g.customer_id = c.customer_id;
CREATE TABLE bench.p (customer_id bigint NOT NULL, purchased_at timestamptz NOT NULL, amount numeric NOT NULL);
INSERT INTO bench.p
  SELECT customer_id, ts, amount FROM (
    SELECT c.customer_id,
           CASE WHEN g = 1 THEN c.first_at
                ELSE c.first_at + random() * least(timestamptz :'end' - c.first_at, c.life_days * interval '1 day') END AS ts,
           round(exp(3.5 + 0.9 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))::numeric, 2) AS amount
      FROM bench.cust c, generate_series(1, c.n) g) s
   ORDER BY ts;                            -- stored in time order, as a shop appends them
