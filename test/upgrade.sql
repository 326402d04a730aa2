-- ALTER EXTENSION cartera UPDATE from the first release gives the same objects
-- as a fresh install (a finer catalog comparison is in sql/setup.sql).
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(15);

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
ALTER EXTENSION cartera UPDATE;
CREATE TEMP TABLE updated3 AS SELECT * FROM pg_temp.objects();
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
