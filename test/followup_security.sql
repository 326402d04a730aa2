-- Row-level security of the follow-ups (issue 15, docs/security.md): an
-- agent can neither read nor change another agent's alerts, their history
-- (cartera.alert_event) or their outcomes, through the tables, the views
-- (alert_outcome, followup_performance, followup_uplift, alert_queue,
-- manager_queue) or the functions (record_outcome, handover_alert,
-- lock_open_alert and the other alert actions); a manager sees the team.
-- Hand-overs: the agent an alert is handed to sees it and its history while
-- it is still to do, can work it and close it, and then no longer sees it;
-- the customer's owner sees it all along.  The history names who acted,
-- also through SET ROLE, and an erasure request erases its notes only.
-- Roles are created inside the transaction and vanish with the ROLLBACK.
-- No holdout draw (it depends on the month): the two held-out alerts are
-- written as the daily job writes them.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS cartera;
UPDATE cartera.alert_kind SET holdout_share = 0;
SET search_path = public, cartera;
SET client_min_messages = warning;
SELECT plan(163);

-- the DBA's part (docs/security.md)
CREATE ROLE cartera_agent NOLOGIN;
CREATE ROLE cartera_manager NOLOGIN;
DO $$ BEGIN PERFORM cartera.grant_agent_role('cartera_agent'); PERFORM cartera.grant_manager_role('cartera_manager'); END $$;
CREATE ROLE ana LOGIN IN ROLE cartera_agent;
CREATE ROLE luis LOGIN IN ROLE cartera_agent;
CREATE ROLE pedro LOGIN IN ROLE cartera_agent;
CREATE ROLE marta LOGIN IN ROLE cartera_manager;
CREATE ROLE centralita LOGIN;            -- a pooled application login that SETs ROLE to the agent
GRANT ana TO centralita;
-- marta has an agent row too: the agents' manager, whom red alerts escalate to
INSERT INTO cartera.agent (agent_id, name, login) VALUES (950, 'Marta Jefa', 'marta');
INSERT INTO cartera.agent (agent_id, name, login, manager_id) VALUES
  (951, 'Ana Pérez', 'ana', 950), (952, 'Luis Gómez', 'luis', 950), (953, 'Pedro Ruiz', 'pedro', 950);

INSERT INTO cartera.customer (customer_id, full_name, owner_agent_id, email, marketing_consent, created_at)
SELECT c.id, c.name, c.owner, c.email, true, now() - interval '120 days'
  FROM (VALUES (9511, 'Cliente Ana Uno', 951, 'uno@ana.example'), (9512, 'Cliente Ana Dos', 951, 'dos@ana.example'),
               (9521, 'Cliente Luis Uno', 952, 'uno@luis.example'), (9522, 'Cliente Luis Dos', 952, 'dos@luis.example'),
               (9531, 'Cliente Pedro Uno', 953, 'uno@pedro.example')) c(id, name, owner, email);
INSERT INTO cartera.purchase (customer_id, purchased_at, amount, external_id)
SELECT c, now() - interval '100 days', 100 + c % 10, 'fs-' || c || '-1' FROM unnest(ARRAY[9511, 9512, 9521, 9522, 9531]) c;
-- complaints: a red alert for each customer's owner
INSERT INTO cartera.interaction (customer_id, agent_id, channel, is_complaint, note)
SELECT c.customer_id, c.owner_agent_id, 'phone', true, 'queja' FROM cartera.customer c WHERE c.customer_id BETWEEN 9511 AND 9531;
-- the held-out alerts of ana's and luis's first customers, as raise_alerts
-- writes them (status held_out), ten days ago; each customer bought since
INSERT INTO cartera.alert (customer_id, agent_id, kind, colour, raised_at, due_on, message, status)
VALUES (9511, 951, 'reactivation', 'amber', now() - interval '10 days', current_date - 3, 'Cliente Ana Uno está dormido', 'held_out'),
       (9521, 952, 'reactivation', 'amber', now() - interval '10 days', current_date - 3, 'Cliente Luis Uno está dormido', 'held_out');
INSERT INTO cartera.purchase (customer_id, purchased_at, amount, external_id)
VALUES (9511, now() - interval '5 days', 51, 'fs-9511-2'), (9521, now() - interval '5 days', 52, 'fs-9521-2');
INSERT INTO cartera.agent_target (agent_id, month, revenue_target)
SELECT a, date_trunc('month', current_date), 1000000 FROM unnest(ARRAY[951, 952, 953]) a;
-- the complaints of the second customers are overdue: the daily job
-- escalates them to marta; it also queues every alert and raises the agent
-- alerts (below target)
-- (queued two days ago: queued work not done is what escalates)
UPDATE cartera.alert SET due_on = current_date - 2, queued_on = current_date - 2
 WHERE kind = 'complaint' AND customer_id IN (9512, 9522);
DO $$ BEGIN PERFORM cartera.run_followups(current_date); END $$;
-- luis works his first complaint (a note in his history)
SET ROLE luis;
SELECT is(cartera.record_outcome(alert_id, 'reached', 'nota de luis: llamó su abogado'), 'done', 'luis records the outcome of his complaint')
  FROM cartera.alert WHERE customer_id = 9521 AND kind = 'complaint';
RESET ROLE;

