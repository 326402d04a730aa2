-- Row-level security per agent (docs/security.md): two agents, ana and luis,
-- log in (SET ROLE) and neither can read or change the other's portfolio,
-- through the tables, the views or the functions; a manager (marta) sees
-- everything; a role that is not an agent sees nothing; SECURITY DEFINER
-- code cannot be hijacked through the caller's search_path.
-- Roles are created inside the transaction and vanish with the ROLLBACK.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS cartera;
-- no holdout groups here: which customers they hold out depends on the month
-- (test/followup_uplift.sql tests them on fixed dates)
UPDATE cartera.alert_kind SET holdout_share = 0;
SET search_path = public, cartera;
SET client_min_messages = warning;

-- A probe view, so the view checks below never run on an empty list (the BI
-- views of cartera_views.sql are checked the same way, whatever they are).
CREATE VIEW cartera.security_probe WITH (security_invoker = true) AS
  SELECT c.owner_agent_id, count(DISTINCT c.customer_id) AS customers, count(p.purchase_id) AS purchases,
         sum(p.amount) AS revenue, string_agg(c.full_name, ', ' ORDER BY c.full_name) AS names
    FROM cartera.customer c LEFT JOIN cartera.purchase p USING (customer_id)
   GROUP BY c.owner_agent_id;

SELECT plan(193 + 4 * (SELECT count(*)::int FROM pg_views WHERE schemaname = 'cartera'));

-- the DBA's part (docs/security.md)
CREATE ROLE cartera_agent NOLOGIN;
CREATE ROLE cartera_manager NOLOGIN;
DO $$ BEGIN PERFORM cartera.grant_agent_role('cartera_agent'); PERFORM cartera.grant_manager_role('cartera_manager'); END $$;
CREATE ROLE ana LOGIN IN ROLE cartera_agent;
CREATE ROLE luis LOGIN IN ROLE cartera_agent;
CREATE ROLE marta LOGIN IN ROLE cartera_manager;
CREATE ROLE sin_cartera LOGIN IN ROLE cartera_agent;   -- agent privileges, but no agent row
CREATE ROLE intruso LOGIN;                              -- no privileges at all
INSERT INTO cartera.agent (agent_id, name, login) VALUES (901, 'Ana Pérez', 'ana'), (902, 'Luis Gómez', 'luis');

-- two portfolios alike: a customer who buys and a lead who does not
INSERT INTO cartera.customer (customer_id, full_name, owner_agent_id, country, email, birthday, marketing_consent, created_at)
SELECT c.id, c.name, c.owner, c.country, c.email,
       make_date(1992, extract(month FROM current_date + 3)::int, extract(day FROM current_date + 3)::int),
       true, now() - interval '60 days'
  FROM (VALUES (9101, 'Cliente Ana Uno', 901, 'ES', 'uno@ana.example'),
               (9102, 'Lead Ana Dos', 901, 'ES', NULL),
               (9201, 'Cliente Luis Uno', 902, 'MX', 'uno@luis.example'),
               (9202, 'Lead Luis Dos', 902, 'MX', NULL)) c(id, name, owner, country, email);
UPDATE cartera.customer SET birthday = NULL WHERE customer_id IN (9102, 9202);
INSERT INTO cartera.purchase (customer_id, purchased_at, amount, product, category, external_id)
  VALUES (9101, now() - interval '50 days', 120, 'coche', 'motor', 'ana-1'),
         (9201, now() - interval '50 days', 130, 'coche', 'motor', 'luis-1');
INSERT INTO cartera.purchase (customer_id, purchased_at, amount, product, category, external_id)
  VALUES (9101, now() - interval '5 days', 20, 'aceite', 'motor', 'ana-2'),
         (9201, now() - interval '5 days', 25, 'aceite', 'motor', 'luis-2');
INSERT INTO cartera.interaction (customer_id, agent_id, channel, sentiment, is_complaint, note)
  VALUES (9101, 901, 'phone', -2, true, 'Queja de Ana Uno'),
         (9101, 901, 'visit', 1, false, 'Nota de Ana Uno'),
         (9201, 902, 'phone', -2, true, 'Queja de Luis Uno'),
         (9201, 902, 'visit', 1, false, 'Nota de Luis Uno');
INSERT INTO cartera.agent_target (agent_id, month, revenue_target)
  VALUES (901, date_trunc('month', current_date), 1000000), (902, date_trunc('month', current_date), 1000000);
DO $$ BEGIN PERFORM cartera.run_followups(current_date); END $$;
-- the deferred queue and its set-aside customers hold rows of every portfolio
INSERT INTO cartera.deferred_change (customer_id, recompute, source)
  SELECT c.customer_id, true, 'cartera.purchase' FROM cartera.customer c WHERE c.owner_agent_id IS NOT NULL;
INSERT INTO cartera.deferred_failure (customer_id, sqlstate, error, first_failed_at, last_failed_at, retry_at)
  SELECT c.customer_id, '22000', 'a broken rule', now(), now(), now() + interval '1 day'
    FROM cartera.customer c WHERE c.owner_agent_id IS NOT NULL;

-- What each agent owns, by the definition of docs/security.md (computed here
-- as superuser, without the policies).
CREATE TEMP TABLE table_key (tbl text, key text);
INSERT INTO table_key VALUES ('agent', 'agent_id'), ('customer', 'customer_id'), ('purchase', 'purchase_id'),
  ('interaction', 'interaction_id'), ('alert', 'alert_id'), ('customer_state', 'customer_id'),
  ('status_transition', 'transition_id'), ('agent_target', 'agent_id || '' '' || month'), ('alert_event', 'event_id'),
  ('deferred_change', 'change_id'), ('deferred_failure', 'customer_id');
