-- Pareto/NBD and MBG/NBD (issue 16): the published CDNOW fits, standard
-- errors, AIC/BIC, parallel and sharded fits equal to serial ones, the
-- predictions (one-time buyers' P(alive) falls with T, unlike BG/NBD's), and
-- every error path.  Data: the published CDNOW calibration summary
-- (data/cdnow/README.md), x, t_x and T in weeks.
SET search_path = public, cartera;
SET extra_float_digits = 0;

CREATE TABLE models_cdnow (id int PRIMARY KEY, x int, t_x float8, "T" float8, zbar float8);
\copy models_cdnow FROM 'data/cdnow/cdnow_customers_summary_with_transactions.csv' (FORMAT csv, HEADER)

CREATE TABLE models_fit AS
  SELECT pareto_nbd_fit(x, t_x, "T", 'weeks') AS pnbd, mbgnbd_fit(x, t_x, "T", 'weeks') AS mbg,
         bgnbd_fit(x, t_x, "T", 'weeks') AS bg
    FROM models_cdnow;

-- Pareto/NBD: Hardie's r 0.5534, alpha 10.5802, s 0.6061, beta 11.6562,
-- LL -9594.98 (3 significant digits: the likelihood is flat in s and beta)
SELECT round((pnbd).r::numeric, 3) AS r, round((pnbd).alpha::numeric, 1) AS alpha,
       round((pnbd).s::numeric, 3) AS s, round((pnbd).beta::numeric, 1) AS beta,
       abs((pnbd).log_likelihood + 9594.98) < 0.01 AS ll_to_0_01,
       (pnbd).customers, (pnbd).converged, (pnbd).time_unit
  FROM models_fit;
-- MBG/NBD: BTYDplus' r 0.525, alpha 6.183, a 0.891, b 1.614
SELECT round((mbg).r::numeric, 3) AS r, round((mbg).alpha::numeric, 3) AS alpha,
       round((mbg).a::numeric, 3) AS a, round((mbg).b::numeric, 3) AS b,
       round((mbg).log_likelihood::numeric, 2) AS ll, (mbg).converged
  FROM models_fit;
-- standard errors (observed information; test/unit checks them against an
-- independent Hessian), AIC = 8 - 2 LL, BIC = 4 ln(2357) - 2 LL
SELECT round((pnbd).se_r::numeric, 4) AS se_r, round((pnbd).se_alpha::numeric, 3) AS se_alpha,
       round((pnbd).se_s::numeric, 3) AS se_s, round((pnbd).se_beta::numeric, 2) AS se_beta,
       round((pnbd).aic::numeric, 2) AS aic, round((pnbd).bic::numeric, 2) AS bic,
       abs((pnbd).aic - (8 - 2 * (pnbd).log_likelihood)) < 1e-9 AS aic_ok,
       abs((pnbd).bic - (4 * ln(2357) - 2 * (pnbd).log_likelihood)) < 1e-9 AS bic_ok
  FROM models_fit;
SELECT round((mbg).se_r::numeric, 4) AS se_r, round((mbg).se_alpha::numeric, 3) AS se_alpha,
       round((mbg).se_a::numeric, 3) AS se_a, round((mbg).se_b::numeric, 3) AS se_b,
       round((bg).se_r::numeric, 4) AS bg_se_r, round((bg).se_b::numeric, 3) AS bg_se_b
  FROM models_fit;
-- the three models side by side: MBG/NBD and BG/NBD within one BIC point on
-- CDNOW, Pareto/NBD 25 behind
SELECT m.model, round(m.ll::numeric, 2) AS log_likelihood, round(m.bic::numeric, 2) AS bic
  FROM models_fit, LATERAL (VALUES ('BG/NBD', (bg).log_likelihood, (bg).bic),
                                   ('MBG/NBD', (mbg).log_likelihood, (mbg).bic),
                                   ('Pareto/NBD', (pnbd).log_likelihood, (pnbd).bic)) m(model, ll, bic)
 ORDER BY m.bic;

-- One-time buyers: BG/NBD says 1 whatever T; Pareto/NBD and MBG/NBD fall with T
SELECT v."T", round(p_alive(bg, 0, 0, v."T")::numeric, 4) AS bgnbd,
       round(p_alive(pnbd, 0, 0, v."T")::numeric, 4) AS pareto_nbd,
       round(p_alive(mbg, 0, 0, v."T")::numeric, 4) AS mbgnbd
  FROM models_fit, (VALUES (1.0), (10), (40), (78)) v("T");
-- customer 1 of the CDNOW summary (x 2, t_x 30.43, T 38.86): the next 39 weeks
SELECT round(expected_purchases(pnbd, 39, 2, 30.43, 38.86)::numeric, 4) AS pareto_nbd,
       round(expected_purchases(mbg, 39, 2, 30.43, 38.86)::numeric, 4) AS mbgnbd,
       round(expected_purchases(bg, 39, 2, 30.43, 38.86)::numeric, 4) AS bgnbd
  FROM models_fit;
