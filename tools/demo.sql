-- cartera demo on the CDNOW sample (data/cdnow/): 2,357 customers, 1997-1998.
\pset footer off
SET TimeZone = 'UTC';
CREATE EXTENSION cartera;
SET cartera.language = 'en';
-- the language of stored alert messages is the portfolio's (a manager's setting)
INSERT INTO cartera.portfolio_setting (name, value) VALUES ('cartera.language', 'en');

CREATE TABLE purchase (customer_id int, purchased_at date, cds int, amount numeric);
CREATE TEMP TABLE raw (line text);
\copy raw FROM 'data/cdnow/CDNOW_sample.txt'
INSERT INTO purchase
  SELECT f[2]::int, to_date(f[3], 'YYYYMMDD'), f[4]::int, f[5]::numeric
    FROM (SELECT regexp_split_to_array(btrim(line), '\s+') AS f FROM raw) s;

\echo
\echo '== CDNOW sample loaded'
SELECT count(*) AS purchase_lines, count(DISTINCT customer_id) AS customers,
       min(purchased_at) AS first_day, max(purchased_at) AS last_day, sum(amount) AS revenue
  FROM purchase;

-- one pass per customer: the whole RFM summary at the end of the data
CREATE TABLE summary AS
  SELECT customer_id, cartera.rfm(purchased_at, amount, date '1998-06-30') AS s,
         cartera.lifecycle(purchased_at, date '1998-06-30') AS status,
         cartera.clv(purchased_at, amount, date '1998-06-30', interval '3 years') AS clv_3y
    FROM purchase GROUP BY customer_id;
CREATE TABLE cuts AS
  SELECT cartera.breakpoints((s).recency_days, 5) AS r, cartera.breakpoints((s).frequency, 5) AS f,
         cartera.breakpoints((s).monetary_total::float8, 5) AS m FROM summary;

\echo
\echo '== RFM segments (quintiles) at 1998-06-30'
SELECT cartera.segment_name(cartera.rfm_segment(s, r, f, m)) AS segment, count(*) AS customers,
       sum((s).monetary_total) AS revenue, round(avg((s).avg_ticket), 2) AS avg_ticket,
       round(avg((s).recency_days)) AS avg_recency_days
  FROM summary, cuts GROUP BY 1 ORDER BY revenue DESC;

\echo
\echo '== Life-cycle status at 1998-06-30'
SELECT status, count(*) AS customers, sum((s).monetary_total) AS revenue
  FROM summary GROUP BY status ORDER BY status;

\echo
\echo '== Top 10 customers by CLV (average ticket x purchases per year x 3 years)'
SELECT customer_id, cartera.rfm_segment(s, r, f, m) AS rfm, status, (s).purchases,
       (s).avg_ticket, (s).last_purchase::date AS last_purchase, clv_3y
  FROM summary, cuts ORDER BY clv_3y DESC, customer_id LIMIT 10;

-- the predictive models, fitted in the database (weeks, as in the papers)
CREATE TABLE model AS
  SELECT cartera.bgnbd_fit(s, 'weeks') AS bgnbd, cartera.gamma_gamma_fit(s) AS gg FROM summary;

\echo
\echo '== BG/NBD and Gamma-Gamma fitted on all 2,357 customers at 1998-06-30'
SELECT round((bgnbd).r::numeric, 3) AS r, round((bgnbd).alpha::numeric, 3) AS alpha,
       round((bgnbd).a::numeric, 3) AS a, round((bgnbd).b::numeric, 3) AS b,
       round((gg).p::numeric, 2) AS p, round((gg).q::numeric, 2) AS q, round((gg).gamma::numeric, 2) AS gamma
  FROM model;

\echo
\echo '== Top 10 customers by predicted CLV over the next 12 months (1 % monthly discount)'
SELECT customer_id, status, (s).purchases, (s).last_purchase::date AS last_purchase,
       round(cartera.p_alive(bgnbd, s, 'weeks')::numeric, 3) AS p_alive,
       round(cartera.expected_purchases(bgnbd, 52, s, 'weeks')::numeric, 2) AS purchases_next_year,
       round(cartera.clv_predicted(bgnbd, gg, s, 'weeks', 12, 0.01)::numeric, 2) AS predicted_clv_12m,
       clv_3y AS formula_clv_3y
  FROM summary, model ORDER BY predicted_clv_12m DESC, customer_id LIMIT 10;