-- the alerts the tests aim at (as superuser, without the policies)
CREATE TEMP TABLE aim (what text PRIMARY KEY, id bigint);
INSERT INTO aim
  SELECT 'ana open', alert_id FROM cartera.alert WHERE customer_id = 9511 AND kind = 'complaint'
  UNION ALL SELECT 'ana escalated', alert_id FROM cartera.alert WHERE customer_id = 9512 AND kind = 'complaint'
  UNION ALL SELECT 'ana held out', alert_id FROM cartera.alert WHERE customer_id = 9511 AND status = 'held_out'
  UNION ALL SELECT 'ana agent alert', alert_id FROM cartera.alert WHERE customer_id IS NULL AND agent_id = 951
  UNION ALL SELECT 'luis done', alert_id FROM cartera.alert WHERE customer_id = 9521 AND kind = 'complaint'
  UNION ALL SELECT 'luis escalated', alert_id FROM cartera.alert WHERE customer_id = 9522 AND kind = 'complaint'
  UNION ALL SELECT 'luis held out', alert_id FROM cartera.alert WHERE customer_id = 9521 AND status = 'held_out'
  UNION ALL SELECT 'luis agent alert', alert_id FROM cartera.alert WHERE customer_id IS NULL AND agent_id = 952
  UNION ALL SELECT 'nonexistent', 987654321;
GRANT SELECT ON aim TO PUBLIC;
CREATE FUNCTION pg_temp.aim(w text) RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT id FROM aim WHERE what = w $$;
SELECT is(ARRAY(SELECT what FROM aim WHERE id IS NULL), '{}'::text[], 'every alert aimed at exists');
SELECT is((SELECT string_agg(a.status || coalesce(' escalated to ' || a.escalated_to, ''), ', ' ORDER BY x.what)
             FROM aim x JOIN cartera.alert a ON a.alert_id = x.id WHERE x.what LIKE '% escalated'),
          'open escalated to 950, open escalated to 950', 'the daily job escalated the overdue complaints to marta');

-- the error an action gives, as a role, with the alert id written N
CREATE FUNCTION pg_temp.error_as(who name, stmt text, id bigint) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  BEGIN
    PERFORM set_config('role', who, true);
    EXECUTE format(stmt, id);
    PERFORM set_config('role', 'none', true);
    RAISE EXCEPTION USING ERRCODE = 'SA001', MESSAGE = 'no error';
  EXCEPTION
    WHEN SQLSTATE 'SA001' THEN RETURN 'no error';
    WHEN OTHERS THEN RETURN SQLSTATE || ' ' || replace(SQLERRM, id::text, 'N');
  END;
