
------------------------------------------------------------------------------
-- 0.2.0: views for BI tools, duplicate customers and merging them.
--
-- The views are the API for Metabase, Superset, Power BI and Grafana: their
-- column names and types are stable and every column carries a COMMENT.
-- Conventions shared by all of them:
--  * security_invoker: they run with the rights of the role reading them, so
--    row-level security on the portfolio tables applies (an agent sees their
--    own portfolio; shares and totals are over what the reader can see);
--  * status and segment come out as text (lifecycle status name, segment as
--    its canonical three digits), which every BI driver reads;
--  * segment names are in cartera.language (es by default, en);
--  * "open" alerts are those still to do: status open or acknowledged
--    (snoozed ones are hidden until their date);
--  * customer-level figures come from customer_state (every purchase source,
--    tracked tables included); monthly figures come from the rows of
--    cartera.purchase (refunds included, net), per calendar month in the
--    session's TimeZone: tables attached with cartera.track_purchases() are
--    not in the monthly views;
--  * set-based: no per-row queries; segment names are looked up once per
--    segment where the view aggregates.
------------------------------------------------------------------------------

-- One row per customer: registry, owner agent, state.
CREATE VIEW cartera.customer_overview WITH (security_invoker = true) AS
SELECT c.customer_id,
       c.full_name,
       c.company,
       c.email,
       c.phone,
       c.mobile_phone,
       c.country,
       c.region,
       c.city,
       c.relationship,
       c.owner_agent_id,
       a.name AS owner_agent_name,
       c.marketing_consent,
       c.created_at,
       s.status::text AS status,
       s.segment::text AS segment,
       CASE WHEN s.segment IS NOT NULL THEN cartera.segment_label(s.segment) END AS segment_name,
       (s.summary).first_purchase,
       (s.summary).last_purchase,
       (s.summary).purchases,
       (s.summary).frequency,
       (s.summary).recency_days,
       (s.summary).monetary_total,
       (s.summary).avg_ticket,
       s.clv,
       s.p_alive AS purchase_probability,
       s.expected_purchases_12m,
       s.clv_predicted_12m,
       (s.summary).as_of AS state_as_of,
       coalesce(o.open_alerts, 0) AS open_alerts
  FROM cartera.customer c
  LEFT JOIN cartera.customer_state s ON s.customer_id = c.customer_id
  LEFT JOIN cartera.agent a ON a.agent_id = c.owner_agent_id
  LEFT JOIN (SELECT al.customer_id, count(*) AS open_alerts
               FROM cartera.alert al
              WHERE al.status IN ('open', 'acknowledged') AND al.customer_id IS NOT NULL
              GROUP BY al.customer_id) o ON o.customer_id = c.customer_id;
COMMENT ON VIEW cartera.customer_overview IS
  'one row per customer: registry fields, owner agent, life-cycle status, RFM segment and name, purchase summary, CLV, purchase probability and open alerts';
COMMENT ON COLUMN cartera.customer_overview.customer_id IS 'customer id (cartera.customer)';
COMMENT ON COLUMN cartera.customer_overview.full_name IS 'customer name';
COMMENT ON COLUMN cartera.customer_overview.company IS 'company the customer works for or is';
COMMENT ON COLUMN cartera.customer_overview.email IS 'e-mail address';
COMMENT ON COLUMN cartera.customer_overview.phone IS 'landline phone';
COMMENT ON COLUMN cartera.customer_overview.mobile_phone IS 'mobile phone';
COMMENT ON COLUMN cartera.customer_overview.country IS 'ISO 3166-1 alpha-2 country code';
COMMENT ON COLUMN cartera.customer_overview.region IS 'region';
COMMENT ON COLUMN cartera.customer_overview.city IS 'city';
COMMENT ON COLUMN cartera.customer_overview.relationship IS 'kind of relationship: customer, business, distributor, partner';
COMMENT ON COLUMN cartera.customer_overview.owner_agent_id IS 'id of the agent whose portfolio the customer is in; NULL if unassigned';
COMMENT ON COLUMN cartera.customer_overview.owner_agent_name IS 'name of the owner agent';
COMMENT ON COLUMN cartera.customer_overview.marketing_consent IS 'whether the customer accepted marketing contact';
COMMENT ON COLUMN cartera.customer_overview.created_at IS 'when the customer was registered';
COMMENT ON COLUMN cartera.customer_overview.status IS 'life-cycle status at state_as_of: lead, new, active, reactivated, at_risk, dormant, lost';
COMMENT ON COLUMN cartera.customer_overview.segment IS 'RFM cell as three digits R, F, M (1..5, 5 = best) from the last cartera.refresh(); NULL for leads or before the first refresh()';
COMMENT ON COLUMN cartera.customer_overview.segment_name IS 'named segment of the cell (cartera.segment_map) in cartera.language';
COMMENT ON COLUMN cartera.customer_overview.first_purchase IS 'first purchase';
COMMENT ON COLUMN cartera.customer_overview.last_purchase IS 'last purchase';
COMMENT ON COLUMN cartera.customer_overview.purchases IS 'number of purchases (refunds are not purchases), every purchase source';
COMMENT ON COLUMN cartera.customer_overview.frequency IS 'repeat purchase days: distinct purchase days - 1';
COMMENT ON COLUMN cartera.customer_overview.recency_days IS 'days from the last purchase to state_as_of';
COMMENT ON COLUMN cartera.customer_overview.monetary_total IS 'net revenue of the customer (sales minus refunds), every purchase source';
COMMENT ON COLUMN cartera.customer_overview.avg_ticket IS 'average ticket: monetary_total / purchases';
COMMENT ON COLUMN cartera.customer_overview.clv IS 'seed-formula customer lifetime value (lifespan cartera.clv_lifespan)';
COMMENT ON COLUMN cartera.customer_overview.purchase_probability IS 'probability that the customer is still active: P(alive) under the transaction model of the last refresh() (portfolio_model.transaction_model)';
COMMENT ON COLUMN cartera.customer_overview.expected_purchases_12m IS 'expected repeat purchases in the next 12 months (the transaction model of the last refresh())';
COMMENT ON COLUMN cartera.customer_overview.clv_predicted_12m IS 'predicted value of the next 12 months (transaction model + Gamma-Gamma, 1 % monthly discount)';
COMMENT ON COLUMN cartera.customer_overview.state_as_of IS 'instant the state was computed at (last purchase statement, refresh() or run_followups())';
COMMENT ON COLUMN cartera.customer_overview.open_alerts IS 'alerts about the customer still to do (open or acknowledged)';

-- Per named segment.
CREATE VIEW cartera.segment_summary WITH (security_invoker = true) AS
WITH per_cell AS (
  SELECT s.segment, count(*) AS customers,
         sum((s.summary).purchases) AS purchases,
         sum((s.summary).monetary_total) AS revenue,
         sum((s.summary).recency_days) AS recency_sum, count((s.summary).recency_days) AS recency_n,
         sum((s.summary).frequency) AS frequency_sum,
         sum(s.clv) AS clv_sum, count(s.clv) AS clv_n,
         sum(s.clv_predicted_12m) AS clv_predicted_12m
    FROM cartera.customer_state s
   GROUP BY s.segment),
per_name AS (
  SELECT n.segment_name, sum(p.customers) AS customers, sum(p.purchases) AS purchases, sum(p.revenue) AS revenue,
         sum(p.recency_sum) AS recency_sum, sum(p.recency_n) AS recency_n, sum(p.frequency_sum) AS frequency_sum,
         sum(p.clv_sum) AS clv_sum, sum(p.clv_n) AS clv_n, sum(p.clv_predicted_12m) AS clv_predicted_12m
    FROM per_cell p
    CROSS JOIN LATERAL (SELECT CASE WHEN p.segment IS NOT NULL THEN cartera.segment_label(p.segment) END AS segment_name) n
   GROUP BY n.segment_name)
SELECT p.segment_name,
       p.customers::bigint AS customers,
       p.customers / sum(p.customers) OVER () AS customer_share,
       p.revenue,
       p.revenue / nullif(sum(p.revenue) OVER (), 0) AS revenue_share,
       p.revenue / nullif(p.purchases, 0) AS avg_ticket,
       p.recency_sum / nullif(p.recency_n, 0) AS avg_recency_days,
       p.frequency_sum / p.customers AS avg_frequency,
       p.clv_sum / nullif(p.clv_n, 0) AS avg_clv,
       p.clv_predicted_12m
  FROM per_name p;
