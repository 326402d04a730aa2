# Uplift of each kind of alert over its held-out group, all months, with 95 % intervals (cartera.followup_uplift).
exec ./query <<'SQL'
SELECT kind, alerted, held_out, conversion_alerted, conversion_held_out, uplift, uplift_low, uplift_high,
       revenue_uplift, revenue_uplift_low, revenue_uplift_high, alerts_per_win
  FROM cartera.followup_uplift WHERE month IS NULL ORDER BY kind
SQL
