-- The daily job's queues on the CDNOW sample (data/cdnow/, 2,357 customers,
-- purchases 1997-01 .. 1998-06), issue 15: no agent's queue exceeds her
-- capacity, the backlog is ranked by value at stake, nothing is lost between
-- days; the life of an alert (queued, started, snoozed and reopened, handed
-- over, done with an outcome, dismissed, moot, recoloured, escalated) and its
-- history; every error path of the new functions and constraints.
--
-- Fixed dates only: the states are computed as of 1998-06-30, then the daily
-- job runs for 1998-07-01 .. 1998-07-12 (no purchase is inserted in between,
-- so past days stay allowed).  The holdout groups are drawn from the customer,
-- the kind and the month (July 1998), so the default 10 % holdout gives the
-- same groups on any day this test runs.
--
-- The team: Ana (capacity 20), Luis (5), Marta (the portfolio's
-- cartera.daily_capacity, 12), their manager Carmen (manager of Ana and Luis,
-- not of Marta) and Pedro (inactive).  Each simulated day, after the job,
-- every agent works her queue in rank order: records outcomes on the first
-- few, snoozes the next, hands one over to a colleague, starts one and leaves
-- it in progress (Ana also dismisses one).  A snapshot of cartera.alert is
-- kept after each job ("planned") and after each day's work ("worked"); the
-- checks run over all the snapshots.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS cartera;
SET search_path = public, cartera;
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SELECT plan(107);

-- the portfolio ---------------------------------------------------------------
INSERT INTO cartera.portfolio_setting (name, value) VALUES
  ('cartera.daily_capacity', '12'), ('cartera.escalate_amber_after', '2 days'), ('cartera.language', 'en'),
  ('TimeZone', 'UTC');
INSERT INTO cartera.agent (agent_id, name, daily_capacity, manager_id, active) VALUES
  (150, 'Carmen (manager)', NULL, NULL, true),
  (151, 'Ana', 20, 150, true),
  (152, 'Luis', 5, 150, true),
  (153, 'Marta', NULL, NULL, true),
  (154, 'Pedro (gone)', 3, 150, false);

CREATE TEMP TABLE cdnow_raw (line text);
\copy cdnow_raw FROM 'data/cdnow/CDNOW_sample.txt'
CREATE TEMP TABLE cdnow AS
  SELECT f[2]::bigint AS customer_id, to_date(f[3], 'YYYYMMDD') AS purchased_at, f[4]::int AS cds, f[5]::numeric AS amount
    FROM (SELECT regexp_split_to_array(btrim(line), '\s+') AS f FROM cdnow_raw) s;
INSERT INTO cartera.customer (customer_id, full_name, owner_agent_id, marketing_consent, birthday, created_at)
  SELECT customer_id, 'CDNOW ' || customer_id, 151 + customer_id % 3, customer_id % 4 <> 0,
         date '1960-01-01' + (customer_id * 11)::int, '1997-01-01'
    FROM (SELECT DISTINCT customer_id FROM cdnow) c;
INSERT INTO cartera.purchase (customer_id, purchased_at, amount, quantity)
  SELECT customer_id, purchased_at, amount, cds FROM cdnow;
SELECT is((SELECT customers FROM cartera.refresh('1998-06-30')), 2357::bigint, 'refresh(''1998-06-30'') computes every customer''s state');
SELECT is((SELECT count(*) FROM cartera.customer_state WHERE (summary).purchases > 0), 2357::bigint,
          'the CDNOW sample: 2,357 customers with purchases, states as of 1998-06-30: '
          || (SELECT string_agg(format('%s %s', n, status), ', ' ORDER BY status)
                FROM (SELECT status, count(*) AS n FROM cartera.customer_state GROUP BY status) x));

-- the simulation ----------------------------------------------------------------
CREATE TEMP TABLE snap AS
  SELECT NULL::date AS day, NULL::text AS phase, NULL::double precision AS exact_value, a.*
    FROM cartera.alert a WHERE false;
CREATE TEMP TABLE sim_day (day date PRIMARY KEY, raised bigint, events_after_job bigint, events_after_rerun bigint,
                           events_after_work bigint);
CREATE TEMP TABLE rerun AS
  SELECT NULL::date AS day, NULL::bigint AS agent_id, NULL::integer AS capacity, NULL::bigint AS queued,
         NULL::bigint AS backlog, NULL::bigint AS escalated, NULL::bigint AS turned_red, NULL::bigint AS moot
   WHERE false;
-- alerts the simulated agents leave alone (set aside by the lifecycle checks)
CREATE TEMP TABLE reserved (alert_id bigint PRIMARY KEY, why text);

CREATE FUNCTION pg_temp.snapshot(d date, ph text) RETURNS void LANGUAGE sql AS $$
  INSERT INTO snap
  SELECT d, ph,
         CASE WHEN a.customer_id IS NULL THEN 0
              ELSE coalesce(s.clv_predicted_12m * (1 - s.p_alive), s.clv, 0) END,
         a.*
    FROM cartera.alert a LEFT JOIN cartera.customer_state s ON s.customer_id = a.customer_id;
$$;

-- one simulated agent's day: her queue in rank order
CREATE FUNCTION pg_temp.work(d date) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  g record;
  a record;
  i integer;
  outcomes text[] := ARRAY['reached', 'no_answer', 'won_back', 'declined', 'wrong_contact_data', 'do_not_contact', 'other'];
BEGIN
  FOR g IN SELECT * FROM (VALUES (151::bigint, 10), (152, 2), (153, 6)) v(agent_id, done_n) LOOP
    i := 0;
    FOR a IN SELECT x.alert_id FROM cartera.alert x
              WHERE x.agent_id = g.agent_id AND x.status IN ('open', 'acknowledged') AND x.queue = 'queued'
                AND x.alert_id NOT IN (SELECT r.alert_id FROM reserved r)
              ORDER BY x.queue_rank LOOP
      i := i + 1;
      IF i <= g.done_n THEN
        PERFORM cartera.record_outcome(a.alert_id, outcomes[1 + a.alert_id % 7], format('call on %s', d));
      ELSIF i = g.done_n + 1 THEN
        PERFORM cartera.snooze_alert(a.alert_id, current_date + 30);
      ELSIF i = g.done_n + 2 THEN
        PERFORM cartera.handover_alert(a.alert_id, 151 + (g.agent_id - 150) % 3, format('covering on %s', d));
      ELSIF i = g.done_n + 3 THEN
        PERFORM cartera.acknowledge_alert(a.alert_id);
      ELSIF i = g.done_n + 4 AND g.agent_id = 151 THEN
        PERFORM cartera.dismiss_alert(a.alert_id, 'customer asked not to be called this month');
      ELSE
        EXIT;
      END IF;
    END LOOP;
  END LOOP;