END $$;
-- rows a statement affects
CREATE FUNCTION pg_temp.affected(sql text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
  EXECUTE sql;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;
-- what an agent may see of the alerts and their history, by the rule of
-- docs/security.md (computed as superuser): the alerts of the customers they
-- own, their own agent alerts, and alerts still to do handed over to them
CREATE FUNCTION pg_temp.alerts_of(who name) RETURNS SETOF bigint LANGUAGE sql STABLE AS $$
  SELECT x.alert_id FROM cartera.alert x LEFT JOIN cartera.customer c USING (customer_id)
   WHERE c.owner_agent_id = (SELECT agent_id FROM cartera.agent WHERE login = who)
      OR (x.agent_id = (SELECT agent_id FROM cartera.agent WHERE login = who)
          AND (x.customer_id IS NULL OR x.status IN ('open', 'acknowledged', 'snoozed')))
$$;
-- a fingerprint of an agent's alerts and their history
CREATE FUNCTION pg_temp.alert_fingerprint(who name) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT md5(concat_ws('|',
    (SELECT string_agg(x::text, ',' ORDER BY x.alert_id) FROM cartera.alert x WHERE x.alert_id IN (SELECT pg_temp.alerts_of(who))),
    (SELECT string_agg(e::text, ',' ORDER BY e.event_id) FROM cartera.alert_event e WHERE e.alert_id IN (SELECT pg_temp.alerts_of(who)))))
$$;

------------------------------------------------------------------------------
-- The catalog
------------------------------------------------------------------------------
SELECT is((SELECT relrowsecurity FROM pg_class WHERE oid = 'cartera.alert_event'::regclass), true,
          'cartera.alert_event is under row-level security');
SELECT is(ARRAY(SELECT policyname || ' ' || cmd FROM pg_policies WHERE schemaname = 'cartera' AND tablename = 'alert_event' ORDER BY 1),
          ARRAY['agent_own SELECT', 'manager_all ALL'], 'alert_event: managers see everything, agents only read');
SELECT is(ARRAY(SELECT p FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
                 WHERE has_table_privilege('cartera_agent', 'cartera.alert_event', p) ORDER BY 1),
          ARRAY['SELECT'], 'agents may only read the history (cartera writes it)');
SELECT is(ARRAY(SELECT a.attname FROM pg_attribute a
                 WHERE a.attrelid = 'cartera.alert_event'::regclass AND a.attnum > 0 AND NOT a.attisdropped
                   AND has_column_privilege('cartera_manager', a.attrelid, a.attnum, 'UPDATE') ORDER BY 1),
          ARRAY['customer_id', 'note']::name[], 'managers may change only the notes (erasure requests) and the customer (merges) of the history');
SELECT ok(NOT has_table_privilege('cartera_manager', 'cartera.alert_event', 'INSERT')
          AND NOT has_table_privilege('cartera_manager', 'cartera.alert_event', 'DELETE'),
          'nor add or remove any of it');
SELECT is(ARRAY(SELECT a.attname::text FROM pg_attribute a
                 WHERE a.attrelid = 'cartera.alert'::regclass AND a.attnum > 0 AND NOT a.attisdropped
                   AND has_column_privilege('cartera_agent', a.attrelid, a.attnum, 'UPDATE') ORDER BY 1),
          ARRAY['agent_id', 'closed_at', 'outcome', 'resolution', 'snoozed_until', 'status'],
          'agents may write only the status columns of an alert (and hand it over)');
SELECT ok(NOT has_table_privilege('cartera_agent', 'cartera.alert', 'INSERT') AND NOT has_table_privilege('cartera_agent', 'cartera.alert', 'DELETE'),
          'agents neither raise nor delete alerts');

------------------------------------------------------------------------------
-- What each agent sees
------------------------------------------------------------------------------
-- expected, computed as superuser: the same rows of each view as the
-- superuser sees, restricted to the agent's alerts (every alert here is
-- with the customer's owner, so the agent sees every purchase behind it)
CREATE TEMP TABLE expected AS
  SELECT w.who, 'alert_event' AS rel, e.event_id::text AS id FROM (VALUES ('ana'::name), ('luis')) w(who)
    JOIN cartera.alert_event e ON e.alert_id IN (SELECT pg_temp.alerts_of(w.who))
  UNION ALL
  SELECT w.who, 'alert_outcome', o::text FROM (VALUES ('ana'::name), ('luis')) w(who)
    JOIN cartera.alert_outcome o ON o.alert_id IN (SELECT pg_temp.alerts_of(w.who))
  UNION ALL
  SELECT w.who, 'alert_queue', q::text FROM (VALUES ('ana'::name), ('luis')) w(who)
    JOIN cartera.alert_queue q ON q.alert_id IN (SELECT pg_temp.alerts_of(w.who))
  UNION ALL
  SELECT w.who, 'manager_queue', q.alert_id::text FROM (VALUES ('ana'::name), ('luis')) w(who)
    JOIN cartera.manager_queue q ON q.alert_id IN (SELECT pg_temp.alerts_of(w.who))
  UNION ALL
  SELECT w.who, 'followup_performance', f::text FROM (VALUES ('ana'::name), ('luis')) w(who)
    JOIN cartera.agent g ON g.login = w.who JOIN cartera.followup_performance f ON f.agent_id = g.agent_id;
-- followup_uplift: what it shows in a database holding only the agent's
-- portfolio (undone)
CREATE FUNCTION pg_temp.uplift_alone(who name) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  me bigint := (SELECT agent_id FROM cartera.agent WHERE login = who);
  t text[];
BEGIN
  BEGIN
    DELETE FROM cartera.alert x
     WHERE CASE WHEN x.customer_id IS NULL THEN x.agent_id IS DISTINCT FROM me
                ELSE x.customer_id NOT IN (SELECT customer_id FROM cartera.customer WHERE owner_agent_id = me) END;
    DELETE FROM cartera.interaction WHERE customer_id NOT IN (SELECT customer_id FROM cartera.customer WHERE owner_agent_id = me);
    DELETE FROM cartera.purchase WHERE customer_id NOT IN (SELECT customer_id FROM cartera.customer WHERE owner_agent_id = me);
    DELETE FROM cartera.customer WHERE owner_agent_id IS DISTINCT FROM me;
    t := ARRAY(SELECT u::text FROM cartera.followup_uplift u);
    RAISE EXCEPTION 'undo';
  EXCEPTION WHEN raise_exception THEN
    NULL;
  END;
  RETURN QUERY SELECT unnest(t);
END $$;
INSERT INTO expected SELECT w.who, 'followup_uplift', pg_temp.uplift_alone(w.who) FROM (VALUES ('ana'::name), ('luis')) w(who);
GRANT SELECT ON expected TO PUBLIC;

SELECT ok((SELECT count(*) FROM expected e WHERE e.who = w AND e.rel = r) > 0, format('%s has rows in %s', w, r))
  FROM (VALUES ('ana'), ('luis')) v(w),
       (VALUES ('alert_event'), ('alert_outcome'), ('alert_queue'), ('manager_queue'), ('followup_performance'), ('followup_uplift')) x(r)
 ORDER BY w, r;
SELECT ok((SELECT count(*) FROM expected e WHERE e.who = 'ana' AND e.rel = 'alert_outcome' AND e.id LIKE '%,held_out,%') = 1
          AND (SELECT count(*) FROM expected e WHERE e.who = 'ana' AND e.rel = 'followup_uplift' AND e.id LIKE '(reactivation,,0,1,%') = 1,
          'ana''s held-out alert is among her outcomes and her uplift');
SELECT ok((SELECT count(*) FROM expected e WHERE e.who = 'luis' AND e.rel = 'alert_event' AND e.id::bigint IN
             (SELECT event_id FROM cartera.alert_event WHERE note LIKE 'nota de luis%')) = 1,
          'luis''s history holds his note');

CREATE FUNCTION pg_temp.sees(who name) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('SET LOCAL ROLE %I', who);
  RETURN NEXT results_eq('SELECT event_id FROM cartera.alert_event ORDER BY 1',
                         format('SELECT id::bigint FROM expected WHERE who = %L AND rel = ''alert_event'' ORDER BY 1', who),
                         who || ' sees the history of their own alerts only (cartera.alert_event)');
  RETURN NEXT results_eq('SELECT x::text FROM cartera.alert_outcome x ORDER BY alert_id',
                         format('SELECT id FROM expected WHERE who = %L AND rel = ''alert_outcome'' ORDER BY split_part(ltrim(id, ''(''), '','', 1)::bigint', who),
                         who || ' sees exactly the outcomes of their own alerts, held-out ones included (alert_outcome)');
  RETURN NEXT set_eq('SELECT x::text FROM cartera.followup_performance x',
                     format('SELECT id FROM expected WHERE who = %L AND rel = ''followup_performance''', who),
                     who || ' sees exactly their own rows of followup_performance');
  RETURN NEXT set_eq('SELECT x::text FROM cartera.followup_uplift x',
                     format('SELECT id FROM expected WHERE who = %L AND rel = ''followup_uplift''', who),
                     who || ' sees in followup_uplift what it shows of a database holding only their portfolio');
  RETURN NEXT set_eq('SELECT x::text FROM cartera.alert_queue x',
                     format('SELECT id FROM expected WHERE who = %L AND rel = ''alert_queue''', who),
                     who || ' sees their own queue only (alert_queue)');
  RETURN NEXT set_eq('SELECT alert_id::text FROM cartera.manager_queue',
                     format('SELECT id FROM expected WHERE who = %L AND rel = ''manager_queue''', who),
                     who || ' sees in manager_queue their own escalated alerts only');
  RESET ROLE;
END $$;
SELECT * FROM pg_temp.sees('ana');
SELECT * FROM pg_temp.sees('luis');

------------------------------------------------------------------------------
-- Acting on another agent's alerts: the same error as for an alert that
-- does not exist, whatever its state (so not even its status leaks)
------------------------------------------------------------------------------
CREATE TEMP TABLE action (fn text, stmt text);
INSERT INTO action VALUES
  ('record_outcome', 'SELECT cartera.record_outcome(%s, ''won_back'', ''x'')'),
  ('handover_alert', 'SELECT cartera.handover_alert(%s, 951, ''x'')'),
  ('snooze_alert', 'SELECT cartera.snooze_alert(%s, current_date + 7)'),
  ('acknowledge_alert', 'SELECT cartera.acknowledge_alert(%s)'),
  ('complete_alert', 'SELECT cartera.complete_alert(%s, ''x'')'),
  ('dismiss_alert', 'SELECT cartera.dismiss_alert(%s, ''x'')'),
  ('lock_open_alert', 'SELECT cartera.lock_open_alert(%s)'),
  ('alert_set_status', 'SELECT cartera.alert_set_status(%s, ''done'')');
CREATE TEMP TABLE luis_before AS SELECT pg_temp.alert_fingerprint('luis') AS f;
SELECT is(pg_temp.error_as('ana', a.stmt, pg_temp.aim(x.what)), 'P0002 alert N does not exist',
          format('ana cannot %s luis''s %s alert: "alert N does not exist"', a.fn, replace(x.what, 'luis ', '')))
  FROM action a CROSS JOIN (VALUES ('luis done'), ('luis escalated'), ('luis held out'), ('luis agent alert')) x(what)
 ORDER BY a.fn, x.what;
SELECT is(pg_temp.error_as('ana', a.stmt, pg_temp.aim('nonexistent')), 'P0002 alert N does not exist',
          format('%s says the same of an alert that does not exist', a.fn))
  FROM action a ORDER BY a.fn;
-- while her own closed and held-out alerts get the real reason
SELECT is(pg_temp.error_as('ana', 'SELECT cartera.record_outcome(%s, ''reached'')', pg_temp.aim('ana held out')),
          '22023 alert N is already held_out', 'ana is told that her own held-out alert is not to be worked');
SELECT is(pg_temp.error_as('ana', 'SELECT cartera.lock_open_alert(%s)', pg_temp.aim('ana held out')),
          '22023 alert N is already held_out', 'lock_open_alert says so too');
SET ROLE ana;
SELECT is(pg_temp.affected(format('UPDATE cartera.alert SET status = ''dismissed'', closed_at = now() WHERE alert_id IN (%s)',
                                  (SELECT string_agg(id::text, ', ') FROM aim WHERE what LIKE 'luis %'))),
          0::bigint, 'ana''s UPDATE of luis''s alerts affects no row');
SELECT is(pg_temp.affected(format('UPDATE cartera.alert SET agent_id = 951 WHERE alert_id = %s', pg_temp.aim('luis escalated'))),
          0::bigint, 'nor can she take one of them');
RESET ROLE;
SELECT is(pg_temp.alert_fingerprint('luis'), (SELECT f FROM luis_before), 'luis''s alerts and their history are unchanged');

-- the holdout group, moot and closed alerts are cartera's own to change
-- (trigger alert_status_guarded): not even her own by a direct UPDATE
SET ROLE ana;
SELECT throws_ok(format('UPDATE cartera.alert SET status = ''open'', closed_at = NULL WHERE alert_id = %s', pg_temp.aim('ana held out')),
                 '55000', format('alert %s cannot move into or out of the holdout group', pg_temp.aim('ana held out')),
                 'ana cannot take a held-out customer into her queue by UPDATE (it would spoil the comparison)');
SELECT throws_ok(format('UPDATE cartera.alert SET status = ''held_out'' WHERE alert_id = %s', pg_temp.aim('ana open')),
                 '55000', format('alert %s cannot move into or out of the holdout group', pg_temp.aim('ana open')),
                 'nor move one of her alerts into the holdout group');
SELECT throws_ok(format('UPDATE cartera.alert SET status = ''moot'', closed_at = now() WHERE alert_id = %s', pg_temp.aim('ana open')),
                 '55000', 'only the daily job closes an alert as moot', 'nor close one as moot');
RESET ROLE;
SET ROLE marta;
SELECT throws_ok(format('UPDATE cartera.alert SET status = ''open'', closed_at = NULL WHERE alert_id = %s', pg_temp.aim('luis done')),
                 '55000', format('alert %s is already done', pg_temp.aim('luis done')),
                 'a manager cannot reopen a done alert by UPDATE either: closed alerts stay closed');
RESET ROLE;

------------------------------------------------------------------------------
-- The history is written by cartera only; an alert's other columns too
------------------------------------------------------------------------------
SET ROLE ana;
SELECT throws_ok(format('INSERT INTO cartera.alert_event (alert_id, happened_at, actor, event) VALUES (%s, now(), ''luis'', ''done'')', pg_temp.aim('ana open')),
                 '42501', 'permission denied for table alert_event', 'ana cannot add to the history, not even of her own alert');
SELECT throws_ok(format('UPDATE cartera.alert_event SET note = ''x'' WHERE alert_id = %s', pg_temp.aim('ana open')),
                 '42501', 'permission denied for table alert_event', 'nor change it');
SELECT throws_ok(format('UPDATE cartera.alert_event SET actor = ''luis'' WHERE alert_id = %s', pg_temp.aim('ana open')),
                 '42501', 'permission denied for table alert_event', 'nor rewrite who acted');
SELECT throws_ok(format('DELETE FROM cartera.alert_event WHERE alert_id = %s', pg_temp.aim('ana open')),
                 '42501', 'permission denied for table alert_event', 'nor delete it');
SELECT throws_ok('TRUNCATE cartera.alert_event', '42501', 'permission denied for table alert_event', 'nor truncate it');
RESET ROLE;
SET ROLE marta;
SELECT throws_ok(format('INSERT INTO cartera.alert_event (alert_id, happened_at, actor, event) VALUES (%s, now(), ''luis'', ''done'')', pg_temp.aim('ana open')),
                 '42501', 'permission denied for table alert_event', 'a manager cannot add to the history either');
SELECT throws_ok(format('DELETE FROM cartera.alert_event WHERE alert_id = %s', pg_temp.aim('ana open')),
                 '42501', 'permission denied for table alert_event', 'nor delete it');
SELECT throws_ok(format('UPDATE cartera.alert_event SET actor = ''luis'' WHERE alert_id = %s', pg_temp.aim('ana open')),
                 '42501', 'permission denied for table alert_event', 'nor rewrite who acted');
RESET ROLE;

-- every column of an alert but the status columns, on her own alert
CREATE FUNCTION pg_temp.column_updates(who name, alert bigint) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE col name;
BEGIN
  EXECUTE format('SET LOCAL ROLE %I', who);
  FOR col IN SELECT a.attname FROM pg_attribute a
              WHERE a.attrelid = 'cartera.alert'::regclass AND a.attnum > 0 AND NOT a.attisdropped
                AND a.attname NOT IN ('status', 'snoozed_until', 'closed_at', 'resolution', 'outcome', 'agent_id')
              ORDER BY a.attnum LOOP
    RETURN NEXT throws_ok(format('UPDATE cartera.alert SET %I = %1$I WHERE alert_id = %s', col, alert),
                          '42501', 'permission denied for table alert', format('%s cannot change the %s of her own alert', who, col));
  END LOOP;
  RESET ROLE;
END $$;
SELECT * FROM pg_temp.column_updates('ana', pg_temp.aim('ana escalated'));
SELECT ok(ARRAY['queue', 'queue_rank', 'colour', 'escalated_at', 'escalated_to', 'value_at_stake', 'kind', 'due_on', 'customer_id']::name[]
          <@ ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = 'cartera.alert'::regclass AND attnum > 0),
          'among them the queue, rank, colour, escalation and value at stake the daily job keeps');
