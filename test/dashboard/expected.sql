-- The figures the dashboard's pages must show, computed here from cartera's
-- tables and functions, not from the dashboard's own queries (dashboard/src/data):
-- a loader that reads the wrong column, filters wrongly or loses rows to
-- row-level security differently shows a different number.  One JSON object,
-- {"index": {...}, "predictive": {...}, "agents": {...}}, read by
-- dashboard/test/browser.mjs.  Run as the role the dashboard was built as.
SELECT count(set_config(name, value, false)) FROM cartera.portfolio_settings
 WHERE name IN ('cartera.language', 'TimeZone') AND NOT is_default \g /dev/null
WITH days AS (
  SELECT min(purchased_at)::date AS first_day, max(purchased_at)::date AS last_day FROM cartera.purchase),
cut AS (SELECT first_day + (last_day - first_day) / 2 AS calibration_end, last_day AS holdout_end FROM days),
calibrated AS (  -- customers with a purchase on or before the cut, and their purchase days after it
  SELECT p.customer_id,
         count(DISTINCT p.purchased_at::date) FILTER (WHERE p.purchased_at::date > cut.calibration_end
                                                        AND p.purchased_at::date <= cut.holdout_end) AS holdout_days
    FROM cartera.purchase p, cut
   GROUP BY p.customer_id
  HAVING min(p.purchased_at::date) <= min(cut.calibration_end)),
alerts AS (
  SELECT coalesce(agent_id::text, 'none') AS agent, count(*) AS open_alerts,
         count(*) FILTER (WHERE colour = 'red') AS red_alerts,
         count(*) FILTER (WHERE queue = 'queued') AS queued_alerts,
         count(*) FILTER (WHERE queue IS DISTINCT FROM 'queued') AS backlog_alerts,
         count(*) FILTER (WHERE due_on < current_date) AS overdue_alerts,
         count(*) FILTER (WHERE escalated_at IS NOT NULL) AS escalated_alerts
    FROM cartera.alert WHERE status IN ('open', 'acknowledged') GROUP BY agent_id),
owners AS (
  SELECT coalesce(owner_agent_id::text, 'none') AS agent, count(*) AS customers FROM cartera.customer GROUP BY owner_agent_id),
agents AS (
  SELECT coalesce(o.agent, a.agent) AS agent, coalesce(o.customers, 0) AS customers, coalesce(a.open_alerts, 0) AS open_alerts,
         coalesce(a.red_alerts, 0) AS red_alerts, coalesce(a.queued_alerts, 0) AS queued_alerts,
         coalesce(a.backlog_alerts, 0) AS backlog_alerts, coalesce(a.overdue_alerts, 0) AS overdue_alerts,
         coalesce(a.escalated_alerts, 0) AS escalated_alerts
    FROM owners o FULL JOIN alerts a ON a.agent = o.agent)
SELECT json_build_object(
  'index', (SELECT json_build_object(
      'as_of', (SELECT max((summary).as_of)::date FROM cartera.customer_state),
      'customers', (SELECT count(*) FROM cartera.customer),
      'revenue', (SELECT coalesce(sum((summary).monetary_total), 0) FROM cartera.customer_state),
      'champions', (SELECT count(*) FROM cartera.customer_overview WHERE segment_name = 'Champions'),
      'active_customers', (SELECT count(*) FROM cartera.customer_state WHERE status IN ('new', 'active', 'reactivated')),
      'at_risk_customers', (SELECT count(*) FROM cartera.customer_state WHERE status = 'at_risk'))),
  'predictive', (SELECT json_build_object(
      'calibration_end', cut.calibration_end, 'holdout_end', cut.holdout_end,
      'holdout_customers', (SELECT count(*) FROM calibrated),
      'holdout_actual', (SELECT sum(holdout_days) FROM calibrated),
      'holdout_predicted', (SELECT round(sum(predicted)) FROM cartera.calibration_holdout(
                              'cartera.purchase', 'customer_id', 'purchased_at', cut.calibration_end, cut.holdout_end)),
      'top_clv', (SELECT round(max(clv_predicted_12m)::numeric, 2) FROM cartera.customer_state)) FROM cut),
  'agents', (SELECT json_object_agg(m.key || '-' || g.agent, m.value::numeric)
               FROM agents g, json_each_text(row_to_json(g)) m
              WHERE m.key <> 'agent' AND (g.customers > 0 OR g.open_alerts > 0)
                -- the agents this role can see (cartera.agent's policies): an alert Ana
                -- handed over to Luis stays visible to her, Luis does not
                AND (g.agent = 'none' OR g.agent IN (SELECT agent_id::text FROM cartera.agent))));
