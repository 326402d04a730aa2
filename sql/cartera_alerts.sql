
------------------------------------------------------------------------------
-- 0.2.0: segments as data, interactions, alerts and the daily follow-up job.
------------------------------------------------------------------------------

-- The named-segment map: rectangles of the R x F grid (scores 1..5).  Empty
-- means the built-in grid of cartera.segment_name(); call
-- cartera.segment_map_customize() to copy that grid here and edit it.  (An
-- empty start keeps pg_dump simple: every row in the table is user data.)
CREATE TABLE cartera.segment_map (
  name_en      text PRIMARY KEY,
  name_es      text NOT NULL UNIQUE,
  r_min        integer NOT NULL, r_max integer NOT NULL,
  f_min        integer NOT NULL, f_max integer NOT NULL,
  CONSTRAINT segment_map_ranges CHECK (1 <= r_min AND r_min <= r_max AND r_max <= 5
                                       AND 1 <= f_min AND f_min <= f_max AND f_max <= 5)
);
COMMENT ON TABLE cartera.segment_map IS
  'named segments as rectangles of the recency x frequency grid (scores 1..5); empty = the built-in grid; when filled, every cell must have exactly one name';

-- the built-in grid of SPEC.md as rectangles (the same names segment_name() gives)
-- (no SET search_path: it names no object, and without it the planner
-- inlines the VALUES list instead of planning a function call each time)
CREATE FUNCTION cartera.segment_map_defaults()
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
COMMENT ON FUNCTION cartera.segment_map_defaults() IS 'the built-in named-segment grid as rectangles';

CREATE FUNCTION cartera.segment_map_customize() RETURNS bigint
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  IF EXISTS (SELECT 1 FROM cartera.segment_map) THEN
    RAISE EXCEPTION 'the segment map is already customized' USING ERRCODE = 'duplicate_object',
      HINT = 'Edit cartera.segment_map directly, or empty it to go back to the built-in grid.';
  END IF;
  INSERT INTO cartera.segment_map SELECT * FROM cartera.segment_map_defaults();
  RETURN (SELECT count(*) FROM cartera.segment_map);
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.segment_map_customize() FROM PUBLIC;
COMMENT ON FUNCTION cartera.segment_map_customize() IS 'copy the built-in grid into cartera.segment_map so it can be edited';

-- Every cell of the 5 x 5 grid covered exactly once, checked after each statement.
CREATE FUNCTION cartera.segment_map_check() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  gaps text;
  doubles text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM cartera.segment_map) THEN
    RETURN NULL;                -- empty: the built-in grid applies
  END IF;
  SELECT string_agg(format('R%sF%s', r, f), ', ' ORDER BY r, f) FILTER (WHERE n = 0),
         string_agg(format('R%sF%s (%s)', r, f, names), ', ' ORDER BY r, f) FILTER (WHERE n > 1)
    INTO gaps, doubles
    FROM (SELECT r, f, count(m.name_en) AS n, string_agg(m.name_en, ' / ' ORDER BY m.name_en) AS names
            FROM generate_series(1, 5) r CROSS JOIN generate_series(1, 5) f
            LEFT JOIN cartera.segment_map m ON r BETWEEN m.r_min AND m.r_max AND f BETWEEN m.f_min AND m.f_max
           GROUP BY r, f) cells;
  IF gaps IS NOT NULL OR doubles IS NOT NULL THEN
    RAISE EXCEPTION 'the segment map must name every recency x frequency cell exactly once'
      USING ERRCODE = 'check_violation',
            DETAIL = concat_ws(' ', 'Cells without a name: ' || gaps || '.', 'Cells with several names: ' || doubles || '.'),
            HINT = 'The check runs after each statement: change several rectangles in one statement, e.g. UPDATE ... FROM (VALUES ...).';
  END IF;
  RETURN NULL;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.segment_map_check() FROM PUBLIC;
COMMENT ON FUNCTION cartera.segment_map_check() IS 'statement trigger: a filled segment map covers the 5 x 5 grid with no gaps and no overlaps';
CREATE TRIGGER segment_map_changed AFTER INSERT OR UPDATE OR DELETE ON cartera.segment_map
  FOR EACH STATEMENT EXECUTE FUNCTION cartera.segment_map_check();

-- name of a segment from the map (or the built-in grid), in cartera.language
-- unless a language is given.  PL/pgSQL, not SQL: it runs once per alert
-- candidate and per BI row, and PL/pgSQL keeps its plan for the session.
CREATE FUNCTION cartera.segment_label(s cartera.segment, language text DEFAULT NULL) RETURNS text
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
COMMENT ON FUNCTION cartera.segment_label(cartera.segment, text) IS
  'named segment of a cell from cartera.segment_map (or the built-in grid), in cartera.language (es, en) unless a language is given';

-- Qualitative information: calls, visits, complaints, opinions, needs.
CREATE TABLE cartera.interaction (
  interaction_id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  customer_id    bigint NOT NULL REFERENCES cartera.customer (customer_id) ON DELETE CASCADE,
  agent_id       bigint REFERENCES cartera.agent (agent_id) ON DELETE SET NULL,
  happened_at    timestamptz NOT NULL DEFAULT now(),
  channel        text NOT NULL CONSTRAINT interaction_channel_known
                   CHECK (channel IN ('phone', 'email', 'visit', 'chat', 'whatsapp', 'social', 'web', 'survey', 'other')),
  sentiment      smallint CONSTRAINT interaction_sentiment_range CHECK (sentiment BETWEEN -2 AND 2),
  is_complaint   boolean NOT NULL DEFAULT false,
  need           text,
  note           text
);
CREATE INDEX interaction_customer_idx ON cartera.interaction (customer_id, happened_at);
COMMENT ON TABLE cartera.interaction IS 'contacts with a customer and what they said: complaints, opinions, needs (a complaint raises a red alert)';
COMMENT ON COLUMN cartera.interaction.sentiment IS 'from -2 (very negative) to 2 (very positive)';
COMMENT ON COLUMN cartera.interaction.need IS 'a need or interest the customer expressed';

