-- Amounts cartera cannot handle are refused when the purchase is recorded,
-- from any purchase source (docs/data-model.md "Amounts"): |amount| < 1e15.
-- Before 0.4.0, 9.99e131071 passed cartera.purchase's checks and failed later
-- with "monetary_total ... out of range for type double precision".
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS cartera;
-- no holdout groups here: which customers they hold out depends on the month
-- (test/followup_uplift.sql tests them on fixed dates)
UPDATE cartera.alert_kind SET holdout_share = 0;
SET search_path = public, cartera;
SET client_min_messages = error;   -- refresh() warns about the fits of a tiny portfolio
SELECT plan(25);

INSERT INTO cartera.customer (customer_id, full_name) VALUES (5001, 'big spender'), (5002, 'other'), (5003, 'tracked');

-- cartera.purchase: INSERT, UPDATE, COPY
SELECT throws_ok($$INSERT INTO cartera.purchase (customer_id, purchased_at, amount) VALUES (5001, now() - interval '1 day', 9.99e131071)$$,
                 '22003', 'purchase amount 9.99e+131071 is out of range',
                 'an amount of 9.99e131071 is refused with a message about the amount');
SELECT throws_ok($$INSERT INTO cartera.purchase (customer_id, purchased_at, amount) VALUES (5001, now() - interval '1 day', 1e15)$$,
                 '22003', 'purchase amount 1000000000000000 is out of range', '1e15 is the first amount refused');
SELECT throws_ok($$INSERT INTO cartera.purchase (customer_id, purchased_at, amount, kind) VALUES (5001, now() - interval '1 day', -1e15, 'refund')$$,
                 '22003', 'purchase amount -1000000000000000 is out of range', 'so is a refund of -1e15');
SELECT throws_ok($$INSERT INTO cartera.purchase (customer_id, purchased_at, amount) VALUES (5001, now() - interval '1 day', 1e300)$$,
                 '22003', 'purchase amount 1.00e+300 is out of range', '1e300 too (it passed before and broke the daily job)');
SELECT throws_ok($$INSERT INTO cartera.purchase (customer_id, purchased_at, amount)
                   VALUES (5002, now() - interval '2 days', 5), (5001, now() - interval '1 day', 2e15)$$,
                 '22003', 'purchase amount 2000000000000000 is out of range', 'one bad row refuses the whole statement');
SELECT is((SELECT count(*) FROM cartera.purchase), 0::bigint, 'nothing was recorded');
SELECT is((SELECT status FROM cartera.customer_state WHERE customer_id = 5001), 'lead'::cartera.lifecycle_status,
          'and the state is untouched');

-- legal amounts just under the bound sum exactly
SELECT lives_ok($$INSERT INTO cartera.purchase (customer_id, purchased_at, amount)
                  VALUES (5001, now() - interval '10 days', 999999999999999.99), (5001, now() - interval '5 days', 999999999999999.99),
                         (5001, now() - interval '4 days', 0.01)$$,
                'amounts just under 1e15 are recorded');
SELECT lives_ok($$INSERT INTO cartera.purchase (customer_id, purchased_at, amount, kind)
                  VALUES (5001, now() - interval '3 days', -999999999999999.99, 'refund')$$, 'so is a refund just over -1e15');
SELECT is((SELECT (summary).monetary_total FROM cartera.customer_state WHERE customer_id = 5001), 1000000000000000.00,
          'and summed exactly in the state');
SELECT is((SELECT (summary).monetary_total FROM cartera.customer_state WHERE customer_id = 5001),
          (SELECT (cartera.rfm(purchased_at, amount, now())).monetary_total FROM cartera.purchase WHERE customer_id = 5001),
          'equal to rfm() over the rows');
SELECT throws_ok($$UPDATE cartera.purchase SET amount = 9.99e131071 WHERE customer_id = 5001 AND amount = 0.01$$,
                 '22003', 'purchase amount 9.99e+131071 is out of range', 'an UPDATE to a huge amount is refused');
SELECT throws_ok($$UPDATE cartera.purchase SET amount = amount * 10 WHERE customer_id = 5001 AND amount > 1$$,
                 '22003', 'purchase amount 9999999999999999.90 is out of range', 'so is an UPDATE that grows an amount past the bound');
SELECT throws_ok($$COPY cartera.purchase (customer_id, purchased_at, amount) FROM PROGRAM 'printf "5002\t1998-01-01\t7e20\n"'$$,
                 '22003', 'purchase amount 700000000000000000000 is out of range', 'COPY of a huge amount is refused');
SELECT lives_ok($$COPY cartera.purchase (customer_id, purchased_at, amount) FROM PROGRAM 'printf "5002\t1998-01-01\t7e13\n"'$$,
                'COPY of a large legal amount works');
SELECT lives_ok($$SELECT * FROM cartera.refresh()$$, 'refresh() works with the largest legal amounts');
SELECT lives_ok($$SELECT * FROM cartera.run_followups()$$, 'and so does run_followups()');

-- a tracked table: same bound, same message, whatever the amount's type
CREATE TABLE pg_temp.orders (client bigint, ordered_at timestamptz, total numeric, total_f float8, total_i bigint);
CREATE INDEX ON pg_temp.orders (client);
DO $$ BEGIN PERFORM cartera.track_purchases('pg_temp.orders', 'client', 'ordered_at', 'total'); END $$;
SELECT throws_like($$INSERT INTO pg_temp.orders VALUES (5003, now() - interval '1 day', 9.99e131071)$$,
                   'purchase amount 9.99e+131071 is out of range',
                   'a tracked table refuses the same amount with the same message');
SELECT throws_ok($$INSERT INTO pg_temp.orders VALUES (5003, now() - interval '1 day', 1e15)$$, '22003', NULL,
                 'with SQLSTATE 22003');
SELECT lives_ok($$INSERT INTO pg_temp.orders VALUES (5003, now() - interval '1 day', 999999999999999.99)$$,
                'and records a legal one');
SELECT throws_like($$UPDATE pg_temp.orders SET total = 1e20 WHERE client = 5003$$,
                   'purchase amount 100000000000000000000 is out of range', 'an UPDATE of a tracked table is checked too');
DO $$ BEGIN PERFORM cartera.untrack_purchases('pg_temp.orders'); END $$;
DO $$ BEGIN PERFORM cartera.track_purchases('pg_temp.orders', 'client', 'ordered_at', 'total_f'); END $$;
SELECT throws_like($$INSERT INTO pg_temp.orders (client, ordered_at, total_f) VALUES (5003, now() - interval '1 day', 1e300)$$,
                   'purchase amount 1.00e+300 is out of range', 'a double precision amount column is checked');
DO $$ BEGIN PERFORM cartera.untrack_purchases('pg_temp.orders'); END $$;
DO $$ BEGIN PERFORM cartera.track_purchases('pg_temp.orders', 'client', 'ordered_at', 'total_i'); END $$;
SELECT throws_like($$INSERT INTO pg_temp.orders (client, ordered_at, total_i) VALUES (5003, now() - interval '1 day', 9000000000000000000)$$,
                   'purchase amount 9000000000000000000 is out of range', 'so is a bigint one');
SELECT lives_ok($$INSERT INTO pg_temp.orders (client, ordered_at, total_i) VALUES (5003, now() - interval '1 day', 999999999999999)$$,
                'a bigint just under the bound is recorded');
SELECT is((SELECT (summary).monetary_total FROM cartera.customer_state WHERE customer_id = 5003),
          (SELECT sum(total_i)::numeric FROM pg_temp.orders),
          'tracked amounts are summed exactly');

SELECT * FROM finish();
ROLLBACK;
