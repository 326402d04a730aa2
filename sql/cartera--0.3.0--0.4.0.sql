-- cartera 0.3.0 -> 0.4.0, written by hand: what changed since the 0.3.0
-- release (sql/cartera--0.3.0.sql is frozen).  Every statement here has its
-- twin in sql/cartera.sql or the portfolio scripts; test/upgrade.sql and
-- sql/setup.sql check that an updated database equals a fresh install.
\echo Use "ALTER EXTENSION cartera UPDATE TO '0.4.0'" to load this file. \quit