END $$;

CREATE FUNCTION pg_temp.run_day(d date) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  SELECT sum(raised) INTO n FROM cartera.run_followups(d);
  INSERT INTO sim_day (day, raised, events_after_job) VALUES (d, n, (SELECT max(event_id) FROM cartera.alert_event));
  PERFORM pg_temp.snapshot(d, 'planned');
  -- the plan may be re-run: nothing left to close, recolour or escalate, nothing moves
  INSERT INTO rerun SELECT d, p.* FROM cartera.plan_day(d) p;
  UPDATE sim_day SET events_after_rerun = (SELECT max(event_id) FROM cartera.alert_event) WHERE day = d;
  PERFORM pg_temp.work(d);
  UPDATE sim_day SET events_after_work = (SELECT max(event_id) FROM cartera.alert_event) WHERE day = d;
  PERFORM pg_temp.snapshot(d, 'worked');
END $$;

-- day 1, then the alerts the lifecycle checks follow
DO $$ BEGIN PERFORM pg_temp.run_day('1998-07-01'); END $$;
-- an acknowledged birthday alert: in progress, so not moot when its date passes
INSERT INTO reserved
  SELECT alert_id, 'started birthday' FROM cartera.alert
   WHERE kind = 'birthday' AND status = 'open' AND due_on <= '1998-07-05'
   ORDER BY due_on, alert_id LIMIT 1;
DO $$ BEGIN PERFORM cartera.acknowledge_alert(alert_id) FROM reserved WHERE why = 'started birthday'; END $$;
-- a backlog exit survey snoozed (its date is made to come on day 4, below)
INSERT INTO reserved
  SELECT alert_id, 'snoozed' FROM cartera.alert
   WHERE kind = 'exit_survey' AND status = 'open' AND queue = 'backlog' AND agent_id = 153
   ORDER BY alert_id LIMIT 1;
DO $$ BEGIN PERFORM cartera.snooze_alert(alert_id, current_date + 1) FROM reserved WHERE why = 'snoozed'; END $$;
-- a complaint to one of Ana's customers on day 1, which nobody works: queued
-- at once, past due the next day, escalated to Carmen
DO $$ BEGIN
  PERFORM cartera.raise_alerts(ARRAY[(SELECT min(customer_id) FROM cartera.customer WHERE owner_agent_id = 151)],
                               ARRAY['complaint'], ARRAY[NULL::date], ARRAY['wrong record delivered'],
                               ARRAY[NULL::bigint], '1998-07-01 15:00');
END $$;
INSERT INTO reserved SELECT alert_id, 'unworked complaint' FROM cartera.alert WHERE kind = 'complaint';
-- an exit survey whose reason for leaving becomes known (moot on day 3)
INSERT INTO reserved
  SELECT alert_id, 'reason known' FROM cartera.alert
   WHERE kind = 'exit_survey' AND status = 'open' AND queue = 'backlog' AND agent_id = 152
   ORDER BY alert_id LIMIT 1;

SELECT ok((SELECT raised > 1000 FROM sim_day WHERE day = '1998-07-01'),
          'day 1 (1998-07-01): the job raised ' || (SELECT raised FROM sim_day WHERE day = '1998-07-01')
          || ' alerts: ' || (SELECT string_agg(format('%s %s', n, kind), ', ' ORDER BY kind)
                               FROM (SELECT kind, count(*) AS n FROM snap WHERE day = '1998-07-01' AND phase = 'planned'
                                      GROUP BY kind) x));
SELECT ok((SELECT count(*) FILTER (WHERE status = 'held_out')::numeric / count(*) BETWEEN 0.07 AND 0.13
             FROM snap s JOIN cartera.alert_kind k USING (kind)
            WHERE day = '1998-07-01' AND phase = 'planned' AND k.holdout_share > 0),
          'day 1: about 10 % of the contact alerts are held out: '
          || (SELECT format('%s of %s', count(*) FILTER (WHERE status = 'held_out'), count(*))
                FROM snap s JOIN cartera.alert_kind k USING (kind)
               WHERE day = '1998-07-01' AND phase = 'planned' AND k.holdout_share > 0));
SELECT is((SELECT string_agg(format('%s %s/%s queued, %s backlog', g.name, p.queued, p.capacity, p.backlog), '; ' ORDER BY p.agent_id)
             FROM rerun p JOIN cartera.agent g USING (agent_id) WHERE p.day = '1998-07-01' AND p.agent_id IN (151, 152, 153)),
          (SELECT string_agg(format('%s %s/%s queued, %s backlog', name, least(cap, n), cap, n - least(cap, n)), '; ' ORDER BY agent_id)
             FROM (SELECT g.agent_id, g.name, coalesce(g.daily_capacity, 12) AS cap, count(*) AS n
                     FROM cartera.agent g JOIN snap s ON s.agent_id = g.agent_id AND s.day = '1998-07-01' AND s.phase = 'planned'
                                                   AND s.status IN ('open', 'acknowledged')
                    WHERE g.agent_id IN (151, 152, 153) GROUP BY g.agent_id, g.name) x),
          'day 1: each queue is filled up to capacity, the rest is backlog: '
          || (SELECT string_agg(format('%s %s/%s queued, %s backlog', g.name, p.queued, p.capacity, p.backlog), '; ' ORDER BY p.agent_id)
                FROM rerun p JOIN cartera.agent g USING (agent_id) WHERE p.day = '1998-07-01' AND p.agent_id IN (151, 152, 153)));

DO $$ BEGIN PERFORM pg_temp.run_day('1998-07-02'); END $$;
-- the customer tells why they left
UPDATE cartera.customer SET lost_reason = 'moved abroad'
 WHERE customer_id = (SELECT a.customer_id FROM cartera.alert a JOIN reserved r USING (alert_id) WHERE r.why = 'reason known');
DO $$ BEGIN PERFORM pg_temp.run_day('1998-07-03'); END $$;
-- the snoozed alert's date comes (snooze_alert only takes a date after the
-- real today; the simulated calendar is 1998)
UPDATE cartera.alert SET snoozed_until = '1998-07-04'
 WHERE alert_id = (SELECT alert_id FROM reserved WHERE why = 'snoozed');
DO $$ BEGIN
  FOR d IN 4 .. 12 LOOP PERFORM pg_temp.run_day(date '1998-07-01' + (d - 1)); END LOOP;
END $$;

SELECT is((SELECT count(*) FROM sim_day), 12::bigint,
          'the daily job ran for 12 days, 1998-07-01 .. 1998-07-12; alerts raised per day: '
          || (SELECT string_agg(raised::text, ' ' ORDER BY day) FROM sim_day));

