-- Invariants of the BI views and of merge_customers on a random portfolio:
-- the views partition and add up to the tables they summarise, and merging
-- duplicates loses no revenue.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS cartera;
-- no holdout groups here: which customers they hold out depends on the month
-- (test/followup_uplift.sql tests them on fixed dates)
UPDATE cartera.alert_kind SET holdout_share = 0;
SET search_path = public, cartera;
SET client_min_messages = warning;
SELECT plan(21);

SELECT setseed(0.77);
INSERT INTO cartera.agent (agent_id, name) VALUES (700001, 'Propiedades Uno'), (700002, 'Propiedades Dos');
INSERT INTO cartera.customer (customer_id, full_name, email, owner_agent_id, marketing_consent)
  SELECT 600000 + i, 'Propiedad ' || i,
         -- every customer 600000 + 2k + 1 has a twin 600000 + 2k + 2 with the same e-mail
         format('twin%s@example.com', (i + 1) / 2),
         CASE WHEN i % 5 = 0 THEN NULL ELSE 700001 + i % 2 END, random() < 0.5
    FROM generate_series(1, 300) i;
-- purchases over two years, some refunds, some leads without any
INSERT INTO cartera.purchase (customer_id, purchased_at, amount, kind)
  SELECT c, at, a, CASE WHEN a < 0 THEN 'refund' ELSE 'sale' END
    FROM (SELECT 600001 + floor(random() * 280)::int AS c,
                 now() - interval '1 day' - random() * interval '730 days' AS at,
                 CASE WHEN random() < 0.05 THEN -round((random() * 20)::numeric, 2)
                      ELSE round((exp(random() * 6))::numeric, 2) END AS a
            FROM generate_series(1, 3000)) x;
SELECT customers FROM cartera.refresh();
SELECT ok((SELECT count(*) FROM cartera.customer_state WHERE (summary).purchases > 0) > 250,
          'a random portfolio with hundreds of buying customers');

-- ABC
SELECT is((SELECT count(*) FROM cartera.abc_analysis),
          (SELECT count(*) FROM cartera.customer_state WHERE (summary).purchases > 0),
          'abc_analysis has one row per customer with purchases');
SELECT is((SELECT count(DISTINCT customer_id) FROM cartera.abc_analysis WHERE abc_class IN ('A', 'B', 'C')),
          (SELECT count(*) FROM cartera.abc_analysis),
          'the classes A, B, C partition the customers');
SELECT ok((SELECT sum(revenue_share) >= 0.80 AND sum(revenue_share) - min(revenue_share) < 0.80
             FROM cartera.abc_analysis WHERE abc_class = 'A'),
          'A is the smallest set of best customers reaching 80 % of the revenue');
SELECT ok((SELECT sum(revenue_share) >= 0.95
                  AND sum(revenue_share) - min(revenue_share) FILTER (WHERE abc_class = 'B') < 0.95
             FROM cartera.abc_analysis WHERE abc_class IN ('A', 'B')),
          'A and B are the smallest set reaching 95 %');
SELECT ok((SELECT bool_and(a.revenue >= b.revenue)
             FROM cartera.abc_analysis a, cartera.abc_analysis b WHERE a.abc_class < b.abc_class),
          'every A customer outsells every B, every B every C');

-- summaries add up to customer_state
SELECT is((SELECT (sum(customers), sum(revenue))::text FROM cartera.segment_summary),
          (SELECT (count(*), sum((summary).monetary_total))::text FROM cartera.customer_state),
          'segment_summary adds up to customer_state (customers, revenue)');
SELECT is((SELECT (sum(customers), sum(revenue))::text FROM cartera.lifecycle_summary),
          (SELECT (count(*), sum((summary).monetary_total))::text FROM cartera.customer_state),
          'lifecycle_summary adds up to customer_state');
SELECT is((SELECT (count(*), sum(customers))::text FROM cartera.rfm_grid),
          (SELECT (25, count(*))::text FROM cartera.customer_state WHERE segment IS NOT NULL),
          'rfm_grid has 25 cells holding every segmented customer');
