-- Is the model right?  The diagnostics of issue 16 on the CDNOW sample
-- (calibration Jan - Sep 1997, holdout Oct 1997 - Jun 1998, weeks), for
-- BG/NBD, Pareto/NBD and MBG/NBD: calibration vs holdout per model, the
-- tracking curve of Fader, Hardie & Lee (2005) Fig. 1, the repeat-purchase
-- histogram of their Fig. 2, and the P(alive) / expected-purchases matrices
-- behind lifetimes' plots.  Tables of its own (diag_*), dropped at the end.
SET search_path = public, cartera;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET extra_float_digits = 0;

CREATE TABLE diag_raw (line text);
\copy diag_raw FROM 'data/cdnow/CDNOW_sample.txt'
CREATE TABLE diag_purchase AS
  SELECT f[2]::int AS customer_id, to_date(f[3], 'YYYYMMDD') AS purchased_at, f[5]::numeric AS amount
    FROM (SELECT regexp_split_to_array(btrim(line), '\s+') AS f FROM diag_raw) s;
SELECT count(*) AS lines, count(DISTINCT customer_id) AS customers FROM diag_purchase;

-- 1. calibration_holdout for every model.  With 'bgnbd' the new overloads
-- give exactly what the 0.3.0 functions give (which now call them).
SELECT count(*) AS rows,
       count(*) FILTER (WHERE (o.customer, o.frequency, o.t_x, o."T", o.predicted, o.actual)
                          IS NOT DISTINCT FROM (n.customer, n.frequency, n.t_x, n."T", n.predicted, n.actual)) AS equal
  FROM calibration_holdout('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30', '1998-06-30') o
  FULL JOIN calibration_holdout('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30', '1998-06-30',
                                'weeks', 'bgnbd') n USING (customer);
SELECT (SELECT array_agg(s ORDER BY frequency)
          FROM calibration_holdout_summary('diag_purchase', 'customer_id', 'purchased_at',
                                           '1997-09-30', '1998-06-30') s)
     = (SELECT array_agg(s ORDER BY frequency)
          FROM calibration_holdout_summary('diag_purchase', 'customer_id', 'purchased_at',
                                           '1997-09-30', '1998-06-30', 'weeks', 7, 'bgnbd') s)
       AS same_summary;

-- The three models side by side: mean holdout repeat purchases by calibration frequency.
SELECT b.frequency, b.customers, round(b.actual_mean::numeric, 3) AS actual,
       round(b.predicted_mean::numeric, 3) AS bgnbd, round(p.predicted_mean::numeric, 3) AS pareto_nbd,
       round(m.predicted_mean::numeric, 3) AS mbgnbd
  FROM calibration_holdout_summary('diag_purchase', 'customer_id', 'purchased_at',
                                   '1997-09-30', '1998-06-30', 'weeks', 7, 'bgnbd') b
  JOIN calibration_holdout_summary('diag_purchase', 'customer_id', 'purchased_at',
                                   '1997-09-30', '1998-06-30', 'weeks', 7, 'pareto_nbd') p USING (frequency)
  JOIN calibration_holdout_summary('diag_purchase', 'customer_id', 'purchased_at',
                                   '1997-09-30', '1998-06-30', 'weeks', 7, 'mbgnbd') m USING (frequency)
 ORDER BY frequency;
-- holdout totals: 1882 repeat purchase days happened
SELECT model, count(*) AS customers, sum(actual) AS actual, round(sum(predicted)::numeric, 1) AS predicted
  FROM unnest(ARRAY['bgnbd', 'pareto_nbd', 'mbgnbd']) model,
       calibration_holdout('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30', '1998-06-30',
                           'weeks', model)
 GROUP BY model ORDER BY model;
-- the model name is read in any case; the per-customer rows of Pareto/NBD
SELECT customer, frequency, round(t_x::numeric, 2) AS t_x, round("T"::numeric, 2) AS "T",
       round(predicted::numeric, 4) AS predicted, actual
  FROM calibration_holdout('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30', '1998-06-30',
                           'weeks', 'Pareto_NBD')
 ORDER BY customer::int LIMIT 3;