-- the checks read the snapshots (temp tables have no statistics until analysed)
CREATE INDEX ON snap (alert_id, day, phase);
ANALYZE snap;
ANALYZE cartera.alert;
ANALYZE cartera.alert_event;

-- capacity ------------------------------------------------------------------------
CREATE TEMP VIEW open_snap AS
  SELECT s.*, coalesce(g.daily_capacity, 12) AS cap
    FROM snap s JOIN cartera.agent g USING (agent_id)
   WHERE s.status IN ('open', 'acknowledged');
CREATE TEMP VIEW per_agent_day AS
  SELECT day, phase, agent_id, max(cap) AS cap, count(*) AS still_to_do,
         count(*) FILTER (WHERE queue = 'queued') AS queued,
         count(*) FILTER (WHERE queue = 'backlog') AS backlog,
         max(queue_rank) FILTER (WHERE queue = 'queued') AS last_queued,
         min(queue_rank) FILTER (WHERE queue = 'backlog') AS first_backlog
    FROM open_snap GROUP BY day, phase, agent_id;
SELECT is((SELECT count(*) FROM per_agent_day WHERE phase = 'planned' AND queued > cap), 0::bigint,
          'no agent''s queue ever exceeds her capacity (12 days; most queued: '
          || (SELECT string_agg(format('%s %s/%s', g.name, x.q, x.c), ', ' ORDER BY g.agent_id)
                FROM (SELECT agent_id, max(queued) AS q, max(cap) AS c FROM per_agent_day WHERE phase = 'planned' GROUP BY agent_id) x
                JOIN cartera.agent g USING (agent_id)) || ')');
SELECT is((SELECT count(*) FROM per_agent_day WHERE phase = 'planned' AND queued <> least(cap, still_to_do)), 0::bigint,
          'every day each agent''s queue is filled up to her capacity (or all she has to do)');
SELECT is((SELECT count(*) FROM per_agent_day WHERE phase = 'planned' AND last_queued >= first_backlog), 0::bigint,
          'every queued alert ranks before every backlog alert of the same agent');
SELECT is((SELECT count(*) FROM open_snap WHERE phase = 'planned' AND queue IS NULL), 0::bigint,
          'after the job every alert still to do is queued or backlog');
SELECT is((SELECT count(*) FROM per_agent_day WHERE phase = 'planned' AND still_to_do <> queued + backlog), 0::bigint,
          'queued + backlog = every alert still to do, per agent and day');
SELECT ok((SELECT bool_and(backlog > 0) FROM per_agent_day WHERE phase = 'planned'),
          'there is a backlog every day for every agent (the capacities bind): backlog on day 12 '
          || (SELECT string_agg(format('%s %s', g.name, p.backlog), ', ' ORDER BY g.agent_id)
                FROM per_agent_day p JOIN cartera.agent g USING (agent_id) WHERE p.day = '1998-07-12' AND p.phase = 'planned'));
SELECT is((SELECT count(*) FROM rerun r
             LEFT JOIN per_agent_day p ON p.day = r.day AND p.phase = 'planned' AND p.agent_id = r.agent_id
            WHERE r.queued <> coalesce(p.queued, 0) OR r.backlog <> coalesce(p.backlog, 0)
               OR r.capacity <> CASE r.agent_id WHEN 151 THEN 20 WHEN 152 THEN 5 WHEN 154 THEN 0 ELSE 12 END),
          0::bigint, 'plan_day reports each agent''s capacity (0 when inactive), queued and backlog as the alerts show them');

-- ranking -------------------------------------------------------------------------
CREATE TEMP VIEW ranked AS
  SELECT t.*, row_number() OVER (PARTITION BY day, agent_id
                                 ORDER BY (status = 'acknowledged') DESC,
                                          array_position(ARRAY['red', 'amber', 'green', 'blue'], colour),
                                          exact_value DESC, due_on, alert_id) AS rule_rank,
         lag(value_at_stake) OVER (PARTITION BY day, agent_id, status = 'acknowledged', colour ORDER BY queue_rank) AS value_before,
         lag(array_position(ARRAY['red', 'amber', 'green', 'blue'], colour) + 10 * (status <> 'acknowledged')::int)
           OVER (PARTITION BY day, agent_id ORDER BY queue_rank) AS group_before,
         array_position(ARRAY['red', 'amber', 'green', 'blue'], colour) + 10 * (status <> 'acknowledged')::int AS grp
    FROM open_snap t WHERE phase = 'planned';
SELECT is((SELECT count(*) FROM ranked WHERE queue_rank IS DISTINCT FROM rule_rank), 0::bigint,
          'queue_rank follows the rule every day: in progress first, then red, amber, green, blue, then value at stake (high first), due date, alert id ('
          || (SELECT count(*) FROM ranked) || ' rankings checked)');
SELECT is((SELECT count(*) FROM ranked WHERE value_at_stake > value_before), 0::bigint,
          'within an agent''s queue and backlog the value at stake never rises down the ranks (same colour, same in-progress flag)');
SELECT is((SELECT count(*) FROM ranked WHERE grp < group_before), 0::bigint,
          'in progress alerts come first, then the colours in order red, amber, green, blue');
SELECT is((SELECT count(*) FROM open_snap WHERE phase = 'planned' AND value_at_stake IS DISTINCT FROM round(exact_value::numeric, 2)),
          0::bigint, 'value_at_stake is the predicted 12-month CLV x (1 - P(alive)) of the customer, 2 decimals');
SELECT ok((SELECT count(DISTINCT value_at_stake) > 100 FROM open_snap WHERE phase = 'planned'),
          'the values at stake differ (the ranking is not decided by the tie-breaks): '
          || (SELECT format('%s distinct values, %s .. %s', count(DISTINCT value_at_stake), min(value_at_stake), max(value_at_stake))
                FROM open_snap WHERE phase = 'planned'));
SELECT is((SELECT count(*) FROM ranked WHERE status = 'acknowledged' AND queue_rank > 1 AND group_before > 10), 0::bigint,
          'an alert in progress ranks before everything not started: '
          || (SELECT count(*) FROM ranked WHERE status = 'acknowledged') || ' in-progress rankings');
SELECT is((SELECT count(*) FROM ranked WHERE status = 'acknowledged' AND queue <> 'queued' AND queue_rank <= cap), 0::bigint,
          'an alert in progress is in the day''s queue (while the agent has no more in progress than her capacity)');

