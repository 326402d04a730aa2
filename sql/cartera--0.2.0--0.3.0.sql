-- cartera 0.2.0 -> 0.3.0, written by hand: every object changed since 0.2.0,
-- in the order of the install script.  sql/setup.sql and test/upgrade.sql
-- check that updating from each release gives exactly a fresh install.
\echo Use "ALTER EXTENSION cartera UPDATE TO '0.3.0'" to load this file. \quit

------------------------------------------------------------------------------
-- sql/cartera_portfolio.sql: tracked tables are checked before the definer
-- code casts their columns (a column changed to a type of the table owner's
-- own made its cast function run with the extension owner's rights).
------------------------------------------------------------------------------
-- One query over every purchase source: (customer_id, purchased_at, amount).
-- The SECURITY DEFINER maintenance runs this query, and casts the columns,
-- with the rights of the extension's owner.  The owner of a tracked table
-- could change a column to a type of their own whose cast to bigint,
-- timestamptz or numeric is a function of theirs, which would then run with
-- those rights; so every source is checked, each time, to still have
-- columns of the built-in types track_purchases() accepts (docs/security.md).
CREATE OR REPLACE FUNCTION cartera.purchase_rows_sql() RETURNS text
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  sql text;
  bad text;
BEGIN
  SELECT string_agg(format('SELECT %I::bigint AS customer_id, %I::timestamptz AS purchased_at, %I::numeric AS amount FROM %s',
                           p.customer_column, p.at_column, p.amount_column, p.source), ' UNION ALL '
                    ORDER BY p.source::oid),
         min(c.bad)
    INTO sql, bad
    FROM cartera.purchase_source p
    CROSS JOIN LATERAL (
      SELECT min(format('%s column "%s" of %s', v.role, v.colname, p.source)) AS bad
        FROM (VALUES ('customer', p.customer_column, ARRAY['smallint', 'integer', 'bigint']::regtype[]),
                     ('purchase time', p.at_column, ARRAY['date', 'timestamp', 'timestamptz']::regtype[]),
                     ('amount', p.amount_column, ARRAY['numeric', 'smallint', 'integer', 'bigint', 'real', 'double precision']::regtype[]))
             v(role, colname, allowed)
        LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = p.source AND a.attname = v.colname AND a.attnum > 0 AND NOT a.attisdropped
       WHERE NOT coalesce(a.atttypid = ANY (v.allowed), false)
          OR NOT coalesce((SELECT r.relkind FROM pg_catalog.pg_class r WHERE r.oid = p.source) IN ('r', 'p'), false)) c;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'the % is no longer a table column of a type cartera reads', bad
      USING ERRCODE = 'datatype_mismatch',
            DETAIL = 'A tracked table must keep the columns given to cartera.track_purchases(), of a built-in integer, date/timestamp or numeric type.',
            HINT = 'Run cartera.untrack_purchases() on it, fix the table, then cartera.track_purchases() again.';
  END IF;
  RETURN coalesce(sql, 'SELECT NULL::bigint, NULL::timestamptz, NULL::numeric WHERE false');
END
$fn$;
COMMENT ON FUNCTION cartera.purchase_rows_sql() IS
  'the SQL text of one query returning (customer_id, purchased_at, amount) from every purchase source; refuses a source whose columns no longer have the built-in types track_purchases() accepts';

-- Statement-level maintenance: one pass per statement over the transition
-- tables, so a COPY of a million rows recomputes each customer once.
-- TG_ARGV: the customer column and the purchase-time column of the table.
CREATE OR REPLACE FUNCTION cartera.purchase_rows_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  customer_column name := TG_ARGV[0];
  at_column name := TG_ARGV[1];
  customers bigint[];
  purchase_ids bigint[];
  latest timestamptz;
  now_ts timestamptz := clock_timestamp();
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
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    EXECUTE format('SELECT max(%I::timestamptz) FROM new_rows', at_column) INTO latest;
    IF latest > now_ts THEN
      RAISE EXCEPTION 'purchase date % is in the future', latest
        USING ERRCODE = 'check_violation',
              DETAIL = format('Table %s, column %I; the server time is %s.', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, at_column, now_ts),
              HINT = 'Record purchases when they happen; planned orders are not purchases yet.';
    END IF;
  END IF;
  EXECUTE CASE TG_OP
    WHEN 'INSERT' THEN format('SELECT array_agg(DISTINCT %I::bigint) FROM new_rows', customer_column)
    WHEN 'DELETE' THEN format('SELECT array_agg(DISTINCT %I::bigint) FROM old_rows', customer_column)
    ELSE format('SELECT array_agg(DISTINCT c) FROM (SELECT %1$I::bigint FROM new_rows UNION ALL SELECT %1$I::bigint FROM old_rows) r(c)',
                customer_column) END
    INTO customers;
  IF customers IS NOT NULL THEN
    -- cross-sell rules look at the products of newly inserted cartera.purchase
    -- rows (an UPDATE, e.g. a merge moving purchases, is not a new sale)
    IF TG_OP = 'INSERT' AND TG_RELID = 'cartera.purchase'::regclass THEN
      SELECT array_agg(n.purchase_id) INTO purchase_ids FROM new_rows n;
    END IF;
    -- a purchase is an event: welcome, welcome back, cross-sell and
    -- transition alerts are raised now (cartera_alerts.sql)
    PERFORM cartera.raise_purchase_alerts(
      ARRAY(SELECT ROW(t.*)::cartera.state_transition FROM cartera.recompute_state(customers, now_ts) t),
      purchase_ids, now_ts);
  END IF;
  RETURN NULL;
END
$fn$;
