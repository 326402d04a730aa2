# Retention of each monthly cohort (cartera.cohort_retention).
exec ./query <<'SQL'
SELECT cohort_month, month_offset, cohort_size, active_customers, retention_rate
  FROM cartera.cohort_retention ORDER BY cohort_month, month_offset
SQL
