# The top of each agent's queue today (cartera.alert_queue, queued, first 10 by rank).
exec ./query <<'SQL'
SELECT agent_id, coalesce(agent_name, CASE WHEN agent_id IS NULL THEN '(no agent)' ELSE 'agent ' || agent_id END) AS agent_name, queue_rank, colour, kind, customer_id, customer_name, due_on, days_overdue, value_at_stake
  FROM (SELECT q.*, row_number() OVER (PARTITION BY agent_id ORDER BY queue_rank) AS n
          FROM cartera.alert_queue q WHERE queue = 'queued') q
 WHERE n <= 10 ORDER BY agent_name, queue_rank
SQL
