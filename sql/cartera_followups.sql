
------------------------------------------------------------------------------
-- 0.4.0: follow-ups that work (docs/followups.md).  Each agent has a daily
-- capacity; the daily job ranks the open alerts by what is at stake and
-- queues each agent's share, the rest waits as backlog; alerts nobody worked
-- that no longer apply close as moot; overdue amber turns red and overdue red
-- goes to the manager.  Every change of an alert is logged (alert_event).
-- A share of the eligible customers of each contact kind is held out at
-- random (recorded, never queued nor notified) so that the outcome views can
-- measure what the alerts add.  This script is the same in a fresh install
-- and in the upgrade from 0.3.0 (it only adds to the tables of 0.2.0).
------------------------------------------------------------------------------

ALTER TABLE cartera.agent
  ADD COLUMN daily_capacity integer CONSTRAINT agent_daily_capacity CHECK (daily_capacity >= 0),
  ADD COLUMN manager_id bigint CONSTRAINT agent_manager_id_fkey REFERENCES cartera.agent (agent_id) ON DELETE SET NULL,
  ADD CONSTRAINT agent_not_own_manager CHECK (manager_id <> agent_id);
COMMENT ON COLUMN cartera.agent.daily_capacity IS
  'alerts the agent can work in a day; NULL = the portfolio setting cartera.daily_capacity';
COMMENT ON COLUMN cartera.agent.manager_id IS
  'the agent''s manager (an agent row): red alerts overdue are escalated to them';

ALTER TABLE cartera.alert_kind
  ADD COLUMN response_window interval NOT NULL DEFAULT '30 days'
    CONSTRAINT alert_kind_response_window CHECK (response_window > interval '0'),
  ADD COLUMN holdout_share numeric NOT NULL DEFAULT 0.10
    CONSTRAINT alert_kind_holdout_share CHECK (holdout_share >= 0 AND holdout_share <= 0.5),
  ADD COLUMN holdout_period text NOT NULL DEFAULT 'month'
    CONSTRAINT alert_kind_holdout_period CHECK (holdout_period IN ('week', 'month', 'quarter', 'year'));
-- complaints are always handled, and agent tasks contact nobody: only the
-- contact kinds have a holdout group
UPDATE cartera.alert_kind SET holdout_share = 0 WHERE category IN ('service', 'internal');
ALTER TABLE cartera.alert_kind
  ADD CONSTRAINT alert_kind_holdout_contacts_only CHECK (holdout_share = 0 OR category IN ('relationship', 'marketing'));
-- The kinds are configuration a manager edits (cool-downs, messages, these
-- settings, new kinds): pg_dump keeps them.  The built-in rows exist in the
-- new database before the dump's rows arrive, so while a restore is open
-- (cartera.pre_restore(), or a superuser's session_replication_role =
-- replica) a row of an existing kind replaces it instead of failing on the
-- primary key.
SELECT pg_catalog.pg_extension_config_dump('cartera.alert_kind', '');
CREATE FUNCTION cartera.alert_kind_restored() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  IF (EXISTS (SELECT 1 FROM cartera.restore_in_progress)
      OR pg_catalog.current_setting('session_replication_role') = 'replica')
     AND EXISTS (SELECT 1 FROM cartera.alert_kind k WHERE k.kind = NEW.kind) THEN
    UPDATE cartera.alert_kind k
       SET colour = NEW.colour, category = NEW.category, due_days = NEW.due_days, cooldown = NEW.cooldown,
           message_es = NEW.message_es, message_en = NEW.message_en, enabled = NEW.enabled,
           response_window = NEW.response_window, holdout_share = NEW.holdout_share,
           holdout_period = NEW.holdout_period
     WHERE k.kind = NEW.kind;
    RETURN NULL;
  END IF;
  RETURN NEW;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.alert_kind_restored() FROM PUBLIC;
COMMENT ON FUNCTION cartera.alert_kind_restored() IS
  'row trigger of cartera.alert_kind: while a restore is open, a dumped row of a kind that exists replaces it (the built-in kinds are there before the dump''s rows)';
CREATE TRIGGER alert_kind_restored BEFORE INSERT ON cartera.alert_kind
  FOR EACH ROW EXECUTE FUNCTION cartera.alert_kind_restored();