-- a new customer: E[X(t)] and the distribution of X(t), which sums to 1 with E[X(t)] as its mean
SELECT round(expected_purchases_new(pnbd, 39)::numeric, 4) AS pareto_nbd_new,
       round(expected_purchases_new(mbg, 39)::numeric, 4) AS mbgnbd_new,
       round(probability_of_purchases(pnbd, 39, 0)::numeric, 4) AS pareto_p0,
       round(probability_of_purchases(mbg, 39, 0)::numeric, 4) AS mbg_p0
  FROM models_fit;
SELECT abs(sum(probability_of_purchases(pnbd, 39, n)) - 1) < 1e-9 AS pareto_sums_to_1,
       abs(sum(n * probability_of_purchases(pnbd, 39, n)) - expected_purchases_new(pnbd, 39)) < 1e-8 AS pareto_mean,
       abs(sum(probability_of_purchases(mbg, 39, n)) - 1) < 1e-9 AS mbg_sums_to_1,
       abs(sum(n * probability_of_purchases(mbg, 39, n)) - expected_purchases_new(mbg, 39)) < 1e-8 AS mbg_mean
  FROM models_fit, generate_series(0, 400) n GROUP BY pnbd, mbg;
-- predicted CLV with Gamma-Gamma, 12 months at 1 % a month
SELECT round(clv_predicted(pnbd, g, 2, 30.43, 38.86, 22.35)::numeric, 2) AS pareto_nbd_clv,
       round(clv_predicted(mbg, g, 2, 30.43, 38.86, 22.35)::numeric, 2) AS mbgnbd_clv,
       round(clv_predicted(bg, g, 2, 30.43, 38.86, 22.35)::numeric, 2) AS bgnbd_clv
  FROM models_fit, (SELECT gamma_gamma_fit(x, zbar) AS g FROM models_cdnow WHERE x > 0) gg;

-- The month of the CLV: the forms without it count 30-day months
-- (lifetimes); the month can be given: '30 days' is the same, the mean
-- Gregorian month '30 days 10:30' (30.4375 days, pymc-marketing) a little
-- more, and calendar months from a summary's as_of
SELECT abs(clv_predicted(bg, g, 2, 30.43, 38.86, 22.35, 12, 0.01, '30 days')
           - clv_predicted(bg, g, 2, 30.43, 38.86, 22.35)) < 1e-9 AS bgnbd_30_days_as_before,
       abs(clv_predicted(pnbd, g, 2, 30.43, 38.86, 22.35, 12, 0.01, '30 days')
           - clv_predicted(pnbd, g, 2, 30.43, 38.86, 22.35)) < 1e-12 AS pareto_30_days_as_before,
       round(clv_predicted(mbg, g, 2, 30.43, 38.86, 22.35, 12, 0.01, '30 days')::numeric, 2) AS mbg_30_days,
       round(clv_predicted(mbg, g, 2, 30.43, 38.86, 22.35, 12, 0.01, '30 days 10:30')::numeric, 2) AS mbg_30_4375_days,
       round(clv_predicted(mbg, g, 2, 30.43, 38.86, 22.35, 12, 0.01, '31 days')::numeric, 2) AS mbg_31_days
  FROM models_fit, (SELECT gamma_gamma_fit(x, zbar) AS g FROM models_cdnow WHERE x > 0) gg;
-- calendar months from 2020-01-31: 29, 31, 30 ... days; 12 of them are 366 days (a leap year)
SET TimeZone = 'UTC';
SELECT round(clv_predicted(mbg, g, s, 'weeks', 12, 0.01, '1 month')::numeric, 4) AS calendar,
       round(clv_predicted(mbg, g, s, 'weeks', 12, 0.01, '30 days 12:00')::numeric, 4) AS mean_leap_month,
       round(clv_predicted(mbg, g, s, 'weeks', 1, 0, '1 month')::numeric, 6)
         = round(clv_predicted(mbg, g, s, 'weeks', 1, 0, '29 days')::numeric, 6) AS february_is_29_days
  FROM models_fit, (SELECT gamma_gamma_fit(x, zbar) AS g FROM models_cdnow WHERE x > 0) gg,
       (SELECT rfm(d, 20, timestamptz '2020-01-31 00:00+00') AS s
          FROM (VALUES (timestamptz '2019-06-01 00:00+00'), ('2019-09-01 00:00+00'), ('2020-01-10 00:00+00')) v(d)) q;
