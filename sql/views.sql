-- The views for BI tools (Metabase, Superset, Power BI, Grafana), duplicate
-- customers and merging them.  Runs after sql/cdnow.sql (public.cdnow_purchase)
-- and sql/portfolio.sql (agents 1 and 2, customers 1..3 and 1001..3357).
SET search_path = public, cartera;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET cartera.language = 'en';

-- Every view runs with the rights of its reader (so row-level security on the
-- tables applies through it) and documents every column.
SELECT c.relname AS view, c.reloptions
  FROM pg_class c WHERE c.relnamespace = 'cartera'::regnamespace AND c.relkind = 'v' ORDER BY 1;
SELECT c.relname AS view, a.attname AS column_without_comment
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
 WHERE c.relnamespace = 'cartera'::regnamespace AND c.relkind = 'v'
   AND col_description(c.oid, a.attnum) IS NULL;
-- a role allowed to read a view but not the tables under it reads nothing
CREATE ROLE cartera_test_viewer;
GRANT USAGE ON SCHEMA cartera TO cartera_test_viewer;
GRANT SELECT ON cartera.customer_overview TO cartera_test_viewer;
SET ROLE cartera_test_viewer;
SELECT count(*) FROM cartera.customer_overview;
RESET ROLE;
REVOKE ALL ON cartera.customer_overview FROM cartera_test_viewer;
REVOKE ALL ON SCHEMA cartera FROM cartera_test_viewer;
DROP ROLE cartera_test_viewer;

-- The CDNOW portfolio again (sql/portfolio.sql emptied it), owned by Ana
-- (even ids) and Luis (odd ids), with its history at the end of four quarters.
DELETE FROM alert;
DELETE FROM purchase;
UPDATE customer SET owner_agent_id = CASE WHEN customer_id % 2 = 0 THEN 1 ELSE 2 END WHERE customer_id > 1000;
INSERT INTO purchase (customer_id, purchased_at, amount, quantity)
  SELECT 1000 + customer_id, purchased_at, amount, cds FROM cdnow_purchase;
-- rebuilding the history from an earlier day than sql/portfolio.sql's last
-- refresh: the model goes first (refresh() never goes back in time)
DELETE FROM portfolio_model;
SELECT customers FROM refresh('1997-09-30');
DELETE FROM status_transition;
SELECT customers, transitions FROM refresh('1997-12-31');
SELECT customers, transitions FROM refresh('1998-03-31');
SELECT customers, transitions FROM refresh('1998-06-30');
DELETE FROM alert;

-- customer_overview: one row per customer, registry + owner + state.  The best
-- predicted customers:
SELECT customer_id, full_name, owner_agent_name, status, segment, segment_name, frequency, recency_days,
       monetary_total, avg_ticket, round(purchase_probability::numeric, 3) AS purchase_probability,
       round(clv_predicted_12m::numeric, 2) AS clv_predicted_12m, open_alerts
  FROM customer_overview ORDER BY clv_predicted_12m DESC NULLS LAST, customer_id LIMIT 5;
-- leads have a row too, without a segment
SELECT customer_id, full_name, status, segment, segment_name, purchases, monetary_total
  FROM customer_overview WHERE customer_id < 1000 ORDER BY customer_id;

-- segment_summary: per named segment (the NULL row: customers without a segment).
SELECT segment_name, customers, round(customer_share, 3) AS customer_share, revenue,
       round(revenue_share, 3) AS revenue_share, round(avg_ticket, 2) AS avg_ticket,
       round(avg_recency_days) AS avg_recency_days, round(avg_frequency, 2) AS avg_frequency,
       round(avg_clv, 2) AS avg_clv
  FROM segment_summary ORDER BY revenue DESC, segment_name;
-- in Spanish, the language of cartera.language
SET cartera.language = 'es';
SELECT segment_name, customers FROM segment_summary ORDER BY customers DESC, segment_name LIMIT 3;
SET cartera.language = 'en';

