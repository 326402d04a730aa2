# Alerts escalated to a manager (cartera.manager_queue), per agent and kind.
exec ./query <<'SQL'
SELECT agent_name, kind, escalated_to_name, count(*) AS alerts, sum(value_at_stake) AS value_at_stake
  FROM cartera.manager_queue GROUP BY agent_name, kind, escalated_to_name ORDER BY agent_name, alerts DESC, kind
SQL
