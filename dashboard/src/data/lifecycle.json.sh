# Customers per life-cycle status (cartera.lifecycle_summary).
exec ./query <<'SQL'
SELECT status, status_order, customers, customer_share, revenue, revenue_share, avg_recency_days,
       avg_purchase_probability
  FROM cartera.lifecycle_summary ORDER BY status_order
SQL
