# Each agent's portfolio and work (cartera.agent_portfolio): agents with customers or alerts.
exec ./query <<'SQL'
SELECT agent_id, agent_name, customers, revenue, open_alerts, red_alerts, overdue_alerts, daily_capacity,
       queued_alerts, backlog_alerts, escalated_alerts
  FROM cartera.agent_portfolio
 WHERE customers > 0 OR open_alerts > 0
 ORDER BY agent_name, agent_id
SQL
