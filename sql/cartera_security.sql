
------------------------------------------------------------------------------
-- 0.2.0: row-level security per agent (docs/security.md).
--
-- An agent is a database role named in cartera.agent.login.  Row-level
-- security shows an agent only their own portfolio: the customers they own,
-- those customers' purchases, interactions, alerts, state and history, their
-- own targets and their own agent row.  A manager (superuser, the owner of the
-- extension's tables, or a member of a role named cartera_manager) sees
-- everything.  The install script creates no role: the DBA creates the group
-- roles and gives them their privileges with cartera.grant_agent_role() and
-- cartera.grant_manager_role().
--
-- The maintenance functions (triggers, recompute_state, raise_alerts,
-- run_followups, refresh) are SECURITY DEFINER and run as the owner of the
-- tables, which row-level security does not restrict (no FORCE ROW LEVEL
-- SECURITY): they keep seeing the whole portfolio whoever fires them.
-- The policies call the two functions below through a scalar subquery, so
-- they are evaluated once per statement (an InitPlan), not once per row.
------------------------------------------------------------------------------

-- The agent the current role is.  SECURITY INVOKER on purpose: inside a
-- SECURITY DEFINER function current_user would be the owner, not the caller.
-- It reads cartera.agent under the caller's own policies (an agent sees the
-- row whose login is current_user), so it needs SELECT on cartera.agent.
CREATE FUNCTION cartera.current_agent_id() RETURNS bigint
  LANGUAGE sql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
  SELECT a.agent_id FROM cartera.agent a WHERE a.login = current_user
$fn$;
COMMENT ON FUNCTION cartera.current_agent_id() IS
  'agent_id of the agent whose login is current_user, NULL when the current role is not an agent';

-- Managers see every portfolio: superusers (they bypass row-level security
-- anyway), members of the owner of the extension's tables, and members of a
-- role named cartera_manager when the DBA has created one.  "Member" means
-- inheriting its privileges (pg_has_role USAGE).
CREATE FUNCTION cartera.is_manager() RETURNS boolean
  LANGUAGE sql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
  SELECT EXISTS (
    SELECT 1 FROM pg_catalog.pg_roles r
     WHERE (r.rolname = 'cartera_manager'
            OR r.oid = (SELECT c.relowner FROM pg_catalog.pg_class c
                         WHERE c.oid = 'cartera.customer'::pg_catalog.regclass))
       AND pg_catalog.pg_has_role(current_user, r.oid, 'USAGE'))
$fn$;
COMMENT ON FUNCTION cartera.is_manager() IS
  'true when the current role sees every portfolio: superuser, member of the tables'' owner or of role cartera_manager';

-- What an agent creates is theirs: a customer they add without naming an
-- owner is in their portfolio (for other roles the default is NULL, as
-- before, and cartera.assign_owner() picks the owner), and an interaction
-- they record is signed by them.
ALTER TABLE cartera.customer ALTER COLUMN owner_agent_id SET DEFAULT cartera.current_agent_id();
ALTER TABLE cartera.interaction ALTER COLUMN agent_id SET DEFAULT cartera.current_agent_id();

ALTER TABLE cartera.agent ENABLE ROW LEVEL SECURITY;
ALTER TABLE cartera.customer ENABLE ROW LEVEL SECURITY;
ALTER TABLE cartera.purchase ENABLE ROW LEVEL SECURITY;
ALTER TABLE cartera.interaction ENABLE ROW LEVEL SECURITY;
ALTER TABLE cartera.alert ENABLE ROW LEVEL SECURITY;
ALTER TABLE cartera.customer_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE cartera.status_transition ENABLE ROW LEVEL SECURITY;
ALTER TABLE cartera.agent_target ENABLE ROW LEVEL SECURITY;

-- Managers: everything, on every table under row-level security (what they
-- may do is then a matter of table privileges).
CREATE POLICY manager_all ON cartera.agent
  USING ((SELECT cartera.is_manager())) WITH CHECK ((SELECT cartera.is_manager()));
CREATE POLICY manager_all ON cartera.customer
  USING ((SELECT cartera.is_manager())) WITH CHECK ((SELECT cartera.is_manager()));
CREATE POLICY manager_all ON cartera.purchase
  USING ((SELECT cartera.is_manager())) WITH CHECK ((SELECT cartera.is_manager()));
CREATE POLICY manager_all ON cartera.interaction
  USING ((SELECT cartera.is_manager())) WITH CHECK ((SELECT cartera.is_manager()));
CREATE POLICY manager_all ON cartera.alert
  USING ((SELECT cartera.is_manager())) WITH CHECK ((SELECT cartera.is_manager()));
CREATE POLICY manager_all ON cartera.customer_state
  USING ((SELECT cartera.is_manager())) WITH CHECK ((SELECT cartera.is_manager()));
CREATE POLICY manager_all ON cartera.status_transition
  USING ((SELECT cartera.is_manager())) WITH CHECK ((SELECT cartera.is_manager()));
CREATE POLICY manager_all ON cartera.agent_target
  USING ((SELECT cartera.is_manager())) WITH CHECK ((SELECT cartera.is_manager()));

-- Agents: their own row of cartera.agent, their customers and what hangs
-- from them.  WITH CHECK keeps every written row inside the portfolio: an
-- agent cannot create a customer for someone else, hand a customer over,
-- nor put a purchase, interaction or alert on another agent's customer.
CREATE POLICY agent_own ON cartera.agent FOR SELECT
  USING (login = current_user);
CREATE POLICY agent_own ON cartera.customer
  USING (owner_agent_id = (SELECT cartera.current_agent_id()))
  WITH CHECK (owner_agent_id = (SELECT cartera.current_agent_id()));
