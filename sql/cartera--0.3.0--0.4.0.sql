-- cartera 0.3.0 -> 0.4.0, written by hand: what changed since the 0.3.0
-- release (sql/cartera--0.3.0.sql is frozen).  Every statement here has its
-- twin in sql/cartera.sql or the portfolio scripts; test/upgrade.sql and
-- sql/setup.sql check that an updated database equals a fresh install.
\echo Use "ALTER EXTENSION cartera UPDATE TO '0.4.0'" to load this file. \quit


------------------------------------------------------------------------------
-- BEGIN backup and restore without superuser (pre_restore / post_restore)
-- twin of the end of sql/cartera_security.sql, plus the functions it changes
-- (docs/data-model.md#backups, docs/security.md#backup-and-restore-by-a-manager)
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
BEGIN
  IF manager IS NULL THEN
    RETURN;
  END IF;
  EXECUTE format('%s INSERT ON cartera.customer_state, cartera.status_transition, cartera.portfolio_model, '
                 'cartera.purchase_source, cartera.customer_merge %s %s', verb, dir, manager);
  EXECUTE format('%s UPDATE ON SEQUENCE %s %s %s', verb,
                 (SELECT string_agg(format('cartera.%I', c.relname), ', ' ORDER BY c.relname) FROM pg_catalog.pg_class c
                   WHERE c.relnamespace = 'cartera'::pg_catalog.regnamespace AND c.relkind = 'S'), dir, manager);
  EXECUTE format('%s EXECUTE ON FUNCTION cartera.purchase_rows_added(), cartera.purchase_rows_changed() %s %s',
                 verb, dir, manager);
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.restore_privileges(boolean) FROM PUBLIC;
COMMENT ON FUNCTION cartera.restore_privileges(boolean) IS
  'grant (true) or revoke (false) what cartera_manager needs to load a dump: INSERT on the derived tables, UPDATE on the identity sequences, EXECUTE on the purchase trigger functions';

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
  PERFORM cartera.restore_privileges(false);
  DELETE FROM cartera.restore_in_progress;
  customers := (SELECT count(*) FROM cartera.customer_state);
  RETURN NEXT;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.post_restore() FROM PUBLIC;
COMMENT ON FUNCTION cartera.post_restore() IS
  'end a restore started by cartera.pre_restore() (managers): recompute customers whose restored state does not match their purchases, turn the maintenance triggers and row-level security back on, take back the restore privileges; returns state rows and customers recomputed';

-- changed: refuse to run while a restore is open
CREATE OR REPLACE FUNCTION cartera.refresh(as_of timestamptz DEFAULT now(), time_unit text DEFAULT 'weeks')
  RETURNS TABLE (customers bigint, transitions bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  changes cartera.state_transition[];
BEGIN
  IF lower(time_unit) NOT IN ('days', 'weeks') THEN
    RAISE EXCEPTION 'time unit must be "days" or "weeks", not "%"', time_unit
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- not over a portfolio that is being restored (cartera.pre_restore())
  PERFORM cartera.refuse_while_restoring('refresh()');
  LOCK TABLE cartera.customer_state IN SHARE ROW EXCLUSIVE MODE;
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
CREATE OR REPLACE FUNCTION cartera.run_followups(as_of date DEFAULT current_date)
  RETURNS TABLE (kind text, raised bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  -- the end of the day, but never later than now
  as_ts timestamptz := least((as_of + 1)::timestamptz, clock_timestamp());
  idle interval := coalesce(current_setting('cartera.lead_idle_after', true), '14 days')::interval;
  horizon interval := coalesce(current_setting('cartera.occasion_horizon', true), '7 days')::interval;
  changes cartera.state_transition[];
  high_value numeric;
BEGIN
  -- not over a portfolio that is being restored (cartera.pre_restore())
  PERFORM cartera.refuse_while_restoring('run_followups()');
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

-- changed: refuse a table that is not a registered purchase source
CREATE OR REPLACE FUNCTION cartera.purchase_rows_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  customer_column name := TG_ARGV[0];
  at_column name := TG_ARGV[1];
  customers bigint[];
  latest timestamptz;
  now_ts timestamptz := clock_timestamp();
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

-- changed: agents get no privileges while a restore is open; managers can
-- pg_dump (sequences, customer_merge) and run pre_restore() / post_restore()
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
  EXECUTE format('GRANT SELECT, INSERT, UPDATE ON cartera.customer TO %s', grantee);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON cartera.purchase, cartera.interaction TO %s', grantee);
  -- alerts are raised by the system; agents only move them along
  EXECUTE format('GRANT SELECT, UPDATE (status, snoozed_until, closed_at, resolution) ON cartera.alert TO %s', grantee);
  EXECUTE format('GRANT SELECT ON cartera.customer_state, cartera.status_transition, cartera.agent, '
                 'cartera.agent_target TO %s', grantee);
  -- configuration and the portfolio-wide model (no customer data)
  EXECUTE format('GRANT SELECT ON cartera.segment_map, cartera.occasion, cartera.cross_sell_rule, '
                 'cartera.alert_kind, cartera.portfolio_model TO %s', grantee);
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
END
$fn$;
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
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON cartera.agent, cartera.agent_target, cartera.customer, '
                 'cartera.purchase, cartera.interaction, cartera.alert, cartera.segment_map, cartera.occasion, '
                 'cartera.cross_sell_rule, cartera.alert_kind TO %s', grantee);
  EXECUTE format('GRANT SELECT ON cartera.purchase_source TO %s', grantee);
  EXECUTE format('GRANT EXECUTE ON FUNCTION cartera.assign_owner(bigint, boolean) TO %s', grantee);
  -- backups (docs/data-model.md#backups): pg_dump reads every table it
  -- dumps and the identity sequences; pre_restore() and post_restore()
  -- frame a restore into a new database
  EXECUTE format('GRANT SELECT ON cartera.customer_merge, cartera.restore_in_progress TO %s', grantee);
  EXECUTE format('GRANT SELECT ON SEQUENCE %s TO %s',
                 (SELECT string_agg(format('cartera.%I', c.relname), ', ' ORDER BY c.relname) FROM pg_catalog.pg_class c
                   WHERE c.relnamespace = 'cartera'::pg_catalog.regnamespace AND c.relkind = 'S'), grantee);
  EXECUTE format('GRANT EXECUTE ON FUNCTION cartera.pre_restore(), cartera.post_restore() TO %s', grantee);
END
$fn$;
COMMENT ON FUNCTION cartera.grant_manager_role(regrole) IS
  'grant cartera_manager (or a member of it) what a manager needs: every portfolio, agents, targets, configuration, lead assignment, pg_dump and pre_restore()/post_restore()';
------------------------------------------------------------------------------
-- END backup and restore without superuser
------------------------------------------------------------------------------
