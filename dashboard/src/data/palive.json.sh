# P(alive) and expected purchases in the next 12 months (BG/NBD of the last refresh) by frequency (repeat purchase days, 10 or more together) and recency (months since the last purchase, 18 or more together).
exec ./query <<'SQL'
SELECT least(frequency, 10) AS frequency, least(recency_days / 30, 18) AS recency_months, count(*) AS customers,
       avg(purchase_probability) AS p_alive, avg(expected_purchases_12m) AS expected_purchases_12m
  FROM cartera.customer_overview
 WHERE purchase_probability IS NOT NULL
 GROUP BY 1, 2 ORDER BY 1, 2
SQL
