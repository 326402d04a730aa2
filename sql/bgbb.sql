-- BG/BB (Fader, Hardie & Shang 2010): discrete transaction opportunities.
-- The donations data (data/donations/README.md): 11,104 donors of 1995, six
-- yearly opportunities 1996-2001.  The fit must be the published one; the
-- predictions are checked against values computed independently with mpmath
-- (test/unit/bgbb_mpmath.py, 50 digits, sums term by term).
SET search_path = public, cartera;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET extra_float_digits = 0;

CREATE TABLE donations (frequency int, recency int, n int, n_custs bigint);
\copy donations FROM 'data/donations/donations_summary.csv' (FORMAT csv, HEADER)
SELECT count(*) AS histories, sum(n_custs) AS donors FROM donations;

-- the fit on the summary table, one row per history with its donor count:
-- FHS 2010 report alpha 1.204, beta 0.750, gamma 0.657, delta 2.783, LL -33,225.6
CREATE TABLE donations_fit AS SELECT bgbb_fit(frequency, recency, n, n_custs) AS m FROM donations;
SELECT round((m).alpha::numeric, 4) AS alpha, round((m).beta::numeric, 4) AS beta,
       round((m).gamma::numeric, 4) AS gamma, round((m).delta::numeric, 4) AS delta,
       round((m).log_likelihood::numeric, 1) AS log_likelihood, (m).customers, (m).converged
  FROM donations_fit;
-- standard errors (observed information), AIC and BIC
SELECT round((m).se_alpha::numeric, 4) AS se_alpha, round((m).se_beta::numeric, 4) AS se_beta,
       round((m).se_gamma::numeric, 4) AS se_gamma, round((m).se_delta::numeric, 4) AS se_delta,
       round((m).aic::numeric, 1) AS aic, round((m).bic::numeric, 1) AS bic,
       round((m).aic::numeric - (8 - 2 * (m).log_likelihood)::numeric, 9) AS aic_is_8_minus_2ll
  FROM donations_fit;

-- integer counts are counts too (an integer is never taken for a penalizer)
SELECT (SELECT bgbb_fit(frequency, recency, n, n_custs::int) FROM donations) = m AS integer_counts_same,
       (SELECT bgbb_fit(frequency, recency, n, n_custs::int, 0.01) FROM donations)
       = (SELECT bgbb_fit(frequency, recency, n, n_custs, 0.01) FROM donations) AS integer_counts_penalized_same,
       (SELECT bgbb_fit_merge(p) FROM (SELECT bgbb_fit_partial(frequency, recency, n, n_custs::int) p FROM donations GROUP BY n % 2
                                       UNION ALL SELECT bgbb_fit_partial(frequency, recency, n, n_custs::int, 0) FROM donations WHERE false) x)
       = m AS integer_partial_same
  FROM donations_fit;
-- (the customer count of the state: payload bytes 17..24, after the 10-byte header)
SELECT ('x' || encode(substr(p, 27, 8), 'hex'))::bit(64)::bigint AS literal_5_is_a_count
  FROM (SELECT bgbb_fit_partial(2, 3, 6, 5)) x(p);

-- one row per donor, in a shuffled order, gives exactly the same fit
CREATE TABLE donors AS
  SELECT d.frequency, d.recency, d.n, row_number() OVER (ORDER BY md5(d.frequency || '/' || d.recency || '/' || g)) AS id
    FROM donations d, generate_series(1, d.n_custs) g;
ANALYZE donors;
SELECT count(*) AS donors FROM donors;
SELECT (SELECT bgbb_fit(frequency, recency, n) FROM donors) = (SELECT m FROM donations_fit) AS one_row_per_donor_same,
       (SELECT bgbb_fit(ROW(frequency, recency, n)::bgbb_summary) FROM donors) = (SELECT m FROM donations_fit) AS summary_form_same;

-- a penalizer shrinks the parameters; the log-likelihood reported is the unpenalised one, lower
SELECT round((p).alpha::numeric, 4) AS alpha, round((p).beta::numeric, 4) AS beta,
       round((p).gamma::numeric, 4) AS gamma, round((p).delta::numeric, 4) AS delta,
       (p).log_likelihood < (m).log_likelihood AS lower_ll,
       (SELECT bgbb_fit(frequency, recency, n, 0.01) FROM donors) = p AS per_donor_same,
       (SELECT bgbb_fit(ROW(frequency, recency, n)::bgbb_summary, 0.01) FROM donors) = p AS summary_same
  FROM (SELECT bgbb_fit(frequency, recency, n, n_custs, 0.01) AS p FROM donations) q, donations_fit;