-- The portfolio layer: the same customers as a portfolio owned by two agents,
-- Ana (who can work 40 alerts a day) and Luis (25), and their manager Marta.
SET client_min_messages = warning;
INSERT INTO cartera.agent (agent_id, name, login, region) VALUES (3, 'Marta Ruiz', 'marta', NULL);
INSERT INTO cartera.agent (agent_id, name, login, region, daily_capacity, manager_id)
  VALUES (1, 'Ana Pérez', 'ana', 'Norte', 40, 3), (2, 'Luis Gómez', 'luis', 'Sur', 25, 3);
INSERT INTO cartera.customer (customer_id, full_name, region, owner_agent_id, marketing_consent, birthday)
  SELECT customer_id, 'Cliente ' || customer_id, CASE WHEN customer_id % 2 = 0 THEN 'Norte' ELSE 'Sur' END,
         CASE WHEN customer_id % 2 = 0 THEN 1 ELSE 2 END,
         customer_id % 3 <> 0, date '1960-01-01' + customer_id * 11
    FROM (SELECT DISTINCT customer_id FROM purchase) c;
INSERT INTO cartera.purchase (customer_id, purchased_at, amount, quantity)
  SELECT customer_id, purchased_at, amount, cds FROM purchase;
INSERT INTO cartera.agent_target (agent_id, month, revenue_target) VALUES (1, '1998-06-01', 9000), (2, '1998-06-01', 6000);
-- Ana logs in as herself: what she does is recorded under her name
CREATE ROLE cartera_agent NOLOGIN;
SELECT cartera.grant_agent_role('cartera_agent') \gset
CREATE ROLE ana LOGIN IN ROLE cartera_agent;

-- A backtest: the first five months of 1998 replayed, the states refreshed
-- and the daily job run on the 1st of each month (one job per holdout
-- period; every 30-day response window ends before the data do, on 30 June).
-- 10 % of the eligible customers of each contact kind are held out.
CREATE TEMP TABLE backtest (job date, raised bigint, held_out bigint, still_to_do bigint, moot bigint);
DO $$
DECLARE
  d date;
BEGIN
  FOR d IN SELECT generate_series(date '1998-01-01', '1998-05-01', interval '1 month')::date LOOP
    PERFORM cartera.refresh(d);
    PERFORM cartera.run_followups(d);
    INSERT INTO backtest
      SELECT d, count(*) FILTER (WHERE raised_at = d + 1 AND status <> 'held_out'),
             count(*) FILTER (WHERE raised_at = d + 1 AND status = 'held_out'),
             count(*) FILTER (WHERE status IN ('open', 'acknowledged', 'snoozed')),
             count(*) FILTER (WHERE status = 'moot')
        FROM cartera.alert;
  END LOOP;
END $$;
\echo
\echo '== Backtest, January-May 1998: the job on the 1st of each month (nobody worked the alerts)'
SELECT job, raised AS alerts_raised, held_out, still_to_do, moot AS moot_so_far FROM backtest ORDER BY job;

\echo
\echo '== Did the alerts raise retention?  Alerted vs held out, per kind, 30 days after each alert'
SELECT * FROM (
SELECT kind, alerted, held_out, round(100 * conversion_alerted, 1) AS bought_pct_alerted,
       round(100 * conversion_held_out, 1) AS bought_pct_held_out, round(100 * uplift, 1) AS uplift_points,
       format('%s .. %s', round(100 * uplift_low, 1), round(100 * uplift_high, 1)) AS interval_95,
       revenue_uplift, format('%s .. %s', revenue_uplift_low, revenue_uplift_high) AS revenue_interval_95,
       alerts_per_win
  FROM cartera.followup_uplift WHERE month IS NULL
UNION ALL
SELECT 'all kinds', n1, n2, round(100.0 * x1 / n1, 1), round(100.0 * x2 / n2, 1), round(100 * d.difference::numeric, 1),
       format('%s .. %s', round(100 * d.low::numeric, 1), round(100 * d.high::numeric, 1)), NULL, NULL, NULL
  FROM (SELECT count(*) FILTER (WHERE arm = 'alerted') AS n1, count(*) FILTER (WHERE arm = 'alerted' AND converted) AS x1,
               count(*) FILTER (WHERE arm = 'held_out') AS n2, count(*) FILTER (WHERE arm = 'held_out' AND converted) AS x2
          FROM cartera.alert_outcome) o, cartera.proportion_difference(x1, n1, x2, n2) d) u
 ORDER BY kind = 'all kinds', kind;
SELECT format('%s of %s conversion intervals and %s of %s revenue intervals cover 0.',
              count(*) FILTER (WHERE uplift_low <= 0 AND uplift_high >= 0), count(*),
              count(*) FILTER (WHERE revenue_uplift_low <= 0 AND revenue_uplift_high >= 0), count(*)) AS reading
  FROM cartera.followup_uplift WHERE month IS NULL;
