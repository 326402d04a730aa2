# KPIs per month and agent against targets (cartera.kpi_monthly).
exec ./query <<'SQL'
SELECT month, agent_id, agent_name, revenue, revenue_growth, active_customers, retention_rate, revenue_target,
       revenue_vs_target, retention_target, retention_vs_target
  FROM cartera.kpi_monthly ORDER BY month, agent_name
SQL