CREATE TEMP TABLE expected_rows AS
  SELECT a.login::text AS who, r.tbl, r.id
    FROM cartera.agent a CROSS JOIN LATERAL (
      SELECT 'agent' AS tbl, a.agent_id::text AS id
      UNION ALL SELECT 'customer', c.customer_id::text FROM cartera.customer c WHERE c.owner_agent_id = a.agent_id
      UNION ALL SELECT 'purchase', p.purchase_id::text
                  FROM cartera.purchase p JOIN cartera.customer c USING (customer_id) WHERE c.owner_agent_id = a.agent_id
      UNION ALL SELECT 'interaction', i.interaction_id::text
                  FROM cartera.interaction i JOIN cartera.customer c USING (customer_id) WHERE c.owner_agent_id = a.agent_id
      UNION ALL SELECT 'alert', x.alert_id::text
                  FROM cartera.alert x LEFT JOIN cartera.customer c USING (customer_id)
                 WHERE c.owner_agent_id = a.agent_id OR (x.customer_id IS NULL AND x.agent_id = a.agent_id)
      UNION ALL SELECT 'customer_state', s.customer_id::text
                  FROM cartera.customer_state s JOIN cartera.customer c USING (customer_id) WHERE c.owner_agent_id = a.agent_id
      UNION ALL SELECT 'status_transition', t.transition_id::text
                  FROM cartera.status_transition t JOIN cartera.customer c USING (customer_id) WHERE c.owner_agent_id = a.agent_id
      UNION ALL SELECT 'agent_target', t.agent_id || ' ' || t.month FROM cartera.agent_target t WHERE t.agent_id = a.agent_id
      UNION ALL SELECT 'alert_event', e.event_id::text
                  FROM cartera.alert_event e JOIN cartera.alert x USING (alert_id) LEFT JOIN cartera.customer c ON c.customer_id = x.customer_id
                 WHERE c.owner_agent_id = a.agent_id OR (x.customer_id IS NULL AND x.agent_id = a.agent_id)
      UNION ALL SELECT 'deferred_change', d.change_id::text
                  FROM cartera.deferred_change d JOIN cartera.customer c USING (customer_id) WHERE c.owner_agent_id = a.agent_id
      UNION ALL SELECT 'deferred_failure', f.customer_id::text
                  FROM cartera.deferred_failure f JOIN cartera.customer c USING (customer_id) WHERE c.owner_agent_id = a.agent_id) r;
CREATE TEMP TABLE all_counts (tbl text, n bigint);
DO $$
DECLARE k record; n bigint;
BEGIN
  FOR k IN SELECT * FROM table_key LOOP
    EXECUTE format('SELECT count(*) FROM cartera.%I', k.tbl) INTO n;
    INSERT INTO all_counts VALUES (k.tbl, n);
  END LOOP;
END $$;
GRANT SELECT ON table_key, expected_rows, all_counts TO PUBLIC;
-- rows of a table the current role sees
CREATE FUNCTION pg_temp.count_rows(tbl text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM cartera.%I', tbl) INTO n;
  RETURN n;
END $$;

-- every table has rows of both portfolios, so no check below is vacuous
SELECT ok((SELECT count(*) FROM expected_rows e WHERE e.who = w AND e.tbl = k.tbl) > 0,
          format('%s has rows in cartera.%s', w, k.tbl))
  FROM table_key k CROSS JOIN (VALUES ('ana'), ('luis')) v(w) ORDER BY w, k.tbl;

------------------------------------------------------------------------------
-- The catalog: what is protected, what agents may execute
------------------------------------------------------------------------------
SELECT is(ARRAY(SELECT c.oid::regclass::text FROM pg_class c
                 WHERE c.relnamespace = 'cartera'::regnamespace AND c.relkind = 'r' AND NOT c.relrowsecurity
                   AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
                                  AND NOT a.attisdropped AND a.attname IN ('customer_id', 'agent_id', 'owner_agent_id', 'login'))
                 ORDER BY 1),
          '{}'::text[], 'every table holding customer or agent rows is under row-level security');
SELECT is(ARRAY(SELECT c.oid::regclass::text FROM pg_class c
                 WHERE c.relnamespace = 'cartera'::regnamespace AND c.relkind = 'r' AND NOT c.relrowsecurity
                   AND EXISTS (SELECT 1 FROM pg_constraint k JOIN pg_class r ON r.oid = k.confrelid
                                WHERE k.conrelid = c.oid AND k.contype = 'f' AND r.relrowsecurity)
                 ORDER BY 1),
          '{}'::text[], 'so is every table whose rows hang from such a table (a foreign key to it), as the history of the alerts');
SELECT is(ARRAY(SELECT c.oid::regclass::text FROM pg_class c
                 WHERE c.relnamespace = 'cartera'::regnamespace AND c.relkind = 'r' AND c.relrowsecurity
                   AND has_table_privilege('cartera_agent', c.oid, 'SELECT')
                   AND c.relname NOT IN (SELECT tbl FROM table_key)
                 ORDER BY 1),
          '{}'::text[], 'what agents see of every table under row-level security they may read is checked below');
SELECT is(ARRAY(SELECT c.oid::regclass::text FROM pg_class c
                 WHERE c.relnamespace = 'cartera'::regnamespace AND c.relforcerowsecurity ORDER BY 1),
          '{}'::text[], 'no FORCE ROW LEVEL SECURITY: the maintenance functions run as the owner and see everything');
SELECT is(ARRAY(SELECT c.oid::regclass::text FROM pg_class c
                 WHERE c.relnamespace = 'cartera'::regnamespace AND c.relkind = 'r' AND NOT c.relrowsecurity
                   AND (has_table_privilege('cartera_agent', c.oid, 'INSERT') OR has_table_privilege('cartera_agent', c.oid, 'UPDATE')
                        OR has_table_privilege('cartera_agent', c.oid, 'DELETE') OR has_table_privilege('cartera_agent', c.oid, 'TRUNCATE'))
                 ORDER BY 1),
          '{}'::text[], 'agents write only tables under row-level security');
SELECT is(ARRAY(SELECT c.oid::regclass::text FROM pg_class c
                 WHERE c.relnamespace = 'cartera'::regnamespace AND c.relkind = 'r'
                   AND (has_table_privilege('cartera_agent', c.oid, 'TRUNCATE') OR has_table_privilege('cartera_manager', c.oid, 'TRUNCATE'))
                 ORDER BY 1),
          '{}'::text[], 'nobody but the owner may TRUNCATE (it bypasses row-level security)');
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace = 'cartera'::regnamespace AND p.prosecdef
                   AND has_function_privilege('cartera_agent', p.oid, 'EXECUTE')
                 ORDER BY 1),
          '{}'::text[], 'agents can execute no SECURITY DEFINER function');