-- nothing is lost -----------------------------------------------------------------
CREATE TEMP VIEW classified AS
  SELECT s.*, CASE WHEN status IN ('open', 'acknowledged') AND queue IN ('queued', 'backlog') THEN status || '/' || queue
                   WHEN status IN ('open', 'acknowledged') AND queue IS NULL AND phase = 'worked'
                        AND EXISTS (SELECT 1 FROM cartera.alert_event e JOIN sim_day d ON d.day = s.day
                                     WHERE e.alert_id = s.alert_id AND e.event = 'handed_over'
                                       AND e.event_id > d.events_after_rerun) THEN status || '/handed over'
                   WHEN status IN ('snoozed', 'done', 'dismissed', 'moot', 'held_out') THEN status END AS class
    FROM snap s;
SELECT is((SELECT count(*) FROM classified WHERE class IS NULL), 0::bigint,
          'every raised alert, every day, after the job and after the work, is exactly one of: open or in progress and queued or backlog, snoozed, done, dismissed, moot, held out (or, after the work, handed over: ranked at the next job)');
SELECT is((SELECT count(*) FROM snap a
            WHERE NOT EXISTS (SELECT 1 FROM snap b WHERE b.alert_id = a.alert_id AND b.day = a.day + 1 AND b.phase = 'planned')
              AND a.day < '1998-07-12'),
          0::bigint, 'every alert of one day is still there the next day');
SELECT is((SELECT count(*) FROM snap a JOIN snap b ON b.alert_id = a.alert_id AND b.day = a.day AND b.phase = 'worked'
            WHERE a.phase = 'planned' AND a.status IN ('done', 'dismissed', 'moot', 'held_out') AND b.status <> a.status)
        + (SELECT count(*) FROM snap a JOIN snap b ON b.alert_id = a.alert_id AND b.day = a.day + 1 AND b.phase = 'planned'
            WHERE a.phase = 'worked' AND a.status IN ('done', 'dismissed', 'moot', 'held_out') AND b.status <> a.status),
          0::bigint, 'a closed alert (done, dismissed, moot, held out) stays closed');
SELECT is((SELECT count(*) FROM (SELECT day, count(*) AS n, lag(count(*)) OVER (ORDER BY day) AS before
                                   FROM snap WHERE phase = 'planned' GROUP BY day) x WHERE n < before),
          0::bigint, 'the number of alerts never decreases from one day to the next: '
          || (SELECT string_agg(n::text, ' ' ORDER BY day) FROM (SELECT day, count(*) AS n FROM snap WHERE phase = 'planned' GROUP BY day) x));
SELECT is((SELECT count(*) FROM cartera.alert), (SELECT count(*) FROM snap WHERE day = '1998-07-12' AND phase = 'worked'),
          'at the end: ' || (SELECT string_agg(format('%s %s', n, class), ', ' ORDER BY class)
                               FROM (SELECT class, count(*) AS n FROM classified WHERE day = '1998-07-12' AND phase = 'worked'
                                      GROUP BY class) x));
SELECT is((SELECT sum(raised) FROM sim_day)::bigint, (SELECT count(*) FROM cartera.alert WHERE kind <> 'complaint'),
          'every alert the job reported (held out included) is in cartera.alert (and the complaint raised by hand)');

-- the history ----------------------------------------------------------------------
SELECT is((SELECT count(*) FROM cartera.alert a
            WHERE (SELECT count(*) FROM cartera.alert_event e WHERE e.alert_id = a.alert_id AND e.event IN ('raised', 'held_out')) <> 1),
          0::bigint, 'each alert has exactly one raised or held_out event');
SELECT is((SELECT count(*) FROM cartera.alert a JOIN cartera.alert_event e USING (alert_id)
            WHERE e.event IN ('raised', 'held_out')
              AND (e.event = 'held_out') <> (a.status = 'held_out')),
          0::bigint, 'an alert is logged held_out exactly when it is held out');
SELECT is((SELECT count(*) FROM snap WHERE status = 'held_out' AND (queue IS NOT NULL OR queue_rank IS NOT NULL)), 0::bigint,
          'a held-out alert is never queued nor ranked, any day');
SELECT is((SELECT count(*) FROM cartera.alert a JOIN cartera.alert_event e USING (alert_id)
            WHERE a.status = 'held_out' AND e.event <> 'held_out'), 0::bigint,
          'a held-out alert has no event but held_out: '
          || (SELECT count(*) FROM cartera.alert WHERE status = 'held_out') || ' held out');
SELECT is((SELECT count(*) FROM cartera.alert a JOIN cartera.alert_kind k USING (kind)
            WHERE a.customer_id IS NOT NULL AND k.category IN ('relationship', 'marketing')
              AND (a.status = 'held_out') <> (cartera.holdout_draw(a.customer_id, a.kind, date_trunc('month', a.raised_at)::date)
                                              < k.holdout_share)),
          0::bigint, 'held out exactly when holdout_draw(customer, kind, July 1998) < holdout_share (0.10)');
SELECT is((SELECT count(*) FROM cartera.alert a
            WHERE a.status IN ('open', 'acknowledged') AND a.queue IS NOT NULL
              AND a.kind <> 'complaint'   -- queued when raised
              AND a.queue IS DISTINCT FROM (SELECT e.to_value FROM cartera.alert_event e
                                             WHERE e.alert_id = a.alert_id AND e.event IN ('queued', 'backlogged')
                                             ORDER BY e.event_id DESC LIMIT 1)),
          0::bigint, 'the last queued/backlogged event of each alert still to do names its queue');
SELECT is((SELECT count(*) FROM sim_day WHERE events_after_rerun <> events_after_job), 0::bigint,
          're-running plan_day right after the job changes nothing (no event, any day)');
SELECT is((SELECT sum(escalated + turned_red + moot) FROM rerun)::bigint, 0::bigint,
          'and reports nothing escalated, turned red or moot');
SELECT is((SELECT count(*) FROM cartera.alert_event WHERE actor <> session_user), 0::bigint,
          'every event names the role that acted (' || session_user || '), also those written by the job');
SELECT is((SELECT count(*) FROM cartera.alert a
            WHERE a.status = 'done'
              AND NOT EXISTS (SELECT 1 FROM cartera.alert_event e WHERE e.alert_id = a.alert_id AND e.event = 'done'
                                AND e.to_value = a.outcome AND e.note = a.resolution AND e.note LIKE 'call on 1998-07-__')),
          0::bigint, 'each done alert has a done event with its outcome and the agent''s note: '
          || (SELECT string_agg(format('%s %s', n, outcome), ', ' ORDER BY outcome)
                FROM (SELECT outcome, count(*) AS n FROM cartera.alert WHERE status = 'done' GROUP BY outcome) x));
