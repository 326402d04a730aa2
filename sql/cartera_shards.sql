------------------------------------------------------------------------------
-- 0.4.0: the portfolio on shards (docs/scaling.md)
--
-- A portfolio split by customer over several servers runs refresh() as one:
-- every shard computes the partial states of the model over its customers
-- (refresh_partials()), the coordinator merges them into the model of the
-- whole portfolio, chooses the transaction model once, and every shard then
-- stores that model and recomputes its states with it (refresh_with_model(),
-- the second half of refresh() itself): each status or segment change is
-- logged once and raises its alerts as on one server.  The coordinator talks
-- to the shards through dblink over the foreign servers of postgres_fdw (the
-- servers of its partitioned tables), listed in cartera.shard.
------------------------------------------------------------------------------

-- The arguments of refresh() and of a sharded refresh: the same checks and
-- messages everywhere.
CREATE FUNCTION cartera.check_refresh_arguments(as_of timestamptz, time_unit text) RETURNS void
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
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
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.check_refresh_arguments(timestamptz, text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.check_refresh_arguments(timestamptz, text) IS
  'part of refresh(): refuses a NULL, infinite or future as_of and a time unit other than days or weeks';

-- The start of refresh() on this database: arguments checked, not during a
-- restore, the deferred queue applied (through the purchase path: welcome
-- alerts, cross-sell), the states locked against purchases until the
-- transaction ends, and the portfolio's clock only moving forward.
CREATE FUNCTION cartera.refresh_begin(as_of timestamptz, time_unit text) RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  last_as_of timestamptz;
BEGIN
  PERFORM cartera.check_refresh_arguments(as_of, time_unit);
  PERFORM cartera.refuse_while_restoring('refresh()');
  PERFORM count(*) FROM cartera.catch_up();
  LOCK TABLE cartera.customer_state IN SHARE ROW EXCLUSIVE MODE;
  SELECT m.as_of INTO last_as_of FROM cartera.portfolio_model m;
  IF as_of < last_as_of THEN
    RAISE EXCEPTION 'as_of % is before the last refresh (as of %)', as_of, last_as_of
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'The portfolio''s clock only moves forward: every state would go back in time, and status changes would be logged before those already logged.',
            HINT = 'Refresh as of now (omit the argument).  To rebuild the whole portfolio as of an earlier day, DELETE FROM cartera.portfolio_model first.';
  END IF;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.refresh_begin(timestamptz, text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.refresh_begin(timestamptz, text) IS
  'part of refresh(): checks the arguments, applies the deferred queue, locks customer_state until the transaction ends and refuses an as_of before the last refresh';

-- A shard's half of the model: the partial states of refresh()'s breakpoints
-- and fits over this database's customers at as_of, for the coordinator to
-- merge (cartera.shard_refresh()).  Starts the refresh here (refresh_begin():
-- the states stay locked until the transaction ends).
CREATE FUNCTION cartera.refresh_partials(as_of timestamptz, time_unit text DEFAULT 'weeks')
  RETURNS TABLE (recency bytea, frequency bytea, monetary bytea, transactions bytea, spend bytea)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  settings boolean := cartera.use_portfolio_settings();
BEGIN
  PERFORM cartera.refresh_begin(as_of, time_unit);
  -- the query of refresh() with the partial forms of its aggregates (the
  -- three transaction models share the state of bgnbd_fit_partial())
  RETURN QUERY EXECUTE format($q$
    SELECT cartera.breakpoints_partial((s).recency_days, 5), cartera.breakpoints_partial((s).frequency, 5),
           cartera.breakpoints_partial((s).monetary_total::float8, 5),
           cartera.bgnbd_fit_partial(s, $2), cartera.gamma_gamma_fit_partial(s)
      FROM (SELECT cartera.rfm(r.purchased_at, r.amount, $1) AS s FROM (%s) r GROUP BY r.customer_id) q
     WHERE (s).purchases > 0$q$, cartera.purchase_rows_sql())
  USING as_of, CASE lower(time_unit) WHEN 'weeks' THEN 7 ELSE 1 END;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.refresh_partials(timestamptz, text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.refresh_partials(timestamptz, text) IS
  'a shard''s half of the portfolio model: the partial states of refresh()''s breakpoints (recency, frequency, monetary), transaction fits and Gamma-Gamma fit over this database''s customers at as_of, to merge with breakpoints_merge(), bgnbd_fit_merge(), pareto_nbd_fit_merge(), mbgnbd_fit_merge() and gamma_gamma_fit_merge(); starts the refresh (applies the deferred queue, locks customer_state until the transaction ends)';

-- The second half of refresh(): store a model fitted elsewhere (by refresh()
-- here, or by the coordinator from every shard's partial states), recompute
-- every customer's state with it, log each change once and raise the
-- segment-change alerts.  A fit that found no interior maximum is not stored
-- (its parameters sit at the edge of the space).
CREATE FUNCTION cartera.refresh_with_model(model cartera.portfolio_model)
  RETURNS TABLE (customers bigint, transitions bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  settings boolean := cartera.use_portfolio_settings();
  changes cartera.state_transition[];
BEGIN
  IF model IS NULL OR model.as_of IS NULL THEN
    RAISE EXCEPTION 'the model must have an as_of'
      USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Pass the row cartera.refresh() or cartera.shard_refresh() builds.';
  END IF;
  PERFORM cartera.refresh_begin(model.as_of, 'weeks');
  INSERT INTO cartera.portfolio_model AS m
         (as_of, recency_breaks, frequency_breaks, monetary_breaks, bgnbd, gamma_gamma, refreshed_at,
          transaction_model, pareto_nbd, mbgnbd)
  VALUES (model.as_of, model.recency_breaks, model.frequency_breaks, model.monetary_breaks,
          CASE WHEN (model.bgnbd).converged THEN model.bgnbd END,
          CASE WHEN (model.gamma_gamma).converged THEN model.gamma_gamma END,
          coalesce(model.refreshed_at, clock_timestamp()), model.transaction_model,
          CASE WHEN (model.pareto_nbd).converged THEN model.pareto_nbd END,
          CASE WHEN (model.mbgnbd).converged THEN model.mbgnbd END)
  ON CONFLICT (singleton) DO UPDATE
     SET as_of = excluded.as_of, recency_breaks = excluded.recency_breaks,
         frequency_breaks = excluded.frequency_breaks, monetary_breaks = excluded.monetary_breaks,
         bgnbd = excluded.bgnbd, gamma_gamma = excluded.gamma_gamma, refreshed_at = excluded.refreshed_at,
         transaction_model = excluded.transaction_model, pareto_nbd = excluded.pareto_nbd,
         mbgnbd = excluded.mbgnbd;
  changes := ARRAY(SELECT ROW(t.*)::cartera.state_transition FROM cartera.recompute_state(NULL, model.as_of) t);
  transitions := coalesce(array_length(changes, 1), 0);
  -- segment changes (a Champion falling to At Risk) raise their alerts here too
  PERFORM cartera.raise_transition_alerts(changes, model.as_of);
  customers := (SELECT count(*) FROM cartera.customer_state);
  RETURN NEXT;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.refresh_with_model(cartera.portfolio_model) FROM PUBLIC;
COMMENT ON FUNCTION cartera.refresh_with_model(cartera.portfolio_model) IS
  'the second half of refresh(): stores the given model (fits that did not converge left out) and recomputes every customer''s state with it at the model''s as_of, logging each change once and raising the segment-change alerts; returns customers and transitions logged';

------------------------------------------------------------------------------
-- The coordinator
------------------------------------------------------------------------------

CREATE TABLE cartera.shard (
  server    text PRIMARY KEY CONSTRAINT shard_server_not_blank CHECK (btrim(server) <> ''),
  added_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE cartera.shard IS
  'the coordinator''s shards: foreign servers (postgres_fdw) of databases with cartera, each holding a part of the portfolio split by customer; cartera.shard_refresh() runs over them';
COMMENT ON COLUMN cartera.shard.server IS 'name of the foreign server (CREATE SERVER ... FOREIGN DATA WRAPPER postgres_fdw) with a user mapping for the caller';
COMMENT ON COLUMN cartera.shard.added_at IS 'when it was listed';
SELECT pg_catalog.pg_extension_config_dump('cartera.shard', '');

-- The schema of dblink, which the coordinator's functions call (it is not a
-- requirement of cartera: only a coordinator needs it).
CREATE FUNCTION cartera.dblink_schema() RETURNS name
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  found name;
BEGIN
  SELECT n.nspname INTO found
    FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
   WHERE e.extname = 'dblink';
  IF found IS NULL THEN
    RAISE EXCEPTION 'the coordinator needs the dblink extension'
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = 'cartera.shard_refresh() runs its steps on the shards through dblink.',
            HINT = 'CREATE EXTENSION dblink (it comes with PostgreSQL).';
  END IF;
  RETURN found;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.dblink_schema() FROM PUBLIC;
COMMENT ON FUNCTION cartera.dblink_schema() IS 'the schema of the dblink extension; an error when it is not installed';

-- One query on every shard at the same time, in each shard's open
-- transaction; returns its rows as JSON, one per row, with the shard.
CREATE FUNCTION cartera.shard_query(query text, columns text)
  RETURNS TABLE (server text, result json)
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  dbl name := cartera.dblink_schema();
  s record;
BEGIN
  FOR s IN SELECT h.server FROM cartera.shard h ORDER BY h.server LOOP
    EXECUTE format('SELECT %I.dblink_send_query($1, $2)', dbl) USING 'cartera_shard_' || s.server, query;
  END LOOP;
  FOR s IN SELECT h.server FROM cartera.shard h ORDER BY h.server LOOP
    RETURN QUERY EXECUTE format('SELECT $1, pg_catalog.row_to_json(r) FROM %I.dblink_get_result($2) AS r(%s)', dbl, columns)
      USING s.server, 'cartera_shard_' || s.server;
    -- the end of the results (dblink: one more call)
    EXECUTE format('SELECT count(*) FROM %I.dblink_get_result($1) AS r(%s)', dbl, columns) USING 'cartera_shard_' || s.server;
  END LOOP;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.shard_query(text, text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.shard_query(text, text) IS
  'part of the sharded functions: runs a query on every shard of cartera.shard at the same time over the open connections (dblink), returns each row as JSON with its shard';

-- The coordinator's refresh(): one model for the whole portfolio, fitted
-- once from every shard's partial states, and every shard's states
-- recomputed with it, in one transaction per shard, committed together at
-- the end (a failure anywhere rolls every shard back; a failure between the
-- commits, which dblink cannot make atomic, leaves shards refreshed that a
-- new run refreshes again).
CREATE FUNCTION cartera.shard_refresh(as_of timestamptz DEFAULT now(), time_unit text DEFAULT 'weeks')
  RETURNS TABLE (server text, customers bigint, transitions bigint)
  LANGUAGE plpgsql
  -- the model travels as text: floats in their shortest exact form
  SET search_path = pg_catalog, cartera, pg_temp
  SET extra_float_digits = 1
AS $fn$
DECLARE
  settings boolean := cartera.use_portfolio_settings();
  dbl name;
  s record;
  fit record;
  model cartera.portfolio_model;
  opened text[] := '{}';
BEGIN
  -- the coordinator's own checks first (its clock, its lock)
  PERFORM cartera.refresh_begin(as_of, time_unit);
  dbl := cartera.dblink_schema();
  IF NOT EXISTS (SELECT 1 FROM cartera.shard) THEN
    RAISE EXCEPTION 'no shards are listed in cartera.shard'
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'INSERT INTO cartera.shard (server) the foreign servers of the shards (docs/scaling.md).';
  END IF;
  BEGIN
    FOR s IN SELECT h.server FROM cartera.shard h ORDER BY h.server LOOP
      IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_foreign_server f WHERE f.srvname = s.server) THEN
        RAISE EXCEPTION 'shard "%" is not a foreign server', s.server
          USING ERRCODE = 'undefined_object',
                HINT = 'CREATE SERVER it (postgres_fdw) with a user mapping, or DELETE it from cartera.shard.';
      END IF;
      EXECUTE format('SELECT %I.dblink_connect($1, $2)', dbl) USING 'cartera_shard_' || s.server, s.server;
      opened := opened || ('cartera_shard_' || s.server);
      EXECUTE format('SELECT %I.dblink_exec($1, $2)', dbl) USING 'cartera_shard_' || s.server, 'BEGIN';
    END LOOP;

    -- 1. every shard's partial states (its states locked from here on)
    SELECT cartera.breakpoints_merge((q.result->>'recency')::bytea) AS rb,
           cartera.breakpoints_merge((q.result->>'frequency')::bytea) AS fb,
           cartera.breakpoints_merge((q.result->>'monetary')::bytea) AS mb,
           cartera.bgnbd_fit_merge((q.result->>'transactions')::bytea) AS bg,
           cartera.pareto_nbd_fit_merge((q.result->>'transactions')::bytea) AS pnbd,
           cartera.mbgnbd_fit_merge((q.result->>'transactions')::bytea) AS mbg,
           cartera.gamma_gamma_fit_merge((q.result->>'spend')::bytea) AS gg
      INTO fit
      FROM cartera.shard_query(format('SELECT * FROM cartera.refresh_partials(%L, %L)', as_of, time_unit),
                               'recency bytea, frequency bytea, monetary bytea, transactions bytea, spend bytea') q;

    -- 2. the model, chosen once (the coordinator's settings; its model_history)
    model.as_of := as_of;
    model.refreshed_at := clock_timestamp();
    model.recency_breaks := fit.rb;
    model.frequency_breaks := fit.fb;
    model.monetary_breaks := fit.mb;
    model.bgnbd := fit.bg;
    model.pareto_nbd := fit.pnbd;
    model.mbgnbd := fit.mbg;
    model.gamma_gamma := fit.gg;
    model.transaction_model := cartera.choose_transaction_model(as_of, time_unit, model.refreshed_at,
                                                                fit.bg, fit.pnbd, fit.mbg);
    -- the coordinator keeps it too (its own as_of check; its model_history)
    PERFORM count(*) FROM cartera.refresh_with_model(model);

    -- 3. every shard stores it and recomputes its states
    RETURN QUERY
      SELECT q.server, (q.result->>'customers')::bigint, (q.result->>'transitions')::bigint
        FROM cartera.shard_query(format('SELECT * FROM cartera.refresh_with_model(%L::cartera.portfolio_model)', model),
                                 'customers bigint, transitions bigint') q
       ORDER BY 1;
    FOR s IN SELECT unnest(opened) AS conn LOOP
      EXECUTE format('SELECT %I.dblink_exec($1, $2)', dbl) USING s.conn, 'COMMIT';
    END LOOP;
    FOR s IN SELECT unnest(opened) AS conn LOOP
      EXECUTE format('SELECT %I.dblink_disconnect($1)', dbl) USING s.conn;
    END LOOP;
  EXCEPTION WHEN OTHERS THEN
    -- closing a connection rolls its shard's transaction back
    FOR s IN SELECT unnest(opened) AS conn LOOP
      BEGIN
        EXECUTE format('SELECT %I.dblink_disconnect($1)', dbl) USING s.conn;
      EXCEPTION WHEN OTHERS THEN
        NULL;
      END;
    END LOOP;
    RAISE;
  END;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.shard_refresh(timestamptz, text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.shard_refresh(timestamptz, text) IS
  'refresh() of a portfolio split over the shards of cartera.shard (run on the coordinator, needs dblink): the model fitted once from every shard''s partial states, chosen once, then every shard''s states recomputed with it (each change logged once, segment-change alerts raised), committed on every shard at the end; returns customers and transitions per shard';