-- rfm_grid: the 5 x 5 grid, every cell listed; as a heat map of customers
SELECT recency_score AS r,
       sum(customers) FILTER (WHERE frequency_score = 1) AS f1,
       sum(customers) FILTER (WHERE frequency_score = 2) AS f2,
       sum(customers) FILTER (WHERE frequency_score = 3) AS f3,
       sum(customers) FILTER (WHERE frequency_score = 4) AS f4,
       sum(customers) FILTER (WHERE frequency_score = 5) AS f5
  FROM rfm_grid GROUP BY recency_score ORDER BY recency_score DESC;
SELECT count(*) AS cells, sum(customers) AS customers, round(sum(revenue_share), 6) AS revenue_share
  FROM rfm_grid;
SELECT recency_score, frequency_score, segment_name, customers, revenue, round(avg_monetary_score, 2) AS avg_m
  FROM rfm_grid WHERE recency_score = 5 ORDER BY frequency_score;

-- lifecycle_summary: every status, in life-cycle order, even when empty.
SELECT status, status_order, customers, round(customer_share, 3) AS customer_share, revenue,
       round(avg_ticket, 2) AS avg_ticket, round(avg_recency_days) AS avg_recency_days,
       round(avg_purchase_probability::numeric, 3) AS avg_purchase_probability
  FROM lifecycle_summary ORDER BY status_order;

-- abc_analysis: a third of CDNOW's customers make 80 % of its revenue.
SELECT abc_class, count(*) AS customers, round(count(*) / sum(count(*)) OVER (), 3) AS customer_share,
       sum(revenue) AS revenue, round(sum(revenue_share), 3) AS revenue_share,
       min(revenue) AS min_revenue, max(revenue) AS max_revenue
  FROM abc_analysis GROUP BY abc_class ORDER BY abc_class;
SELECT revenue_rank, customer_id, revenue, round(revenue_share, 4) AS revenue_share,
       round(cumulative_share, 4) AS cumulative_share, round(customer_percentile, 4) AS customer_percentile, abc_class
  FROM abc_analysis WHERE revenue_rank <= 3 OR abs(cumulative_share - 0.8) < 0.0002 ORDER BY revenue_rank;

-- Some alerts to act on: due dates around today.
INSERT INTO agent (agent_id, name, login) VALUES (3, 'Carmen Ruiz', 'carmen');
INSERT INTO alert (customer_id, agent_id, kind, colour, raised_at, due_on, message, status, snoozed_until, closed_at) VALUES
  (1001, 2, 'reactivation', 'amber', now() - interval '10 days', current_date - 3, 'CDNOW 1 is dormant', 'open', NULL, NULL),
  (1002, 1, 'cant_lose', 'red', now() - interval '2 days', current_date + 1, 'CDNOW 2 is high-value and at risk', 'open', NULL, NULL),
  (1003, 2, 'complaint', 'red', now() - interval '1 day', current_date - 1, 'Complaint from CDNOW 3', 'acknowledged', NULL, NULL),
  (NULL, 1, 'below_target', 'blue', now(), current_date, 'Monthly goal of Ana behind pace', 'open', NULL, NULL),
  (1004, 1, 'birthday', 'green', now(), current_date + 2, 'Birthday of CDNOW 4', 'open', NULL, NULL),
  (1005, 2, 'welcome', 'green', now() - interval '20 days', current_date - 18, 'First purchase by CDNOW 5', 'done', NULL, now()),
  (1006, 1, 'reactivation', 'amber', now() - interval '5 days', current_date - 2, 'CDNOW 6 is dormant', 'snoozed', current_date + 5, NULL);

-- alert_queue: open and acknowledged alerts, red first, then by due date.
SELECT kind, colour, severity, status, customer_name, agent_name, due_on - current_date AS due_in_days, days_overdue, message
  FROM alert_queue;

-- agent_portfolio: customers by status, revenue and open alerts by colour.
SELECT agent_id, agent_name, customers, lead_count, new_count, active_count, at_risk_count, dormant_count, lost_count,
       revenue, round(clv_predicted_12m::numeric) AS clv_predicted_12m,
       open_alerts, red_alerts, amber_alerts, green_alerts, blue_alerts, overdue_alerts
  FROM agent_portfolio ORDER BY agent_id;