-- Special dates.  A fixed day (month, day) or the nth weekday of a month
-- (month, weekday 0 = Sunday, nth; nth = -1 for the last one), per country
-- (NULL = every country).  Empty means the built-in calendar of
-- cartera.occasion_defaults(); cartera.occasion_customize() copies it here to
-- edit (every row in the table is user data, so pg_dump keeps it as is).
CREATE TABLE cartera.occasion (
  occasion_id  bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  name_es      text NOT NULL,
  name_en      text NOT NULL,
  country      text CONSTRAINT occasion_country_iso CHECK (country ~ '^[A-Z]{2}$'),
  month        integer NOT NULL CONSTRAINT occasion_month CHECK (month BETWEEN 1 AND 12),
  day          integer CONSTRAINT occasion_day CHECK (day BETWEEN 1 AND 31),
  weekday      integer CONSTRAINT occasion_weekday CHECK (weekday BETWEEN 0 AND 6),
  nth          integer CONSTRAINT occasion_nth CHECK (nth IN (-1, 1, 2, 3, 4, 5)),
  offset_days  integer NOT NULL DEFAULT 0,
  CONSTRAINT occasion_fixed_or_weekday CHECK ((day IS NOT NULL AND weekday IS NULL AND nth IS NULL)
                                            OR (day IS NULL AND weekday IS NOT NULL AND nth IS NOT NULL))
);
COMMENT ON TABLE cartera.occasion IS
  'special dates that raise green alerts for customers of that country: a fixed day, or the nth weekday of a month; empty = the built-in calendar';
COMMENT ON COLUMN cartera.occasion.weekday IS '0 = Sunday ... 6 = Saturday, with nth';
COMMENT ON COLUMN cartera.occasion.nth IS '1..5: the nth such weekday of the month; -1: the last one';
COMMENT ON COLUMN cartera.occasion.offset_days IS 'days added to the computed date (Black Friday = the day after the 4th Thursday of November)';

-- the built-in calendar for Spanish- and English-speaking markets
CREATE FUNCTION cartera.occasion_defaults() RETURNS SETOF cartera.occasion
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
  SELECT (-row_number() OVER ())::bigint, o.*
    FROM (VALUES
      ('Navidad', 'Christmas', NULL::text, 12, 25, NULL::int, NULL::int, 0),
      ('San Valentín', 'Valentine''s Day', NULL, 2, 14, NULL, NULL, 0),
      ('Día Internacional de la Amistad', 'International Friendship Day', NULL, 7, 30, NULL, NULL, 0),
      ('Reyes Magos', 'Epiphany', 'ES', 1, 6, NULL, NULL, 0),
      ('Reyes Magos', 'Epiphany', 'MX', 1, 6, NULL, NULL, 0),
      ('Día de la Madre', 'Mother''s Day', 'ES', 5, NULL, 0, 1, 0),
      ('Día de la Madre', 'Mother''s Day', 'MX', 5, 10, NULL, NULL, 0),
      ('Día de la Madre', 'Mother''s Day', 'US', 5, NULL, 0, 2, 0),
      ('Día de la Madre', 'Mother''s Day', 'AR', 10, NULL, 0, 3, 0),
      ('Día del Padre', 'Father''s Day', 'ES', 3, 19, NULL, NULL, 0),
      ('Día del Padre', 'Father''s Day', 'MX', 6, NULL, 0, 3, 0),
      ('Día del Padre', 'Father''s Day', 'US', 6, NULL, 0, 3, 0),
      ('Día del Amigo', 'Friend''s Day', 'AR', 7, 20, NULL, NULL, 0),
      ('Black Friday', 'Black Friday', NULL, 11, NULL, 4, 4, 1)) o
$fn$;
COMMENT ON FUNCTION cartera.occasion_defaults() IS 'the built-in calendar of special dates (ids are negative: not stored)';

-- the occasions in force: the table, or the built-in calendar while it is empty
CREATE FUNCTION cartera.occasions() RETURNS SETOF cartera.occasion
  LANGUAGE sql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
  SELECT * FROM cartera.occasion
  UNION ALL
  SELECT * FROM cartera.occasion_defaults() WHERE NOT EXISTS (SELECT 1 FROM cartera.occasion)
$fn$;
COMMENT ON FUNCTION cartera.occasions() IS 'the occasions in force: cartera.occasion, or the built-in calendar while that table is empty';

CREATE FUNCTION cartera.occasion_customize() RETURNS bigint
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  IF EXISTS (SELECT 1 FROM cartera.occasion) THEN
    RAISE EXCEPTION 'the occasion calendar is already customized' USING ERRCODE = 'duplicate_object',
      HINT = 'Edit cartera.occasion directly, or empty it to go back to the built-in calendar.';
  END IF;
  INSERT INTO cartera.occasion (name_es, name_en, country, month, day, weekday, nth, offset_days)
    SELECT name_es, name_en, country, month, day, weekday, nth, offset_days FROM cartera.occasion_defaults()
     ORDER BY occasion_id DESC;
  RETURN (SELECT count(*) FROM cartera.occasion);
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.occasion_customize() FROM PUBLIC;
COMMENT ON FUNCTION cartera.occasion_customize() IS 'copy the built-in calendar into cartera.occasion so it can be edited';

-- the date of an occasion in a year
CREATE FUNCTION cartera.occasion_date(o cartera.occasion, year integer) RETURNS date
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
  SELECT CASE
    WHEN o.day IS NOT NULL THEN
      -- 29 February in a common year falls on 1 March
      make_date(year, o.month, 1) + (o.day - 1) + o.offset_days
    WHEN o.nth > 0 THEN
      make_date(year, o.month, 1)
        + ((o.weekday - extract(dow FROM make_date(year, o.month, 1))::int + 7) % 7)
        + 7 * (o.nth - 1) + o.offset_days
    ELSE
      (make_date(year, o.month, 1) + interval '1 month')::date - 1
        - ((extract(dow FROM (make_date(year, o.month, 1) + interval '1 month')::date - 1)::int - o.weekday + 7) % 7)
        + o.offset_days
  END
