# The tracking curve (cartera.tracking_curve): weekly and cumulative repeat purchases, actual vs BG/NBD fitted on the same calibration period as calibration.json.
exec ./query <<'SQL'
WITH w AS (SELECT min(purchased_at)::date AS first_day, max(purchased_at)::date AS last_day FROM cartera.purchase),
     c AS (SELECT first_day + (last_day - first_day) / 2 AS calibration_end, last_day AS holdout_end FROM w)
SELECT t.period, t.period_start, t.in_calibration, t.actual_repeat, t.expected_repeat,
       t.actual_cumulative, t.expected_cumulative
  FROM c, cartera.tracking_curve('cartera.purchase', 'customer_id', 'purchased_at',
                                 c.calibration_end, c.holdout_end, 'weeks', 'bgnbd') t
 WHERE c.holdout_end > c.calibration_end
 ORDER BY t.period
SQL
