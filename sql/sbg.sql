-- shifted-beta-geometric (sBG) model of contractual retention (src/sbg.c,
-- src/sbg_sql.c): the worked example of Fader & Hardie (2007), the customer
-- aggregates, parallel and two-step fits, projections, DERL, and the errors.
SET search_path = public, cartera;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET extra_float_digits = 0;

-- the paper's two cohorts: customers active at the start of years 1 .. 13
CREATE TEMP TABLE paper (segment text, survivors bigint[]);
INSERT INTO paper VALUES
  ('regular',  '{1000,631,468,382,326,289,262,241,223,207,194,183,173}'),
  ('high end', '{1000,869,743,653,593,551,517,491,468,445,427,409,394}');

-- fitted on years 0-7 as in the paper: alpha 0.704, beta 1.182 and 0.668, 3.806
CREATE TEMP TABLE paper_fit AS
  SELECT segment, survivors, sbg_fit(survivors[1:8]) AS f FROM paper;
SELECT segment, round((f).alpha::numeric, 3) AS alpha, round((f).beta::numeric, 3) AS beta,
       round((f).log_likelihood::numeric, 2) AS ll, (f).customers, (f).converged,
       round((f).se_alpha::numeric, 4) AS se_alpha, round((f).se_beta::numeric, 4) AS se_beta,
       round((f).aic::numeric, 2) AS aic, round((f).bic::numeric, 2) AS bic,
       (f).iterations > 0 AS iterated
  FROM paper_fit ORDER BY segment DESC;

-- projected survivors against the actual ones for years 8-12 (beyond the data)
SELECT segment, t AS year, survivors[t + 1] AS actual,
       round((1000 * sbg_survival(f, t))::numeric, 1) AS projected,
       round((100 * (1000 * sbg_survival(f, t) / survivors[t + 1] - 1))::numeric, 1) AS pct_error
  FROM paper_fit, generate_series(8, 12) t ORDER BY segment DESC, t;

-- the projection a BI tool charts: survival, retention rising with tenure, churn probability
SELECT period, round(survival::numeric, 6) AS survival, round(retention::numeric, 6) AS retention,
       round(churn_probability::numeric, 6) AS churn_probability
  FROM paper_fit, sbg_projection(f, 12) WHERE segment = 'regular';
-- consistent with the single functions
SELECT bool_and(abs(p.survival - sbg_survival(f, p.period)) < 1e-15
            AND (p.period = 0 OR abs(p.retention - sbg_retention(f, p.period)) < 1e-15)
            AND abs(p.churn_probability - sbg_churn_probability(f, p.period)) < 1e-15) AS same
  FROM paper_fit, sbg_projection(f, 20) p;

-- a hand-built model: the other columns are NULL
SELECT * FROM sbg_params(0.668, 3.806);

-- DERL (Fader & Hardie 2010): expected further payments of a customer who has
-- renewed n times, discounted at 10% a period, the next payment undiscounted;
-- it grows with tenure (the customers who stay are the loyal ones)
SELECT segment, n AS renewals, round(sbg_derl(f, 0.1, n)::numeric, 4) AS derl_10pct
  FROM paper_fit, generate_series(0, 4) n ORDER BY segment DESC, n;
-- undiscounted: (beta + n)/(alpha - 1) when alpha > 1
SELECT sbg_derl(sbg_params(3, 8), 0, 5) AS undiscounted,
       round(sbg_derl(sbg_params(3, 8), 1e-9, 5)::numeric, 6) AS nearly_undiscounted;

------------------------------------------------------------------------------
-- from customers: the regular cohort as one row per contract
------------------------------------------------------------------------------
-- customer g is active at the start of the first m years with survivors[m] >= g;
-- m = 8: still active at as_of; else churned in year m, on its renewal day or
-- up to 2 days before; monthly periods from 31 January (renewals on 29
-- February, 31 March, 30 April, ...)
CREATE TEMP TABLE contract AS
  SELECT g AS id, date '2020-01-31' AS started,
         CASE WHEN m < 8 THEN (date '2020-01-31' + m * interval '1 month')::date - (g % 3) END AS ended,
         m
    FROM generate_series(1, 1000) g,
         LATERAL (SELECT count(*)::int AS m FROM paper, unnest(survivors[1:8]) n
                   WHERE segment = 'regular' AND n >= g) c;
SELECT count(*) AS customers, count(ended) AS churned, min(ended), max(ended) FROM contract;

