# The headline figures of the portfolio page (the cards): customers, revenue, active and at-risk customers, the Champions cell's segment and the as-of day of the states.
exec ./query <<'SQL'
SELECT count(*) AS customers, coalesce(sum(monetary_total), 0) AS revenue,
       count(*) FILTER (WHERE status IN ('new', 'active', 'reactivated')) AS active_customers,
       count(*) FILTER (WHERE status = 'at_risk') AS at_risk_customers,
       (SELECT segment_name FROM cartera.rfm_grid WHERE recency_score = 5 AND frequency_score = 5) AS champions_name,
       coalesce((SELECT s.customers FROM cartera.segment_summary s
                  WHERE s.segment_name = (SELECT segment_name FROM cartera.rfm_grid
                                           WHERE recency_score = 5 AND frequency_score = 5)), 0) AS champions,
       max(state_as_of)::date AS as_of
  FROM cartera.customer_overview
SQL