COMMENT ON VIEW cartera.segment_summary IS
  'per named segment (cartera.segment_map, in cartera.language): customers, revenue, average ticket, recency, frequency, CLV and shares of the portfolio; one row with a NULL name for customers without a segment (leads, or before the first refresh())';
COMMENT ON COLUMN cartera.segment_summary.segment_name IS 'named segment in cartera.language; NULL: customers without a segment';
COMMENT ON COLUMN cartera.segment_summary.customers IS 'customers in the segment';
COMMENT ON COLUMN cartera.segment_summary.customer_share IS 'share of all customers (0..1)';
COMMENT ON COLUMN cartera.segment_summary.revenue IS 'net revenue of the segment''s customers (sum of monetary_total)';
COMMENT ON COLUMN cartera.segment_summary.revenue_share IS 'share of the portfolio''s net revenue (0..1)';
COMMENT ON COLUMN cartera.segment_summary.avg_ticket IS 'average ticket: revenue / purchases of the segment';
COMMENT ON COLUMN cartera.segment_summary.avg_recency_days IS 'average days since the last purchase';
COMMENT ON COLUMN cartera.segment_summary.avg_frequency IS 'average repeat purchase days (frequency)';
COMMENT ON COLUMN cartera.segment_summary.avg_clv IS 'average seed-formula CLV';
COMMENT ON COLUMN cartera.segment_summary.clv_predicted_12m IS 'sum of the predicted 12-month values of the segment''s customers';

-- The R x F grid: all 25 cells, empty ones included (a complete heat map).
CREATE VIEW cartera.rfm_grid WITH (security_invoker = true) AS
WITH cells AS (
  SELECT cartera.recency_score(s.segment) AS r, cartera.frequency_score(s.segment) AS f,
         count(*) AS customers, sum((s.summary).monetary_total) AS revenue,
         sum(cartera.monetary_score(s.segment)) AS monetary_score_sum
    FROM cartera.customer_state s
   WHERE s.segment IS NOT NULL
   GROUP BY 1, 2),
grid AS (
  SELECT r, f FROM generate_series(1, 5) r CROSS JOIN generate_series(1, 5) f
  UNION
  SELECT r, f FROM cells)
SELECT g.r AS recency_score,
       g.f AS frequency_score,
       cartera.segment_label(cartera.segment(g.r, g.f, 1)) AS segment_name,
       coalesce(c.customers, 0) AS customers,
       coalesce(c.customers, 0)::numeric / nullif(sum(c.customers) OVER (), 0) AS customer_share,
       coalesce(c.revenue, 0) AS revenue,
       c.revenue / nullif(sum(c.revenue) OVER (), 0) AS revenue_share,
       c.revenue / c.customers AS avg_revenue,
       c.monetary_score_sum::numeric / c.customers AS avg_monetary_score
  FROM grid g
  LEFT JOIN cells c ON c.r = g.r AND c.f = g.f;
COMMENT ON VIEW cartera.rfm_grid IS
  'the recency x frequency grid of segmented customers: one row per cell (all 25 of the 5 x 5 grid, empty ones included) with its segment name, customers and revenue';
COMMENT ON COLUMN cartera.rfm_grid.recency_score IS 'R score (1..5, 5 = bought most recently)';
COMMENT ON COLUMN cartera.rfm_grid.frequency_score IS 'F score (1..5, 5 = buys most often)';
COMMENT ON COLUMN cartera.rfm_grid.segment_name IS 'named segment of the cell in cartera.language';
COMMENT ON COLUMN cartera.rfm_grid.customers IS 'customers in the cell';
COMMENT ON COLUMN cartera.rfm_grid.customer_share IS 'share of the segmented customers (0..1)';
COMMENT ON COLUMN cartera.rfm_grid.revenue IS 'net revenue of the cell''s customers';
COMMENT ON COLUMN cartera.rfm_grid.revenue_share IS 'share of the segmented customers'' net revenue (0..1); NULL for an empty cell';
COMMENT ON COLUMN cartera.rfm_grid.avg_revenue IS 'net revenue per customer; NULL for an empty cell';
COMMENT ON COLUMN cartera.rfm_grid.avg_monetary_score IS 'average M score (1..5) of the cell''s customers; NULL for an empty cell';

-- Per life-cycle status, every status listed (in life-cycle order).
CREATE VIEW cartera.lifecycle_summary WITH (security_invoker = true) AS
WITH per_status AS (
  SELECT s.status, count(*) AS customers,
         sum((s.summary).purchases) AS purchases,
         sum((s.summary).monetary_total) AS revenue,
         avg((s.summary).recency_days) AS avg_recency_days,
         avg(s.clv) AS avg_clv,
         avg(s.p_alive) AS avg_purchase_probability,
         sum(s.clv_predicted_12m) AS clv_predicted_12m
    FROM cartera.customer_state s
   GROUP BY s.status)
SELECT st.status::text AS status,
       st.n::integer AS status_order,
       coalesce(p.customers, 0) AS customers,
       coalesce(p.customers, 0)::numeric / nullif(sum(p.customers) OVER (), 0) AS customer_share,
       coalesce(p.revenue, 0) AS revenue,
       p.revenue / nullif(sum(p.revenue) OVER (), 0) AS revenue_share,
       p.revenue / nullif(p.purchases, 0) AS avg_ticket,
       p.avg_recency_days,
       p.avg_clv,
       p.avg_purchase_probability,
       p.clv_predicted_12m
  FROM unnest(enum_range(NULL::cartera.lifecycle_status)) WITH ORDINALITY st(status, n)
  LEFT JOIN per_status p ON p.status = st.status;
COMMENT ON VIEW cartera.lifecycle_summary IS
  'per life-cycle status (all seven, in order lead, new, active, reactivated, at_risk, dormant, lost): customers, revenue, average ticket, recency, CLV, purchase probability';
COMMENT ON COLUMN cartera.lifecycle_summary.status IS 'life-cycle status';
COMMENT ON COLUMN cartera.lifecycle_summary.status_order IS 'position of the status in the life cycle (1 = lead ... 7 = lost), for sorting';
COMMENT ON COLUMN cartera.lifecycle_summary.customers IS 'customers with this status';
COMMENT ON COLUMN cartera.lifecycle_summary.customer_share IS 'share of all customers (0..1)';
COMMENT ON COLUMN cartera.lifecycle_summary.revenue IS 'net revenue of these customers (sum of monetary_total)';
COMMENT ON COLUMN cartera.lifecycle_summary.revenue_share IS 'share of the portfolio''s net revenue (0..1)';
COMMENT ON COLUMN cartera.lifecycle_summary.avg_ticket IS 'average ticket: revenue / purchases';
COMMENT ON COLUMN cartera.lifecycle_summary.avg_recency_days IS 'average days since the last purchase (leads excluded)';
COMMENT ON COLUMN cartera.lifecycle_summary.avg_clv IS 'average seed-formula CLV';
COMMENT ON COLUMN cartera.lifecycle_summary.avg_purchase_probability IS 'average probability of being active (P(alive) under the transaction model of the last refresh())';
COMMENT ON COLUMN cartera.lifecycle_summary.clv_predicted_12m IS 'sum of the predicted 12-month values';

-- Pareto / ABC: customers by net revenue, best first.  A is the smallest set
-- of best customers that reaches 80 % of the revenue (the customer crossing
-- the line is in A), B reaches 95 %, C is the rest (and anyone with no
-- positive revenue).
CREATE VIEW cartera.abc_analysis WITH (security_invoker = true) AS
WITH ranked AS (
  SELECT s.customer_id, (s.summary).monetary_total AS revenue,
         row_number() OVER w AS revenue_rank,
         count(*) OVER () AS customers,
         sum(greatest((s.summary).monetary_total, 0)) OVER () AS total,
         sum(greatest((s.summary).monetary_total, 0)) OVER (w ROWS UNBOUNDED PRECEDING) AS cumulative
    FROM cartera.customer_state s
   WHERE (s.summary).purchases > 0
  WINDOW w AS (ORDER BY (s.summary).monetary_total DESC, s.customer_id))
SELECT r.revenue_rank,
       r.customer_id,
       c.full_name,
       c.owner_agent_id,
       r.revenue,
       greatest(r.revenue, 0) / nullif(r.total, 0) AS revenue_share,
       r.cumulative / nullif(r.total, 0) AS cumulative_share,
       r.revenue_rank::numeric / r.customers AS customer_percentile,
       CASE WHEN r.revenue > 0 AND r.cumulative - r.revenue < 0.80 * r.total THEN 'A'
            WHEN r.revenue > 0 AND r.cumulative - r.revenue < 0.95 * r.total THEN 'B'
            ELSE 'C' END AS abc_class
  FROM ranked r
  JOIN cartera.customer c ON c.customer_id = r.customer_id;