-- 2. Tracking curve (FHL 2005 Fig. 1), weekly, for each model.
CREATE TABLE diag_tracking AS
  SELECT model, t.*
    FROM unnest(ARRAY['bgnbd', 'pareto_nbd', 'mbgnbd']) model,
         tracking_curve('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30', '1998-06-30',
                        'weeks', model) t;
-- 78 weeks from 1997-01-01, the first 39 the calibration period
SELECT model, count(*) AS periods, min(period_start), max(period_end),
       count(*) FILTER (WHERE in_calibration) AS calibration_periods,
       max(period_end) FILTER (WHERE in_calibration) AS calibration_end
  FROM diag_tracking GROUP BY model ORDER BY model;
SELECT period, period_start, period_end, in_calibration, actual_repeat,
       round(expected_repeat::numeric, 2) AS expected_repeat, actual_cumulative,
       round(expected_cumulative::numeric, 1) AS expected_cumulative
  FROM diag_tracking WHERE model = 'bgnbd' AND period IN (1, 2, 10, 20, 38, 39, 40, 50, 60, 77, 78)
 ORDER BY period;
-- Cumulative repeat purchases at the end of the calibration (week 39) and of
-- the holdout (week 78): the actual 2457 + 1882 = 4339.  The curves track:
-- BG/NBD and Pareto/NBD within 5 % at week 78 (BG/NBD 4.1 % below, Pareto/NBD
-- 1.6 % below); MBG/NBD, whose customers may drop out after the first
-- purchase, falls 6.7 % below.
SELECT model,
       max(actual_cumulative) FILTER (WHERE period = 39) AS actual_39,
       round(max(expected_cumulative) FILTER (WHERE period = 39)::numeric, 1) AS expected_39,
       max(actual_cumulative) FILTER (WHERE period = 78) AS actual_78,
       round(max(expected_cumulative) FILTER (WHERE period = 78)::numeric, 1) AS expected_78,
       round((100 * (max(expected_cumulative) FILTER (WHERE period = 78)
                     / max(actual_cumulative) FILTER (WHERE period = 78) - 1))::numeric, 1) AS pct_off_78
  FROM diag_tracking GROUP BY model ORDER BY model;
SELECT model, abs(expected_cumulative / actual_cumulative - 1) < 0.05 AS within_5_pct
  FROM diag_tracking WHERE period = 78 AND model IN ('bgnbd', 'pareto_nbd') ORDER BY model;
-- the incremental columns sum to the cumulative ones
SELECT model, bool_and(actual_cumulative = running_actual) AS actual_sums,
       max(abs(expected_cumulative - running_expected)) < 1e-8 AS expected_sums
  FROM (SELECT model, actual_cumulative, expected_cumulative,
               sum(actual_repeat) OVER w AS running_actual, sum(expected_repeat) OVER w AS running_expected
          FROM diag_tracking WINDOW w AS (PARTITION BY model ORDER BY period)) s
 GROUP BY model ORDER BY model;
-- actual: the calibration frequencies and the holdout purchase days of
-- calibration_holdout; expected: one E[X(t)] per customer at its own age
-- (t = holdout_end - first purchase), computed here without the cohorts
SELECT sum((s).frequency) AS calibration_repeat
  FROM (SELECT rfm(purchased_at, amount, date '1997-09-30') AS s FROM diag_purchase GROUP BY customer_id) c;
CREATE TABLE diag_fit AS
  SELECT bgnbd_fit(s, 'weeks') AS bg, pareto_nbd_fit(s, 'weeks') AS pnbd, mbgnbd_fit(s, 'weeks') AS mbg
    FROM (SELECT rfm(purchased_at, amount, date '1997-09-30') AS s FROM diag_purchase GROUP BY customer_id) c;
