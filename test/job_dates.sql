-- The as_of of the two jobs (docs/scheduling.md "The as_of argument"):
-- cartera.refresh(as_of timestamptz) and cartera.run_followups(as_of date).
--  * NULL: refused (22004), nothing done;
--  * infinity: refused (22008);
--  * the future: refused (22023), except run_followups() for tomorrow (a
--    scheduler whose local date is already the next day);
--  * the past: allowed for rebuilding history (the CDNOW demo), but never
--    before the portfolio's clock: refresh() not before the last refresh,
--    run_followups() not before the day of the latest stored state.
-- Dates are relative to today, or fixed dates in 1997-1998 (the history).
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS cartera;
-- no holdout groups here: which customers they hold out depends on the month
-- (test/followup_uplift.sql tests them on fixed dates)
UPDATE cartera.alert_kind SET holdout_share = 0;
SET search_path = public, cartera;
SET TimeZone = 'UTC';
SET client_min_messages = error;   -- refresh() warns about the fits of a tiny portfolio
SELECT plan(32);

INSERT INTO cartera.agent (agent_id, name) VALUES (61, 'Ana');
INSERT INTO cartera.customer (customer_id, full_name, owner_agent_id, marketing_consent, country, birthday) VALUES
  (6001, 'recent', 61, true, 'ES', date '1970-01-05'), (6002, 'older', 61, true, 'ES', NULL),
  (6003, 'oldest', 61, true, 'ES', NULL);
INSERT INTO cartera.purchase (customer_id, purchased_at, amount) VALUES
  (6001, now() - interval '3 days', 10), (6001, now() - interval '40 days', 12),
  (6002, now() - interval '100 days', 20), (6003, now() - interval '300 days', 30);

CREATE TEMP TABLE before_state AS SELECT * FROM cartera.customer_state;
CREATE FUNCTION pg_temp.unchanged() RETURNS boolean LANGUAGE sql AS $$
  SELECT NOT EXISTS (SELECT customer_id, (summary).as_of, status FROM cartera.customer_state
                     EXCEPT SELECT customer_id, (summary).as_of, status FROM before_state)
     AND NOT EXISTS (SELECT 1 FROM cartera.portfolio_model)
     AND NOT EXISTS (SELECT 1 FROM cartera.alert)
$$;
CREATE TEMP TABLE transitions_before AS SELECT count(*) AS n FROM cartera.status_transition;

------------------------------------------------------------------------------
-- refresh(as_of, time_unit)
------------------------------------------------------------------------------
SELECT throws_ok($$SELECT * FROM cartera.refresh(NULL)$$, '22004', 'as_of must not be null',
                 'refresh(NULL) is refused');
SELECT throws_ok($$SELECT * FROM cartera.refresh(now(), NULL)$$, '22004', 'time unit must not be null',
                 'refresh(now(), NULL) is refused');
SELECT throws_ok($$SELECT * FROM cartera.refresh('infinity')$$, '22008', 'as_of must be a finite timestamp',
                 'refresh(''infinity'') is refused');
SELECT throws_ok($$SELECT * FROM cartera.refresh('-infinity')$$, '22008', 'as_of must be a finite timestamp',
                 'refresh(''-infinity'') is refused');
SELECT throws_like($$SELECT * FROM cartera.refresh(now() + interval '10 years')$$, 'as_of % is in the future',
                   'refresh() ten years ahead is refused (it marked every customer lost, dated then)');
SELECT throws_ok($$SELECT * FROM cartera.refresh(clock_timestamp() + interval '1 minute')$$, '22023', NULL,
                 'refresh() a minute ahead is refused too (22023)');
SELECT ok(pg_temp.unchanged(), 'the refused refresh() calls changed no state, stored no model, raised no alert');
SELECT is((SELECT count(*) FROM cartera.status_transition), (SELECT n FROM transitions_before),
          'and logged no transition');

SELECT lives_ok($$SELECT * FROM cartera.refresh()$$, 'refresh() as of now works');
SELECT lives_ok($$SELECT * FROM cartera.refresh(now())$$, 'refresh(now()) again works (the same as_of)');
SELECT throws_like($$SELECT * FROM cartera.refresh(now() - interval '30 days')$$,
                   'as_of % is before the last refresh (as of %)',
                   'refresh() before the last refresh is refused: it would log status changes dated before those logged');
