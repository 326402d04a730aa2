-- cartera 0.3.0 -> 0.4.0, written by hand: what changed since the 0.3.0
-- release (sql/cartera--0.3.0.sql is frozen).  Every statement here has its
-- twin in sql/cartera.sql or the portfolio scripts; test/upgrade.sql and
-- sql/setup.sql check that an updated database equals a fresh install.
-- What changed (issue 13): the portfolio's own settings; deleted customers
-- take their history along and forget_customer() answers erasure requests;
-- ids are assigned by cartera only and a customer's id never changes; owner
-- changes move open alerts; the jobs' as_of is checked; managers merge
-- duplicates; purchase amounts are checked at the door (C); session defaults
-- against lock stalls.
\echo Use "ALTER EXTENSION cartera UPDATE TO '0.4.0'" to load this file. \quit

------------------------------------------------------------------------------
-- 1. New tables, views and columns
------------------------------------------------------------------------------
-- The portfolio's own settings (src/portfolio_setting.c).  What cartera
-- stores and the portfolio-wide thresholds of its jobs follow these, never
-- the settings of whichever session writes: an agent's SET cartera.* changes
-- only her own ad-hoc queries.  A setting without a row has its built-in
-- default; TimeZone without a row is the writing session's (the calendar
-- day of a purchase), and pins the portfolio's calendar when set.
CREATE TABLE cartera.portfolio_setting (
  name   text PRIMARY KEY
           CONSTRAINT portfolio_setting_known CHECK (name IN (
             'cartera.language', 'cartera.lifecycle_mode', 'cartera.at_risk_after', 'cartera.dormant_after',
             'cartera.lost_after', 'cartera.new_window', 'cartera.at_risk_factor', 'cartera.dormant_factor',
             'cartera.clv_lifespan', 'cartera.max_contacts', 'cartera.contact_window', 'cartera.lead_idle_after',
             'cartera.occasion_horizon', 'TimeZone')),
  value  text NOT NULL
);
COMMENT ON TABLE cartera.portfolio_setting IS
  'the portfolio''s settings, edited by managers: stored states, alerts and the daily job use these values, not the writing session''s (cartera.portfolio_settings shows every one with its default)';
COMMENT ON COLUMN cartera.portfolio_setting.name IS 'a cartera.* setting that changes what is stored, or TimeZone (the calendar of purchase days)';
COMMENT ON COLUMN cartera.portfolio_setting.value IS 'the value, as SET would take it (checked when written)';
CREATE FUNCTION cartera.portfolio_setting_check() RETURNS trigger
  AS 'MODULE_PATHNAME', 'cartera_portfolio_setting_check' LANGUAGE C;
REVOKE EXECUTE ON FUNCTION cartera.portfolio_setting_check() FROM PUBLIC;
COMMENT ON FUNCTION cartera.portfolio_setting_check() IS
  'trigger of cartera.portfolio_setting: the value must be one the setting accepts; every change tells all sessions to read the settings again';
CREATE TRIGGER portfolio_setting_valid BEFORE INSERT OR UPDATE OR DELETE ON cartera.portfolio_setting
  FOR EACH ROW EXECUTE FUNCTION cartera.portfolio_setting_check();
CREATE TRIGGER portfolio_setting_truncated AFTER TRUNCATE ON cartera.portfolio_setting
  FOR EACH STATEMENT EXECUTE FUNCTION cartera.portfolio_setting_check();

-- The built-in defaults are those of src/guc.c (test/portfolio_defects.sql
-- compares them with pg_settings.boot_val).
CREATE VIEW cartera.portfolio_settings WITH (security_invoker = true) AS
  SELECT d.name, coalesce(s.value, d.default_value) AS value, d.default_value, s.name IS NULL AS is_default, d.description
    FROM (VALUES
      ('cartera.language', 'es', 'language of stored alert messages (es, en)'),
      ('cartera.lifecycle_mode', 'fixed', 'fixed thresholds or adaptive to each customer''s purchase rhythm'),
      ('cartera.at_risk_after', '60 days', 'time without purchases after which a customer is at risk'),
      ('cartera.dormant_after', '120 days', 'time without purchases after which a customer is dormant'),
      ('cartera.lost_after', '365 days', 'time without purchases after which a customer is lost'),
      ('cartera.new_window', '30 days', 'a customer whose first purchase is this recent is new'),
      ('cartera.at_risk_factor', '2', 'adaptive mode: at risk after this many mean purchase gaps'),
      ('cartera.dormant_factor', '4', 'adaptive mode: dormant after this many mean purchase gaps'),
      ('cartera.clv_lifespan', '3 years', 'relationship lifespan of the formula CLV stored in customer_state'),
      ('cartera.max_contacts', '3', 'most contact alerts per customer within contact_window'),
      ('cartera.contact_window', '30 days', 'window over which max_contacts is counted'),
      ('cartera.lead_idle_after', '14 days', 'a lead idle this long raises an idle-lead alert'),
      ('cartera.occasion_horizon', '7 days', 'birthdays and occasions this close raise a green alert'),
      ('TimeZone', NULL, 'calendar of purchase days; NULL: the writing session''s TimeZone')
    ) d(name, default_value, description)
    LEFT JOIN cartera.portfolio_setting s ON s.name = d.name;
COMMENT ON VIEW cartera.portfolio_settings IS
  'every portfolio setting with the value maintenance uses: the row of cartera.portfolio_setting, else the built-in default';
COMMENT ON COLUMN cartera.portfolio_settings.name IS 'the setting';
COMMENT ON COLUMN cartera.portfolio_settings.value IS 'the value stored states, alerts and the daily job use';
COMMENT ON COLUMN cartera.portfolio_settings.default_value IS 'the built-in default (a NULL TimeZone: the writing session''s)';
COMMENT ON COLUMN cartera.portfolio_settings.is_default IS 'true when cartera.portfolio_setting has no row for it';
COMMENT ON COLUMN cartera.portfolio_settings.description IS 'what it changes';

-- Called first by every maintenance function (a DECLARE initialiser in
-- plpgsql): sets the portfolio's values until that function returns.  It
-- changes no data; what it sets lasts until the innermost calling function
-- with a SET clause returns (or the transaction ends, called at top level).
CREATE FUNCTION cartera.use_portfolio_settings() RETURNS boolean
  AS 'MODULE_PATHNAME', 'cartera_use_portfolio_settings' LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE EXECUTE ON FUNCTION cartera.use_portfolio_settings() FROM PUBLIC;
COMMENT ON FUNCTION cartera.use_portfolio_settings() IS
  'set every portfolio setting (cartera.portfolio_settings) until the calling function returns; maintenance calls it first so that stored values never follow the writing session''s settings';