-- kpi_monthly: per month and agent, against the targets.
INSERT INTO agent_target (agent_id, month, revenue_target, retention_target) VALUES
  (1, '1998-01-01', 8000, 0.10), (1, '1998-02-01', 8000, 0.10), (2, '1998-01-01', 8000, 0.10), (3, '1998-02-01', 500, 0.5);
SELECT month, agent_name, revenue, round(revenue_growth, 3) AS growth, active_customers, previous_active_customers AS previous,
       retained_customers AS retained, round(retention_rate, 3) AS retention, revenue_target,
       round(revenue_vs_target, 3) AS vs_target, retention_target, round(retention_vs_target, 3) AS retention_vs_target
  FROM kpi_monthly WHERE month BETWEEN '1997-12-01' AND '1998-02-01' ORDER BY month, agent_id;
-- every month from the first sale to the last, for every agent with sales or targets
SELECT count(*) AS rows, count(DISTINCT month) AS months, count(DISTINCT agent_id) AS agents,
       min(month), max(month), sum(revenue) AS revenue FROM kpi_monthly;

-- retention_monthly: the whole portfolio, month on month.
SELECT month, active_customers AS active, previous_active_customers AS previous, retained_customers AS retained,
       churned_customers AS churned, new_customers AS new, returning_customers AS returning,
       round(retention_rate, 3) AS retention_rate, round(churn_rate, 3) AS churn_rate
  FROM retention_monthly ORDER BY month;

-- cohort_retention: CDNOW's three cohorts (first purchases in Jan - Mar 1997),
-- percentage of each cohort buying in month 0, 1, 2, ...
SELECT cohort_month, cohort_size, count(*) AS months,
       string_agg(round(100 * retention_rate)::text, ' ' ORDER BY month_offset) AS pct_buying_by_month
  FROM cohort_retention GROUP BY cohort_month, cohort_size ORDER BY cohort_month;

-- segment_migration: where the customers of each segment went, quarter by
-- quarter (changes logged by refresh()).
SELECT month, sum(transitions) AS transitions FROM segment_migration GROUP BY month ORDER BY month;
SELECT from_segment_name, from_status, to_segment_name, to_status, transitions
  FROM segment_migration
 WHERE month = '1998-06-01' AND from_segment_name = 'Champions'
 ORDER BY transitions DESC, to_segment_name, to_status LIMIT 8;

-- upcoming_occasions: birthdays and occasions from today to 30 days ahead
-- (dates relative to today, so only the stable columns are shown).
INSERT INTO occasion (name_es, name_en, country, month, day) VALUES
  ('Aniversario de la tienda', 'Shop anniversary', 'PE',
   extract(month FROM current_date + 10)::int, extract(day FROM current_date + 10)::int);
INSERT INTO customer (customer_id, full_name, country, birthday, owner_agent_id, marketing_consent) VALUES
  (20, 'Camila Rojas', 'PE', (current_date + 5 - interval '28 years')::date, 3, true),
  (21, 'Mateo Díaz', 'PE', (current_date + 45 - interval '40 years')::date, 3, false),
  (22, 'Valentina Soto', 'CL', (current_date - interval '32 years')::date, 3, true);
SELECT customer_id, full_name, kind, occasion_name, days_until, turns, marketing_consent, owner_agent_name
  FROM upcoming_occasions
 WHERE customer_id IN (20, 21, 22) AND (kind = 'birthday' OR occasion_name = 'Shop anniversary')
 ORDER BY days_until, customer_id;
-- every row is in the window, and occasion dates are occasion_date()
SELECT count(*) FILTER (WHERE days_until NOT BETWEEN 0 AND 30) AS outside_window,
       count(*) FILTER (WHERE kind = 'occasion' AND occasion_date <> (SELECT occasion_date(o, extract(year FROM u.occasion_date)::int)
                                                                     FROM occasion o WHERE o.occasion_id = u.occasion_id)) AS wrong_dates
  FROM upcoming_occasions u;

