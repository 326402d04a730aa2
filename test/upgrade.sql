-- ALTER EXTENSION cartera UPDATE from the first release gives the same objects
-- as a fresh install (a finer catalog comparison is in sql/setup.sql).
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(19);

-- A purchase first, so that this session keeps the insert trigger's plans
-- (state_trigger.c); they must follow the extension through the drops,
-- re-creations and updates below.
CREATE EXTENSION IF NOT EXISTS cartera;
CREATE FUNCTION pg_temp.buy(id bigint) RETURNS void LANGUAGE sql AS $$
  INSERT INTO cartera.agent (agent_id, name) VALUES (id, 'Agent ' || id) ON CONFLICT DO NOTHING;
  INSERT INTO cartera.customer (customer_id, full_name, owner_agent_id) VALUES (id, 'Customer ' || id, id);
  INSERT INTO cartera.purchase (customer_id, purchased_at, amount) VALUES (id, now() - interval '1 hour', 12.5);
$$;
SELECT lives_ok($$ SELECT pg_temp.buy(77001) $$, 'a purchase before the drop');
DROP EXTENSION IF EXISTS cartera CASCADE;

CREATE FUNCTION pg_temp.objects() RETURNS TABLE (item text) LANGUAGE sql AS $$
  SELECT pg_describe_object(classid, objid, objsubid)
    FROM pg_depend WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'cartera') AND deptype = 'e'
  UNION ALL
  SELECT p.oid::regprocedure::text || md5(CASE WHEN p.prokind = 'a' THEN '' ELSE pg_get_functiondef(p.oid) END)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'cartera'
$$;

CREATE EXTENSION cartera VERSION '0.1.0';
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'cartera'), '0.1.0', 'the first release installs');
CREATE TEMP TABLE v010 AS SELECT * FROM pg_temp.objects();
ALTER EXTENSION cartera UPDATE;
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'cartera'), '0.4.0', 'and updates to 0.4.0');
CREATE TEMP TABLE updated AS SELECT * FROM pg_temp.objects();
SELECT lives_ok($$ SELECT pg_temp.buy(77002) $$, 'a purchase in the same session after DROP, CREATE 0.1.0 and UPDATE');
DROP EXTENSION cartera;
CREATE EXTENSION cartera VERSION '0.2.0';
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'cartera'), '0.2.0', 'the second release installs');
ALTER EXTENSION cartera UPDATE;
CREATE TEMP TABLE updated2 AS SELECT * FROM pg_temp.objects();
DROP EXTENSION cartera;
CREATE EXTENSION cartera VERSION '0.3.0';
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'cartera'), '0.3.0', 'the third release installs');
-- a 0.3.0 portfolio with alerts: one open, one done.  The library is
-- already the new one (a package upgrade comes before ALTER EXTENSION
-- UPDATE): purchases must keep working meanwhile (they failed on the
-- missing portfolio settings view)
SELECT lives_ok($$ SELECT pg_temp.buy(77010) $$,
                'with the new library and the 0.3.0 SQL (before ALTER EXTENSION UPDATE) a purchase still works');
UPDATE cartera.alert SET status = 'done', closed_at = now(), resolution = 'called' WHERE customer_id = 77010;
SELECT pg_temp.buy(77011);
ALTER EXTENSION cartera UPDATE;
CREATE TEMP TABLE updated3 AS SELECT * FROM pg_temp.objects();
SELECT results_eq($$ SELECT a.customer_id, a.status, string_agg(e.event || ':' || coalesce(e.note, ''), ', ' ORDER BY e.event_id)
                       FROM cartera.alert a JOIN cartera.alert_event e USING (alert_id)
                      WHERE a.customer_id IN (77010, 77011) GROUP BY a.customer_id, a.status ORDER BY 1 $$,
                  $$ VALUES (77010::bigint, 'done', 'raised:recorded by the upgrade to 0.4.0, done:called'),
                            (77011::bigint, 'open', 'raised:recorded by the upgrade to 0.4.0') $$,
                  'from 0.3.0: the alerts keep their status and their history starts with what 0.3.0 knew');
SELECT results_eq($$ SELECT category, min(holdout_share), max(holdout_share) FROM cartera.alert_kind GROUP BY 1 ORDER BY 1 $$,
                  $$ VALUES ('internal', 0::numeric, 0::numeric), ('marketing', 0.10, 0.10),
                            ('relationship', 0.10, 0.10), ('service', 0, 0) $$,
                  'from 0.3.0: contact kinds get the default 10 % holdout, complaints and agent tasks none');
SELECT results_eq($$ SELECT agent_id, queued, backlog FROM cartera.plan_day(current_date) WHERE agent_id IN (77010, 77011) $$,
                  $$ VALUES (77010::bigint, 0::bigint, 0::bigint), (77011::bigint, 1::bigint, 0::bigint) $$,
                  'from 0.3.0: the day''s plan queues the open alert');
DROP EXTENSION cartera;
CREATE EXTENSION cartera;
CREATE TEMP TABLE fresh AS SELECT * FROM pg_temp.objects();
SELECT lives_ok($$ SELECT pg_temp.buy(77003) $$, 'a purchase in the same session after DROP and CREATE');
SELECT results_eq($$ SELECT (s.summary).purchases, s.status::text, (SELECT string_agg(a.kind, ',') FROM cartera.alert a WHERE a.customer_id = 77003)
                       FROM cartera.customer_state s WHERE s.customer_id = 77003 $$,
                  $$ VALUES (1::bigint, 'new', 'welcome') $$,
                  'and its state and welcome alert are stored');

SELECT ok((SELECT count(*) FROM updated) > (SELECT count(*) FROM v010), 'the update adds objects');
SELECT is_empty($$ SELECT item FROM fresh EXCEPT SELECT item FROM updated $$, 'nothing of a fresh install is missing after the update');
SELECT is_empty($$ SELECT item FROM updated EXCEPT SELECT item FROM fresh $$, 'the update leaves nothing a fresh install does not have');

SELECT is_empty($$ SELECT item FROM fresh EXCEPT SELECT item FROM updated2 $$, 'from 0.2.0: nothing of a fresh install is missing after the update');
SELECT is_empty($$ SELECT item FROM updated2 EXCEPT SELECT item FROM fresh $$, 'from 0.2.0: the update leaves nothing a fresh install does not have');
SELECT is_empty($$ SELECT item FROM fresh EXCEPT SELECT item FROM updated3 $$, 'from 0.3.0: nothing of a fresh install is missing after the update');
SELECT is_empty($$ SELECT item FROM updated3 EXCEPT SELECT item FROM fresh $$, 'from 0.3.0: the update leaves nothing a fresh install does not have');
SELECT * FROM finish();
ROLLBACK;
