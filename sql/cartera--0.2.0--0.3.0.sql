-- cartera 0.2.0 -> 0.3.0, written by hand: every object changed since 0.2.0,
-- in the order of the install script.  sql/setup.sql and test/upgrade.sql
-- check that updating from each release gives exactly a fresh install.
\echo Use "ALTER EXTENSION cartera UPDATE TO '0.3.0'" to load this file. \quit