SELECT is((SELECT count(*) FROM cartera.alert WHERE status = 'done' AND (outcome IS NULL OR closed_at IS NULL)), 0::bigint,
          'a done alert has an outcome and a closing time');
SELECT is((SELECT count(DISTINCT outcome) FROM cartera.alert WHERE status = 'done'), 7::bigint,
          'every outcome of the list was recorded');
SELECT ok((SELECT count(*) >= 12 FROM cartera.alert_event e
            WHERE e.event = 'handed_over' AND e.note LIKE 'covering on 1998-07-__'
              AND e.to_value::bigint = 151 + (e.from_value::bigint - 150) % 3),
          'hand-overs are logged from one agent to the other, with the note: '
          || (SELECT count(*) FROM cartera.alert_event WHERE event = 'handed_over'));
SELECT is((SELECT count(*) FROM snap a JOIN snap b ON b.alert_id = a.alert_id AND b.phase = 'planned' AND b.day = a.day + 1
             JOIN cartera.alert_event e ON e.alert_id = a.alert_id AND e.event = 'handed_over' AND e.note = format('covering on %s', a.day)
            WHERE a.phase = 'worked' AND b.status IN ('open', 'acknowledged')
              AND (b.agent_id <> e.to_value::bigint OR b.queue_rank IS NULL)),
          0::bigint, 'a handed-over alert is ranked in the new agent''s list the next day');
SELECT ok((SELECT count(*) FROM cartera.alert_event e JOIN cartera.alert a USING (alert_id)
            WHERE e.event = 'snoozed' AND e.to_value = (current_date + 30)::text AND a.status = 'snoozed') >= 30,
          'snoozed alerts are logged with their date and stay snoozed until it: '
          || (SELECT count(*) FROM cartera.alert WHERE status = 'snoozed'));
SELECT is((SELECT count(*) FROM cartera.alert WHERE status = 'dismissed'), (SELECT count(*) FROM cartera.alert_event WHERE event = 'dismissed'
             AND note = 'customer asked not to be called this month'),
          'dismissals are logged with the reason: ' || (SELECT count(*) FROM cartera.alert WHERE status = 'dismissed'));
-- (one a day per agent whose queue holds enough alerts the simulation may touch)
SELECT ok((SELECT count(*) FROM cartera.alert_event WHERE event = 'started' AND from_value = 'open' AND to_value = 'acknowledged') >= 24,
          'starting an alert is logged (started, open -> acknowledged): '
          || (SELECT count(*) FROM cartera.alert_event WHERE event = 'started'));

-- the snoozed alert whose date came
SELECT is((SELECT string_agg(s.day || ' ' || s.phase || ' ' || s.status || coalesce('/' || s.queue, ''), ', ' ORDER BY s.day, s.phase)
             FROM snap s JOIN reserved r USING (alert_id) WHERE r.why = 'snoozed' AND s.day BETWEEN '1998-07-01' AND '1998-07-04'),
          '1998-07-01 planned open/backlog, 1998-07-01 worked open/backlog, 1998-07-02 planned snoozed, '
          || '1998-07-02 worked snoozed, 1998-07-03 planned snoozed, 1998-07-03 worked snoozed, '
          || '1998-07-04 planned open/backlog, 1998-07-04 worked open/backlog',
          'a snoozed alert leaves the queue, is left alone, then reopened and ranked again on the day it was snoozed until');
SELECT is((SELECT array_agg(e.event || ':' || coalesce(e.from_value, '') || '>' || coalesce(e.to_value, '') ORDER BY e.event_id)
             FROM cartera.alert_event e JOIN reserved r USING (alert_id) WHERE r.why = 'snoozed' AND e.event IN ('snoozed', 'reopened')),
          ARRAY['snoozed:open>' || (current_date + 1), 'reopened:snoozed>open'],
          'its history: snoozed (with the date), reopened');

-- moot -----------------------------------------------------------------------------
SELECT is((SELECT count(*) FROM cartera.alert a
            WHERE a.status = 'moot'
              AND NOT EXISTS (SELECT 1 FROM cartera.alert_event e WHERE e.alert_id = a.alert_id AND e.event = 'moot'
                                AND e.from_value = 'open' AND e.note = a.resolution)),
          0::bigint, 'every moot alert was open (never started) and its moot event gives the reason: '
          || (SELECT string_agg(format('%s %s: %s', n, kind, resolution), '; ' ORDER BY kind, resolution)
                FROM (SELECT kind, resolution, count(*) AS n FROM cartera.alert WHERE status = 'moot' GROUP BY 1, 2) x));
SELECT ok((SELECT count(*) > 0 AND bool_and(a.due_on < a.closed_at::date - 1 AND a.resolution = 'the date has passed')
             FROM cartera.alert a WHERE a.status = 'moot' AND a.kind = 'birthday'),
          'birthday alerts whose date passed unworked close as moot: the date has passed');
SELECT is((SELECT count(*) FROM snap s
            WHERE s.phase = 'planned' AND s.kind = 'birthday' AND s.status = 'open' AND s.due_on < s.day), 0::bigint,
          'no open birthday alert is ever left past its date after the job');
SELECT ok((SELECT count(*) > 0 AND bool_and(a.resolution = 'the customer is ' || s.status || ' now' AND s.status <> 'dormant')
             FROM cartera.alert a JOIN cartera.customer_state s USING (customer_id)
            WHERE a.status = 'moot' AND a.kind = 'reactivation'),
          'reactivation alerts of customers no longer dormant close as moot, saying what they are now');
SELECT is((SELECT s.status || ' on ' || s.day || ': ' || s.resolution FROM snap s JOIN reserved r USING (alert_id)
            WHERE r.why = 'reason known' AND s.status = 'moot' ORDER BY s.day LIMIT 1),
          'moot on 1998-07-03: the reason for leaving is known',
          'an exit survey closes as moot the day after the reason for leaving is recorded');
SELECT is((SELECT a.status || ', due ' || a.due_on || ', ' || a.queue || ', '
                    || (SELECT count(*) FROM cartera.alert b WHERE b.agent_id = a.agent_id AND b.status = 'open'
                           AND b.queue_rank < a.queue_rank) || ' not started before it'
             FROM cartera.alert a JOIN reserved r USING (alert_id) WHERE r.why = 'started birthday'),
          (SELECT 'acknowledged, due ' || a.due_on || ', queued, 0 not started before it'
             FROM cartera.alert a JOIN reserved r USING (alert_id) WHERE r.why = 'started birthday'),
          'a birthday alert in progress is not moot when its date passes, and stays at the head of its agent''s queue');