-- (fired in replica mode too: a superuser's restore)
ALTER TABLE cartera.alert_kind ENABLE ALWAYS TRIGGER alert_kind_restored;

COMMENT ON COLUMN cartera.alert_kind.response_window IS
  'how long after an alert a purchase counts as its outcome (cartera.alert_outcome)';
COMMENT ON COLUMN cartera.alert_kind.holdout_share IS
  'share of the eligible customers held out (0 .. 0.5; relationship and marketing kinds only): the alert is recorded as held_out, never queued nor notified, to measure uplift';
COMMENT ON COLUMN cartera.alert_kind.holdout_period IS
  'week, month, quarter or year: within one, a customer stays in the same group (alerted or held out) for the kind';

ALTER TABLE cartera.alert
  ADD COLUMN queue text CONSTRAINT alert_queue_known CHECK (queue IN ('queued', 'backlog')),
  ADD COLUMN queue_rank integer,
  ADD COLUMN queued_on date,
  ADD COLUMN value_at_stake numeric,
  ADD COLUMN outcome text CONSTRAINT alert_outcome_known
    CHECK (outcome IN ('reached', 'no_answer', 'won_back', 'declined', 'wrong_contact_data', 'do_not_contact', 'other')),
  ADD COLUMN escalated_at timestamptz,
  ADD COLUMN escalated_to bigint CONSTRAINT alert_escalated_to_fkey REFERENCES cartera.agent (agent_id) ON DELETE SET NULL,
  DROP CONSTRAINT alert_status,
  ADD CONSTRAINT alert_status
    CHECK (status IN ('open', 'acknowledged', 'snoozed', 'done', 'dismissed', 'moot', 'held_out')),
  ADD CONSTRAINT alert_outcome_when_done CHECK (outcome IS NULL OR status = 'done');
CREATE INDEX alert_queue_idx ON cartera.alert (agent_id, queue_rank) WHERE status IN ('open', 'acknowledged');
COMMENT ON COLUMN cartera.alert.status IS
  'open, acknowledged (in progress), snoozed (until snoozed_until), done (with an outcome), dismissed, moot (closed by the daily job: no longer applies), held_out (holdout group: never queued nor notified)';
COMMENT ON COLUMN cartera.alert.queue IS
  'while open: queued (in the agent''s work for the day, up to capacity) or backlog (waits; re-ranked every day); NULL until the daily job ranks it (a complaint is queued at once) and once it is closed, snoozed or handed over';
COMMENT ON COLUMN cartera.alert.queued_on IS 'the day the alert entered the agent''s queue (NULL while in the backlog): queued work not done by the next day is what escalates';
COMMENT ON COLUMN cartera.alert.queue_rank IS 'position in the agent''s list at the last ranking (1 = first): in progress, colour, value at stake, due date';
COMMENT ON COLUMN cartera.alert.value_at_stake IS
  'what the alert is worth at the last ranking: predicted 12-month CLV x (1 - P(alive)), or the formula CLV before a model is fitted; 0 for agent alerts';
COMMENT ON COLUMN cartera.alert.outcome IS
  'what came of the contact (status done): reached, no_answer, won_back, declined, wrong_contact_data, do_not_contact, other';
COMMENT ON COLUMN cartera.alert.escalated_at IS 'when the daily job escalated the alert (red and past its due date)';
COMMENT ON COLUMN cartera.alert.escalated_to IS 'the manager it was escalated to (the agent''s manager_id; NULL = any manager)';

-- Every change of an alert: who, when, what.  Written by the triggers of
-- cartera.alert only (nobody else may write it); row-level security shows an
-- event to whoever sees its alert.
CREATE TABLE cartera.alert_event (
  event_id    bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  alert_id    bigint NOT NULL REFERENCES cartera.alert (alert_id) ON DELETE CASCADE,
  customer_id bigint,
  happened_at timestamptz NOT NULL,
  actor       name NOT NULL,
  event       text NOT NULL CONSTRAINT alert_event_known CHECK (event IN (
                'raised', 'held_out', 'queued', 'backlogged', 'started', 'snoozed', 'reopened', 'handed_over',
                'recoloured', 'escalated', 'done', 'dismissed', 'moot')),
  from_value  text,
  to_value    text,
  note        text
);
CREATE INDEX alert_event_alert_idx ON cartera.alert_event (alert_id, happened_at);
COMMENT ON TABLE cartera.alert_event IS
  'the history of every alert: raised or held out, queued/backlogged, started, snoozed, reopened, handed over, recoloured, escalated, done, dismissed, moot; written by cartera only';
COMMENT ON COLUMN cartera.alert_event.event_id IS 'identity (sequence cartera.alert_event_event_id_seq): the order of the events';
COMMENT ON COLUMN cartera.alert_event.alert_id IS 'the alert that changed (its history goes with it)';
COMMENT ON COLUMN cartera.alert_event.customer_id IS 'the alert''s customer (NULL for an agent''s own alert), kept with each event so that the history lives with the customer''s other rows (a shard, a distribution column); merge_customers() moves it';
COMMENT ON COLUMN cartera.alert_event.happened_at IS 'when: the alert''s raised_at for raised/held_out, the clock time of the change otherwise';
COMMENT ON COLUMN cartera.alert_event.actor IS 'the role that made the change (the session''s role, also inside cartera''s own functions)';
COMMENT ON COLUMN cartera.alert_event.event IS 'what changed';
COMMENT ON COLUMN cartera.alert_event.from_value IS 'the value before (status, agent id, colour, queue)';
COMMENT ON COLUMN cartera.alert_event.to_value IS 'the value after (for done: the outcome; for escalated: the manager''s agent id)';
COMMENT ON COLUMN cartera.alert_event.note IS 'the note given with the change (the alert''s resolution)';
SELECT pg_catalog.pg_extension_config_dump('cartera.alert_event', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('cartera.alert_event', 'event_id'), '');
COMMENT ON SEQUENCE cartera.alert_event_event_id_seq IS 'identity of cartera.alert_event';

-- The role acting: SET ROLE's role, else the session user.  Inside a
-- SECURITY DEFINER function current_user is the owner; the role setting is
-- still the caller's.
CREATE FUNCTION cartera.acting_role() RETURNS name
  LANGUAGE sql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
  SELECT CASE WHEN pg_catalog.current_setting('role') = 'none' THEN session_user
              ELSE pg_catalog.current_setting('role')::name END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.acting_role() FROM PUBLIC;
COMMENT ON FUNCTION cartera.acting_role() IS
  'the role acting in this session (SET ROLE''s, else the session user), also inside SECURITY DEFINER functions: the actor of cartera.alert_event';

CREATE FUNCTION cartera.alert_rows_added() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  INSERT INTO cartera.alert_event (alert_id, customer_id, happened_at, actor, event, to_value)
  SELECT n.alert_id, n.customer_id, n.raised_at, cartera.acting_role(),
         CASE WHEN n.status = 'held_out' THEN 'held_out' ELSE 'raised' END, n.status
    FROM new_rows n
   ORDER BY n.alert_id;
  RETURN NULL;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.alert_rows_added() FROM PUBLIC;
COMMENT ON FUNCTION cartera.alert_rows_added() IS 'statement trigger of cartera.alert: logs each new alert (raised or held out)';

CREATE FUNCTION cartera.alert_rows_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  -- planned on every run (EXECUTE): a plan kept for the session was made
  -- for the size of the first statement's transition tables, and after a
  -- one-row update it joined old_rows and new_rows by nested loop, which
  -- made the daily job's ranking update quadratic in the alerts it touched
  EXECUTE $q$
  INSERT INTO cartera.alert_event (alert_id, customer_id, happened_at, actor, event, from_value, to_value, note)
  SELECT n.alert_id, n.customer_id, clock_timestamp(), cartera.acting_role(), e.event, e.from_value, e.to_value, e.note
    FROM old_rows o JOIN new_rows n ON n.alert_id = o.alert_id
   CROSS JOIN LATERAL (VALUES
     (1, CASE WHEN n.status IS DISTINCT FROM o.status THEN
           CASE n.status WHEN 'acknowledged' THEN 'started' WHEN 'open' THEN 'reopened' ELSE n.status END END,
      o.status, CASE WHEN n.status = 'done' THEN coalesce(n.outcome, 'done')
                     WHEN n.status = 'snoozed' THEN n.snoozed_until::text ELSE n.status END,
      CASE WHEN n.resolution IS DISTINCT FROM o.resolution THEN n.resolution END),
     (2, CASE WHEN n.agent_id IS DISTINCT FROM o.agent_id THEN 'handed_over' END,
      o.agent_id::text, n.agent_id::text,
      CASE WHEN n.status IS NOT DISTINCT FROM o.status AND n.resolution IS DISTINCT FROM o.resolution THEN n.resolution END),
     (3, CASE WHEN n.colour IS DISTINCT FROM o.colour THEN 'recoloured' END, o.colour, n.colour, NULL),
     (4, CASE WHEN n.escalated_at IS NOT NULL AND o.escalated_at IS NULL THEN 'escalated' END,
      NULL, n.escalated_to::text, NULL),
     (5, CASE WHEN n.queue IS DISTINCT FROM o.queue AND n.queue IS NOT NULL THEN
           CASE n.queue WHEN 'queued' THEN 'queued' ELSE 'backlogged' END END,
      o.queue, n.queue, NULL)) e(nth, event, from_value, to_value, note)
   WHERE e.event IS NOT NULL
   ORDER BY n.alert_id, e.nth$q$;
  RETURN NULL;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.alert_rows_changed() FROM PUBLIC;
COMMENT ON FUNCTION cartera.alert_rows_changed() IS
  'statement trigger of cartera.alert: logs each change of status, agent, colour, escalation and queue, with who made it';
CREATE TRIGGER alert_logged AFTER INSERT ON cartera.alert
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cartera.alert_rows_added();
CREATE TRIGGER alert_changes_logged AFTER UPDATE ON cartera.alert
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cartera.alert_rows_changed();

-- What only cartera itself may do to an alert's status: move one into or
-- out of the holdout group (the comparison of the groups is the point),
-- close one as moot (the daily job's judgement) or reopen a closed one.
-- The maintenance functions run as the tables' owner; agents and managers
-- writing cartera.alert directly are refused.
CREATE FUNCTION cartera.alert_status_guard() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  IF pg_catalog.pg_has_role(current_user, (SELECT c.relowner FROM pg_catalog.pg_class c
                                           WHERE c.oid = 'cartera.alert'::pg_catalog.regclass), 'USAGE') THEN
    RETURN NEW;
  END IF;
  IF OLD.status = 'held_out' OR NEW.status = 'held_out' THEN
    RAISE EXCEPTION 'alert % cannot move into or out of the holdout group', OLD.alert_id
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = 'Held-out alerts measure what happens without a contact; only the holdout draw assigns them.';
  END IF;
  IF NEW.status = 'moot' THEN
    RAISE EXCEPTION 'only the daily job closes an alert as moot' USING ERRCODE = 'object_not_in_prerequisite_state',
      HINT = 'Dismiss it with a reason: cartera.dismiss_alert(id, reason).';
  END IF;
  RAISE EXCEPTION 'alert % is already %', OLD.alert_id, OLD.status
    USING ERRCODE = 'object_not_in_prerequisite_state',
          HINT = 'Closed alerts stay closed; a new situation raises a new alert.';
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.alert_status_guard() FROM PUBLIC;
COMMENT ON FUNCTION cartera.alert_status_guard() IS
  'row trigger of cartera.alert: only cartera''s own functions move an alert into or out of the holdout group, close it as moot or reopen a closed one';
CREATE TRIGGER alert_status_guarded BEFORE UPDATE OF status ON cartera.alert
  FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status
        AND (OLD.status IN ('done', 'dismissed', 'moot', 'held_out') OR NEW.status IN ('moot', 'held_out')))
  EXECUTE FUNCTION cartera.alert_status_guard();

-- An alert that leaves the to-do list (closed, snoozed) or changes hands
-- leaves its place in the queue: queue, rank and queued_on are only ever
-- those of an alert still to do, with the agent it was ranked for (the next
-- ranking places a handed-over or reopened one).
CREATE FUNCTION cartera.alert_left_queue() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  NEW.queue := NULL;
  NEW.queue_rank := NULL;
  NEW.queued_on := NULL;
  RETURN NEW;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.alert_left_queue() FROM PUBLIC;
COMMENT ON FUNCTION cartera.alert_left_queue() IS
  'row trigger of cartera.alert: an alert closed, snoozed or handed over leaves its place in the queue (queue, queue_rank, queued_on)';
CREATE TRIGGER alert_left_queue BEFORE UPDATE OF status, agent_id ON cartera.alert
  FOR EACH ROW
  WHEN (OLD.queue IS NOT NULL
        AND (NEW.status NOT IN ('open', 'acknowledged') OR OLD.agent_id IS DISTINCT FROM NEW.agent_id))
  EXECUTE FUNCTION cartera.alert_left_queue();

-- Holdout assignment: a number in [0, 1) from the customer, the kind and
-- the start of the period, the same on every server and every run (md5 is
-- portable; hashtext() is not across architectures).  Held out when it is
-- below the kind's holdout_share.  The period is written out as YYYY-MM-DD
-- from its fields, not cast to text: a date's text follows the session's
-- DateStyle, and a draw must not change with the client's date format.
CREATE FUNCTION cartera.holdout_draw(customer_id bigint, kind text, period date) RETURNS double precision
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
  SELECT ('x' || substr(md5(customer_id::text || '/' || kind || '/'
                            || lpad(extract(year FROM period)::integer::text, 4, '0') || '-'
                            || lpad(extract(month FROM period)::integer::text, 2, '0') || '-'
                            || lpad(extract(day FROM period)::integer::text, 2, '0')), 1, 13))::bit(52)::bigint
         / 4503599627370496.0::double precision
$fn$;
COMMENT ON FUNCTION cartera.holdout_draw(bigint, text, date) IS
  'the holdout draw of a customer for an alert kind in the period starting on period: uniform in [0, 1), reproducible (md5 of customer/kind/YYYY-MM-DD, whatever the session''s DateStyle); held out when below alert_kind.holdout_share';

-- Newcombe's hybrid score interval for the difference of two proportions
-- (Newcombe 1998, method 10): Wilson intervals of each proportion combined.
-- Unlike the Wald interval it keeps its coverage at 0 %, 100 % and small n.
CREATE FUNCTION cartera.proportion_difference(x1 bigint, n1 bigint, x2 bigint, n2 bigint,
                                              confidence double precision DEFAULT 0.95,
                                              OUT difference double precision, OUT low double precision,
                                              OUT high double precision)
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  z double precision;
  p1 double precision;
  p2 double precision;
  l1 double precision; u1 double precision;
  l2 double precision; u2 double precision;
BEGIN
  IF x1 IS NULL OR n1 IS NULL OR x2 IS NULL OR n2 IS NULL OR n1 = 0 OR n2 = 0 THEN
    RETURN;                     -- an empty group: no estimate
  END IF;
  IF x1 < 0 OR x2 < 0 OR x1 > n1 OR x2 > n2 THEN
    RAISE EXCEPTION 'successes must be between 0 and the group size'
      USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s of %s and %s of %s.', x1, n1, x2, n2);
  END IF;
  IF confidence IS NULL OR NOT (confidence > 0 AND confidence < 1) THEN
    RAISE EXCEPTION 'confidence must be between 0 and 1, not %', coalesce(confidence::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  z := cartera.normal_quantile(1 - (1 - confidence) / 2);
  p1 := x1::double precision / n1;
  p2 := x2::double precision / n2;
  l1 := (2 * n1 * p1 + z * z - z * sqrt(z * z + 4 * n1 * p1 * (1 - p1))) / (2 * (n1 + z * z));
  u1 := (2 * n1 * p1 + z * z + z * sqrt(z * z + 4 * n1 * p1 * (1 - p1))) / (2 * (n1 + z * z));
  l2 := (2 * n2 * p2 + z * z - z * sqrt(z * z + 4 * n2 * p2 * (1 - p2))) / (2 * (n2 + z * z));
  u2 := (2 * n2 * p2 + z * z + z * sqrt(z * z + 4 * n2 * p2 * (1 - p2))) / (2 * (n2 + z * z));
  difference := p1 - p2;
  low := difference - sqrt((p1 - l1) ^ 2 + (u2 - p2) ^ 2);
  high := difference + sqrt((u1 - p1) ^ 2 + (p2 - l2) ^ 2);
END
$fn$;
COMMENT ON FUNCTION cartera.proportion_difference(bigint, bigint, bigint, bigint, double precision) IS
  'x1/n1 - x2/n2 with Newcombe''s hybrid score (Wilson) confidence interval (default 95 %); NULL when a group is empty';

-- The standard normal quantile (Acklam's algorithm, relative error < 1.2e-9).
CREATE FUNCTION cartera.normal_quantile(p double precision) RETURNS double precision
  LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  a double precision[] := ARRAY[-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                                1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
  b double precision[] := ARRAY[-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                6.680131188771972e+01, -1.328068155288572e+01];
  c double precision[] := ARRAY[-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
  d double precision[] := ARRAY[7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                3.754408661907416e+00];
  q double precision;
  r double precision;
  x double precision;
BEGIN
  IF NOT (p > 0 AND p < 1) THEN
    RAISE EXCEPTION 'probability must be between 0 and 1, not %', p USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p < 0.02425 THEN
    q := sqrt(-2 * ln(p));
    x := (((((c[1] * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) * q + c[6])
         / ((((d[1] * q + d[2]) * q + d[3]) * q + d[4]) * q + 1);
  ELSIF p <= 1 - 0.02425 THEN
    q := p - 0.5;
    r := q * q;
    x := (((((a[1] * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * r + a[6]) * q
         / (((((b[1] * r + b[2]) * r + b[3]) * r + b[4]) * r + b[5]) * r + 1);
  ELSE
    q := sqrt(-2 * ln(1 - p));
    x := -(((((c[1] * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) * q + c[6])
          / ((((d[1] * q + d[2]) * q + d[3]) * q + d[4]) * q + 1);
  END IF;
  RETURN x;
END
$fn$;
COMMENT ON FUNCTION cartera.normal_quantile(double precision) IS
  'the standard normal quantile of p (0 < p < 1), Acklam''s approximation (relative error below 1.2e-9)';

-- The day's plan, the last step of the daily job (run_followups); whoever
-- runs the job may run it again after changing capacities.  In order:
--  1. moot: open alerts nobody has started on whose reason is gone (the
--     customer is no longer dormant for a reactivation, the birthday has
--     passed, a welcome is a month late, the month of a goal is over...)
--     close with that reason;
--  2. escalation, of work that was in an agent's queue before this day
--     (queued_on < as_of) and is not done: amber overdue by
--     cartera.escalate_amber_after turns red; red past its due date (an
--     amber turned red: escalate_amber_after later again) goes to the
--     agent's manager (escalated_to).  The backlog is not escalated: it is
--     a capacity problem, which plan_day's and agent_portfolio's backlog
--     counts show the manager, not a fault of the agent;
--  3. ranking: each agent's alerts still to do, in progress first, then by
--     colour, value at stake (predicted 12-month CLV x (1 - P(alive)), the
--     formula CLV before a model is fitted), due date, then customer and
--     kind (cartera.queue_place: no ids, so a coordinator ranking every
--     shard's alerts agrees with one server); the first daily_capacity are
--     queued, the rest is backlog.  Unassigned alerts and those of inactive
--     agents are backlog.
-- plan_day is plan_close_and_escalate (1-2), then plan_queue (3) over
-- plan_candidates; shard_followups runs the same parts on every shard and
-- ranks on the coordinator.
-- Rows an agent is changing right now are skipped (SKIP LOCKED): the job
-- never waits for an agent, and the next run catches them up.
-- Every step joins what it decided back to the rows it locked; the alerts
-- were often just raised in the same transaction, so the statistics say
-- "a few" and a nested loop made those joins quadratic (14,386 alerts: 40 s
-- instead of 1).  Hash joins, whatever the estimates (enable_nestloop off).
-- Where an alert stands in its agent's queue, as one value that sorts: in
-- progress (acknowledged) first, then by colour, value at stake (largest
-- first), due date, customer and kind.  Open alerts of one agent never tie
-- (one open alert per customer and kind, one per agent and kind without a
-- customer), and nothing in it is an id: one server and a coordinator
-- ranking every shard's alerts put them in the same order.
CREATE TYPE cartera.queue_place AS (
  waiting boolean,
  colour_order integer,
  minus_at_stake double precision,
  due_on date,
  customer_id bigint,
  kind text
);
COMMENT ON COLUMN cartera.queue_place.waiting IS 'false when acknowledged (in progress): those come first';
COMMENT ON COLUMN cartera.queue_place.colour_order IS 'red 1, amber 2, green 3, blue 4';
COMMENT ON COLUMN cartera.queue_place.minus_at_stake IS 'minus the value at stake: the largest first';
COMMENT ON COLUMN cartera.queue_place.due_on IS 'the due date: the earliest first';
COMMENT ON COLUMN cartera.queue_place.customer_id IS 'the customer; NULL (an agent''s own alert) sorts last';
COMMENT ON COLUMN cartera.queue_place.kind IS 'the alert kind';
COMMENT ON TYPE cartera.queue_place IS
  'an open alert''s place in its agent''s queue, compared as a row: acknowledged first, then colour (red, amber, green, blue), value at stake (largest first), due date, customer, kind; no ids, so one server and a sharded coordinator rank alike';

CREATE FUNCTION cartera.plan_day(as_of date DEFAULT current_date)
  RETURNS TABLE (agent_id bigint, capacity integer, queued bigint, backlog bigint,
                 escalated bigint, turned_red bigint, moot bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  settings boolean := cartera.use_portfolio_settings();   -- first: the others read them
  steps record;
BEGIN
  SELECT * INTO steps FROM cartera.plan_close_and_escalate(as_of);
  RETURN QUERY SELECT * FROM cartera.plan_queue(as_of, NULL, steps.moot, steps.turned_red, steps.escalated);
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.plan_day(date) FROM PUBLIC;
COMMENT ON FUNCTION cartera.plan_day(date) IS
  'plan a day (the last step of run_followups; may be re-run): close moot alerts, turn long-overdue queued amber red, escalate overdue queued red to the manager, rank each agent''s alerts by colour and value at stake and queue up to the agent''s capacity, the rest as backlog; returns per agent (NULL = unassigned) capacity, queued, backlog, escalated, turned red, moot';

-- Steps 1 and 2 of plan_day: moot alerts closed, queued work escalated;
-- returns the agent of every alert closed, turned red and escalated.
CREATE FUNCTION cartera.plan_close_and_escalate(as_of date, OUT moot bigint[], OUT turned_red bigint[], OUT escalated bigint[])
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
  SET enable_nestloop = off
AS $fn$
#variable_conflict use_column
DECLARE
  settings boolean := cartera.use_portfolio_settings();   -- first: the others read them
  amber_after interval := current_setting('cartera.escalate_amber_after')::interval;
  as_ts timestamptz;
BEGIN
  PERFORM cartera.refuse_while_restoring('plan_day()');
  IF as_of IS NULL OR NOT isfinite(as_of) THEN
    RAISE EXCEPTION 'as_of must be a finite date, not %', coalesce(as_of::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Omit the argument to plan today (current_date).';
  END IF;
  IF as_of > current_date + 1 THEN
    RAISE EXCEPTION 'as_of % is in the future', as_of
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('Today is %s (TimeZone %s).', current_date, current_setting('TimeZone')),
            HINT = 'Omit the argument to plan today (current_date).';
  END IF;
  as_ts := least((as_of + 1)::timestamptz, clock_timestamp());

  -- 1. moot
  WITH reason AS (
    SELECT a.alert_id,
           CASE WHEN cu.forgotten_at IS NOT NULL THEN 'the customer''s data was erased'
                WHEN a.kind = 'reactivation' AND s.status IS DISTINCT FROM 'dormant'
                  THEN format('the customer is %s now', s.status)
                WHEN a.kind = 'exit_survey' AND cu.lost_reason IS NOT NULL THEN 'the reason for leaving is known'
                WHEN a.kind = 'exit_survey' AND s.status IS DISTINCT FROM 'lost'
                  THEN format('the customer is %s now', s.status)
                WHEN a.kind IN ('cant_lose', 'champion_at_risk') AND s.status IN ('new', 'active', 'reactivated', 'lost')
                  THEN format('the customer is %s now', s.status)
                WHEN a.kind = 'idle_lead' AND s.status IS DISTINCT FROM 'lead'
                  THEN format('the customer is %s now', s.status)
                WHEN a.kind IN ('birthday', 'occasion') AND a.due_on < as_of THEN 'the date has passed'
                WHEN a.kind = 'cross_sell' AND a.due_on < as_of - 30 THEN 'the offer is more than 30 days old'
                WHEN a.kind IN ('welcome', 'welcome_back') AND a.due_on < as_of - 30
                  THEN 'more than 30 days late for a welcome'
                WHEN a.kind = 'below_target' AND a.due_on < date_trunc('month', as_of)::date
                  THEN 'the month of the goal is over'
           END AS why
      FROM cartera.alert a
      LEFT JOIN cartera.customer cu ON cu.customer_id = a.customer_id
      LEFT JOIN cartera.customer_state s ON s.customer_id = a.customer_id
     WHERE a.status = 'open'),
  locked AS (
    SELECT a.alert_id FROM cartera.alert a
     WHERE a.alert_id IN (SELECT r.alert_id FROM reason r WHERE r.why IS NOT NULL)
       FOR UPDATE SKIP LOCKED),
  closed AS (
    UPDATE cartera.alert a SET status = 'moot', closed_at = as_ts, resolution = r.why
      FROM reason r JOIN locked l ON l.alert_id = r.alert_id
     WHERE a.alert_id = r.alert_id AND a.status = 'open'
    RETURNING a.agent_id)
  SELECT array_agg(c.agent_id) INTO moot FROM closed c;

  -- 2. escalation of queued work: amber long overdue turns red, then red
  -- past due goes up
  WITH locked AS (
    SELECT a.alert_id FROM cartera.alert a
     WHERE a.status IN ('open', 'acknowledged') AND a.queue = 'queued' AND a.queued_on < as_of
       AND a.colour = 'amber' AND a.due_on + amber_after < as_of
       FOR UPDATE SKIP LOCKED),
  changed AS (
    UPDATE cartera.alert a SET colour = 'red' FROM locked l WHERE a.alert_id = l.alert_id
    RETURNING a.agent_id)
  SELECT array_agg(c.agent_id) INTO turned_red FROM changed c;
  WITH locked AS (
    SELECT a.alert_id FROM cartera.alert a JOIN cartera.alert_kind k ON k.kind = a.kind
     WHERE a.status IN ('open', 'acknowledged') AND a.queue = 'queued' AND a.queued_on < as_of
       AND a.colour = 'red' AND a.escalated_at IS NULL
       AND a.due_on + CASE WHEN k.colour = 'red' THEN interval '0' ELSE 2 * amber_after END < as_of
       FOR UPDATE OF a SKIP LOCKED),
  changed AS (
    UPDATE cartera.alert a
       SET escalated_at = as_ts,
           escalated_to = (SELECT g.manager_id FROM cartera.agent g WHERE g.agent_id = a.agent_id)
      FROM locked l WHERE a.alert_id = l.alert_id
    RETURNING a.agent_id)
  SELECT array_agg(c.agent_id) INTO escalated FROM changed c;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.plan_close_and_escalate(date) FROM PUBLIC;
COMMENT ON FUNCTION cartera.plan_close_and_escalate(date) IS
  'part of plan_day (and of shard_followups on every shard): closes moot alerts, turns long-overdue queued amber red, escalates overdue queued red to the manager; returns the agents of the alerts mooted, turned red and escalated';

-- The alerts step 3 ranks: every open or acknowledged alert with its agent,
-- its place and value at stake, and the agent's capacity today.
CREATE FUNCTION cartera.plan_candidates()
  RETURNS TABLE (alert_id bigint, agent_id bigint, place cartera.queue_place, value numeric, capacity integer)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  settings boolean := cartera.use_portfolio_settings();   -- first: the others read them
  default_capacity integer := current_setting('cartera.daily_capacity')::integer;
BEGIN
  RETURN QUERY
  SELECT a.alert_id, a.agent_id,
         ROW(a.status <> 'acknowledged', array_position(ARRAY['red', 'amber', 'green', 'blue'], a.colour),
             -v.at_stake, a.due_on, a.customer_id, a.kind)::cartera.queue_place,
         round(v.at_stake::numeric, 2),
         CASE WHEN g.active THEN coalesce(g.daily_capacity, default_capacity) ELSE 0 END
    FROM cartera.alert a
    LEFT JOIN cartera.customer_state s ON s.customer_id = a.customer_id
    LEFT JOIN cartera.agent g ON g.agent_id = a.agent_id
   CROSS JOIN LATERAL (SELECT CASE WHEN a.customer_id IS NULL THEN 0
                                   ELSE coalesce(s.clv_predicted_12m * (1 - s.p_alive), s.clv, 0) END AS at_stake) v
   WHERE a.status IN ('open', 'acknowledged');
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.plan_candidates() FROM PUBLIC;
COMMENT ON FUNCTION cartera.plan_candidates() IS
  'part of plan_day (and of shard_followups on every shard): every open or acknowledged alert with its agent, its place in the queue (cartera.queue_place), its value at stake and the agent''s capacity today';

-- Step 3 of plan_day: each alert's rank in its agent's queue (ranks: alert
-- id -> rank, given by a coordinator that ranked every shard's alerts;
-- NULL: ranked here), the first `capacity` queued, the rest backlog; only
-- rows whose place changed are written.  Returns the day's figures per agent
-- with the agents of steps 1-2 counted.
CREATE FUNCTION cartera.plan_queue(as_of date, ranks jsonb, mooted bigint[], reddened bigint[], raised_up bigint[])
  RETURNS TABLE (agent_id bigint, capacity integer, queued bigint, backlog bigint,
                 escalated bigint, turned_red bigint, moot bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
  SET enable_nestloop = off
AS $fn$
#variable_conflict use_column
DECLARE
  settings boolean := cartera.use_portfolio_settings();   -- first: the others read them
  default_capacity integer := current_setting('cartera.daily_capacity')::integer;
BEGIN
  WITH candidate AS (
    SELECT c.* FROM cartera.plan_candidates() c),
  ranked AS (
    SELECT c.alert_id, c.value, c.capacity,
           row_number() OVER (PARTITION BY c.agent_id ORDER BY c.place) AS rnk
      FROM candidate c WHERE ranks IS NULL
    UNION ALL
    SELECT c.alert_id, c.value, c.capacity, r.value::bigint
      FROM candidate c JOIN jsonb_each_text(ranks) r ON r.key::bigint = c.alert_id
     WHERE ranks IS NOT NULL),
  placed AS (
    SELECT r.*, CASE WHEN r.rnk <= r.capacity THEN 'queued' ELSE 'backlog' END AS new_queue
      FROM ranked r),
  decided AS (  -- only the alerts whose place changes are written
    SELECT p.* FROM placed p JOIN cartera.alert a ON a.alert_id = p.alert_id
     WHERE (p.new_queue, p.rnk, p.value) IS DISTINCT FROM (a.queue, a.queue_rank, a.value_at_stake)),
  locked AS (
    SELECT a.alert_id FROM cartera.alert a
     WHERE a.alert_id IN (SELECT d.alert_id FROM decided d)
       FOR UPDATE SKIP LOCKED)
  UPDATE cartera.alert a
     SET queue = d.new_queue, queue_rank = d.rnk, value_at_stake = d.value,
         queued_on = CASE WHEN d.new_queue <> 'queued' THEN NULL
                          WHEN a.queue = 'queued' THEN coalesce(a.queued_on, as_of) ELSE as_of END
    FROM decided d JOIN locked l ON l.alert_id = d.alert_id
   WHERE a.alert_id = d.alert_id AND a.status IN ('open', 'acknowledged');

  RETURN QUERY
  WITH per_agent AS (
    SELECT a.agent_id, count(*) FILTER (WHERE a.queue = 'queued') AS queued,
           count(*) FILTER (WHERE a.queue IS DISTINCT FROM 'queued') AS backlog
      FROM cartera.alert a WHERE a.status IN ('open', 'acknowledged')
     GROUP BY a.agent_id),
  counted AS (
    SELECT x.agent_id, count(*) FILTER (WHERE x.what = 1) AS n_moot,
           count(*) FILTER (WHERE x.what = 2) AS n_turned_red, count(*) FILTER (WHERE x.what = 3) AS n_escalated
      FROM (SELECT unnest(mooted) AS agent_id, 1 AS what
            UNION ALL SELECT unnest(reddened), 2
            UNION ALL SELECT unnest(raised_up), 3) x
     GROUP BY x.agent_id),
  agents AS (
    SELECT g.agent_id FROM cartera.agent g
    UNION SELECT p.agent_id FROM per_agent p
    UNION SELECT c.agent_id FROM counted c)
  SELECT ag.agent_id,
         CASE WHEN g.active THEN coalesce(g.daily_capacity, default_capacity) ELSE 0 END,
         coalesce(p.queued, 0), coalesce(p.backlog, 0),
         coalesce(c.n_escalated, 0), coalesce(c.n_turned_red, 0), coalesce(c.n_moot, 0)
    FROM agents ag
    LEFT JOIN cartera.agent g ON g.agent_id = ag.agent_id
    LEFT JOIN per_agent p ON p.agent_id IS NOT DISTINCT FROM ag.agent_id
    LEFT JOIN counted c ON c.agent_id IS NOT DISTINCT FROM ag.agent_id
   ORDER BY ag.agent_id NULLS LAST;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.plan_queue(date, jsonb, bigint[], bigint[], bigint[]) FROM PUBLIC;
COMMENT ON FUNCTION cartera.plan_queue(date, jsonb, bigint[], bigint[], bigint[]) IS
  'part of plan_day (and of shard_followups on every shard): ranks each agent''s open alerts by their queue_place (or takes the ranks a coordinator computed over every shard: alert id -> rank), queues up to the agent''s capacity, the rest as backlog; returns the day''s figures per agent, counting the agents plan_close_and_escalate returned';

------------------------------------------------------------------------------
-- Outcomes and uplift.  An alert's outcome is what the customer did within
-- its kind's response window after it was raised: sales in cartera.purchase
-- (the purchases of tracked tables are not itemised there), their revenue,
-- and the last status change.  Held-out alerts are measured the same way,
-- so the two groups compare.  Views run as the caller: an agent sees the
-- outcomes of the alerts (and purchases) row-level security shows them.
------------------------------------------------------------------------------
CREATE VIEW cartera.alert_outcome WITH (security_invoker = true) AS
SELECT a.alert_id,
       a.kind,
       a.agent_id,
       a.customer_id,
       a.raised_at,
       date_trunc('month', a.raised_at)::date AS month,
       CASE WHEN a.status = 'held_out' THEN 'held_out' ELSE 'alerted' END AS arm,
       a.status,
       a.outcome,
       f.first_action_at,
       a.raised_at + k.response_window AS window_ends,
       a.raised_at + k.response_window <= now() AS window_closed,
       coalesce(p.sales, 0) AS sales,
       coalesce(p.revenue, 0) AS revenue,
       p.first_sale_at,
       coalesce(p.sales, 0) > 0 AS converted,
       t.to_status AS status_after
  FROM cartera.alert a
  JOIN cartera.alert_kind k ON k.kind = a.kind
  LEFT JOIN LATERAL (
    SELECT min(e.happened_at) AS first_action_at FROM cartera.alert_event e
     WHERE e.alert_id = a.alert_id AND e.event IN ('started', 'snoozed', 'handed_over', 'done', 'dismissed')) f ON true
  LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE x.kind = 'sale') AS sales, sum(x.amount) AS revenue,
           min(x.purchased_at) FILTER (WHERE x.kind = 'sale') AS first_sale_at
      FROM cartera.purchase x
     WHERE x.customer_id = a.customer_id AND x.purchased_at > a.raised_at
       AND x.purchased_at <= a.raised_at + k.response_window) p ON true
  LEFT JOIN LATERAL (
    SELECT st.to_status FROM cartera.status_transition st
     WHERE st.customer_id = a.customer_id AND st.changed_at > a.raised_at
       AND st.changed_at <= a.raised_at + k.response_window AND st.to_status IS DISTINCT FROM st.from_status
     ORDER BY st.changed_at DESC, st.transition_id DESC LIMIT 1) t ON true
 WHERE a.customer_id IS NOT NULL;
COMMENT ON VIEW cartera.alert_outcome IS
  'one row per alert about a customer, alerted or held out: what the customer did within the kind''s response window (sales and revenue in cartera.purchase, the last status change) and when an agent first acted';
COMMENT ON COLUMN cartera.alert_outcome.alert_id IS 'the alert';
COMMENT ON COLUMN cartera.alert_outcome.kind IS 'alert kind';
COMMENT ON COLUMN cartera.alert_outcome.agent_id IS 'agent the alert is with';
COMMENT ON COLUMN cartera.alert_outcome.customer_id IS 'the customer';
COMMENT ON COLUMN cartera.alert_outcome.raised_at IS 'when the alert was raised (or held out)';
COMMENT ON COLUMN cartera.alert_outcome.month IS 'first day of the month it was raised in';
COMMENT ON COLUMN cartera.alert_outcome.arm IS 'alerted, or held_out (the holdout group: not contacted)';
COMMENT ON COLUMN cartera.alert_outcome.status IS 'the alert''s status now';
COMMENT ON COLUMN cartera.alert_outcome.outcome IS 'the outcome the agent recorded (done alerts)';
COMMENT ON COLUMN cartera.alert_outcome.first_action_at IS 'when an agent first acted on it (started, snoozed, handed over, done, dismissed)';
COMMENT ON COLUMN cartera.alert_outcome.window_ends IS 'raised_at + the kind''s response_window';
COMMENT ON COLUMN cartera.alert_outcome.window_closed IS 'the response window is over (outcomes of open windows can still change)';
COMMENT ON COLUMN cartera.alert_outcome.sales IS 'sales of the customer within the response window';
COMMENT ON COLUMN cartera.alert_outcome.revenue IS 'net amount (sales less refunds) within the response window';
COMMENT ON COLUMN cartera.alert_outcome.first_sale_at IS 'first sale within the response window';
COMMENT ON COLUMN cartera.alert_outcome.converted IS 'the customer bought within the response window';
COMMENT ON COLUMN cartera.alert_outcome.status_after IS 'the customer''s life-cycle status after the last change within the window (NULL: no change)';

-- What the team did with its alerts, per kind, agent and month.
CREATE VIEW cartera.followup_performance WITH (security_invoker = true) AS
SELECT o.kind,
       o.agent_id,
       o.month,
       count(*) AS raised,
       count(o.first_action_at) AS worked,
       count(*) FILTER (WHERE o.status = 'done') AS done,
       count(*) FILTER (WHERE o.outcome = 'won_back') AS won_back_reported,
       count(*) FILTER (WHERE o.status = 'moot') AS moot,
       count(*) FILTER (WHERE o.converted) AS converted,
       round(avg(o.converted::int), 4) AS conversion_rate,
       sum(o.revenue) AS revenue_after,
       make_interval(secs => percentile_cont(0.5) WITHIN GROUP (
                              ORDER BY extract(epoch FROM o.first_action_at - o.raised_at))) AS median_time_to_action,
       -- the same as a number, for BI tools (JDBC has no interval type)
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM o.first_action_at - o.raised_at)) AS median_time_to_action_seconds
  FROM cartera.alert_outcome o
 WHERE o.arm = 'alerted'
 GROUP BY o.kind, o.agent_id, o.month;
COMMENT ON VIEW cartera.followup_performance IS
  'per alert kind, agent and month (alerted customers only): alerts raised, worked, done, moot, converted (a purchase within the response window), revenue after the alert, median time to the first action';
COMMENT ON COLUMN cartera.followup_performance.kind IS 'alert kind';
COMMENT ON COLUMN cartera.followup_performance.agent_id IS 'agent the alerts are with (NULL: unassigned)';
COMMENT ON COLUMN cartera.followup_performance.month IS 'first day of the month the alerts were raised in';
COMMENT ON COLUMN cartera.followup_performance.raised IS 'alerts raised (not held out)';
COMMENT ON COLUMN cartera.followup_performance.worked IS 'alerts an agent acted on';
COMMENT ON COLUMN cartera.followup_performance.done IS 'alerts done';
COMMENT ON COLUMN cartera.followup_performance.won_back_reported IS 'alerts done with outcome won_back';
COMMENT ON COLUMN cartera.followup_performance.moot IS 'alerts closed as moot before anyone worked them';
COMMENT ON COLUMN cartera.followup_performance.converted IS 'alerts followed by a purchase within the response window';
COMMENT ON COLUMN cartera.followup_performance.conversion_rate IS 'converted / raised';
COMMENT ON COLUMN cartera.followup_performance.revenue_after IS 'net revenue within the response windows';
COMMENT ON COLUMN cartera.followup_performance.median_time_to_action IS 'median time from raising to the first action';
COMMENT ON COLUMN cartera.followup_performance.median_time_to_action_seconds IS 'median_time_to_action in seconds (a number for BI tools)';

-- Did the alerts raise retention?  Alerted vs held out, per kind and month,
-- and per kind over every month (month NULL).
CREATE VIEW cartera.followup_uplift WITH (security_invoker = true) AS
WITH arms AS (
  SELECT o.kind, o.month,
         count(*) FILTER (WHERE o.arm = 'alerted') AS n1,
         count(*) FILTER (WHERE o.arm = 'alerted' AND o.converted) AS x1,
         avg(o.revenue) FILTER (WHERE o.arm = 'alerted') AS r1,
         var_samp(o.revenue) FILTER (WHERE o.arm = 'alerted') AS v1,
         count(*) FILTER (WHERE o.arm = 'held_out') AS n2,
         count(*) FILTER (WHERE o.arm = 'held_out' AND o.converted) AS x2,
         avg(o.revenue) FILTER (WHERE o.arm = 'held_out') AS r2,
         var_samp(o.revenue) FILTER (WHERE o.arm = 'held_out') AS v2,
         count(*) FILTER (WHERE NOT o.window_closed) AS windows_open
    FROM cartera.alert_outcome o
   GROUP BY GROUPING SETS ((o.kind, o.month), (o.kind)))
SELECT a.kind,
       a.month,
       a.n1 AS alerted,
       a.n2 AS held_out,
       a.windows_open,
       round((a.x1::numeric / nullif(a.n1, 0)), 4) AS conversion_alerted,
       round((a.x2::numeric / nullif(a.n2, 0)), 4) AS conversion_held_out,
       round(d.difference::numeric, 4) AS uplift,
       round(d.low::numeric, 4) AS uplift_low,
       round(d.high::numeric, 4) AS uplift_high,
       round(a.r1, 2) AS revenue_per_alerted,
       round(a.r2, 2) AS revenue_per_held_out,
       round(a.r1 - a.r2, 2) AS revenue_uplift,
       round(a.r1 - a.r2 - 1.959964 * sqrt(a.v1 / a.n1 + a.v2 / a.n2), 2) AS revenue_uplift_low,
       round(a.r1 - a.r2 + 1.959964 * sqrt(a.v1 / a.n1 + a.v2 / a.n2), 2) AS revenue_uplift_high,
       CASE WHEN d.difference > 0 THEN round((1 / d.difference)::numeric, 1) END AS alerts_per_win
  FROM arms a
  LEFT JOIN LATERAL cartera.proportion_difference(a.x1, a.n1, a.x2, a.n2) d ON true;
COMMENT ON VIEW cartera.followup_uplift IS
  'per alert kind and month (month NULL: every month): conversion and revenue per customer of alerted vs held-out customers, the difference with a 95 % confidence interval, and how many alerts win one customer back';
COMMENT ON COLUMN cartera.followup_uplift.kind IS 'alert kind';
COMMENT ON COLUMN cartera.followup_uplift.month IS 'first day of the month raised in; NULL = all months together';
COMMENT ON COLUMN cartera.followup_uplift.alerted IS 'alerts raised (the treated group)';
COMMENT ON COLUMN cartera.followup_uplift.held_out IS 'alerts held out (the control group)';
COMMENT ON COLUMN cartera.followup_uplift.windows_open IS 'alerts whose response window is not over yet (their outcome can still change)';
COMMENT ON COLUMN cartera.followup_uplift.conversion_alerted IS 'share of alerted customers who bought within the response window';
COMMENT ON COLUMN cartera.followup_uplift.conversion_held_out IS 'share of held-out customers who bought within the response window';
COMMENT ON COLUMN cartera.followup_uplift.uplift IS 'conversion_alerted - conversion_held_out';
COMMENT ON COLUMN cartera.followup_uplift.uplift_low IS 'lower end of the 95 % confidence interval of the uplift (Newcombe''s hybrid score interval)';
COMMENT ON COLUMN cartera.followup_uplift.uplift_high IS 'upper end of the 95 % confidence interval of the uplift';
COMMENT ON COLUMN cartera.followup_uplift.revenue_per_alerted IS 'mean net revenue within the window per alerted customer';
COMMENT ON COLUMN cartera.followup_uplift.revenue_per_held_out IS 'mean net revenue within the window per held-out customer';
COMMENT ON COLUMN cartera.followup_uplift.revenue_uplift IS 'revenue_per_alerted - revenue_per_held_out';
COMMENT ON COLUMN cartera.followup_uplift.revenue_uplift_low IS 'lower end of its 95 % confidence interval (normal, unequal variances)';
COMMENT ON COLUMN cartera.followup_uplift.revenue_uplift_high IS 'upper end of its 95 % confidence interval';
COMMENT ON COLUMN cartera.followup_uplift.alerts_per_win IS '1 / uplift: alerts it takes to win one more customer back (when the uplift is positive)';

-- The manager's queue: red alerts past their due date, escalated.
CREATE VIEW cartera.manager_queue WITH (security_invoker = true) AS
SELECT al.alert_id,
       al.kind,
       al.escalated_at,
       al.escalated_to,
       m.name AS escalated_to_name,
       al.agent_id,
       a.name AS agent_name,
       al.customer_id,
       c.full_name AS customer_name,
       al.status,
       al.raised_at,
       al.due_on,
       al.value_at_stake,
       al.message
  FROM cartera.alert al
  LEFT JOIN cartera.agent a ON a.agent_id = al.agent_id
  LEFT JOIN cartera.agent m ON m.agent_id = al.escalated_to
  LEFT JOIN cartera.customer c ON c.customer_id = al.customer_id
 WHERE al.escalated_at IS NOT NULL AND al.status IN ('open', 'acknowledged')
 ORDER BY al.escalated_at, al.value_at_stake DESC NULLS LAST, al.alert_id;
COMMENT ON VIEW cartera.manager_queue IS
  'escalated alerts still to do (red and past their due date), oldest escalation first: what a manager must see to';
COMMENT ON COLUMN cartera.manager_queue.alert_id IS 'the alert';
COMMENT ON COLUMN cartera.manager_queue.kind IS 'alert kind';
COMMENT ON COLUMN cartera.manager_queue.escalated_at IS 'when it was escalated';
COMMENT ON COLUMN cartera.manager_queue.escalated_to IS 'the manager''s agent id (NULL: the agent has no manager_id)';
COMMENT ON COLUMN cartera.manager_queue.escalated_to_name IS 'the manager''s name';
COMMENT ON COLUMN cartera.manager_queue.agent_id IS 'agent the alert is with';
COMMENT ON COLUMN cartera.manager_queue.agent_name IS 'name of the agent';
COMMENT ON COLUMN cartera.manager_queue.customer_id IS 'the customer';
COMMENT ON COLUMN cartera.manager_queue.customer_name IS 'customer name';
COMMENT ON COLUMN cartera.manager_queue.status IS 'open or acknowledged (in progress)';
COMMENT ON COLUMN cartera.manager_queue.raised_at IS 'when it was raised';
COMMENT ON COLUMN cartera.manager_queue.due_on IS 'the date it was due';
COMMENT ON COLUMN cartera.manager_queue.value_at_stake IS 'value at stake at the last ranking';
COMMENT ON COLUMN cartera.manager_queue.message IS 'what to do';