SET ROLE ana;
SELECT throws_ok(format('UPDATE cartera.alert SET agent_id = 952 WHERE alert_id = %s', pg_temp.aim('ana agent alert')),
                 '42501', 'new row violates row-level security policy for table "alert"',
                 'ana cannot hand an alert about herself (no customer) to luis');
SELECT is(pg_temp.affected(format('UPDATE cartera.alert SET resolution = ''visto'' WHERE alert_id = %s', pg_temp.aim('ana escalated'))),
          1::bigint, 'the status columns of her own alert she may write');

-- the daily job is the owner's
SELECT throws_ok('SELECT * FROM cartera.plan_day()', '42501', 'permission denied for function plan_day', 'ana cannot run plan_day');
SELECT throws_ok('SELECT * FROM cartera.run_followups()', '42501', 'permission denied for function run_followups', 'nor run_followups');
RESET ROLE;
SET ROLE marta;
SELECT throws_ok('SELECT * FROM cartera.plan_day()', '42501', 'permission denied for function plan_day', 'nor can a manager run plan_day');
SELECT throws_ok('SELECT * FROM cartera.run_followups()', '42501', 'permission denied for function run_followups', 'nor run_followups');
RESET ROLE;

------------------------------------------------------------------------------
-- Who acted: the agent, whether she logs in, or a pooled login SETs ROLE
------------------------------------------------------------------------------
SELECT is((SELECT string_agg(DISTINCT actor, ',') FROM cartera.alert_event WHERE event = 'raised'), current_user::text,
          'the job''s events name the role that ran it');
