# ABC analysis (cartera.abc_analysis): customers and revenue per class, and the Pareto curve at each percentile of customers.
exec ./query <<'SQL'
SELECT abc_class, NULL::numeric AS percentile, count(*) AS customers, sum(revenue) AS revenue, NULL::numeric AS cumulative_share
  FROM cartera.abc_analysis GROUP BY abc_class
UNION ALL
SELECT NULL, ceil(customer_percentile * 100), NULL, NULL, max(cumulative_share)
  FROM cartera.abc_analysis GROUP BY ceil(customer_percentile * 100)
 ORDER BY 1, 2
SQL