-- escalation -------------------------------------------------------------------------
-- escalated: queued work not done (in an agent's queue since an earlier
-- day); an amber alert turned red gets escalate_amber_after more first
SELECT is((SELECT count(*) FROM open_snap t JOIN cartera.alert_kind k USING (kind)
            WHERE t.phase = 'planned' AND t.colour = 'red' AND t.queue = 'queued' AND t.queued_on < t.day
              AND t.due_on + CASE WHEN k.colour = 'red' THEN 0 ELSE 4 END < t.day AND t.escalated_at IS NULL), 0::bigint,
          'every day, every red alert queued since an earlier day and past its due date (an amber turned red: 2 more days) is escalated');
SELECT is((SELECT count(*) FROM cartera.alert_event e JOIN cartera.alert a USING (alert_id)
            WHERE e.event = 'escalated'
              AND coalesce((SELECT x.event FROM cartera.alert_event x
                             WHERE x.alert_id = e.alert_id AND x.event_id < e.event_id AND x.event IN ('queued', 'backlogged')
                             ORDER BY x.event_id DESC LIMIT 1),
                           CASE WHEN a.kind = 'complaint' THEN 'queued' END)   -- queued when raised
                  IS DISTINCT FROM 'queued'), 0::bigint,
          'and only those: the backlog is never escalated (it is a capacity problem, shown as backlog counts)');
SELECT is((SELECT count(*) FROM cartera.alert a JOIN cartera.alert_kind k USING (kind)
            WHERE a.escalated_at IS NOT NULL AND k.colour = 'amber' AND NOT (a.due_on + 4 < (a.escalated_at - interval '1 day')::date)),
          0::bigint, 'an amber alert turned red is escalated only escalate_amber_after later again');
SELECT is((SELECT count(*) FROM open_snap WHERE phase = 'planned' AND colour = 'red' AND due_on >= day AND escalated_at IS NOT NULL), 0::bigint,
          'and none before its due date');
SELECT is((SELECT count(*) FROM snap s JOIN cartera.agent g USING (agent_id)
            WHERE s.phase = 'planned' AND s.escalated_at = (s.day + 1)::timestamptz
              AND s.escalated_to IS DISTINCT FROM g.manager_id),
          0::bigint, 'an alert is escalated to its agent''s manager: '
          || (SELECT string_agg(format('%s to %s', n, coalesce(m, 'nobody (no manager_id)')), ', ' ORDER BY m)
                FROM (SELECT escalated_to::text AS m, count(*) AS n FROM cartera.alert WHERE escalated_at IS NOT NULL GROUP BY 1) x));
SELECT is((SELECT count(*) FROM cartera.alert a
            WHERE a.escalated_at IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM cartera.alert_event e WHERE e.alert_id = a.alert_id AND e.event = 'escalated'
                                AND e.to_value IS NOT DISTINCT FROM a.escalated_to::text)),
          0::bigint, 'each escalation is logged with the manager');
SELECT set_eq($$SELECT alert_id, escalated_to, escalated_to_name FROM cartera.manager_queue$$,
              $$SELECT a.alert_id, a.escalated_to, m.name FROM cartera.alert a LEFT JOIN cartera.agent m ON m.agent_id = a.escalated_to
                 WHERE a.escalated_at IS NOT NULL AND a.status IN ('open', 'acknowledged')$$,
              'manager_queue lists exactly the escalated alerts still to do');
SELECT ok((SELECT count(*) FILTER (WHERE escalated_to = 150) > 0 AND count(*) FILTER (WHERE escalated_to IS NULL) > 0
             FROM cartera.alert WHERE escalated_at IS NOT NULL),
          'over the 12 days, escalations to Carmen (Ana''s and Luis''s alerts) and to nobody (Marta has no manager): '
          || (SELECT format('%s for Carmen, %s for nobody', count(*) FILTER (WHERE escalated_to = 150), count(*) FILTER (WHERE escalated_to IS NULL))
                FROM cartera.alert WHERE escalated_at IS NOT NULL));
SELECT is((SELECT count(*) FROM open_snap WHERE phase = 'planned' AND colour = 'amber' AND queue = 'queued' AND queued_on < day
                                       AND due_on + 2 < day), 0::bigint,
          'every day, no queued amber alert is left overdue by more than cartera.escalate_amber_after (2 days here)');
SELECT ok((SELECT count(*) FROM open_snap WHERE day = '1998-07-12' AND phase = 'planned' AND colour = 'amber' AND queue = 'backlog'
                                      AND due_on + 2 < day) > 0,
          'while the backlog stays amber, however overdue: '
          || (SELECT count(*) FROM open_snap WHERE day = '1998-07-12' AND phase = 'planned' AND colour = 'amber' AND queue = 'backlog'
                                         AND due_on + 2 < day) || ' on day 12');
SELECT is((SELECT count(*) FROM cartera.alert_event e JOIN sim_day d ON e.event_id <= d.events_after_job
            WHERE e.event = 'recoloured' AND d.day = '1998-07-11'), 0::bigint,
          'no amber alert turned red up to day 11 (the first amber alerts were due 1998-07-09)');
SELECT is((SELECT count(*) FROM cartera.alert_event e
            WHERE e.event = 'recoloured' AND (e.from_value, e.to_value) <> ('amber', 'red')), 0::bigint,
          'recolouring is amber -> red only');
SELECT is((SELECT count(*) FROM cartera.alert_event e
             JOIN sim_day d ON d.day = '1998-07-12' JOIN sim_day p ON p.day = '1998-07-11'
            WHERE e.event = 'recoloured' AND e.event_id > p.events_after_work AND e.event_id <= d.events_after_job),
          (SELECT count(*) FROM snap a JOIN snap b ON b.alert_id = a.alert_id AND b.day = '1998-07-12' AND b.phase = 'planned'
            WHERE a.day = '1998-07-11' AND a.phase = 'worked' AND a.status IN ('open', 'acknowledged') AND a.queue = 'queued'
              AND a.colour = 'amber' AND a.due_on + 2 < '1998-07-12' AND b.status IN ('open', 'acknowledged')),
          'on day 12 each queued amber alert still to do (not moot) overdue by more than 2 days turned red: '
          || (SELECT count(*) FROM snap a JOIN snap b ON b.alert_id = a.alert_id AND b.day = '1998-07-12' AND b.phase = 'planned'
               WHERE a.day = '1998-07-11' AND a.phase = 'worked' AND a.status IN ('open', 'acknowledged') AND a.queue = 'queued'
                 AND a.colour = 'amber' AND a.due_on + 2 < '1998-07-12' AND b.status IN ('open', 'acknowledged')));