SET ROLE ana;
SELECT is(cartera.acknowledge_alert(pg_temp.aim('ana escalated')), 'acknowledged', 'ana, through SET ROLE, starts on her escalated alert');
RESET ROLE;
SET SESSION AUTHORIZATION ana;
SELECT is(cartera.snooze_alert(pg_temp.aim('ana escalated'), current_date + 2), 'snoozed', 'ana, logged in as herself, snoozes it');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION centralita;
SET ROLE ana;
SELECT is(cartera.alert_set_status(pg_temp.aim('ana escalated'), 'open'), 'open', 'ana, from a pooled login that SETs ROLE ana, reopens it');
RESET ROLE;
SELECT throws_ok(format('SELECT cartera.acknowledge_alert(%s)', pg_temp.aim('ana escalated')), 'P0002', NULL,
                 'the pooled login itself is no agent and sees no alert');
RESET SESSION AUTHORIZATION;
SELECT results_eq(format('SELECT event || '' by '' || actor::text COLLATE "default" FROM cartera.alert_event WHERE alert_id = %s AND event IN (''started'', ''snoozed'', ''reopened'') ORDER BY event_id',
                         pg_temp.aim('ana escalated')),
                  $$VALUES ('started by ana'), ('snoozed by ana'), ('reopened by ana')$$,
                  'each change names ana as the actor, never the login or the owner of the tables');