$fn$;
COMMENT ON FUNCTION cartera.occasion_date(cartera.occasion, integer) IS 'the date an occasion falls on in a given year';

-- Cross-sell: a purchase of X suggests offering Y, N days later.
CREATE TABLE cartera.cross_sell_rule (
  rule_id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  bought_category  text,
  bought_product   text,
  offer            text NOT NULL,
  after_days       integer NOT NULL DEFAULT 0 CONSTRAINT cross_sell_after_days CHECK (after_days >= 0),
  active           boolean NOT NULL DEFAULT true,
  CONSTRAINT cross_sell_rule_trigger CHECK (bought_category IS NOT NULL OR bought_product IS NOT NULL)
);
COMMENT ON TABLE cartera.cross_sell_rule IS 'bought a product or category -> offer something else after some days (bought a car -> offer insurance)';

-- Monthly goals per agent.
CREATE TABLE cartera.agent_target (
  agent_id        bigint NOT NULL REFERENCES cartera.agent (agent_id) ON DELETE CASCADE,
  month           date NOT NULL CONSTRAINT agent_target_first_of_month CHECK (month = date_trunc('month', month)::date),
  revenue_target  numeric CONSTRAINT agent_target_revenue CHECK (revenue_target >= 0),
  retention_target numeric CONSTRAINT agent_target_retention CHECK (retention_target BETWEEN 0 AND 1),
  PRIMARY KEY (agent_id, month)
);
COMMENT ON TABLE cartera.agent_target IS 'monthly goals of each agent: revenue and retention rate (0..1)';
COMMENT ON COLUMN cartera.agent_target.month IS 'first day of the month';

-- What each kind of alert is.  Categories: service (never suppressed),
-- relationship (an agent contacts the customer: counts toward the cap),
-- marketing (needs consent, counts toward the cap), internal (agent tasks).
CREATE TABLE cartera.alert_kind (
  kind        text PRIMARY KEY,
  colour      text NOT NULL CONSTRAINT alert_kind_colour CHECK (colour IN ('red', 'amber', 'green', 'blue')),
  category    text NOT NULL CONSTRAINT alert_kind_category CHECK (category IN ('service', 'relationship', 'marketing', 'internal')),
  due_days    integer NOT NULL DEFAULT 1 CONSTRAINT alert_kind_due CHECK (due_days >= 0),
  cooldown    interval NOT NULL DEFAULT '1 day',
  message_es  text NOT NULL,
  message_en  text NOT NULL,
  enabled     boolean NOT NULL DEFAULT true
);
COMMENT ON TABLE cartera.alert_kind IS
  'alert kinds: colour (red = act now, amber = follow up soon, green = opportunity, blue = for the agent), contact category, due days, cool-down, messages (%s = customer name, detail)';
COMMENT ON COLUMN cartera.alert_kind.cooldown IS 'no new alert of this kind for the same customer (or agent) within this interval of the last one, closed or not';
INSERT INTO cartera.alert_kind (kind, colour, category, due_days, cooldown, message_es, message_en) VALUES
  ('complaint',        'red',   'service',      0, '0 days',   'Queja de %s: atender hoy. %s', 'Complaint from %s: handle today. %s'),
  ('cant_lose',        'red',   'relationship', 1, '30 days',  '%s es de alto valor y está en riesgo: llamar. %s', '%s is high-value and at risk: call them. %s'),
  ('champion_at_risk', 'red',   'relationship', 1, '30 days',  '%s era Campeón y ha caído: contactar ya. %s', '%s was a Champion and has dropped: contact them now. %s'),
  ('reactivation',     'amber', 'marketing',    7, '30 days',  '%s está dormido: ofrecer reactivación. %s', '%s is dormant: offer a reactivation deal. %s'),
  ('exit_survey',      'amber', 'relationship', 7, '365 days', '%s se ha perdido: preguntar por qué se fue. %s', '%s is lost: ask why they left. %s'),
  ('idle_lead',        'amber', 'internal',     3, '14 days',  'Lead %s sin actividad: convertir o reasignar. %s', 'Lead %s is idle: convert or reassign. %s'),
  ('welcome',          'green', 'relationship', 2, '100 years','Primera compra de %s: dar la bienvenida. %s', 'First purchase by %s: welcome them. %s'),
  ('welcome_back',     'green', 'relationship', 2, '30 days',  '%s ha vuelto a comprar: dar la bienvenida de nuevo. %s', '%s is buying again: welcome them back. %s'),
  ('cross_sell',       'green', 'marketing',    0, '7 days',   'Ofrecer a %s: %s', 'Offer %s: %s'),
  ('birthday',         'green', 'marketing',    0, '300 days', 'Cumpleaños de %s: felicitar. %s', 'Birthday of %s: congratulate them. %s'),
  ('occasion',         'green', 'marketing',    0, '7 days',   'Ocasión especial para %s: %s', 'Special occasion for %s: %s'),
  ('below_target',     'blue',  'internal',     1, '25 days',  'Objetivo mensual de %s por debajo del ritmo. %s', 'Monthly goal of %s behind pace. %s');

CREATE TABLE cartera.alert (
  alert_id      bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  customer_id   bigint REFERENCES cartera.customer (customer_id) ON DELETE CASCADE,
  agent_id      bigint REFERENCES cartera.agent (agent_id) ON DELETE SET NULL,
  kind          text NOT NULL REFERENCES cartera.alert_kind (kind),
  colour        text NOT NULL CONSTRAINT alert_colour CHECK (colour IN ('red', 'amber', 'green', 'blue')),
  raised_at     timestamptz NOT NULL,
  due_on        date NOT NULL,
  message       text NOT NULL,
  detail        text,
  status        text NOT NULL DEFAULT 'open'
                  CONSTRAINT alert_status CHECK (status IN ('open', 'acknowledged', 'snoozed', 'done', 'dismissed')),
  snoozed_until date,
  closed_at     timestamptz,
  resolution    text,
  CONSTRAINT alert_has_subject CHECK (customer_id IS NOT NULL OR agent_id IS NOT NULL),
  CONSTRAINT alert_snooze_date CHECK ((status = 'snoozed') = (snoozed_until IS NOT NULL))
);
-- at most one open alert per (customer, kind), and per (agent, kind) for agent alerts
CREATE UNIQUE INDEX alert_one_open_per_customer ON cartera.alert (customer_id, kind)
  WHERE status IN ('open', 'acknowledged', 'snoozed') AND customer_id IS NOT NULL;