SELECT is((SELECT sum(customers) FROM cartera.agent_portfolio),
          (SELECT count(*)::numeric FROM cartera.customer),
          'agent_portfolio counts every customer once (unassigned included)');
SELECT is((SELECT count(*) FROM cartera.customer_overview), (SELECT count(*) FROM cartera.customer),
          'customer_overview has one row per customer');

-- monthly views
SELECT is((SELECT count(*) FROM cartera.retention_monthly
            WHERE retained_customers + churned_customers <> previous_active_customers
               OR retained_customers + new_customers + returning_customers <> active_customers), 0::bigint,
          'retention_monthly: retained + churned = previous, retained + new + returning = active');
SELECT is((SELECT count(*) FROM cartera.retention_monthly r
             FULL JOIN (SELECT month, sum(active_customers) AS active, sum(revenue) AS revenue
                          FROM cartera.kpi_monthly GROUP BY month) k USING (month)
             FULL JOIN (SELECT date_trunc('month', purchased_at)::date AS month, sum(amount) AS revenue
                          FROM cartera.purchase GROUP BY 1) p USING (month)
            WHERE r.active_customers IS DISTINCT FROM k.active::bigint OR k.revenue IS DISTINCT FROM p.revenue), 0::bigint,
          'kpi_monthly summed over agents gives the buying customers and the revenue of every month');
SELECT is((SELECT count(*) FROM cartera.cohort_retention WHERE month_offset = 0 AND retention_rate <> 1), 0::bigint,
          'every cohort buys in its first month');
SELECT is((SELECT sum(cohort_size) FROM cartera.cohort_retention WHERE month_offset = 0),
          (SELECT count(DISTINCT customer_id)::numeric FROM cartera.purchase WHERE kind = 'sale'),
          'the cohorts partition the buying customers');

-- duplicates and merging
SELECT is((SELECT count(*) FROM cartera.duplicate_customers() WHERE keep_id > 600000 AND reason LIKE 'email%'),
          150::bigint, 'every twin pair is found by e-mail');
SELECT is((SELECT count(*) FROM cartera.duplicate_customers() WHERE keep_id >= drop_id), 0::bigint,
          'the older customer is always the one kept');
CREATE TEMP TABLE before AS
  SELECT count(*) AS customers, sum((summary).monetary_total) AS revenue, sum((summary).purchases) AS purchases
    FROM cartera.customer_state;
SELECT count(*) FROM (SELECT cartera.merge_customers(keep_id, drop_id)
                        FROM cartera.duplicate_customers() WHERE keep_id > 600000 ORDER BY keep_id) m;
SELECT is((SELECT (count(*), sum((summary).monetary_total), sum((summary).purchases))::text FROM cartera.customer_state),
          (SELECT (customers - 150, revenue, purchases)::text FROM before),
          'merging 150 pairs removes 150 customers and keeps the revenue and purchases');
SELECT is((SELECT count(*) FROM cartera.customer_state s
             LEFT JOIN LATERAL (SELECT cartera.rfm(p.purchased_at, p.amount, (s.summary).as_of) AS r
                                  FROM cartera.purchase p WHERE p.customer_id = s.customer_id) f ON true
            WHERE s.customer_id > 600000
              AND CASE WHEN f.r IS NULL THEN (s.summary).purchases <> 0 OR s.status <> 'lead'
                       ELSE s.summary IS DISTINCT FROM f.r END), 0::bigint,
          'after the merges every state equals rfm() over the customer''s purchases (leads: none)');
SELECT is((SELECT count(*) FROM (SELECT 1 FROM cartera.alert
                                   WHERE customer_id > 600000 AND status IN ('open', 'acknowledged', 'snoozed')
                                   GROUP BY customer_id, kind HAVING count(*) > 1) x), 0::bigint,
          'still at most one open alert per customer and kind');
SELECT is((SELECT count(*) FILTER (WHERE e.customer_id IS DISTINCT FROM a.customer_id) || ' of ' || (count(*) > 0)
             FROM cartera.alert_event e JOIN cartera.alert a USING (alert_id)), '0 of true',
          'every alert event carries its alert''s customer, also after the merges');

SELECT * FROM finish();
ROLLBACK;