COMMENT ON VIEW cartera.abc_analysis IS
  'Pareto (ABC) analysis of the customers with purchases, best first: A = the fewest customers making 80 % of the net revenue, B = the next ones up to 95 %, C = the rest';
COMMENT ON COLUMN cartera.abc_analysis.revenue_rank IS 'position by net revenue, 1 = highest (ties by customer_id)';
COMMENT ON COLUMN cartera.abc_analysis.customer_id IS 'customer id';
COMMENT ON COLUMN cartera.abc_analysis.full_name IS 'customer name';
COMMENT ON COLUMN cartera.abc_analysis.owner_agent_id IS 'owner agent id';
COMMENT ON COLUMN cartera.abc_analysis.revenue IS 'net revenue of the customer (monetary_total, every purchase source)';
COMMENT ON COLUMN cartera.abc_analysis.revenue_share IS 'the customer''s share of the positive revenue (0..1)';
COMMENT ON COLUMN cartera.abc_analysis.cumulative_share IS 'share of the revenue made by this customer and every better one (0..1)';
COMMENT ON COLUMN cartera.abc_analysis.customer_percentile IS 'revenue_rank / customers: the customer is in the top this fraction of customers';
COMMENT ON COLUMN cartera.abc_analysis.abc_class IS 'A (up to 80 % of the revenue), B (up to 95 %), C (the rest)';

-- Per agent (and one row for unassigned customers, when there are any).
CREATE VIEW cartera.agent_portfolio WITH (security_invoker = true) AS
WITH owners AS (
  SELECT a.agent_id, a.name, a.active, a.daily_capacity FROM cartera.agent a
  UNION ALL
  SELECT NULL, NULL, NULL, NULL),
per_owner AS (
  SELECT c.owner_agent_id AS agent_id, count(*) AS customers,
         count(*) FILTER (WHERE s.status = 'lead') AS lead_count,
         count(*) FILTER (WHERE s.status = 'new') AS new_count,
         count(*) FILTER (WHERE s.status = 'active') AS active_count,
         count(*) FILTER (WHERE s.status = 'reactivated') AS reactivated_count,
         count(*) FILTER (WHERE s.status = 'at_risk') AS at_risk_count,
         count(*) FILTER (WHERE s.status = 'dormant') AS dormant_count,
         count(*) FILTER (WHERE s.status = 'lost') AS lost_count,
         sum((s.summary).monetary_total) AS revenue,
         sum(s.clv) AS clv,
         sum(s.clv_predicted_12m) AS clv_predicted_12m
    FROM cartera.customer c
    LEFT JOIN cartera.customer_state s ON s.customer_id = c.customer_id
   GROUP BY c.owner_agent_id),
per_agent_alerts AS (
  SELECT al.agent_id, count(*) AS open_alerts,
         count(*) FILTER (WHERE al.colour = 'red') AS red_alerts,
         count(*) FILTER (WHERE al.colour = 'amber') AS amber_alerts,
         count(*) FILTER (WHERE al.colour = 'green') AS green_alerts,
         count(*) FILTER (WHERE al.colour = 'blue') AS blue_alerts,
         count(*) FILTER (WHERE al.due_on < current_date) AS overdue_alerts,
         count(*) FILTER (WHERE al.queue = 'queued') AS queued_alerts,
         count(*) FILTER (WHERE al.queue IS DISTINCT FROM 'queued') AS backlog_alerts,
         count(*) FILTER (WHERE al.escalated_at IS NOT NULL) AS escalated_alerts
    FROM cartera.alert al
   WHERE al.status IN ('open', 'acknowledged')
   GROUP BY al.agent_id)
SELECT o.agent_id,
       o.name AS agent_name,
       o.active AS agent_active,
       coalesce(p.customers, 0) AS customers,
       coalesce(p.lead_count, 0) AS lead_count,
       coalesce(p.new_count, 0) AS new_count,
       coalesce(p.active_count, 0) AS active_count,
       coalesce(p.reactivated_count, 0) AS reactivated_count,
       coalesce(p.at_risk_count, 0) AS at_risk_count,
       coalesce(p.dormant_count, 0) AS dormant_count,
       coalesce(p.lost_count, 0) AS lost_count,
       coalesce(p.revenue, 0) AS revenue,
       p.clv,
       p.clv_predicted_12m,
       coalesce(x.open_alerts, 0) AS open_alerts,
       coalesce(x.red_alerts, 0) AS red_alerts,
       coalesce(x.amber_alerts, 0) AS amber_alerts,
       coalesce(x.green_alerts, 0) AS green_alerts,
       coalesce(x.blue_alerts, 0) AS blue_alerts,
       coalesce(x.overdue_alerts, 0) AS overdue_alerts,
       CASE WHEN o.active THEN coalesce(o.daily_capacity, cartera.portfolio_setting_value('cartera.daily_capacity')::integer)
            ELSE 0 END AS daily_capacity,
       coalesce(x.queued_alerts, 0) AS queued_alerts,
       coalesce(x.backlog_alerts, 0) AS backlog_alerts,
       coalesce(x.escalated_alerts, 0) AS escalated_alerts
  FROM owners o
  LEFT JOIN per_owner p ON p.agent_id IS NOT DISTINCT FROM o.agent_id
  LEFT JOIN per_agent_alerts x ON x.agent_id IS NOT DISTINCT FROM o.agent_id
 WHERE o.agent_id IS NOT NULL OR p.customers > 0 OR x.open_alerts > 0;
COMMENT ON VIEW cartera.agent_portfolio IS
  'per agent: customers by life-cycle status, revenue, CLV and the open alerts they must act on, by colour; a row with a NULL agent counts unassigned customers and alerts';
COMMENT ON COLUMN cartera.agent_portfolio.agent_id IS 'agent id; NULL: customers without an owner';
COMMENT ON COLUMN cartera.agent_portfolio.agent_name IS 'agent name';
COMMENT ON COLUMN cartera.agent_portfolio.agent_active IS 'whether the agent is active';
COMMENT ON COLUMN cartera.agent_portfolio.customers IS 'customers the agent owns';
COMMENT ON COLUMN cartera.agent_portfolio.lead_count IS 'owned customers with status lead (no purchase yet)';
COMMENT ON COLUMN cartera.agent_portfolio.new_count IS 'owned customers with status new';
COMMENT ON COLUMN cartera.agent_portfolio.active_count IS 'owned customers with status active';
COMMENT ON COLUMN cartera.agent_portfolio.reactivated_count IS 'owned customers with status reactivated';
COMMENT ON COLUMN cartera.agent_portfolio.at_risk_count IS 'owned customers with status at_risk';
COMMENT ON COLUMN cartera.agent_portfolio.dormant_count IS 'owned customers with status dormant';
COMMENT ON COLUMN cartera.agent_portfolio.lost_count IS 'owned customers with status lost';
COMMENT ON COLUMN cartera.agent_portfolio.revenue IS 'net revenue of the owned customers (sum of monetary_total)';
COMMENT ON COLUMN cartera.agent_portfolio.clv IS 'sum of the seed-formula CLV of the owned customers';
COMMENT ON COLUMN cartera.agent_portfolio.clv_predicted_12m IS 'sum of the predicted 12-month values of the owned customers';
COMMENT ON COLUMN cartera.agent_portfolio.open_alerts IS 'alerts assigned to the agent still to do (open or acknowledged)';
COMMENT ON COLUMN cartera.agent_portfolio.red_alerts IS 'open red alerts (act now)';
COMMENT ON COLUMN cartera.agent_portfolio.amber_alerts IS 'open amber alerts (follow up soon)';
COMMENT ON COLUMN cartera.agent_portfolio.green_alerts IS 'open green alerts (opportunities)';
COMMENT ON COLUMN cartera.agent_portfolio.blue_alerts IS 'open blue alerts (for the agent: targets)';
COMMENT ON COLUMN cartera.agent_portfolio.overdue_alerts IS 'open alerts past their due date';
COMMENT ON COLUMN cartera.agent_portfolio.daily_capacity IS 'alerts the agent can work in a day (agent.daily_capacity, else the portfolio setting; 0 for inactive agents and unassigned alerts)';
COMMENT ON COLUMN cartera.agent_portfolio.queued_alerts IS 'alerts in the day''s queue (at most daily_capacity after the daily job, plus complaints raised since)';
COMMENT ON COLUMN cartera.agent_portfolio.backlog_alerts IS 'alerts still to do beyond the day''s queue (waiting; re-ranked every day)';
COMMENT ON COLUMN cartera.agent_portfolio.escalated_alerts IS 'alerts still to do that were escalated to the manager';