------------------------------------------------------------------------------
-- Hand-over: ana gives her alert to luis.  Closing it takes it out of his
-- view, which an UPDATE ... WHERE alert_id = ... may not do under row-level
-- security ("new row violates row-level security policy"): the alert
-- actions write the row WHERE CURRENT OF a cursor.  Handing it on is
-- refused by the policy's WITH CHECK: the owner or a manager moves it.
------------------------------------------------------------------------------
SET ROLE ana;
SELECT is(cartera.handover_alert(pg_temp.aim('ana open'), 952, 'te la paso: habla mexicano'), 952::bigint, 'ana hands her alert over to luis');
RESET ROLE;
CREATE TEMP TABLE handed_events AS
  SELECT event_id FROM cartera.alert_event WHERE alert_id = (SELECT id FROM aim WHERE what = 'ana open');
GRANT SELECT ON handed_events TO PUBLIC;
SET ROLE luis;
SELECT is((SELECT agent_id || ' ' || status FROM cartera.alert WHERE alert_id = pg_temp.aim('ana open')), '952 open',
          'luis sees the alert handed to him');
SELECT is((SELECT count(*) FROM cartera.alert_queue WHERE alert_id = pg_temp.aim('ana open')), 1::bigint, 'it is in his queue');
SELECT set_eq(format('SELECT event_id FROM cartera.alert_event WHERE alert_id = %s', pg_temp.aim('ana open')),
              'SELECT event_id FROM handed_events', 'and he sees its whole history, ana''s note included');
SELECT is((SELECT count(*) FROM cartera.alert WHERE customer_id = 9511), 1::bigint,
          'but no other alert of ana''s customer (her held-out one included)');
SELECT is((SELECT count(*) FROM cartera.customer WHERE customer_id = 9511) + (SELECT count(*) FROM cartera.purchase WHERE customer_id = 9511),
          0::bigint, 'nor the customer or her purchases');
SELECT is((SELECT sales || ' ' || revenue FROM cartera.alert_outcome WHERE alert_id = pg_temp.aim('ana open')), '0 0',
          'alert_outcome shows him no sale of her');
SELECT throws_ok(format('SELECT cartera.handover_alert(%s, 953, ''para ti'')', pg_temp.aim('ana open')),
                 '42501', 'new row violates row-level security policy for table "alert"',
                 'luis cannot hand it on to a third agent (row-level security WITH CHECK)');
SELECT throws_ok(format('SELECT cartera.handover_alert(%s, 951, ''te la devuelvo'')', pg_temp.aim('ana open')),
                 '42501', 'new row violates row-level security policy for table "alert"',
                 'nor back to ana: the owner or a manager moves it');
SELECT throws_ok(format('UPDATE cartera.alert SET agent_id = 953 WHERE alert_id = %s', pg_temp.aim('ana open')),
                 '42501', 'new row violates row-level security policy for table "alert"', 'nor by UPDATE');