-- parallel query: workers build histograms, the leader combines them
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT bgbb_fit(frequency, recency, n) FROM donors;
SELECT (SELECT bgbb_fit(frequency, recency, n) FROM donors) = (SELECT m FROM donations_fit) AS parallel_same,
       (SELECT bgbb_fit(frequency, recency, n, 1::bigint, 0.01) FROM donors)
       = (SELECT bgbb_fit(frequency, recency, n, n_custs, 0.01) FROM donations) AS parallel_penalized_same;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET parallel_leader_participation;

-- the two-step form for shards: halves of the donors, merged
SELECT id % 2 AS shard, length(bgbb_fit_partial(frequency, recency, n)) > 0 AS has_state,
       substr(bgbb_fit_partial(frequency, recency, n), 1, 4) AS header
  FROM donors GROUP BY id % 2 ORDER BY 1;
SELECT (SELECT bgbb_fit_merge(p) FROM (SELECT bgbb_fit_partial(frequency, recency, n) p FROM donors GROUP BY id % 2) x)
       = (SELECT m FROM donations_fit) AS halves_same,
       (SELECT bgbb_fit_merge(p) FROM (SELECT bgbb_fit_partial(frequency, recency, n, n_custs) p FROM donations GROUP BY frequency % 2) x)
       = (SELECT m FROM donations_fit) AS weighted_halves_same,
       (SELECT bgbb_fit_merge(p) FROM (SELECT bgbb_fit_partial(ROW(frequency, recency, n)::bgbb_summary, 0.01) p FROM donors GROUP BY id % 3) x)
       = (SELECT bgbb_fit(frequency, recency, n, n_custs, 0.01) FROM donations) AS summary_penalized_thirds_same,
       (SELECT bgbb_fit_merge(p) FROM (SELECT bgbb_fit_partial(frequency, recency, n, 0.01) p FROM donors GROUP BY id % 2
                                       UNION ALL SELECT NULL) x)
       = (SELECT bgbb_fit(frequency, recency, n, n_custs, 0.01) FROM donations) AS null_shard_skipped,
       (SELECT bgbb_fit_merge(p) FROM (SELECT bgbb_fit_partial(frequency, recency, n, n_custs, 0.01) p FROM donations GROUP BY n_custs > 300) x)
       = (SELECT bgbb_fit(frequency, recency, n, n_custs, 0.01) FROM donations) AS weighted_penalized_same;
SELECT bgbb_fit_merge(p) IS NULL AS no_states FROM (VALUES (NULL::bytea)) v(p);
-- penalizers must agree across shards, and a state of another fit is refused
SELECT bgbb_fit_merge(p) FROM (SELECT bgbb_fit_partial(frequency, recency, n) FROM donors WHERE id % 2 = 0
                               UNION ALL SELECT bgbb_fit_partial(frequency, recency, n, 0.1) FROM donors WHERE id % 2 = 1) x(p);
