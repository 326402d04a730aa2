# The R x F grid: customers and revenue per cell (cartera.rfm_grid).
exec ./query <<'SQL'
SELECT recency_score, frequency_score, segment_name, customers, customer_share, revenue, avg_revenue
  FROM cartera.rfm_grid ORDER BY recency_score, frequency_score
SQL
