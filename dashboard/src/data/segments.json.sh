# Customers and revenue per named segment (cartera.segment_summary).
exec ./query <<'SQL'
SELECT segment_name, customers, customer_share, revenue, revenue_share, avg_ticket, avg_recency_days,
       avg_frequency, avg_clv, clv_predicted_12m
  FROM cartera.segment_summary ORDER BY revenue DESC NULLS LAST
SQL