SELECT t.model, abs(e.expected - t.expected_cumulative) < 1e-6 AS equal
  FROM (SELECT unnest(ARRAY['bgnbd', 'pareto_nbd', 'mbgnbd']) AS model,
               unnest(ARRAY[sum(expected_purchases_new(bg, (date '1998-06-30' - first_day) / 7.0)),
                            sum(expected_purchases_new(pnbd, (date '1998-06-30' - first_day) / 7.0)),
                            sum(expected_purchases_new(mbg, (date '1998-06-30' - first_day) / 7.0))]) AS expected
          FROM (SELECT customer_id, min(purchased_at) AS first_day FROM diag_purchase GROUP BY 1) f, diag_fit) e
  JOIN diag_tracking t ON t.model = e.model AND t.period = 78
 ORDER BY t.model;
-- In days: 546 periods; the model fitted in days predicts the same, so the
-- curve ends where the weekly one does.
SELECT count(*) AS periods, count(*) FILTER (WHERE in_calibration) AS calibration_days,
       max(actual_cumulative) AS actual,
       abs(max(expected_cumulative) / (SELECT expected_cumulative FROM diag_tracking
                                        WHERE model = 'bgnbd' AND period = 78) - 1) < 1e-4 AS same_as_weeks
  FROM tracking_curve('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30', '1998-06-30', 'days');
-- A period cut by holdout_end is shorter; a timestamptz purchase column works.
CREATE TABLE diag_purchase_ts AS
  SELECT customer_id, purchased_at::timestamptz + interval '13 hours' AS purchased_at FROM diag_purchase;
SELECT period, period_start, period_end, in_calibration, actual_cumulative,
       round(expected_cumulative::numeric, 1) AS expected_cumulative
  FROM tracking_curve('diag_purchase_ts', 'customer_id', 'purchased_at', '1997-09-30', '1998-01-03')
 ORDER BY period DESC LIMIT 2;

-- 3. Repeat-purchase histogram (FHL 2005 Fig. 2): customers by calibration
-- frequency, actual and expected, 7 = "7 or more".
SELECT b.frequency, b.actual_customers AS actual, round(b.expected_customers::numeric, 1) AS bgnbd,
       round(p.expected_customers::numeric, 1) AS pareto_nbd, round(m.expected_customers::numeric, 1) AS mbgnbd
  FROM repeat_purchase_histogram('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30') b
  JOIN repeat_purchase_histogram('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30',
                                 'weeks', 'pareto_nbd') p USING (frequency)
  JOIN repeat_purchase_histogram('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30',
                                 'weeks', 'mbgnbd') m USING (frequency)
 ORDER BY frequency;
-- both columns add up to the 2357 customers, for every model, unit and cut
SELECT model, unit, max_frequency, sum(actual_customers) AS actual,
       round(sum(expected_customers)::numeric, 6) AS expected
  FROM unnest(ARRAY['bgnbd', 'pareto_nbd', 'mbgnbd']) model, unnest(ARRAY['weeks', 'days']) unit,
       unnest(ARRAY[1, 7, 30]) max_frequency,
       repeat_purchase_histogram('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30',
                                 unit, model, max_frequency)
 GROUP BY 1, 2, 3 ORDER BY 1, 2 DESC, 3;
-- the actual column is calibration_holdout's frequency count
SELECT bool_and(h.actual_customers = c.n) AS same_counts
  FROM repeat_purchase_histogram('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30',
                                 'weeks', 'mbgnbd', 30) h
  LEFT JOIN (SELECT least(frequency, 30) AS frequency, count(*) AS n
               FROM calibration_holdout('diag_purchase', 'customer_id', 'purchased_at',
                                        '1997-09-30', '1998-06-30', 'weeks', 'mbgnbd')
              GROUP BY 1) c USING (frequency);
-- max_frequency 1: one-time buyers and repeat buyers
SELECT frequency, actual_customers, round(expected_customers::numeric, 2) AS expected_customers
  FROM repeat_purchase_histogram('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30',
                                 'weeks', 'bgnbd', 1);

