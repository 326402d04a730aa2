-- Quantile scoring: breakpoints(value, n) gives n-1 cut points, score() maps a
-- value to 1..n, rfm_segment() turns an rfm_summary into a segment.
SET search_path = public, cartera;
SET TimeZone = 'UTC';

-- Cut point k is the value at rank ceil(k*N/n) of the sorted values.
SELECT breakpoints(v, 5) FROM generate_series(1, 100) v;
SELECT breakpoints(v, 4) FROM generate_series(1, 10) v;

-- Same values in any order give the same cut points.
SELECT (SELECT breakpoints(v, 5) FROM (SELECT v FROM generate_series(1, 1000) v ORDER BY v) a) =
       (SELECT breakpoints(v, 5) FROM (SELECT v FROM generate_series(1, 1000) v ORDER BY md5(v::text)) b)
       AS order_independent;

-- Ties are never split: with many equal values some cut points coincide and
-- every equal value gets the same score.
CREATE TEMP TABLE tied AS SELECT CASE WHEN i <= 70 THEN 1 ELSE i END AS v FROM generate_series(1, 100) i;
SELECT breakpoints(v, 5) FROM tied;
SELECT score(v, (SELECT breakpoints(v, 5) FROM tied)) AS score, count(*), min(v), max(v)
  FROM tied GROUP BY 1 ORDER BY 1;

-- score(): 1 + number of cut points below the value; higher_is_better = false
-- reverses it (for recency, where fewer days is better).
SELECT v, score(v, '{10,20,30,40}') AS higher_better, score(v, '{10,20,30,40}', false) AS lower_better
  FROM unnest('{-5,10,10.5,25,40,41,1e9}'::float8[]) v;

-- NULL and NaN values are skipped; no values at all gives NULL.
SELECT breakpoints(v, 3) FROM unnest('{1,2,NULL,3,NaN,4,5,6}'::float8[]) v;
SELECT breakpoints(v, 3) IS NULL AS empty FROM unnest('{}'::float8[]) v;

-- rfm_segment(): R scores recency_days (fewer = better), F frequency, M monetary_total.
CREATE TEMP TABLE purchase (customer_id int, purchased_at date, amount numeric);
INSERT INTO purchase
  SELECT c, date '2024-01-01' + (c * 7 + k * 13) % 170, 10 + c * k % 37
    FROM generate_series(1, 40) c, generate_series(1, 1 + c % 6) k;
CREATE TEMP TABLE summary AS
  SELECT customer_id, rfm(purchased_at, amount, date '2024-06-30') AS s FROM purchase GROUP BY 1;
CREATE TEMP TABLE cuts AS
  SELECT breakpoints((s).recency_days, 5) AS r, breakpoints((s).frequency, 5) AS f,
         breakpoints((s).monetary_total::float8, 5) AS m FROM summary;
SELECT * FROM cuts;
SELECT rfm_segment(s, r, f, m) AS segment, segment_name(rfm_segment(s, r, f, m)), count(*)
  FROM summary, cuts GROUP BY 1 ORDER BY 1 DESC LIMIT 8;
-- every customer with the same recency gets the same R score
SELECT count(DISTINCT recency_score(rfm_segment(s, r, f, m))) AS r_scores_per_recency
  FROM summary, cuts GROUP BY (s).recency_days ORDER BY 1 DESC LIMIT 1;
-- a lead has no segment
SELECT rfm_segment(rfm(purchased_at, amount, date '2000-01-01'), '{1}', '{1}', '{1}') IS NULL AS lead_has_none
  FROM purchase WHERE customer_id = 1;

-- Bad input.
SELECT breakpoints(v, 1) FROM generate_series(1, 10) v;
SELECT breakpoints(v, 10) FROM generate_series(1, 10) v;
SELECT breakpoints(v, NULL) FROM generate_series(1, 10) v;
SELECT breakpoints(v, 2 + v % 2) FROM generate_series(1, 10) v;
SELECT score(5, '{}');
SELECT score(5, '{1,2,3,4,5,6,7,8,9}');
SELECT score(5, '{3,2}');
SELECT score(5, '{1,NULL}');
SELECT score('NaN', '{1,2}');
