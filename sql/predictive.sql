-- Predictive CLV: BG/NBD (how many purchases, is the customer still alive) and
-- Gamma-Gamma (how much per purchase), fitted inside the database on the CDNOW
-- calibration period (Jan - Sep 1997, weeks), as in Fader, Hardie & Lee (2005).
-- Runs after the cdnow test, whose tables it reads.
SET search_path = public, cartera;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET extra_float_digits = 0;

CREATE TABLE cdnow_calibration AS
  SELECT customer_id, rfm(purchased_at, amount, date '1997-09-30') AS s
    FROM cdnow_purchase GROUP BY customer_id;

-- BG/NBD: published r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4
CREATE TABLE cdnow_bgnbd AS SELECT bgnbd_fit(s, 'weeks') AS m FROM cdnow_calibration;
SELECT round((m).r::numeric, 3) AS r, round((m).alpha::numeric, 3) AS alpha,
       round((m).a::numeric, 3) AS a, round((m).b::numeric, 3) AS b,
       round((m).log_likelihood::numeric, 1) AS log_likelihood,
       (m).customers, (m).converged, (m).time_unit
  FROM cdnow_bgnbd;
SELECT round((m).r::numeric, 3) = 0.243 AND round((m).alpha::numeric, 3) = 4.414
   AND round((m).a::numeric, 3) = 0.793 AND round((m).b::numeric, 3) = 2.426
   AND round((m).log_likelihood::numeric, 1) = -9582.4 AS matches_published
  FROM cdnow_bgnbd;
-- the same fit from the lifetimes summary file (frequency, t_x, T already in weeks)
SELECT round((f).r::numeric, 3) AS r, round((f).alpha::numeric, 3) AS alpha,
       round((f).a::numeric, 3) AS a, round((f).b::numeric, 3) AS b
  FROM (SELECT bgnbd_fit(x, t_x::float8, "T"::float8) AS f FROM cdnow_reference) q;

-- Gamma-Gamma on the 946 repeat customers: published p = 6.25, q = 3.74, gamma = 15.44
CREATE TABLE cdnow_gg AS SELECT gamma_gamma_fit(s) AS g FROM cdnow_calibration;
SELECT round((g).p::numeric, 2) AS p, round((g).q::numeric, 2) AS q,
       round((g).gamma::numeric, 2) AS gamma, (g).customers, (g).converged
  FROM cdnow_gg;

-- Customer 1 (x = 2, t_x = 30.43, T = 38.86): 1.226 expected purchases in the next 39 weeks
SELECT round(expected_purchases(m, 39, s, 'weeks')::numeric, 3) AS next_39_weeks,
       round(p_alive(m, s, 'weeks')::numeric, 3) AS p_alive
  FROM cdnow_calibration, cdnow_bgnbd WHERE customer_id = 1;

-- Scores for the first customers: purchase probability, expected spend, 12-month CLV
SELECT customer_id, (s).frequency, (s).repeat_avg,
       round(p_alive(m, s, 'weeks')::numeric, 4) AS p_alive,
       round(expected_purchases(m, 52, s, 'weeks')::numeric, 4) AS next_year,
       round(expected_avg_spend(g, s)::numeric, 2) AS expected_spend,
       round(clv_predicted(m, g, s, 'weeks', 12, 0.01)::numeric, 2) AS clv_12_months
  FROM cdnow_calibration, cdnow_bgnbd, cdnow_gg ORDER BY customer_id LIMIT 5;

-- Days or weeks: the same data fitted in days gives alpha x 7 and the same
-- predictions; r, a, b do not depend on the unit.
CREATE TABLE cdnow_bgnbd_days AS SELECT bgnbd_fit(s, 'days') AS d FROM cdnow_calibration;
SELECT round(((d).alpha / (m).alpha)::numeric, 4) AS alpha_ratio,
       round(((d).r - (m).r)::numeric, 4) AS r_diff, round(((d).a - (m).a)::numeric, 4) AS a_diff,
       round(((d).b - (m).b)::numeric, 4) AS b_diff
  FROM cdnow_bgnbd, cdnow_bgnbd_days;
SELECT max(abs(p_alive(m, s, 'weeks') - p_alive(d, s, 'days'))) < 1e-4 AS same_p_alive,
       max(abs(expected_purchases(m, 39, s, 'weeks') - expected_purchases(d, 273, s, 'days'))) < 1e-4
         AS same_expected_purchases
  FROM cdnow_calibration, cdnow_bgnbd, cdnow_bgnbd_days WHERE (s).purchases > 0;

-- Bounds: P(alive) stays in [0, 1] and is 0, not NaN, for an impossible-looking history.
SELECT min(p_alive(m, s, 'weeks')) >= 0 AND max(p_alive(m, s, 'weeks')) <= 1 AS in_unit_interval
  FROM cdnow_calibration, cdnow_bgnbd;
SELECT p_alive(m, 1000, 10, 100) AS extreme, p_alive(m, 0, 0, 0.5) AS just_acquired FROM cdnow_bgnbd;

