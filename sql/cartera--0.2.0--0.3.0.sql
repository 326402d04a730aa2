-- cartera 0.2.0 -> 0.3.0, written by hand: every object changed since 0.2.0,
-- in the order of the install script.  sql/setup.sql and test/upgrade.sql
-- check that updating from each release gives exactly a fresh install.
\echo Use "ALTER EXTENSION cartera UPDATE TO '0.3.0'" to load this file. \quit

-- rfm(), lifecycle() and clv() state size for the planner (SSPACE = 288 in
-- the install script): CREATE AGGREGATE has no ALTER for it.
UPDATE pg_catalog.pg_aggregate SET aggtransspace = 288
 WHERE aggfnoid IN (SELECT p.oid FROM pg_catalog.pg_proc p
                     WHERE p.pronamespace = 'cartera'::regnamespace AND p.prokind = 'a'
                       AND p.proname IN ('rfm', 'lifecycle', 'clv'));