CREATE POLICY agent_own ON cartera.purchase
  USING (customer_id IN (SELECT c.customer_id FROM cartera.customer c
                          WHERE c.owner_agent_id = (SELECT cartera.current_agent_id())))
  WITH CHECK (customer_id IN (SELECT c.customer_id FROM cartera.customer c
                               WHERE c.owner_agent_id = (SELECT cartera.current_agent_id())));
CREATE POLICY agent_own ON cartera.interaction
  USING (customer_id IN (SELECT c.customer_id FROM cartera.customer c
                          WHERE c.owner_agent_id = (SELECT cartera.current_agent_id())))
  WITH CHECK (customer_id IN (SELECT c.customer_id FROM cartera.customer c
                               WHERE c.owner_agent_id = (SELECT cartera.current_agent_id()))
              AND (agent_id IS NULL OR agent_id = (SELECT cartera.current_agent_id())));
-- an alert about a customer is seen by the customer's owner (also after a
-- reassignment) and, while it is still to do, by the agent it is with
-- (handed over); an alert about the agent (customer_id NULL) by that agent.
-- An agent may write an alert that stays hers either way (closing a
-- handed-over alert, handing one over).
CREATE POLICY agent_own ON cartera.alert
  USING ((agent_id = (SELECT cartera.current_agent_id())
          AND (customer_id IS NULL OR status IN ('open', 'acknowledged', 'snoozed')))
         OR customer_id IN (SELECT c.customer_id FROM cartera.customer c
                             WHERE c.owner_agent_id = (SELECT cartera.current_agent_id())))
  WITH CHECK (agent_id = (SELECT cartera.current_agent_id())
              OR customer_id IN (SELECT c.customer_id FROM cartera.customer c
                                  WHERE c.owner_agent_id = (SELECT cartera.current_agent_id())));
-- an alert's history is seen by whoever sees the alert (the subquery reads
-- cartera.alert under the reader's own policies); written by cartera only
ALTER TABLE cartera.alert_event ENABLE ROW LEVEL SECURITY;
CREATE POLICY manager_all ON cartera.alert_event
  USING ((SELECT cartera.is_manager())) WITH CHECK ((SELECT cartera.is_manager()));
CREATE POLICY agent_own ON cartera.alert_event FOR SELECT
  USING (alert_id IN (SELECT a.alert_id FROM cartera.alert a));
COMMENT ON POLICY manager_all ON cartera.alert_event IS 'managers (cartera.is_manager()) see the history of every alert';
COMMENT ON POLICY agent_own ON cartera.alert_event IS 'an agent sees the history of the alerts they see';
CREATE POLICY agent_own ON cartera.customer_state FOR SELECT
  USING (customer_id IN (SELECT c.customer_id FROM cartera.customer c
                          WHERE c.owner_agent_id = (SELECT cartera.current_agent_id())));
CREATE POLICY agent_own ON cartera.status_transition FOR SELECT
  USING (customer_id IN (SELECT c.customer_id FROM cartera.customer c
                          WHERE c.owner_agent_id = (SELECT cartera.current_agent_id())));
CREATE POLICY agent_own ON cartera.agent_target FOR SELECT
  USING (agent_id = (SELECT cartera.current_agent_id()));

COMMENT ON POLICY manager_all ON cartera.agent IS 'managers (cartera.is_manager()) see and change every agent';
COMMENT ON POLICY manager_all ON cartera.customer IS 'managers (cartera.is_manager()) see and change every customer';
COMMENT ON POLICY manager_all ON cartera.purchase IS 'managers (cartera.is_manager()) see and change every purchase';
COMMENT ON POLICY manager_all ON cartera.interaction IS 'managers (cartera.is_manager()) see and change every interaction';
COMMENT ON POLICY manager_all ON cartera.alert IS 'managers (cartera.is_manager()) see and change every alert';
COMMENT ON POLICY manager_all ON cartera.customer_state IS 'managers (cartera.is_manager()) see every customer''s state';
COMMENT ON POLICY manager_all ON cartera.status_transition IS 'managers (cartera.is_manager()) see every customer''s history';
COMMENT ON POLICY manager_all ON cartera.agent_target IS 'managers (cartera.is_manager()) see and set every agent''s targets';
COMMENT ON POLICY agent_own ON cartera.agent IS 'an agent sees their own row (login = current_user)';
COMMENT ON POLICY agent_own ON cartera.customer IS 'an agent sees and writes only the customers they own';
COMMENT ON POLICY agent_own ON cartera.purchase IS 'an agent sees and writes only purchases of the customers they own';
COMMENT ON POLICY agent_own ON cartera.interaction IS 'an agent sees and writes only interactions with the customers they own, as themselves';
COMMENT ON POLICY agent_own ON cartera.alert IS 'an agent sees and acts on the alerts about the customers they own, alerts about themselves, and alerts still to do handed over to them';
COMMENT ON POLICY agent_own ON cartera.customer_state IS 'an agent sees the state of the customers they own';
COMMENT ON POLICY agent_own ON cartera.status_transition IS 'an agent sees the history of the customers they own';
COMMENT ON POLICY agent_own ON cartera.agent_target IS 'an agent sees their own targets';
-- the deferred queue and its set-aside customers (sql/cartera_deferred.sql):
-- read-only for roles, written by the maintenance as the owner
ALTER TABLE cartera.deferred_change ENABLE ROW LEVEL SECURITY;
ALTER TABLE cartera.deferred_failure ENABLE ROW LEVEL SECURITY;
CREATE POLICY manager_all ON cartera.deferred_change FOR SELECT USING ((SELECT cartera.is_manager()));
CREATE POLICY manager_all ON cartera.deferred_failure FOR SELECT USING ((SELECT cartera.is_manager()));
CREATE POLICY agent_own ON cartera.deferred_change FOR SELECT
  USING (customer_id IN (SELECT c.customer_id FROM cartera.customer c
                          WHERE c.owner_agent_id = (SELECT cartera.current_agent_id())));