SELECT bgbb_fit_merge(p) FROM (SELECT bgnbd_fit_partial(1, 2.0, 3.0)) x(p);
SELECT bgnbd_fit_merge(p) FROM (SELECT bgbb_fit_partial(1, 2, 3)) x(p);
SELECT bgbb_fit_merge(set_byte(p, 30, get_byte(p, 30) # 1)) FROM (SELECT bgbb_fit_partial(frequency, recency, n) FROM donors) x(p);
-- crafted states with a valid checksum: the cells are checked
CREATE FUNCTION pg_temp.crc32c(b bytea) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  crc bigint := 4294967295;
BEGIN
  FOR i IN 0 .. length(b) - 1 LOOP
    crc := crc # get_byte(b, i);
    FOR k IN 1 .. 8 LOOP
      crc := CASE WHEN crc & 1 = 1 THEN (crc >> 1) # 2197175160 ELSE crc >> 1 END;
    END LOOP;
  END LOOP;
  RETURN crc # 4294967295;
END
$$;
CREATE FUNCTION pg_temp.wrap(kind int, payload bytea) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
  SELECT 'CART'::bytea || decode(lpad(to_hex(1), 2, '0') || lpad(to_hex(kind), 2, '0')
                                 || lpad(to_hex(pg_temp.crc32c(payload)), 8, '0'), 'hex') || payload
$$;
CREATE TEMP TABLE crafted AS SELECT substr(bgbb_fit_partial(2, 3, 6), 11) AS bb;
SELECT pg_temp.wrap(5, bb) = (SELECT bgbb_fit_partial(2, 3, 6)) AS rewrapped_same FROM crafted;
-- x > t_x; x not whole; x = 0 with t_x > 0; n = 0; a time unit; a weight that is not the count
SELECT bgbb_fit_merge(pg_temp.wrap(5, overlay(bb PLACING float8send(4) FROM 41))) FROM crafted;
SELECT bgbb_fit_merge(pg_temp.wrap(5, overlay(bb PLACING float8send(1.5) FROM 41))) FROM crafted;
SELECT bgbb_fit_merge(pg_temp.wrap(5, overlay(bb PLACING float8send(0) FROM 41))) FROM crafted;
SELECT bgbb_fit_merge(pg_temp.wrap(5, overlay(overlay(overlay(bb PLACING float8send(0) FROM 41) PLACING float8send(0) FROM 49) PLACING float8send(0) FROM 57))) FROM crafted;
SELECT bgbb_fit_merge(pg_temp.wrap(5, overlay(bb PLACING int4send(7) FROM 5))) FROM crafted;
SELECT bgbb_fit_merge(pg_temp.wrap(5, overlay(bb PLACING float8send(2) FROM 65))) FROM crafted;
-- a BG/NBD payload under the BG/BB kind
SELECT bgbb_fit_merge(pg_temp.wrap(5, substr(p, 11))) FROM (SELECT bgnbd_fit_partial(1, 2.0, 3.0)) x(p);

-- edge cases: no rows, only n = 0 (nothing observed yet), NULLs skipped, zero counts skipped
SELECT bgbb_fit(frequency, recency, n) IS NULL AS no_rows FROM donors WHERE false;
SELECT bgbb_fit(0, 0, 0) IS NULL AS only_n_0;
SELECT (bgbb_fit(f, r, n, c, 0.1)).customers AS customers
  FROM (VALUES (1, 1, 3, 2::bigint), (NULL, 1, 3, 5), (1, NULL, 3, 5), (1, 1, NULL, 5), (1, 1, 3, NULL),
               (0, 0, 3, 0), (2, 3, 3, 1)) v(f, r, n, c);
SELECT (bgbb_fit(s, 0.1)).customers FROM (VALUES (ROW(1, 1, 3)::bgbb_summary), (NULL), (ROW(NULL, 1, 3)::bgbb_summary)) v(s);
-- everybody transacts at every opportunity: the supremum is at the edge (p = 1)
SELECT (m).converged, (m).se_alpha IS NULL AS no_se
  FROM (SELECT bgbb_fit(6, 6, 6, 100::bigint) AS m) q;

-- invalid histories and arguments
SELECT bgbb_fit(-1, 0, 6);
SELECT bgbb_fit(3, 2, 6);
SELECT bgbb_fit(2, 7, 6);
SELECT bgbb_fit(0, 2, 6);
SELECT bgbb_fit(1, 1, 100001);
SELECT bgbb_fit(1, 1, 6, -1::bigint);
SELECT bgbb_fit(1, 1, 6, -0.5);
SELECT bgbb_fit(1, 1, 6, NULL::float8);
SELECT bgbb_fit(1, 1, 6, 'infinity'::float8);
SELECT bgbb_fit(frequency, recency, n, CASE WHEN frequency = 0 THEN 0.1 ELSE 0.2 END) FROM donations;

------------------------------------------------------------------------------
-- bgbb_history(): purchases to (frequency, recency, n) on a period grid
------------------------------------------------------------------------------
CREATE TABLE bb_log (customer text, purchased_at timestamptz);
INSERT INTO bb_log VALUES
  -- acquired 2020 (twice that year), bought in 2021 (twice), 2023 and on the last
  -- day of 2025; 2026 is not complete on as_of, 2027 is after it
  ('regular', '2020-03-01'), ('regular', '2020-11-30'), ('regular', '2021-05-01'), ('regular', '2021-06-01'),
  ('regular', '2023-02-01'), ('regular', '2025-12-31 23:59:59'), ('regular', '2026-01-01'), ('regular', '2027-01-01'),
  -- one purchase: nothing after the acquisition, 6 opportunities
  ('once', '2020-01-01'),
  -- acquired in 2022, last bought 2024: x = 2 of n = 3, t_x = 2
  ('late', '2022-07-07'), ('late', '2023-07-07'), ('late', '2024-07-07'),
  -- acquired in the last complete period: n = 0
  ('last', '2025-06-01'),
  -- acquired in the incomplete period: n = 0, its purchase there not counted
  ('current', '2026-01-01 00:00'), ('current', '2026-01-01 10:00'),
  -- only after as_of: not a customer yet
  ('future', '2026-02-01'),
  -- a NULL purchase time is skipped
  ('nulls', NULL), ('nulls', '2024-01-01');
SELECT customer, bgbb_history(purchased_at, '2020-01-01', '1 year', '2026-01-01 12:00') AS h
  FROM bb_log GROUP BY customer ORDER BY customer;
-- the field values, and the fit reads the summaries
SELECT (h).frequency, (h).recency, (h).n FROM (SELECT bgbb_history(purchased_at, '2020-01-01', '1 year', '2026-01-01 12:00') h
                                                FROM bb_log WHERE customer = 'late') q;
-- month periods follow the calendar: origin Jan 31, period 1 is [Feb 29, Mar 31) in 2024
SELECT bgbb_history(t, '2024-01-31', '1 month', '2024-06-15') AS h
  FROM (VALUES (timestamptz '2024-02-10'), ('2024-02-29 10:00'), ('2024-05-30')) v(t);
SELECT bgbb_history(t, '2024-01-31', '1 month', '2024-06-15') AS h
  FROM (VALUES (timestamptz '2024-02-10'), ('2024-02-28 23:00'), ('2024-05-31')) v(t);
-- weekly periods in a time zone with a DST change: '1 day' steps are calendar days
SET TimeZone = 'Europe/Madrid';
SELECT bgbb_history(t, '2024-03-25 00:00', '1 week', '2024-04-15 00:00') AS h
  FROM (VALUES (timestamptz '2024-03-25 08:00'), ('2024-04-01 00:00'), ('2024-04-14 23:59')) v(t);
SET TimeZone = 'UTC';
-- empty: no rows, or only NULL purchase times
SELECT bgbb_history(purchased_at, '2020-01-01', '1 year', '2026-01-01') IS NULL AS no_rows FROM bb_log WHERE false;
SELECT bgbb_history(NULL::timestamptz, '2020-01-01', '1 year', '2026-01-01') IS NULL AS only_nulls;
-- a fit over histories built in the database
SELECT (bgbb_fit(h, 0.1)).customers
  FROM (SELECT bgbb_history(purchased_at, '2020-01-01', '1 year', '2026-01-01 12:00') h FROM bb_log GROUP BY customer) q;

-- parallel and serial agree, per customer (a synthetic log of 3000 customers)
CREATE TABLE bb_big AS
  SELECT c AS customer, timestamptz '2020-01-01' + ((c * 7919 + k * 104729) % 2190) * interval '1 day' AS purchased_at
    FROM generate_series(1, 3000) c, generate_series(1, 1 + c % 7) k;
ANALYZE bb_big;
CREATE TEMP TABLE bb_serial AS
  SELECT customer, bgbb_history(purchased_at, '2020-01-01', '1 month', '2026-01-01') AS h FROM bb_big GROUP BY customer;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
SET enable_hashagg = off;
EXPLAIN (COSTS OFF)
  SELECT customer, bgbb_history(purchased_at, '2020-01-01', '1 month', '2026-01-01') FROM bb_big GROUP BY customer;
SELECT count(*) AS customers, count(*) FILTER (WHERE p.h = s.h) AS equal
  FROM (SELECT customer, bgbb_history(purchased_at, '2020-01-01', '1 month', '2026-01-01') AS h FROM bb_big GROUP BY customer) p
  JOIN bb_serial s USING (customer);
-- the whole log as one history: workers' states combined in the leader
SELECT bgbb_history(purchased_at, '2020-01-01', '1 month', '2026-01-01') AS all_purchases FROM bb_big;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET parallel_leader_participation;
RESET enable_hashagg;
SELECT bgbb_history(purchased_at, '2020-01-01', '1 month', '2026-01-01') AS all_purchases_serial FROM bb_big;
-- and against plain SQL: months with a purchase after the first month, up to December 2025
SELECT count(*) AS customers_checked,
       count(*) FILTER (WHERE (s.h).frequency = q.x AND (s.h).recency = q.t_x AND (s.h).n = q.n) AS equal
  FROM bb_serial s JOIN (
    SELECT customer, count(DISTINCT m) FILTER (WHERE m > m0 AND m <= 71) AS x,
           coalesce(max(m) FILTER (WHERE m > m0 AND m <= 71) - min(m0), 0) AS t_x, 71 - min(m0) AS n
      FROM (SELECT customer, (extract(year FROM purchased_at) - 2020) * 12 + extract(month FROM purchased_at) - 1 AS m,
                   min((extract(year FROM purchased_at) - 2020) * 12 + extract(month FROM purchased_at) - 1) OVER (PARTITION BY customer) AS m0
              FROM bb_big) a
     GROUP BY customer) q USING (customer);

-- errors
SELECT bgbb_history(purchased_at, NULL, '1 year', '2026-01-01') FROM bb_log;
SELECT bgbb_history(purchased_at, '2020-01-01', NULL, '2026-01-01') FROM bb_log;
SELECT bgbb_history(purchased_at, '2020-01-01', '1 year', NULL) FROM bb_log;
SELECT bgbb_history(purchased_at, '2020-01-01', '0 days', '2026-01-01') FROM bb_log;
SELECT bgbb_history(purchased_at, '2020-01-01', '-1 year', '2026-01-01') FROM bb_log;
SELECT bgbb_history(purchased_at, '2020-01-01', '1 month -1 day', '2026-01-01') FROM bb_log;
SELECT bgbb_history(purchased_at, '2020-01-01', '1 year', '2019-01-01') FROM bb_log;
SELECT bgbb_history(purchased_at, '-infinity', '1 year', '2026-01-01') FROM bb_log;
SELECT bgbb_history(purchased_at, '2021-01-01', '1 year', '2026-01-01') FROM bb_log;
SELECT bgbb_history(purchased_at, '2020-01-01', '1 microsecond', '2026-01-01') FROM bb_log;
SELECT bgbb_history(purchased_at, '2020-01-01', CASE WHEN customer = 'late' THEN interval '1 month' ELSE '1 year' END, '2026-01-01')
  FROM bb_log;

------------------------------------------------------------------------------
-- predictions, at the published donations estimate; the reference values
-- (mpmath, 50 digits) are printed by test/unit/bgbb_mpmath.py
------------------------------------------------------------------------------
CREATE TABLE bb_model AS SELECT bgbb_params(1.204, 0.750, 0.657, 2.783) AS p;
SELECT (p).* FROM bb_model;
SELECT h, round(v::numeric, 6) AS value, abs(v - ref) < 1e-13 * ref AS matches_mpmath
  FROM bb_model, LATERAL (VALUES
    ('P(alive | 6, 6, 6)', p_alive(p, 6, 6, 6), 0.93040254237288135593),
    ('P(alive | 3, 4, 6)', p_alive(p, 3, 4, 6), 0.43946285705575648715),
    ('P(alive | 1, 1, 6)', p_alive(p, 1, 1, 6), 0.069408093206549673556),
    ('P(alive | 0, 0, 6)', p_alive(p, 0, 0, 6), 0.10801658416867419518),
    ('E[X(6, 11) | 6, 6, 6]', expected_purchases(p, 5, 6, 6, 6), 3.7521156075998147524),
    ('E[X(6, 11) | 3, 4, 6]', expected_purchases(p, 5, 3, 4, 6), 1.0342284984211044896),
    ('E[X(6, 11) | 0, 0, 6]', expected_purchases(p, 5, 0, 0, 6), 0.072802877475043012434),
    ('E[X(6, 1006) | 2, 5, 6]', expected_purchases(p, 1000, 2, 5, 6), 35.898289818566558017),
    ('E[X(6)]', expected_purchases_new(p, 6), 2.2196313934872988569),
    ('E[X(100)]', expected_purchases_new(p, 100), 11.59034999360381258),
    ('P(X(6) = 3)', probability_of_purchases(p, 6, 3), 0.10026311502480368974)
  ) v(h, v, ref);
-- gamma = 1, where eq. 13 is 0/0
SELECT round(c::numeric, 12) AS gamma_1_cond, abs(c - 0.72523897545066216123) < 1e-13 AS matches_mpmath,
       round(e::numeric, 12) AS gamma_1_new, abs(e - 2.3907102417525867287) < 1e-13 AS new_matches_mpmath,
       abs(expected_purchases(bgbb_params(1.204, 0.750, 1 + 1e-9, 2.783), 5, 3, 4, 6) - c) < 1e-9 AS continuous
  FROM (SELECT expected_purchases(bgbb_params(1.204, 0.750, 1, 2.783), 5, 3, 4, 6),
               expected_purchases_new(bgbb_params(1.204, 0.750, 1, 2.783), 10)) q(c, e);
-- P(X(6) = x) adds up to 1 and its mean is E[X(6)]; x outside 0..n has probability 0
SELECT round(total::numeric, 12) AS total, round((mean - expected_purchases_new(p, 6))::numeric, 12) AS mean_minus_ex,
       probability_of_purchases(p, 6, 7) AS above_n, probability_of_purchases(p, 6, -1) AS negative
  FROM bb_model, LATERAL (SELECT sum(probability_of_purchases(p, 6, x)), sum(x * probability_of_purchases(p, 6, x))
                            FROM generate_series(0, 6) x) q(total, mean);
-- with the fitted model: the donors expected alive in 2002, and their donations 2002-2006
SELECT round(sum(n_custs * p_alive(m, frequency, recency, n))::numeric, 1) AS alive_2002,
       round(sum(n_custs * expected_purchases(m, 5, frequency, recency, n))::numeric, 1) AS donations_2002_2006
  FROM donations, donations_fit;
-- the summary forms
SELECT p_alive(p, ROW(3, 4, 6)::bgbb_summary) = p_alive(p, 3, 4, 6) AS p_alive_summary,
       expected_purchases(p, 5, ROW(3, 4, 6)::bgbb_summary) = expected_purchases(p, 5, 3, 4, 6) AS expected_summary,
       p_alive(p, ROW(NULL, 4, 6)::bgbb_summary) IS NULL AS null_field
  FROM bb_model;
-- edge cases: n = 0 (just acquired), no horizon
SELECT round(p_alive(p, 0, 0, 0)::numeric, 6) AS p_alive_n0, expected_purchases(p, 0, 3, 4, 6) AS horizon_0,
       expected_purchases_new(p, 0) AS new_0
  FROM bb_model;

-- errors: parameters
SELECT bgbb_params(NULL, 1, 1, 1);
SELECT bgbb_params(1, 0, 1, 1);
SELECT bgbb_params(1, 1, 'NaN', 1);
SELECT bgbb_params(1, 1, 1, 1e20);
SELECT p_alive(ROW(1, 1, NULL, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::bgbb_params, 1, 1, 6);
SELECT p_alive(ROW(1, -1, 1, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::bgbb_params, 1, 1, 6);
SELECT p_alive(ROW(1, 1, 1e-20, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::bgbb_params, 1, 1, 6);
-- errors: histories and horizons
SELECT p_alive(p, 3, 2, 6) FROM bb_model;
SELECT p_alive(p, 1, 7, 6) FROM bb_model;
SELECT p_alive(p, 0, 3, 6) FROM bb_model;
SELECT p_alive(p, -1, 0, 6) FROM bb_model;
SELECT p_alive(p, 1, 1, 200000) FROM bb_model;
SELECT expected_purchases(p, -1, 1, 1, 6) FROM bb_model;
SELECT expected_purchases(p, 100001, 1, 1, 6) FROM bb_model;
SELECT expected_purchases(p, 5, 2, 1, 6) FROM bb_model;
SELECT expected_purchases(p, 5, ROW(0, 1, 6)::bgbb_summary) FROM bb_model;
SELECT expected_purchases_new(p, -1) FROM bb_model;
SELECT probability_of_purchases(p, -1, 0) FROM bb_model;