-- A newly acquired customer: P(X(t) = n) is a distribution whose mean is E[X(t)].
SELECT round(sum(probability_of_purchases(m, 52, n))::numeric, 6) AS total_probability,
       round(sum(n * probability_of_purchases(m, 52, n))::numeric, 4) AS mean,
       round(min(expected_purchases_new(m, 52))::numeric, 4) AS expected
  FROM cdnow_bgnbd, generate_series(0, 200) n;

-- Models fitted elsewhere score too (lifetimes' CDNOW estimates, in weeks).
SELECT round(p_alive(bgnbd_params(0.243, 4.414, 0.793, 2.426, 'weeks'), s, 'weeks')::numeric, 3) AS p_alive,
       round(expected_avg_spend(gamma_gamma_params(6.25, 3.74, 15.44), s)::numeric, 2) AS spend
  FROM cdnow_calibration WHERE customer_id = 1;

-- Calibration vs holdout (Oct 1997 - Jun 1998): mean actual and predicted
-- repeat purchases by calibration frequency (docs/calibration_cdnow.png).
SELECT frequency, customers, round(actual_mean::numeric, 3) AS actual,
       round(predicted_mean::numeric, 3) AS predicted
  FROM calibration_holdout_summary('cdnow_purchase', 'customer_id', 'purchased_at',
                                   '1997-09-30', '1998-06-30');
SELECT sum(actual) AS actual_holdout_purchases, round(sum(predicted)::numeric, 1) AS predicted
  FROM calibration_holdout('cdnow_purchase', 'customer_id', 'purchased_at', '1997-09-30', '1998-06-30');

-- Parallel workers build partial histograms; the fit is identical.
CREATE TABLE par_calibration AS SELECT * FROM cdnow_calibration, generate_series(1, 8) copy;
ANALYZE par_calibration;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
EXPLAIN (COSTS OFF) SELECT bgnbd_fit(s, 'weeks'), gamma_gamma_fit(s) FROM par_calibration;
SELECT ((f).r, (f).alpha, (f).a, (f).b) = ((m).r, (m).alpha, (m).a, (m).b) AS same_as_one_copy,
       (f).customers
  FROM (SELECT bgnbd_fit(s, 'weeks') AS f FROM par_calibration) p, cdnow_bgnbd;
RESET max_parallel_workers_per_gather;
DROP TABLE par_calibration;

-- Gamma-Gamma needs positive spend: refunds and free orders that bring a
-- customer's repeat spend to zero leave them out, with a NOTICE.
SELECT (gamma_gamma_fit(x, m)).customers
  FROM (SELECT (s).frequency, (s).repeat_avg::float8 FROM cdnow_calibration
        UNION ALL VALUES (1, 0.0), (3, -5.0), (0, 0.0)) v(x, m);

-- Errors.
SELECT bgnbd_fit(s, 'months') FROM cdnow_calibration;
SELECT bgnbd_fit(s, NULL) FROM cdnow_calibration;
SELECT bgnbd_fit(x, t_x, t) FROM (VALUES (-1, 0.0::float8, 1.0::float8)) v(x, t_x, t);
SELECT bgnbd_fit(x, t_x, t) FROM (VALUES (1, 5.0::float8, 1.0::float8)) v(x, t_x, t);
SELECT bgnbd_fit(x, t_x, t, 'weeks', -0.1) FROM (VALUES (1, 0.5::float8, 1.0::float8)) v(x, t_x, t);
SELECT p_alive(m, s, 'days') FROM cdnow_calibration, cdnow_bgnbd WHERE customer_id = 1;
SELECT p_alive(bgnbd_params(0.243, -4.414, 0.793, 2.426), 1, 1, 2);
SELECT bgnbd_params(0.243, 4.414, 0.793, NULL);
SELECT p_alive(m, 2, 3, 1) FROM cdnow_bgnbd;
SELECT p_alive(m, 1.5, 1, 2) FROM cdnow_bgnbd;
SELECT expected_purchases(m, -1, 1, 1, 2) FROM cdnow_bgnbd;
SELECT probability_of_purchases(m, 52, -1) FROM cdnow_bgnbd;
SELECT clv_predicted(bgnbd_params(0.243, 4.414, 0.793, 2.426), gamma_gamma_params(6.25, 3.74, 15.44), 2, 30, 38, 20);
SELECT clv_predicted(m, g, s, 'weeks', -1, 0.01) FROM cdnow_calibration, cdnow_bgnbd, cdnow_gg WHERE customer_id = 1;
SELECT clv_predicted(m, g, s, 'weeks', 12, -1) FROM cdnow_calibration, cdnow_bgnbd, cdnow_gg WHERE customer_id = 1;
SELECT expected_avg_spend(gamma_gamma_params(6.25, 3.74, 15.44), 2, -3);
SELECT gamma_gamma_params(6.25, 0, 15.44);
SELECT * FROM calibration_holdout('cdnow_purchase', 'customer_id', 'purchased_at', '1997-09-30', '1997-09-01');
SELECT * FROM calibration_holdout('cdnow_purchase', 'customer_id', 'purchased_at', '1997-09-30', '1998-06-30', 'years');
SELECT * FROM calibration_holdout('cdnow_purchase', 'no_such_column', 'purchased_at', '1997-09-30', '1998-06-30');
SELECT * FROM calibration_holdout('cdnow_purchase', 'customer_id', 'amount', '1997-09-30', '1998-06-30');