-- The to-do list: what to act on first.
CREATE VIEW cartera.alert_queue WITH (security_invoker = true) AS
SELECT al.alert_id,
       al.kind,
       al.colour,
       array_position(ARRAY['red', 'amber', 'green', 'blue'], al.colour) AS severity,
       al.status,
       al.customer_id,
       c.full_name AS customer_name,
       al.agent_id,
       a.name AS agent_name,
       al.raised_at,
       al.due_on,
       greatest(current_date - al.due_on, 0) AS days_overdue,
       al.message,
       al.detail,
       al.queue,
       al.queue_rank,
       al.value_at_stake,
       al.escalated_at,
       al.escalated_to
  FROM cartera.alert al
  LEFT JOIN cartera.customer c ON c.customer_id = al.customer_id
  LEFT JOIN cartera.agent a ON a.agent_id = al.agent_id
 WHERE al.status IN ('open', 'acknowledged')
 ORDER BY al.queue = 'backlog', severity, al.value_at_stake DESC NULLS LAST, al.due_on, al.alert_id;
COMMENT ON VIEW cartera.alert_queue IS
  'alerts still to do (open or acknowledged): the day''s queue first, then the backlog, each by colour (red, amber, green, blue), value at stake and due date';
COMMENT ON COLUMN cartera.alert_queue.alert_id IS 'alert id (act on it with cartera.acknowledge_alert, complete_alert, snooze_alert, dismiss_alert)';
COMMENT ON COLUMN cartera.alert_queue.kind IS 'alert kind (cartera.alert_kind)';
COMMENT ON COLUMN cartera.alert_queue.colour IS 'red = act now, amber = follow up soon, green = opportunity, blue = for the agent';
COMMENT ON COLUMN cartera.alert_queue.severity IS 'colour as a sort key: 1 red, 2 amber, 3 green, 4 blue';
COMMENT ON COLUMN cartera.alert_queue.status IS 'open or acknowledged';
COMMENT ON COLUMN cartera.alert_queue.customer_id IS 'customer concerned; NULL for alerts about the agent';
COMMENT ON COLUMN cartera.alert_queue.customer_name IS 'customer name';
COMMENT ON COLUMN cartera.alert_queue.agent_id IS 'agent who must act';
COMMENT ON COLUMN cartera.alert_queue.agent_name IS 'name of the agent who must act';
COMMENT ON COLUMN cartera.alert_queue.raised_at IS 'when the alert was raised';
COMMENT ON COLUMN cartera.alert_queue.due_on IS 'date by which to act';
COMMENT ON COLUMN cartera.alert_queue.days_overdue IS 'days past due_on (current_date - due_on); 0 when not yet due';
COMMENT ON COLUMN cartera.alert_queue.message IS 'what to do, in the language the alert was raised in';
COMMENT ON COLUMN cartera.alert_queue.detail IS 'details (amounts, dates, offers)';
COMMENT ON COLUMN cartera.alert_queue.queue IS 'queued (today''s work, up to the agent''s capacity) or backlog; NULL until the daily job ranks it';
COMMENT ON COLUMN cartera.alert_queue.queue_rank IS 'position in the agent''s list at the last ranking (1 = first)';
COMMENT ON COLUMN cartera.alert_queue.value_at_stake IS 'predicted 12-month CLV x (1 - P(alive)) at the last ranking (formula CLV before a model is fitted)';
COMMENT ON COLUMN cartera.alert_queue.escalated_at IS 'when it was escalated to the manager (red and overdue)';
COMMENT ON COLUMN cartera.alert_queue.escalated_to IS 'the manager it was escalated to (agent id)';

-- Monthly KPIs per agent: revenue and its growth, buying customers, month on
-- month retention, against the agent's targets.  Sales are credited to the
-- customer's current owner.  Every month from the first to the last month
-- with purchases or targets has a row per agent, so a month without sales
-- shows revenue 0 and retention 0.
CREATE VIEW cartera.kpi_monthly WITH (security_invoker = true) AS
WITH rows AS (
  SELECT c.owner_agent_id AS agent_id, p.customer_id,
         date_trunc('month', p.purchased_at)::date AS month, p.amount, p.kind
    FROM cartera.purchase p
    JOIN cartera.customer c ON c.customer_id = p.customer_id),
buying AS (   -- customer-months with a sale; bought the month before too?
  SELECT b.agent_id, b.month,
         lag(b.month) OVER (PARTITION BY b.customer_id ORDER BY b.month) = (b.month - interval '1 month')::date AS retained
    FROM (SELECT DISTINCT r.agent_id, r.customer_id, r.month FROM rows r WHERE r.kind = 'sale') b),
per_month AS (
  SELECT coalesce(rv.agent_id, bu.agent_id) AS agent_id, coalesce(rv.month, bu.month) AS month,
         coalesce(rv.revenue, 0) AS revenue, coalesce(bu.active, 0) AS active, coalesce(bu.retained, 0) AS retained
    FROM (SELECT r.agent_id, r.month, sum(r.amount) AS revenue FROM rows r GROUP BY r.agent_id, r.month) rv
    FULL JOIN (SELECT b.agent_id, b.month, count(*) AS active, count(*) FILTER (WHERE b.retained) AS retained
                 FROM buying b GROUP BY b.agent_id, b.month) bu
      ON bu.month = rv.month AND bu.agent_id IS NOT DISTINCT FROM rv.agent_id),
agents AS (
  SELECT DISTINCT pm.agent_id FROM per_month pm
  UNION
  SELECT t.agent_id FROM cartera.agent_target t),
months AS (
  SELECT gs::date AS month
    FROM (SELECT min(m) AS first_month, max(m) AS last_month
            FROM (SELECT pm.month AS m FROM per_month pm UNION ALL SELECT t.month FROM cartera.agent_target t) x) b,
         generate_series(b.first_month::timestamp, b.last_month::timestamp, interval '1 month') gs),
series AS (
  SELECT m.month, ag.agent_id,
         coalesce(pm.revenue, 0) AS revenue,
         lag(coalesce(pm.revenue, 0)) OVER w AS previous_revenue,
         coalesce(pm.active, 0) AS active_customers,
         lag(coalesce(pm.active, 0)) OVER w AS previous_active_customers,
         coalesce(pm.retained, 0) AS retained_customers
    FROM months m
    CROSS JOIN agents ag
    LEFT JOIN per_month pm ON pm.month = m.month AND pm.agent_id IS NOT DISTINCT FROM ag.agent_id
  WINDOW w AS (PARTITION BY ag.agent_id ORDER BY m.month))
SELECT s.month,
       s.agent_id,
       a.name AS agent_name,
       s.revenue,
       s.previous_revenue,
       CASE WHEN s.previous_revenue > 0 THEN s.revenue / s.previous_revenue - 1 END AS revenue_growth,
       s.active_customers,
       s.previous_active_customers,
       s.retained_customers,
       s.retained_customers::numeric / nullif(s.previous_active_customers, 0) AS retention_rate,
       t.revenue_target,
       s.revenue / nullif(t.revenue_target, 0) AS revenue_vs_target,
       t.retention_target,
       s.retained_customers::numeric / nullif(s.previous_active_customers, 0) - t.retention_target AS retention_vs_target
  FROM series s
  LEFT JOIN cartera.agent a ON a.agent_id = s.agent_id
  LEFT JOIN cartera.agent_target t ON t.agent_id = s.agent_id AND t.month = s.month;
COMMENT ON VIEW cartera.kpi_monthly IS
  'monthly KPIs per agent (sales credited to the customer''s current owner; NULL agent = unassigned customers): net revenue and growth, buying customers, retention from the previous month, against cartera.agent_target; from the rows of cartera.purchase (tables attached with track_purchases() are not included), calendar months in the session TimeZone';
