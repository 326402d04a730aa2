
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
-- an alert about a customer follows the customer's owner (also after a
-- reassignment); an alert about the agent (customer_id NULL) follows agent_id
CREATE POLICY agent_own ON cartera.alert
  USING (CASE WHEN customer_id IS NULL THEN agent_id = (SELECT cartera.current_agent_id())
              ELSE customer_id IN (SELECT c.customer_id FROM cartera.customer c
                                    WHERE c.owner_agent_id = (SELECT cartera.current_agent_id())) END)
  WITH CHECK (CASE WHEN customer_id IS NULL THEN agent_id = (SELECT cartera.current_agent_id())
                   ELSE customer_id IN (SELECT c.customer_id FROM cartera.customer c
                                         WHERE c.owner_agent_id = (SELECT cartera.current_agent_id())) END);
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
COMMENT ON POLICY agent_own ON cartera.alert IS 'an agent sees and acts on alerts about the customers they own and alerts addressed to them';
COMMENT ON POLICY agent_own ON cartera.customer_state IS 'an agent sees the state of the customers they own';
COMMENT ON POLICY agent_own ON cartera.status_transition IS 'an agent sees the history of the customers they own';
COMMENT ON POLICY agent_own ON cartera.agent_target IS 'an agent sees their own targets';

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
  -- alerts are raised by the system; agents only move them along
  EXECUTE format('GRANT SELECT, UPDATE (status, snoozed_until, closed_at, resolution) ON cartera.alert TO %s', grantee);
  EXECUTE format('GRANT SELECT ON cartera.customer_state, cartera.status_transition, cartera.agent, '
                 'cartera.agent_target TO %s', grantee);
  -- configuration and the portfolio-wide model (no customer data)
  EXECUTE format('GRANT SELECT ON cartera.segment_map, cartera.occasion, cartera.cross_sell_rule, '
                 'cartera.alert_kind, cartera.portfolio_model, cartera.portfolio_setting TO %s', grantee);
  EXECUTE format('GRANT EXECUTE ON FUNCTION cartera.alert_set_status(bigint, text, date, text), '
                 'cartera.acknowledge_alert(bigint), cartera.complete_alert(bigint, text), '
                 'cartera.snooze_alert(bigint, date), cartera.dismiss_alert(bigint, text) TO %s', grantee);
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
  EXECUTE format('GRANT SELECT ON cartera.purchase_source TO %s', grantee);
  EXECUTE format('GRANT EXECUTE ON FUNCTION cartera.assign_owner(bigint, boolean) TO %s', grantee);
  -- merging duplicates (cartera.merge_customers runs as its caller): the
  -- audit log, moving the history and the alert cool-down of the duplicate
  EXECUTE format('GRANT EXECUTE ON FUNCTION cartera.merge_customers(bigint, bigint) TO %s', grantee);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE (keep_id, dropped_row) ON cartera.customer_merge TO %s', grantee);
  EXECUTE format('GRANT UPDATE (customer_id), DELETE ON cartera.status_transition TO %s', grantee);
  EXECUTE format('GRANT UPDATE (last_alert_at) ON cartera.customer_state TO %s', grantee);
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.grant_manager_role(regrole) FROM PUBLIC;
COMMENT ON FUNCTION cartera.grant_manager_role(regrole) IS
  'grant cartera_manager (or a member of it) what a manager needs: every portfolio, agents, targets, configuration, lead assignment, merging duplicates';
