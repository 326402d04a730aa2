------------------------------------------------------------------------------
-- 0.4.0: the portfolio on shards (docs/scaling.md)
--
-- A portfolio split by customer over several servers (postgres_fdw hash
-- partitions on a coordinator) runs as one:
--  * refresh(): every shard computes the partial states of the model over
--    its customers (refresh_partials()), the coordinator merges them, chooses
--    the transaction model once, and every shard stores that model and
--    recomputes its states with it (refresh_with_model(), the second half of
--    refresh() itself): shard_refresh();
--  * the daily job: the portfolio-wide figures of run_followups() computed
--    once between its two halves (followups_begin(), followups_raise(), in
--    sql/cartera_alerts.sql): shard_followups();
--  * a shard's number: ids from its own block, customers placed by hash,
--    referrals and merges across shards refused: set_shard_number();
--  * bulk loads through the coordinator: shard_load(); alert notifications
--    relayed to the coordinator: shard_relay().
-- The coordinator talks to the shards through dblink over the foreign
-- servers of postgres_fdw listed in cartera.shard.
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

-- The model refresh() stores, from its fits (one server's, or every shard's
-- merged): stamped now, the transaction model chosen by the portfolio
-- settings and every fit recorded in model_history (choose_transaction_model()).
CREATE FUNCTION cartera.refresh_model(as_of timestamptz, time_unit text,
                                      recency_breaks double precision[], frequency_breaks double precision[],
                                      monetary_breaks double precision[], bg cartera.bgnbd_params,
                                      pnbd cartera.pareto_nbd_params, mbg cartera.mbgnbd_params,
                                      gg cartera.gamma_gamma_params)
  RETURNS cartera.portfolio_model
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  model cartera.portfolio_model;
BEGIN
  model.as_of := as_of;
  model.refreshed_at := clock_timestamp();
  model.recency_breaks := recency_breaks;
  model.frequency_breaks := frequency_breaks;
  model.monetary_breaks := monetary_breaks;
  model.bgnbd := bg;
  model.pareto_nbd := pnbd;
  model.mbgnbd := mbg;
  model.gamma_gamma := gg;
  model.transaction_model := cartera.choose_transaction_model(as_of, time_unit, model.refreshed_at, bg, pnbd, mbg);
  RETURN model;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.refresh_model(timestamptz, text, double precision[], double precision[], double precision[], cartera.bgnbd_params, cartera.pareto_nbd_params, cartera.mbgnbd_params, cartera.gamma_gamma_params) FROM PUBLIC;
COMMENT ON FUNCTION cartera.refresh_model(timestamptz, text, double precision[], double precision[], double precision[], cartera.bgnbd_params, cartera.pareto_nbd_params, cartera.mbgnbd_params, cartera.gamma_gamma_params) IS
  'part of refresh(): the portfolio_model row of the given breakpoints and fits, stamped now, with the transaction model chosen by the portfolio settings (every fit recorded in model_history)';

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

-- The shards of cartera.shard, each checked to be a foreign server (their
-- order: by name).
CREATE FUNCTION cartera.shard_servers() RETURNS text[]
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  servers text[] := ARRAY(SELECT h.server FROM cartera.shard h ORDER BY h.server);
  missing text;
BEGIN
  IF servers = '{}' THEN
    RAISE EXCEPTION 'no shards are listed in cartera.shard'
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'INSERT INTO cartera.shard (server) the foreign servers of the shards (docs/scaling.md).';
  END IF;
  SELECT s INTO missing FROM unnest(servers) s
   WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_foreign_server f WHERE f.srvname = s) LIMIT 1;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'shard "%" is not a foreign server', missing
      USING ERRCODE = 'undefined_object',
            HINT = 'CREATE SERVER it (postgres_fdw) with a user mapping, or DELETE it from cartera.shard.';
  END IF;
  RETURN servers;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.shard_servers() FROM PUBLIC;
COMMENT ON FUNCTION cartera.shard_servers() IS
  'part of the sharded functions: the servers of cartera.shard by name, each checked to be a foreign server';

-- The coordinator's connections to its shards, one per shard
-- (cartera_shard_<server>), each in an open transaction; returns their names.
CREATE FUNCTION cartera.shard_open() RETURNS text[]
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  dbl name := cartera.dblink_schema();
  servers text[] := cartera.shard_servers();
  opened text[] := '{}';
BEGIN
  FOR i IN 1 .. array_length(servers, 1) LOOP
    BEGIN
      EXECUTE format('SELECT %I.dblink_connect($1, $2)', dbl) USING 'cartera_shard_' || servers[i], servers[i];
      opened := opened || ('cartera_shard_' || servers[i]);
      EXECUTE format('SELECT %I.dblink_exec($1, $2)', dbl) USING 'cartera_shard_' || servers[i], 'BEGIN';
    EXCEPTION WHEN OTHERS THEN
      PERFORM cartera.shard_close(opened, false);
      RAISE;
    END;
  END LOOP;
  RETURN opened;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.shard_open() FROM PUBLIC;
COMMENT ON FUNCTION cartera.shard_open() IS
  'part of the sharded functions: opens a dblink connection to every shard (cartera_shard_<server>) and begins a transaction on each; returns the connection names';

-- Commit (or not) every shard's transaction, then close the connections
-- (closing one rolls back what it did not commit).  Never fails when not
-- committing: it runs while an error is on its way.
CREATE FUNCTION cartera.shard_close(opened text[], commit_them boolean) RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  dbl name := cartera.dblink_schema();
  conn text;
BEGIN
  IF commit_them THEN
    FOREACH conn IN ARRAY opened LOOP
      EXECUTE format('SELECT %I.dblink_exec($1, $2)', dbl) USING conn, 'COMMIT';
    END LOOP;
  END IF;
  FOREACH conn IN ARRAY coalesce(opened, '{}') LOOP
    BEGIN
      EXECUTE format('SELECT %I.dblink_disconnect($1)', dbl) USING conn;
    EXCEPTION WHEN OTHERS THEN
      NULL;
    END;
  END LOOP;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.shard_close(text[], boolean) FROM PUBLIC;