CREATE POLICY agent_own ON cartera.deferred_failure FOR SELECT
  USING (customer_id IN (SELECT c.customer_id FROM cartera.customer c
                          WHERE c.owner_agent_id = (SELECT cartera.current_agent_id())));
COMMENT ON POLICY manager_all ON cartera.deferred_change IS 'managers (cartera.is_manager()) see the whole deferred queue';
COMMENT ON POLICY manager_all ON cartera.deferred_failure IS 'managers (cartera.is_manager()) see every set-aside customer';
COMMENT ON POLICY agent_own ON cartera.deferred_change IS 'an agent sees the queued changes of the customers they own';
COMMENT ON POLICY agent_own ON cartera.deferred_failure IS 'an agent sees which of the customers they own are set aside';

-- Session defaults against lock stalls (docs/security.md "Locks").  An
-- agent may UPDATE and DELETE purchases, and PostgreSQL lets such a role LOCK
-- the table in any mode: an agent's transaction left idle while holding a
-- lock would stall every writer and the jobs.  Role defaults bound that:
-- agents lock_timeout 5s (a statement of theirs gives up instead of queueing
-- behind a lock, and so does not make everyone queue behind it) and
-- idle_in_transaction_session_timeout 60s (a forgotten open transaction is
-- ended); managers, who also load and fix data in bulk, 30s and 10min.
-- PostgreSQL applies only the login role's own settings (not those of the
-- groups it is in), so they are set on the grantee and on every login role
-- that is a member of it: a role that is a member of cartera_manager gets the
-- manager values.  Superusers and the owner of the tables (who runs the jobs)
-- are left alone.  A role's settings for one database (ALTER ROLE ... IN
-- DATABASE ... SET) take precedence over these, so per-person values go there.
CREATE FUNCTION cartera.set_session_defaults(grantee regrole) RETURNS bigint
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  manager oid := (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = 'cartera_manager');
  owner oid := (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = 'cartera.customer'::pg_catalog.regclass);
  r record;
  n bigint := 0;
BEGIN
  IF grantee IS NULL THEN
    RAISE EXCEPTION 'a role is needed' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  FOR r IN SELECT a.rolname,
                  coalesce(pg_catalog.pg_has_role(a.oid, manager, 'USAGE'), false) AS is_manager
             FROM pg_catalog.pg_roles a
            WHERE (a.oid = grantee OR (a.rolcanlogin AND pg_catalog.pg_has_role(a.oid, grantee, 'MEMBER')))
              AND NOT a.rolsuper AND a.oid <> owner
            ORDER BY a.rolname LOOP
    EXECUTE format('ALTER ROLE %I SET lock_timeout = %L', r.rolname, CASE WHEN r.is_manager THEN '30s' ELSE '5s' END);
    EXECUTE format('ALTER ROLE %I SET idle_in_transaction_session_timeout = %L', r.rolname,
                   CASE WHEN r.is_manager THEN '10min' ELSE '60s' END);
    n := n + 1;
  END LOOP;
  RETURN n;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.set_session_defaults(regrole) FROM PUBLIC;
COMMENT ON FUNCTION cartera.set_session_defaults(regrole) IS
  'set lock_timeout and idle_in_transaction_session_timeout (agents 5s and 60s, members of cartera_manager 30s and 10min) on a role and its login members; called by grant_agent_role(); returns the roles set';

-- Keys that cartera assigns are assigned by it only: INSERT and UPDATE are
-- granted on every column but the identity columns (and the columns named in
-- excluded), so an agent or a manager can neither choose an id (one ahead of
-- the sequence made later inserts by everyone else fail) nor change one.
-- A table-level grant of the same privilege, as 0.3.0 made, is revoked first.
CREATE FUNCTION cartera.grant_columns(privilege text, tab regclass, grantee regrole, excluded name[] DEFAULT '{}')
  RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  cols text;
BEGIN
  IF privilege NOT IN ('INSERT', 'UPDATE') THEN
    RAISE EXCEPTION 'privilege must be INSERT or UPDATE, not %', privilege USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
    FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = tab AND a.attnum > 0 AND NOT a.attisdropped
     AND a.attidentity = '' AND a.attname <> ALL (excluded);
  EXECUTE format('REVOKE %s ON %s FROM %s', privilege, tab, grantee);
  EXECUTE format('GRANT %s (%s) ON %s TO %s', privilege, cols, tab, grantee);
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.grant_columns(text, regclass, regrole, name[]) FROM PUBLIC;
COMMENT ON FUNCTION cartera.grant_columns(text, regclass, regrole, name[]) IS
  'grant INSERT or UPDATE on every column of a table except its identity columns and the excluded ones (used by the grant helpers: ids are assigned by cartera only)';

