# Each agent's portfolio and work (cartera.agent_portfolio): agents with customers or alerts.
exec ./query <<'SQL'
SELECT agent_id, agent_name, customers, revenue, clv_predicted_12m, open_alerts, red_alerts, amber_alerts, green_alerts,
       blue_alerts, overdue_alerts, daily_capacity, queued_alerts, backlog_alerts, escalated_alerts,
       active_count + new_count + reactivated_count AS active_customers, at_risk_count
  FROM cartera.agent_portfolio
 WHERE customers > 0 OR open_alerts > 0
 ORDER BY agent_name, agent_id
SQL
