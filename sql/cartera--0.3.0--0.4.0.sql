-- cartera 0.3.0 -> 0.4.0, written by hand: what changed since the 0.3.0
-- release (sql/cartera--0.3.0.sql is frozen).  Every statement here has its
-- twin in sql/cartera.sql or the portfolio scripts; test/upgrade.sql and
-- sql/setup.sql check that an updated database equals a fresh install.
\echo Use "ALTER EXTENSION cartera UPDATE TO '0.4.0'" to load this file. \quit


------------------------------------------------------------------------------
-- jobs: the as_of of refresh() and run_followups(), merge_customers() for
-- managers, purchase amounts in range, session defaults of agents and
-- managers against lock stalls (docs/scheduling.md, docs/security.md,
-- docs/data-model.md "Amounts").
------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION cartera.refresh(as_of timestamptz DEFAULT now(), time_unit text DEFAULT 'weeks')
  RETURNS TABLE (customers bigint, transitions bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
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
COMMENT ON FUNCTION cartera.refresh(timestamptz, text) IS
  'recompute breakpoints, BG/NBD and Gamma-Gamma fits and every customer''s state at as_of (default now(); not null, finite, not in the future, not before the last refresh''s as_of); returns customers and transitions logged';

CREATE OR REPLACE FUNCTION cartera.run_followups(as_of date DEFAULT current_date)
  RETURNS TABLE (kind text, raised bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  as_ts timestamptz;
  latest timestamptz;
  idle interval := coalesce(current_setting('cartera.lead_idle_after', true), '14 days')::interval;
  horizon interval := coalesce(current_setting('cartera.occasion_horizon', true), '7 days')::interval;
  changes cartera.state_transition[];
  high_value numeric;
BEGIN
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
COMMENT ON FUNCTION cartera.run_followups(date) IS
  'the daily follow-up job for day as_of (default current_date; not null, finite, at most tomorrow; a past day not before the day of the latest stored state): moves statuses to the end of that day (never past now) and raises the alerts of every rule through the contact policy; returns alerts raised per kind';

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
  amount_column name;
  too_big numeric;
BEGIN
  -- before any cast of a tracked table's columns below, which run with the
  -- owner's rights: the columns must still be of built-in types (the
  -- extension's own cartera.purchase is checked by recompute_state)
  IF TG_RELID <> 'cartera.purchase'::regclass THEN
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
COMMENT ON FUNCTION cartera.purchase_rows_changed() IS
  'UPDATE, DELETE and TRUNCATE statement trigger of every purchase source (INSERT: purchase_rows_added()): refuses future purchase dates and amounts out of range (|amount| >= 1e15) and recomputes the state of the customers touched';

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

  -- 5. audit, delete (keep's state was recomputed by the purchase triggers
  --    when purchases moved; otherwise its purchases did not change)
  INSERT INTO cartera.customer_merge (keep_id, drop_id, dropped_row, moved)
    VALUES (keep_row.customer_id, drop_row.customer_id, to_jsonb(drop_row), moved)
    RETURNING * INTO result;
  DELETE FROM cartera.customer c WHERE c.customer_id = drop_row.customer_id;
  RETURN result;
END
$fn$;
COMMENT ON FUNCTION cartera.merge_customers(bigint, bigint) IS
  'merge duplicate customer drop into keep atomically (a manager''s tool, granted by grant_manager_role): fill keep''s empty registry fields, move alerts (dismissing duplicates of an open kind), interactions, referrals, history and purchases of every source (their triggers recompute both states), log to cartera.customer_merge, delete drop; returns the audit row';

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
  -- lock_timeout and idle_in_transaction_session_timeout (see above)
  PERFORM cartera.set_session_defaults(grantee);
END
$fn$;
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
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON cartera.agent, cartera.agent_target, cartera.customer, '
                 'cartera.purchase, cartera.interaction, cartera.alert, cartera.segment_map, cartera.occasion, '
                 'cartera.cross_sell_rule, cartera.alert_kind TO %s', grantee);
  EXECUTE format('GRANT SELECT ON cartera.purchase_source TO %s', grantee);
  EXECUTE format('GRANT EXECUTE ON FUNCTION cartera.assign_owner(bigint, boolean) TO %s', grantee);
  -- merging duplicates (cartera.merge_customers runs as its caller): the
  -- audit log, moving the history and the alert cool-down of the duplicate
  EXECUTE format('GRANT EXECUTE ON FUNCTION cartera.merge_customers(bigint, bigint) TO %s', grantee);
  EXECUTE format('GRANT SELECT, INSERT ON cartera.customer_merge TO %s', grantee);
  EXECUTE format('GRANT UPDATE (customer_id), DELETE ON cartera.status_transition TO %s', grantee);
  EXECUTE format('GRANT UPDATE (last_alert_at) ON cartera.customer_state TO %s', grantee);
END
$fn$;
COMMENT ON FUNCTION cartera.grant_manager_role(regrole) IS
  'grant cartera_manager (or a member of it) what a manager needs: every portfolio, agents, targets, configuration, lead assignment, merging duplicates';

COMMENT ON FUNCTION cartera.purchase_rows_added() IS
  'INSERT statement trigger of every purchase source: refuses future purchases and amounts out of range (|amount| >= 1e15), merges the new rows into each customer''s stored state and raises purchase alerts';

-- end of jobs