-- managers restore dumps (docs/security.md#backup-and-restore-by-a-manager):
-- pre_restore() works only on a new, empty portfolio that nobody but
-- managers may use, post_restore() only after it; both check the session user
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace = 'cartera'::regnamespace AND p.prosecdef
                   AND has_function_privilege('cartera_manager', p.oid, 'EXECUTE')
                 ORDER BY 1),
          '{post_restore(),pre_restore()}'::text[],
          'managers execute no SECURITY DEFINER function but pre_restore() and post_restore()');
SELECT is(ARRAY(SELECT p.oid::regprocedure FROM pg_proc p
                 WHERE p.pronamespace = 'cartera'::regnamespace AND p.proparallel <> 's'
                   AND has_function_privilege('cartera_agent', p.oid, 'EXECUTE') ORDER BY p.proname),
          ARRAY['cartera.acknowledge_alert(bigint)', 'cartera.alert_set_status(bigint,text,date,text)',
                'cartera.complete_alert(bigint,text)', 'cartera.dismiss_alert(bigint,text)',
                'cartera.handover_alert(bigint,bigint,text)', 'cartera.lock_open_alert(bigint)',
                'cartera.record_outcome(bigint,text,text)', 'cartera.snooze_alert(bigint,date)']::regprocedure[],
          'of the functions that change data, agents execute only the alert actions');
SELECT is(ARRAY(SELECT p.oid::regprocedure FROM pg_proc p
                 WHERE p.pronamespace = 'cartera'::regnamespace AND p.proparallel <> 's'
                   AND has_function_privilege('cartera_manager', p.oid, 'EXECUTE') ORDER BY p.proname),
          ARRAY['cartera.acknowledge_alert(bigint)', 'cartera.alert_set_status(bigint,text,date,text)',
                'cartera.assign_owner(bigint,boolean)', 'cartera.complete_alert(bigint,text)',
                'cartera.dismiss_alert(bigint,text)', 'cartera.forget_customer(bigint)',
                'cartera.handover_alert(bigint,bigint,text)', 'cartera.lock_open_alert(bigint)',
                'cartera.merge_customers(bigint,bigint)', 'cartera.post_restore()', 'cartera.pre_restore()',
                'cartera.record_outcome(bigint,text,text)', 'cartera.snooze_alert(bigint,date)']::regprocedure[],
          'managers also assign owners, merge duplicates, answer erasure requests and frame restores (pre_restore, post_restore), and run no maintenance job');
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace = 'cartera'::regnamespace AND p.proparallel <> 's'
                   AND has_function_privilege('public', p.oid, 'EXECUTE') ORDER BY 1),
          '{}'::text[], 'PUBLIC executes no function that changes data');
SELECT is(ARRAY(SELECT c.oid::regclass::text FROM pg_class c
                 WHERE c.relnamespace = 'cartera'::regnamespace AND c.relkind = 'm'
                   AND has_table_privilege('cartera_agent', c.oid, 'SELECT') ORDER BY 1),
          '{}'::text[], 'agents read no materialized view (they ignore row-level security)');
SELECT ok(NOT has_schema_privilege('cartera_agent', 'cartera', 'CREATE')
          AND NOT has_schema_privilege('cartera_manager', 'cartera', 'CREATE'), 'nobody but the owner creates objects in schema cartera');
SELECT throws_ok($$SELECT cartera.grant_manager_role('luis')$$, '0LP01', 'role luis is not a member of cartera_manager',
                 'grant_manager_role refuses a role that row-level security would not treat as a manager');
SELECT throws_ok($$SELECT cartera.set_session_defaults(NULL)$$, '22004', 'a role is needed',
                 'set_session_defaults (lock and idle timeouts of agents and managers, test/agent_locks.sh) needs a role');

------------------------------------------------------------------------------
-- Who is who
------------------------------------------------------------------------------
SET ROLE ana;
SELECT is(cartera.current_agent_id(), 901::bigint, 'ana is agent 901');
SELECT ok(NOT cartera.is_manager(), 'ana is not a manager');
SET ROLE luis;
SELECT is(cartera.current_agent_id(), 902::bigint, 'luis is agent 902');
SET ROLE marta;
SELECT ok(cartera.is_manager(), 'marta (member of cartera_manager) is a manager');
SELECT is(cartera.current_agent_id(), NULL::bigint, 'marta is not an agent');
RESET ROLE;
SELECT ok(cartera.is_manager(), 'a superuser is a manager');

------------------------------------------------------------------------------
-- What each role sees in the tables
------------------------------------------------------------------------------
SET ROLE ana;
SELECT results_eq(format('SELECT (%s)::text FROM cartera.%I ORDER BY 1', k.key, k.tbl),
                  format('SELECT id FROM expected_rows WHERE who = %L AND tbl = %L ORDER BY 1', 'ana', k.tbl),
                  format('ana sees exactly her own rows of cartera.%s', k.tbl))
  FROM table_key k ORDER BY k.tbl;
SET ROLE luis;
SELECT results_eq(format('SELECT (%s)::text FROM cartera.%I ORDER BY 1', k.key, k.tbl),
                  format('SELECT id FROM expected_rows WHERE who = %L AND tbl = %L ORDER BY 1', 'luis', k.tbl),
                  format('luis sees exactly his own rows of cartera.%s', k.tbl))
  FROM table_key k ORDER BY k.tbl;
SET ROLE marta;
SELECT is(pg_temp.count_rows(a.tbl), a.n, format('marta sees every row of cartera.%s', a.tbl))
  FROM all_counts a ORDER BY a.tbl;
SET ROLE sin_cartera;
SELECT is(pg_temp.count_rows(a.tbl), 0::bigint, format('a role with agent privileges but no agent row sees nothing of cartera.%s', a.tbl))
  FROM all_counts a WHERE a.tbl IN ('customer', 'purchase', 'alert') ORDER BY a.tbl;
SELECT throws_ok($$INSERT INTO cartera.customer (full_name) VALUES ('Huérfano')$$, '42501',
                 'new row violates row-level security policy for table "customer"',
                 'a role with no agent row cannot create customers');