\echo 'The honest reading: in 1998 nobody contacted anyone; the alerts were only computed, so being'
\echo 'alerted cannot have changed what a customer did.  The uplift is about 0 and its intervals cover'
\echo '0 (at 95 %, one interval in twenty misses 0 by chance).  With a team that works its queue, a'
\echo 'lower bound above 0 is the evidence that follow-ups pay, and alerts_per_win what one win costs.'

-- The backtest's alerts nobody worked are closed; the portfolio as of 30 June.
UPDATE cartera.alert SET status = 'dismissed', snoozed_until = NULL, closed_at = '1998-06-30',
                         resolution = 'backtest: nobody worked it'
 WHERE status IN ('open', 'acknowledged', 'snoozed');
SELECT count(*) AS states FROM cartera.refresh('1998-06-30') \gset

\echo
\echo '== A realistic day, 1998-07-01.  New alerts per kind (the refresh of 30 June and the job of 1 July;'
\echo '   held out: the holdout group, recorded but never queued)'
SELECT sum(raised) AS raised FROM cartera.run_followups('1998-07-01') \gset
SELECT kind, colour, count(*) FILTER (WHERE status <> 'held_out') AS alerted,
       count(*) FILTER (WHERE status = 'held_out') AS held_out
  FROM cartera.alert WHERE raised_at >= '1998-06-30' GROUP BY kind, colour
 ORDER BY array_position(ARRAY['red', 'amber', 'green', 'blue'], colour), kind;

\echo
\echo '== Each agent''s day: the queue is filled up to capacity, the rest waits as backlog'
SELECT agent_name, daily_capacity, queued_alerts, backlog_alerts, red_alerts, amber_alerts, green_alerts, blue_alerts
  FROM cartera.agent_portfolio WHERE customers > 0 ORDER BY agent_id;

\echo
\echo '== The top of Ana''s queue: red first, then by value at stake (predicted 12-month CLV x (1 - P(alive)))'
SELECT queue_rank, colour, kind, customer_name, value_at_stake, due_on
  FROM cartera.alert_queue WHERE agent_name = 'Ana Pérez' AND queue = 'queued' ORDER BY queue_rank LIMIT 10;

-- Ana, logged in as herself (row-level security: she sees her own alerts),
-- starts on the first, records outcomes of the next ones, snoozes one and
-- hands one over to Luis.  (Her ranks are kept aside for the listing: an
-- alert closed, snoozed or handed over leaves the queue.)
CREATE TEMP TABLE ana_top AS
  SELECT alert_id, queue_rank FROM cartera.alert_queue WHERE agent_name = 'Ana Pérez' AND queue = 'queued';
GRANT SELECT ON ana_top TO ana;
SET ROLE ana;
SELECT count(*) AS worked FROM (
  SELECT CASE w.action
           WHEN 'start' THEN cartera.acknowledge_alert(q.alert_id)
           WHEN 'snooze' THEN cartera.snooze_alert(q.alert_id, current_date + 7)
           WHEN 'hand over' THEN cartera.handover_alert(q.alert_id, 2, 'Luis sold to them last year')::text
           ELSE cartera.record_outcome(q.alert_id, w.action, w.note) END
    FROM cartera.alert_queue q
    JOIN (VALUES (1, 'start', NULL), (2, 'reached', 'will order next week'), (3, 'no_answer', 'left a message'),
                 (4, 'won_back', 'ordered 3 CDs'), (5, 'declined', 'buys online elsewhere'),
                 (6, 'wrong_contact_data', 'phone number not in service'), (7, 'snooze', NULL),
                 (8, 'hand over', NULL), (9, 'reached', NULL), (10, 'reached', NULL)) w(rnk, action, note)
      ON w.rnk = q.queue_rank
   WHERE q.queue = 'queued' ORDER BY q.queue_rank) x \gset
\echo
\echo '== What Ana did (cartera.alert_event: every change, who and when)'
SELECT t.queue_rank, a.kind, e.event, e.actor,
       CASE WHEN e.event = 'snoozed' THEN 'until today + ' || (e.to_value::date - current_date) || ' days'
            WHEN e.event = 'handed_over' THEN 'agent ' || e.to_value || ' (Luis)'
            ELSE e.to_value END AS to_value, e.note
  FROM cartera.alert_event e JOIN cartera.alert a USING (alert_id) LEFT JOIN ana_top t USING (alert_id)
 WHERE e.actor = 'ana' ORDER BY e.event_id;