SELECT is(cartera.acknowledge_alert(pg_temp.aim('ana open')), 'acknowledged', 'luis starts on it');
RESET ROLE;
SET ROLE pedro;
SELECT is((SELECT count(*) FROM cartera.alert WHERE alert_id = pg_temp.aim('ana open'))
          + (SELECT count(*) FROM cartera.alert_event WHERE alert_id = pg_temp.aim('ana open')), 0::bigint,
          'pedro sees neither the alert nor its history');
RESET ROLE;
SET ROLE ana;
SELECT is((SELECT agent_id || ' ' || status FROM cartera.alert WHERE alert_id = pg_temp.aim('ana open')), '952 acknowledged',
          'ana sees it with luis, in progress');
SELECT is((SELECT count(*) FROM cartera.alert_event WHERE alert_id = pg_temp.aim('ana open')),
          (SELECT count(*) FROM handed_events) + 1, 'with its history, luis''s start included');
RESET ROLE;
SET ROLE luis;
SELECT is(pg_temp.error_as('luis', s.stmt, pg_temp.aim('ana open')), 'no error',
          format('luis may close the alert handed to him (%s, undone)', s.fn))
  FROM (VALUES ('complete_alert', 'SELECT cartera.complete_alert(%s, ''hecho'')'),
               ('dismiss_alert', 'SELECT cartera.dismiss_alert(%s, ''no procede'')'),
               ('alert_set_status', 'SELECT cartera.alert_set_status(%s, ''done'')')) s(fn, stmt);
SELECT lives_ok(format('SELECT cartera.record_outcome(%s, ''reached'', ''hablé con ella'')', pg_temp.aim('ana open')),
                'luis records the outcome of the alert handed to him');
SELECT is((SELECT count(*) FROM cartera.alert WHERE alert_id = pg_temp.aim('ana open'))
          + (SELECT count(*) FROM cartera.alert_event WHERE alert_id = pg_temp.aim('ana open'))
          + (SELECT count(*) FROM cartera.alert_outcome WHERE alert_id = pg_temp.aim('ana open')), 0::bigint,
          'once done, luis no longer sees it, its history or its outcome: the customer is ana''s');
SELECT is(pg_temp.error_as('luis', 'SELECT cartera.record_outcome(%s, ''won_back'')', pg_temp.aim('ana open')),
          'P0002 alert N does not exist', 'and can no longer act on it');
RESET ROLE;
SET ROLE ana;
SELECT is((SELECT agent_id || ' ' || status || ' ' || outcome || ' ' || resolution FROM cartera.alert WHERE alert_id = pg_temp.aim('ana open')),
          '952 done reached hablé con ella', 'ana sees it done by luis, with his outcome and note');
SELECT results_eq(format('SELECT concat_ws('' | '', event, actor::text COLLATE "default", from_value, to_value, note) FROM cartera.alert_event WHERE alert_id = %s AND event <> ''queued'' ORDER BY event_id',
                         pg_temp.aim('ana open')),
                  format($$VALUES ('raised | %s | open'), ('handed_over | ana | 951 | 952 | te la paso: habla mexicano'),
                                  ('started | luis | open | acknowledged'), ('done | luis | acknowledged | reached | hablé con ella')$$,
                         session_user),
                  'and its whole history: who, what and the notes');
SELECT is((SELECT outcome || ' ' || agent_id FROM cartera.alert_outcome WHERE alert_id = pg_temp.aim('ana open')), 'reached 952',
          'its outcome is among hers, credited to luis');
RESET ROLE;

------------------------------------------------------------------------------
-- The manager sees the team
------------------------------------------------------------------------------
CREATE TEMP TABLE everything AS
  SELECT 'alert' AS rel, (SELECT string_agg(x::text, E'\n' ORDER BY x.alert_id) FROM cartera.alert x) AS content
  UNION ALL SELECT 'alert_event', (SELECT string_agg(x::text, E'\n' ORDER BY x.event_id) FROM cartera.alert_event x)
  UNION ALL SELECT 'alert_outcome', (SELECT string_agg(x::text, E'\n' ORDER BY x.alert_id) FROM cartera.alert_outcome x)
  UNION ALL SELECT 'followup_performance', (SELECT string_agg(x::text, E'\n' ORDER BY x::text) FROM cartera.followup_performance x)
  UNION ALL SELECT 'followup_uplift', (SELECT string_agg(x::text, E'\n' ORDER BY x::text) FROM cartera.followup_uplift x)
  UNION ALL SELECT 'alert_queue', (SELECT string_agg(x::text, E'\n' ORDER BY x.alert_id) FROM cartera.alert_queue x)
  UNION ALL SELECT 'manager_queue', (SELECT string_agg(x::text, E'\n' ORDER BY x.alert_id) FROM cartera.manager_queue x);
GRANT SELECT ON everything TO PUBLIC;
SET ROLE marta;
SELECT is((SELECT string_agg(x::text, E'\n' ORDER BY x.alert_id) FROM cartera.alert x), (SELECT content FROM everything WHERE rel = 'alert'),
          'marta sees every alert');
SELECT is((SELECT string_agg(x::text, E'\n' ORDER BY x.event_id) FROM cartera.alert_event x), (SELECT content FROM everything WHERE rel = 'alert_event'),
          'and every event of their history');