COMMENT ON FUNCTION cartera.shard_close(text[], boolean) IS
  'part of the sharded functions: commits every shard''s transaction when commit_them, then closes the connections shard_open() opened';

-- One query per shard (queries[i] to the i-th server of cartera.shard by
-- name; a single query goes to every shard), all at the same time, in each
-- shard's open transaction; returns every row as JSON with its shard.
CREATE FUNCTION cartera.shard_query(queries text[], columns text)
  RETURNS TABLE (server text, result json)
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  dbl name := cartera.dblink_schema();
  servers text[] := cartera.shard_servers();
BEGIN
  IF cardinality(queries) NOT IN (1, cardinality(servers)) THEN
    RAISE EXCEPTION 'shard_query() needs one query, or one per shard (%), not %', cardinality(servers), cardinality(queries)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOR i IN 1 .. cardinality(servers) LOOP
    EXECUTE format('SELECT %I.dblink_send_query($1, $2)', dbl)
      USING 'cartera_shard_' || servers[i], queries[CASE WHEN cardinality(queries) = 1 THEN 1 ELSE i END];
  END LOOP;
  FOR i IN 1 .. cardinality(servers) LOOP
    RETURN QUERY EXECUTE format('SELECT $1, pg_catalog.row_to_json(r) FROM %I.dblink_get_result($2) AS r(%s)', dbl, columns)
      USING servers[i], 'cartera_shard_' || servers[i];
    -- the end of the results (dblink: one more call)
    EXECUTE format('SELECT count(*) FROM %I.dblink_get_result($1) AS r(%s)', dbl, columns) USING 'cartera_shard_' || servers[i];
  END LOOP;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.shard_query(text[], text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.shard_query(text[], text) IS
  'part of the sharded functions: runs queries[i] on the i-th shard of cartera.shard (one query: on every shard), all at the same time over the connections shard_open() opened; returns each row as JSON with its shard';

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
  fit record;
  model cartera.portfolio_model;
  opened text[];
BEGIN
  -- the coordinator's own checks first (its clock, its lock)
  PERFORM cartera.refresh_begin(as_of, time_unit);
  opened := cartera.shard_open();
  BEGIN
    -- 1. every shard's partial states (its states locked from here on)
    SELECT cartera.breakpoints_merge((q.result->>'recency')::bytea) AS rb,
           cartera.breakpoints_merge((q.result->>'frequency')::bytea) AS fb,
           cartera.breakpoints_merge((q.result->>'monetary')::bytea) AS mb,
           cartera.bgnbd_fit_merge((q.result->>'transactions')::bytea) AS bg,
           cartera.pareto_nbd_fit_merge((q.result->>'transactions')::bytea) AS pnbd,
           cartera.mbgnbd_fit_merge((q.result->>'transactions')::bytea) AS mbg,
           cartera.gamma_gamma_fit_merge((q.result->>'spend')::bytea) AS gg
      INTO fit
      FROM cartera.shard_query(ARRAY[format('SELECT * FROM cartera.refresh_partials(%L, %L)', as_of, time_unit)],
                               'recency bytea, frequency bytea, monetary bytea, transactions bytea, spend bytea') q;

    -- 2. the model, chosen once (the coordinator's settings; its model_history)
    model := cartera.refresh_model(as_of, time_unit, fit.rb, fit.fb, fit.mb, fit.bg, fit.pnbd, fit.mbg, fit.gg);
    -- the coordinator keeps it too (its own as_of check; its model_history)
    PERFORM count(*) FROM cartera.refresh_with_model(model);

    -- 3. every shard stores it and recomputes its states
    RETURN QUERY
      SELECT q.server, (q.result->>'customers')::bigint, (q.result->>'transitions')::bigint
        FROM cartera.shard_query(ARRAY[format('SELECT * FROM cartera.refresh_with_model(%L::cartera.portfolio_model)', model)],
                                 'customers bigint, transitions bigint') q
       ORDER BY 1;
    PERFORM cartera.shard_close(opened, true);
  EXCEPTION WHEN OTHERS THEN
    PERFORM cartera.shard_close(opened, false);
    RAISE;
  END;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.shard_refresh(timestamptz, text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.shard_refresh(timestamptz, text) IS
  'refresh() of a portfolio split over the shards of cartera.shard (run on the coordinator, needs dblink): the model fitted once from every shard''s partial states, chosen once, then every shard''s states recomputed with it (each change logged once, segment-change alerts raised), committed on every shard at the end; returns customers and transitions per shard';

-- The coordinator's run_followups(): the daily job on every shard, with the
-- portfolio-wide figures computed once over all of them: the high-value cut
-- (the 80th percentile of every buying customer's CLV) and each agent's
-- revenue this month (summed over the shards; the agents' own alerts are
-- raised on the first shard by name, always the same one).  Every shard
-- moves its statuses and raises its customers' alerts exactly as one server
-- holding the whole portfolio would.  Then the day is planned over all of
-- them (shard_plan()).
CREATE FUNCTION cartera.shard_followups(as_of date DEFAULT current_date)
  RETURNS TABLE (kind text, raised bigint)
  LANGUAGE plpgsql
  -- floats travel as text: in their shortest exact form
  SET search_path = pg_catalog, cartera, pg_temp
  SET extra_float_digits = 1
AS $fn$
#variable_conflict use_column
DECLARE
  settings boolean := cartera.use_portfolio_settings();
  opened text[];
  halves json[];
  high_value double precision;
  revenue jsonb;
  queries text[] := '{}';
BEGIN
  -- the coordinator's own checks first (arguments, its clock)
  PERFORM count(*) FROM cartera.followups_begin(as_of);
  opened := cartera.shard_open();
  BEGIN
    -- 1-2. every shard's statuses and snoozed alerts, and its figures
    SELECT array_agg(q.result ORDER BY q.server) INTO halves
      FROM cartera.shard_query(ARRAY[format('SELECT * FROM cartera.followups_begin(%L)', as_of)],
                               'as_ts timestamptz, changes cartera.state_transition[], clv double precision[], revenue jsonb') q;
    SELECT percentile_cont(0.8) WITHIN GROUP (ORDER BY v.value::text::float8) INTO high_value
      FROM unnest(halves) h, json_array_elements(h->'clv') v;
    SELECT jsonb_object_agg(r.agent, r.total) INTO revenue
      FROM (SELECT e.key AS agent, sum(e.value::text::numeric) AS total
              FROM unnest(halves) h, json_each(h->'revenue') e GROUP BY e.key) r;
    -- 3. every shard raises its alerts with them
    FOR i IN 1 .. cardinality(halves) LOOP
      queries := queries || format('SELECT * FROM cartera.followups_raise(%L, %L, %L::cartera.state_transition[], %L, %L, %L)',
                                   as_of, halves[i]->>'as_ts',
                                   ARRAY(SELECT json_populate_record(NULL::cartera.state_transition, c)
                                           FROM json_array_elements(CASE WHEN json_typeof(halves[i]->'changes') = 'array'
                                                                         THEN halves[i]->'changes' ELSE '[]' END) c),
                                   high_value, coalesce(revenue, '{}'), i = 1);
    END LOOP;
    RETURN QUERY
      SELECT q.result->>'kind', sum((q.result->>'raised')::bigint)::bigint
        FROM cartera.shard_query(queries, 'kind text, raised bigint') q
       GROUP BY 1 ORDER BY 1;
    -- 4. the day's plan, each agent's queue ranked over every shard
    PERFORM count(*) FROM cartera.shard_plan(as_of);
    PERFORM cartera.shard_close(opened, true);
  EXCEPTION WHEN OTHERS THEN
    PERFORM cartera.shard_close(opened, false);
    RAISE;
  END;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.shard_followups(date) FROM PUBLIC;
COMMENT ON FUNCTION cartera.shard_followups(date) IS
  'run_followups() of a portfolio split over the shards of cartera.shard (on the coordinator, needs dblink): every shard moves statuses and raises its alerts with the high-value cut and the agents'' revenue computed once over all shards (agents'' own alerts on the first shard), then the day is planned with each agent''s queue ranked over all shards (shard_plan); committed on every shard at the end; returns alerts raised per kind';

-- plan_day() over every shard, on connections shard_open() opened: steps
-- 1-2 (moot, escalation) on every shard, then each agent's open alerts of
-- every shard ranked here by their queue_place (what plan_day() orders by
-- on one server; it holds no ids), each shard given its alerts' ranks, its
-- queues filled up to the agent's capacity.  Agents are the same on every
-- shard (cartera.agent is copied to each), so is a capacity.
CREATE FUNCTION cartera.shard_plan(as_of date)
  RETURNS TABLE (agent_id bigint, capacity integer, queued bigint, backlog bigint,
                 escalated bigint, turned_red bigint, moot bigint)
  LANGUAGE plpgsql
  -- floats travel as text: in their shortest exact form
  SET search_path = pg_catalog, cartera, pg_temp
  SET extra_float_digits = 1
AS $fn$
#variable_conflict use_column
DECLARE
  steps json[];
  ranks jsonb[];
  servers text[] := cartera.shard_servers();
  queries text[] := '{}';
BEGIN
  SELECT array_agg(q.result ORDER BY q.server) INTO steps
    FROM cartera.shard_query(ARRAY[format('SELECT * FROM cartera.plan_close_and_escalate(%L)', as_of)],
                             'moot bigint[], turned_red bigint[], escalated bigint[]') q;
  SELECT array_agg(coalesce(r.ranks, '{}') ORDER BY sv.n) INTO ranks
    FROM unnest(servers) WITH ORDINALITY sv(server, n)
    LEFT JOIN (SELECT c.server, jsonb_object_agg(c.alert_id, c.rnk) AS ranks
                 FROM (SELECT q.server, q.result->>'alert_id' AS alert_id,
                              row_number() OVER (PARTITION BY q.result->>'agent_id'
                                                 ORDER BY json_populate_record(NULL::cartera.queue_place, q.result->'place')) AS rnk
                         FROM cartera.shard_query(ARRAY['SELECT alert_id, agent_id, place FROM cartera.plan_candidates()'],
                                                  'alert_id bigint, agent_id bigint, place cartera.queue_place') q) c
                GROUP BY c.server) r ON r.server = sv.server;
  FOR i IN 1 .. cardinality(servers) LOOP
    -- the agents of steps 1-2 go back to their shard (json_to_record: JSON arrays to bigint[])
    queries := queries || (SELECT format('SELECT * FROM cartera.plan_queue(%L, %L, %L, %L, %L)', as_of, ranks[i],
                                         x.moot, x.turned_red, x.escalated)
                             FROM json_to_record(steps[i]) AS x(moot bigint[], turned_red bigint[], escalated bigint[]));
  END LOOP;
  RETURN QUERY
    SELECT (q.result->>'agent_id')::bigint, max((q.result->>'capacity')::integer),
           sum((q.result->>'queued')::bigint)::bigint, sum((q.result->>'backlog')::bigint)::bigint,
           sum((q.result->>'escalated')::bigint)::bigint, sum((q.result->>'turned_red')::bigint)::bigint,
           sum((q.result->>'moot')::bigint)::bigint
      FROM cartera.shard_query(queries, 'agent_id bigint, capacity integer, queued bigint, backlog bigint, escalated bigint, turned_red bigint, moot bigint') q
     GROUP BY 1 ORDER BY 1 NULLS LAST;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.shard_plan(date) FROM PUBLIC;
COMMENT ON FUNCTION cartera.shard_plan(date) IS
  'part of the sharded functions: plan_day() over the shards shard_open() connected to, each agent''s queue ranked here over the open alerts of every shard; returns plan_day()''s figures per agent, summed';

-- plan_day() of a portfolio split over shards, for re-planning a day after
-- changing capacities (shard_followups() plans the day itself).
CREATE FUNCTION cartera.shard_plan_day(as_of date DEFAULT current_date)
  RETURNS TABLE (agent_id bigint, capacity integer, queued bigint, backlog bigint,
                 escalated bigint, turned_red bigint, moot bigint)
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  opened text[];
BEGIN
  -- the coordinator's own checks first (arguments, its clock)
  PERFORM count(*) FROM cartera.plan_close_and_escalate(as_of);
  opened := cartera.shard_open();
  BEGIN
    RETURN QUERY SELECT * FROM cartera.shard_plan(as_of);
    PERFORM cartera.shard_close(opened, true);
  EXCEPTION WHEN OTHERS THEN
    PERFORM cartera.shard_close(opened, false);
    RAISE;
  END;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.shard_plan_day(date) FROM PUBLIC;
COMMENT ON FUNCTION cartera.shard_plan_day(date) IS
  'plan_day() of a portfolio split over the shards of cartera.shard (on the coordinator, needs dblink): moot alerts and escalation on every shard, each agent''s queue ranked over the open alerts of all shards and filled up to the agent''s capacity; committed on every shard at the end; returns the figures per agent, summed';

-- The coordinator's window on the whole portfolio: in a schema of its own,
-- every per-customer table of the shards as one table (hash-partitioned by
-- customer_id like the coordinator's routing, one foreign partition per
-- shard; alert and alert_event, whose customer is not always known, as an
-- inheritance parent with one foreign child per shard) and a copy of every
-- view of cartera that reads them, the same SQL over those tables.  The
-- tables shared by every node (agent, agent_target, alert_kind, occasion,
-- portfolio_setting...) are read from the coordinator's own cartera schema.
-- Row-level security holds twice: the coordinator's copies of cartera's
-- policies on the parents, and each shard's own for the role its user
-- mapping logs in as (an agent's own mapping: the agent).  The foreign
-- partitions are the owner's only: reading one directly would skip the
-- coordinator's policies.
CREATE FUNCTION cartera.shard_views(target name DEFAULT 'portfolio')
  RETURNS TABLE (object text, kind text)
  LANGUAGE plpgsql
  -- deparsed views then name every object with its schema
  SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  servers text[];
  numbers json[];
  partitioned text[] := '{customer,customer_state,purchase,status_transition,interaction}';
  inherited text[] := '{alert,alert_event}';
  mapped text[];
  t text;
  v record;
  pol record;
  sql text;
  opened text[];
BEGIN
  IF target IS NULL OR target IN ('cartera', 'public', 'pg_catalog') OR target LIKE 'pg\_%' THEN
    RAISE EXCEPTION 'the views of the shards need a schema of their own, not %', coalesce(target::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Name a schema that does not exist yet, e.g. portfolio.';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = target) THEN
    RAISE EXCEPTION 'schema % already exists', target
      USING ERRCODE = 'duplicate_schema',
            HINT = format('Run DROP SCHEMA %I CASCADE first to build it again (after adding a shard, or updating cartera).', target);
  END IF;
  servers := cartera.shard_servers();
  -- each shard's place in the coordinator's hash partitions
  opened := cartera.shard_open();
  BEGIN
    SELECT array_agg(json_build_object('server', sv.server, 'shard', q.result->'shard', 'shards', q.result->'shards') ORDER BY sv.n)
      INTO numbers
      FROM unnest(servers) WITH ORDINALITY sv(server, n)
      LEFT JOIN cartera.shard_query(ARRAY['SELECT n.shard, n.shards FROM cartera.shard_number n'], 'shard integer, shards integer') q
        ON q.server = sv.server;
    PERFORM cartera.shard_close(opened, false);
  EXCEPTION WHEN OTHERS THEN
    PERFORM cartera.shard_close(opened, false);
    RAISE;
  END;
  FOR i IN 1 .. cardinality(numbers) LOOP
    IF json_typeof(numbers[i]->'shard') IS DISTINCT FROM 'number' THEN
      RAISE EXCEPTION 'shard "%" has no number', numbers[i]->>'server'
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = 'Run SELECT cartera.set_shard_number(shard, shards) on it: the REMAINDER and MODULUS of its hash partition.';
    END IF;
    IF (numbers[i]->>'shards')::integer <> cardinality(servers) THEN
      RAISE EXCEPTION 'shard "%" is shard % of %, but cartera.shard lists % shards', numbers[i]->>'server',
                      numbers[i]->>'shard', numbers[i]->>'shards', cardinality(servers)
        USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
  END LOOP;
  IF (SELECT count(DISTINCT x->>'shard') FROM unnest(numbers) x) <> cardinality(servers) THEN
    RAISE EXCEPTION 'two shards have the same number'
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = (SELECT string_agg(format('%s: %s', x->>'server', x->>'shard'), ', ') FROM unnest(numbers) x);
  END IF;

  EXECUTE format('CREATE SCHEMA %I', target);
  object := target; kind := 'schema'; RETURN NEXT;
  EXECUTE format('COMMENT ON SCHEMA %I IS %L', target,
                 'the whole portfolio over the shards of cartera.shard, built by cartera.shard_views()');
  FOREACH t IN ARRAY partitioned || inherited LOOP
    IF t = ANY (partitioned) THEN
      EXECUTE format('CREATE TABLE %I.%I (LIKE cartera.%I) PARTITION BY HASH (customer_id)', target, t, t);
    ELSE
      EXECUTE format('CREATE TABLE %I.%I (LIKE cartera.%I)', target, t, t);
    END IF;
    object := format('%I.%I', target, t); kind := 'table'; RETURN NEXT;
    FOR i IN 1 .. cardinality(numbers) LOOP
      EXECUTE format('CREATE FOREIGN TABLE %I.%I %s SERVER %I OPTIONS (schema_name %L, table_name %L)',
                     target, t || '_' || (numbers[i]->>'server'),
                     CASE WHEN t = ANY (partitioned)
                          THEN format('PARTITION OF %I.%I FOR VALUES WITH (MODULUS %s, REMAINDER %s)',
                                      target, t, numbers[i]->>'shards', numbers[i]->>'shard')
                          ELSE format('() INHERITS (%I.%I)', target, t) END,
                     numbers[i]->>'server', 'cartera', t);
      -- the owner's only: reading it directly would skip the parent's policies
      EXECUTE format('REVOKE ALL ON %I.%I FROM PUBLIC', target, t || '_' || (numbers[i]->>'server'));
    END LOOP;
    EXECUTE format('COMMENT ON TABLE %I.%I IS %L', target, t,
                   format('cartera.%s of every shard (%s); read-only here', t,
                          CASE WHEN t = ANY (partitioned) THEN 'hash-partitioned by customer_id as the coordinator routes it'
                               ELSE 'one foreign child table per shard' END));
  END LOOP;
  mapped := partitioned || inherited;

  -- cartera's policies, on the parents (reads only: nothing is written here)
  FOR pol IN
    SELECT p.tablename, p.policyname, p.roles, p.qual, p.permissive
      FROM pg_policies p
     WHERE p.schemaname = 'cartera' AND p.tablename = ANY (mapped) AND p.cmd IN ('SELECT', 'ALL') AND p.qual IS NOT NULL
  LOOP
    EXECUTE format('CREATE POLICY %I ON %I.%I AS %s FOR SELECT TO %s USING (%s)', pol.policyname, target, pol.tablename,
                   pol.permissive, (SELECT string_agg(CASE WHEN r = 'public' THEN 'PUBLIC' ELSE quote_ident(r) END, ', ')
                                      FROM unnest(pol.roles) r),
                   regexp_replace(pol.qual, '\mcartera\.(' || array_to_string(mapped, '|') || ')\M(?!\s*\()',
                                  quote_ident(target) || '.\1', 'g'));
  END LOOP;
  FOREACH t IN ARRAY mapped LOOP
    IF (SELECT c.relrowsecurity FROM pg_class c WHERE c.oid = format('cartera.%I', t)::regclass) THEN
      EXECUTE format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY', target, t);
    END IF;
  END LOOP;

  -- every view of cartera that reads them (or a view that does), in the
  -- order they were created, so a view comes after those it reads
  FOR v IN
    WITH RECURSIVE reads AS (
      SELECT DISTINCT r.ev_class AS view
        FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
       WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
         AND d.refobjid IN (SELECT format('cartera.%I', m)::regclass FROM unnest(mapped) m)
      UNION
      SELECT r.ev_class
        FROM reads x JOIN pg_depend d ON d.refobjid = x.view AND d.classid = 'pg_rewrite'::regclass
        JOIN pg_rewrite r ON r.oid = d.objid AND r.ev_class <> x.view)
    SELECT c.oid, c.relname FROM pg_class c
     WHERE c.oid IN (SELECT view FROM reads) AND c.relnamespace = 'cartera'::regnamespace AND c.relkind = 'v'
       AND c.relname NOT LIKE 'deferred\_%'
     ORDER BY c.oid
  LOOP
    mapped := mapped || v.relname::text;
    sql := regexp_replace(pg_get_viewdef(v.oid), '\mcartera\.(' || array_to_string(mapped, '|') || ')\M(?!\s*\()',
                          quote_ident(target) || '.\1', 'g');
    EXECUTE format('CREATE VIEW %I.%I WITH (security_invoker = true) AS %s', target, v.relname, rtrim(sql, ';'));
    EXECUTE format('COMMENT ON VIEW %I.%I IS %L', target, v.relname,
                   coalesce(obj_description(v.oid, 'pg_class'), v.relname) || ' (every shard)');
    FOR pol IN SELECT a.attname, col_description(v.oid, a.attnum) AS note FROM pg_attribute a
                WHERE a.attrelid = v.oid AND a.attnum > 0 AND col_description(v.oid, a.attnum) IS NOT NULL LOOP
      EXECUTE format('COMMENT ON COLUMN %I.%I.%I IS %L', target, v.relname, pol.attname, pol.note);
    END LOOP;
    object := format('%I.%I', target, v.relname); kind := 'view'; RETURN NEXT;
  END LOOP;

  -- whoever may read cartera's table or view may read its copy
  FOR v IN
    SELECT c.relname, a.grantee::regrole AS grantee
      FROM pg_class c, aclexplode(c.relacl) a
     WHERE c.relnamespace = 'cartera'::regnamespace AND c.relname = ANY (mapped) AND a.privilege_type = 'SELECT'
       AND a.grantee <> 0 AND a.grantee <> c.relowner
  LOOP
    EXECUTE format('GRANT SELECT ON %I.%I TO %s', target, v.relname, v.grantee);
  END LOOP;
  FOR v IN
    SELECT DISTINCT a.grantee::regrole AS grantee FROM pg_namespace n, aclexplode(n.nspacl) a
     WHERE n.nspname = 'cartera' AND a.privilege_type = 'USAGE' AND a.grantee <> 0 AND a.grantee <> n.nspowner
  LOOP
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %s', target, v.grantee);
  END LOOP;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.shard_views(name) FROM PUBLIC;
COMMENT ON FUNCTION cartera.shard_views(name) IS
  'on the coordinator (needs dblink and numbered shards): creates schema target with cartera''s per-customer tables of every shard as one table each (hash partitions or foreign children) and a copy of every view of cartera that reads them, with cartera''s row-level security policies and read grants; returns what it created';

------------------------------------------------------------------------------
-- A shard's number: ids unique across the cluster, customers placed by hash
------------------------------------------------------------------------------

-- Which shard this database is: the remainder and modulus of the
-- coordinator's hash partitions of customer_id (set once with
-- cartera.set_shard_number(); dumped with the data).
CREATE TABLE cartera.shard_number (
  singleton  boolean PRIMARY KEY DEFAULT true CONSTRAINT shard_number_one_row CHECK (singleton),
  shard      integer NOT NULL,
  shards     integer NOT NULL,
  set_at     timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT shard_number_range CHECK (shards BETWEEN 1 AND 32768 AND shard >= 0 AND shard < shards)
);
COMMENT ON TABLE cartera.shard_number IS
  'on a shard: its number (the remainder of the coordinator''s hash partitions of customer_id) and the number of shards (their modulus), set by cartera.set_shard_number()';
COMMENT ON COLUMN cartera.shard_number.singleton IS 'always true: one row';
COMMENT ON COLUMN cartera.shard_number.shard IS 'this shard: REMAINDER of FOR VALUES WITH (MODULUS shards, REMAINDER shard); its ids are in [shard * 2^48 + 1, (shard + 1) * 2^48)';
COMMENT ON COLUMN cartera.shard_number.shards IS 'the number of shards: the MODULUS';
COMMENT ON COLUMN cartera.shard_number.set_at IS 'when it was set';
SELECT pg_catalog.pg_extension_config_dump('cartera.shard_number', '');

-- An empty table partitioned as the coordinator's tables are: the hash of a
-- customer_id, hence its shard, is satisfies_hash_partition() over it.
CREATE TABLE cartera.shard_route (customer_id bigint) PARTITION BY HASH (customer_id);
COMMENT ON TABLE cartera.shard_route IS
  'empty; partitioned by hash of customer_id as the coordinator''s tables are, so that a shard can tell which shard a customer belongs to';
COMMENT ON COLUMN cartera.shard_route.customer_id IS 'the partition key';

-- The shard a customer belongs to (NULL when this database is not a numbered shard).
CREATE FUNCTION cartera.shard_of(customer_id bigint) RETURNS integer
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  n cartera.shard_number;
BEGIN
  SELECT * INTO n FROM cartera.shard_number;
  IF n IS NULL OR customer_id IS NULL THEN
    RETURN NULL;
  END IF;
  FOR r IN 0 .. n.shards - 1 LOOP
    IF satisfies_hash_partition('cartera.shard_route'::regclass, n.shards, r, customer_id) THEN
      RETURN r;
    END IF;
  END LOOP;
  RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION cartera.shard_of(bigint) IS
  'on a numbered shard: the shard a customer id belongs to (the coordinator''s hash partitioning); NULL elsewhere';

-- Customers of two shards are never related here: a clear error instead of
-- a foreign key violation or "does not exist".  role: how the caller names
-- the customer; action: what relates the two.  Returns true (the customer
-- belongs here, or this database is not a numbered shard).
CREATE FUNCTION cartera.refuse_other_shard(customer_id bigint, role text, action text) RETURNS boolean
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  n cartera.shard_number;
  theirs integer := cartera.shard_of(customer_id);
BEGIN
  SELECT * INTO n FROM cartera.shard_number;
  IF theirs IS NOT NULL AND theirs <> n.shard THEN
    RAISE EXCEPTION 'customer % (%) belongs to shard %, not to this one (shard % of %)', customer_id, role, theirs, n.shard, n.shards
      USING ERRCODE = 'feature_not_supported',
            DETAIL = format('%s relates two customers, and every customer''s rows live on the shard of its id''s hash: customers of two shards are never related.', action),
            HINT = 'Record it where both customers are (on one server), or as text (customer.referral_source); docs/scaling.md.';
  END IF;
  RETURN true;
END
$fn$;
COMMENT ON FUNCTION cartera.refuse_other_shard(bigint, text, text) IS
  'on a numbered shard: raises 0A000 when the customer belongs to another shard (a referral or a merge across shards); else returns true; changes nothing';

-- A referral to a customer of another shard: refused clearly (the foreign
-- key would say only that the referrer does not exist).
CREATE FUNCTION cartera.customer_referrer_placed() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  PERFORM cartera.refuse_other_shard(NEW.referred_by, 'the referrer', 'A referral');
  RETURN NEW;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.customer_referrer_placed() FROM PUBLIC;
COMMENT ON FUNCTION cartera.customer_referrer_placed() IS
  'BEFORE INSERT OR UPDATE OF referred_by trigger of cartera.customer: on a numbered shard, refuses a referrer of another shard';
CREATE TRIGGER customer_referrer_placed BEFORE INSERT OR UPDATE OF referred_by ON cartera.customer
  FOR EACH ROW WHEN (NEW.referred_by IS NOT NULL) EXECUTE FUNCTION cartera.customer_referrer_placed();

-- The identity sequences of the per-customer rows that live on shards.
CREATE FUNCTION cartera.shard_sequences() RETURNS TABLE (relation regclass, id_column name, sequence regclass)
  LANGUAGE sql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
  SELECT t.rel::regclass, t.col::name, pg_catalog.pg_get_serial_sequence(t.rel, t.col)::regclass
    FROM (VALUES ('cartera.purchase', 'purchase_id'), ('cartera.status_transition', 'transition_id'),
                 ('cartera.alert', 'alert_id'), ('cartera.alert_event', 'event_id'),
                 ('cartera.interaction', 'interaction_id'), ('cartera.customer_merge', 'merge_id')) t(rel, col)
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.shard_sequences() FROM PUBLIC;
COMMENT ON FUNCTION cartera.shard_sequences() IS
  'the identity columns of the per-customer tables that cartera.set_shard_number() gives each shard a block of';

-- Number this database as shard `shard` of `shards`: its per-customer ids
-- (purchases, transitions, alerts and their events, interactions, merges)
-- come from the block [shard * 2^48 + 1, (shard + 1) * 2^48), unique across
-- the cluster; referrals and merges with customers of other shards are
-- refused clearly.  A block survives pg_dump (the sequence's value does).
CREATE FUNCTION cartera.set_shard_number(shard integer, shards integer)
  RETURNS TABLE (relation regclass, next_id bigint)
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  was cartera.shard_number;
  lo bigint;
  hi bigint;
  s record;
  outside bigint;
  top bigint;
BEGIN
  IF shard IS NULL OR shards IS NULL THEN
    RAISE EXCEPTION 'shard and shards must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF shards NOT BETWEEN 1 AND 32768 OR shard NOT BETWEEN 0 AND shards - 1 THEN
    RAISE EXCEPTION 'shard % of % is out of range', shard, shards
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'shards is the MODULUS of the coordinator''s hash partitions (1 to 32768), shard this one''s REMAINDER (0 to shards - 1).';
  END IF;
  LOCK TABLE cartera.shard_number IN EXCLUSIVE MODE;
  SELECT * INTO was FROM cartera.shard_number;
  IF was IS NOT NULL AND (was.shard, was.shards) IS DISTINCT FROM (shard, shards) THEN
    RAISE EXCEPTION 'this database is already shard % of %', was.shard, was.shards
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = 'Its customers and ids were placed by that number.',
            HINT = 'Changing the number of shards moves customers between them: reload them into shards numbered anew.';
  END IF;
  lo := shard::bigint << 48;
  hi := lo + (1::bigint << 48) - 1;
  FOR s IN SELECT * FROM cartera.shard_sequences() ORDER BY 1 LOOP
    EXECUTE format('LOCK TABLE %s IN SHARE MODE', s.relation);
    EXECUTE format('SELECT count(*) FILTER (WHERE %1$I NOT BETWEEN $1 AND $2), max(%1$I) FILTER (WHERE %1$I BETWEEN $1 AND $2) FROM %2$s',
                   s.id_column, s.relation)
      INTO outside, top USING lo + 1, hi;
    IF outside > 0 THEN
      RAISE EXCEPTION 'table % has ids outside shard %''s block (% rows)', s.relation, shard, outside
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = format('Shard %s gives ids from %s to %s; ids given before it was numbered could be given again by another shard.', shard, lo + 1, hi),
              HINT = 'Number every shard before loading it (docs/scaling.md).';
    END IF;
    -- the block's bounds while this server lives; the next id survives a dump
    EXECUTE format('ALTER SEQUENCE %s MINVALUE %s MAXVALUE %s START WITH %s RESTART WITH %s', s.sequence, lo + 1, hi,
                   lo + 1, coalesce(top + 1, lo + 1));
    relation := s.relation;
    next_id := coalesce(top + 1, lo + 1);
    RETURN NEXT;
  END LOOP;
  INSERT INTO cartera.shard_number AS n (shard, shards) VALUES (shard, shards)
    ON CONFLICT (singleton) DO NOTHING;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.set_shard_number(integer, integer) FROM PUBLIC;
COMMENT ON FUNCTION cartera.set_shard_number(integer, integer) IS
  'number this database as shard `shard` of `shards` (the REMAINDER and MODULUS of the coordinator''s hash partitions of customer_id): its purchase, transition, alert, alert event, interaction and merge ids come from the block [shard * 2^48 + 1, (shard + 1) * 2^48), unique across the cluster, and referrals and merges with customers of other shards are refused; refuses rows already outside the block and a different number than the one set; returns each table and its next id';

------------------------------------------------------------------------------
-- Bulk loads through the coordinator
------------------------------------------------------------------------------

-- Set every shard's cartera.purchase mode (modes[i] on the i-th of servers;
-- one mode: on every shard), each committed at once on its shard (dblink
-- with the server's name, outside any open transaction of the caller's);
-- returns the modes they had.
CREATE FUNCTION cartera.shard_purchase_modes(servers text[], modes text[]) RETURNS text[]
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  dbl name := cartera.dblink_schema();
  was text[] := '{}';
  mode text;
BEGIN
  IF cardinality(modes) NOT IN (1, cardinality(servers)) THEN
    RAISE EXCEPTION 'shard_purchase_modes() needs one mode, or one per shard (%), not %', cardinality(servers), cardinality(modes)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOR i IN 1 .. cardinality(servers) LOOP
    EXECUTE format('SELECT m FROM %I.dblink($1, $2) AS t(m text)', dbl)
      INTO mode USING servers[i], format('SELECT cartera.set_purchase_mode(''cartera.purchase'', %L)',
                                         modes[CASE WHEN cardinality(modes) = 1 THEN 1 ELSE i END]);
    was := was || mode;
  END LOOP;
  RETURN was;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.shard_purchase_modes(text[], text[]) FROM PUBLIC;
COMMENT ON FUNCTION cartera.shard_purchase_modes(text[], text[]) IS
  'part of shard_load(): sets the mode of cartera.purchase on every shard (modes[i] on the i-th server; one mode: on every shard), each committed at once; returns the modes they had';

-- Load the rows of `purchases` (a table or view whose columns named as
-- cartera.purchase's go in; customer_id among them) into `target`, the
-- coordinator's table partitioned over the shards' cartera.purchase:
-- postgres_fdw routes each row to its shard in batches.  For the load every
-- shard's cartera.purchase is in deferred mode, so each batch only queues
-- its customers' states; then every shard applies its queue once
-- (catch_up()) and gets its mode back.  A procedure, because the load must
-- commit before the shards can apply it; hence no SET clause either (every
-- name below is qualified), and CALL it outside a transaction block.
CREATE PROCEDURE cartera.shard_load(purchases regclass, target regclass,
                                    INOUT loaded bigint DEFAULT NULL, INOUT applied bigint DEFAULT NULL)
  LANGUAGE plpgsql
AS $fn$
DECLARE
  dbl name := cartera.dblink_schema();
  servers text[];
  modes text[];
  cols text;
  n bigint;
BEGIN
  IF purchases IS NULL OR target IS NULL THEN
    RAISE EXCEPTION 'the purchases to load and the target table must not be null'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = target AND c.relkind = 'p') THEN
    RAISE EXCEPTION '% is not a partitioned table', target
      USING ERRCODE = 'wrong_object_type',
            HINT = 'Load into the coordinator''s table partitioned by hash of customer_id over the shards'' cartera.purchase (docs/scaling.md).';
  END IF;
  SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
    FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = purchases AND a.attnum > 0 AND NOT a.attisdropped
     AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute t
                  WHERE t.attrelid = target AND t.attname = a.attname AND t.attnum > 0 AND NOT t.attisdropped);
  IF cols IS NULL OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                                  WHERE a.attrelid = purchases AND a.attname = 'customer_id' AND NOT a.attisdropped) THEN
    RAISE EXCEPTION '% has no column customer_id that % has', purchases, target
      USING ERRCODE = 'undefined_column',
            HINT = 'The columns of the purchases named as the target''s are loaded; customer_id routes them.';
  END IF;
  servers := cartera.shard_servers();

  -- 1. every shard in deferred mode (committed: the load's own connections must see it)
  modes := cartera.shard_purchase_modes(servers, ARRAY['deferred']);
  COMMIT;

  -- 2. the load, routed by the partitions (a failure puts the modes back)
  BEGIN
    EXECUTE pg_catalog.format('INSERT INTO %s (%s) SELECT %s FROM %s', target, cols, cols, purchases);
    GET DIAGNOSTICS n = ROW_COUNT;
  EXCEPTION WHEN OTHERS THEN
    PERFORM cartera.shard_purchase_modes(servers, modes);
    RAISE;
  END;
  loaded := n;
  COMMIT;

  -- 3. every shard applies its queue once and gets its mode back
  applied := 0;
  FOR i IN 1 .. pg_catalog.array_length(servers, 1) LOOP
    EXECUTE pg_catalog.format('SELECT p FROM %I.dblink($1, $2) AS t(p bigint)', dbl)
      INTO n USING servers[i], 'SELECT purchases FROM cartera.catch_up()';
    applied := applied + n;
  END LOOP;
  PERFORM cartera.shard_purchase_modes(servers, modes);
END
$fn$;
REVOKE EXECUTE ON PROCEDURE cartera.shard_load(regclass, regclass, bigint, bigint) FROM PUBLIC;
COMMENT ON PROCEDURE cartera.shard_load(regclass, regclass, bigint, bigint) IS
  'bulk load on the coordinator (CALL, outside a transaction block; needs dblink): the rows of purchases go into target, the table partitioned over the shards'' cartera.purchase, with every shard in deferred mode for the load; then every shard applies its queue once and gets its mode back; returns the rows loaded and the purchases applied';

------------------------------------------------------------------------------
-- Alert notifications of the shards, relayed to the coordinator
------------------------------------------------------------------------------

-- NOTIFY cartera_alert is sent where an alert is raised: on its shard.  The
-- relay listens on every shard (a dblink connection each, kept for the
-- session) and sends each notification again on the coordinator, its
-- payload with the shard first: {"shard": "shard0", "id" : ..., "kind" : ...}.
-- It runs for `seconds` (pg_cron every minute with 60, or a session of its
-- own with a longer time), polls every `poll` seconds and commits after each
-- poll (a NOTIFY is delivered at commit): a procedure, without a SET clause
-- (every name below is qualified).  Returns how many it relayed.
CREATE PROCEDURE cartera.shard_relay(seconds double precision DEFAULT 60, poll double precision DEFAULT 0.2,
                                     INOUT relayed bigint DEFAULT NULL)
  LANGUAGE plpgsql
AS $fn$
DECLARE
  dbl name := cartera.dblink_schema();
  servers text[];
  stop timestamptz;
  open_now text[];
  note record;
BEGIN
  IF seconds IS NULL OR poll IS NULL OR NOT (seconds > 0 AND seconds < 'infinity' AND poll > 0 AND poll <= 60) THEN
    RAISE EXCEPTION 'the relay needs a finite positive time and a poll interval of at most 60 seconds, not % and %',
                    coalesce(seconds::text, 'NULL'), coalesce(poll::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  servers := cartera.shard_servers();
  stop := pg_catalog.clock_timestamp() + pg_catalog.make_interval(secs => seconds);
  EXECUTE pg_catalog.format('SELECT %I.dblink_get_connections()', dbl) INTO open_now;
  FOR i IN 1 .. pg_catalog.array_length(servers, 1) LOOP
    IF open_now IS NULL OR NOT ('cartera_relay_' || servers[i]) = ANY (open_now) THEN
      EXECUTE pg_catalog.format('SELECT %I.dblink_connect($1, $2)', dbl) USING 'cartera_relay_' || servers[i], servers[i];
    END IF;
    EXECUTE pg_catalog.format('SELECT %I.dblink_exec($1, $2)', dbl) USING 'cartera_relay_' || servers[i], 'LISTEN cartera_alert';
  END LOOP;
  relayed := 0;
  LOOP
    FOR i IN 1 .. pg_catalog.array_length(servers, 1) LOOP
      FOR note IN EXECUTE pg_catalog.format('SELECT n.notify_name, n.extra FROM %I.dblink_get_notify($1) n', dbl)
                    USING 'cartera_relay_' || servers[i] LOOP
        PERFORM pg_catalog.pg_notify('cartera_alert',
                  CASE WHEN pg_catalog.left(note.extra, 1) = '{' AND pg_catalog.length(note.extra) > 2
                       THEN '{"shard" : ' || pg_catalog.to_json(servers[i])::text || ', ' || pg_catalog.substr(note.extra, 2)
                       ELSE note.extra END);
        relayed := relayed + 1;
      END LOOP;
    END LOOP;
    COMMIT;
    EXIT WHEN pg_catalog.clock_timestamp() >= stop;
    PERFORM pg_catalog.pg_sleep(poll);
  END LOOP;
END
$fn$;
REVOKE EXECUTE ON PROCEDURE cartera.shard_relay(double precision, double precision, bigint) FROM PUBLIC;
COMMENT ON PROCEDURE cartera.shard_relay(double precision, double precision, bigint) IS
  'on the coordinator (CALL, outside a transaction block; needs dblink): for `seconds`, relays every shard''s NOTIFY cartera_alert to the coordinator''s listeners, the payload with the shard first ({"shard" : "<server>", "id" : ...}), polling every `poll` seconds; returns how many it relayed';
