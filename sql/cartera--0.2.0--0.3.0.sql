-- cartera 0.2.0 -> 0.3.0, written by hand: every object changed since 0.2.0,
-- in the order of the install script.  sql/setup.sql and test/upgrade.sql
-- check that updating from each release gives exactly a fresh install.
\echo Use "ALTER EXTENSION cartera UPDATE TO '0.3.0'" to load this file. \quit

-- customer_state keeps the aggregate state behind each summary (NULL until
-- the customer's next change or cartera.refresh() recomputes it)
ALTER TABLE cartera.customer_state ADD COLUMN rfm_state bytea;
COMMENT ON COLUMN cartera.customer_state.rfm_state IS
  'the aggregate state behind summary (cartera.rfm_state()): a new purchase is merged into it instead of rereading the history; NULL = recompute from the purchases on the next change';

-- The aggregate state behind an rfm_summary, as bytea: customer_state keeps
-- it so that a new purchase is merged in without reading the history again.
CREATE FUNCTION cartera.rfm_state_finalfn(internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'cartera_rfm_serialfn' LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.rfm_state_finalfn(internal) IS 'final function of cartera.rfm_state(): the serialized state';
CREATE AGGREGATE cartera.rfm_state(purchased_at timestamptz, amount numeric, as_of timestamptz) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_state_finalfn,
  STYPE = internal,
  SSPACE = 288,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_state(timestamptz, numeric, timestamptz) IS
  'the state of cartera.rfm() over the same rows, serialized (what customer_state.rfm_state keeps)';
CREATE FUNCTION cartera.rfm_state_summary(state bytea) RETURNS cartera.rfm_summary
  AS 'MODULE_PATHNAME', 'cartera_rfm_state_summary' LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.rfm_state_summary(bytea) IS
  'the rfm_summary of a state made by cartera.rfm_state(): rfm_state_summary(rfm_state(...)) = rfm(...)';

-- The one statement that scores states and stores them in customer_state,
-- logging status/segment transitions.  fresh is a query returning
-- (customer_id bigint, state bytea, complete boolean): complete = false when
-- the state leaves rows out (after as_of), so it must not be kept for merging.
-- Parameters: $2 as_of, $3 the CLV lifespan; fresh may use $1 and $4.
-- Used by recompute_state() and by the C insert trigger (state_trigger.c).
CREATE FUNCTION cartera.state_update_sql(fresh text, result text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
  SELECT format($q$
    WITH fresh AS (%s),
    summarised AS (
      SELECT f.customer_id, cartera.rfm_state_summary(f.state) AS summary,
             CASE WHEN f.complete THEN f.state END AS state
        FROM fresh f),
    scored AS (
      SELECT f.customer_id, f.summary, f.state,
             cartera.lifecycle_status(f.summary, $2) AS status,
             CASE WHEN m.recency_breaks IS NOT NULL AND (f.summary).purchases > 0
                  THEN cartera.rfm_segment(f.summary, m.recency_breaks, m.frequency_breaks, m.monetary_breaks) END AS segment,
             cartera.clv(f.summary, $3) AS clv,
             CASE WHEN m.bgnbd IS NOT NULL AND (f.summary).purchases > 0
                  THEN cartera.p_alive(m.bgnbd, f.summary, (m.bgnbd).time_unit) END AS p_alive,
             CASE WHEN m.bgnbd IS NOT NULL AND (f.summary).purchases > 0
                  THEN cartera.expected_purchases(m.bgnbd, CASE (m.bgnbd).time_unit WHEN 'weeks' THEN 52 ELSE 364 END,
                                                  f.summary, (m.bgnbd).time_unit) END AS expected_12m,
             CASE WHEN m.bgnbd IS NOT NULL AND m.gamma_gamma IS NOT NULL AND (f.summary).purchases > 0
                  THEN cartera.clv_predicted(m.bgnbd, m.gamma_gamma, f.summary, (m.bgnbd).time_unit, 12, 0.01) END AS clv_12m
        FROM summarised f LEFT JOIN cartera.portfolio_model m ON true),
    old AS (
      SELECT s.customer_id, s.status AS old_status, s.segment AS old_segment
        FROM cartera.customer_state s JOIN fresh f USING (customer_id)),
    upserted AS (
      INSERT INTO cartera.customer_state AS s
             (customer_id, summary, status, segment, clv, p_alive, expected_purchases_12m, clv_predicted_12m,
              updated_at, rfm_state)
      SELECT customer_id, summary, status, segment, clv, p_alive, expected_12m, clv_12m, clock_timestamp(), state
        FROM scored
      ON CONFLICT (customer_id) DO UPDATE
         SET summary = excluded.summary, status = excluded.status, segment = excluded.segment,
             clv = excluded.clv, p_alive = excluded.p_alive,
             expected_purchases_12m = excluded.expected_purchases_12m,
             clv_predicted_12m = excluded.clv_predicted_12m, updated_at = excluded.updated_at,
             rfm_state = excluded.rfm_state
      RETURNING s.customer_id, s.status, s.segment),
    logged AS (
      INSERT INTO cartera.status_transition (customer_id, changed_at, from_status, to_status, from_segment, to_segment)
      SELECT u.customer_id, $2, o.old_status, u.status, o.old_segment, u.segment
        FROM upserted u LEFT JOIN old o USING (customer_id)
       WHERE o.customer_id IS NULL
          OR o.old_status IS DISTINCT FROM u.status
          OR o.old_segment IS DISTINCT FROM u.segment
      RETURNING customer_id, from_status, to_status, from_segment, to_segment)
    %s$q$, fresh, result)
$fn$;
COMMENT ON FUNCTION cartera.state_update_sql(text, text) IS
  'the SQL text that scores (status, segment, CLV, predictions) and stores customer states given by a query of (customer_id, state, complete), logging transitions';

-- Recompute customer_state for some customers (NULL = all) from every
-- purchase source, in one aggregate pass, and log the transitions.
-- Concurrency: the state rows are locked (in customer order, so two writers
-- never deadlock) before the purchases are read; under READ COMMITTED the
-- next statement then sees everything committed before the lock was granted,
-- so concurrent writers never leave a stale state.
CREATE OR REPLACE FUNCTION cartera.recompute_state(customers bigint[], as_of timestamptz)
  RETURNS TABLE (customer_id bigint, from_status cartera.lifecycle_status, to_status cartera.lifecycle_status,
                 from_segment cartera.segment, to_segment cartera.segment)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  sources text := cartera.purchase_rows_sql();
  -- the library may not be loaded yet in this session: fall back to the default
  lifespan interval := coalesce(current_setting('cartera.clv_lifespan', true), '3 years')::interval;
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

-- INSERT on a purchase source: merge the new rows into the stored states
-- (src/state_trigger.c).  Arguments: customer, time, amount columns and,
-- for cartera.purchase, the purchase id column (cross-sell rules).
CREATE FUNCTION cartera.purchase_rows_added() RETURNS trigger
  AS 'MODULE_PATHNAME', 'cartera_purchase_rows_added' LANGUAGE C SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp;
REVOKE EXECUTE ON FUNCTION cartera.purchase_rows_added() FROM PUBLIC;
COMMENT ON FUNCTION cartera.purchase_rows_added() IS
  'INSERT statement trigger of every purchase source: refuses future purchases, merges the new rows into each customer''s stored state and raises purchase alerts';


-- the INSERT trigger of cartera.purchase is now the C one
DROP TRIGGER cartera_state_insert ON cartera.purchase;
CREATE TRIGGER cartera_state_insert AFTER INSERT ON cartera.purchase
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cartera.purchase_rows_added('customer_id', 'purchased_at', 'amount', 'purchase_id');

-- Every customer has a state row from the moment it exists (a lead).
CREATE OR REPLACE FUNCTION cartera.customer_rows_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO cartera.customer_state (customer_id, summary, status, rfm_state)
      SELECT n.customer_id,
             ROW(NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, now())::cartera.rfm_summary,
             'lead', (SELECT cartera.rfm_state(NULL::timestamptz, NULL::numeric, now()))
        FROM new_rows n
      ON CONFLICT (customer_id) DO NOTHING;
  ELSE
    DELETE FROM cartera.customer_state s USING old_rows o WHERE s.customer_id = o.customer_id;
  END IF;
  RETURN NULL;
END
$fn$;

-- Attach a purchases table the DBA already has.
CREATE OR REPLACE FUNCTION cartera.track_purchases(source regclass, customer_column name,
                                        at_column name, amount_column name)
  RETURNS bigint
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  col record;
BEGIN
  IF EXISTS (SELECT 1 FROM cartera.purchase_source p WHERE p.source = track_purchases.source) THEN
    RAISE EXCEPTION 'purchases of % are already tracked', source
      USING ERRCODE = 'duplicate_object', HINT = 'Use cartera.untrack_purchases() first to change the columns.';
  END IF;
  FOR col IN
    SELECT c.role, c.colname, a.atttypid, c.allowed
      FROM (VALUES ('customer', customer_column, ARRAY['smallint', 'integer', 'bigint']::regtype[]),
                   ('purchase time', at_column, ARRAY['date', 'timestamp', 'timestamptz']::regtype[]),
                   ('amount', amount_column, ARRAY['numeric', 'smallint', 'integer', 'bigint', 'real', 'double precision']::regtype[]))
           c(role, colname, allowed)
      LEFT JOIN pg_attribute a ON a.attrelid = source AND a.attname = c.colname AND a.attnum > 0 AND NOT a.attisdropped
  LOOP
    IF col.atttypid IS NULL THEN
      RAISE EXCEPTION 'column "%" does not exist in %', col.colname, source USING ERRCODE = 'undefined_column';
    END IF;
    IF NOT col.atttypid = ANY (col.allowed) THEN
      RAISE EXCEPTION '% column "%" of % has type %, not one of %', col.role, col.colname, source,
                      col.atttypid::regtype, col.allowed
        USING ERRCODE = 'datatype_mismatch';
    END IF;
  END LOOP;
  IF NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                  WHERE i.indrelid = source AND a.attname = customer_column) THEN
    RAISE NOTICE 'no index on %.%: every purchase statement will scan the table', source, customer_column
      USING HINT = format('CREATE INDEX ON %s (%I);', source, customer_column);
  END IF;

  INSERT INTO cartera.purchase_source VALUES (source, customer_column, at_column, amount_column);
  EXECUTE format('CREATE TRIGGER cartera_state_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows '
                 'FOR EACH STATEMENT EXECUTE FUNCTION cartera.purchase_rows_added(%L, %L, %L)',
                 source, customer_column, at_column, amount_column);
  EXECUTE format('CREATE TRIGGER cartera_state_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '
                 'FOR EACH STATEMENT EXECUTE FUNCTION cartera.purchase_rows_changed(%L, %L)', source, customer_column, at_column);
  EXECUTE format('CREATE TRIGGER cartera_state_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows '
                 'FOR EACH STATEMENT EXECUTE FUNCTION cartera.purchase_rows_changed(%L, %L)', source, customer_column, at_column);
  EXECUTE format('CREATE TRIGGER cartera_state_truncate AFTER TRUNCATE ON %s '
                 'FOR EACH STATEMENT EXECUTE FUNCTION cartera.purchase_rows_changed(%L, %L)', source, customer_column, at_column);
  RETURN (SELECT count(*) FROM cartera.recompute_state(NULL, clock_timestamp()));
END
$fn$;


-- and so is the INSERT trigger of every table attached with track_purchases()
DO $$
DECLARE
  src record;
BEGIN
  FOR src IN SELECT * FROM cartera.purchase_source WHERE source <> 'cartera.purchase'::regclass LOOP
    EXECUTE format('DROP TRIGGER cartera_state_insert ON %s', src.source);
    EXECUTE format('CREATE TRIGGER cartera_state_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION cartera.purchase_rows_added(%L, %L, %L)',
                   src.source, src.customer_column, src.at_column, src.amount_column);
  END LOOP;
END
$$;

-- alert path: plans kept generic, one index-friendly test per subject, no SQL function planned per call

-- (no SET search_path: it names no object, and without it the planner
-- inlines the VALUES list instead of planning a function call each time)
CREATE OR REPLACE FUNCTION cartera.segment_map_defaults()
  RETURNS TABLE (name_en text, name_es text, r_min integer, r_max integer, f_min integer, f_max integer)
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
  VALUES ('Champions',          'Campeones',           5, 5, 4, 5),
         ('Loyal',              'Leales',              3, 4, 4, 5),
         ('Potential Loyalist', 'Leales potenciales',  4, 5, 2, 3),
         ('New',                'Nuevos',              5, 5, 1, 1),
         ('Promising',          'Prometedores',        4, 4, 1, 1),
         ('Need Attention',     'Requieren atención',  3, 3, 3, 3),
         ('About to Sleep',     'A punto de dormir',   3, 3, 1, 2),
         ('At Risk',            'En riesgo',           1, 2, 3, 4),
         ('Can''t Lose Them',   'No se pueden perder', 1, 2, 5, 5),
         ('Hibernating',        'Hibernando',          1, 2, 1, 2)
$fn$;

-- name of a segment from the map (or the built-in grid), in cartera.language
-- unless a language is given.  PL/pgSQL, not SQL: it runs once per alert
-- candidate and per BI row, and PL/pgSQL keeps its plan for the session.
CREATE OR REPLACE FUNCTION cartera.segment_label(s cartera.segment, language text DEFAULT NULL) RETURNS text
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  r integer := cartera.recency_score(s);
  f integer := cartera.frequency_score(s);
  name_en text;
  name_es text;
BEGIN
  IF s IS NULL THEN
    RETURN NULL;
  END IF;
  IF r > 5 OR f > 5 THEN
    -- a finer grid (up to 9 scores) maps onto the 5 x 5 one
    r := (r - 1) * 5 / 9 + 1;
    f := (f - 1) * 5 / 9 + 1;
  END IF;
  SELECT m.name_en, m.name_es INTO name_en, name_es
    FROM (SELECT m.name_en, m.name_es, m.r_min, m.r_max, m.f_min, m.f_max FROM cartera.segment_map m
          UNION ALL
          SELECT d.* FROM cartera.segment_map_defaults() d WHERE NOT EXISTS (SELECT 1 FROM cartera.segment_map)) m
   WHERE r BETWEEN m.r_min AND m.r_max AND f BETWEEN m.f_min AND m.f_max;
  RETURN CASE coalesce(language, current_setting('cartera.language', true), 'es') WHEN 'en' THEN name_en ELSE name_es END;
END
$fn$;

CREATE OR REPLACE FUNCTION cartera.raise_alerts(customer_ids bigint[], kinds text[], due_dates date[],
                                     details text[], agent_ids bigint[], as_of timestamptz)
  RETURNS TABLE (kind text, raised bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  -- same defaults as the cartera.* settings in guc.c (the library may not be loaded yet)
  max_contacts integer := coalesce(current_setting('cartera.max_contacts', true), '3')::integer;
  contact_window interval := coalesce(current_setting('cartera.contact_window', true), '30 days')::interval;
  lang text := coalesce(current_setting('cartera.language', true), 'es');
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
     WHERE (c.customer_id IS NULL OR cu.customer_id IS NOT NULL)
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

CREATE OR REPLACE FUNCTION cartera.raise_transition_alerts(changes cartera.state_transition[], as_of timestamptz)
  RETURNS TABLE (kind text, raised bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
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

CREATE OR REPLACE FUNCTION cartera.raise_purchase_alerts(changes cartera.state_transition[], purchase_ids bigint[], as_of timestamptz)
  RETURNS TABLE (kind text, raised bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
-- Small statements, each skipped when it has nothing to do: this runs for
-- every purchase statement whose customers change status or segment.
DECLARE
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
COMMENT ON FUNCTION cartera.purchase_rows_changed() IS
  'UPDATE, DELETE and TRUNCATE statement trigger of every purchase source (INSERT: purchase_rows_added()): refuses future purchase dates and recomputes the state of the customers touched';

-- rfm(), lifecycle() and clv() state size for the planner (SSPACE = 288 in
-- the install script): CREATE AGGREGATE has no ALTER for it.
UPDATE pg_catalog.pg_aggregate SET aggtransspace = 288
 WHERE aggfnoid IN (SELECT p.oid FROM pg_catalog.pg_proc p
                     WHERE p.pronamespace = 'cartera'::regnamespace AND p.prokind = 'a'
                       AND p.proname IN ('rfm', 'lifecycle', 'clv'));

------------------------------------------------------------------------------
-- 0.3.0: the two-step form of the combinable aggregates (src/partial_agg.c),
-- for shards: postgres_fdw (PostgreSQL 15) pushes whole aggregates to a
-- remote server, never partial ones.  NAME_partial(...) takes the arguments of
-- NAME(...) and returns its state as bytea (run it on each shard: one row
-- comes back); NAME_merge(bytea) combines such states and gives what NAME()
-- over all the rows gives.  docs/scaling.md shows the queries.
------------------------------------------------------------------------------

CREATE FUNCTION cartera.rfm_partial_finalfn(internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'cartera_rfm_partial_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.rfm_partial_finalfn(internal) IS
  'final function of rfm_partial(): the state of rfm() serialized, with a header and checksum';
CREATE FUNCTION cartera.rfm_merge_transfn(internal, bytea) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_rfm_merge_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION cartera.rfm_merge_transfn(internal, bytea) IS
  'transition function of rfm_merge(): checks, deserializes and combines one rfm_partial() state';
CREATE FUNCTION cartera.bgnbd_fit_partial_finalfn(internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'cartera_bgnbd_fit_partial_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgnbd_fit_partial_finalfn(internal) IS
  'final function of bgnbd_fit_partial(): the state of bgnbd_fit() serialized, with a header and checksum';
CREATE FUNCTION cartera.bgnbd_fit_merge_transfn(internal, bytea) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgnbd_fit_merge_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgnbd_fit_merge_transfn(internal, bytea) IS
  'transition function of bgnbd_fit_merge(): checks, deserializes and combines one bgnbd_fit_partial() state';
CREATE FUNCTION cartera.gamma_gamma_fit_partial_finalfn(internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'cartera_gamma_gamma_fit_partial_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.gamma_gamma_fit_partial_finalfn(internal) IS
  'final function of gamma_gamma_fit_partial(): the state of gamma_gamma_fit() serialized, with a header and checksum';
CREATE FUNCTION cartera.gamma_gamma_fit_merge_transfn(internal, bytea) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_gamma_gamma_fit_merge_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION cartera.gamma_gamma_fit_merge_transfn(internal, bytea) IS
  'transition function of gamma_gamma_fit_merge(): checks, deserializes and combines one gamma_gamma_fit_partial() state';
CREATE FUNCTION cartera.breakpoints_partial_finalfn(internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'cartera_breakpoints_partial_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION cartera.breakpoints_partial_finalfn(internal) IS
  'final function of breakpoints_partial(): the state of breakpoints() serialized, with a header and checksum';
CREATE FUNCTION cartera.breakpoints_merge_transfn(internal, bytea) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_breakpoints_merge_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION cartera.breakpoints_merge_transfn(internal, bytea) IS
  'transition function of breakpoints_merge(): checks, deserializes and combines one breakpoints_partial() state';

CREATE AGGREGATE cartera.rfm_partial(purchased_at timestamptz, amount numeric, as_of timestamptz) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_partial_finalfn,
  STYPE = internal,
  SSPACE = 288,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_partial(timestamptz, numeric, timestamptz) IS
  'first step of rfm(timestamptz, numeric, timestamptz) on a shard: its state as bytea, for cartera.rfm_merge()';
CREATE AGGREGATE cartera.rfm_partial(purchased_at timestamptz, amount numeric) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_partial_finalfn,
  STYPE = internal,
  SSPACE = 288,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_partial(timestamptz, numeric) IS
  'first step of rfm(timestamptz, numeric) on a shard: its state as bytea, for cartera.rfm_merge()';
CREATE AGGREGATE cartera.rfm_partial(purchased_at timestamptz, amount double precision, as_of timestamptz) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_partial_finalfn,
  STYPE = internal,
  SSPACE = 288,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_partial(timestamptz, double precision, timestamptz) IS
  'first step of rfm(timestamptz, double precision, timestamptz) on a shard: its state as bytea, for cartera.rfm_merge()';
CREATE AGGREGATE cartera.rfm_partial(purchased_at timestamptz, amount double precision) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_partial_finalfn,
  STYPE = internal,
  SSPACE = 288,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_partial(timestamptz, double precision) IS
  'first step of rfm(timestamptz, double precision) on a shard: its state as bytea, for cartera.rfm_merge()';
CREATE AGGREGATE cartera.rfm_partial(purchased_at timestamptz, amount bigint, as_of timestamptz) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_partial_finalfn,
  STYPE = internal,
  SSPACE = 288,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_partial(timestamptz, bigint, timestamptz) IS
  'first step of rfm(timestamptz, bigint, timestamptz) on a shard: its state as bytea, for cartera.rfm_merge()';
CREATE AGGREGATE cartera.rfm_partial(purchased_at timestamptz, amount bigint) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_partial_finalfn,
  STYPE = internal,
  SSPACE = 288,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_partial(timestamptz, bigint) IS
  'first step of rfm(timestamptz, bigint) on a shard: its state as bytea, for cartera.rfm_merge()';
CREATE AGGREGATE cartera.rfm_partial(purchased_at date, amount numeric, as_of date) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_partial_finalfn,
  STYPE = internal,
  SSPACE = 288,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_partial(date, numeric, date) IS
  'first step of rfm(date, numeric, date) on a shard: its state as bytea, for cartera.rfm_merge()';
CREATE AGGREGATE cartera.rfm_partial(purchased_at date, amount numeric) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_partial_finalfn,
  STYPE = internal,
  SSPACE = 288,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_partial(date, numeric) IS
  'first step of rfm(date, numeric) on a shard: its state as bytea, for cartera.rfm_merge()';
CREATE AGGREGATE cartera.rfm_partial(purchased_at date, amount double precision, as_of date) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_partial_finalfn,
  STYPE = internal,
  SSPACE = 288,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_partial(date, double precision, date) IS
  'first step of rfm(date, double precision, date) on a shard: its state as bytea, for cartera.rfm_merge()';
CREATE AGGREGATE cartera.rfm_partial(purchased_at date, amount double precision) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_partial_finalfn,
  STYPE = internal,
  SSPACE = 288,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_partial(date, double precision) IS
  'first step of rfm(date, double precision) on a shard: its state as bytea, for cartera.rfm_merge()';
CREATE AGGREGATE cartera.rfm_partial(purchased_at date, amount bigint, as_of date) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_partial_finalfn,
  STYPE = internal,
  SSPACE = 288,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_partial(date, bigint, date) IS
  'first step of rfm(date, bigint, date) on a shard: its state as bytea, for cartera.rfm_merge()';
CREATE AGGREGATE cartera.rfm_partial(purchased_at date, amount bigint) (
  SFUNC = cartera.rfm_transfn,
  FINALFUNC = cartera.rfm_partial_finalfn,
  STYPE = internal,
  SSPACE = 288,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_partial(date, bigint) IS
  'first step of rfm(date, bigint) on a shard: its state as bytea, for cartera.rfm_merge()';
CREATE AGGREGATE cartera.rfm_merge(state bytea) (
  SFUNC = cartera.rfm_merge_transfn,
  FINALFUNC = cartera.rfm_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.rfm_combinefn,
  SERIALFUNC = cartera.rfm_serialfn,
  DESERIALFUNC = cartera.rfm_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.rfm_merge(bytea) IS
  'second step: combines rfm_partial() states (NULLs skipped) into the cartera.rfm_summary that rfm() gives over all their rows';

CREATE AGGREGATE cartera.bgnbd_fit_partial(frequency integer, t_x double precision, "T" double precision) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.bgnbd_fit_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgnbd_fit_partial(integer, double precision, double precision) IS
  'first step of bgnbd_fit(integer, double precision, double precision) on a shard: its state as bytea, for cartera.bgnbd_fit_merge()';
CREATE AGGREGATE cartera.bgnbd_fit_partial(frequency integer, t_x double precision, "T" double precision, time_unit text) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.bgnbd_fit_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgnbd_fit_partial(integer, double precision, double precision, text) IS
  'first step of bgnbd_fit(integer, double precision, double precision, text) on a shard: its state as bytea, for cartera.bgnbd_fit_merge()';
CREATE AGGREGATE cartera.bgnbd_fit_partial(frequency integer, t_x double precision, "T" double precision, time_unit text, penalizer double precision) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.bgnbd_fit_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgnbd_fit_partial(integer, double precision, double precision, text, double precision) IS
  'first step of bgnbd_fit(integer, double precision, double precision, text, double precision) on a shard: its state as bytea, for cartera.bgnbd_fit_merge()';
CREATE AGGREGATE cartera.bgnbd_fit_partial(summary cartera.rfm_summary, time_unit text) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.bgnbd_fit_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgnbd_fit_partial(cartera.rfm_summary, text) IS
  'first step of bgnbd_fit(cartera.rfm_summary, text) on a shard: its state as bytea, for cartera.bgnbd_fit_merge()';
CREATE AGGREGATE cartera.bgnbd_fit_partial(summary cartera.rfm_summary, time_unit text, penalizer double precision) (
  SFUNC = cartera.bgnbd_fit_transfn,
  FINALFUNC = cartera.bgnbd_fit_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgnbd_fit_partial(cartera.rfm_summary, text, double precision) IS
  'first step of bgnbd_fit(cartera.rfm_summary, text, double precision) on a shard: its state as bytea, for cartera.bgnbd_fit_merge()';
CREATE AGGREGATE cartera.bgnbd_fit_merge(state bytea) (
  SFUNC = cartera.bgnbd_fit_merge_transfn,
  FINALFUNC = cartera.bgnbd_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgnbd_fit_merge(bytea) IS
  'second step: combines bgnbd_fit_partial() states (NULLs skipped) into the cartera.bgnbd_params that bgnbd_fit() gives over all their rows';

CREATE AGGREGATE cartera.gamma_gamma_fit_partial(frequency integer, monetary double precision) (
  SFUNC = cartera.gamma_gamma_fit_transfn,
  FINALFUNC = cartera.gamma_gamma_fit_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.gamma_gamma_fit_partial(integer, double precision) IS
  'first step of gamma_gamma_fit(integer, double precision) on a shard: its state as bytea, for cartera.gamma_gamma_fit_merge()';
CREATE AGGREGATE cartera.gamma_gamma_fit_partial(frequency integer, monetary double precision, penalizer double precision) (
  SFUNC = cartera.gamma_gamma_fit_transfn,
  FINALFUNC = cartera.gamma_gamma_fit_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.gamma_gamma_fit_partial(integer, double precision, double precision) IS
  'first step of gamma_gamma_fit(integer, double precision, double precision) on a shard: its state as bytea, for cartera.gamma_gamma_fit_merge()';
CREATE AGGREGATE cartera.gamma_gamma_fit_partial(summary cartera.rfm_summary) (
  SFUNC = cartera.gamma_gamma_fit_transfn,
  FINALFUNC = cartera.gamma_gamma_fit_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.gamma_gamma_fit_partial(cartera.rfm_summary) IS
  'first step of gamma_gamma_fit(cartera.rfm_summary) on a shard: its state as bytea, for cartera.gamma_gamma_fit_merge()';
CREATE AGGREGATE cartera.gamma_gamma_fit_partial(summary cartera.rfm_summary, penalizer double precision) (
  SFUNC = cartera.gamma_gamma_fit_transfn,
  FINALFUNC = cartera.gamma_gamma_fit_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.gamma_gamma_fit_partial(cartera.rfm_summary, double precision) IS
  'first step of gamma_gamma_fit(cartera.rfm_summary, double precision) on a shard: its state as bytea, for cartera.gamma_gamma_fit_merge()';
CREATE AGGREGATE cartera.gamma_gamma_fit_merge(state bytea) (
  SFUNC = cartera.gamma_gamma_fit_merge_transfn,
  FINALFUNC = cartera.gamma_gamma_fit_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.gamma_gamma_fit_merge(bytea) IS
  'second step: combines gamma_gamma_fit_partial() states (NULLs skipped) into the cartera.gamma_gamma_params that gamma_gamma_fit() gives over all their rows';

CREATE AGGREGATE cartera.breakpoints_partial(value double precision, n integer) (
  SFUNC = cartera.breakpoints_transfn,
  STYPE = internal,
  FINALFUNC = cartera.breakpoints_partial_finalfn,
  COMBINEFUNC = cartera.breakpoints_combinefn,
  SERIALFUNC = cartera.breakpoints_serialfn,
  DESERIALFUNC = cartera.breakpoints_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.breakpoints_partial(double precision, integer) IS
  'first step of breakpoints(double precision, integer) on a shard: its state as bytea, for cartera.breakpoints_merge()';
CREATE AGGREGATE cartera.breakpoints_merge(state bytea) (
  SFUNC = cartera.breakpoints_merge_transfn,
  FINALFUNC = cartera.breakpoints_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.breakpoints_combinefn,
  SERIALFUNC = cartera.breakpoints_serialfn,
  DESERIALFUNC = cartera.breakpoints_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.breakpoints_merge(bytea) IS
  'second step: combines breakpoints_partial() states (NULLs skipped) into the double precision[] that breakpoints() gives over all their rows';

-- What PostgreSQL 15's postgres_fdw does not ship: (summary).field and an
-- aggregate with a text constant argument.  The same in shippable form:
CREATE FUNCTION cartera.bgnbd_fit_unit_days_transfn(internal, cartera.rfm_summary, integer) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgnbd_fit_unit_days_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION cartera.bgnbd_fit_unit_days_transfn(internal, cartera.rfm_summary, integer, double precision) RETURNS internal
  AS 'MODULE_PATHNAME', 'cartera_bgnbd_fit_unit_days_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION cartera.bgnbd_fit_unit_days_transfn(internal, cartera.rfm_summary, integer) IS
  'transition function of bgnbd_fit_partial(summary, unit_days)';
COMMENT ON FUNCTION cartera.bgnbd_fit_unit_days_transfn(internal, cartera.rfm_summary, integer, double precision) IS
  'transition function of bgnbd_fit_partial(summary, unit_days, penalizer)';
CREATE AGGREGATE cartera.bgnbd_fit_partial(summary cartera.rfm_summary, unit_days integer) (
  SFUNC = cartera.bgnbd_fit_unit_days_transfn,
  FINALFUNC = cartera.bgnbd_fit_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgnbd_fit_partial(cartera.rfm_summary, integer) IS
  'bgnbd_fit_partial(summary, ''weeks'' or ''days'') with the time unit in days (7 or 1): a form postgres_fdw ships to a shard';
CREATE AGGREGATE cartera.bgnbd_fit_partial(summary cartera.rfm_summary, unit_days integer, penalizer double precision) (
  SFUNC = cartera.bgnbd_fit_unit_days_transfn,
  FINALFUNC = cartera.bgnbd_fit_partial_finalfn,
  STYPE = internal,
  COMBINEFUNC = cartera.fit_histogram_combinefn,
  SERIALFUNC = cartera.fit_histogram_serialfn,
  DESERIALFUNC = cartera.fit_histogram_deserialfn,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE cartera.bgnbd_fit_partial(cartera.rfm_summary, integer, double precision) IS
  'bgnbd_fit_partial(summary, time unit, penalizer) with the time unit in days (7 or 1): a form postgres_fdw ships to a shard';
CREATE FUNCTION cartera.summary_recency_days(summary cartera.rfm_summary) RETURNS integer
  AS 'MODULE_PATHNAME', 'cartera_summary_recency_days' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.summary_recency_days(cartera.rfm_summary) IS
  '(summary).recency_days as a function call, which postgres_fdw ships to a shard';
CREATE FUNCTION cartera.summary_frequency(summary cartera.rfm_summary) RETURNS integer
  AS 'MODULE_PATHNAME', 'cartera_summary_frequency' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.summary_frequency(cartera.rfm_summary) IS
  '(summary).frequency as a function call, which postgres_fdw ships to a shard';
CREATE FUNCTION cartera.summary_monetary_total(summary cartera.rfm_summary) RETURNS numeric
  AS 'MODULE_PATHNAME', 'cartera_summary_monetary_total' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cartera.summary_monetary_total(cartera.rfm_summary) IS
  '(summary).monetary_total as a function call, which postgres_fdw ships to a shard';

-- The first step on every partition of a table at once: with the partitions
-- foreign tables on shards (postgres_fdw, server option extensions 'cartera'),
-- each branch is one aggregate the shard computes, and the shards answer one
-- row each (concurrently with the server option async_capable 'true').
CREATE FUNCTION cartera.partial_states(relation regclass, partial_aggregate text)
  RETURNS TABLE (partition regclass, state bytea)
  LANGUAGE plpgsql VOLATILE STRICT PARALLEL RESTRICTED
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  q text;
BEGIN
  -- one branch per leaf partition (a plain table is its own leaf); the
  -- partition travels as an oid literal so that a pushed-down branch never
  -- names a relation the shard does not have
  SELECT string_agg(format('SELECT %s::oid, %s FROM %s', t.relid::oid, partial_aggregate, t.relid),
                    ' UNION ALL ' ORDER BY t.relid::oid)
    INTO q
    FROM (SELECT l.relid FROM pg_catalog.pg_partition_tree(relation) l WHERE l.isleaf
          UNION
          SELECT c.oid::regclass FROM pg_catalog.pg_class c
           WHERE c.oid = relation AND c.relkind IN ('r', 'f', 'm')) t;
  IF q IS NULL THEN
    RAISE EXCEPTION '% is neither a table nor a partitioned table with partitions', relation
      USING ERRCODE = 'wrong_object_type',
            HINT = 'Pass the partitioned table whose partitions live on the shards.';
  END IF;
  RETURN QUERY EXECUTE format('SELECT p::regclass, s FROM (%s) u(p, s)', q);
END
$fn$;
-- it runs the SQL text it is given: not for PUBLIC (GRANT it to the role that fits models)
REVOKE EXECUTE ON FUNCTION cartera.partial_states(regclass, text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.partial_states(regclass, text) IS
  'runs the aggregate expression partial_aggregate (e.g. cartera.bgnbd_fit_partial(summary, ''weeks'')) on every leaf partition of relation; returns one state per partition for the matching _merge() aggregate';
