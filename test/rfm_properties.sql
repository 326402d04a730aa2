-- Properties of the per-customer aggregates on random purchase logs:
-- rfm() equals a plain-SQL computation of every field, whatever the row order.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS cartera;
SET search_path = public, cartera;
SET TimeZone = 'America/Santiago';   -- a zone with DST: days are local days
SELECT plan(12);

SELECT setseed(0.42);
CREATE TEMP TABLE p AS
  SELECT (random() * 300)::int AS customer_id,
         timestamptz '2023-01-01' + random() * interval '600 days' AS purchased_at,
         CASE WHEN random() < 0.05 THEN -round((random() * 50)::numeric, 2)   -- refunds
              WHEN random() < 0.03 THEN 0                                     -- free orders
              WHEN random() < 0.02 THEN NULL                                  -- no amount
              ELSE round((exp(random() * 5))::numeric, 2) END AS amount
    FROM generate_series(1, 6000);
-- same-day repeats
INSERT INTO p SELECT customer_id, purchased_at + interval '1 minute', 1.00 FROM p WHERE random() < 0.1;

CREATE TEMP TABLE ours AS
  SELECT customer_id, rfm(purchased_at, amount, timestamptz '2024-06-01') AS s
    FROM p GROUP BY customer_id;

-- the reference, written the long way
CREATE TEMP TABLE ref AS
WITH rows AS (
  SELECT * FROM p WHERE purchased_at <= '2024-06-01' AND amount IS NOT NULL AND purchased_at IS NOT NULL),
days AS (
  SELECT customer_id, purchased_at::date AS day, sum(amount) AS day_total
    FROM rows WHERE amount >= 0 GROUP BY 1, 2),
ranked AS (
  SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY day) AS n,
         lag(day) OVER (PARTITION BY customer_id ORDER BY day) AS prev
    FROM days)
SELECT c.customer_id,
       min(r.purchased_at) FILTER (WHERE r.amount >= 0) AS first_purchase,
       max(r.purchased_at) FILTER (WHERE r.amount >= 0) AS last_purchase,
       count(*) FILTER (WHERE r.amount >= 0) AS purchases,
       (SELECT count(*) FROM days d WHERE d.customer_id = c.customer_id) AS purchase_days,
       coalesce(sum(r.amount), 0) AS monetary_total,
       (SELECT sum(day_total) FILTER (WHERE n > 1) / nullif(count(*) - 1, 0)
          FROM ranked k WHERE k.customer_id = c.customer_id) AS repeat_avg,
       (SELECT max(day) - min(day) FROM days d WHERE d.customer_id = c.customer_id) AS t_x_days,
       (SELECT date '2024-06-01' - max(day) FROM days d WHERE d.customer_id = c.customer_id) AS recency_days,
       (SELECT date '2024-06-01' - min(day) FROM days d WHERE d.customer_id = c.customer_id) AS age_days,
       (SELECT day - prev FROM ranked k WHERE k.customer_id = c.customer_id ORDER BY day DESC LIMIT 1) AS last_gap_days
  FROM (SELECT DISTINCT customer_id FROM p) c LEFT JOIN rows r USING (customer_id)
 GROUP BY c.customer_id;

SELECT is((SELECT count(*) FROM ours), (SELECT count(*) FROM ref), 'one summary per customer');
SELECT is((SELECT count(*) FROM ours JOIN ref USING (customer_id)
            WHERE (s).first_purchase IS DISTINCT FROM ref.first_purchase
               OR (s).last_purchase IS DISTINCT FROM ref.last_purchase), 0::bigint,
          'first and last purchase equal the SQL reference');
SELECT is((SELECT count(*) FROM ours JOIN ref USING (customer_id)
            WHERE (s).purchases <> ref.purchases OR (s).purchase_days <> ref.purchase_days), 0::bigint,
          'purchases and purchase days equal the SQL reference (refunds are not purchases)');
SELECT is((SELECT count(*) FROM ours JOIN ref USING (customer_id)
            WHERE (s).monetary_total <> ref.monetary_total), 0::bigint,
          'monetary_total is the exact sum, refunds included');
SELECT is((SELECT count(*) FROM ours JOIN ref USING (customer_id)
            WHERE round((s).repeat_avg, 2) IS DISTINCT FROM round(ref.repeat_avg, 2)), 0::bigint,
          'repeat_avg is the mean of the repeat purchase days');
SELECT is((SELECT count(*) FROM ours JOIN ref USING (customer_id)
            WHERE (s).t_x_days IS DISTINCT FROM ref.t_x_days
               OR (s).recency_days IS DISTINCT FROM ref.recency_days
               OR (s).age_days IS DISTINCT FROM ref.age_days
               OR (s).last_gap_days IS DISTINCT FROM ref.last_gap_days), 0::bigint,
          'day differences are local calendar days');
SELECT is((SELECT count(*) FROM ours WHERE (s).frequency <> (s).purchase_days - 1), 0::bigint,
          'frequency = purchase_days - 1');

-- order does not matter
SELECT is((SELECT count(*) FROM ours JOIN (
             SELECT customer_id, rfm(purchased_at, amount, timestamptz '2024-06-01' ORDER BY purchased_at DESC) AS s2
               FROM p GROUP BY customer_id) o USING (customer_id)
            WHERE s IS DISTINCT FROM s2), 0::bigint, 'newest-first order gives the same summaries');
SELECT is((SELECT count(*) FROM ours JOIN (
             SELECT customer_id, rfm(purchased_at, amount, timestamptz '2024-06-01' ORDER BY amount, random()) AS s2
               FROM p GROUP BY customer_id) o USING (customer_id)
            WHERE s IS DISTINCT FROM s2), 0::bigint, 'random order gives the same summaries');

-- the lifecycle aggregate (no amount column: fed the same purchase rows)
-- applies the documented rules to the same facts
SELECT is((SELECT count(*) FROM ours JOIN (
             SELECT customer_id, lifecycle(purchased_at, timestamptz '2024-06-01') AS l
               FROM p WHERE amount >= 0 GROUP BY customer_id) a USING (customer_id)
            WHERE a.l IS DISTINCT FROM CASE
                  WHEN (s).purchases = 0 THEN 'lead'
                  WHEN (s).recency_days > 365 THEN 'lost'
                  WHEN (s).recency_days > 120 THEN 'dormant'
                  WHEN (s).recency_days > 60 THEN 'at_risk'
                  WHEN (s).age_days <= 30 THEN 'new'
                  WHEN (s).last_gap_days > 120 THEN 'reactivated'
                  ELSE 'active' END::lifecycle_status), 0::bigint,
          'lifecycle() follows the rules on recency, age and the last gap');
SELECT is((SELECT count(*) FROM ours WHERE lifecycle_status(s) IS DISTINCT FROM
             (SELECT lifecycle(purchased_at, timestamptz '2024-06-01') FROM p
               WHERE p.customer_id = ours.customer_id AND amount >= 0)), 0::bigint,
          'lifecycle_status(summary) agrees with the aggregate');

-- clv() is the seed formula on the summary's own numbers
SELECT is((SELECT count(*) FROM ours JOIN (
             SELECT customer_id, clv(purchased_at, amount, timestamptz '2024-06-01', interval '2 years') AS c
               FROM p GROUP BY customer_id) v USING (customer_id)
            WHERE (s).purchases > 0 AND abs(v.c - round((s).monetary_total * 2
                  / greatest((s).age_days / 365.25, 1), 2)) > 0.01), 0::bigint,
          'clv() = total x lifespan / observed years (at least one)');

SELECT * FROM finish();
ROLLBACK;
