# Alerts escalated to a manager (cartera.manager_queue), per agent and kind.
exec ./query <<'SQL'
SELECT coalesce(agent_name, CASE WHEN agent_id IS NULL THEN '(no agent)' ELSE 'agent ' || agent_id END) AS agent_name, kind,
       coalesce(escalated_to_name, CASE WHEN escalated_to IS NULL THEN '(no agent)' ELSE 'agent ' || escalated_to END) AS escalated_to_name,
       count(*) AS alerts, sum(value_at_stake) AS value_at_stake
  FROM cartera.manager_queue GROUP BY 1, 2, 3 ORDER BY agent_name, alerts DESC, kind
SQL