RESET TimeZone;
SELECT clv_predicted(mbg, gamma_gamma_params(6, 4, 15), 2, 30.43, 38.86, 22.35, 12, 0.01, '1 month') FROM models_fit;
SELECT clv_predicted(mbg, gamma_gamma_params(6, 4, 15), 2, 30.43, 38.86, 22.35, 12, 0.01, '2 months') FROM models_fit;
SELECT clv_predicted(pnbd, gamma_gamma_params(6, 4, 15), 2, 30.43, 38.86, 22.35, 12, 0.01, '45 days') FROM models_fit;
SELECT clv_predicted(bg, gamma_gamma_params(6, 4, 15), 2, 30.43, 38.86, 22.35, 12, 0.01, '1 month 1 day') FROM models_fit;

-- the same histories in days give the same unit-free parameters, alpha x 7
SELECT round(((pareto_nbd_fit(x, t_x * 7, "T" * 7, 'days')).alpha / (SELECT (pnbd).alpha * 7 FROM models_fit))::numeric, 6) AS alpha_days_ratio,
       round(((pareto_nbd_fit(x, t_x * 7, "T" * 7, 'days')).s / (SELECT (pnbd).s FROM models_fit))::numeric, 6) AS s_ratio
  FROM models_cdnow;

-- how sure: predictions with delta-method intervals from the fit's covariance
SELECT m.model, round((i).estimate::numeric, 4) AS estimate, round((i).std_error::numeric, 4) AS std_error,
       round((i).lower::numeric, 4) AS lower, round((i).upper::numeric, 4) AS upper, (i).level
  FROM models_fit, LATERAL (VALUES ('BG/NBD', p_alive_interval(bg, 2, 30.43, 38.86)),
                                   ('Pareto/NBD', p_alive_interval(pnbd, 2, 30.43, 38.86)),
                                   ('MBG/NBD', p_alive_interval(mbg, 2, 30.43, 38.86))) m(model, i);
SELECT m.model, round((i).estimate::numeric, 4) AS estimate, round((i).lower::numeric, 4) AS lower,
       round((i).upper::numeric, 4) AS upper
  FROM models_fit, LATERAL (VALUES ('BG/NBD x=0', p_alive_interval(bg, 0, 0, 40)),
                                   ('Pareto/NBD x=0', p_alive_interval(pnbd, 0, 0, 40)),
                                   ('Pareto/NBD 90 %', p_alive_interval(pnbd, 0, 0, 40, 0.9)),
                                   ('MBG/NBD 39 weeks', expected_purchases_interval(mbg, 39, 2, 30.43, 38.86)),
                                   ('Pareto/NBD 39 weeks', expected_purchases_interval(pnbd, 39, 2, 30.43, 38.86))) m(model, i);
-- the estimate is the prediction itself; the interval holds it, every customer
SELECT count(*) AS customers,
       count(*) FILTER (WHERE (i).estimate = p_alive(pnbd, x, t_x, "T")) AS estimate_is_p_alive,
       count(*) FILTER (WHERE (i).lower <= (i).estimate AND (i).estimate <= (i).upper
                          AND (i).lower >= 0 AND (i).upper <= 1) AS interval_holds_it,
       count(*) FILTER (WHERE (e).estimate = expected_purchases(pnbd, 39, x, t_x, "T")) AS estimate_is_expected
  FROM models_cdnow, models_fit,
       LATERAL (SELECT p_alive_interval(pnbd, x, t_x, "T") AS i, expected_purchases_interval(pnbd, 39, x, t_x, "T") AS e) q;
SELECT round((p_alive_interval(mbg, s, 'weeks')).upper::numeric, 4) AS summary_form_upper
  FROM models_fit, (SELECT rfm(date '2020-01-01', 1, date '2020-03-04')) v(s);
SELECT p_alive_interval(pareto_nbd_params(0.55, 10.6, 0.6, 11.7, 'weeks'), 0, 0, 40);
SELECT p_alive_interval(pnbd, 0, 0, 40, 1.5) FROM models_fit;
SELECT p_alive_interval(ROW((pnbd).r, (pnbd).alpha, (pnbd).s, (pnbd).beta, NULL, NULL, NULL, NULL, 'weeks', NULL, NULL,
                            NULL, NULL, NULL, NULL, '{1,2,3}')::pareto_nbd_params, 0, 0, 40) FROM models_fit;
SELECT p_alive_interval(ROW((pnbd).r, (pnbd).alpha, (pnbd).s, (pnbd).beta, NULL, NULL, NULL, NULL, 'weeks', NULL, NULL,
                            NULL, NULL, NULL, NULL, '{1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16}')::pareto_nbd_params, 0, 0, 40) FROM models_fit;

