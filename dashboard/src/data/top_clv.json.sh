# The 20 customers with the highest predicted CLV over the next 12 months (cartera.customer_overview).
exec ./query <<'SQL'
SELECT customer_id, full_name, owner_agent_name, status, segment_name, purchases, monetary_total,
       purchase_probability, expected_purchases_12m, clv_predicted_12m
  FROM cartera.customer_overview
 WHERE clv_predicted_12m IS NOT NULL
 ORDER BY clv_predicted_12m DESC, customer_id LIMIT 20
SQL
