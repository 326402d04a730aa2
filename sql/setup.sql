-- Installs the extension for the tests that follow (pg_regress runs this first).
CREATE EXTENSION cartera;
SELECT extname, extversion FROM pg_extension WHERE extname = 'cartera';
-- everything lives in schema cartera; nothing lands in public
SELECT count(*) AS objects_in_public
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