------------------------------------------------------------------------------
-- Duplicate customers: same e-mail (any case), same phone digits, or the same
-- name in the same city (case, spaces and accents aside).
------------------------------------------------------------------------------
INSERT INTO customer (customer_id, full_name, email, phone, mobile_phone, city, country, birthday,
                      company, owner_agent_id, marketing_consent, life_events) VALUES
  (10, 'Rosa Fernández', 'rosa@example.com', '600 111 222', NULL, 'Madrid', 'ES', NULL,
   NULL, 1, true, '[{"event": "moved", "date": "2024-01-10"}]'),
  (11, 'Rosa Fernandez', 'ROSA@Example.com', NULL, '(600) 111-222', 'Madrid', 'ES', '1990-05-05',
   'Muebles Rosa SL', 2, false, '[{"event": "bought a car", "date": "2024-03-01"}, {"event": "moved", "date": "2024-01-10"}]'),
  (12, 'Pedro Sanz', 'pedro@example.com', '+34 911 234 567', NULL, 'Toledo', 'ES', NULL, NULL, 1, true, '[]'),
  (13, 'P. Sanz', 'psanz@example.org', NULL, '34 911-234-567', 'Toledo', 'ES', NULL, NULL, 2, true, '[]'),
  (14, 'Ana Torres', NULL, NULL, NULL, 'Sevilla', 'ES', NULL, NULL, 1, true, '[]'),
  (15, 'ana  torres', NULL, NULL, NULL, ' sevilla', 'ES', NULL, NULL, 2, true, '[]'),
  (16, 'José García Pérez', 'jgp@example.com', NULL, NULL, 'Valencia', 'ES', NULL, NULL, 1, true, '[]'),
  (17, 'Jose Garcia Peres', 'jose.garcia@example.net', NULL, NULL, 'Valencia', 'ES', NULL, NULL, 2, true, '[]'),
  (18, 'José García Pérez', NULL, NULL, NULL, 'Bilbao', 'ES', NULL, NULL, 1, true, '[]');
-- without pg_trgm: names must be equal (ignoring case, spaces and accents);
-- the same name in another city is another person
SELECT * FROM duplicate_customers();
-- with pg_trgm, in whatever schema it lives, similar names match too (the
-- score is their similarity), above the threshold given
CREATE SCHEMA trgm;
CREATE EXTENSION pg_trgm SCHEMA trgm;
SELECT * FROM duplicate_customers();
SELECT * FROM duplicate_customers(0.9);
-- the same pairs as a view, with both names, for a review screen
SELECT * FROM customer_duplicates ORDER BY keep_id, drop_id;
DROP EXTENSION pg_trgm;
DROP SCHEMA trgm;
SELECT * FROM duplicate_customers(0);
SELECT * FROM duplicate_customers(1.5);

------------------------------------------------------------------------------
-- Merging: customer 11 is customer 10 registered twice.
------------------------------------------------------------------------------
-- 11 has purchases (its first one raised a welcome alert), both complained
-- (an open red alert each), 11 referred 12 and has history.
INSERT INTO purchase (customer_id, purchased_at, amount, product, category) VALUES
  (11, now() - interval '40 days', 100.00, 'Sofá', 'muebles'),
  (11, now() - interval '5 days', 50.00, 'Mesa', 'muebles');
INSERT INTO interaction (customer_id, channel, is_complaint, note) VALUES
  (10, 'phone', true, 'late delivery'), (11, 'email', true, 'late delivery'), (11, 'visit', false, 'likes oak');
UPDATE customer SET referred_by = 11 WHERE customer_id = 12;
SELECT customer_id, kind, colour, status, agent_id FROM alert WHERE customer_id IN (10, 11) ORDER BY customer_id, kind;
SELECT customer_id, status, (summary).purchases, (summary).monetary_total FROM customer_state WHERE customer_id IN (10, 11)
 ORDER BY customer_id;