-- One setting's value for the portfolio (read by explain()).
CREATE FUNCTION cartera.portfolio_setting_value(setting text) RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$ SELECT s.value FROM cartera.portfolio_settings s WHERE s.name = setting $fn$;
COMMENT ON FUNCTION cartera.portfolio_setting_value(text) IS 'the value of one portfolio setting (cartera.portfolio_settings); NULL for an unknown name';

SELECT pg_catalog.pg_extension_config_dump('cartera.portfolio_setting', '');
COMMENT ON COLUMN cartera.customer_state.clv IS 'seed formula CLV with the portfolio''s lifespan (cartera.clv_lifespan in cartera.portfolio_settings)';

ALTER TABLE cartera.customer ADD COLUMN forgotten_at timestamptz;
COMMENT ON COLUMN cartera.customer.forgotten_at IS 'when cartera.forget_customer() erased the customer''s personal data (NULL: never); no alert is raised for them again';
-- BEGIN backup and restore without superuser (pre_restore / post_restore)
-- twin of the end of sql/cartera_security.sql
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
  SELECT ARRAY['cartera.purchase_rows_added()', 'cartera.purchase_rows_changed()', 'cartera.customer_rows_changed()',
               'cartera.customer_owner_missing()', 'cartera.interaction_rows_added()']::pg_catalog.regprocedure[]
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.maintenance_trigger_functions() FROM PUBLIC;
COMMENT ON FUNCTION cartera.maintenance_trigger_functions() IS
  'the trigger functions that maintain state, transitions, owners and alerts (pre_restore() disables their triggers)';

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
                 'cartera.purchase_source, cartera.customer_merge %s %s', verb, dir, manager);
  EXECUTE format('%s UPDATE ON ALL SEQUENCES IN SCHEMA cartera %s %s', verb, dir, manager);
  EXECUTE format('%s EXECUTE ON FUNCTION cartera.purchase_rows_added(), cartera.purchase_rows_changed() %s %s',
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
  -- a new portfolio only: every table pg_dump restores into is empty
  FOR t, cond IN SELECT x.t, x.cond
                   FROM pg_catalog.pg_extension e, unnest(e.extconfig::pg_catalog.regclass[], e.extcondition) x(t, cond)
                  WHERE e.extname = 'cartera' AND (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = x.t) = 'r'
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
  DELETE FROM cartera.restore_in_progress;
  PERFORM cartera.restore_privileges(false);
  customers := (SELECT count(*) FROM cartera.customer_state);
  RETURN NEXT;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.post_restore() FROM PUBLIC;
COMMENT ON FUNCTION cartera.post_restore() IS
  'end a restore started by cartera.pre_restore() (managers): recompute customers whose restored state does not match their purchases, turn the maintenance triggers and row-level security back on, take back the restore privileges; returns state rows and customers recomputed';
-- END backup and restore without superuser

------------------------------------------------------------------------------
-- 2. Functions new or changed in 0.4.0 (as in the source scripts)
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION cartera.recompute_state(customers bigint[], as_of timestamptz)
  RETURNS TABLE (customer_id bigint, from_status cartera.lifecycle_status, to_status cartera.lifecycle_status,
                 from_segment cartera.segment, to_segment cartera.segment)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  settings boolean := cartera.use_portfolio_settings();   -- first: the others read them
  sources text := cartera.purchase_rows_sql();
  lifespan interval := current_setting('cartera.clv_lifespan')::interval;
BEGIN
  IF customers IS NOT NULL THEN
    INSERT INTO cartera.customer_state AS s (customer_id, summary, status)
      SELECT DISTINCT c, ROW(NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, as_of)::cartera.rfm_summary,
             'lead'::cartera.lifecycle_status
        FROM unnest(customers) c WHERE c IS NOT NULL
      ON CONFLICT (customer_id) DO NOTHING;
    PERFORM 1 FROM cartera.customer_state s
      WHERE s.customer_id = ANY (customers) ORDER BY s.customer_id FOR UPDATE OF s;
  ELSE
    LOCK TABLE cartera.customer_state IN SHARE ROW EXCLUSIVE MODE;
  END IF;

  RETURN QUERY EXECUTE cartera.state_update_sql(format($q$
      WITH aggregated AS (
        SELECT r.customer_id, cartera.rfm_state(r.purchased_at, r.amount, $2) AS state,
               coalesce(max(r.purchased_at) <= $2, true) AS complete
          FROM (%s) r
         WHERE ($1 IS NULL OR r.customer_id = ANY ($1))
         GROUP BY r.customer_id)
      SELECT a.customer_id, a.state, a.complete FROM aggregated a
      UNION ALL
      -- customers named but without any purchase row left: back to lead
      SELECT s.customer_id, (SELECT cartera.rfm_state(NULL::timestamptz, NULL::numeric, $2)), true
        FROM cartera.customer_state s
       WHERE ($1 IS NULL OR s.customer_id = ANY ($1))
         AND NOT EXISTS (SELECT 1 FROM aggregated a WHERE a.customer_id = s.customer_id)$q$, sources),
    'SELECT * FROM logged')
  USING customers, as_of, lifespan;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.recompute_state(bigint[], timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION cartera.recompute_state(bigint[], timestamptz) IS
  'recompute customer_state of the given customers (NULL: all) at as_of from every purchase source; returns the status/segment transitions it logged';

CREATE OR REPLACE FUNCTION cartera.purchase_rows_added() RETURNS trigger
  AS 'MODULE_PATHNAME', 'cartera_purchase_rows_added' LANGUAGE C SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp;
REVOKE EXECUTE ON FUNCTION cartera.purchase_rows_added() FROM PUBLIC;
COMMENT ON FUNCTION cartera.purchase_rows_added() IS
  'INSERT statement trigger of every purchase source: refuses future purchases and amounts out of range (|amount| >= 1e15), merges the new rows into each customer''s stored state and raises purchase alerts';

CREATE OR REPLACE FUNCTION cartera.purchase_rows_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  settings boolean := cartera.use_portfolio_settings();   -- first: the portfolio's calendar
  customer_column name := TG_ARGV[0];
  at_column name := TG_ARGV[1];
  customers bigint[];
  latest timestamptz;
  now_ts timestamptz := clock_timestamp();
  amount_column name;
  too_big numeric;
BEGIN
  -- before any cast of a tracked table's columns below, which run with the
  -- owner's rights: the table must be a purchase source registered with
  -- these very columns (a trigger created by hand on another table, or
  -- naming other columns, is refused), and they must still be of built-in
  -- types (the extension's own cartera.purchase is checked by recompute_state)
  IF TG_RELID <> 'cartera.purchase'::regclass THEN
    IF TG_NARGS <> 2 OR NOT EXISTS (SELECT 1 FROM cartera.purchase_source p
                                     WHERE p.source = TG_RELID AND p.customer_column = TG_ARGV[0]
                                       AND p.at_column = TG_ARGV[1]) THEN
      RAISE EXCEPTION 'table %.% is not a purchase source of cartera', TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = format('Trigger %s calls cartera.purchase_rows_changed() with columns %s, which cartera.purchase_source does not list for this table.',
                              TG_NAME, array_to_string(TG_ARGV, ', ')),
              HINT = 'Attach purchase tables with cartera.track_purchases().';
    END IF;
    PERFORM cartera.purchase_rows_sql();
  END IF;
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM cartera.recompute_state(NULL, now_ts);
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    EXECUTE format('SELECT max(%I::timestamptz) FROM new_rows', at_column) INTO latest;
    IF latest > now_ts THEN
      RAISE EXCEPTION 'purchase date % is in the future', latest
        USING ERRCODE = 'check_violation',
              DETAIL = format('Table %s, column %I; the server time is %s.', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, at_column, now_ts),
              HINT = 'Record purchases when they happen; planned orders are not purchases yet.';
    END IF;
    -- the bound the INSERT trigger (state_trigger.c) checks: |amount| < 1e15
    SELECT p.amount_column INTO amount_column FROM cartera.purchase_source p WHERE p.source = TG_RELID;
    EXECUTE format('SELECT a FROM (SELECT %I::numeric AS a FROM new_rows WHERE %I IS NOT NULL) r '
                   'WHERE abs(a) >= 1e15 AND a NOT IN (''NaN'', ''Infinity'', ''-Infinity'') LIMIT 1',
                   amount_column, at_column) INTO too_big;
    IF too_big IS NOT NULL THEN
      RAISE EXCEPTION 'purchase amount % is out of range',
                      CASE WHEN length(too_big::text) > 24 THEN btrim(to_char(too_big, '9.99EEEE')) ELSE too_big::text END
        USING ERRCODE = 'numeric_value_out_of_range',
              DETAIL = format('Purchase amounts must be greater than -1e15 and less than 1e15 (table %s, column %I).',
                              TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, amount_column),
              HINT = 'Check the amount''s unit and decimal separator.';
    END IF;
  END IF;
  EXECUTE CASE TG_OP
    WHEN 'DELETE' THEN format('SELECT array_agg(DISTINCT %I::bigint) FROM old_rows', customer_column)
    ELSE format('SELECT array_agg(DISTINCT c) FROM (SELECT %1$I::bigint FROM new_rows UNION ALL SELECT %1$I::bigint FROM old_rows) r(c)',
                customer_column) END
    INTO customers;
  IF customers IS NOT NULL THEN
    -- welcome, welcome back and transition alerts are raised now
    -- (cartera_alerts.sql); cross-sell rules look only at inserted purchases,
    -- which purchase_rows_added() handles (an UPDATE, e.g. a merge moving
    -- purchases, is not a new sale)
    PERFORM cartera.raise_purchase_alerts(
      ARRAY(SELECT ROW(t.*)::cartera.state_transition FROM cartera.recompute_state(customers, now_ts) t),
      NULL, now_ts);
  END IF;
  RETURN NULL;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.purchase_rows_changed() FROM PUBLIC;
COMMENT ON FUNCTION cartera.purchase_rows_changed() IS
  'UPDATE, DELETE and TRUNCATE statement trigger of every purchase source (INSERT: purchase_rows_added()): refuses future purchase dates and amounts out of range (|amount| >= 1e15) and recomputes the state of the customers touched';

CREATE OR REPLACE FUNCTION cartera.refresh(as_of timestamptz DEFAULT now(), time_unit text DEFAULT 'weeks')
  RETURNS TABLE (customers bigint, transitions bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  settings boolean := cartera.use_portfolio_settings();
  changes cartera.state_transition[];
  last_as_of timestamptz;
BEGIN
  IF as_of IS NULL THEN
    RAISE EXCEPTION 'as_of must not be null'
      USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Omit the argument to refresh as of now().';
  END IF;
  IF time_unit IS NULL THEN
    RAISE EXCEPTION 'time unit must not be null'
      USING ERRCODE = 'null_value_not_allowed', HINT = 'Use ''weeks'' (the default) or ''days''.';
  END IF;
  IF lower(time_unit) NOT IN ('days', 'weeks') THEN
    RAISE EXCEPTION 'time unit must be "days" or "weeks", not "%"', time_unit
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- not over a portfolio that is being restored (cartera.pre_restore())
  PERFORM cartera.refuse_while_restoring('refresh()');
  IF NOT isfinite(as_of) THEN
    RAISE EXCEPTION 'as_of must be a finite timestamp'
      USING ERRCODE = 'datetime_field_overflow', DETAIL = format('as_of is %s.', as_of),
            HINT = 'Omit the argument to refresh as of now().';
  END IF;
  IF as_of > clock_timestamp() THEN
    RAISE EXCEPTION 'as_of % is in the future', as_of
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('The server time is %s: every state would be stored, and status changes logged, as of a time that has not come.',
                            clock_timestamp()),
            HINT = 'Omit the argument to refresh as of now().';
  END IF;
  LOCK TABLE cartera.customer_state IN SHARE ROW EXCLUSIVE MODE;
  SELECT m.as_of INTO last_as_of FROM cartera.portfolio_model m;
  IF as_of < last_as_of THEN
    RAISE EXCEPTION 'as_of % is before the last refresh (as of %)', as_of, last_as_of
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'The portfolio''s clock only moves forward: every state would go back in time, and status changes would be logged before those already logged.',
            HINT = 'Refresh as of now (omit the argument).  To rebuild the whole portfolio as of an earlier day, DELETE FROM cartera.portfolio_model first.';
  END IF;
  EXECUTE format($q$
    INSERT INTO cartera.portfolio_model AS m
           (as_of, recency_breaks, frequency_breaks, monetary_breaks, bgnbd, gamma_gamma, refreshed_at)
    -- a fit that found no interior maximum (WARNING already given) is not
    -- used for predictions: its parameters sit at the edge of the space
    SELECT $1, rb, fb, mb, CASE WHEN (b).converged THEN b END, CASE WHEN (g).converged THEN g END,
           clock_timestamp()
      FROM (SELECT cartera.breakpoints((s).recency_days, 5) AS rb, cartera.breakpoints((s).frequency, 5) AS fb,
                   cartera.breakpoints((s).monetary_total::float8, 5) AS mb,
                   cartera.bgnbd_fit(s, $2) AS b, cartera.gamma_gamma_fit(s) AS g
              FROM (SELECT cartera.rfm(r.purchased_at, r.amount, $1) AS s FROM (%s) r GROUP BY r.customer_id) q
             WHERE (s).purchases > 0) fits
    ON CONFLICT (singleton) DO UPDATE
       SET as_of = excluded.as_of, recency_breaks = excluded.recency_breaks,
           frequency_breaks = excluded.frequency_breaks, monetary_breaks = excluded.monetary_breaks,
           bgnbd = excluded.bgnbd, gamma_gamma = excluded.gamma_gamma, refreshed_at = excluded.refreshed_at$q$,
    cartera.purchase_rows_sql())
  USING as_of, lower(time_unit);
  changes := ARRAY(SELECT ROW(t.*)::cartera.state_transition FROM cartera.recompute_state(NULL, as_of) t);
  transitions := coalesce(array_length(changes, 1), 0);
  -- segment changes (a Champion falling to At Risk) raise their alerts here too
  PERFORM cartera.raise_transition_alerts(changes, as_of);
  customers := (SELECT count(*) FROM cartera.customer_state);
  RETURN NEXT;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.refresh(timestamptz, text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.refresh(timestamptz, text) IS
  'recompute breakpoints, BG/NBD and Gamma-Gamma fits and every customer''s state at as_of (default now(); not null, finite, not in the future, not before the last refresh''s as_of); returns customers and transitions logged';

CREATE OR REPLACE FUNCTION cartera.customer_rows_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  top bigint;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO cartera.customer_state (customer_id, summary, status, rfm_state)
      SELECT n.customer_id,
             ROW(NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, now())::cartera.rfm_summary,
             'lead', (SELECT cartera.rfm_state(NULL::timestamptz, NULL::numeric, now()))
        FROM new_rows n
      ON CONFLICT (customer_id) DO NOTHING;
    -- ids given explicitly (a loader bringing its own, as the owner: agents
    -- and managers cannot) move the sequence past them, so that the next
    -- customer added without an id does not collide with them
    top := (SELECT max(n.customer_id) FROM new_rows n);
    IF top > (SELECT CASE WHEN q.is_called THEN q.last_value ELSE q.last_value - 1 END
                FROM cartera.customer_customer_id_seq q) THEN
      PERFORM pg_catalog.setval('cartera.customer_customer_id_seq', top);
    END IF;
  ELSE
    -- nothing about a deleted customer outlives them (alerts and interactions
    -- go by ON DELETE CASCADE): no later customer can inherit their history
    DELETE FROM cartera.customer_state s USING old_rows o WHERE s.customer_id = o.customer_id;
    DELETE FROM cartera.status_transition t USING old_rows o WHERE t.customer_id = o.customer_id;
    DELETE FROM cartera.customer_merge m USING old_rows o WHERE m.keep_id = o.customer_id;
  END IF;
  RETURN NULL;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.customer_rows_changed() FROM PUBLIC;
COMMENT ON FUNCTION cartera.customer_rows_changed() IS
  'statement trigger of cartera.customer: a new customer starts as a lead in customer_state (explicit ids move the id sequence past them); a deleted one takes its state, transitions and merge records with it';

CREATE OR REPLACE FUNCTION cartera.customer_id_fixed() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  IF NEW.customer_id IS DISTINCT FROM OLD.customer_id THEN
    RAISE EXCEPTION 'the id of customer % cannot change', OLD.customer_id
      USING ERRCODE = 'feature_not_supported',
            DETAIL = format('The update would make it %s; purchases, states, alerts and history refer to the id.', NEW.customer_id),
            HINT = 'To join two records of one customer, use cartera.merge_customers(keep, drop).';
  END IF;
  RETURN NEW;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.customer_id_fixed() FROM PUBLIC;
COMMENT ON FUNCTION cartera.customer_id_fixed() IS 'row trigger of cartera.customer: refuses a change of customer_id';

CREATE OR REPLACE FUNCTION cartera.customer_owner_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  UPDATE cartera.alert a SET agent_id = n.owner_agent_id
    FROM new_rows n JOIN old_rows o ON o.customer_id = n.customer_id
   WHERE n.owner_agent_id IS DISTINCT FROM o.owner_agent_id
     AND a.customer_id = n.customer_id
     AND a.status IN ('open', 'acknowledged', 'snoozed')
     AND a.agent_id IS DISTINCT FROM n.owner_agent_id;
  RETURN NULL;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.customer_owner_changed() FROM PUBLIC;
COMMENT ON FUNCTION cartera.customer_owner_changed() IS
  'statement trigger of cartera.customer: a customer whose owner changed takes their open alerts to the new owner';

CREATE OR REPLACE FUNCTION cartera.raise_alerts(customer_ids bigint[], kinds text[], due_dates date[],
                                     details text[], agent_ids bigint[], as_of timestamptz)
  RETURNS TABLE (kind text, raised bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  settings boolean := cartera.use_portfolio_settings();   -- first: the others read them
  max_contacts integer := current_setting('cartera.max_contacts')::integer;
  contact_window interval := current_setting('cartera.contact_window')::interval;
  lang text := current_setting('cartera.language');
BEGIN
  IF coalesce(array_length(kinds, 1), 0) = 0 THEN
    RETURN;                     -- nothing proposed: skip the policy queries
  END IF;
  RETURN QUERY
  WITH candidate AS (
    SELECT c.customer_id, c.kind, c.due_on, c.detail, c.agent_id
      FROM unnest(customer_ids, kinds, due_dates, details, agent_ids) AS c(customer_id, kind, due_on, detail, agent_id)),
  allowed AS (
    SELECT c.*, k.colour, k.category, k.due_days,
           coalesce(c.agent_id, cu.owner_agent_id) AS owner,
           rtrim(format(CASE WHEN lang = 'en' THEN k.message_en ELSE k.message_es END,
                        coalesce(cu.full_name, ag.name), coalesce(c.detail, ''))) AS message
      FROM candidate c
      JOIN cartera.alert_kind k ON k.kind = c.kind AND k.enabled
      LEFT JOIN cartera.customer cu ON cu.customer_id = c.customer_id
      LEFT JOIN cartera.agent ag ON ag.agent_id = c.agent_id
     WHERE (c.customer_id IS NULL OR (cu.customer_id IS NOT NULL AND cu.forgotten_at IS NULL))
       AND (k.category <> 'marketing' OR cu.marketing_consent)
       -- (two tests, not one with OR: each can use its index)
       AND NOT EXISTS (SELECT 1 FROM cartera.alert a
                        WHERE c.customer_id IS NOT NULL AND a.customer_id = c.customer_id AND a.kind = c.kind
                          AND a.raised_at > as_of - k.cooldown AND a.raised_at <= as_of)
       AND NOT EXISTS (SELECT 1 FROM cartera.alert a
                        WHERE c.customer_id IS NULL AND a.customer_id IS NULL AND a.agent_id = c.agent_id
                          AND a.kind = c.kind AND a.raised_at > as_of - k.cooldown AND a.raised_at <= as_of)),
  recent AS (
    SELECT a.customer_id, count(*) AS contacts
      FROM cartera.alert a JOIN cartera.alert_kind k ON k.kind = a.kind
     WHERE k.category IN ('relationship', 'marketing')
       AND a.raised_at > as_of - contact_window AND a.raised_at <= as_of
       AND a.customer_id IN (SELECT customer_id FROM allowed)
     GROUP BY a.customer_id),
  ranked AS (
    SELECT al.*, coalesce(r.contacts, 0) AS contacts,
           row_number() OVER (PARTITION BY al.customer_id, al.category IN ('relationship', 'marketing')
                              ORDER BY array_position(ARRAY['red', 'amber', 'green', 'blue'], al.colour), al.kind) AS nth
      FROM allowed al LEFT JOIN recent r ON r.customer_id = al.customer_id),
  inserted AS (
    INSERT INTO cartera.alert (customer_id, agent_id, kind, colour, raised_at, due_on, message, detail)
    SELECT customer_id, owner, r.kind, colour, as_of, coalesce(due_on, as_of::date + due_days), message, detail
      FROM ranked r
     WHERE category NOT IN ('relationship', 'marketing') OR contacts + nth <= max_contacts
    ON CONFLICT DO NOTHING
    RETURNING alert_id, alert.kind, alert.colour, alert.customer_id, alert.agent_id),
  touched AS (
    UPDATE cartera.customer_state s SET last_alert_at = as_of
      FROM inserted i WHERE s.customer_id = i.customer_id
    RETURNING 1),
  announced AS (
    SELECT i.kind, pg_notify('cartera_alert',
                             json_build_object('id', i.alert_id, 'kind', i.kind, 'colour', i.colour,
                                               'customer', i.customer_id, 'agent', i.agent_id)::text) AS n
      FROM inserted i)
  SELECT a.kind, count(*) FROM announced a GROUP BY a.kind;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.raise_alerts(bigint[], text[], date[], text[], bigint[], timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION cartera.raise_alerts(bigint[], text[], date[], text[], bigint[], timestamptz) IS
  'raise candidate alerts through the contact policy (consent, cap, cool-down, one open per kind) and NOTIFY cartera_alert; returns counts per kind';

CREATE OR REPLACE FUNCTION cartera.raise_transition_alerts(changes cartera.state_transition[], as_of timestamptz)
  RETURNS TABLE (kind text, raised bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  settings boolean := cartera.use_portfolio_settings();   -- segment names in the portfolio's language
BEGIN
  IF coalesce(array_length(changes, 1), 0) = 0 THEN
    RETURN;
  END IF;
  -- segment names are looked up once per distinct segment, not per change
  -- (a bulk load brings tens of thousands of changes, over at most 729 cells)
  RETURN QUERY
  WITH t AS (SELECT * FROM unnest(changes)),
  -- first the Champions among the segments left (usually none), then the
  -- names of the segments those customers moved to
  champion AS (
    SELECT x.s, cartera.segment_label(x.s) AS shown
      FROM (SELECT DISTINCT t.from_segment AS s FROM t WHERE t.from_segment IS NOT NULL) x
     WHERE cartera.segment_label(x.s, 'en') = 'Champions'),
  moved AS (
    SELECT t.*, ch.shown AS from_shown FROM t JOIN champion ch ON ch.s = t.from_segment),
  label AS (
    SELECT x.s, cartera.segment_label(x.s, 'en') AS en, cartera.segment_label(x.s) AS shown
      FROM (SELECT DISTINCT m.to_segment AS s FROM moved m WHERE m.to_segment IS NOT NULL) x)
  SELECT r.kind, r.raised FROM (
    SELECT array_agg(m.customer_id) AS ids, array_agg('champion_at_risk'::text) AS kinds,
           array_agg(NULL::date) AS dues,
           array_agg(format('%s -> %s', m.from_shown, coalesce(lt.shown, m.to_status::text))) AS details,
           array_agg(NULL::bigint) AS agents
      FROM moved m LEFT JOIN label lt ON lt.s = m.to_segment
     WHERE lt.en = 'At Risk' OR (m.to_status = 'at_risk' AND m.from_status <> 'at_risk')) c,
    LATERAL cartera.raise_alerts(c.ids, c.kinds, c.dues, c.details, c.agents, as_of) r
   WHERE c.ids IS NOT NULL;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.raise_transition_alerts(cartera.state_transition[], timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION cartera.raise_transition_alerts(cartera.state_transition[], timestamptz) IS
  'raise the alerts that a change of state calls for (a Champion falling to At Risk)';

CREATE OR REPLACE FUNCTION cartera.raise_purchase_alerts(changes cartera.state_transition[], purchase_ids bigint[], as_of timestamptz)
  RETURNS TABLE (kind text, raised bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
-- Small statements, each skipped when it has nothing to do: this runs for
-- every purchase statement whose customers change status or segment.
DECLARE
  settings boolean := cartera.use_portfolio_settings();
  ids bigint[];
  kinds text[];
  dues date[];
  details text[];
  sell_ids bigint[];
  sell_kinds text[];
  sell_dues date[];
  sell_details text[];
BEGIN
  IF coalesce(array_length(changes, 1), 0) = 0 AND purchase_ids IS NULL THEN
    RETURN;
  END IF;
  -- a customer who buys again no longer needs to be won back (first, so
  -- that an alert raised below by this same purchase stays open)
  IF EXISTS (SELECT 1 FROM unnest(changes) t WHERE t.to_status IN ('new', 'active', 'reactivated')) THEN
    UPDATE cartera.alert a
       SET status = 'done', closed_at = as_of, snoozed_until = NULL,
           resolution = coalesce(a.resolution, 'the customer bought again')
      FROM unnest(changes) t
     WHERE a.customer_id = t.customer_id AND t.to_status IN ('new', 'active', 'reactivated')
       AND a.kind IN ('reactivation', 'exit_survey', 'cant_lose', 'champion_at_risk', 'idle_lead')
       AND a.status IN ('open', 'acknowledged', 'snoozed');
  END IF;
  -- a first purchase that is recent (status new), or coming back after
  -- dormancy; loading old history raises neither
  SELECT array_agg(t.customer_id), array_agg(CASE WHEN t.to_status = 'new' THEN 'welcome' ELSE 'welcome_back' END),
         array_agg(NULL::date), array_agg(NULL::text)
    INTO ids, kinds, dues, details
    FROM unnest(changes) t
   WHERE (t.from_status = 'lead' AND t.to_status = 'new')
      OR (t.to_status = 'reactivated' AND t.from_status IS DISTINCT FROM 'reactivated');
  -- cross-sell rules on the products just bought
  IF purchase_ids IS NOT NULL THEN
    SELECT array_agg(c.customer_id), array_agg('cross_sell'::text), array_agg(c.due_on), array_agg(c.offer)
      INTO sell_ids, sell_kinds, sell_dues, sell_details
      FROM (SELECT DISTINCT ON (p.customer_id, r.rule_id) p.customer_id,
                   (p.purchased_at + make_interval(days => r.after_days))::date AS due_on, r.offer
              FROM cartera.purchase p
              JOIN cartera.cross_sell_rule r ON r.active
               AND (r.bought_category IS NULL OR r.bought_category = p.category)
               AND (r.bought_product IS NULL OR r.bought_product = p.product)
             WHERE p.purchase_id = ANY (purchase_ids) AND p.kind = 'sale'
               -- an offer whose moment passed more than a month ago is not an opportunity
               AND p.purchased_at + make_interval(days => r.after_days) >= as_of - interval '30 days') c;
    ids := ids || sell_ids;
    kinds := kinds || sell_kinds;
    dues := dues || sell_dues;
    details := details || sell_details;
  END IF;
  IF ids IS NOT NULL THEN
    RETURN QUERY SELECT r.kind, r.raised
                   FROM cartera.raise_alerts(ids, kinds, dues, details,
                                             array_fill(NULL::bigint, ARRAY[array_length(ids, 1)]), as_of) r;
  END IF;
  RETURN QUERY SELECT r.kind, r.raised FROM cartera.raise_transition_alerts(changes, as_of) r;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.raise_purchase_alerts(cartera.state_transition[], bigint[], timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION cartera.raise_purchase_alerts(cartera.state_transition[], bigint[], timestamptz) IS
  'raise welcome, welcome back, cross-sell and transition alerts for a purchase statement, and close win-back alerts of customers who bought again';

CREATE OR REPLACE FUNCTION cartera.run_followups(as_of date DEFAULT current_date)
  RETURNS TABLE (kind text, raised bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  settings boolean := cartera.use_portfolio_settings();   -- first: the others read them
  as_ts timestamptz;
  latest timestamptz;
  idle interval := current_setting('cartera.lead_idle_after')::interval;
  horizon interval := current_setting('cartera.occasion_horizon')::interval;
  changes cartera.state_transition[];
  high_value numeric;
BEGIN
  -- not over a portfolio that is being restored (cartera.pre_restore())
  PERFORM cartera.refuse_while_restoring('run_followups()');
  IF as_of IS NULL THEN
    RAISE EXCEPTION 'as_of must not be null'
      USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Omit the argument to run the job for today (current_date).';
  END IF;
  IF NOT isfinite(as_of) THEN
    RAISE EXCEPTION 'as_of must be a finite date'
      USING ERRCODE = 'datetime_field_overflow', DETAIL = format('as_of is %s.', as_of),
            HINT = 'Omit the argument to run the job for today (current_date).';
  END IF;
  IF as_of > current_date + 1 THEN
    RAISE EXCEPTION 'as_of % is in the future', as_of
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('Today is %s (TimeZone %s); the job would raise alerts for a day that has not come.',
                            current_date, current_setting('TimeZone')),
            HINT = 'Omit the argument to run the job for today (current_date).';
  END IF;
  -- the portfolio's clock: the latest moment a state was computed at (a run
  -- for today is never refused: a purchase recorded after midnight, while the
  -- job of the day before runs, is not the job going back)
  IF as_of < current_date THEN
    SELECT max((s.summary).as_of) INTO latest FROM cartera.customer_state s;
  END IF;
  IF as_of < latest::date THEN
    RAISE EXCEPTION 'as_of % is before the portfolio''s latest state (as of %)', as_of, latest
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'The job would move statuses back in time and raise alerts dated in the past.',
            HINT = format('Run the job for %s or a later day (omit the argument for today).', latest::date);
  END IF;
  -- the end of the day, but never later than now
  as_ts := least((as_of + 1)::timestamptz, clock_timestamp());
  -- 1. statuses move with time: recompute them from the stored summaries
  WITH moved AS (
    UPDATE cartera.customer_state s
       SET status = cartera.lifecycle_status(s.summary, as_ts), updated_at = clock_timestamp()
      FROM (SELECT customer_id, status AS old_status FROM cartera.customer_state) o
     WHERE o.customer_id = s.customer_id
       AND (s.summary).purchases > 0 AND (s.summary).last_purchase <= as_ts
       AND s.status IS DISTINCT FROM cartera.lifecycle_status(s.summary, as_ts)
    RETURNING s.customer_id, o.old_status, s.status, s.segment),
  logged AS (
    INSERT INTO cartera.status_transition (customer_id, changed_at, from_status, to_status, from_segment, to_segment)
    SELECT customer_id, as_ts, old_status, status, segment, segment FROM moved)
  SELECT array_agg(ROW(customer_id, old_status, status, segment, segment)::cartera.state_transition)
    INTO changes FROM moved;

  -- 2. snoozed alerts whose date has come are open again
  UPDATE cartera.alert a SET status = 'open', snoozed_until = NULL
   WHERE a.status = 'snoozed' AND a.snoozed_until <= as_of;

  SELECT percentile_cont(0.8) WITHIN GROUP (ORDER BY s.clv) INTO high_value
    FROM cartera.customer_state s WHERE (s.summary).purchases > 0;

  -- 3. every rule proposes candidates; the policy decides
  RETURN QUERY
  WITH candidate AS (
    -- high-value customers at risk
    SELECT s.customer_id, 'cant_lose'::text AS kind, NULL::date AS due_on,
           format('CLV %s', s.clv) AS detail, NULL::bigint AS agent_id
      FROM cartera.customer_state s WHERE s.status = 'at_risk' AND s.clv >= high_value
    UNION ALL
    SELECT s.customer_id, 'reactivation', NULL, format('%s days without buying', (s.summary).recency_days), NULL
      FROM cartera.customer_state s WHERE s.status = 'dormant'
    UNION ALL
    SELECT s.customer_id, 'exit_survey', NULL, NULL, NULL
      FROM cartera.customer_state s JOIN cartera.customer c USING (customer_id)
     WHERE s.status = 'lost' AND c.lost_reason IS NULL
    UNION ALL
    -- leads with no purchase and no contact for a while
    SELECT c.customer_id, 'idle_lead', NULL,
           CASE WHEN c.owner_agent_id IS NULL THEN 'no owner: cartera.assign_owner()' END, NULL
      FROM cartera.customer c JOIN cartera.customer_state s USING (customer_id)
     WHERE s.status = 'lead' AND c.created_at <= as_ts - idle
       AND NOT EXISTS (SELECT 1 FROM cartera.interaction i
                        WHERE i.customer_id = c.customer_id AND i.happened_at > as_ts - idle)
    UNION ALL
    -- birthdays in the next days (29 February counts on 28 February in common years)
    SELECT c.customer_id, 'birthday', b.next_birthday, to_char(b.next_birthday, 'YYYY-MM-DD'), NULL
      FROM cartera.customer c
      CROSS JOIN LATERAL (
        SELECT min(d) AS next_birthday
          FROM (SELECT make_date(y, extract(month FROM c.birthday)::int,
                                 least(extract(day FROM c.birthday)::int,
                                       extract(day FROM (make_date(y, extract(month FROM c.birthday)::int, 1)
                                                         + interval '1 month - 1 day'))::int)) AS d
                  FROM generate_series(extract(year FROM as_of)::int, extract(year FROM as_of)::int + 1) y) yy
         WHERE d >= as_of) b
     WHERE c.birthday IS NOT NULL AND b.next_birthday <= as_of + horizon
    UNION ALL
    -- occasions of the customer's country (or of every country) in the next days
    SELECT c.customer_id, 'occasion', d.on_date,
           format('%s (%s)', CASE WHEN current_setting('cartera.language', true) = 'en' THEN o.name_en ELSE o.name_es END,
                  to_char(d.on_date, 'YYYY-MM-DD')), NULL
      FROM cartera.occasions() o
      CROSS JOIN LATERAL (SELECT cartera.occasion_date(o, y) AS on_date
                            FROM generate_series(extract(year FROM as_of)::int, extract(year FROM as_of)::int + 1) y) d
      JOIN cartera.customer c ON o.country IS NULL OR o.country = c.country
     WHERE d.on_date BETWEEN as_of AND as_of + horizon
    UNION ALL
    -- agents behind the pace of their monthly revenue goal
    SELECT NULL, 'below_target', NULL,
           format('%s of %s (%s%% of the month gone)', coalesce(m.revenue, 0), t.revenue_target,
                  round(100.0 * extract(day FROM as_of) / extract(day FROM (date_trunc('month', as_of) + interval '1 month - 1 day')))),
           t.agent_id
      FROM cartera.agent_target t
      LEFT JOIN LATERAL (SELECT sum(p.amount) AS revenue
                           FROM cartera.purchase p JOIN cartera.customer c USING (customer_id)
                          WHERE c.owner_agent_id = t.agent_id
                            AND p.purchased_at >= date_trunc('month', as_of) AND p.purchased_at < as_ts) m ON true
     WHERE t.month = date_trunc('month', as_of)::date AND t.revenue_target > 0
       AND coalesce(m.revenue, 0) < t.revenue_target * extract(day FROM as_of)
                                     / extract(day FROM (date_trunc('month', as_of) + interval '1 month - 1 day'))),
  gathered AS (
    SELECT array_agg(customer_id) AS ids, array_agg(c.kind) AS kinds, array_agg(due_on) AS dues,
           array_agg(detail) AS details, array_agg(agent_id) AS agents
      FROM candidate c),
  raised AS (
    SELECT r.kind, r.raised FROM gathered g, LATERAL cartera.raise_alerts(g.ids, g.kinds, g.dues, g.details, g.agents, as_ts) r
     WHERE g.ids IS NOT NULL
    UNION ALL
    SELECT t.kind, t.raised FROM cartera.raise_transition_alerts(changes, as_ts) t)
  SELECT k.kind, coalesce(sum(r.raised), 0)::bigint
    FROM cartera.alert_kind k LEFT JOIN raised r ON r.kind = k.kind
   GROUP BY k.kind ORDER BY k.kind;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.run_followups(date) FROM PUBLIC;
COMMENT ON FUNCTION cartera.run_followups(date) IS
  'the daily follow-up job for day as_of (default current_date; not null, finite, at most tomorrow; a past day not before the day of the latest stored state): moves statuses to the end of that day (never past now) and raises the alerts of every rule through the contact policy; returns alerts raised per kind';

CREATE OR REPLACE FUNCTION cartera.explain(customer_id bigint) RETURNS SETOF text
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  c cartera.customer;
  s cartera.customer_state;
  m cartera.portfolio_model;
  en boolean := coalesce(current_setting('cartera.language', true), 'es') = 'en';
  owner text;
  a record;
  n integer := 0;
BEGIN
  SELECT * INTO c FROM cartera.customer x WHERE x.customer_id = explain.customer_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'customer % does not exist', customer_id USING ERRCODE = 'no_data_found';
  END IF;
  SELECT * INTO s FROM cartera.customer_state x WHERE x.customer_id = explain.customer_id;
  SELECT * INTO m FROM cartera.portfolio_model;
  SELECT name INTO owner FROM cartera.agent WHERE agent_id = c.owner_agent_id;

  RETURN NEXT format(CASE WHEN en THEN '%s (customer %s), owner: %s.' ELSE '%s (cliente %s), responsable: %s.' END,
                     c.full_name, c.customer_id, coalesce(owner, CASE WHEN en THEN 'none' ELSE 'ninguno' END));
  IF s.customer_id IS NULL OR (s.summary).purchases = 0 THEN
    RETURN NEXT CASE WHEN en THEN 'Status lead: no purchase yet.' ELSE 'Estado lead: todavía no ha comprado.' END;
  ELSE
    RETURN NEXT format(CASE WHEN en
        THEN 'Status %s as of %s: last purchase %s days before (%s), first %s days before; %s purchases on %s days, %s in total, average ticket %s.'
        ELSE 'Estado %s a %s: última compra %s días antes (%s), primera %s días antes; %s compras en %s días, %s en total, ticket medio %s.' END,
      s.status, to_char((s.summary).as_of, 'YYYY-MM-DD'), (s.summary).recency_days,
      to_char((s.summary).last_purchase, 'YYYY-MM-DD'), (s.summary).age_days,
      (s.summary).purchases, (s.summary).purchase_days, (s.summary).monetary_total, (s.summary).avg_ticket);
    RETURN NEXT format(CASE WHEN en
        THEN 'Thresholds: at risk after %s, dormant after %s, lost after %s, new within %s (mode %s); the gap before the last purchase was %s days.'
        ELSE 'Umbrales: en riesgo tras %s, dormido tras %s, perdido tras %s, nuevo dentro de %s (modo %s); el hueco antes de la última compra fue de %s días.' END,
      -- the portfolio's thresholds, by which the stored status was decided
      cartera.portfolio_setting_value('cartera.at_risk_after'),
      cartera.portfolio_setting_value('cartera.dormant_after'),
      cartera.portfolio_setting_value('cartera.lost_after'),
      cartera.portfolio_setting_value('cartera.new_window'),
      cartera.portfolio_setting_value('cartera.lifecycle_mode'),
      coalesce((s.summary).last_gap_days::text, '-'));
    IF s.segment IS NOT NULL THEN
      RETURN NEXT format(CASE WHEN en
          THEN 'Segment %s "%s": recency %s days -> R%s (cuts %s), frequency %s -> F%s (cuts %s), spend %s -> M%s (cuts %s), from the refresh of %s.'
          ELSE 'Segmento %s "%s": recencia %s días -> R%s (cortes %s), frecuencia %s -> F%s (cortes %s), gasto %s -> M%s (cortes %s), del refresh de %s.' END,
        s.segment, cartera.segment_label(s.segment),
        (s.summary).recency_days, cartera.recency_score(s.segment), m.recency_breaks,
        (s.summary).frequency, cartera.frequency_score(s.segment), m.frequency_breaks,
        (s.summary).monetary_total, cartera.monetary_score(s.segment), m.monetary_breaks,
        to_char(m.as_of, 'YYYY-MM-DD'));
    ELSE
      RETURN NEXT CASE WHEN en THEN 'No segment yet: run cartera.refresh().' ELSE 'Sin segmento todavía: ejecutar cartera.refresh().' END;
    END IF;
    RETURN NEXT format(CASE WHEN en
        THEN 'Value: CLV (formula) %s; purchase probability %s; expected purchases next 12 months %s; predicted CLV 12 months %s.'
        ELSE 'Valor: CLV (fórmula) %s; probabilidad de compra %s; compras esperadas en 12 meses %s; CLV predicho a 12 meses %s.' END,
      s.clv, coalesce(round(s.p_alive::numeric, 3)::text, '-'), coalesce(round(s.expected_purchases_12m::numeric, 2)::text, '-'),
      coalesce(round(s.clv_predicted_12m::numeric, 2)::text, '-'));
  END IF;
  FOR a IN SELECT x.colour, x.kind, x.due_on, x.status, x.message FROM cartera.alert x
            WHERE x.customer_id = explain.customer_id AND x.status IN ('open', 'acknowledged', 'snoozed')
            ORDER BY array_position(ARRAY['red', 'amber', 'green', 'blue'], x.colour), x.due_on LOOP
    n := n + 1;
    RETURN NEXT format(CASE WHEN en THEN 'Alert [%s] %s due %s (%s): %s' ELSE 'Alerta [%s] %s para %s (%s): %s' END,
                       a.colour, a.kind, a.due_on, a.status, a.message);
  END LOOP;
  IF n = 0 THEN
    RETURN NEXT CASE WHEN en THEN 'No open alerts.' ELSE 'Sin alertas abiertas.' END;
  END IF;
  IF c.lost_reason IS NOT NULL THEN
    RETURN NEXT format(CASE WHEN en THEN 'Reason given for leaving: %s' ELSE 'Motivo de la baja: %s' END, c.lost_reason);
  END IF;
END
$fn$;
COMMENT ON FUNCTION cartera.explain(bigint) IS
  'why a customer has their status, segment, value and open alerts, in cartera.language (thresholds and values involved)';

CREATE OR REPLACE FUNCTION cartera.merge_customers(keep bigint, drop bigint)
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
    RAISE EXCEPTION 'customer % does not exist', keep
      USING ERRCODE = 'no_data_found', DETAIL = 'It was given as the customer to keep.';
  END IF;
  SELECT * INTO drop_row FROM cartera.customer c WHERE c.customer_id = merge_customers.drop;
  IF NOT FOUND THEN
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

CREATE OR REPLACE FUNCTION cartera.forget_customer(customer_id bigint) RETURNS jsonb
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

CREATE OR REPLACE FUNCTION cartera.grant_columns(privilege text, tab regclass, grantee regrole, excluded name[] DEFAULT '{}')
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

CREATE OR REPLACE FUNCTION cartera.set_session_defaults(grantee regrole) RETURNS bigint
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

CREATE OR REPLACE FUNCTION cartera.grant_agent_role(grantee regrole) RETURNS void
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

CREATE OR REPLACE FUNCTION cartera.grant_manager_role(grantee regrole) RETURNS void
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
-- 3. New triggers
------------------------------------------------------------------------------
CREATE TRIGGER customer_id_fixed BEFORE UPDATE OF customer_id ON cartera.customer
  FOR EACH ROW EXECUTE FUNCTION cartera.customer_id_fixed();
CREATE TRIGGER customer_owner_changed AFTER UPDATE ON cartera.customer
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cartera.customer_owner_changed();

------------------------------------------------------------------------------
-- 4. Data
------------------------------------------------------------------------------
-- the values this database used so far (ALTER DATABASE / postgresql.conf,
-- as the upgrading session sees them) become the portfolio's, so that the
-- upgrade changes nothing that is stored; TimeZone stays the session's
INSERT INTO cartera.portfolio_setting (name, value)
  SELECT s.name, pg_catalog.current_setting(s.name, true)
    FROM cartera.portfolio_settings s
   WHERE s.name LIKE 'cartera.%'
     AND pg_catalog.current_setting(s.name, true) IS NOT NULL
     AND pg_catalog.current_setting(s.name, true) IS DISTINCT FROM s.default_value;
-- a deleted customer's history goes with them from 0.4.0 on: what earlier
-- deletions left behind is removed now
DELETE FROM cartera.status_transition t
 WHERE NOT EXISTS (SELECT 1 FROM cartera.customer c WHERE c.customer_id = t.customer_id);
-- the id sequence passes every id given explicitly so far
SELECT pg_catalog.setval('cartera.customer_customer_id_seq', x.m)
  FROM (SELECT max(customer_id) AS m FROM cartera.customer) x
 WHERE x.m > (SELECT CASE WHEN q.is_called THEN q.last_value ELSE q.last_value - 1 END FROM cartera.customer_customer_id_seq q);

-- The roles the grant helpers were run for get this version's grants now
-- (column-level INSERT/UPDATE without the ids, the new tables and functions,
-- session defaults): every role holding SELECT on customer_state, which only
-- the helpers grant.
DO $upgrade$
DECLARE
  r regrole;
BEGIN
  FOR r IN SELECT DISTINCT a.grantee::regrole
             FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
            WHERE c.oid = 'cartera.customer_state'::regclass AND a.privilege_type = 'SELECT'
              AND a.grantee <> c.relowner AND a.grantee <> 0
            ORDER BY 1 LOOP
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles m WHERE m.rolname = 'cartera_manager'
                 AND pg_catalog.pg_has_role(r, m.oid, 'USAGE')) THEN
      PERFORM cartera.grant_manager_role(r);
    ELSE
      PERFORM cartera.grant_agent_role(r);
    END IF;
  END LOOP;
END
$upgrade$;