SELECT (s).alpha = (a).alpha AND (s).beta = (a).beta AND (s).log_likelihood = (a).log_likelihood
         AND (s).customers = (a).customers AND (s).se_alpha = (a).se_alpha AS dates_equal_survivors,
       (s).alpha = (p).alpha AND (s).beta = (p).beta AS periods_equal_survivors,
       (s).alpha = (z).alpha AND (s).beta = (z).beta AS timestamptz_equal_dates,
       round((a).alpha::numeric, 3) AS alpha, round((a).beta::numeric, 3) AS beta
  FROM (SELECT f AS s FROM paper_fit WHERE segment = 'regular') s,
       (SELECT sbg_fit(started, ended, date '2020-09-10', interval '1 month') AS a,
               sbg_fit(CASE WHEN ended IS NULL THEN 7 ELSE m END, ended IS NULL) AS p,
               sbg_fit(started::timestamptz, ended::timestamptz, timestamptz '2020-09-10 12:00', interval '1 month') AS z
          FROM contract) c;

-- the period rules on weekly contracts started 2021-01-10, as (periods, active):
-- ended the day of the start: (1, churned); on the first renewal day: (1,
-- churned); a day later: (2, churned); ended after as_of: still active, (7,
-- active); as_of on the 7th renewal day: (7, active), the day before: (6,
-- active); started on as_of: (0, active)
SELECT (x).alpha = (y).alpha AND (x).beta = (y).beta AS same_fit
  FROM (SELECT sbg_fit(s, e, as_of, interval '7 days') x FROM (VALUES
  (date '2021-01-10', date '2021-01-10', date '2021-03-01'),
  (date '2021-01-10', date '2021-01-17', date '2021-03-01'),
  (date '2021-01-10', date '2021-01-18', date '2021-03-01'),
  (date '2021-01-10', date '2021-03-05', date '2021-03-01'),
  (date '2021-01-10', NULL,              date '2021-02-28'),
  (date '2021-01-10', NULL,              date '2021-02-27'),
  (date '2021-01-10', NULL,              date '2021-01-10')) v(s, e, as_of)) a,
       (SELECT sbg_fit(p, a) y FROM (VALUES (1, false), (1, false), (2, false), (7, true), (7, true), (6, true), (0, true)) w(p, a)) b;

------------------------------------------------------------------------------
-- parallel query and shards
------------------------------------------------------------------------------
CREATE TABLE sbg_contract AS
  SELECT c.id + 1000 * k AS id, c.started + (k % 5) AS started, c.ended + (k % 5) AS ended,
         k % 4 AS shard
    FROM contract c, generate_series(0, 39) k
   ORDER BY md5(c.id::text || k);
ANALYZE sbg_contract;
SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE sbg_serial AS
  SELECT sbg_fit(started, ended, date '2020-09-20', interval '1 month') AS f FROM sbg_contract;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
  SELECT sbg_fit(started, ended, date '2020-09-20', interval '1 month') FROM sbg_contract;
SELECT p.f = s.f AS parallel_equals_serial, (p.f).customers,
       round((p.f).alpha::numeric, 3) AS alpha, round((p.f).beta::numeric, 3) AS beta
  FROM (SELECT sbg_fit(started, ended, date '2020-09-20', interval '1 month') AS f FROM sbg_contract) p, sbg_serial s;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET parallel_leader_participation;

-- two halves (and four shards) merged: the serial fit
SELECT m.f = s.f AS halves_equal_serial
  FROM (SELECT sbg_fit_merge(p) AS f FROM (
          SELECT sbg_fit_partial(started, ended, date '2020-09-20', interval '1 month') p
            FROM sbg_contract GROUP BY shard < 2) x) m, sbg_serial s;
SELECT m.f = s.f AS shards_equal_serial, substr(p0[1], 1, 4) AS header
  FROM (SELECT sbg_fit_merge(p) AS f, array_agg(p) AS p0 FROM (
          SELECT sbg_fit_partial(started, ended, date '2020-09-20', interval '1 month') p
            FROM sbg_contract GROUP BY shard) x) m, sbg_serial s;
-- a shard without rows merges like no rows; no rows at all: NULL
SELECT sbg_fit_merge(p) IS NULL AS none FROM (SELECT sbg_fit_partial(1, true) p WHERE false) x;
SELECT sbg_fit(started, ended, date '2020-09-20', interval '1 month') IS NULL AS no_rows
  FROM sbg_contract WHERE false;

------------------------------------------------------------------------------
-- edges and errors
------------------------------------------------------------------------------
-- nobody churned: the supremum is on the edge (warning, converged false)
SELECT (f).converged, (f).alpha < 0.01 AS alpha_small FROM sbg_fit('{100,100,100}') f;
-- a penalizer; the same penalizer on every row
SELECT round((f).alpha::numeric, 3) AS alpha, round((f).beta::numeric, 3) AS beta
  FROM sbg_fit('{1000,631,468,382,326,289,262,241}', 0.01) f;