SELECT is((SELECT count(*) FROM cartera.alert a
            WHERE a.kind IN ('exit_survey', 'reactivation') AND a.colour = 'red'
              AND NOT EXISTS (SELECT 1 FROM cartera.alert_event e WHERE e.alert_id = a.alert_id AND e.event = 'recoloured')),
          0::bigint, 'each of them has its recoloured event');

-- agent_portfolio ----------------------------------------------------------------------
SELECT set_eq($$SELECT agent_id, daily_capacity, queued_alerts, backlog_alerts, escalated_alerts, open_alerts
                  FROM cartera.agent_portfolio WHERE agent_id IS NOT NULL$$,
              $$SELECT g.agent_id, CASE WHEN g.active THEN coalesce(g.daily_capacity, 12) ELSE 0 END AS cap,
                       count(a.alert_id) FILTER (WHERE a.queue = 'queued') AS queued,
                       count(a.alert_id) FILTER (WHERE a.queue IS DISTINCT FROM 'queued') AS backlog,
                       count(a.alert_id) FILTER (WHERE a.escalated_at IS NOT NULL) AS escalated,
                       count(a.alert_id) AS open_snap
                  FROM cartera.agent g LEFT JOIN cartera.alert a ON a.agent_id = g.agent_id AND a.status IN ('open', 'acknowledged')
                 GROUP BY g.agent_id$$,
              'agent_portfolio: daily_capacity, queued, backlog and escalated alerts agree with cartera.alert (after the last day''s work)');
SELECT is((SELECT string_agg(format('%s %s/%s', agent_name, queued_alerts, daily_capacity), ', ' ORDER BY agent_id)
             FROM cartera.agent_portfolio WHERE agent_id IS NOT NULL),
          'Carmen (manager) 0/12, Ana ' || (SELECT count(*) FROM cartera.alert WHERE agent_id = 151 AND status IN ('open', 'acknowledged') AND queue = 'queued')
          || '/20, Luis ' || (SELECT count(*) FROM cartera.alert WHERE agent_id = 152 AND status IN ('open', 'acknowledged') AND queue = 'queued')
          || '/5, Marta ' || (SELECT count(*) FROM cartera.alert WHERE agent_id = 153 AND status IN ('open', 'acknowledged') AND queue = 'queued')
          || '/12, Pedro (gone) 0/0',
          'agent_portfolio: the capacity is the agent''s, else the portfolio setting, 0 for an inactive agent');
SELECT is((SELECT count(*) FROM cartera.agent_portfolio WHERE agent_id IS NULL), 0::bigint,
          'agent_portfolio: no row for unassigned customers and alerts (there are none)');

-- error paths ----------------------------------------------------------------------------
-- (the project's codes: P0002 no_data_found for a missing alert or agent, 22004
-- null_value_not_allowed for a missing argument, 22023 for a wrong value or a
-- closed alert, 23514 for the table constraints)
CREATE TEMP TABLE pick AS SELECT
  (SELECT min(alert_id) FROM cartera.alert WHERE status = 'open') AS open_id,
  (SELECT min(alert_id) FROM cartera.alert WHERE status = 'done') AS done_id,
  (SELECT min(alert_id) FROM cartera.alert WHERE status = 'moot') AS moot_id,
  (SELECT min(alert_id) FROM cartera.alert WHERE status = 'dismissed') AS dismissed_id,
  (SELECT min(alert_id) FROM cartera.alert WHERE status = 'held_out') AS held_id,
  (SELECT agent_id FROM cartera.alert WHERE alert_id = (SELECT min(alert_id) FROM cartera.alert WHERE status = 'open')) AS open_agent,
  (SELECT max(alert_id) + 1000 FROM cartera.alert) AS missing_id;
CREATE FUNCTION pg_temp.q(template text) RETURNS text LANGUAGE sql AS $$
  SELECT replace(replace(replace(replace(replace(replace(replace(template,
           '$OPEN', open_id::text), '$DONE', done_id::text), '$MOOT', moot_id::text), '$DISMISSED', dismissed_id::text),
           '$HELD', held_id::text), '$MISSING', missing_id::text), '$AGENT', open_agent::text)
    FROM pick $$;