-- The privileges of an agent role.  Run by the DBA (or the extension owner)
-- once per group role, and again after an upgrade that adds views or after
-- adding people (the session defaults above are set on login members).
CREATE FUNCTION cartera.grant_agent_role(grantee regrole) RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  v regclass;
BEGIN
  IF grantee IS NULL THEN
    RAISE EXCEPTION 'a role is needed' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  -- row-level security is off while a restore runs: only managers (who see
  -- everything anyway) get privileges then
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                  WHERE r.rolname = 'cartera_manager' AND pg_catalog.pg_has_role(grantee, r.oid, 'USAGE')) THEN
    PERFORM cartera.refuse_while_restoring(format('granting agent privileges to %s', grantee));
  END IF;
  EXECUTE format('GRANT USAGE ON SCHEMA cartera TO %s', grantee);
  -- the portfolio: row-level security keeps it to the agent's own rows
  -- (ids and the erasure mark are never an agent's to write)
  EXECUTE format('GRANT SELECT ON cartera.customer TO %s', grantee);
  PERFORM cartera.grant_columns('INSERT', 'cartera.customer', grantee, '{forgotten_at}');
  PERFORM cartera.grant_columns('UPDATE', 'cartera.customer', grantee, '{forgotten_at}');
  EXECUTE format('GRANT SELECT, DELETE ON cartera.purchase, cartera.interaction TO %s', grantee);
  PERFORM cartera.grant_columns('INSERT', 'cartera.purchase', grantee);
  PERFORM cartera.grant_columns('UPDATE', 'cartera.purchase', grantee);
  PERFORM cartera.grant_columns('INSERT', 'cartera.interaction', grantee);
  PERFORM cartera.grant_columns('UPDATE', 'cartera.interaction', grantee);
  -- alerts are raised by the system; agents only move them along (and hand
  -- them over); their history is written by cartera alone
  EXECUTE format('GRANT SELECT, UPDATE (status, snoozed_until, closed_at, resolution, outcome, agent_id) '
                 'ON cartera.alert TO %s', grantee);
  EXECUTE format('GRANT SELECT ON cartera.alert_event TO %s', grantee);
  -- the deferred queue (row-level security) and its totals; applying it is
  -- maintenance, the owner's (the worker, pg_cron)
  EXECUTE format('GRANT SELECT ON cartera.deferred_change, cartera.deferred_failure, cartera.deferred_run TO %s', grantee);
  EXECUTE format('GRANT SELECT ON cartera.customer_state, cartera.status_transition, cartera.agent, '
                 'cartera.agent_target TO %s', grantee);
  -- configuration and the portfolio-wide model (no customer data)
  EXECUTE format('GRANT SELECT ON cartera.segment_map, cartera.occasion, cartera.cross_sell_rule, '
                 'cartera.alert_kind, cartera.portfolio_model, cartera.portfolio_setting, cartera.model_history, '
                 'cartera.shard_number TO %s', grantee);
  EXECUTE format('GRANT EXECUTE ON FUNCTION cartera.alert_set_status(bigint, text, date, text), '
                 'cartera.acknowledge_alert(bigint), cartera.complete_alert(bigint, text), '
                 'cartera.snooze_alert(bigint, date), cartera.dismiss_alert(bigint, text), '
                 'cartera.lock_open_alert(bigint), cartera.record_outcome(bigint, text, text), '
                 'cartera.handover_alert(bigint, bigint, text) TO %s', grantee);
  -- the BI views (security_invoker: they show what the tables show the agent;
  -- a materialized view would ignore row-level security, so none is granted)
  FOR v IN SELECT c.oid FROM pg_catalog.pg_class c
            WHERE c.relnamespace = 'cartera'::pg_catalog.regnamespace AND c.relkind = 'v'
            ORDER BY c.relname LOOP
    EXECUTE format('GRANT SELECT ON %s TO %s', v, grantee);
  END LOOP;
  -- lock_timeout and idle_in_transaction_session_timeout (see above)
  PERFORM cartera.set_session_defaults(grantee);
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.grant_agent_role(regrole) FROM PUBLIC;
COMMENT ON FUNCTION cartera.grant_agent_role(regrole) IS
  'grant a (group) role what an agent needs: own portfolio tables (row-level security), views, alert actions; nothing that runs maintenance; and set the session defaults (lock and idle timeouts) of the role and its login members';

-- The privileges of a manager role: an agent's, plus writing every table a
-- manager runs (agents, targets, configuration, alerts), lead assignment and
-- merging duplicate customers.
-- Row-level security treats as managers only members of cartera_manager, so
-- the grantee must be that role or a member of it.
CREATE FUNCTION cartera.grant_manager_role(grantee regrole) RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  manager oid := (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = 'cartera_manager');
BEGIN
  IF grantee IS NULL THEN
    RAISE EXCEPTION 'a role is needed' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF manager IS NULL THEN
    RAISE EXCEPTION 'role "cartera_manager" does not exist'
      USING ERRCODE = 'undefined_object',
            DETAIL = 'Row-level security shows every portfolio to members of cartera_manager only.',
            HINT = 'CREATE ROLE cartera_manager NOLOGIN; then SELECT cartera.grant_manager_role(''cartera_manager'');';
  END IF;
  IF NOT pg_catalog.pg_has_role(grantee, manager, 'USAGE') THEN
    RAISE EXCEPTION 'role % is not a member of cartera_manager', grantee
      USING ERRCODE = 'invalid_grant_operation',
            DETAIL = 'Row-level security would show it no portfolio.',
            HINT = format('GRANT cartera_manager TO %s;', grantee);
  END IF;
  PERFORM cartera.grant_agent_role(grantee);
  EXECUTE format('GRANT SELECT, DELETE ON cartera.agent, cartera.agent_target, cartera.customer, '
                 'cartera.purchase, cartera.interaction, cartera.alert, cartera.segment_map, cartera.occasion, '
                 'cartera.cross_sell_rule, cartera.alert_kind, cartera.portfolio_setting TO %s', grantee);
  -- every column but the ids (cartera assigns them)
  PERFORM cartera.grant_columns(p, t, grantee)
     FROM unnest(ARRAY['INSERT', 'UPDATE']) p,
          unnest(ARRAY['cartera.agent', 'cartera.agent_target', 'cartera.customer', 'cartera.purchase',
                       'cartera.interaction', 'cartera.alert', 'cartera.segment_map', 'cartera.occasion',
                       'cartera.cross_sell_rule', 'cartera.alert_kind', 'cartera.portfolio_setting']::regclass[]) t;
  -- erasure requests (cartera.forget_customer runs as its caller)
  EXECUTE format('GRANT EXECUTE ON FUNCTION cartera.forget_customer(bigint) TO %s', grantee);
  -- which reaches the notes in the alerts' history, and merges
  -- (cartera.merge_customers, as its caller) move the history's customer
  EXECUTE format('GRANT UPDATE (note, customer_id) ON cartera.alert_event TO %s', grantee);
  EXECUTE format('GRANT SELECT ON cartera.purchase_source TO %s', grantee);
  -- the coordinator's list of shards (foreign server names): a manager's dump holds it
  EXECUTE format('GRANT SELECT ON cartera.shard TO %s', grantee);
  EXECUTE format('GRANT EXECUTE ON FUNCTION cartera.assign_owner(bigint, boolean) TO %s', grantee);
  -- merging duplicates (cartera.merge_customers runs as its caller): the
  -- audit log, moving the history and the alert cool-down of the duplicate
  EXECUTE format('GRANT EXECUTE ON FUNCTION cartera.merge_customers(bigint, bigint) TO %s', grantee);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE (keep_id, dropped_row) ON cartera.customer_merge TO %s', grantee);
  EXECUTE format('GRANT UPDATE (customer_id), DELETE ON cartera.status_transition TO %s', grantee);
  EXECUTE format('GRANT UPDATE (last_alert_at) ON cartera.customer_state TO %s', grantee);
  -- backups (docs/data-model.md#backups): pg_dump reads every table it
  -- dumps and the identity sequences; pre_restore() and post_restore()
  -- frame a restore into a new database
  EXECUTE format('GRANT SELECT ON cartera.customer_merge, cartera.restore_in_progress TO %s', grantee);
  EXECUTE format('GRANT SELECT ON ALL SEQUENCES IN SCHEMA cartera TO %s', grantee);
  EXECUTE format('GRANT EXECUTE ON FUNCTION cartera.pre_restore(), cartera.post_restore() TO %s', grantee);
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.grant_manager_role(regrole) FROM PUBLIC;
COMMENT ON FUNCTION cartera.grant_manager_role(regrole) IS
  'grant cartera_manager (or a member of it) what a manager needs: every portfolio, agents, targets, configuration, lead assignment, merging duplicates, erasure requests, pg_dump and pre_restore()/post_restore()';

------------------------------------------------------------------------------
-- 0.4.0: backup and restore without a superuser (docs/data-model.md#backups,
-- docs/security.md#backup-and-restore-by-a-manager).
--
-- pg_dump keeps the user rows of every table (pg_extension_config_dump),
-- the derived ones too (customer_state, status_transition, alert).  Loading
-- them into a new database must not fire the maintenance, which would add
-- state rows, transitions and alerts a second time.  A superuser can turn
-- the triggers off with session_replication_role = replica; a manager
-- cannot, and also meets row-level security (COPY FROM is refused on a table
-- under it), tables only the maintenance writes, and the setval() calls of
-- the dump.  cartera.pre_restore() and cartera.post_restore(), executable
-- by managers, frame the restore instead: pre_restore() accepts only a new,
-- empty portfolio that no other role may read, then turns off the
-- maintenance triggers and row-level security and lets cartera_manager
-- write what the dump holds; post_restore() checks the restored state
-- against the purchases (recomputing what does not match) and undoes all
-- of it.  While
-- the restore is open run_followups() and refresh() refuse to run (the
-- daily job fails loudly) and grant_agent_role() refuses agents.
------------------------------------------------------------------------------

-- The extension's description would be dumped as COMMENT ON EXTENSION,
-- which only the extension's owner may run: a restore by anyone else would
-- fail on it.  pg_available_extensions still shows the control file's.
COMMENT ON EXTENSION cartera IS NULL;

CREATE TABLE cartera.restore_in_progress (
  singleton         boolean PRIMARY KEY DEFAULT true CONSTRAINT restore_in_progress_one_row CHECK (singleton),
  started_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
  started_by        name NOT NULL DEFAULT session_user,
  row_security_off  regclass[] NOT NULL,
  triggers_off      oid[] NOT NULL
);
COMMENT ON TABLE cartera.restore_in_progress IS
  'one row from cartera.pre_restore() to cartera.post_restore(): a restore is loading this database (maintenance triggers and row-level security are off)';
COMMENT ON COLUMN cartera.restore_in_progress.started_at IS 'when cartera.pre_restore() ran';
COMMENT ON COLUMN cartera.restore_in_progress.started_by IS 'the session user who ran cartera.pre_restore()';
COMMENT ON COLUMN cartera.restore_in_progress.row_security_off IS 'tables whose row-level security pre_restore() turned off (post_restore() turns it on)';
COMMENT ON COLUMN cartera.restore_in_progress.triggers_off IS 'maintenance triggers (pg_trigger oids) pre_restore() disabled (post_restore() enables them)';

-- What may not run while a restore is open: it would work on a half-loaded
-- portfolio, or (agents' grants) see it without row-level security.
CREATE FUNCTION cartera.refuse_while_restoring(action text) RETURNS void
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  r cartera.restore_in_progress;
BEGIN
  SELECT * INTO r FROM cartera.restore_in_progress x;
  IF FOUND THEN
    RAISE EXCEPTION '% is not possible while cartera is being restored', action
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = format('%s started a restore with cartera.pre_restore() at %s; the maintenance triggers and row-level security are off until cartera.post_restore().',
                            r.started_by, r.started_at),
            HINT = 'When the restore has finished, a manager runs: SELECT * FROM cartera.post_restore();';
  END IF;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.refuse_while_restoring(text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.refuse_while_restoring(text) IS
  'raise 55000 naming the action when a restore is open (cartera.pre_restore() without cartera.post_restore() yet)';

-- The maintenance triggers: what a restore must not fire.
CREATE FUNCTION cartera.maintenance_trigger_functions() RETURNS regprocedure[]
  LANGUAGE sql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
  SELECT ARRAY['cartera.purchase_rows_added()', 'cartera.purchase_rows_deferred()', 'cartera.purchase_rows_changed()',
               'cartera.customer_rows_changed()',
               'cartera.customer_owner_missing()', 'cartera.interaction_rows_added()',
               'cartera.alert_rows_added()', 'cartera.alert_rows_changed()']::pg_catalog.regprocedure[]
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.maintenance_trigger_functions() FROM PUBLIC;
COMMENT ON FUNCTION cartera.maintenance_trigger_functions() IS
  'the trigger functions that maintain state, transitions, owners, alerts and their history (pre_restore() disables their triggers)';

-- Is the session user a manager (or the tables' owner, or a superuser)?
-- Inside a SECURITY DEFINER function current_user is the owner, so
-- is_manager() would always answer true there.
CREATE FUNCTION cartera.session_is_manager() RETURNS boolean
  LANGUAGE sql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
  SELECT EXISTS (
    SELECT 1 FROM pg_catalog.pg_roles r
     WHERE (r.rolname = 'cartera_manager'
            OR r.oid = (SELECT c.relowner FROM pg_catalog.pg_class c
                         WHERE c.oid = 'cartera.customer'::pg_catalog.regclass))
       AND pg_catalog.pg_has_role(session_user, r.oid, 'USAGE'))
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.session_is_manager() FROM PUBLIC;
COMMENT ON FUNCTION cartera.session_is_manager() IS
  'cartera.is_manager() for session_user: what pre_restore() and post_restore() check, being SECURITY DEFINER';

-- The privileges a restore by a manager needs beyond a manager's own, given
-- to cartera_manager by pre_restore() and taken back by post_restore():
-- writing the tables only the maintenance writes, setval() on the identity
-- sequences, and the trigger functions that the triggers of tracked tables
-- in the dump call (CREATE TRIGGER needs EXECUTE; they refuse to run for a
-- table that is not a registered purchase source).
CREATE FUNCTION cartera.restore_privileges(grant_them boolean) RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  manager regrole := (SELECT r.oid::pg_catalog.regrole FROM pg_catalog.pg_roles r WHERE r.rolname = 'cartera_manager');
  verb text := CASE WHEN grant_them THEN 'GRANT' ELSE 'REVOKE' END;
  dir text := CASE WHEN grant_them THEN 'TO' ELSE 'FROM' END;
  tab regclass;
  cols text;
BEGIN
  IF manager IS NULL THEN
    RETURN;
  END IF;
  EXECUTE format('%s INSERT ON cartera.customer_state, cartera.status_transition, cartera.portfolio_model, '
                 'cartera.purchase_source, cartera.customer_merge, cartera.alert_event, cartera.model_history, '
                 'cartera.deferred_change, cartera.deferred_failure, cartera.deferred_run, '
                 'cartera.shard, cartera.shard_number %s %s',
                 verb, dir, manager);
  EXECUTE format('%s UPDATE ON ALL SEQUENCES IN SCHEMA cartera %s %s', verb, dir, manager);
  -- the dump's row of cartera.purchase sets its mode (purchase_source_restored())
  EXECUTE format('%s UPDATE (mode) ON cartera.purchase_source %s %s', verb, dir, manager);
  EXECUTE format('%s EXECUTE ON FUNCTION cartera.purchase_rows_added(), cartera.purchase_rows_deferred(), '
                 'cartera.purchase_rows_changed() %s %s',
                 verb, dir, manager);
  -- the ids the dump holds (managers may not choose ids otherwise)
  FOR tab, cols IN SELECT a.attrelid::pg_catalog.regclass, string_agg(pg_catalog.quote_ident(a.attname), ', ')
                     FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
                    WHERE c.relnamespace = 'cartera'::pg_catalog.regnamespace AND c.relkind = 'r'
                      AND a.attidentity <> '' AND NOT a.attisdropped
                    GROUP BY a.attrelid ORDER BY a.attrelid LOOP
    EXECUTE format('%s INSERT (%s) ON %s %s %s', verb, cols, tab, dir, manager);
  END LOOP;
  IF NOT grant_them THEN
    -- a table-level REVOKE took the manager's own INSERT on customer_merge
    -- (merges) with it: the manager's privileges as grant_manager_role() gives them
    PERFORM cartera.grant_manager_role(manager);
  END IF;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.restore_privileges(boolean) FROM PUBLIC;
COMMENT ON FUNCTION cartera.restore_privileges(boolean) IS
  'grant (true) or revoke (false) what cartera_manager needs to load a dump: INSERT on the derived tables and on the id columns, UPDATE on the identity sequences, EXECUTE on the purchase trigger functions (revoking gives back the privileges of grant_manager_role())';

-- A purchase source is read by the maintenance with the owner's rights:
-- whoever registers one must be able to read it (a manager restoring a dump
-- registers the tracked tables it restores).
CREATE FUNCTION cartera.purchase_source_check() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  IF NOT pg_catalog.has_table_privilege(NEW.source, 'SELECT') THEN
    RAISE EXCEPTION 'permission denied to track the purchases of %', NEW.source
      USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'cartera reads every purchase source with the rights of the extension''s owner: only a role that may read a table may register it.';
  END IF;
  RETURN NEW;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.purchase_source_check() FROM PUBLIC;
COMMENT ON FUNCTION cartera.purchase_source_check() IS
  'row trigger of cartera.purchase_source: the role registering a purchase source must be able to read it';
CREATE TRIGGER purchase_source_check BEFORE INSERT OR UPDATE ON cartera.purchase_source
  FOR EACH ROW EXECUTE FUNCTION cartera.purchase_source_check();

-- cartera.purchase's row exists from CREATE EXTENSION; a dump carries it
-- only when its mode is not the default (pg_extension_config_dump): loading
-- that row sets the mode (post_restore() then creates the trigger for it).
CREATE FUNCTION cartera.purchase_source_restored() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  IF NEW.source = 'cartera.purchase'::pg_catalog.regclass
     AND EXISTS (SELECT 1 FROM cartera.purchase_source p WHERE p.source = NEW.source) THEN
    UPDATE cartera.purchase_source p SET mode = NEW.mode WHERE p.source = NEW.source;
    RETURN NULL;
  END IF;
  RETURN NEW;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.purchase_source_restored() FROM PUBLIC;
COMMENT ON FUNCTION cartera.purchase_source_restored() IS
  'row trigger of cartera.purchase_source: the row of cartera.purchase loaded from a dump sets its mode instead of failing as a duplicate';
CREATE TRIGGER purchase_source_restored BEFORE INSERT ON cartera.purchase_source
  FOR EACH ROW EXECUTE FUNCTION cartera.purchase_source_restored();

-- Before restoring a dump into a database where an administrator has just
-- run CREATE EXTENSION cartera (and grant_manager_role()).
CREATE FUNCTION cartera.pre_restore() RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  manager oid := (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = 'cartera_manager');
  r cartera.restore_in_progress;
  t regclass;
  cond text;
  filled boolean;
  readers text;
  rls regclass[];
  trg oid[];
BEGIN
  IF NOT cartera.session_is_manager() THEN
    RAISE EXCEPTION 'only a manager may restore a portfolio' USING ERRCODE = 'insufficient_privilege',
      DETAIL = format('Role %s is not a member of cartera_manager.', session_user);
  END IF;
  SELECT * INTO r FROM cartera.restore_in_progress x FOR UPDATE;
  IF FOUND THEN
    RAISE EXCEPTION 'cartera is already being restored' USING ERRCODE = 'object_not_in_prerequisite_state',
      DETAIL = format('%s ran cartera.pre_restore() at %s.', r.started_by, r.started_at),
      HINT = 'Load the dump, then run SELECT * FROM cartera.post_restore();';
  END IF;
  -- a new portfolio only: every table pg_dump restores into is empty (but
  -- the alert kinds, which the dump's rows replace: cartera.alert_kind_restored)
  FOR t, cond IN SELECT x.t, x.cond
                   FROM pg_catalog.pg_extension e, unnest(e.extconfig::pg_catalog.regclass[], e.extcondition) x(t, cond)
                  WHERE e.extname = 'cartera' AND (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = x.t) = 'r'
                    AND x.t <> 'cartera.alert_kind'::pg_catalog.regclass
                  ORDER BY x.t::oid LOOP
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s %s)', t, cond) INTO filled;
    IF filled THEN
      RAISE EXCEPTION 'cartera.% is not empty', (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = t)
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = 'cartera.pre_restore() prepares a new database, where CREATE EXTENSION cartera has just run, for the dump of another one.',
              HINT = 'Restore into a new database.';
    END IF;
  END LOOP;
  -- row-level security goes off: nobody but managers may use the tables
  SELECT string_agg(DISTINCT CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE g.grantee::pg_catalog.regrole::text END, ', ')
    INTO readers
    FROM pg_catalog.pg_class c
    CROSS JOIN LATERAL (SELECT a.grantee FROM pg_catalog.aclexplode(c.relacl) a
                        UNION
                        SELECT a.grantee FROM pg_catalog.pg_attribute att, pg_catalog.aclexplode(att.attacl) a
                         WHERE att.attrelid = c.oid) g
   WHERE c.relnamespace = 'cartera'::pg_catalog.regnamespace AND c.relkind = 'r' AND c.relrowsecurity
     AND (g.grantee = 0
          OR NOT (pg_catalog.pg_has_role(g.grantee, c.relowner, 'USAGE')
                  OR (manager IS NOT NULL AND pg_catalog.pg_has_role(g.grantee, manager, 'USAGE'))
                  OR (SELECT x.rolsuper OR x.rolbypassrls FROM pg_catalog.pg_roles x WHERE x.oid = g.grantee)));
  IF readers IS NOT NULL THEN
    RAISE EXCEPTION 'roles that are not managers may use the portfolio tables: %', readers
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = 'Row-level security is off from cartera.pre_restore() to cartera.post_restore(): they would see and change every portfolio meanwhile.',
            HINT = 'Grant the agent roles after cartera.post_restore(); until then revoke them, e.g. REVOKE ALL ON ALL TABLES IN SCHEMA cartera FROM cartera_agent;';
  END IF;

  rls := ARRAY(SELECT c.oid::pg_catalog.regclass FROM pg_catalog.pg_class c
                WHERE c.relnamespace = 'cartera'::pg_catalog.regnamespace AND c.relkind = 'r' AND c.relrowsecurity
                ORDER BY c.oid);
  trg := ARRAY(SELECT g.oid FROM pg_catalog.pg_trigger g JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid
                WHERE c.relnamespace = 'cartera'::pg_catalog.regnamespace AND NOT g.tgisinternal AND g.tgenabled <> 'D'
                  AND g.tgfoid = ANY (cartera.maintenance_trigger_functions())
                ORDER BY g.oid);
  INSERT INTO cartera.restore_in_progress (row_security_off, triggers_off) VALUES (rls, trg);
  FOREACH t IN ARRAY rls LOOP
    EXECUTE format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', t);
  END LOOP;
  FOR t, cond IN SELECT g.tgrelid::pg_catalog.regclass, g.tgname FROM pg_catalog.pg_trigger g
                  WHERE g.oid = ANY (trg) ORDER BY g.oid LOOP
    EXECUTE format('ALTER TABLE %s DISABLE TRIGGER %I', t, cond);
  END LOOP;
  PERFORM cartera.restore_privileges(true);
  RETURN true;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.pre_restore() FROM PUBLIC;
COMMENT ON FUNCTION cartera.pre_restore() IS
  'start restoring a dump into a new database (managers): refuses unless the portfolio is empty and only managers may use it; turns off the maintenance triggers and row-level security and lets cartera_manager write the derived tables until cartera.post_restore()';

-- After the dump is loaded.
CREATE FUNCTION cartera.post_restore()
  RETURNS TABLE (customers bigint, repaired bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  r cartera.restore_in_progress;
  stale bigint[];
  t regclass;
  trigger_name name;
BEGIN
  IF NOT cartera.session_is_manager() THEN
    RAISE EXCEPTION 'only a manager may restore a portfolio' USING ERRCODE = 'insufficient_privilege',
      DETAIL = format('Role %s is not a member of cartera_manager.', session_user);
  END IF;
  SELECT * INTO r FROM cartera.restore_in_progress x FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'cartera is not being restored' USING ERRCODE = 'object_not_in_prerequisite_state',
      HINT = 'cartera.pre_restore() starts a restore into a new database.';
  END IF;

  -- 1. the state must be what the purchases say: rfm() of each customer's
  -- rows at the state's as_of, and no row after it when the state is kept
  -- for merging.  A customer for whom it is not (rows written outside the
  -- dump while restoring, a partial dump) is recomputed now; a complete
  -- restore recomputes nobody, and logs no transition.
  LOCK TABLE cartera.customer_state IN SHARE ROW EXCLUSIVE MODE;
  EXECUTE format($q$
    WITH r AS (%s),
    computed AS (
      SELECT r.customer_id, cartera.rfm(r.purchased_at, r.amount, s.as_of) AS summary, max(r.purchased_at) AS latest
        FROM r JOIN (SELECT s.customer_id, (s.summary).as_of FROM cartera.customer_state s) s USING (customer_id)
       GROUP BY r.customer_id, s.as_of)
    SELECT array_agg(DISTINCT x.customer_id ORDER BY x.customer_id) FROM (
      SELECT s.customer_id FROM cartera.customer_state s LEFT JOIN computed c USING (customer_id)
       WHERE CASE WHEN c.customer_id IS NULL THEN (s.summary).purchases IS DISTINCT FROM 0
                  ELSE s.summary IS DISTINCT FROM c.summary
                       OR (s.rfm_state IS NOT NULL AND c.latest > (s.summary).as_of) END
      UNION ALL
      SELECT r.customer_id FROM r
       WHERE NOT EXISTS (SELECT 1 FROM cartera.customer_state s WHERE s.customer_id = r.customer_id)
      UNION ALL
      SELECT c.customer_id FROM cartera.customer c
       WHERE NOT EXISTS (SELECT 1 FROM cartera.customer_state s WHERE s.customer_id = c.customer_id)) x
     WHERE x.customer_id IS NOT NULL$q$, cartera.purchase_rows_sql())
    INTO stale;
  IF stale IS NOT NULL THEN
    PERFORM count(*) FROM cartera.recompute_state(stale, clock_timestamp());
  END IF;
  repaired := coalesce(array_length(stale, 1), 0);

  -- 2. everything back on
  FOR t, trigger_name IN SELECT g.tgrelid::pg_catalog.regclass, g.tgname FROM pg_catalog.pg_trigger g
                          WHERE g.oid = ANY (r.triggers_off) ORDER BY g.oid LOOP
    EXECUTE format('ALTER TABLE %s ENABLE TRIGGER %I', t, trigger_name);
  END LOOP;
  FOREACH t IN ARRAY r.row_security_off LOOP
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
  END LOOP;
  -- cartera.purchase's own mode comes with the dump's purchase_source row
  -- (tracked tables bring their triggers with them)
  IF (SELECT p.mode FROM cartera.purchase_source p WHERE p.source = 'cartera.purchase'::pg_catalog.regclass) = 'deferred' THEN
    PERFORM cartera.purchase_insert_trigger('cartera.purchase');
  END IF;
  DELETE FROM cartera.restore_in_progress;
  PERFORM cartera.restore_privileges(false);
  customers := (SELECT count(*) FROM cartera.customer_state);
  RETURN NEXT;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.post_restore() FROM PUBLIC;
COMMENT ON FUNCTION cartera.post_restore() IS
  'end a restore started by cartera.pre_restore() (managers): recompute customers whose restored state does not match their purchases, turn the maintenance triggers and row-level security back on, take back the restore privileges; returns state rows and customers recomputed';