SELECT (sbg_fit(p, a, 0.01)).alpha = (sbg_fit('{1000,631,468,382,326,289,262,241}'::bigint[], 0.01)).alpha AS same_penalized
  FROM (SELECT CASE WHEN ended IS NULL THEN 7 ELSE m END p, ended IS NULL a FROM contract) c;
SELECT sbg_fit(p, a, pen) FROM (VALUES (1, false, 0.0), (2, true, 0.1)) v(p, a, pen);
SELECT sbg_fit(1, false, -1);
SELECT sbg_fit('{10,5}'::bigint[], 'NaN');
SELECT sbg_fit(started, ended, date '2020-09-20', interval '1 month', -0.5) FROM contract;

-- survivor counts
SELECT sbg_fit('{}');
SELECT sbg_fit('{1000}');
SELECT sbg_fit('{1000,NULL,400}');
SELECT sbg_fit('{1000,600,700}');
SELECT sbg_fit('{1000,-1}');
SELECT sbg_fit('{0,0}');
SELECT sbg_fit('{{1000,600},{500,400}}');
SELECT sbg_fit(NULL::bigint[]) IS NULL AS strict;

-- (periods, active) rows; NULL rows are skipped
SELECT sbg_fit(0, false);
SELECT sbg_fit(-1, true);
SET client_min_messages = error;   -- (too few customers: an edge estimate, with a warning)
SELECT (sbg_fit(p, a)).customers FROM (VALUES (1, false), (NULL, true), (3, NULL), (2, true)) v(p, a);
RESET client_min_messages;

-- contract dates
SELECT sbg_fit(date '2021-02-01', date '2021-01-01', date '2021-06-01', interval '1 month');
SELECT sbg_fit(date '2021-07-01', NULL, date '2021-06-01', interval '1 month');
SELECT sbg_fit(NULL::date, NULL, date '2021-06-01', interval '1 month');
SELECT sbg_fit(date '2021-01-01', NULL, NULL, interval '1 month');
SELECT sbg_fit(date '2021-01-01', NULL, date '2021-06-01', NULL);
SELECT sbg_fit(date '2021-01-01', NULL, date '2021-06-01', interval '0 days');
SELECT sbg_fit(date '2021-01-01', NULL, date '2021-06-01', interval '-1 month');
SELECT sbg_fit(date '2021-01-01', NULL, date '2021-06-01', interval '1 month 15 days');
SELECT sbg_fit(date '-infinity', NULL, date '2021-06-01', interval '1 month');
SELECT sbg_fit(timestamptz '2021-01-01', timestamptz 'infinity', timestamptz '2021-06-01', interval '1 day');
SELECT sbg_fit(timestamptz '2000-01-01', NULL, timestamptz '2100-01-01', interval '1 microsecond');
-- hours are a fixed length: allowed
SET client_min_messages = error;
SELECT (sbg_fit(timestamptz '2021-01-01', NULL, timestamptz '2021-01-02 13:00', interval '12 hours')).customers;
RESET client_min_messages;

-- projections
SELECT sbg_survival(sbg_params(1, 2), -1);
SELECT sbg_retention(sbg_params(1, 2), 0);
SELECT sbg_churn_probability(sbg_params(1, 2), 0) AS p0, sbg_churn_probability(sbg_params(1, 2), 1) AS p1;
SELECT * FROM sbg_projection(sbg_params(1, 2), -1);
SELECT sbg_params(0, 1);
SELECT sbg_params(1, 'Infinity');
SELECT sbg_survival(ROW(NULL, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::sbg_params, 1);
SELECT sbg_survival(ROW(1, -2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::sbg_params, 1);
SELECT sbg_derl(sbg_params(1, 2), -0.1, 1);
SELECT sbg_derl(sbg_params(1, 2), 'NaN', 1);
SELECT sbg_derl(sbg_params(1, 2), 0.1, -1);
SELECT sbg_derl(sbg_params(0.7, 2), 0, 1);
SELECT sbg_derl(sbg_params(0.7, 2), 'Infinity', 1);

-- shards: a state of another fit, a damaged state
SELECT sbg_fit_merge(p) FROM (SELECT bgnbd_fit_partial(1, 1.0, 2.0) p) x;
SELECT sbg_fit_merge('\x00'::bytea);
SELECT sbg_fit_merge(overlay(p placing '\xff'::bytea from length(p) - 3))
  FROM (SELECT sbg_fit_partial(1, false) p) x;

DROP TABLE sbg_contract;