COMMENT ON COLUMN cartera.kpi_monthly.month IS 'first day of the month';
COMMENT ON COLUMN cartera.kpi_monthly.agent_id IS 'owner agent of the customers; NULL: customers without an owner';
COMMENT ON COLUMN cartera.kpi_monthly.agent_name IS 'agent name';
COMMENT ON COLUMN cartera.kpi_monthly.revenue IS 'net revenue of the month (sales minus refunds in cartera.purchase)';
COMMENT ON COLUMN cartera.kpi_monthly.previous_revenue IS 'net revenue of the previous month; NULL for the first month';
COMMENT ON COLUMN cartera.kpi_monthly.revenue_growth IS 'revenue / previous_revenue - 1 (0.10 = +10 %); NULL when the previous month had no positive revenue';
COMMENT ON COLUMN cartera.kpi_monthly.active_customers IS 'customers with at least one sale in the month (not the life-cycle status "active")';
COMMENT ON COLUMN cartera.kpi_monthly.previous_active_customers IS 'customers with a sale in the previous month; NULL for the first month';
COMMENT ON COLUMN cartera.kpi_monthly.retained_customers IS 'customers with a sale in the previous month and again in this one';
COMMENT ON COLUMN cartera.kpi_monthly.retention_rate IS 'retained_customers / previous_active_customers (0..1); NULL when nobody bought the previous month';
COMMENT ON COLUMN cartera.kpi_monthly.revenue_target IS 'the agent''s revenue target for the month (cartera.agent_target)';
COMMENT ON COLUMN cartera.kpi_monthly.revenue_vs_target IS 'revenue / revenue_target (1 = target met)';
COMMENT ON COLUMN cartera.kpi_monthly.retention_target IS 'the agent''s retention target for the month (0..1)';
COMMENT ON COLUMN cartera.kpi_monthly.retention_vs_target IS 'retention_rate - retention_target (>= 0: target met)';

-- Portfolio-wide month on month retention.
CREATE VIEW cartera.retention_monthly WITH (security_invoker = true) AS
WITH buying AS (
  SELECT b.month,
         lag(b.month) OVER (PARTITION BY b.customer_id ORDER BY b.month) = (b.month - interval '1 month')::date AS retained,
         row_number() OVER (PARTITION BY b.customer_id ORDER BY b.month) = 1 AS first_time
    FROM (SELECT DISTINCT p.customer_id, date_trunc('month', p.purchased_at)::date AS month
            FROM cartera.purchase p WHERE p.kind = 'sale') b),
per_month AS (
  SELECT b.month, count(*) AS active, count(*) FILTER (WHERE b.retained) AS retained,
         count(*) FILTER (WHERE b.first_time) AS first_time
    FROM buying b GROUP BY b.month),
series AS (
  SELECT gs::date AS month,
         coalesce(pm.active, 0) AS active_customers,
         lag(coalesce(pm.active, 0)) OVER (ORDER BY gs) AS previous_active_customers,
         coalesce(pm.retained, 0) AS retained_customers,
         coalesce(pm.first_time, 0) AS new_customers
    FROM (SELECT min(month) AS first_month, max(month) AS last_month FROM per_month) b
    CROSS JOIN generate_series(b.first_month::timestamp, b.last_month::timestamp, interval '1 month') gs
    LEFT JOIN per_month pm ON pm.month = gs::date)
SELECT s.month,
       s.active_customers,
       s.previous_active_customers,
       s.retained_customers,
       s.previous_active_customers - s.retained_customers AS churned_customers,
       s.new_customers,
       s.active_customers - s.retained_customers - s.new_customers AS returning_customers,
       s.retained_customers::numeric / nullif(s.previous_active_customers, 0) AS retention_rate,
       (s.previous_active_customers - s.retained_customers)::numeric / nullif(s.previous_active_customers, 0) AS churn_rate
  FROM series s;
COMMENT ON VIEW cartera.retention_monthly IS
  'portfolio-wide retention month on month: customers who bought in the previous month, how many bought again, how many did not (churned), new and returning buyers; every month from the first to the last sale in cartera.purchase (tracked tables not included), session TimeZone';
COMMENT ON COLUMN cartera.retention_monthly.month IS 'first day of the month';
COMMENT ON COLUMN cartera.retention_monthly.active_customers IS 'customers with at least one sale in the month';
COMMENT ON COLUMN cartera.retention_monthly.previous_active_customers IS 'customers with a sale in the previous month; NULL for the first month';
COMMENT ON COLUMN cartera.retention_monthly.retained_customers IS 'customers with a sale in the previous month and in this one';
COMMENT ON COLUMN cartera.retention_monthly.churned_customers IS 'customers with a sale in the previous month and none in this one';
COMMENT ON COLUMN cartera.retention_monthly.new_customers IS 'customers whose first sale is in this month';
COMMENT ON COLUMN cartera.retention_monthly.returning_customers IS 'customers buying this month after a gap of at least one month without sales';
COMMENT ON COLUMN cartera.retention_monthly.retention_rate IS 'retained / previous active (0..1)';
COMMENT ON COLUMN cartera.retention_monthly.churn_rate IS 'churned / previous active (0..1) = 1 - retention_rate';

-- Cohorts by month of first sale.
CREATE VIEW cartera.cohort_retention WITH (security_invoker = true) AS
WITH buying AS (
  SELECT DISTINCT p.customer_id, date_trunc('month', p.purchased_at)::date AS month
    FROM cartera.purchase p WHERE p.kind = 'sale'),
cohort AS (
  SELECT b.customer_id, min(b.month) AS cohort_month FROM buying b GROUP BY b.customer_id),
sizes AS (
  SELECT c.cohort_month, count(*) AS cohort_size FROM cohort c GROUP BY c.cohort_month),
activity AS (
  SELECT c.cohort_month,
         ((extract(year FROM b.month) - extract(year FROM c.cohort_month)) * 12
          + extract(month FROM b.month) - extract(month FROM c.cohort_month))::integer AS month_offset,
         count(*) AS active
    FROM buying b JOIN cohort c ON c.customer_id = b.customer_id
   GROUP BY 1, 2),
last AS (
  SELECT max(b.month) AS last_month FROM buying b)
SELECT s.cohort_month,
       o.month_offset,
       (s.cohort_month + make_interval(months => o.month_offset))::date AS month,
       s.cohort_size,
       coalesce(a.active, 0) AS active_customers,
       coalesce(a.active, 0)::numeric / s.cohort_size AS retention_rate
  FROM sizes s
  CROSS JOIN last l
  CROSS JOIN LATERAL generate_series(0, ((extract(year FROM l.last_month) - extract(year FROM s.cohort_month)) * 12
                                         + extract(month FROM l.last_month) - extract(month FROM s.cohort_month))::integer) o(month_offset)
  LEFT JOIN activity a ON a.cohort_month = s.cohort_month AND a.month_offset = o.month_offset;
COMMENT ON VIEW cartera.cohort_retention IS
  'cohorts of customers by the month of their first sale: for each month after it (offset 0, 1, ... up to the last month with sales) the share of the cohort that bought; from cartera.purchase (tracked tables not included), session TimeZone';
COMMENT ON COLUMN cartera.cohort_retention.cohort_month IS 'first day of the month of the cohort''s first sale';
COMMENT ON COLUMN cartera.cohort_retention.month_offset IS 'months since the cohort month (0 = the cohort month itself)';
COMMENT ON COLUMN cartera.cohort_retention.month IS 'first day of the month cohort_month + month_offset';
COMMENT ON COLUMN cartera.cohort_retention.cohort_size IS 'customers in the cohort';
COMMENT ON COLUMN cartera.cohort_retention.active_customers IS 'customers of the cohort with a sale in that month';
COMMENT ON COLUMN cartera.cohort_retention.retention_rate IS 'active_customers / cohort_size (0..1; 1 at offset 0)';

