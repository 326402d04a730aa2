-- cartera demo on the CDNOW sample (data/cdnow/): 2,357 customers, 1997-1998.
\pset footer off
SET TimeZone = 'UTC';
CREATE EXTENSION cartera;
SET cartera.language = 'en';

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
