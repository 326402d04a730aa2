-- cartera demo on the CDNOW sample (data/cdnow/): 2,357 customers, 1997-1998.
\pset footer off
SET TimeZone = 'UTC';
CREATE EXTENSION cartera;
SET cartera.language = 'en';
-- the language of stored alert messages is the portfolio's (a manager's setting)
INSERT INTO cartera.portfolio_setting (name, value) VALUES ('cartera.language', 'en');

CREATE TABLE purchase (customer_id int, purchased_at date, cds int, amount numeric);
CREATE TEMP TABLE raw (line text);
\copy raw FROM 'data/cdnow/CDNOW_sample.txt'
INSERT INTO purchase
  SELECT f[2]::int, to_date(f[3], 'YYYYMMDD'), f[4]::int, f[5]::numeric
    FROM (SELECT regexp_split_to_array(btrim(line), '\s+') AS f FROM raw) s;

\echo
\echo '== CDNOW sample loaded'
SELECT count(*) AS purchase_lines, count(DISTINCT customer_id) AS customers,
       min(purchased_at) AS first_day, max(purchased_at) AS last_day, sum(amount) AS revenue
  FROM purchase;

-- one pass per customer: the whole RFM summary at the end of the data
CREATE TABLE summary AS
  SELECT customer_id, cartera.rfm(purchased_at, amount, date '1998-06-30') AS s,
         cartera.lifecycle(purchased_at, date '1998-06-30') AS status,
         cartera.clv(purchased_at, amount, date '1998-06-30', interval '3 years') AS clv_3y
    FROM purchase GROUP BY customer_id;
CREATE TABLE cuts AS
  SELECT cartera.breakpoints((s).recency_days, 5) AS r, cartera.breakpoints((s).frequency, 5) AS f,
         cartera.breakpoints((s).monetary_total::float8, 5) AS m FROM summary;

\echo
\echo '== RFM segments (quintiles) at 1998-06-30'
SELECT cartera.segment_name(cartera.rfm_segment(s, r, f, m)) AS segment, count(*) AS customers,
       sum((s).monetary_total) AS revenue, round(avg((s).avg_ticket), 2) AS avg_ticket,
       round(avg((s).recency_days)) AS avg_recency_days
  FROM summary, cuts GROUP BY 1 ORDER BY revenue DESC;

\echo
\echo '== Life-cycle status at 1998-06-30'
SELECT status, count(*) AS customers, sum((s).monetary_total) AS revenue
  FROM summary GROUP BY status ORDER BY status;

\echo
\echo '== Top 10 customers by CLV (average ticket x purchases per year x 3 years)'
SELECT customer_id, cartera.rfm_segment(s, r, f, m) AS rfm, status, (s).purchases,
       (s).avg_ticket, (s).last_purchase::date AS last_purchase, clv_3y
  FROM summary, cuts ORDER BY clv_3y DESC, customer_id LIMIT 10;

-- the predictive models, fitted in the database (weeks, as in the papers)
CREATE TABLE model AS
  SELECT cartera.bgnbd_fit(s, 'weeks') AS bgnbd, cartera.gamma_gamma_fit(s) AS gg FROM summary;

\echo
\echo '== BG/NBD and Gamma-Gamma fitted on all 2,357 customers at 1998-06-30'
SELECT round((bgnbd).r::numeric, 3) AS r, round((bgnbd).alpha::numeric, 3) AS alpha,
       round((bgnbd).a::numeric, 3) AS a, round((bgnbd).b::numeric, 3) AS b,
       round((gg).p::numeric, 2) AS p, round((gg).q::numeric, 2) AS q, round((gg).gamma::numeric, 2) AS gamma
  FROM model;

\echo
\echo '== Top 10 customers by predicted CLV over the next 12 months (1 % monthly discount)'
SELECT customer_id, status, (s).purchases, (s).last_purchase::date AS last_purchase,
       round(cartera.p_alive(bgnbd, s, 'weeks')::numeric, 3) AS p_alive,
       round(cartera.expected_purchases(bgnbd, 52, s, 'weeks')::numeric, 2) AS purchases_next_year,
       round(cartera.clv_predicted(bgnbd, gg, s, 'weeks', 12, 0.01)::numeric, 2) AS predicted_clv_12m,
       clv_3y AS formula_clv_3y
  FROM summary, model ORDER BY predicted_clv_12m DESC, customer_id LIMIT 10;

-- The portfolio layer: the same customers as a portfolio owned by two agents.
SET client_min_messages = warning;
INSERT INTO cartera.agent (agent_id, name, login, region) VALUES (1, 'Ana Pérez', 'ana', 'Norte'), (2, 'Luis Gómez', 'luis', 'Sur');
INSERT INTO cartera.customer (customer_id, full_name, region, marketing_consent, birthday)
  SELECT customer_id, 'Cliente ' || customer_id, CASE WHEN customer_id % 2 = 0 THEN 'Norte' ELSE 'Sur' END,
         customer_id % 3 <> 0, date '1960-01-01' + customer_id * 11
    FROM (SELECT DISTINCT customer_id FROM purchase) c;
INSERT INTO cartera.purchase (customer_id, purchased_at, amount, quantity)
  SELECT customer_id, purchased_at, amount, cds FROM purchase;
INSERT INTO cartera.agent_target (agent_id, month, revenue_target) VALUES (1, '1998-06-01', 9000), (2, '1998-06-01', 6000);
SELECT count(*) AS states FROM cartera.refresh('1998-06-30') \gset
\echo
\echo '== The daily follow-up job for 1998-07-01: alerts raised per kind'
SELECT kind, raised FROM cartera.run_followups('1998-07-01') WHERE raised > 0;

\echo
\echo '== Alert queue by colour (red = act today, amber = this week, green = opportunity, blue = for the agent)'
SELECT colour, agent_name, count(*) AS alerts
  FROM cartera.alert_queue GROUP BY colour, severity, agent_name ORDER BY severity, agent_name;
\echo
\echo '== The first alerts in Ana''s queue'
SELECT colour, kind, customer_name, due_on, message
  FROM cartera.alert_queue WHERE agent_name = 'Ana Pérez' ORDER BY severity, due_on, alert_id LIMIT 8;

\echo
\echo '== KPIs per month and agent, first half of 1998 (revenue, growth, retention, target)'
SELECT month, agent_name, revenue, round(revenue_growth, 2) AS growth, active_customers,
       round(retention_rate, 2) AS retention, revenue_target, round(revenue_vs_target, 2) AS vs_target
  FROM cartera.kpi_monthly WHERE month BETWEEN '1998-01-01' AND '1998-06-01' ORDER BY month, agent_name;

\echo
\echo '== Why customer 1981 is where they are'
SELECT * FROM cartera.explain(1981);