SET ROLE intruso;
SELECT throws_ok('SELECT count(*) FROM cartera.customer', '42501', 'permission denied for table customer',
                 'a role without grants cannot read customers');
SELECT throws_ok('SELECT cartera.complete_alert(1)', '42501', 'permission denied for function complete_alert',
                 'a role without grants cannot act on alerts');
RESET ROLE;

------------------------------------------------------------------------------
-- The views: each one shows an agent exactly what it would show if the
-- other portfolios did not exist (non-interference), and a manager all.
------------------------------------------------------------------------------
-- a view's rows as one text, read as a role (NULL: as the caller)
CREATE FUNCTION pg_temp.view_as(v regclass, who name) RETURNS text LANGUAGE plpgsql AS $$
DECLARE t text;
BEGIN
  IF who IS NOT NULL THEN EXECUTE format('SET LOCAL ROLE %I', who); END IF;
  EXECUTE format('SELECT coalesce(string_agg(x::text, E''\n'' ORDER BY x::text), '''') FROM %s x', v) INTO t;
  IF who IS NOT NULL THEN RESET ROLE; END IF;
  RETURN t;
END $$;
-- the same, in a database where only the agent's portfolio exists (undone)
CREATE FUNCTION pg_temp.view_alone(v regclass, who name) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  me bigint := (SELECT agent_id FROM cartera.agent WHERE login = who);
  t text;
BEGIN
  BEGIN
    DELETE FROM cartera.alert x
     WHERE CASE WHEN x.customer_id IS NULL THEN x.agent_id IS DISTINCT FROM me
                ELSE x.customer_id NOT IN (SELECT customer_id FROM cartera.customer WHERE owner_agent_id = me) END;
    DELETE FROM cartera.interaction WHERE customer_id NOT IN (SELECT customer_id FROM cartera.customer WHERE owner_agent_id = me);
    DELETE FROM cartera.purchase WHERE customer_id NOT IN (SELECT customer_id FROM cartera.customer WHERE owner_agent_id = me);
    DELETE FROM cartera.customer WHERE owner_agent_id IS DISTINCT FROM me;
    DELETE FROM cartera.customer_state WHERE customer_id NOT IN (SELECT customer_id FROM cartera.customer);
    DELETE FROM cartera.status_transition WHERE customer_id NOT IN (SELECT customer_id FROM cartera.customer);
    DELETE FROM cartera.agent_target WHERE agent_id <> me;
    DELETE FROM cartera.agent WHERE agent_id <> me;
    t := pg_temp.view_as(v, who);
    RAISE EXCEPTION 'undo';
  EXCEPTION WHEN raise_exception THEN
    NULL;
  END;
  RETURN t;
END $$;

SELECT ok(c.reloptions @> ARRAY['security_invoker=true'], format('%s is security_invoker (a definer view bypasses row-level security)', c.oid::regclass))
  FROM pg_class c WHERE c.relnamespace = 'cartera'::regnamespace AND c.relkind = 'v' ORDER BY c.relname;
SELECT is(pg_temp.view_as(c.oid, w), pg_temp.view_alone(c.oid, w), format('%s as %s shows nothing of the other portfolio', c.oid::regclass, w))
  FROM pg_class c CROSS JOIN (VALUES ('ana'::name), ('luis')) v(w)
 WHERE c.relnamespace = 'cartera'::regnamespace AND c.relkind = 'v' ORDER BY c.relname, w;
SELECT is(pg_temp.view_as(c.oid, 'marta'), pg_temp.view_as(c.oid, NULL), format('%s as marta shows every portfolio', c.oid::regclass))
  FROM pg_class c WHERE c.relnamespace = 'cartera'::regnamespace AND c.relkind = 'v' ORDER BY c.relname;
-- the check catches a leak: a view that reads with its owner's rights
CREATE TEMP VIEW leaky AS SELECT owner_agent_id, full_name FROM cartera.customer;
GRANT SELECT ON leaky TO ana;
SELECT isnt(pg_temp.view_as('leaky', 'ana'), pg_temp.view_alone('leaky', 'ana'),
            'the non-interference check detects a view that is not security_invoker');

------------------------------------------------------------------------------
-- Attacks of one agent on the other's portfolio
------------------------------------------------------------------------------
-- rows affected by a statement
CREATE FUNCTION pg_temp.affected(sql text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
  EXECUTE sql;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;
-- rows affected by a statement, which is then undone
CREATE FUNCTION pg_temp.affected_undone(sql text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
  BEGIN
    EXECUTE sql;
    GET DIAGNOSTICS n = ROW_COUNT;
    RAISE EXCEPTION 'undo';
  EXCEPTION WHEN raise_exception THEN
    NULL;
  END;
  RETURN n;
END $$;
-- a fingerprint of everything in an agent's portfolio
CREATE FUNCTION pg_temp.fingerprint(who name) RETURNS text LANGUAGE sql AS $$
  WITH me AS (SELECT agent_id FROM cartera.agent WHERE login = who),
       mine AS (SELECT c.customer_id FROM cartera.customer c, me WHERE c.owner_agent_id = me.agent_id)
  SELECT md5(concat_ws('|',
    (SELECT string_agg(x::text, ',' ORDER BY x.agent_id) FROM cartera.agent x, me WHERE x.agent_id = me.agent_id),
    (SELECT string_agg(x::text, ',' ORDER BY x.customer_id) FROM cartera.customer x WHERE x.customer_id IN (SELECT * FROM mine)),
    (SELECT string_agg(x::text, ',' ORDER BY x.purchase_id) FROM cartera.purchase x WHERE x.customer_id IN (SELECT * FROM mine)),
    (SELECT string_agg(x::text, ',' ORDER BY x.interaction_id) FROM cartera.interaction x WHERE x.customer_id IN (SELECT * FROM mine)),
    (SELECT string_agg(x::text, ',' ORDER BY x.alert_id) FROM cartera.alert x, me
      WHERE x.customer_id IN (SELECT * FROM mine) OR x.agent_id = me.agent_id),
    (SELECT string_agg(x::text, ',' ORDER BY x.customer_id) FROM cartera.customer_state x WHERE x.customer_id IN (SELECT * FROM mine)),
    (SELECT string_agg(x::text, ',' ORDER BY x.transition_id) FROM cartera.status_transition x WHERE x.customer_id IN (SELECT * FROM mine)),
    (SELECT string_agg(x::text, ',' ORDER BY x.month) FROM cartera.agent_target x, me WHERE x.agent_id = me.agent_id),
    (SELECT string_agg(e::text, ',' ORDER BY e.event_id) FROM cartera.alert_event e JOIN cartera.alert x USING (alert_id), me
      WHERE x.customer_id IN (SELECT * FROM mine) OR x.agent_id = me.agent_id)))
$$;

-- 36 checks, run as the attacker
CREATE FUNCTION pg_temp.attacks(attacker name, victim name) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  a_agent bigint := (SELECT agent_id FROM cartera.agent WHERE login = attacker);
  v_agent bigint := (SELECT agent_id FROM cartera.agent WHERE login = victim);
  a_customer bigint := (SELECT min(customer_id) FROM cartera.customer WHERE owner_agent_id = a_agent);
  v_customer bigint := (SELECT min(customer_id) FROM cartera.customer WHERE owner_agent_id = v_agent);
  a_purchase bigint := (SELECT min(purchase_id) FROM cartera.purchase WHERE customer_id = a_customer);
  v_purchase bigint := (SELECT min(purchase_id) FROM cartera.purchase WHERE customer_id = v_customer);
  v_external text := (SELECT external_id FROM cartera.purchase WHERE purchase_id = v_purchase);
  v_interaction bigint := (SELECT min(interaction_id) FROM cartera.interaction WHERE customer_id = v_customer);
  a_alert bigint := (SELECT min(alert_id) FROM cartera.alert WHERE customer_id = a_customer AND status = 'open');
  v_alert bigint := (SELECT min(alert_id) FROM cartera.alert WHERE customer_id = v_customer AND status = 'open');
  v_agent_alert bigint := (SELECT min(alert_id) FROM cartera.alert WHERE customer_id IS NULL AND agent_id = v_agent);
  who text := attacker || ' on ' || victim || '''s portfolio: ';
  before text := pg_temp.fingerprint(victim);
BEGIN
  EXECUTE format('SET LOCAL ROLE %I', attacker);
  -- reading
  RETURN NEXT is((SELECT count(*) FROM cartera.customer WHERE customer_id = v_customer), 0::bigint, who || 'customer not visible by id');
  RETURN NEXT is((SELECT count(*) FROM cartera.customer_state WHERE customer_id = v_customer), 0::bigint, who || 'state not visible by id');
  RETURN NEXT is((SELECT count(*) FROM cartera.alert WHERE alert_id IN (v_alert, v_agent_alert)), 0::bigint, who || 'alerts not visible by id');
  -- changing what is there: nothing matches
  RETURN NEXT is(pg_temp.affected(format('UPDATE cartera.customer SET full_name = ''robado'' WHERE customer_id = %s', v_customer)),
                 0::bigint, who || 'UPDATE customer affects no row');
  RETURN NEXT is(pg_temp.affected(format('UPDATE cartera.customer SET owner_agent_id = %s WHERE customer_id = %s', a_agent, v_customer)),
                 0::bigint, who || 'cannot take the customer over');
  RETURN NEXT is(pg_temp.affected(format('UPDATE cartera.purchase SET amount = 0 WHERE purchase_id = %s', v_purchase)),
                 0::bigint, who || 'UPDATE purchase affects no row');
  RETURN NEXT is(pg_temp.affected(format('DELETE FROM cartera.purchase WHERE purchase_id = %s', v_purchase)),
                 0::bigint, who || 'DELETE purchase affects no row');
  RETURN NEXT is(pg_temp.affected_undone('DELETE FROM cartera.purchase'),
                 (SELECT count(*) FROM expected_rows WHERE expected_rows.who = attacker AND tbl = 'purchase'),
                 who || 'DELETE of every purchase reaches only the attacker''s own');
  RETURN NEXT is(pg_temp.affected(format('UPDATE cartera.interaction SET note = ''x'' WHERE interaction_id = %s', v_interaction)),
                 0::bigint, who || 'UPDATE interaction affects no row');
  RETURN NEXT is(pg_temp.affected(format('DELETE FROM cartera.interaction WHERE interaction_id = %s', v_interaction)),
                 0::bigint, who || 'DELETE interaction affects no row');
  RETURN NEXT is(pg_temp.affected(format('UPDATE cartera.alert SET status = ''dismissed'' WHERE alert_id IN (%s, %s)', v_alert, v_agent_alert)),
                 0::bigint, who || 'UPDATE alert affects no row');
  -- writing into the other portfolio: refused
  RETURN NEXT throws_ok(format('INSERT INTO cartera.purchase (customer_id, purchased_at, amount) VALUES (%s, now() - interval ''1 day'', 1)', v_customer),
                        '42501', 'new row violates row-level security policy for table "purchase"', who || 'cannot add a purchase');
  RETURN NEXT throws_ok(format('UPDATE cartera.purchase SET customer_id = %s WHERE purchase_id = %s', v_customer, a_purchase),
                        '42501', 'new row violates row-level security policy for table "purchase"', who || 'cannot move an own purchase there');
  RETURN NEXT throws_ok(format('INSERT INTO cartera.purchase (customer_id, purchased_at, amount, external_id) VALUES (%s, now() - interval ''1 day'', 1, %L) '
                               'ON CONFLICT (external_id) DO UPDATE SET amount = 0', a_customer, v_external),
                        '42501', 'new row violates row-level security policy (USING expression) for table "purchase"',
                        who || 'cannot overwrite a purchase through ON CONFLICT DO UPDATE');
  RETURN NEXT throws_ok(format('INSERT INTO cartera.customer (full_name, owner_agent_id) VALUES (''Regalo'', %s)', v_agent),
                        '42501', 'new row violates row-level security policy for table "customer"', who || 'cannot create a customer for the other agent');
  RETURN NEXT throws_ok(format('UPDATE cartera.customer SET owner_agent_id = %s WHERE customer_id = %s', v_agent, a_customer),
                        '42501', 'new row violates row-level security policy for table "customer"', who || 'cannot hand an own customer over');
  RETURN NEXT throws_ok(format('INSERT INTO cartera.interaction (customer_id, channel, note) VALUES (%s, ''phone'', ''x'')', v_customer),
                        '42501', 'new row violates row-level security policy for table "interaction"', who || 'cannot add an interaction');
  RETURN NEXT throws_ok(format('INSERT INTO cartera.interaction (customer_id, agent_id, channel, note) VALUES (%s, %s, ''phone'', ''x'')', a_customer, v_agent),
                        '42501', 'new row violates row-level security policy for table "interaction"', who || 'cannot sign an interaction as the other agent');
  RETURN NEXT throws_ok(format('UPDATE cartera.alert SET customer_id = %s WHERE alert_id = %s', v_customer, a_alert),
                        '42501', 'permission denied for table alert', who || 'cannot move an own alert (only its status columns are writable)');
  RETURN NEXT throws_ok(format('INSERT INTO cartera.alert (customer_id, kind, colour, raised_at, due_on, message) VALUES (%s, ''complaint'', ''red'', now(), current_date, ''x'')', v_customer),
                        '42501', 'permission denied for table alert', who || 'cannot raise alerts');
  RETURN NEXT throws_ok(format('DELETE FROM cartera.customer WHERE customer_id = %s', v_customer),
                        '42501', 'permission denied for table customer', who || 'cannot delete customers');
  RETURN NEXT throws_ok('TRUNCATE cartera.purchase', '42501', 'permission denied for table purchase', who || 'cannot TRUNCATE (it would bypass row-level security)');
  RETURN NEXT throws_ok(format('UPDATE cartera.agent SET login = %L WHERE agent_id = %s', attacker, v_agent),
                        '42501', 'permission denied for table agent', who || 'cannot change the agent mapping');
  -- the alert actions (SECURITY INVOKER): the other's alerts do not exist
  RETURN NEXT throws_ok(format('SELECT cartera.complete_alert(%s)', v_alert), 'P0002', format('alert %s does not exist', v_alert), who || 'complete_alert');
  RETURN NEXT throws_ok(format('SELECT cartera.acknowledge_alert(%s)', v_alert), 'P0002', format('alert %s does not exist', v_alert), who || 'acknowledge_alert');
  RETURN NEXT throws_ok(format('SELECT cartera.snooze_alert(%s, current_date + 3)', v_alert), 'P0002', format('alert %s does not exist', v_alert), who || 'snooze_alert');
  RETURN NEXT throws_ok(format('SELECT cartera.dismiss_alert(%s, ''no'')', v_agent_alert), 'P0002', format('alert %s does not exist', v_agent_alert), who || 'dismiss_alert of an agent alert');
  -- maintenance and administration: not executable
  RETURN NEXT throws_ok('SELECT * FROM cartera.run_followups()', '42501', 'permission denied for function run_followups', who || 'run_followups');
  RETURN NEXT throws_ok('SELECT * FROM cartera.refresh()', '42501', 'permission denied for function refresh', who || 'refresh');
  RETURN NEXT throws_ok(format('SELECT * FROM cartera.recompute_state(ARRAY[%s]::bigint[], now())', v_customer),
                        '42501', 'permission denied for function recompute_state', who || 'recompute_state');
  RETURN NEXT throws_ok(format('SELECT * FROM cartera.raise_alerts(ARRAY[%s]::bigint[], ARRAY[''complaint''], ARRAY[NULL::date], ARRAY[''x''], ARRAY[NULL::bigint], now())', v_customer),
                        '42501', 'permission denied for function raise_alerts', who || 'raise_alerts');
  RETURN NEXT throws_ok(format('SELECT cartera.assign_owner(%s, true)', v_customer),
                        '42501', 'permission denied for function assign_owner', who || 'assign_owner');
  RETURN NEXT throws_ok(format('SELECT cartera.grant_manager_role(%L)', attacker),
                        '42501', 'permission denied for function grant_manager_role', who || 'grant_manager_role');
  RETURN NEXT throws_ok('CREATE FUNCTION cartera.current_agent_id(x int) RETURNS bigint LANGUAGE sql AS ''SELECT 1::bigint''',
                        '42501', 'permission denied for schema cartera', who || 'cannot plant functions in schema cartera');
  -- what the attacker may do still works on their own portfolio
  RETURN NEXT is(cartera.acknowledge_alert(a_alert), 'acknowledged', who || 'acknowledges an own alert');
  RESET ROLE;
  RETURN NEXT is(pg_temp.fingerprint(victim), before, who || 'the victim''s portfolio is unchanged');
END $$;

SELECT * FROM pg_temp.attacks('ana', 'luis');
SELECT * FROM pg_temp.attacks('luis', 'ana');

------------------------------------------------------------------------------
-- Agents at work on their own portfolio
------------------------------------------------------------------------------
SET ROLE ana;
INSERT INTO cartera.customer (full_name, country) VALUES ('Nueva de Ana', 'ES');
SELECT is((SELECT owner_agent_id FROM cartera.customer WHERE full_name = 'Nueva de Ana'), 901::bigint,
          'a customer an agent adds without an owner is theirs');
SELECT lives_ok($$INSERT INTO cartera.purchase (customer_id, purchased_at, amount)
                  SELECT customer_id, now() - interval '2 hours', 42 FROM cartera.customer WHERE full_name = 'Nueva de Ana'$$,
                'an agent records a purchase of their customer');
SELECT is((SELECT (s.summary).purchases || ' ' || s.status FROM cartera.customer_state s JOIN cartera.customer c USING (customer_id)
            WHERE c.full_name = 'Nueva de Ana'), '1 new', 'the triggers (SECURITY DEFINER) keep the state of the agent''s customer');
SELECT is((SELECT count(*) FROM cartera.alert a JOIN cartera.customer c USING (customer_id)
            WHERE c.full_name = 'Nueva de Ana' AND a.kind = 'welcome'), 1::bigint, 'and raise the welcome alert for the agent');
INSERT INTO cartera.interaction (customer_id, channel, is_complaint, note)
  SELECT customer_id, 'chat', true, 'No llegó el pedido' FROM cartera.customer WHERE full_name = 'Nueva de Ana';
SELECT is((SELECT i.agent_id FROM cartera.interaction i JOIN cartera.customer c USING (customer_id) WHERE c.full_name = 'Nueva de Ana'),
          901::bigint, 'an interaction an agent records is signed by them');
SELECT is((SELECT a.agent_id FROM cartera.alert a JOIN cartera.customer c USING (customer_id)
            WHERE c.full_name = 'Nueva de Ana' AND a.kind = 'complaint'), 901::bigint, 'a complaint raises a red alert for the owner');
SELECT is(cartera.complete_alert(a.alert_id, 'llamada hecha'), 'done', 'ana completes her alert')
  FROM cartera.alert a JOIN cartera.customer c USING (customer_id) WHERE c.full_name = 'Nueva de Ana' AND a.kind = 'complaint';
SELECT is(cartera.snooze_alert(min(alert_id), current_date + 7), 'snoozed', 'ana snoozes her agent alert')
  FROM cartera.alert WHERE customer_id IS NULL;
-- in deferred mode the INSERT trigger is not SECURITY DEFINER: its C code
-- takes the owner's identity for its own work and gives the agent's back,
-- also when it refuses the purchase
RESET ROLE;
SELECT cartera.set_purchase_mode('cartera.purchase', 'deferred');
SET ROLE ana;
SELECT lives_ok($$INSERT INTO cartera.purchase (customer_id, purchased_at, amount)
                  SELECT customer_id, now() - interval '1 hour', 8 FROM cartera.customer WHERE full_name = 'Nueva de Ana'$$,
                'in deferred mode an agent records a purchase of their customer (the trigger reads cartera''s settings as its owner)');
SELECT is(current_user::text, 'ana', 'and is still herself after the deferred trigger');
SELECT throws_ok($$INSERT INTO cartera.purchase (customer_id, purchased_at, amount)
                   SELECT customer_id, now() + interval '1 day', 8 FROM cartera.customer WHERE full_name = 'Nueva de Ana'$$,
                 '23514', NULL, 'the deferred trigger refuses a purchase in the future');
SELECT is(current_user::text, 'ana', 'and the agent is herself again after its error');
SELECT throws_ok($$INSERT INTO cartera.deferred_change (customer_id, source) VALUES (1, 'cartera.purchase')$$, '42501', NULL,
                 'the agent cannot write the queue herself (the owner''s identity did not stay with her)');
RESET ROLE;
SELECT is((SELECT count(*) FROM cartera.deferred_change d JOIN cartera.customer c USING (customer_id)
            WHERE c.full_name = 'Nueva de Ana'), 1::bigint, 'the agent''s deferred purchase is queued once');
SELECT cartera.set_purchase_mode('cartera.purchase', 'immediate');
SELECT is((SELECT (s.summary).purchases FROM cartera.customer_state s JOIN cartera.customer c USING (customer_id)
            WHERE c.full_name = 'Nueva de Ana'), 2::bigint, 'and applied when the source goes back to immediate mode');
SET ROLE luis;
SELECT is((SELECT count(*) FROM cartera.customer WHERE full_name = 'Nueva de Ana'), 0::bigint, 'luis does not see ana''s new customer');
SELECT is((SELECT count(*) FROM cartera.alert WHERE customer_id IS NULL AND status = 'snoozed'), 0::bigint, 'nor her snoozed alert');

------------------------------------------------------------------------------
-- The manager
------------------------------------------------------------------------------
SET ROLE marta;
SELECT is(cartera.complete_alert(min(alert_id), 'hecho por la jefa'), 'done', 'marta completes an alert of luis')
  FROM cartera.alert WHERE customer_id = 9201 AND status = 'open';
SELECT is(cartera.assign_owner(9201, true), 901::bigint, 'marta moves a customer of luis to ana');
SELECT throws_ok('SELECT * FROM cartera.run_followups()', '42501', 'permission denied for function run_followups',
                 'managers do not run the maintenance jobs');
SET ROLE ana;
SELECT is((SELECT count(*) FROM cartera.purchase WHERE customer_id = 9201), 2::bigint, 'ana now sees the purchases of the customer she received');
SELECT ok((SELECT count(*) FROM cartera.status_transition WHERE customer_id = 9201) > 0, 'and their history');
SELECT ok((SELECT bool_and(agent_id = 901) FROM cartera.alert WHERE customer_id = 9201 AND status IN ('open', 'acknowledged', 'snoozed')),
          'and their open alerts are hers');
SET ROLE luis;
SELECT is((SELECT count(*) FROM cartera.purchase WHERE customer_id = 9201), 0::bigint, 'luis no longer sees them');
SELECT is((SELECT count(*) FROM cartera.alert WHERE customer_id = 9201), 0::bigint, 'nor their alerts, closed ones included');
RESET ROLE;
-- merge_customers() is a manager's tool (its comment says so): a manager
-- merges two customers, an agent cannot, not even two of her own
INSERT INTO cartera.customer (customer_id, full_name, owner_agent_id, email) VALUES
  (9103, 'Duplicado Ana', 901, 'dup@ana.example'), (9104, 'Duplicado Ana Bis', 901, NULL);
INSERT INTO cartera.purchase (customer_id, purchased_at, amount, external_id) VALUES (9104, now() - interval '9 days', 33, 'ana-dup');
INSERT INTO cartera.interaction (customer_id, agent_id, channel, note) VALUES (9104, 901, 'phone', 'Nota del duplicado');
SET ROLE ana;
SELECT throws_ok('SELECT cartera.merge_customers(9103, 9104)', '42501', 'permission denied for function merge_customers',
                 'an agent cannot merge customers, not even two of her own');
SET ROLE luis;
SELECT throws_ok('SELECT cartera.merge_customers(9103, 9104)', '42501', 'permission denied for function merge_customers',
                 'nor another agent');
SET ROLE marta;
SELECT is((SELECT m.keep_id || ' ' || m.drop_id || ' ' || m.merged_by FROM cartera.merge_customers(9103, 9104) m),
          '9103 9104 marta', 'a manager merges two customers (grant_manager_role grants merge_customers)');
SELECT is((SELECT count(*) FROM cartera.customer WHERE customer_id = 9104), 0::bigint, 'the duplicate is gone');
SELECT is((SELECT count(*) || ' ' || sum(amount) FROM cartera.purchase WHERE customer_id = 9103), '1 33',
          'its purchase moved to the customer kept');
SELECT is((SELECT (summary).purchases || ' ' || status FROM cartera.customer_state WHERE customer_id = 9103), '1 new',
          'whose state follows it');
SELECT is((SELECT count(*) FROM cartera.interaction WHERE customer_id = 9103), 1::bigint, 'and so do its interactions');
SET ROLE ana;
SELECT throws_ok('SELECT count(*) FROM cartera.customer_merge', '42501', 'permission denied for table customer_merge',
                 'agents do not read the merge log');
RESET ROLE;
SELECT is((SELECT count(*) FROM cartera.customer_merge WHERE keep_id = 9103 AND drop_id = 9104 AND merged_by = 'marta'),
          1::bigint, 'the merge is logged with the manager''s name');

------------------------------------------------------------------------------
-- search_path hijacking (CVE-2018-1058 class): the agent plants functions and
-- an operator in a schema it owns (as public was before PostgreSQL 15) and
-- tables in its temporary schema, puts both before pg_catalog on its
-- search_path and makes extension code run: SECURITY DEFINER triggers, the
-- policies' functions, the alert actions.  The planted objects raise an
-- error or lie; the extension must never call them.
------------------------------------------------------------------------------
CREATE SCHEMA trampa AUTHORIZATION ana;
CREATE TEMP TABLE hijack (step text, outcome text);
GRANT ALL ON hijack TO ana;
CREATE FUNCTION pg_temp.attempt(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE sql;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLERRM;
END $$;
CREATE TEMP TABLE luis_state AS SELECT * FROM cartera.customer_state WHERE customer_id IN (9201, 9202);

SET ROLE ana;
CREATE FUNCTION trampa.hijacked_eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'hijacked ='; END$$;
CREATE OPERATOR trampa.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = trampa.hijacked_eq);
CREATE FUNCTION trampa.hijacked_lt(timestamptz, timestamptz) RETURNS boolean LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'hijacked >'; END$$;
CREATE OPERATOR trampa.> (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = trampa.hijacked_lt);
CREATE FUNCTION trampa.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'hijacked clock_timestamp'; END$$;
CREATE FUNCTION trampa.now() RETURNS timestamptz LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'hijacked now'; END$$;
CREATE FUNCTION trampa.current_setting(text, boolean) RETURNS text LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'hijacked current_setting'; END$$;
CREATE FUNCTION trampa.format(text, text) RETURNS text LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'hijacked format'; END$$;
CREATE FUNCTION trampa.format(text, text, text) RETURNS text LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'hijacked format'; END$$;
CREATE FUNCTION trampa.pg_has_role(name, oid, text) RETURNS boolean LANGUAGE sql AS 'SELECT true';
-- tables named like the triggers' transition table and like cartera.agent,
-- pointing at luis (customer 9202, agent 902)
CREATE TEMP TABLE new_rows (purchase_id bigint, customer_id bigint, purchased_at timestamptz, amount numeric);
INSERT INTO new_rows VALUES (-1, 9202, '2024-01-01', 1);
CREATE TEMP TABLE agent (agent_id bigint, login name);
INSERT INTO agent VALUES (902, 'ana');
SET search_path = pg_temp, trampa, pg_catalog, cartera;
INSERT INTO hijack VALUES
  ('1 purchase', pg_temp.attempt($q$INSERT INTO cartera.purchase (customer_id, purchased_at, amount, product)
                                    VALUES (9102, pg_catalog.now() OPERATOR(pg_catalog.-) interval '1 day', 15, 'coche')$q$)),
  ('2 purchase update', pg_temp.attempt($q$UPDATE cartera.purchase SET amount = 16 WHERE customer_id OPERATOR(pg_catalog.=) 9102$q$)),
  ('3 customer', pg_temp.attempt($q$INSERT INTO cartera.customer (full_name) VALUES ('Secuestro')$q$)),
  ('4 complaint', pg_temp.attempt($q$INSERT INTO cartera.interaction (customer_id, channel, is_complaint, note)
                                     VALUES (9102, 'phone', true, 'x')$q$)),
  ('5 alert action', pg_temp.attempt($q$SELECT cartera.acknowledge_alert(alert_id) FROM cartera.alert
                                        WHERE customer_id OPERATOR(pg_catalog.=) 9102 AND kind OPERATOR(pg_catalog.=) 'complaint'$q$));
INSERT INTO hijack VALUES
  ('6 is_manager', cartera.is_manager()::text),
  ('7 current_agent_id', cartera.current_agent_id()::text),
  ('8 customers seen', (SELECT count(*) FROM cartera.customer)::text);
RESET search_path;
SET search_path = public, cartera;
RESET ROLE;
SELECT results_eq($$SELECT step, outcome FROM hijack ORDER BY step$$,
                  $$VALUES ('1 purchase', 'ok'), ('2 purchase update', 'ok'), ('3 customer', 'ok'), ('4 complaint', 'ok'),
                           ('5 alert action', 'ok'), ('6 is_manager', 'false'), ('7 current_agent_id', '901'),
                           ('8 customers seen', (SELECT count(*) FROM cartera.customer WHERE owner_agent_id = 901)::text)$$,
                  'with planted objects first on its search_path, the agent runs only the extension''s own code and stays herself');
SELECT is((SELECT owner_agent_id FROM cartera.customer WHERE full_name = 'Secuestro'), 901::bigint,
          'the customer added under the hijacked path is ana''s');
SELECT results_eq($$SELECT * FROM cartera.customer_state WHERE customer_id IN (9201, 9202) ORDER BY customer_id$$,
                  $$SELECT * FROM luis_state ORDER BY customer_id$$,
                  'the planted new_rows table does not make the triggers touch luis''s customers');
SELECT is((SELECT string_agg(kind || ':' || status, ',' ORDER BY kind) FROM cartera.alert
            WHERE customer_id = 9102 AND kind IN ('welcome', 'complaint')), 'complaint:acknowledged,welcome:open',
          'the definer code raised ana''s welcome and complaint alerts, and she acted on hers');

SELECT * FROM finish();
ROLLBACK;