SELECT throws_ok($$SELECT * FROM cartera.refresh(now() - interval '30 days')$$, '22023', NULL, '(22023)');
SELECT is((SELECT as_of FROM cartera.portfolio_model), now(), 'the model stays as of the last refresh');

------------------------------------------------------------------------------
-- run_followups(as_of)
------------------------------------------------------------------------------
DELETE FROM cartera.alert;
SELECT throws_ok($$SELECT * FROM cartera.run_followups(NULL)$$, '22004', 'as_of must not be null',
                 'run_followups(NULL) is refused (it did part of the run)');
SELECT throws_ok($$SELECT * FROM cartera.run_followups('infinity')$$, '22008', 'as_of must be a finite date',
                 'run_followups(''infinity'') is refused with a clear message');
SELECT throws_ok($$SELECT * FROM cartera.run_followups('-infinity')$$, '22008', 'as_of must be a finite date',
                 'run_followups(''-infinity'') is refused');
SELECT throws_like($$SELECT * FROM cartera.run_followups(current_date + 2)$$, 'as_of % is in the future',
                   'run_followups() the day after tomorrow is refused');
SELECT throws_like($$SELECT * FROM cartera.run_followups('1990-01-01')$$,
                   'as_of 1990-01-01 is before the portfolio''s latest state (as of %)',
                   'run_followups(''1990-01-01'') is refused: it raised alerts dated 1990');
SELECT throws_ok($$SELECT * FROM cartera.run_followups(current_date - 1)$$, '22023', NULL,
                 'run_followups() for yesterday is refused once today''s states are stored');
SELECT is((SELECT count(*) FROM cartera.alert), 0::bigint, 'the refused runs raised no alert');
SELECT lives_ok($$SELECT * FROM cartera.run_followups()$$, 'run_followups() for today works');
SELECT lives_ok($$SELECT * FROM cartera.run_followups(current_date + 1)$$,
                'run_followups() for tomorrow works (a scheduler whose local date is already the next day)');
SELECT ok((SELECT max(raised_at) <= clock_timestamp() FROM cartera.alert), 'and dates nothing after the present');

------------------------------------------------------------------------------
-- History: the portfolio rebuilt as of past days, moving forward (CDNOW demo)
------------------------------------------------------------------------------
DELETE FROM cartera.portfolio_model;
DELETE FROM cartera.alert;
INSERT INTO cartera.customer (customer_id, full_name, owner_agent_id, marketing_consent, country) VALUES
  (6101, 'cd buyer', 61, true, 'ES'), (6102, 'cd buyer 2', 61, true, 'ES');
INSERT INTO cartera.purchase (customer_id, purchased_at, amount) VALUES
  (6101, '1997-01-03', 10), (6101, '1997-05-03', 15), (6102, '1997-02-01', 30), (6102, '1998-06-20', 8);
SELECT lives_ok($$SELECT * FROM cartera.refresh('1998-06-30')$$,
                'refresh(''1998-06-30'') rebuilds the portfolio as of a past day (no earlier refresh)');
SELECT is((SELECT min((summary).as_of) = max((summary).as_of) AND max((summary).as_of) = timestamptz '1998-06-30'
             FROM cartera.customer_state), true, 'every state is as of that day');
SELECT throws_like($$SELECT * FROM cartera.run_followups('1998-06-29')$$, 'as_of 1998-06-29 is before%',
                   'run_followups() the day before the states is refused');
SELECT ok((SELECT sum(raised) FROM cartera.run_followups('1998-07-01')) > 0,
          'run_followups(''1998-07-01'') replays the job of that day and raises its alerts');
SELECT is((SELECT max(raised_at) FROM cartera.alert), timestamptz '1998-07-02',
          'dated the end of that day');
SELECT is((SELECT status FROM cartera.customer_state WHERE customer_id = 6101), 'lost'::cartera.lifecycle_status,
          'statuses moved to that day');
SELECT lives_ok($$SELECT * FROM cartera.refresh('1998-09-30')$$, 'a later refresh moves forward');
SELECT throws_ok($$SELECT * FROM cartera.refresh('1998-06-30')$$, '22023',
                 'as_of 1998-06-30 00:00:00+00 is before the last refresh (as of 1998-09-30 00:00:00+00)',
                 'an earlier one is refused, naming both dates');
SELECT is((SELECT count(*) FROM cartera.status_transition WHERE changed_at > clock_timestamp()), 0::bigint,
          'no transition was ever logged in the future');

SELECT * FROM finish();
ROLLBACK;