CREATE TEMP TABLE before_merge AS
  SELECT count(*) AS customers, sum((summary).monetary_total) AS revenue, sum((summary).purchases) AS purchases
    FROM customer_state;

SELECT keep_id, drop_id, merged_by = current_user AS merged_by_me, dropped_row ->> 'full_name' AS dropped_name, moved
  FROM merge_customers(10, 11);

-- the registry of 10 took what it lacked; consent needs both records to have it
SELECT customer_id, full_name, email, phone, mobile_phone, birthday, company, owner_agent_id, marketing_consent, life_events
  FROM customer WHERE customer_id IN (10, 11);
-- alerts: 11's welcome moved, its duplicate complaint dismissed, no second welcome
SELECT customer_id, kind, status, agent_id, resolution FROM alert WHERE customer_id IN (10, 11) ORDER BY kind, status;
SELECT customer_id, count(*) AS interactions FROM interaction WHERE customer_id IN (10, 11) GROUP BY customer_id;
SELECT customer_id, referred_by FROM customer WHERE customer_id = 12;
-- history: 11's own change (moved), then 10's own when the purchases arrived
SELECT customer_id, from_status, to_status FROM status_transition WHERE customer_id IN (10, 11) ORDER BY transition_id;
-- the state of 10 is the from-scratch computation over its purchases; 11 is gone
SELECT s.customer_id, s.status, (s.summary).purchases, (s.summary).monetary_total,
       (s.summary) = f.r AS summary_equal, s.status = lifecycle_status(f.r, (s.summary).as_of) AS status_equal
  FROM customer_state s
  CROSS JOIN LATERAL (SELECT rfm(p.purchased_at, p.amount, (s.summary).as_of) AS r
                        FROM purchase p WHERE p.customer_id = s.customer_id) f
 WHERE s.customer_id IN (10, 11);
-- nothing was lost: one customer less, the same revenue and purchases
SELECT b.customers - count(*) AS customers_removed, sum((summary).monetary_total) - b.revenue AS revenue_change,
       sum((summary).purchases) - b.purchases AS purchases_change
  FROM customer_state, before_merge b GROUP BY b.customers, b.revenue, b.purchases;
SELECT keep_id, drop_id, dropped_row ->> 'email' AS dropped_email, moved ->> 'purchases' AS purchases
  FROM customer_merge ORDER BY merge_id;
-- the pair is no longer a duplicate
SELECT * FROM duplicate_customers();

-- Purchases in tables attached with track_purchases() move too.
CREATE TABLE pos_sales (id serial PRIMARY KEY, client bigint NOT NULL, sold_on date NOT NULL, total numeric NOT NULL);
CREATE INDEX ON pos_sales (client);
SELECT track_purchases('pos_sales', 'client', 'sold_on', 'total') >= 0 AS tracked;
INSERT INTO pos_sales (client, sold_on, total) VALUES (13, current_date - 3, 20.00), (13, current_date - 2, 30.00);
INSERT INTO purchase (customer_id, purchased_at, amount) VALUES (12, now() - interval '1 day', 5.00);
SELECT keep_id, drop_id, moved -> 'purchases' AS purchases, moved -> 'tracked_purchases' AS tracked_purchases,
       moved -> 'referrals' AS referrals, moved -> 'changed_fields' AS changed_fields
  FROM merge_customers(12, 13);
SELECT client, count(*) FROM pos_sales GROUP BY client;
SELECT customer_id, (summary).purchases, (summary).monetary_total FROM customer_state WHERE customer_id IN (12, 13);
SELECT untrack_purchases('pos_sales') >= 0 AS untracked;
DROP TABLE pos_sales;

-- Errors.
SELECT merge_customers(10, 10);
SELECT merge_customers(10, 11);
SELECT merge_customers(999, 10);
SELECT merge_customers(NULL, 10);
-- a failed merge changes nothing
SELECT count(*) AS merges FROM customer_merge;