-- Birthdays and occasions (cartera.occasions(): the table, or the built-in
-- calendar while it is empty; for the customer's country or every country)
-- from today to 30 days ahead.  29 February birthdays fall on
-- 28 February in common years, as in cartera.run_followups().
CREATE VIEW cartera.upcoming_occasions WITH (security_invoker = true) AS
WITH today AS (
  SELECT current_date AS d, extract(year FROM current_date)::integer AS yr,
         coalesce(current_setting('cartera.language', true), 'es') AS lang),
dates AS (
  SELECT c.customer_id, 'birthday'::text AS kind, NULL::bigint AS occasion_id,
         CASE WHEN t.lang = 'en' THEN 'Birthday' ELSE 'Cumpleaños' END AS occasion_name,
         b.on_date,
         (extract(year FROM b.on_date) - extract(year FROM c.birthday))::integer AS turns
    FROM cartera.customer c
    CROSS JOIN today t
    CROSS JOIN LATERAL (
      SELECT make_date(y, extract(month FROM c.birthday)::integer,
                       least(extract(day FROM c.birthday)::integer,
                             extract(day FROM make_date(y, extract(month FROM c.birthday)::integer, 1)
                                              + interval '1 month - 1 day')::integer)) AS on_date
        FROM generate_series(t.yr, t.yr + 1) g(y)) b
   WHERE c.birthday IS NOT NULL AND b.on_date BETWEEN t.d AND t.d + 30
  UNION ALL
  SELECT c.customer_id, 'occasion', o.occasion_id,
         CASE WHEN t.lang = 'en' THEN o.name_en ELSE o.name_es END,
         od.on_date, NULL
    FROM cartera.occasions() o
    CROSS JOIN today t
    CROSS JOIN LATERAL (SELECT cartera.occasion_date(o, g.y) AS on_date FROM generate_series(t.yr, t.yr + 1) g(y)) od
    JOIN cartera.customer c ON o.country IS NULL OR o.country = c.country
   WHERE od.on_date BETWEEN t.d AND t.d + 30)
SELECT d.on_date AS occasion_date,
       d.on_date - current_date AS days_until,
       d.kind,
       d.occasion_id,
       d.occasion_name,
       d.turns,
       d.customer_id,
       c.full_name,
       c.country,
       c.marketing_consent,
       c.owner_agent_id,
       a.name AS owner_agent_name
  FROM dates d
  JOIN cartera.customer c ON c.customer_id = d.customer_id
  LEFT JOIN cartera.agent a ON a.agent_id = c.owner_agent_id;
COMMENT ON VIEW cartera.upcoming_occasions IS
  'birthdays and special dates (cartera.occasions(), for the customer''s country or every country) from today (current_date) to 30 days ahead, one row per customer and date';
COMMENT ON COLUMN cartera.upcoming_occasions.occasion_date IS 'the date of the birthday or occasion';
COMMENT ON COLUMN cartera.upcoming_occasions.days_until IS 'days from today (0 = today, at most 30)';
COMMENT ON COLUMN cartera.upcoming_occasions.kind IS 'birthday or occasion';
COMMENT ON COLUMN cartera.upcoming_occasions.occasion_id IS 'cartera.occasion id (negative for the built-in calendar); NULL for birthdays';
COMMENT ON COLUMN cartera.upcoming_occasions.occasion_name IS 'name of the occasion (or Birthday) in cartera.language';
COMMENT ON COLUMN cartera.upcoming_occasions.turns IS 'age the customer turns on that birthday; NULL for occasions';
COMMENT ON COLUMN cartera.upcoming_occasions.customer_id IS 'customer id';
COMMENT ON COLUMN cartera.upcoming_occasions.full_name IS 'customer name';
COMMENT ON COLUMN cartera.upcoming_occasions.country IS 'customer country';
COMMENT ON COLUMN cartera.upcoming_occasions.marketing_consent IS 'whether the customer accepted marketing contact (greetings and offers need it)';
COMMENT ON COLUMN cartera.upcoming_occasions.owner_agent_id IS 'owner agent id';
COMMENT ON COLUMN cartera.upcoming_occasions.owner_agent_name IS 'owner agent name';

-- Migration matrix from the transition log: per month, from (segment name,
-- status) to (segment name, status).
CREATE VIEW cartera.segment_migration WITH (security_invoker = true) AS
WITH per_cell AS (
  SELECT date_trunc('month', t.changed_at)::date AS month,
         t.from_status, t.from_segment, t.to_status, t.to_segment, count(*) AS transitions
    FROM cartera.status_transition t
   GROUP BY 1, 2, 3, 4, 5)
SELECT p.month,
       p.from_status::text AS from_status,
       CASE WHEN p.from_segment IS NOT NULL THEN cartera.segment_label(p.from_segment) END AS from_segment_name,
       p.to_status::text AS to_status,
       CASE WHEN p.to_segment IS NOT NULL THEN cartera.segment_label(p.to_segment) END AS to_segment_name,
       sum(p.transitions)::bigint AS transitions
  FROM per_cell p
 GROUP BY 1, 2, 3, 4, 5;
COMMENT ON VIEW cartera.segment_migration IS
  'migration matrix from cartera.status_transition: per month (session TimeZone), how many changes went from one (segment name, status) to another; a NULL "from" is the first state logged for a customer';
COMMENT ON COLUMN cartera.segment_migration.month IS 'first day of the month the changes were logged in (changed_at)';
COMMENT ON COLUMN cartera.segment_migration.from_status IS 'life-cycle status before; NULL for the first state logged';
COMMENT ON COLUMN cartera.segment_migration.from_segment_name IS 'named segment before, in cartera.language; NULL without a segment';
COMMENT ON COLUMN cartera.segment_migration.to_status IS 'life-cycle status after';
COMMENT ON COLUMN cartera.segment_migration.to_segment_name IS 'named segment after, in cartera.language; NULL without a segment';
COMMENT ON COLUMN cartera.segment_migration.transitions IS 'number of changes logged';

------------------------------------------------------------------------------
-- Duplicate customers and merging them.
------------------------------------------------------------------------------

-- Candidate pairs: the same e-mail (case-insensitive), the same phone number
-- (digits only, landline or mobile, at least 6 digits), or a similar name in
-- the same city.  Names and cities are compared without case, repeated spaces
-- or the accents of Spanish, Portuguese and French (José = Jose, Muñoz =
-- Munoz; folded here, the unaccent extension is not needed).  Name similarity
-- is pg_trgm's similarity() when pg_trgm is installed in the database (found
-- at run time, in whatever schema: cartera does not require it), otherwise the
-- folded names must be equal.  The name test compares every pair of customers
-- of a city: its cost grows with the square of the largest city.
CREATE FUNCTION cartera.duplicate_customers(min_similarity real DEFAULT 0.6)
  RETURNS TABLE (keep_id bigint, drop_id bigint, reason text, score real)
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  trgm_schema name;
  name_score text;
  name_match text;
