# Open alerts per agent, colour and queue (cartera.alert_queue), with those past their due date.
exec ./query <<'SQL'
SELECT agent_id, coalesce(agent_name, CASE WHEN agent_id IS NULL THEN '(no agent)' ELSE 'agent ' || agent_id END) AS agent_name, colour, queue, count(*) AS alerts, count(*) FILTER (WHERE days_overdue > 0) AS overdue,
       max(days_overdue) AS max_days_overdue, sum(value_at_stake) AS value_at_stake
  FROM cartera.alert_queue
 GROUP BY agent_id, agent_name, colour, queue
 ORDER BY agent_name, array_position(ARRAY['red', 'amber', 'green', 'blue'], colour), queue
SQL
