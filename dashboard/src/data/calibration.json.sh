# Calibration vs holdout (cartera.calibration_holdout_summary): BG/NBD fitted on the first half of cartera.purchase's days, mean actual and predicted repeat purchases in the second half by calibration frequency.
exec ./query <<'SQL'
WITH w AS (SELECT min(purchased_at)::date AS first_day, max(purchased_at)::date AS last_day FROM cartera.purchase),
     c AS (SELECT first_day + (last_day - first_day) / 2 AS calibration_end, last_day AS holdout_end FROM w)
SELECT s.frequency, s.customers, s.actual_mean, s.predicted_mean, c.calibration_end, c.holdout_end
  FROM c, cartera.calibration_holdout_summary('cartera.purchase', 'customer_id', 'purchased_at',
                                              c.calibration_end, c.holdout_end, 'weeks') s
 WHERE c.holdout_end > c.calibration_end
 ORDER BY s.frequency
SQL