-- 4. P(alive) and expected purchases in the next 52 weeks over frequency x
-- recency, T = 38.86 weeks (FHL 2005's CDNOW estimates).
SELECT frequency, round(recency::numeric, 3) AS recency, round(p_alive::numeric, 4) AS p_alive,
       round(expected_purchases::numeric, 4) AS expected_purchases
  FROM model_matrix(bgnbd_params(0.243, 4.414, 0.793, 2.426, 'weeks'), 38.86, 3, 2);
-- every overload: rows, frequency 0 only at recency 0, the last recency is T,
-- P(alive) in [0, 1] and rising with recency at every frequency > 0,
-- the values those of p_alive() and expected_purchases()
SELECT model, count(*) AS rows, count(*) FILTER (WHERE frequency = 0) AS frequency_0,
       max(recency) = 38.86 AS last_is_t, min(p_alive) >= 0 AND max(p_alive) <= 1 AS in_unit_interval,
       bool_and(rising) AS p_alive_rises_with_recency, bool_and(same) AS same_as_scalar_functions,
       round(max(p_alive) FILTER (WHERE frequency = 0)::numeric, 4) AS p_alive_one_time_buyer_t0
  FROM (SELECT 'bgnbd' AS model, frequency, recency, p_alive,
               p_alive >= lag(p_alive) OVER w OR frequency = 0 OR recency = 0 AS rising,
               p_alive = p_alive(bg, frequency, recency, 38.86)
               AND expected_purchases = expected_purchases(bg, 52, frequency, recency, 38.86) AS same
          FROM diag_fit, model_matrix(bg, 38.86) WINDOW w AS (PARTITION BY frequency ORDER BY recency)
        UNION ALL
        SELECT 'pareto_nbd', frequency, recency, p_alive,
               p_alive >= lag(p_alive) OVER w OR frequency = 0 OR recency = 0,
               p_alive = p_alive(pnbd, frequency, recency, 38.86)
               AND expected_purchases = expected_purchases(pnbd, 52, frequency, recency, 38.86)
          FROM diag_fit, model_matrix(pnbd, 38.86) WINDOW w AS (PARTITION BY frequency ORDER BY recency)
        UNION ALL
        SELECT 'mbgnbd', frequency, recency, p_alive,
               p_alive >= lag(p_alive) OVER w OR frequency = 0 OR recency = 0,
               p_alive = p_alive(mbg, frequency, recency, 38.86)
               AND expected_purchases = expected_purchases(mbg, 52, frequency, recency, 38.86)
          FROM diag_fit, model_matrix(mbg, 38.86) WINDOW w AS (PARTITION BY frequency ORDER BY recency)) m
 GROUP BY model ORDER BY model;
SELECT count(*) AS rows FROM model_matrix(pareto_nbd_params(0.5533, 10.578, 0.6062, 11.668, 'weeks'), 52, 25, 100, 0);
SELECT frequency, recency, round(p_alive::numeric, 4) AS p_alive, expected_purchases
  FROM model_matrix(mbgnbd_params(0.525, 6.183, 0.891, 1.614, 'weeks'), 10, 1, 1, 0);

-- 5. Errors.
-- unknown model, in every function that names one
SELECT * FROM calibration_holdout('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30', '1998-06-30', 'weeks', 'bgbb');
SELECT * FROM calibration_holdout_summary('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30', '1998-06-30', 'weeks', 7, NULL);
SELECT * FROM tracking_curve('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30', '1998-06-30', 'weeks', 'pareto');
SELECT * FROM repeat_purchase_histogram('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30', 'weeks', 'sbg');
-- bad unit
SELECT * FROM calibration_holdout('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30', '1998-06-30', 'week', 'bgnbd');
SELECT * FROM tracking_curve('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30', '1998-06-30', 'months');
SELECT * FROM repeat_purchase_histogram('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30', NULL);
-- dates
SELECT * FROM calibration_holdout('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30', '1997-09-30', 'weeks', 'mbgnbd');
SELECT * FROM tracking_curve('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30', '1997-01-01');
SELECT * FROM tracking_curve('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30', NULL);
SELECT * FROM tracking_curve('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30', 'infinity');
SELECT * FROM tracking_curve('diag_purchase', 'customer_id', 'purchased_at', NULL, '1998-06-30');
SELECT * FROM repeat_purchase_histogram('diag_purchase', 'customer_id', 'purchased_at', '-infinity');
-- columns
SELECT * FROM calibration_holdout('diag_purchase', 'customer', 'purchased_at', '1997-09-30', '1998-06-30', 'weeks', 'bgnbd');
SELECT * FROM tracking_curve('diag_purchase', 'customer_id', 'amount', '1997-09-30', '1998-06-30');
SELECT * FROM repeat_purchase_histogram('diag_purchase', 'customer_id', 'no_such_column', '1997-09-30');
SELECT * FROM tracking_curve(NULL, 'customer_id', 'purchased_at', '1997-09-30', '1998-06-30');
SELECT * FROM tracking_curve('no_such_table', 'customer_id', 'purchased_at', '1997-09-30', '1998-06-30');
-- max_frequency (the 0.3.0 summary now refuses 0 as well)
SELECT * FROM calibration_holdout_summary('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30', '1998-06-30', 'weeks', 0, 'bgnbd');
SELECT * FROM calibration_holdout_summary('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30', '1998-06-30', 'weeks', 0);
SELECT * FROM repeat_purchase_histogram('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30', 'weeks', 'bgnbd', 0);
SELECT * FROM repeat_purchase_histogram('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30', 'weeks', 'bgnbd', 1001);
-- model_matrix
SELECT * FROM model_matrix(NULL::bgnbd_params, 38.86);
SELECT * FROM model_matrix(bgnbd_params(0.243, 4.414, 0.793, 2.426), 0);
SELECT * FROM model_matrix(bgnbd_params(0.243, 4.414, 0.793, 2.426), 'Infinity');
SELECT * FROM model_matrix(pareto_nbd_params(0.5533, 10.578, 0.6062, 11.668), 'NaN');
SELECT * FROM model_matrix(pareto_nbd_params(0.5533, 10.578, 0.6062, 11.668), NULL);
SELECT * FROM model_matrix(mbgnbd_params(0.525, 6.183, 0.891, 1.614), 38.86, 0);
SELECT * FROM model_matrix(mbgnbd_params(0.525, 6.183, 0.891, 1.614), 38.86, 10, 0);
SELECT * FROM model_matrix(mbgnbd_params(0.525, 6.183, 0.891, 1.614), 38.86, 10, 10, -1);
SELECT * FROM model_matrix(mbgnbd_params(0.525, 6.183, 0.891, 1.614), 38.86, 10, 10, 'NaN');
SELECT * FROM model_matrix(bgnbd_params(0.243, -4.414, 0.793, 2.426), 38.86);

-- One call compares the candidates on the same summaries: fits, standard
-- errors, information criteria and the holdout (calibration to 1997-09-30)
SELECT model, customers, converged, round(r::numeric, 4) AS r, round(se_r::numeric, 4) AS se_r,
       round(log_likelihood::numeric, 2) AS ll, round(bic::numeric, 2) AS bic, round(delta_bic::numeric, 2) AS delta_bic,
       holdout_actual, round(holdout_predicted::numeric, 1) AS holdout_predicted,
       round(holdout_rmse::numeric, 4) AS holdout_rmse, round(holdout_bias::numeric, 4) AS holdout_bias
  FROM compare_models('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30', '1998-06-30');
-- the same numbers as the single-model functions
SELECT c.model, abs(c.holdout_predicted - (SELECT sum(predicted) FROM calibration_holdout('diag_purchase', 'customer_id', 'purchased_at',
                                                                            '1997-09-30', '1998-06-30', 'weeks', c.model))) < 1e-9 AS same_as_calibration_holdout
  FROM compare_models('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30', '1998-06-30') c ORDER BY c.model;
-- without a holdout: the fits alone; in days, the same unit-free parameters
SELECT model, round(r::numeric, 4) AS r, holdout_actual IS NULL AS no_holdout
  FROM compare_models('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30', NULL, 'days') ORDER BY model;
SELECT * FROM compare_models('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30', '1997-09-01');
SELECT * FROM compare_models('diag_purchase', 'customer_id', 'purchased_at', '1997-09-30', NULL, 'months');
SELECT * FROM compare_models('diag_purchase', 'nope', 'purchased_at', '1997-09-30');

DROP TABLE diag_raw, diag_purchase, diag_purchase_ts, diag_tracking, diag_fit;
