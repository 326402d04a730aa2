-- Installs the extension for the tests that follow (pg_regress runs this first),
-- after checking install, upgrade and removal.

-- The extension owns its schema: a schema of that name already in the way is
-- reported before anything is created ...
CREATE SCHEMA cartera;
CREATE EXTENSION cartera;
DROP SCHEMA cartera;

-- ... and DROP EXTENSION leaves nothing behind, the schema included.
CREATE EXTENSION cartera;
DROP EXTENSION cartera;
SELECT count(*) AS leftover_schemas FROM pg_namespace WHERE nspname = 'cartera';

-- Upgrade path: 0.1.0 updated to the current version has exactly the objects,
-- definitions, comments and dump registrations of a fresh install.
CREATE TEMP TABLE catalog_snapshot (install text, item text);
SET check_function_bodies = off;   -- the schema does not exist yet
CREATE FUNCTION pg_temp.snapshot(install text) RETURNS void LANGUAGE sql AS $$
  INSERT INTO catalog_snapshot
  SELECT install, item FROM (
    SELECT 'member ' || pg_describe_object(classid, objid, objsubid)
      FROM pg_depend WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'cartera') AND deptype = 'e'
    UNION ALL
    SELECT 'function ' || p.oid::regprocedure || ' ' || md5(pg_get_functiondef(p.oid))
      FROM pg_proc p WHERE p.pronamespace = 'cartera'::regnamespace AND p.prokind <> 'a'
    UNION ALL
    SELECT 'aggregate ' || a.aggfnoid::regprocedure || ' ' || a.aggtransfn::regprocedure || ' '
           || a.aggfinalfn || ' ' || a.aggcombinefn || ' ' || a.aggserialfn || ' ' || a.aggdeserialfn
           || ' ' || a.aggtransspace
      FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid WHERE p.pronamespace = 'cartera'::regnamespace
    UNION ALL
    SELECT 'column ' || a.attrelid::regclass || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
           || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END || ' ' || a.attidentity::text
           || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE c.relnamespace = 'cartera'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
      FROM pg_constraint WHERE connamespace = 'cartera'::regnamespace
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(indexrelid)
      FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = 'cartera'::regnamespace
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(t.oid)
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE c.relnamespace = 'cartera'::regnamespace AND NOT t.tgisinternal
    UNION ALL
    SELECT 'comment ' || pg_describe_object(d.classoid, d.objoid, d.objsubid) || ' ' || coalesce(d.description, '')
      FROM pg_description d JOIN pg_depend e ON e.classid = d.classoid AND e.objid = d.objoid
     WHERE e.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'cartera') AND e.deptype = 'e'
    UNION ALL
    SELECT 'dump ' || unnest(extconfig)::regclass || ' ' || unnest(extcondition)
      FROM pg_extension WHERE extname = 'cartera'
    UNION ALL
    SELECT 'privilege ' || p.oid::regprocedure || ' ' || coalesce(p.proacl::text, 'default')
      FROM pg_proc p WHERE p.pronamespace = 'cartera'::regnamespace
    UNION ALL
    SELECT 'row security ' || c.oid::regclass || ' ' || c.relrowsecurity || ' ' || c.relforcerowsecurity
      FROM pg_class c WHERE c.relnamespace = 'cartera'::regnamespace AND c.relkind = 'r'
    UNION ALL
    SELECT 'policy ' || pol.polname || ' on ' || pol.polrelid::regclass || ' ' || pol.polcmd::text || ' '
           || coalesce(pg_get_expr(pol.polqual, pol.polrelid), '') || ' / '
           || coalesce(pg_get_expr(pol.polwithcheck, pol.polrelid), '') || ' ' || coalesce(obj_description(pol.oid, 'pg_policy'), '')
      FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid WHERE c.relnamespace = 'cartera'::regnamespace
  ) s(item)