CREATE UNIQUE INDEX alert_one_open_per_agent ON cartera.alert (agent_id, kind)
  WHERE status IN ('open', 'acknowledged', 'snoozed') AND customer_id IS NULL;
CREATE INDEX alert_customer_kind_raised_idx ON cartera.alert (customer_id, kind, raised_at);
CREATE INDEX alert_agent_open_idx ON cartera.alert (agent_id) WHERE status IN ('open', 'acknowledged', 'snoozed');
COMMENT ON TABLE cartera.alert IS 'follow-up alerts for agents: colour, due date, message; open -> acknowledged -> done, or snoozed / dismissed';
COMMENT ON COLUMN cartera.alert.customer_id IS 'the customer concerned; NULL for alerts about the agent (below_target)';
COMMENT ON COLUMN cartera.alert.agent_id IS 'the agent who must act: the customer''s owner when raised';
COMMENT ON COLUMN cartera.alert.status IS 'open, acknowledged, snoozed (until snoozed_until), done, dismissed';
COMMENT ON COLUMN cartera.alert.resolution IS 'what was done, or why the alert was dismissed';

-- The one place where the contact policy is applied: consent for marketing,
-- at most cartera.max_contacts relationship/marketing alerts per customer per
-- cartera.contact_window, each kind's cool-down, one open alert per (customer,
-- kind); service alerts (complaints) only skip when one is already open.
-- Then the holdout draw (cartera.holdout_draw) sets aside the kind's
-- holdout_share of the customers that passed the policy: recorded as
-- held_out, never queued nor notified (the policy treats both groups alike,
-- so they stay comparable).  Candidates come as parallel arrays, so callers
-- stay set-based.  Every other new alert is announced with NOTIFY
-- cartera_alert (JSON: id, kind, colour, customer, agent); a complaint is
-- queued at once, the rest waits for the daily job's ranking (plan_day).
-- Returns how many alerts of each kind were recorded (held out included).
CREATE FUNCTION cartera.raise_alerts(customer_ids bigint[], kinds text[], due_dates date[],
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
    SELECT c.*, k.colour, k.category, k.due_days, k.holdout_share, k.holdout_period,
           coalesce(c.agent_id, cu.owner_agent_id) AS owner,
           rtrim(format(CASE WHEN lang = 'en' THEN k.message_en ELSE k.message_es END,
                        coalesce(cu.full_name, ag.name), coalesce(c.detail, ''))) AS message
      FROM candidate c
      JOIN cartera.alert_kind k ON k.kind = c.kind AND k.enabled
      LEFT JOIN cartera.customer cu ON cu.customer_id = c.customer_id
      LEFT JOIN cartera.agent ag ON ag.agent_id = c.agent_id
     WHERE (c.customer_id IS NULL OR (cu.customer_id IS NOT NULL AND cu.forgotten_at IS NULL))
       AND (k.category <> 'marketing' OR cu.marketing_consent)
       -- one alert still to do per (customer, kind), tested before the
       -- holdout draw: a customer whose alert of this kind is still open is
       -- not drawn again, so that a held-out alert is never raised for a
       -- customer being alerted (the unique index alone would drop only the
       -- alerted candidates, and the held-out group would fill with them)
       AND NOT EXISTS (SELECT 1 FROM cartera.alert a
                        WHERE c.customer_id IS NOT NULL AND a.customer_id = c.customer_id AND a.kind = c.kind
                          AND a.status IN ('open', 'acknowledged', 'snoozed'))
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
  drawn AS (
    SELECT r.*, (r.customer_id IS NOT NULL AND r.holdout_share > 0 AND r.category IN ('relationship', 'marketing')
                 AND cartera.holdout_draw(r.customer_id, r.kind, date_trunc(r.holdout_period, as_of::date)::date)
                     < r.holdout_share) AS held
      FROM ranked r
     WHERE r.category NOT IN ('relationship', 'marketing') OR r.contacts + r.nth <= max_contacts),
  inserted AS (
    INSERT INTO cartera.alert (customer_id, agent_id, kind, colour, raised_at, due_on, message, detail,
                               status, closed_at, queue, queued_on)
    SELECT customer_id, owner, d.kind, colour, as_of, coalesce(due_on, as_of::date + due_days), message, detail,
           CASE WHEN held THEN 'held_out' ELSE 'open' END, CASE WHEN held THEN as_of END,
           CASE WHEN category = 'service' THEN 'queued' END, CASE WHEN category = 'service' THEN as_of::date END
      FROM drawn d
     ORDER BY d.customer_id, d.kind
    ON CONFLICT DO NOTHING
    RETURNING alert_id, alert.kind, alert.colour, alert.customer_id, alert.agent_id, alert.status),
  touched AS (
    UPDATE cartera.customer_state s SET last_alert_at = as_of
      FROM inserted i WHERE s.customer_id = i.customer_id AND i.status <> 'held_out'
    RETURNING 1),
  announced AS (
    SELECT i.kind, CASE WHEN i.status <> 'held_out' THEN
                     pg_notify('cartera_alert',
                               json_build_object('id', i.alert_id, 'kind', i.kind, 'colour', i.colour,
                                                 'customer', i.customer_id, 'agent', i.agent_id)::text) END AS n
      FROM inserted i)
  SELECT a.kind, count(*) FROM announced a GROUP BY a.kind;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.raise_alerts(bigint[], text[], date[], text[], bigint[], timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION cartera.raise_alerts(bigint[], text[], date[], text[], bigint[], timestamptz) IS
  'raise candidate alerts through the contact policy (consent, cap, cool-down, one open per kind), hold out each kind''s holdout_share of customers, NOTIFY cartera_alert for the others; returns counts per kind (held out included)';

-- Alerts on changes of state: a Champion who falls to At Risk.
CREATE FUNCTION cartera.raise_transition_alerts(changes cartera.state_transition[], as_of timestamptz)
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

-- Alerts a purchase statement calls for: first purchase, coming back after
-- dormancy, cross-sell rules on the products bought, and transitions.
CREATE FUNCTION cartera.raise_purchase_alerts(changes cartera.state_transition[], purchase_ids bigint[], as_of timestamptz)
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
  -- that an alert raised below by this same purchase stays open): moot when
  -- nobody had started on it, done when an agent had
  IF EXISTS (SELECT 1 FROM unnest(changes) t WHERE t.to_status IN ('new', 'active', 'reactivated')) THEN
    UPDATE cartera.alert a
       SET status = CASE WHEN a.status = 'acknowledged' THEN 'done' ELSE 'moot' END,
           closed_at = as_of, snoozed_until = NULL,
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

-- A complaint raises a red alert at once.
CREATE FUNCTION cartera.interaction_rows_added() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  PERFORM cartera.raise_alerts(array_agg(n.customer_id), array_agg('complaint'::text), array_agg(NULL::date),
                               array_agg(left(coalesce(n.note, n.need, ''), 200)), array_agg(NULL::bigint), clock_timestamp())
     FROM new_rows n WHERE n.is_complaint
    HAVING count(*) > 0;
  RETURN NULL;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.interaction_rows_added() FROM PUBLIC;
COMMENT ON FUNCTION cartera.interaction_rows_added() IS 'statement trigger of cartera.interaction: complaints raise red alerts';
CREATE TRIGGER interaction_complaint AFTER INSERT ON cartera.interaction
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cartera.interaction_rows_added();

-- Acting on alerts.  Each returns the alert's new status.  They run as
-- the caller: row-level security decides which alerts an agent may touch.
-- The row, locked, of an alert still to do; a clear error otherwise.
CREATE FUNCTION cartera.lock_open_alert(alert_id bigint) RETURNS cartera.alert
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  a cartera.alert;
BEGIN
  SELECT * INTO a FROM cartera.alert x WHERE x.alert_id = lock_open_alert.alert_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'alert % does not exist', alert_id USING ERRCODE = 'no_data_found';
  END IF;
  IF a.status IN ('done', 'dismissed', 'moot', 'held_out') THEN
    RAISE EXCEPTION 'alert % is already %', alert_id, a.status
      USING ERRCODE = 'invalid_parameter_value',
            HINT = CASE WHEN a.status = 'held_out' THEN 'A held-out alert measures what happens without a contact: it is never worked.'
                        ELSE 'Closed alerts stay closed; a new situation raises a new alert.' END;
  END IF;
  RETURN a;
END
$fn$;
COMMENT ON FUNCTION cartera.lock_open_alert(bigint) IS
  'lock and return an alert that is still to do (open, acknowledged, snoozed), as the caller sees it; P0002 when it does not exist or is not the caller''s, 22023 when closed';
REVOKE EXECUTE ON FUNCTION cartera.lock_open_alert(bigint) FROM PUBLIC;

CREATE FUNCTION cartera.alert_set_status(alert_id bigint, new_status text, until date DEFAULT NULL,
                                         resolution text DEFAULT NULL)
  RETURNS text
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  IF new_status IS NULL OR new_status NOT IN ('open', 'acknowledged', 'snoozed', 'done', 'dismissed') THEN
    RAISE EXCEPTION 'an alert cannot be set to status %', coalesce(new_status, 'NULL')
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use open, acknowledged (in progress), snoozed, done or dismissed.';
  END IF;
  PERFORM cartera.lock_open_alert(alert_id);
  IF new_status = 'snoozed' AND (until IS NULL OR until <= current_date) THEN
    RAISE EXCEPTION 'snooze needs a date after today, not %', coalesce(until::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- the row is written WHERE CURRENT OF a cursor: an UPDATE that reads the
  -- table (WHERE alert_id = ...) must leave a row its writer still sees, and
  -- the agent an alert was handed to no longer sees it once it is closed
  DECLARE
    target CURSOR FOR SELECT x.resolution FROM cartera.alert x WHERE x.alert_id = alert_set_status.alert_id FOR UPDATE;
    was text;
  BEGIN
    OPEN target;
    FETCH target INTO was;
    UPDATE cartera.alert
       SET status = new_status,
           snoozed_until = CASE WHEN new_status = 'snoozed' THEN until END,
           closed_at = CASE WHEN new_status IN ('done', 'dismissed') THEN clock_timestamp() END,
           resolution = coalesce(alert_set_status.resolution, was)
     WHERE CURRENT OF target;
    CLOSE target;
  END;
  RETURN new_status;
END
$fn$;
COMMENT ON FUNCTION cartera.alert_set_status(bigint, text, date, text) IS 'move an alert to a new status (used by the acknowledge/complete/snooze/dismiss functions)';
REVOKE EXECUTE ON FUNCTION cartera.alert_set_status(bigint, text, date, text) FROM PUBLIC;

-- Done, with what came of it (a fixed list, so that outcomes can be counted).
CREATE FUNCTION cartera.record_outcome(alert_id bigint, outcome text, note text DEFAULT NULL) RETURNS text
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
BEGIN
  PERFORM cartera.lock_open_alert(alert_id);
  IF outcome IS NULL OR outcome NOT IN ('reached', 'no_answer', 'won_back', 'declined', 'wrong_contact_data',
                                        'do_not_contact', 'other') THEN
    RAISE EXCEPTION 'unknown outcome %', coalesce(outcome, 'NULL')
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use reached, no_answer, won_back, declined, wrong_contact_data, do_not_contact or other.';
  END IF;
  -- WHERE CURRENT OF, as in alert_set_status: the alert may be one handed
  -- over to the caller, who no longer sees it once it is done
  DECLARE
    target CURSOR FOR SELECT x.resolution FROM cartera.alert x WHERE x.alert_id = record_outcome.alert_id FOR UPDATE;
    was text;
  BEGIN
    OPEN target;
    FETCH target INTO was;
    UPDATE cartera.alert
       SET status = 'done', outcome = record_outcome.outcome, snoozed_until = NULL, closed_at = clock_timestamp(),
           resolution = coalesce(record_outcome.note, was)
     WHERE CURRENT OF target;
    CLOSE target;
  END;
  RETURN 'done';
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.record_outcome(bigint, text, text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.record_outcome(bigint, text, text) IS
  'the alert was worked: done, with its outcome (reached, no_answer, won_back, declined, wrong_contact_data, do_not_contact, other) and a note';

-- Hand an alert over to another agent, who then sees it and its history
-- while it is still to do.  An agent reads only her own row of
-- cartera.agent, so only a manager's hand-over can be refused for an
-- inactive agent; an alert with an inactive agent waits in the backlog
-- (plan_day gives them no capacity) for a manager to move it.
CREATE FUNCTION cartera.handover_alert(alert_id bigint, to_agent bigint, note text DEFAULT NULL) RETURNS bigint
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  a cartera.alert := cartera.lock_open_alert(alert_id);
BEGIN
  IF to_agent IS NULL THEN
    RAISE EXCEPTION 'an agent to hand the alert over to is needed' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF a.agent_id IS NOT DISTINCT FROM to_agent THEN
    RAISE EXCEPTION 'alert % is already agent %''s', alert_id, to_agent USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF EXISTS (SELECT 1 FROM cartera.agent g WHERE g.agent_id = to_agent AND NOT g.active) THEN
    RAISE EXCEPTION 'agent % is not active', to_agent
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Hand the alert over to an active agent.';
  END IF;
  BEGIN
    UPDATE cartera.alert x
       SET agent_id = to_agent, resolution = coalesce(handover_alert.note, x.resolution)
     WHERE x.alert_id = handover_alert.alert_id;
  EXCEPTION WHEN foreign_key_violation THEN
    RAISE EXCEPTION 'agent % does not exist', to_agent USING ERRCODE = 'no_data_found';
  END;
  RETURN to_agent;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.handover_alert(bigint, bigint, text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.handover_alert(bigint, bigint, text) IS
  'give an alert still to do to another agent, with a note; the customer''s owner keeps seeing it';

CREATE FUNCTION cartera.acknowledge_alert(alert_id bigint) RETURNS text
  LANGUAGE sql SET search_path = pg_catalog, cartera, pg_temp
  BEGIN ATOMIC SELECT cartera.alert_set_status(alert_id, 'acknowledged'); END;
CREATE FUNCTION cartera.complete_alert(alert_id bigint, resolution text DEFAULT NULL) RETURNS text
  LANGUAGE sql SET search_path = pg_catalog, cartera, pg_temp
  BEGIN ATOMIC SELECT cartera.alert_set_status(alert_id, 'done', NULL, resolution); END;
CREATE FUNCTION cartera.snooze_alert(alert_id bigint, until date) RETURNS text
  LANGUAGE sql SET search_path = pg_catalog, cartera, pg_temp
  BEGIN ATOMIC SELECT cartera.alert_set_status(alert_id, 'snoozed', until); END;
CREATE FUNCTION cartera.dismiss_alert(alert_id bigint, reason text DEFAULT NULL) RETURNS text
  LANGUAGE sql SET search_path = pg_catalog, cartera, pg_temp
  BEGIN ATOMIC SELECT cartera.alert_set_status(alert_id, 'dismissed', NULL, reason); END;
REVOKE EXECUTE ON FUNCTION cartera.acknowledge_alert(bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION cartera.complete_alert(bigint, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION cartera.snooze_alert(bigint, date) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION cartera.dismiss_alert(bigint, text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.acknowledge_alert(bigint) IS 'the agent has seen the alert and will act';
COMMENT ON FUNCTION cartera.complete_alert(bigint, text) IS 'the alert was acted on (with what was done)';
COMMENT ON FUNCTION cartera.snooze_alert(bigint, date) IS 'hide the alert until a date; the daily job reopens it then';
COMMENT ON FUNCTION cartera.dismiss_alert(bigint, text) IS 'close the alert without acting (with why)';

-- Lead assignment: same region first, then the agent whose speciality is the
-- customer's segment, then the lowest open load (open alerts, then portfolio).
CREATE FUNCTION cartera.assign_owner(customer_id bigint, reassign boolean DEFAULT false) RETURNS bigint
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  chosen bigint;
  current_owner bigint;
BEGIN
  SELECT c.owner_agent_id INTO current_owner FROM cartera.customer c WHERE c.customer_id = assign_owner.customer_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'customer % does not exist', customer_id USING ERRCODE = 'no_data_found';
  END IF;
  IF current_owner IS NOT NULL AND NOT reassign THEN
    RETURN current_owner;
  END IF;
  SELECT a.agent_id INTO chosen
    FROM cartera.agent a
    CROSS JOIN (SELECT c.region, cartera.segment_label(s.segment, 'en') AS segment_name
                  FROM cartera.customer c LEFT JOIN cartera.customer_state s USING (customer_id)
                 WHERE c.customer_id = assign_owner.customer_id) me
    LEFT JOIN LATERAL (SELECT count(*) AS n FROM cartera.alert x
                        WHERE x.agent_id = a.agent_id AND x.status IN ('open', 'acknowledged', 'snoozed')) load ON true
    LEFT JOIN LATERAL (SELECT count(*) AS n FROM cartera.customer x WHERE x.owner_agent_id = a.agent_id) portfolio ON true
   WHERE a.active AND (NOT reassign OR a.agent_id IS DISTINCT FROM current_owner)
   ORDER BY (a.region IS NOT DISTINCT FROM me.region AND a.region IS NOT NULL) DESC,
            (a.speciality IS NOT DISTINCT FROM me.segment_name AND a.speciality IS NOT NULL) DESC,
            load.n, portfolio.n, a.agent_id
   LIMIT 1;
  IF chosen IS NULL THEN
    RAISE EXCEPTION 'no active agent to assign customer % to', customer_id
      USING ERRCODE = 'no_data_found', HINT = 'Add an agent: INSERT INTO cartera.agent (name, login) VALUES (...).';
  END IF;
  UPDATE cartera.customer c SET owner_agent_id = chosen WHERE c.customer_id = assign_owner.customer_id;
  UPDATE cartera.alert x SET agent_id = chosen
   WHERE x.customer_id = assign_owner.customer_id AND x.status IN ('open', 'acknowledged', 'snoozed');
  RETURN chosen;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.assign_owner(bigint, boolean) FROM PUBLIC;
COMMENT ON FUNCTION cartera.assign_owner(bigint, boolean) IS
  'give a customer the best-suited agent (same region, segment speciality, lowest open load); with reassign, move them to another agent';

-- New customers without an owner get one when there are agents.
CREATE FUNCTION cartera.customer_owner_missing() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  c bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM cartera.agent WHERE active) THEN
    RETURN NULL;
  END IF;
  -- one call per new lead: load changes with every assignment
  FOR c IN SELECT n.customer_id FROM new_rows n WHERE n.owner_agent_id IS NULL ORDER BY n.customer_id LOOP
    PERFORM cartera.assign_owner(c);
  END LOOP;
  RETURN NULL;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.customer_owner_missing() FROM PUBLIC;
COMMENT ON FUNCTION cartera.customer_owner_missing() IS 'statement trigger of cartera.customer: new customers without an owner are assigned one';
CREATE TRIGGER customer_assign_owner AFTER INSERT ON cartera.customer
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cartera.customer_owner_missing();

-- The daily job.  One pass over the customers (no per-customer queries):
-- statuses move with time, snoozed alerts wake up, then every rule proposes
-- candidates and raise_alerts applies the contact policy.  Running it twice
-- for the same day raises nothing new (cool-downs and one open alert per kind).
-- as_of is the day the job runs for (a date of the session's TimeZone): the
-- statuses move to the end of that day (never later than now) and the alerts
-- are dated then.  It must be finite, at most one day after current_date (a
-- scheduler whose local date is already tomorrow), and not before the day of
-- the latest stored state when it is a past day (the portfolio's clock only
-- moves forward: a day in the past is allowed only when the states are as of
-- that day or earlier, as after refresh('1998-06-30'), which replays the job
-- of that day; today is always allowed).
-- The daily job, in two halves that a coordinator can run on every shard
-- with the portfolio-wide figures in between (cartera.shard_followups(),
-- sql/cartera_shards.sql); run_followups() runs them here, then plan_day().
--
-- First half: the checks, the deferred queue applied, statuses moved to the
-- end of the day and logged, snoozed alerts whose date has come reopened.
-- Returns the end of the day it used, the status changes, the CLV of every
-- buying customer (for the portfolio's high-value cut) and, per agent with a
-- revenue goal this month, their customers' revenue so far (JSON object by
-- agent id).
CREATE FUNCTION cartera.followups_begin(as_of date)
  RETURNS TABLE (as_ts timestamptz, changes cartera.state_transition[], clv double precision[], revenue jsonb)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  settings boolean := cartera.use_portfolio_settings();   -- first: the others read them
  latest timestamptz;
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
  -- purchases still queued by deferred sources first: the job must not see a
  -- customer who bought yesterday as dormant (sql/cartera_deferred.sql)
  PERFORM count(*) FROM cartera.catch_up();
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

  -- 2. snoozed alerts whose date has come are open again; one an agent is
  -- changing right now is skipped, as in plan_day (the job never waits for
  -- an agent, who could be waiting for a row the job already holds: a
  -- deadlock, test/specs/followup_concurrency.spec); the next run reopens it
  UPDATE cartera.alert a SET status = 'open', snoozed_until = NULL
   WHERE a.alert_id IN (SELECT x.alert_id FROM cartera.alert x
                         WHERE x.status = 'snoozed' AND x.snoozed_until <= as_of
                           FOR UPDATE SKIP LOCKED)
     AND a.status = 'snoozed';

  clv := ARRAY(SELECT s.clv::float8 FROM cartera.customer_state s
                 WHERE (s.summary).purchases > 0 AND s.clv IS NOT NULL);
  revenue := (SELECT jsonb_object_agg(t.agent_id::text, coalesce(m.revenue, 0))
                FROM cartera.agent_target t
                LEFT JOIN LATERAL (SELECT sum(p.amount) AS revenue
                                     FROM cartera.purchase p JOIN cartera.customer c USING (customer_id)
                                    WHERE c.owner_agent_id = t.agent_id
                                      AND p.purchased_at >= date_trunc('month', as_of) AND p.purchased_at < as_ts) m ON true
               WHERE t.month = date_trunc('month', as_of)::date AND t.revenue_target > 0);
  RETURN NEXT;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.followups_begin(date) FROM PUBLIC;
COMMENT ON FUNCTION cartera.followups_begin(date) IS
  'first half of the daily job for day as_of (run_followups(), or a shard''s for shard_followups()): checks, applies the deferred queue, moves statuses to the end of the day (logged) and reopens snoozed alerts; returns the end of the day used, the status changes, the CLV of every buying customer and the month''s revenue per agent with a revenue goal';

-- Second half: every rule proposes candidates and the contact policy
-- decides, with the portfolio-wide figures given: high_value, the CLV from
-- which an at-risk customer is "can''t lose" (the 80th percentile of the
-- portfolio''s buying customers), and revenue, the month''s revenue per agent
-- (below-target alerts only when agent_alerts: on one server, or on the
-- shard that keeps the agents'' own alerts).  Returns alerts raised per kind.
CREATE FUNCTION cartera.followups_raise(as_of date, as_ts timestamptz, changes cartera.state_transition[],
                                        high_value double precision, revenue jsonb, agent_alerts boolean)
  RETURNS TABLE (kind text, raised bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  settings boolean := cartera.use_portfolio_settings();   -- first: the others read them
  idle interval := current_setting('cartera.lead_idle_after')::interval;
  horizon interval := current_setting('cartera.occasion_horizon')::interval;
  cut numeric := high_value;   -- compared as run_followups() always did: numeric
BEGIN
  IF as_of IS NULL OR as_ts IS NULL OR agent_alerts IS NULL THEN
    RAISE EXCEPTION 'as_of, as_ts and agent_alerts must not be null'
      USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass what cartera.followups_begin() returned.';
  END IF;
  -- 3. every rule proposes candidates; the policy decides
  RETURN QUERY
  WITH candidate AS (
    -- high-value customers at risk
    SELECT s.customer_id, 'cant_lose'::text AS kind, NULL::date AS due_on,
           format('CLV %s', s.clv) AS detail, NULL::bigint AS agent_id
      FROM cartera.customer_state s WHERE s.status = 'at_risk' AND s.clv >= cut
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
      CROSS JOIN LATERAL (SELECT (revenue ->> t.agent_id::text)::numeric AS revenue) m
     WHERE agent_alerts AND t.month = date_trunc('month', as_of)::date AND t.revenue_target > 0
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
REVOKE EXECUTE ON FUNCTION cartera.followups_raise(date, timestamptz, cartera.state_transition[], double precision, jsonb, boolean) FROM PUBLIC;
COMMENT ON FUNCTION cartera.followups_raise(date, timestamptz, cartera.state_transition[], double precision, jsonb, boolean) IS
  'second half of the daily job: raises the alerts of every rule through the contact policy and the holdout draw with the given portfolio-wide figures (high_value: the can''t-lose CLV cut; revenue: the month''s revenue per agent, below-target alerts only when agent_alerts) and the transition alerts of changes; returns alerts raised per kind';

CREATE FUNCTION cartera.run_followups(as_of date DEFAULT current_date)
  RETURNS TABLE (kind text, raised bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
  settings boolean := cartera.use_portfolio_settings();   -- first: the others read them
  day record;
  high_value double precision;
BEGIN
  -- 1-2. checks, the queue, statuses and snoozed alerts
  SELECT * INTO day FROM cartera.followups_begin(as_of);
  -- the portfolio-wide figures (on shards, the coordinator computes them over all)
  SELECT percentile_cont(0.8) WITHIN GROUP (ORDER BY v) INTO high_value FROM unnest(day.clv) v;
  -- 3. every rule proposes candidates; the policy decides
  RETURN QUERY SELECT * FROM cartera.followups_raise(as_of, day.as_ts, day.changes, high_value, day.revenue, true);
  -- 4. the day's plan: moot alerts closed, overdue ones escalated, every
  -- agent's queue filled up to capacity (cartera.plan_day)
  PERFORM count(*) FROM cartera.plan_day(as_of);
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.run_followups(date) FROM PUBLIC;
COMMENT ON FUNCTION cartera.run_followups(date) IS
  'the daily follow-up job for day as_of (default current_date; not null, finite, at most tomorrow; a past day not before the day of the latest stored state): moves statuses to the end of that day (never past now), raises the alerts of every rule through the contact policy and the holdout draw, then plans the day (cartera.plan_day); returns alerts raised per kind';

-- Register the daily job with pg_cron.
CREATE FUNCTION cartera.schedule(cron text DEFAULT '0 7 * * *') RETURNS bigint
  LANGUAGE plpgsql
  SET search_path = pg_catalog, cartera, pg_temp
AS $fn$
DECLARE
  job bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
    RAISE EXCEPTION 'pg_cron is not installed in this database'
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = 'cartera.schedule() registers cartera.run_followups() as a pg_cron job.',
            HINT = 'Install pg_cron (shared_preload_libraries = ''pg_cron'', then CREATE EXTENSION pg_cron), or call cartera.run_followups() daily from another scheduler.';
  END IF;
  EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job
    USING 'cartera-followups', cron, 'SELECT * FROM cartera.run_followups()';
  -- the deferred queue, where no background worker applies it (every
  -- minute: pg_cron's finest schedule before 1.5; a no-op on an empty queue)
  EXECUTE 'SELECT cron.schedule($1, $2, $3)'
    USING 'cartera-catch-up', '* * * * *', 'SELECT * FROM cartera.catch_up()';
  RETURN job;
END
$fn$;
REVOKE EXECUTE ON FUNCTION cartera.schedule(text) FROM PUBLIC;
COMMENT ON FUNCTION cartera.schedule(text) IS 'register cartera.run_followups() as the pg_cron job "cartera-followups" (daily at 07:00 by default) and cartera.catch_up() as "cartera-catch-up" (every minute: the deferred queue where no worker runs)';

-- user data survives pg_dump
SELECT pg_catalog.pg_extension_config_dump('cartera.segment_map', '');
SELECT pg_catalog.pg_extension_config_dump('cartera.interaction', '');
SELECT pg_catalog.pg_extension_config_dump('cartera.occasion', '');
SELECT pg_catalog.pg_extension_config_dump('cartera.cross_sell_rule', '');
SELECT pg_catalog.pg_extension_config_dump('cartera.agent_target', '');
SELECT pg_catalog.pg_extension_config_dump('cartera.alert', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('cartera.interaction', 'interaction_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('cartera.occasion', 'occasion_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('cartera.cross_sell_rule', 'rule_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('cartera.alert', 'alert_id'), '');
COMMENT ON SEQUENCE cartera.interaction_interaction_id_seq IS 'identity of cartera.interaction';
COMMENT ON SEQUENCE cartera.occasion_occasion_id_seq IS 'identity of cartera.occasion';
COMMENT ON SEQUENCE cartera.cross_sell_rule_rule_id_seq IS 'identity of cartera.cross_sell_rule';
COMMENT ON SEQUENCE cartera.alert_alert_id_seq IS 'identity of cartera.alert';

-- Why a customer has their status, segment and alerts, in words.
CREATE FUNCTION cartera.explain(customer_id bigint) RETURNS SETOF text
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
