-- cartera.pre_restore() / cartera.post_restore(): a manager who is not
-- superuser frames the restore of a dump into a new database
-- (docs/data-model.md#backups).  What they refuse, what they turn off and on,
-- the privileges they lend and take back, the check of the restored state,
-- and the purchase triggers refusing tables that are not registered sources.
-- test/dump_restore.sh runs real pg_dump / psql / pg_restore round trips.
-- Everything happens in one transaction that is rolled back.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SET client_min_messages = warning;
-- a new database: the extension just created, nothing in it
DROP EXTENSION IF EXISTS cartera CASCADE;
CREATE EXTENSION cartera;
SET search_path = public;
SELECT * FROM no_plan();

DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cartera_manager') THEN
    CREATE ROLE cartera_manager NOLOGIN;
  END IF;
END $$;
CREATE ROLE rs_mgr LOGIN IN ROLE cartera_manager;
CREATE ROLE rs_agent NOLOGIN;
CREATE ROLE rs_ana LOGIN IN ROLE rs_agent;
CREATE ROLE rs_intruder LOGIN;
GRANT CREATE ON SCHEMA public TO rs_mgr;
DO $$ BEGIN PERFORM cartera.grant_manager_role('cartera_manager'); PERFORM cartera.grant_agent_role('rs_agent'); END $$;
CREATE TABLE public.rs_secret (client bigint, at date, total numeric);   -- the manager may not read it

CREATE TEMP TABLE maintenance_triggers AS
  SELECT t.oid, t.tgrelid::regclass AS tbl, t.tgname FROM pg_trigger t
   WHERE t.tgfoid = ANY (cartera.maintenance_trigger_functions()) AND NOT t.tgisinternal;
GRANT SELECT ON maintenance_triggers TO PUBLIC;
SELECT is((SELECT string_agg(tbl || '.' || tgname, ', ' ORDER BY tbl::text, tgname) FROM maintenance_triggers),
          'cartera.alert.alert_changes_logged, cartera.alert.alert_logged, '
          'cartera.customer.cartera_customer_delete, cartera.customer.cartera_customer_insert, cartera.customer.customer_assign_owner, '
          'cartera.interaction.interaction_complaint, cartera.purchase.cartera_state_delete, cartera.purchase.cartera_state_insert, '
          'cartera.purchase.cartera_state_truncate, cartera.purchase.cartera_state_update',
          'the maintenance triggers: state, transitions, owners, alerts, alert history');

------------------------------------------------------------------------------
-- What pre_restore() and post_restore() refuse
------------------------------------------------------------------------------
SET SESSION AUTHORIZATION rs_ana;
SELECT throws_ok('SELECT cartera.pre_restore()', '42501', 'permission denied for function pre_restore',
                 'an agent cannot start a restore');
SELECT throws_ok('SELECT * FROM cartera.post_restore()', '42501', 'permission denied for function post_restore',
                 'nor end one');
RESET SESSION AUTHORIZATION;
GRANT EXECUTE ON FUNCTION cartera.pre_restore(), cartera.post_restore() TO rs_intruder;
SET SESSION AUTHORIZATION rs_intruder;
SELECT throws_ok('SELECT cartera.pre_restore()', '42501', 'only a manager may restore a portfolio',
                 'a role given EXECUTE by mistake, but no manager, cannot start a restore');
SELECT throws_ok('SELECT * FROM cartera.post_restore()', '42501', 'only a manager may restore a portfolio',
                 'nor end one');
RESET SESSION AUTHORIZATION;

SET SESSION AUTHORIZATION rs_mgr;
SELECT throws_ok('SELECT * FROM cartera.post_restore()', '55000', 'cartera is not being restored',
                 'post_restore() without pre_restore() is refused');
SELECT throws_ok('SELECT cartera.pre_restore()', '55000', 'roles that are not managers may use the portfolio tables: rs_agent',
                 'pre_restore() refuses while an agent role holds privileges: row-level security will be off');
RESET SESSION AUTHORIZATION;
REVOKE ALL ON ALL TABLES IN SCHEMA cartera FROM rs_agent;
INSERT INTO cartera.agent (agent_id, name) VALUES (1, 'Ya existe');
SET SESSION AUTHORIZATION rs_mgr;
SELECT throws_ok('SELECT cartera.pre_restore()', '55000', 'cartera.agent is not empty',
                 'pre_restore() refuses a portfolio that is not empty: it prepares a new database');
RESET SESSION AUTHORIZATION;
DELETE FROM cartera.agent;
DO $$ BEGIN PERFORM cartera.segment_map_customize(); END $$;
SET SESSION AUTHORIZATION rs_mgr;
SELECT throws_ok('SELECT cartera.pre_restore()', '55000', 'cartera.segment_map is not empty',
                 'the configuration tables too');
RESET SESSION AUTHORIZATION;
DELETE FROM cartera.segment_map;

------------------------------------------------------------------------------
-- The restore.  The manager puts look-alikes of what the two SECURITY
-- DEFINER functions call first on the path: none may run.
------------------------------------------------------------------------------
CREATE SCHEMA rs_trap AUTHORIZATION rs_mgr;
SET SESSION AUTHORIZATION rs_mgr;
CREATE FUNCTION rs_trap.trap(what text) RETURNS void LANGUAGE plpgsql AS
  $$BEGIN RAISE EXCEPTION 'planted % ran', what USING ERRCODE = 'RS001'; END$$;
CREATE FUNCTION rs_trap.format(text, VARIADIC text[]) RETURNS text LANGUAGE plpgsql AS
  $$BEGIN PERFORM rs_trap.trap('format'); RETURN NULL; END$$;
CREATE FUNCTION rs_trap.array_length(anyarray, integer) RETURNS integer LANGUAGE plpgsql AS
  $$BEGIN PERFORM rs_trap.trap('array_length'); RETURN NULL; END$$;
CREATE FUNCTION rs_trap.unnest(anyarray) RETURNS SETOF anyelement LANGUAGE plpgsql AS
  $$BEGIN PERFORM rs_trap.trap('unnest'); END$$;
CREATE FUNCTION rs_trap.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS
  $$BEGIN PERFORM rs_trap.trap('clock_timestamp'); RETURN NULL; END$$;
CREATE FUNCTION rs_trap.has_table_privilege(oid, text) RETURNS boolean LANGUAGE plpgsql AS
  $$BEGIN PERFORM rs_trap.trap('has_table_privilege'); RETURN NULL; END$$;
CREATE FUNCTION rs_trap.rs_eq(oid, oid) RETURNS boolean LANGUAGE plpgsql AS
  $$BEGIN PERFORM rs_trap.trap('='); RETURN NULL; END$$;
CREATE OPERATOR rs_trap.= (FUNCTION = rs_trap.rs_eq, LEFTARG = oid, RIGHTARG = oid);
SET search_path = rs_trap, pg_catalog, public;
CREATE TEMP TABLE pre_result AS SELECT cartera.pre_restore() AS started;
SET search_path = public;
SELECT ok((SELECT started FROM pre_result), 'a manager (not superuser) starts the restore of a new database (no look-alike ran)');
SELECT is((SELECT started_by::text FROM cartera.restore_in_progress), 'rs_mgr', 'the restore is visible, with who started it');
SELECT throws_ok('SELECT cartera.pre_restore()', '55000', 'cartera is already being restored', 'pre_restore() twice is refused');
RESET SESSION AUTHORIZATION;
SELECT is(ARRAY(SELECT c.oid::regclass::text FROM pg_class c
                 WHERE c.relnamespace = 'cartera'::regnamespace AND c.relrowsecurity ORDER BY 1),
          '{}'::text[], 'row-level security is off (COPY FROM refuses a table under it)');
SELECT is((SELECT string_agg(DISTINCT t.tgenabled::text, ',') FROM pg_trigger t JOIN maintenance_triggers m ON m.oid = t.oid),
          'D', 'the maintenance triggers are disabled');
SELECT is((SELECT t.tgenabled::text FROM pg_trigger t WHERE t.tgname = 'segment_map_changed'), 'O',
          'the check of the segment map stays on');
SELECT ok(has_table_privilege('cartera_manager', 'cartera.customer_state', 'INSERT')
          AND has_table_privilege('cartera_manager', 'cartera.status_transition', 'INSERT')
          AND has_table_privilege('cartera_manager', 'cartera.portfolio_model', 'INSERT')
          AND has_table_privilege('cartera_manager', 'cartera.purchase_source', 'INSERT')
          AND has_table_privilege('cartera_manager', 'cartera.customer_merge', 'INSERT')
          AND has_column_privilege('cartera_manager', 'cartera.customer', 'customer_id', 'INSERT')
          AND has_sequence_privilege('cartera_manager', 'cartera.status_transition_transition_id_seq', 'UPDATE')
          AND has_function_privilege('cartera_manager', 'cartera.purchase_rows_added()', 'EXECUTE'),
          'cartera_manager may write the derived tables, set the sequences and create purchase triggers');
SELECT throws_ok('SELECT * FROM cartera.run_followups()', '55000', 'run_followups() is not possible while cartera is being restored',
                 'the daily job refuses to run while a restore is open (a forgotten post_restore() does not go unnoticed)');
SELECT throws_ok('SELECT * FROM cartera.refresh()', '55000', 'refresh() is not possible while cartera is being restored',
                 'and refresh()');
SELECT throws_ok($$SELECT cartera.grant_agent_role('rs_agent')$$, '55000',
                 'granting agent privileges to rs_agent is not possible while cartera is being restored',
                 'an agent role gets no privileges while row-level security is off');

-- what a dump holds, loaded by the manager (pg_dump's COPY does the same)
SET SESSION AUTHORIZATION rs_mgr;
INSERT INTO cartera.agent (agent_id, name, login) VALUES (1, 'Ana', 'rs_ana');
INSERT INTO cartera.customer (customer_id, full_name, owner_agent_id) VALUES
  (1, 'Uno', 1), (2, 'Dos', 1), (3, 'Tres', 1), (4, 'Cuatro', 1), (5, 'Sin dueño', NULL);
INSERT INTO cartera.purchase (customer_id, purchased_at, amount) VALUES
  (1, '2020-01-01', 10), (1, '2020-03-01', 20), (2, '2020-02-01', 30), (3, '2020-02-01', 40);
INSERT INTO cartera.interaction (customer_id, channel, is_complaint, note) VALUES (1, 'phone', true, 'queja restaurada');
-- the state of 1 and 5 as the source kept it; 3 stale; 2 and 4 missing
INSERT INTO cartera.customer_state (customer_id, summary, status, rfm_state)
  SELECT 1, cartera.rfm(p.purchased_at, p.amount, '2021-01-01'), 'lost', cartera.rfm_state(p.purchased_at, p.amount, '2021-01-01')
    FROM cartera.purchase p WHERE p.customer_id = 1;
INSERT INTO cartera.customer_state (customer_id, summary, status)
  VALUES (5, ROW(NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, '2021-01-01')::cartera.rfm_summary, 'lead'),
         (3, ROW(NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, '2021-01-01')::cartera.rfm_summary, 'lead');
INSERT INTO cartera.status_transition (transition_id, customer_id, changed_at, from_status, to_status)
  VALUES (41, 1, '2020-01-01', 'lead', 'new');
INSERT INTO cartera.alert (alert_id, customer_id, agent_id, kind, colour, raised_at, due_on, message, status)
  VALUES (51, 1, 1, 'complaint', 'red', '2020-01-01', '2020-01-02', 'queja', 'open');
DO $$ BEGIN PERFORM setval('cartera.status_transition_transition_id_seq', 41); END $$;
SELECT is((SELECT count(*) FROM cartera.customer_state), 3::bigint, 'no trigger added state rows');
SELECT is((SELECT string_agg(transition_id::text, ',') FROM cartera.status_transition), '41', 'nor transitions');
SELECT is((SELECT string_agg(alert_id::text, ',') FROM cartera.alert), '51', 'nor alerts (the restored complaint raised none)');
SELECT is((SELECT owner_agent_id FROM cartera.customer WHERE customer_id = 5), NULL::bigint,
          'a customer restored without owner keeps none (no assignment)');

-- tracked tables of the dump: the manager creates them, registers them and
-- creates their triggers
CREATE TABLE public.rs_orders (id serial, client bigint, client2 bigint, at date, total numeric);
INSERT INTO public.rs_orders (client, at, total) VALUES (4, '2020-05-01', 7);
CREATE TABLE public.rs_other (client bigint, at date, total numeric);
SELECT lives_ok($$INSERT INTO cartera.purchase_source VALUES ('public.rs_orders', 'client', 'at', 'total')$$,
                'the manager registers a tracked table of theirs');
SELECT throws_ok($$INSERT INTO cartera.purchase_source VALUES ('public.rs_secret', 'client', 'at', 'total')$$,
                 '42501', 'permission denied to track the purchases of public.rs_secret',
                 'but not a table they may not read (the maintenance would read it as the owner)');
CREATE TRIGGER cartera_state_insert AFTER INSERT ON public.rs_orders REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cartera.purchase_rows_added('client', 'at', 'total');
CREATE TRIGGER cartera_state_update AFTER UPDATE ON public.rs_orders REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cartera.purchase_rows_changed('client2', 'at');
CREATE TRIGGER rs_insert AFTER INSERT ON public.rs_other REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cartera.purchase_rows_added('client', 'at', 'total');
CREATE TRIGGER rs_update AFTER UPDATE ON public.rs_other REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cartera.purchase_rows_changed('client', 'at');

SET search_path = rs_trap, pg_catalog, public;
CREATE TEMP TABLE post_result AS SELECT customers, repaired FROM cartera.post_restore();
SET search_path = public;
SELECT results_eq('SELECT customers, repaired FROM post_result', 'VALUES (5::bigint, 3::bigint)',
                  'post_restore() recomputes the customers whose state does not match their purchases: 2 and 4 without state, 3 stale (no look-alike ran)');
RESET SESSION AUTHORIZATION;

------------------------------------------------------------------------------
-- After the restore
------------------------------------------------------------------------------
SELECT is((SELECT count(*) FROM cartera.restore_in_progress), 0::bigint, 'the restore is over');
SELECT is(ARRAY(SELECT c.oid::regclass::text FROM pg_class c
                 WHERE c.relnamespace = 'cartera'::regnamespace AND c.relkind = 'r' AND c.relrowsecurity ORDER BY 1),
          '{cartera.agent,cartera.agent_target,cartera.alert,cartera.alert_event,cartera.customer,cartera.customer_state,cartera.deferred_change,cartera.deferred_failure,cartera.interaction,cartera.purchase,cartera.status_transition}'::text[],
          'row-level security is on again');
SELECT is((SELECT string_agg(DISTINCT t.tgenabled::text, ',') FROM pg_trigger t JOIN maintenance_triggers m ON m.oid = t.oid),
          'O', 'the maintenance triggers are enabled again');
SELECT ok(NOT has_table_privilege('cartera_manager', 'cartera.customer_state', 'INSERT')
          AND NOT has_table_privilege('cartera_manager', 'cartera.status_transition', 'INSERT')
          AND NOT has_table_privilege('cartera_manager', 'cartera.portfolio_model', 'INSERT')
          AND NOT has_table_privilege('cartera_manager', 'cartera.purchase_source', 'INSERT')
          AND NOT has_column_privilege('cartera_manager', 'cartera.customer', 'customer_id', 'INSERT')
          AND NOT has_column_privilege('cartera_manager', 'cartera.purchase', 'purchase_id', 'INSERT')
          AND has_table_privilege('cartera_manager', 'cartera.customer_merge', 'INSERT')   -- a manager's own (merges)
          AND NOT has_sequence_privilege('cartera_manager', 'cartera.status_transition_transition_id_seq', 'UPDATE')
          AND NOT has_function_privilege('cartera_manager', 'cartera.purchase_rows_added()', 'EXECUTE')
          AND NOT has_function_privilege('cartera_manager', 'cartera.purchase_rows_changed()', 'EXECUTE'),
          'the privileges lent for the restore are taken back');
SELECT is((SELECT count(*) FROM cartera.customer_state s
            LEFT JOIN LATERAL (SELECT cartera.rfm(r.purchased_at, r.amount, (s.summary).as_of) AS r
                                 FROM (SELECT p.purchased_at, p.amount FROM cartera.purchase p WHERE p.customer_id = s.customer_id
                                       UNION ALL
                                       SELECT o.at::timestamptz, o.total FROM public.rs_orders o WHERE o.client = s.customer_id) r) f ON true
           WHERE coalesce(f.r, s.summary) IS DISTINCT FROM s.summary AND (s.summary).purchases > 0), 0::bigint,
          'every state equals rfm() over the customer''s rows of both sources');
SELECT is((SELECT (summary).purchases || ' ' || status FROM cartera.customer_state WHERE customer_id = 4), '1 lost',
          'customer 4 (a purchase in the tracked table only) was recomputed from it');
SELECT is((SELECT summary::text FROM cartera.customer_state WHERE customer_id = 1),
          (SELECT cartera.rfm(p.purchased_at, p.amount, '2021-01-01')::text FROM cartera.purchase p WHERE p.customer_id = 1),
          'a restored state that matches its purchases is kept as it was');
SELECT is((SELECT count(*) FROM cartera.alert), 1::bigint, 'post_restore() raised no alert');

-- the maintenance runs again, for the manager's purchases and the tracked table
SET SESSION AUTHORIZATION rs_mgr;
INSERT INTO cartera.purchase (customer_id, purchased_at, amount) VALUES (5, now() - interval '1 hour', 15);
SELECT is((SELECT (summary).purchases || ' ' || status FROM cartera.customer_state WHERE customer_id = 5), '1 new',
          'a new purchase updates the state again');
SELECT ok(EXISTS (SELECT 1 FROM cartera.status_transition WHERE customer_id = 5 AND from_status = 'lead' AND to_status = 'new')
          AND EXISTS (SELECT 1 FROM cartera.alert WHERE customer_id = 5 AND kind = 'welcome'),
          'logs its transition and raises the welcome alert');
INSERT INTO public.rs_orders (client, at, total) VALUES (2, current_date, 5);
SELECT is((SELECT (summary).purchases FROM cartera.customer_state WHERE customer_id = 2), 2::bigint,
          'the restored tracked table feeds the state');
SELECT throws_ok($$UPDATE public.rs_orders SET total = 6 WHERE client = 2$$, '55000',
                 'table public.rs_orders is not a purchase source of cartera',
                 'a trigger naming columns the table was not registered with refuses to run (purchase_rows_changed)');
SELECT throws_ok($$INSERT INTO public.rs_other (client, at, total) VALUES (2, current_date, 5)$$, '55000',
                 'table public.rs_other is not a purchase source of cartera',
                 'a trigger on a table that is no purchase source refuses to run (purchase_rows_added, C)');
SELECT throws_ok($$UPDATE public.rs_other SET total = 6$$, '55000',
                 'table public.rs_other is not a purchase source of cartera',
                 'and purchase_rows_changed');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT (summary).purchases FROM cartera.customer_state WHERE customer_id = 2), 2::bigint,
          'the refused statements changed no state');
SELECT lives_ok($$SELECT cartera.grant_agent_role('rs_agent')$$, 'agent roles are granted again after the restore');
SET client_min_messages = error;   -- the fits of four customers do not converge
SELECT ok(EXISTS (SELECT 1 FROM cartera.refresh()), 'and the jobs run again');
SET client_min_messages = warning;

SELECT * FROM finish();
ROLLBACK;
