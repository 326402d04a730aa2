-- ALTER EXTENSION cartera UPDATE from the first release gives the same objects
-- as a fresh install (a finer catalog comparison is in sql/setup.sql).
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(8);
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
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'cartera'), '0.3.0', 'and updates to 0.3.0');
CREATE TEMP TABLE updated AS SELECT * FROM pg_temp.objects();
DROP EXTENSION cartera;
CREATE EXTENSION cartera VERSION '0.2.0';
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'cartera'), '0.2.0', 'the second release installs');
ALTER EXTENSION cartera UPDATE;
CREATE TEMP TABLE updated2 AS SELECT * FROM pg_temp.objects();
DROP EXTENSION cartera;
CREATE EXTENSION cartera;
CREATE TEMP TABLE fresh AS SELECT * FROM pg_temp.objects();

SELECT ok((SELECT count(*) FROM updated) > (SELECT count(*) FROM v010), 'the update adds objects');
SELECT is_empty($$ SELECT item FROM fresh EXCEPT SELECT item FROM updated $$, 'nothing of a fresh install is missing after the update');
SELECT is_empty($$ SELECT item FROM updated EXCEPT SELECT item FROM fresh $$, 'the update leaves nothing a fresh install does not have');

SELECT is_empty($$ SELECT item FROM fresh EXCEPT SELECT item FROM updated2 $$, 'from 0.2.0: nothing of a fresh install is missing after the update');
SELECT is_empty($$ SELECT item FROM updated2 EXCEPT SELECT item FROM fresh $$, 'from 0.2.0: the update leaves nothing a fresh install does not have');
SELECT * FROM finish();
ROLLBACK;