SELECT is((SELECT string_agg(x::text, E'\n' ORDER BY x.alert_id) FROM cartera.alert_outcome x), (SELECT content FROM everything WHERE rel = 'alert_outcome'),
          'and every outcome');
SELECT is((SELECT string_agg(x::text, E'\n' ORDER BY x::text) FROM cartera.followup_performance x), (SELECT content FROM everything WHERE rel = 'followup_performance'),
          'followup_performance of the whole team');
SELECT is((SELECT string_agg(x::text, E'\n' ORDER BY x::text) FROM cartera.followup_uplift x), (SELECT content FROM everything WHERE rel = 'followup_uplift'),
          'followup_uplift of the whole team');
SELECT is((SELECT string_agg(x::text, E'\n' ORDER BY x.alert_id) FROM cartera.alert_queue x), (SELECT content FROM everything WHERE rel = 'alert_queue'),
          'every queue');
SELECT is((SELECT string_agg(x::text, E'\n' ORDER BY x.alert_id) FROM cartera.manager_queue x), (SELECT content FROM everything WHERE rel = 'manager_queue'),
          'and the escalations of every agent (manager_queue), with the names');
SELECT is((SELECT string_agg(agent_name || ' -> ' || escalated_to_name, ', ' ORDER BY alert_id) FROM cartera.manager_queue),
          'Ana Pérez -> Marta Jefa, Luis Gómez -> Marta Jefa', 'both escalations are marta''s');
SELECT is(cartera.record_outcome(pg_temp.aim('luis escalated'), 'no_answer', 'lo intenté yo'), 'done', 'marta works an escalated alert of luis');
SELECT is((SELECT actor::text COLLATE "default" FROM cartera.alert_event WHERE alert_id = pg_temp.aim('luis escalated') AND event = 'done'), 'marta',
          'the history names her');
RESET ROLE;

------------------------------------------------------------------------------
-- An erasure request erases the notes of the history, not who, when, what
------------------------------------------------------------------------------
SET ROLE ana;
INSERT INTO cartera.interaction (customer_id, channel, is_complaint, note) VALUES (9511, 'email', true, 'otra queja');
SELECT is(cartera.handover_alert(alert_id, 953, 'para pedro: conoce su empresa'), 953::bigint, 'ana hands her new complaint to pedro')
  FROM cartera.alert WHERE customer_id = 9511 AND kind = 'complaint' AND status = 'open';
RESET ROLE;
CREATE TEMP TABLE history_before AS
  SELECT e.* FROM cartera.alert_event e;
GRANT SELECT ON history_before TO PUBLIC;
SELECT is((SELECT count(*) FROM history_before WHERE customer_id = 9511 AND note IS NOT NULL), 3::bigint,
          'ana''s customer has notes in the history of her alerts (two hand-overs and luis''s outcome)');
SET ROLE ana;
SELECT throws_ok('SELECT cartera.forget_customer(9511)', '42501', 'permission denied for function forget_customer',
                 'an agent cannot answer erasure requests');
RESET ROLE;
SET ROLE marta;
SELECT is((cartera.forget_customer(9511) ->> 'alert_notes')::bigint, 4::bigint,
          'marta forgets the customer: 4 notes of the history are erased (two hand-overs, luis''s outcome, the dismissal the erasure causes)');
RESET ROLE;
SELECT is((SELECT count(*) FROM cartera.alert_event e JOIN cartera.alert a USING (alert_id)
            WHERE a.customer_id = 9511 AND e.note IS DISTINCT FROM 'erased' AND e.note IS NOT NULL), 0::bigint,
          'no note of hers is left');
SELECT set_eq($$SELECT event_id, alert_id, happened_at, actor, event, from_value, to_value, note IS NULL
                  FROM cartera.alert_event WHERE event_id IN (SELECT event_id FROM history_before)$$,
              $$SELECT event_id, alert_id, happened_at, actor, event, from_value, to_value, note IS NULL FROM history_before$$,
              'who acted, when and what stay, for every event');
SELECT set_eq($$SELECT event_id, note FROM cartera.alert_event
                 WHERE event_id IN (SELECT event_id FROM history_before WHERE customer_id IS DISTINCT FROM 9511)$$,
              $$SELECT event_id, note FROM history_before WHERE customer_id IS DISTINCT FROM 9511$$,
              'the notes about other customers stay');
SELECT is((SELECT string_agg(event || ' by ' || actor::text COLLATE "default", ', ' ORDER BY event_id) FROM cartera.alert_event e
            WHERE e.event_id NOT IN (SELECT event_id FROM history_before)),
          'dismissed by marta', 'the erasure dismissed her open alert (with pedro), as marta');
SET ROLE ana;
SELECT is((SELECT count(*) FROM cartera.alert_event e JOIN cartera.alert a USING (alert_id) WHERE a.customer_id = 9511),
          (SELECT count(*) FROM history_before WHERE customer_id = 9511) + 1, 'ana still sees the whole history, without the notes');
RESET ROLE;
SET ROLE pedro;
SELECT is((SELECT count(*) FROM cartera.alert WHERE customer_id = 9511), 0::bigint,
          'pedro no longer sees the alert handed to him, dismissed by the erasure');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
