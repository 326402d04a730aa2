-- The CDNOW sample (Fader & Hardie; data/cdnow/README.md): 2,357 customers,
-- 6,919 purchase lines, Jan 1997 - Jun 1998.  rfm(..., '1997-09-30') must give
-- the lifetimes project's calibration summary for every customer.
SET search_path = public, cartera;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

CREATE TABLE cdnow_raw (line text);
\copy cdnow_raw FROM 'data/cdnow/CDNOW_sample.txt'
CREATE TABLE cdnow_purchase AS
  SELECT f[2]::int AS customer_id, to_date(f[3], 'YYYYMMDD') AS purchased_at,
         f[4]::int AS cds, f[5]::numeric AS amount
    FROM (SELECT regexp_split_to_array(btrim(line), '\s+') AS f FROM cdnow_raw) s;
CREATE TABLE cdnow_reference (id int PRIMARY KEY, x int, t_x numeric, "T" numeric, zbar numeric);
\copy cdnow_reference FROM 'data/cdnow/cdnow_customers_summary_with_transactions.csv' (FORMAT csv, HEADER)
SELECT count(*) AS lines, count(DISTINCT customer_id) AS customers, sum(amount) AS revenue,
       min(purchased_at), max(purchased_at), count(*) FILTER (WHERE amount = 0) AS zero_amount_lines
  FROM cdnow_purchase;

-- Calibration summary: frequency, recency (t_x) and T in weeks, monetary value.
CREATE TABLE cdnow_summary AS
  SELECT customer_id, rfm(purchased_at, amount, date '1997-09-30') AS s
    FROM cdnow_purchase GROUP BY customer_id;

-- Every customer, every field, compared with the published summary (2 decimals).
SELECT count(*) AS customers,
       count(*) FILTER (WHERE (s).frequency = r.x) AS frequency_equal,
       count(*) FILTER (WHERE round((s).t_x_days / 7.0, 2) = r.t_x) AS recency_equal,
       count(*) FILTER (WHERE round((s).age_days / 7.0, 2) = r."T") AS t_equal,
       count(*) FILTER (WHERE round(coalesce((s).repeat_avg, 0), 2) = r.zbar) AS monetary_equal
  FROM cdnow_summary JOIN cdnow_reference r ON r.id = customer_id;
SELECT customer_id, (s).frequency, round((s).t_x_days / 7.0, 2) AS t_x, round((s).age_days / 7.0, 2) AS "T",
       round(coalesce((s).repeat_avg, 0), 2) AS zbar, r.*
  FROM cdnow_summary JOIN cdnow_reference r ON r.id = customer_id
 WHERE (s).frequency <> r.x OR round((s).t_x_days / 7.0, 2) <> r.t_x
    OR round((s).age_days / 7.0, 2) <> r."T" OR round(coalesce((s).repeat_avg, 0), 2) <> r.zbar;
-- 946 repeat customers (x > 0), all with positive repeat spend
SELECT count(*) FILTER (WHERE (s).frequency > 0) AS repeat_customers,
       count(*) FILTER (WHERE (s).repeat_avg > 0) AS positive_repeat_spend
  FROM cdnow_summary;
-- the first three customers, as in the lifetimes documentation
SELECT customer_id, (s).frequency, (s).t_x_days, (s).age_days, (s).monetary_total, (s).repeat_avg
  FROM cdnow_summary ORDER BY customer_id LIMIT 3;

-- RFM segments at the end of the calibration period (quintiles).
CREATE TABLE cdnow_cuts AS
  SELECT breakpoints((s).recency_days, 5) AS r, breakpoints((s).frequency, 5) AS f,
         breakpoints((s).monetary_total::float8, 5) AS m FROM cdnow_summary;
SELECT * FROM cdnow_cuts;
SET cartera.language = 'en';
SELECT segment_name(rfm_segment(s, r, f, m)) AS segment, count(*) AS customers,
       sum((s).monetary_total) AS revenue, round(avg((s).avg_ticket), 2) AS avg_ticket
  FROM cdnow_summary, cdnow_cuts GROUP BY 1 ORDER BY revenue DESC;
RESET cartera.language;

-- Life-cycle status at the end of the calibration period and at the end of the data.
SELECT status, count(*) AS at_1997_09_30 FROM (
  SELECT lifecycle(purchased_at, date '1997-09-30') AS status FROM cdnow_purchase GROUP BY customer_id) s
 GROUP BY status ORDER BY status;
SELECT status, count(*) AS at_1998_06_30 FROM (
  SELECT lifecycle(purchased_at, date '1998-06-30') AS status FROM cdnow_purchase GROUP BY customer_id) s
 GROUP BY status ORDER BY status;

-- Top customers by the seed CLV formula over a 3-year lifespan, at the end of the data.
SELECT customer_id, (rfm(purchased_at, amount, date '1998-06-30')).purchases,
       (rfm(purchased_at, amount, date '1998-06-30')).avg_ticket,
       clv(purchased_at, amount, date '1998-06-30', interval '3 years') AS clv_3y
  FROM cdnow_purchase GROUP BY customer_id ORDER BY clv_3y DESC, customer_id LIMIT 5;