-- parallel query: workers build histograms, the leader combines them
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT pareto_nbd_fit(x, t_x, "T", 'weeks') FROM models_cdnow;
SELECT p.pnbd = f.pnbd AS pareto_parallel_equal, p.mbg = f.mbg AS mbg_parallel_equal
  FROM (SELECT pareto_nbd_fit(x, t_x, "T", 'weeks') AS pnbd, mbgnbd_fit(x, t_x, "T", 'weeks') AS mbg FROM models_cdnow) p,
       models_fit f;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET parallel_leader_participation;

-- shards: one bgnbd_fit_partial() state per shard serves the three models
CREATE TABLE models_shard AS
  SELECT id % 3 AS shard, bgnbd_fit_partial(x, t_x, "T", 'weeks') AS state
    FROM models_cdnow GROUP BY id % 3;
SELECT pareto_nbd_fit_merge(state) = (SELECT pnbd FROM models_fit) AS pareto_merge_equal,
       mbgnbd_fit_merge(state) = (SELECT mbg FROM models_fit) AS mbg_merge_equal,
       bgnbd_fit_merge(state) = (SELECT bg FROM models_fit) AS bg_merge_equal
  FROM models_shard;
-- a state of another kind is refused
SELECT pareto_nbd_fit_merge(s) FROM (SELECT gamma_gamma_fit_partial(x, zbar) FROM models_cdnow WHERE x > 0) g(s);

-- an rfm() summary in the model's unit: one purchase, 9 weeks ago
SELECT round(p_alive(pnbd, s, 'weeks')::numeric, 4) AS pareto_nbd, round(p_alive(mbg, s, 'weeks')::numeric, 4) AS mbgnbd,
       round(expected_purchases(pnbd, 52, s, 'weeks')::numeric, 4) AS pareto_next_year
  FROM (SELECT rfm(date '2020-01-01', 1, date '2020-03-04')) v(s), models_fit;

-- parameters fitted elsewhere
SELECT pareto_nbd_params(0.5534, 10.5802, 0.6061, 11.6562, 'weeks') AS hardie;
SELECT round(p_alive(pareto_nbd_params(0.5534, 10.5802, 0.6061, 11.6562, 'weeks'), 0, 0, 78)::numeric, 4) AS p_alive_78;
SELECT mbgnbd_params(0.525, 6.183, 0.891, 1.614);

-- errors
SELECT pareto_nbd_params(0, 1, 1, 1);
SELECT pareto_nbd_params(1, 1, NULL, 1);
SELECT mbgnbd_params(1, 1, 1, 'NaN');
SELECT pareto_nbd_params(1, 1, 1, 1, 'months');
SELECT p_alive(pareto_nbd_params(1, 1, 1, 1e9), 0, 0, 1);
SELECT p_alive(ROW(1, 1, NULL, 1, NULL, NULL, NULL, NULL, 'weeks', NULL, NULL, NULL, NULL, NULL, NULL, NULL)::pareto_nbd_params, 0, 0, 1);
SELECT p_alive(pnbd, 3, 40, 30) FROM models_fit;
SELECT p_alive(pnbd, -1, 0, 30) FROM models_fit;
SELECT p_alive(mbg, 1.5, 1, 30) FROM models_fit;
SELECT expected_purchases(pnbd, -1, 1, 1, 2) FROM models_fit;
SELECT expected_purchases(mbg, 'Infinity', 1, 1, 2) FROM models_fit;
SELECT probability_of_purchases(pnbd, 10, -1) FROM models_fit;
SELECT p_alive(pnbd, s, 'days') FROM (SELECT rfm(date '2020-01-01', 1, date '2020-03-01')) v(s), models_fit;
SELECT clv_predicted(pareto_nbd_params(1, 1, 1, 1), gamma_gamma_params(6, 4, 15), 1, 1, 2, 10);
SELECT clv_predicted(mbg, gamma_gamma_params(6, 4, 15), 1, 1, 2, 10, -1) FROM models_fit;
SELECT pareto_nbd_fit(x, t_x, "T", 'weeks', -1) FROM models_cdnow;
SELECT pareto_nbd_fit(x, t_x, "T", 'fortnights') FROM models_cdnow;
SELECT mbgnbd_fit(x, t_x, "T", NULL) FROM models_cdnow;
SELECT pareto_nbd_fit(-1, 0, 1);
SELECT mbgnbd_fit(1, 3, 2);
-- no rows, or only customers acquired at the very end: no model
SELECT pareto_nbd_fit(x, t_x, "T") IS NULL AS no_rows FROM models_cdnow WHERE false;
SELECT mbgnbd_fit(0, 0, 0) IS NULL AS no_information;
-- nobody ever drops out: the supremum is on the edge, said with a warning
SELECT (pareto_nbd_fit(x, t_x, t_x)).converged AS edge_converged
  FROM (SELECT g % 7 AS x, (g % 7) * 3.0 AS t_x FROM generate_series(1, 500) g) d;

DROP TABLE models_cdnow, models_fit, models_shard;
