-- Installs the extension for the tests that follow (pg_regress runs this first).

-- The extension owns its schema: a schema of that name already in the way is
-- reported before anything is created ...
CREATE SCHEMA cartera;
CREATE EXTENSION cartera;
DROP SCHEMA cartera;

-- ... and DROP EXTENSION leaves nothing behind, the schema included.
CREATE EXTENSION cartera;
DROP EXTENSION cartera;
SELECT count(*) AS leftover_schemas FROM pg_namespace WHERE nspname = 'cartera';

CREATE EXTENSION cartera;
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
-- every function is PARALLEL SAFE (aggregates included)
SELECT p.oid::regprocedure AS not_parallel_safe
  FROM pg_proc p WHERE p.pronamespace = 'cartera'::regnamespace AND p.proparallel <> 's';