RESET ROLE;

-- The next days: the job runs each working day; Ana works 30 alerts a day,
-- Luis is out all week and works none.
CREATE TEMP TABLE day_after (day date, raised bigint, ana_queued bigint, ana_backlog bigint, luis_queued bigint,
                             luis_backlog bigint, moot bigint, turned_red bigint, escalated bigint);
CREATE FUNCTION pg_temp.next_day(d date) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM cartera.record_outcome(q.alert_id, (ARRAY['reached', 'no_answer', 'reached', 'declined'])[1 + q.queue_rank % 4])
     FROM (SELECT alert_id, queue_rank FROM cartera.alert
            WHERE agent_id = 1 AND status IN ('open', 'acknowledged') AND queue = 'queued'
            ORDER BY queue_rank LIMIT 30) q;
  PERFORM cartera.run_followups(d);
  INSERT INTO day_after
    SELECT d, (SELECT count(*) FROM cartera.alert WHERE raised_at = d + 1 AND status <> 'held_out'),
           p1.queued_alerts, p1.backlog_alerts, p2.queued_alerts, p2.backlog_alerts,
           (SELECT count(*) FROM cartera.alert WHERE status = 'moot' AND raised_at >= '1998-06-30'),
           (SELECT count(*) FROM cartera.alert_event e JOIN cartera.alert a USING (alert_id)
             WHERE e.event = 'recoloured' AND a.raised_at >= '1998-06-30'),
           (SELECT count(*) FROM cartera.alert WHERE escalated_at IS NOT NULL AND raised_at >= '1998-06-30')
      FROM cartera.agent_portfolio p1, cartera.agent_portfolio p2 WHERE p1.agent_id = 1 AND p2.agent_id = 2;
END $$;
DO $$
DECLARE
  d date;
BEGIN
  FOREACH d IN ARRAY ARRAY['1998-07-02', '1998-07-03', '1998-07-06', '1998-07-07', '1998-07-08', '1998-07-09',
                           '1998-07-10', '1998-07-13', '1998-07-14', '1998-07-15', '1998-07-16']::date[] LOOP
    PERFORM pg_temp.next_day(d);
  END LOOP;
END $$;
\echo
\echo '== The next working days (Ana works 30 alerts a day, Luis is out; moot, turned red and escalated:'
\echo '   totals since 30 June)'
SELECT day, raised AS new_alerts, ana_queued, ana_backlog, luis_queued, luis_backlog, moot, turned_red, escalated
  FROM day_after ORDER BY day;

\echo
\echo '== The manager''s queue: red alerts past their due date, escalated to Marta (first 8; the job of a'
\echo '   day stamps what it does with the end of that day: 1998-07-03 00:00 is the job of 2 July)'
SELECT escalated_at, escalated_to_name, agent_name, kind, customer_name, due_on, value_at_stake
  FROM cartera.manager_queue LIMIT 8;
SELECT agent_name, count(*) AS escalated FROM cartera.manager_queue GROUP BY agent_name ORDER BY agent_name;

\echo
\echo '== The life of one alert that was amber: raised, backlogged, queued, turned red, worked'
SELECT e.event, e.from_value,
       CASE WHEN e.event IN ('escalated', 'handed_over') THEN (SELECT g.name FROM cartera.agent g WHERE g.agent_id = e.to_value::bigint)
            ELSE e.to_value END AS to_value
  FROM cartera.alert_event e
 WHERE e.alert_id = (SELECT r.alert_id FROM cartera.alert_event r JOIN cartera.alert a USING (alert_id)
                      WHERE r.event = 'recoloured'
                      ORDER BY a.escalated_at IS NULL, a.alert_id LIMIT 1)
 ORDER BY e.event_id;

\echo
\echo '== Closed as moot by the job (the reason went away before anyone worked them)'
SELECT kind, resolution, count(*) AS alerts
  FROM cartera.alert WHERE status = 'moot' AND raised_at >= '1998-06-30' GROUP BY kind, resolution ORDER BY kind, alerts DESC;

\echo
\echo '== KPIs per month and agent, first half of 1998 (revenue, growth, retention, target)'
SELECT month, agent_name, revenue, round(revenue_growth, 2) AS growth, active_customers,
       round(retention_rate, 2) AS retention, revenue_target, round(revenue_vs_target, 2) AS vs_target
  FROM cartera.kpi_monthly WHERE month BETWEEN '1998-01-01' AND '1998-06-01' ORDER BY month, agent_name;

\echo
\echo '== Why customer 1981 is where they are'
SELECT * FROM cartera.explain(1981);
