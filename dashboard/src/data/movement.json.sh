# Life-cycle status changes per month (cartera.segment_migration), up to the month of the states' as-of day: a history loaded after the fact is logged on the day it was loaded.
exec ./query <<'SQL'
SELECT month, to_status, sum(transitions) AS transitions
  FROM cartera.segment_migration
 WHERE from_status IS DISTINCT FROM to_status
   AND month <= (SELECT date_trunc('month', max(state_as_of))::date FROM cartera.customer_overview)
 GROUP BY month, to_status ORDER BY month, to_status
SQL