CREATE FUNCTION pg_temp.hint_of(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  h text;
BEGIN
  EXECUTE query;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
  RETURN h;
END $$;

-- record_outcome
SELECT throws_ok(pg_temp.q('SELECT cartera.record_outcome($OPEN, ''sold'')'), '22023', 'unknown outcome sold',
                 'record_outcome: an outcome not on the list is refused');
SELECT throws_ok(pg_temp.q('SELECT cartera.record_outcome($OPEN, NULL)'), '22023', 'unknown outcome NULL',
                 'record_outcome: a NULL outcome is refused');
SELECT throws_ok(pg_temp.q('SELECT cartera.record_outcome($DONE, ''reached'')'), '22023', pg_temp.q('alert $DONE is already done'),
                 'record_outcome: a done alert stays done');
SELECT throws_ok(pg_temp.q('SELECT cartera.record_outcome($MOOT, ''reached'')'), '22023', pg_temp.q('alert $MOOT is already moot'),
                 'record_outcome: a moot alert stays closed');
SELECT throws_ok(pg_temp.q('SELECT cartera.record_outcome($DISMISSED, ''reached'')'), '22023', pg_temp.q('alert $DISMISSED is already dismissed'),
                 'record_outcome: a dismissed alert stays closed');
SELECT throws_ok(pg_temp.q('SELECT cartera.record_outcome($HELD, ''reached'')'), '22023', pg_temp.q('alert $HELD is already held_out'),
                 'record_outcome: a held-out alert is never worked');
SELECT matches(pg_temp.hint_of(pg_temp.q('SELECT cartera.record_outcome($HELD, ''reached'')')), 'held-out alert',
               'and the hint says why (held-out alerts measure what happens without a contact)');
SELECT throws_ok(pg_temp.q('SELECT cartera.record_outcome($MISSING, ''reached'')'), 'P0002', pg_temp.q('alert $MISSING does not exist'),
                 'record_outcome: an alert that does not exist');
-- handover_alert
SELECT throws_ok(pg_temp.q('SELECT cartera.handover_alert($OPEN, NULL)'), '22004', 'an agent to hand the alert over to is needed',
                 'handover_alert: to nobody is refused');
SELECT throws_ok(pg_temp.q('SELECT cartera.handover_alert($OPEN, 999999)'), 'P0002', 'agent 999999 does not exist',
                 'handover_alert: to an agent that does not exist');
SELECT throws_ok(pg_temp.q('SELECT cartera.handover_alert($OPEN, 154)'), '22023', 'agent 154 is not active',
                 'handover_alert: to an inactive agent');
SELECT throws_ok(pg_temp.q('SELECT cartera.handover_alert($OPEN, $AGENT)'), '22023', pg_temp.q('alert $OPEN is already agent $AGENT''s'),
                 'handover_alert: to the agent it already has');
SELECT throws_ok(pg_temp.q('SELECT cartera.handover_alert($DONE, 151)'), '22023', pg_temp.q('alert $DONE is already done'),
                 'handover_alert: a closed alert is not handed over');
SELECT throws_ok(pg_temp.q('SELECT cartera.handover_alert($MISSING, 151)'), 'P0002', pg_temp.q('alert $MISSING does not exist'),
                 'handover_alert: an alert that does not exist');
-- alert_set_status and snooze
SELECT throws_ok(pg_temp.q('SELECT cartera.alert_set_status($OPEN, ''closed'')'), '22023', 'an alert cannot be set to status closed',
                 'alert_set_status: an unknown status');
SELECT throws_ok(pg_temp.q('SELECT cartera.alert_set_status($OPEN, NULL)'), '22023', 'an alert cannot be set to status NULL',
                 'alert_set_status: a NULL status');
SELECT throws_ok(pg_temp.q('SELECT cartera.alert_set_status($OPEN, ''moot'')'), '22023', 'an alert cannot be set to status moot',
                 'alert_set_status: only the daily job closes an alert as moot');
SELECT throws_ok(pg_temp.q('SELECT cartera.alert_set_status($OPEN, ''held_out'')'), '22023', 'an alert cannot be set to status held_out',
                 'alert_set_status: nobody moves an alert into the holdout group');
SELECT throws_ok(pg_temp.q('SELECT cartera.alert_set_status($OPEN, ''snoozed'')'), '22023', 'snooze needs a date after today, not NULL',
                 'snooze without a date');
SELECT throws_ok(pg_temp.q('SELECT cartera.snooze_alert($OPEN, current_date)'), '22023',
                 'snooze needs a date after today, not ' || current_date, 'snooze until today');
SELECT throws_ok(pg_temp.q('SELECT cartera.snooze_alert($OPEN, ''1998-07-20'')'), '22023',
                 'snooze needs a date after today, not 1998-07-20', 'snooze until a past day');
-- plan_day
SELECT throws_ok($$SELECT * FROM cartera.plan_day(NULL)$$, '22023', 'as_of must be a finite date, not NULL', 'plan_day(NULL)');
SELECT throws_ok($$SELECT * FROM cartera.plan_day('infinity')$$, '22023', 'as_of must be a finite date, not infinity', 'plan_day(''infinity'')');
SELECT throws_ok($$SELECT * FROM cartera.plan_day('-infinity')$$, '22023', 'as_of must be a finite date, not -infinity', 'plan_day(''-infinity'')');
SELECT throws_ok($$SELECT * FROM cartera.plan_day(current_date + 2)$$, '22023', 'as_of ' || (current_date + 2) || ' is in the future',
                 'plan_day for the day after tomorrow');
-- constraints
SELECT throws_ok($$UPDATE cartera.alert_kind SET holdout_share = 0.51 WHERE kind = 'reactivation'$$, '23514',
                 'new row for relation "alert_kind" violates check constraint "alert_kind_holdout_share"', 'holdout_share above 0.5');
SELECT throws_ok($$UPDATE cartera.alert_kind SET holdout_share = -0.1 WHERE kind = 'reactivation'$$, '23514',
                 'new row for relation "alert_kind" violates check constraint "alert_kind_holdout_share"', 'a negative holdout_share');
SELECT throws_ok($$UPDATE cartera.alert_kind SET holdout_share = 0.1 WHERE kind = 'complaint'$$, '23514',
                 'new row for relation "alert_kind" violates check constraint "alert_kind_holdout_contacts_only"',
                 'no holdout group on a service kind (complaints are always handled)');
SELECT throws_ok($$UPDATE cartera.alert_kind SET holdout_share = 0.1 WHERE kind = 'below_target'$$, '23514',
                 'new row for relation "alert_kind" violates check constraint "alert_kind_holdout_contacts_only"',
                 'no holdout group on an internal kind');
SELECT throws_ok($$UPDATE cartera.alert_kind SET holdout_period = 'day' WHERE kind = 'reactivation'$$, '23514',
                 'new row for relation "alert_kind" violates check constraint "alert_kind_holdout_period"', 'an unknown holdout_period');
SELECT throws_ok($$UPDATE cartera.alert_kind SET response_window = '0 days' WHERE kind = 'reactivation'$$, '23514',
                 'new row for relation "alert_kind" violates check constraint "alert_kind_response_window"', 'a zero response_window');
SELECT throws_ok($$UPDATE cartera.alert_kind SET response_window = '-1 day' WHERE kind = 'reactivation'$$, '23514',
                 'new row for relation "alert_kind" violates check constraint "alert_kind_response_window"', 'a negative response_window');
SELECT throws_ok($$UPDATE cartera.agent SET daily_capacity = -1 WHERE agent_id = 152$$, '23514',
                 'new row for relation "agent" violates check constraint "agent_daily_capacity"', 'a negative daily_capacity');
SELECT throws_ok($$UPDATE cartera.agent SET manager_id = agent_id WHERE agent_id = 150$$, '23514',
                 'new row for relation "agent" violates check constraint "agent_not_own_manager"', 'an agent is not her own manager');
SELECT throws_ok($$UPDATE cartera.agent SET manager_id = 999999 WHERE agent_id = 153$$, '23503',
                 'insert or update on table "agent" violates foreign key constraint "agent_manager_id_fkey"', 'a manager that does not exist');
SELECT throws_ok(pg_temp.q('UPDATE cartera.alert SET outcome = ''reached'' WHERE alert_id = $OPEN'), '23514',
                 'new row for relation "alert" violates check constraint "alert_outcome_when_done"', 'an outcome on an alert that is not done');
SELECT throws_ok(pg_temp.q('UPDATE cartera.alert SET outcome = ''sold'', status = ''done'' WHERE alert_id = $OPEN'), '23514',
                 'new row for relation "alert" violates check constraint "alert_outcome_known"', 'an outcome not on the list');
SELECT throws_ok(pg_temp.q('UPDATE cartera.alert SET queue = ''later'' WHERE alert_id = $OPEN'), '23514',
                 'new row for relation "alert" violates check constraint "alert_queue_known"', 'a queue that is neither queued nor backlog');

-- the boundary: planning tomorrow is allowed (a scheduler already past midnight)
SELECT lives_ok($$SELECT * FROM cartera.plan_day(current_date + 1)$$, 'plan_day for tomorrow is allowed');

SELECT * FROM finish();
ROLLBACK;