BEGIN
  IF min_similarity IS NULL OR NOT (min_similarity > 0 AND min_similarity <= 1) THEN
    RAISE EXCEPTION 'minimum name similarity must be greater than 0 and at most 1, not %', coalesce(min_similarity::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'pg_trgm similarity goes from 0 (nothing in common) to 1 (same trigrams); 0.6 is the default.';
  END IF;
  SELECT n.nspname INTO trgm_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
   WHERE e.extname = 'pg_trgm';
  IF trgm_schema IS NOT NULL THEN
    name_score := format('%I.similarity(a.name, b.name)', trgm_schema);
    name_match := name_score || ' >= $1';
  ELSE
    name_score := '1';
    name_match := 'a.name = b.name';
  END IF;
  RETURN QUERY EXECUTE format($q$
    WITH base AS (
      SELECT c.customer_id,
             lower(btrim(c.email)) AS email,
             regexp_replace(c.phone, '[^0-9]', '', 'g') AS phone,
             regexp_replace(c.mobile_phone, '[^0-9]', '', 'g') AS mobile,
             lower(translate(regexp_replace(btrim(c.full_name), '\s+', ' ', 'g'), %1$L, %2$L)) AS name,
             lower(translate(regexp_replace(btrim(c.city), '\s+', ' ', 'g'), %1$L, %2$L)) AS city
        FROM cartera.customer c),
    phones AS (
      SELECT b.customer_id, b.phone AS digits FROM base b WHERE length(b.phone) >= 6
      UNION
      SELECT b.customer_id, b.mobile FROM base b WHERE length(b.mobile) >= 6),
    matches AS (
      SELECT a.customer_id AS keep_id, b.customer_id AS drop_id, 1 AS rank, 'email' AS reason, 1::real AS score
        FROM base a JOIN base b ON b.email = a.email AND b.customer_id > a.customer_id
      UNION
      SELECT a.customer_id, b.customer_id, 2, 'phone', 1::real
        FROM phones a JOIN phones b ON b.digits = a.digits AND b.customer_id > a.customer_id
      UNION
      SELECT a.customer_id, b.customer_id, 3, 'name', (%3$s)::real
        FROM base a JOIN base b ON b.city = a.city AND b.customer_id > a.customer_id
       WHERE %4$s)
    SELECT m.keep_id, m.drop_id, string_agg(m.reason, ', ' ORDER BY m.rank), max(m.score)
      FROM matches m
     GROUP BY m.keep_id, m.drop_id
     ORDER BY m.keep_id, m.drop_id$q$,
    'ÁÀÂÄÃÅáàâäãåÉÈÊËéèêëÍÌÎÏíìîïÓÒÔÖÕóòôöõÚÙÛÜúùûüÑñÇç',
    'AAAAAAaaaaaaEEEEeeeeIIIIiiiiOOOOOoooooUUUUuuuuNnCc',
    name_score, name_match)
  USING min_similarity;
END
$fn$;
COMMENT ON FUNCTION cartera.duplicate_customers(real) IS
  'candidate duplicate customers (keep = older id, drop = newer): same e-mail, same phone digits, or similar name in the same city (ignoring case and accents; pg_trgm similarity >= min_similarity when pg_trgm is installed, else equal names); reason lists what matched, score is 1 for e-mail or phone, else the name similarity';

-- The audit log of merges.
CREATE TABLE cartera.customer_merge (
  merge_id     bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  keep_id      bigint NOT NULL,
  drop_id      bigint NOT NULL,
  merged_at    timestamptz NOT NULL DEFAULT now(),
  merged_by    name NOT NULL DEFAULT current_user,
  dropped_row  jsonb NOT NULL,
  moved        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX customer_merge_keep_idx ON cartera.customer_merge (keep_id);
CREATE INDEX customer_merge_drop_idx ON cartera.customer_merge (drop_id);
COMMENT ON TABLE cartera.customer_merge IS 'audit log of cartera.merge_customers(): which customer was merged into which, by whom, and the deleted registry row';
COMMENT ON COLUMN cartera.customer_merge.keep_id IS 'the customer that remains';
COMMENT ON COLUMN cartera.customer_merge.drop_id IS 'the duplicate that was merged into keep_id and deleted';
COMMENT ON COLUMN cartera.customer_merge.merged_at IS 'when the merge happened (transaction time)';
COMMENT ON COLUMN cartera.customer_merge.merged_by IS 'database role that ran the merge';
COMMENT ON COLUMN cartera.customer_merge.dropped_row IS 'the deleted cartera.customer row as it was before the merge (JSON)';
COMMENT ON COLUMN cartera.customer_merge.moved IS 'what moved to keep_id: row counts per table, dismissed alerts, registry fields that changed';

-- Merge a duplicate into the customer to keep, in one transaction:
--  1. both customers are locked (in id order: two merges never deadlock);
--  2. keep's empty registry fields are filled from drop's; life events are
--     united; created_at becomes the earlier one; marketing consent stays only
--     if both records had it (one record without consent may be a withdrawal,
--     and contacting someone who said no is worse than missing a campaign);
--  3. drop's alerts move to keep, except an open one of a kind keep already has
--     open, which is dismissed ("merged into customer N"); open alerts go to
--     keep's owner; interactions, referrals (referred_by) and the
--     status_transition history move to keep;
--  4. drop's purchases move to keep, in cartera.purchase and in every table
--     attached with track_purchases(): the purchase triggers recompute both
--     states and raise the alerts a purchase statement calls for (moving the
--     alerts first makes cool-downs see drop's history: no second welcome);
--  5. an audit row goes to cartera.customer_merge and drop is deleted (its
--     state row goes with it).
-- It runs with the caller's rights: a manager (cartera.grant_manager_role()
-- grants what it needs: write access to the portfolio tables, INSERT on
-- customer_merge, UPDATE (customer_id) and DELETE on status_transition,
-- UPDATE (last_alert_at) on customer_state), plus UPDATE on tracked tables,
-- which their owner grants.  It calls no SECURITY DEFINER function: the
-- purchase triggers recompute the states of both customers.
CREATE FUNCTION cartera.merge_customers(keep bigint, drop bigint)
  RETURNS cartera.customer_merge
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  keep_row cartera.customer;
  drop_row cartera.customer;
  new_keep cartera.customer;
  src record;
  n bigint;
  tracked bigint := 0;
  moved jsonb := '{}';
  result cartera.customer_merge;
BEGIN
  IF keep IS NULL OR drop IS NULL THEN
    RAISE EXCEPTION 'customers to merge must not be null'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF keep = drop THEN
    RAISE EXCEPTION 'cannot merge customer % into itself', keep
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Pass the customer to keep first and its duplicate second.';
  END IF;

  -- 1. lock both
  PERFORM 1 FROM cartera.customer c
    WHERE c.customer_id IN (merge_customers.keep, merge_customers.drop)
    ORDER BY c.customer_id FOR UPDATE;
  SELECT * INTO keep_row FROM cartera.customer c WHERE c.customer_id = merge_customers.keep;
  IF NOT FOUND THEN
    -- on a shard: one of another shard is not "missing" (sql/cartera_shards.sql)
    PERFORM cartera.refuse_other_shard(keep, 'the customer to keep', 'A merge');
    RAISE EXCEPTION 'customer % does not exist', keep
      USING ERRCODE = 'no_data_found', DETAIL = 'It was given as the customer to keep.';
  END IF;
  SELECT * INTO drop_row FROM cartera.customer c WHERE c.customer_id = merge_customers.drop;
  IF NOT FOUND THEN
    PERFORM cartera.refuse_other_shard(drop, 'the duplicate', 'A merge');
    RAISE EXCEPTION 'customer % does not exist', drop
      USING ERRCODE = 'no_data_found', DETAIL = 'It was given as the duplicate to merge into customer ' || keep || '.';
  END IF;

  -- 2. registry: keep's values win, drop's fill the gaps
  UPDATE cartera.customer k
     SET company = coalesce(k.company, d.company),
         billing_id = coalesce(k.billing_id, d.billing_id),
         email = coalesce(k.email, d.email),
         phone = coalesce(k.phone, d.phone),
         mobile_phone = coalesce(k.mobile_phone, d.mobile_phone),
         postal_address = coalesce(k.postal_address, d.postal_address),
         work_address = coalesce(k.work_address, d.work_address),
         country = coalesce(k.country, d.country),
         region = coalesce(k.region, d.region),
         city = coalesce(k.city, d.city),
         birthday = coalesce(k.birthday, d.birthday),
         referral_source = coalesce(k.referral_source, d.referral_source),
         -- never the customer itself: keep referred by drop takes drop's referrer
         referred_by = nullif(coalesce(nullif(k.referred_by, d.customer_id), d.referred_by), k.customer_id),
         owner_agent_id = coalesce(k.owner_agent_id, d.owner_agent_id),
         marketing_consent = k.marketing_consent AND d.marketing_consent,
         lost_reason = coalesce(k.lost_reason, d.lost_reason),
         life_events = k.life_events || (SELECT coalesce(jsonb_agg(e.value ORDER BY e.ordinality), '[]')
                                            FROM jsonb_array_elements(d.life_events) WITH ORDINALITY e
                                           WHERE NOT k.life_events @> jsonb_build_array(e.value)),
         created_at = least(k.created_at, d.created_at)
    FROM cartera.customer d
   WHERE k.customer_id = keep_row.customer_id AND d.customer_id = drop_row.customer_id
  RETURNING k.* INTO new_keep;
  moved := jsonb_build_object('changed_fields',
             (SELECT coalesce(jsonb_agg(f.key ORDER BY f.key), '[]')
                FROM jsonb_each(to_jsonb(new_keep)) f
               WHERE f.value IS DISTINCT FROM to_jsonb(keep_row) -> f.key));

  -- 3. alerts (open duplicates of a kind dismissed first), interactions,
  --    referrals, history
  UPDATE cartera.alert d
     SET status = 'dismissed', snoozed_until = NULL, closed_at = clock_timestamp(),
         resolution = format('merged into customer %s', keep_row.customer_id)
   WHERE d.customer_id = drop_row.customer_id
     AND d.status IN ('open', 'acknowledged', 'snoozed')
     AND EXISTS (SELECT 1 FROM cartera.alert k
                  WHERE k.customer_id = keep_row.customer_id AND k.kind = d.kind
                    AND k.status IN ('open', 'acknowledged', 'snoozed'));
  GET DIAGNOSTICS n = ROW_COUNT;
  moved := moved || jsonb_build_object('alerts_dismissed', n);
  UPDATE cartera.alert a
     SET customer_id = keep_row.customer_id,
         agent_id = CASE WHEN a.status IN ('open', 'acknowledged', 'snoozed')
                         THEN coalesce(new_keep.owner_agent_id, a.agent_id) ELSE a.agent_id END
   WHERE a.customer_id = drop_row.customer_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  moved := moved || jsonb_build_object('alerts', n);
  -- their history goes with them (by alert: alert_event's index)
  UPDATE cartera.alert_event e SET customer_id = keep_row.customer_id
   WHERE e.alert_id IN (SELECT a.alert_id FROM cartera.alert a WHERE a.customer_id = keep_row.customer_id)
     AND e.customer_id IS DISTINCT FROM keep_row.customer_id;
  UPDATE cartera.interaction i SET customer_id = keep_row.customer_id WHERE i.customer_id = drop_row.customer_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  moved := moved || jsonb_build_object('interactions', n);
  UPDATE cartera.customer c SET referred_by = keep_row.customer_id
   WHERE c.referred_by = drop_row.customer_id AND c.customer_id <> keep_row.customer_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  moved := moved || jsonb_build_object('referrals', n);
  UPDATE cartera.status_transition t SET customer_id = keep_row.customer_id WHERE t.customer_id = drop_row.customer_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  moved := moved || jsonb_build_object('transitions', n);
  UPDATE cartera.customer_state k SET last_alert_at = greatest(k.last_alert_at, d.last_alert_at)
    FROM cartera.customer_state d
   WHERE k.customer_id = keep_row.customer_id AND d.customer_id = drop_row.customer_id
     AND d.last_alert_at IS NOT NULL;

  -- 4. purchases, from every source (the triggers recompute both states)
  UPDATE cartera.purchase p SET customer_id = keep_row.customer_id WHERE p.customer_id = drop_row.customer_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  moved := moved || jsonb_build_object('purchases', n);
  FOR src IN SELECT s.source, s.customer_column FROM cartera.purchase_source s
              WHERE s.source <> 'cartera.purchase'::regclass ORDER BY s.source::oid LOOP
    EXECUTE format('UPDATE %s SET %I = $1 WHERE %I = $2', src.source, src.customer_column, src.customer_column)
      USING keep_row.customer_id, drop_row.customer_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    tracked := tracked + n;
  END LOOP;
  moved := moved || jsonb_build_object('tracked_purchases', tracked);
  -- what the triggers logged for drop while it emptied is not history
  DELETE FROM cartera.status_transition t WHERE t.customer_id = drop_row.customer_id;

  -- 5. audit (earlier merges into drop now belong to keep), delete (keep's
  --    state was recomputed by the purchase triggers when purchases moved;
  --    otherwise its purchases did not change)
  UPDATE cartera.customer_merge m SET keep_id = keep_row.customer_id WHERE m.keep_id = drop_row.customer_id;
  INSERT INTO cartera.customer_merge (keep_id, drop_id, dropped_row, moved)
    VALUES (keep_row.customer_id, drop_row.customer_id, to_jsonb(drop_row), moved)
    RETURNING * INTO result;
  DELETE FROM cartera.customer c WHERE c.customer_id = drop_row.customer_id;
  RETURN result;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.merge_customers(bigint, bigint) FROM PUBLIC;
COMMENT ON FUNCTION cartera.merge_customers(bigint, bigint) IS
  'merge duplicate customer drop into keep atomically (a manager''s tool, granted by grant_manager_role): fill keep''s empty registry fields, move alerts (dismissing duplicates of an open kind), interactions, referrals, history and purchases of every source (their triggers recompute both states), log to cartera.customer_merge, delete drop; returns the audit row';

-- user data survives pg_dump
SELECT pg_catalog.pg_extension_config_dump('cartera.customer_merge', '');

-- An erasure request ("right to be forgotten"): the customer's personal data
-- is removed everywhere cartera stores it, in one call, while the anonymous
-- facts stay (purchases, amounts and dates, the state, segment and status
-- history, counts in every view), so that the portfolio's aggregates, models
-- and KPIs do not change.  What is erased:
--   customer: the name (replaced by "customer N"), company, billing id,
--     e-mail, phones, addresses, city, birthday, referral source and
--     referrer, lost reason, life events; marketing consent is withdrawn;
--     country and region stay (aggregates by region);
--   alert: messages and details (which quote names and complaint notes) are
--     rewritten without them, resolutions cleared, open alerts dismissed;
--   interaction: needs and notes;
--   customer_merge: the registry rows kept by merges into or from them.
-- forgotten_at records when; no alert is raised for them afterwards.
-- Purchases' product, category and external id are business data and stay;
-- so do the ids.  Runs with the caller's rights (a manager).
CREATE FUNCTION cartera.forget_customer(customer_id bigint) RETURNS jsonb
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  n bigint;
  erased jsonb := '{}';
BEGIN
  IF customer_id IS NULL THEN
    RAISE EXCEPTION 'customer to forget must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  UPDATE cartera.customer c
     SET full_name = format('customer %s', c.customer_id), company = NULL, billing_id = NULL, email = NULL,
         phone = NULL, mobile_phone = NULL, postal_address = NULL, work_address = NULL, city = NULL,
         birthday = NULL, referral_source = NULL, referred_by = NULL, marketing_consent = false,
         lost_reason = NULL, life_events = '[]', forgotten_at = coalesce(c.forgotten_at, clock_timestamp())
   WHERE c.customer_id = forget_customer.customer_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'customer % does not exist', customer_id USING ERRCODE = 'no_data_found';
  END IF;
  UPDATE cartera.alert a
     SET message = format('%s (customer %s, personal data erased)', a.kind, a.customer_id), detail = NULL,
         resolution = CASE WHEN a.status IN ('open', 'acknowledged', 'snoozed') THEN 'customer data erased'
                           WHEN a.resolution IS NOT NULL THEN 'erased' END,
         status = CASE WHEN a.status IN ('open', 'acknowledged', 'snoozed') THEN 'dismissed' ELSE a.status END,
         snoozed_until = NULL,
         closed_at = CASE WHEN a.status IN ('open', 'acknowledged', 'snoozed') THEN clock_timestamp() ELSE a.closed_at END
   WHERE a.customer_id = forget_customer.customer_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  erased := erased || jsonb_build_object('alerts', n);
  -- the notes in the alerts' history (who did what and when stays)
  UPDATE cartera.alert_event e SET note = 'erased'
    FROM cartera.alert a
   WHERE a.alert_id = e.alert_id AND a.customer_id = forget_customer.customer_id AND e.note IS NOT NULL
     AND e.note <> 'erased';
  GET DIAGNOSTICS n = ROW_COUNT;
  erased := erased || jsonb_build_object('alert_notes', n);
  UPDATE cartera.interaction i SET need = NULL, note = NULL
   WHERE i.customer_id = forget_customer.customer_id AND (i.need IS NOT NULL OR i.note IS NOT NULL);
  GET DIAGNOSTICS n = ROW_COUNT;
  erased := erased || jsonb_build_object('interactions', n);
  UPDATE cartera.customer_merge m
     SET dropped_row = jsonb_build_object('customer_id', m.dropped_row -> 'customer_id', 'erased', true)
   WHERE m.keep_id = forget_customer.customer_id OR m.drop_id = forget_customer.customer_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  erased := erased || jsonb_build_object('merge_records', n);
  RETURN jsonb_build_object('customer_id', customer_id) || erased;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.forget_customer(bigint) FROM PUBLIC;
COMMENT ON FUNCTION cartera.forget_customer(bigint) IS
  'erasure request: remove a customer''s personal data from the registry, alert messages, interaction notes and merge records, keeping the anonymous facts (purchases, states, history); returns what was erased';
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('cartera.customer_merge', 'merge_id'), '');
COMMENT ON SEQUENCE cartera.customer_merge_merge_id_seq IS 'identity of cartera.customer_merge';

-- The duplicate candidates as a view, for BI tools and review screens.
CREATE VIEW cartera.customer_duplicates WITH (security_invoker = true) AS
SELECT d.keep_id, k.full_name AS keep_name, d.drop_id, x.full_name AS drop_name, d.reason, d.score
  FROM cartera.duplicate_customers() d
  JOIN cartera.customer k ON k.customer_id = d.keep_id
  JOIN cartera.customer x ON x.customer_id = d.drop_id;
COMMENT ON VIEW cartera.customer_duplicates IS
  'likely duplicate customers (same e-mail or phone, or similar name in the same city; default similarity 0.6): merge with cartera.merge_customers(keep_id, drop_id)';
COMMENT ON COLUMN cartera.customer_duplicates.keep_id IS 'the older record, to keep';
COMMENT ON COLUMN cartera.customer_duplicates.keep_name IS 'name of the record to keep';
COMMENT ON COLUMN cartera.customer_duplicates.drop_id IS 'the newer record, to merge into keep_id';
COMMENT ON COLUMN cartera.customer_duplicates.drop_name IS 'name of the record to merge';
COMMENT ON COLUMN cartera.customer_duplicates.reason IS 'what matched: email, phone, name (comma-separated)';
COMMENT ON COLUMN cartera.customer_duplicates.score IS '1 for an e-mail or phone match, else the name similarity (0..1)';