$$;
RESET check_function_bodies;
CREATE EXTENSION cartera VERSION '0.1.0';
ALTER EXTENSION cartera UPDATE;
SELECT extversion AS updated_to FROM pg_extension WHERE extname = 'cartera';
SELECT pg_temp.snapshot('from 0.1.0');
DROP EXTENSION cartera;
CREATE EXTENSION cartera VERSION '0.2.0';
ALTER EXTENSION cartera UPDATE;
SELECT pg_temp.snapshot('from 0.2.0');
DROP EXTENSION cartera;
CREATE EXTENSION cartera VERSION '0.3.0';
ALTER EXTENSION cartera UPDATE;
SELECT pg_temp.snapshot('from 0.3.0');
DROP EXTENSION cartera;
CREATE EXTENSION cartera;
SELECT pg_temp.snapshot('fresh');
-- (as many catalog items in each; the number itself differs between majors)
SELECT count(*) AS installs, min(items) = max(items) AS same_size, min(items) > 1000 AS substantial
  FROM (SELECT install, count(*) AS items FROM catalog_snapshot GROUP BY install) c;
-- differences either way (expected: none)
SELECT u.install AS updated, 'only in fresh' AS where_, f.item
  FROM (VALUES ('from 0.1.0'), ('from 0.2.0'), ('from 0.3.0')) u(install),
       LATERAL (SELECT item FROM catalog_snapshot WHERE install = 'fresh'
                EXCEPT SELECT item FROM catalog_snapshot c WHERE c.install = u.install) f
UNION ALL
SELECT u.install, 'only in updated', d.item
  FROM (VALUES ('from 0.1.0'), ('from 0.2.0'), ('from 0.3.0')) u(install),
       LATERAL (SELECT item FROM catalog_snapshot c WHERE c.install = u.install
                EXCEPT SELECT item FROM catalog_snapshot WHERE install = 'fresh') d
ORDER BY 1, 2, 3;

SELECT extname, extversion, extrelocatable FROM pg_extension WHERE extname = 'cartera';
-- everything lives in schema cartera; nothing lands in public
SELECT count(*) AS functions_outside_schema
  FROM pg_depend d JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'cartera')
   AND p.pronamespace <> 'cartera'::regnamespace;
-- every object of the extension carries a COMMENT
SELECT classid::regclass AS catalog, pg_describe_object(classid, objid, 0) AS object_without_comment
  FROM pg_depend
 WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'cartera')
   AND deptype = 'e'
   AND obj_description(objid, classid::regclass::text) IS NULL
 ORDER BY 2;
-- functions that only read are PARALLEL SAFE (aggregates included); the ones
-- that change data are not, and PUBLIC cannot execute them
SELECT p.oid::regprocedure AS changes_data, p.proparallel, p.prosecdef AS security_definer,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_can_execute,
       array_to_string(p.proconfig, ', ') AS settings
  FROM pg_proc p WHERE p.pronamespace = 'cartera'::regnamespace AND p.proparallel <> 's'
 ORDER BY p.oid::regprocedure::text;
-- every SECURITY DEFINER function pins search_path
SELECT p.oid::regprocedure AS definer_without_search_path
  FROM pg_proc p WHERE p.pronamespace = 'cartera'::regnamespace AND p.prosecdef
   AND NOT coalesce(p.proconfig::text[], '{}') && ARRAY['search_path=pg_catalog, cartera, pg_temp'];
-- row-level security (docs/security.md): the tables it protects, their
-- policies (every one commented), and no FORCE (the maintenance functions run
-- as the owner and must see every portfolio)
SELECT c.oid::regclass AS protected_table, c.relforcerowsecurity AS forced,
       string_agg(pol.polname || ' (' || pol.polcmd::text || CASE WHEN obj_description(pol.oid, 'pg_policy') IS NULL
                                                           THEN ', no comment' ELSE '' END || ')', ', ' ORDER BY pol.polname) AS policies
  FROM pg_class c LEFT JOIN pg_policy pol ON pol.polrelid = c.oid
 WHERE c.relnamespace = 'cartera'::regnamespace AND c.relrowsecurity
 GROUP BY c.oid ORDER BY c.oid::regclass::text;

-- The tests that follow share this database and date their purchases
-- relative to today: without holdout groups, whose draw depends on the
-- month (test/followup_uplift.sql tests them on fixed dates).
UPDATE cartera.alert_kind SET holdout_share = 0 WHERE holdout_share > 0;
