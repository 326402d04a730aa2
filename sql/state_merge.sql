-- customer_state.rfm_state: the stored aggregate state that the INSERT
-- trigger (src/state_trigger.c) merges new purchases into.
SET search_path = public, cartera;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
\set VERBOSITY terse

-- the state and its summary: rfm_state_summary(rfm_state(...)) = rfm(...)
SELECT rfm_state_summary(rfm_state(t, a, timestamptz '2026-01-31')) = rfm(t, a, timestamptz '2026-01-31') AS same,
       (rfm_state_summary(rfm_state(t, a, timestamptz '2026-01-31'))).purchases AS purchases
  FROM (VALUES ('2026-01-01 10:00+00'::timestamptz, 10.5), ('2026-01-01 18:00+00', 4), ('2026-01-05', -3),
               ('2026-01-09', 7.25), ('2026-02-09', 99), (NULL, 1), ('2026-01-10', NULL)) v(t, a);
-- not a state: refused, not misread
SELECT rfm_state_summary('\x00'::bytea);
SELECT rfm_state_summary('\x'::bytea);
SELECT rfm_state_summary(NULL) IS NULL AS strict;

INSERT INTO agent (agent_id, name, login) VALUES (9001, 'Merge Tester', 'merge_tester');
INSERT INTO customer (customer_id, full_name, owner_agent_id)
  SELECT c, 'M' || c, 9001 FROM generate_series(900001, 900100) c;
-- leads start with a stored (empty) state
SELECT count(*) AS leads, count(*) FILTER (WHERE rfm_state IS NOT NULL) AS with_state,
       count(*) FILTER (WHERE (rfm_state_summary(rfm_state)).purchases = 0) AS empty
  FROM customer_state WHERE customer_id BETWEEN 900001 AND 900100;

-- single-row statements out of time order: later and earlier days, the
-- first day again, refunds
DO $$
BEGIN
  FOR i IN 1..300 LOOP
    INSERT INTO purchase (customer_id, purchased_at, amount, kind)
    SELECT 900001 + (i * 7) % 10, now() - ((i * 37) % 400) * interval '1 day' - (i % 5) * interval '1 hour',
           CASE WHEN i % 11 = 0 THEN -2.5 ELSE (i % 13) + 0.99 END,
           CASE WHEN i % 11 = 0 THEN 'refund' ELSE 'sale' END;
  END LOOP;
END $$;
-- one statement of 100 customers (more than the 64 of the small-statement plans)
INSERT INTO purchase (customer_id, purchased_at, amount)
  SELECT c, now() - (c % 50) * interval '1 day', 12.34 FROM generate_series(900001, 900100) c;

-- every summary equals rfm() from scratch at its as_of; every state is kept
CREATE TEMP VIEW merge_check AS
  SELECT count(*) AS customers,
         count(*) FILTER (WHERE f.summary IS DISTINCT FROM s.summary) AS differ,
         count(*) FILTER (WHERE s.rfm_state IS NULL) AS without_state,
         count(*) FILTER (WHERE rfm_state_summary(s.rfm_state) IS DISTINCT FROM s.summary) AS state_differs
    FROM customer_state s
    JOIN (SELECT p.customer_id, rfm(p.purchased_at, p.amount, (k.summary).as_of) AS summary
            FROM purchase p JOIN customer_state k USING (customer_id)
           WHERE p.customer_id BETWEEN 900001 AND 900100
           GROUP BY p.customer_id, (k.summary).as_of) f USING (customer_id);
SELECT * FROM merge_check;
-- the status follows the summary, and the last transition logged is the status
SELECT count(*) FILTER (WHERE s.status <> lifecycle_status(s.summary, (s.summary).as_of)) AS wrong_status,
       count(*) FILTER (WHERE t.to_status IS DISTINCT FROM s.status) AS wrong_last_transition
  FROM customer_state s
  LEFT JOIN LATERAL (SELECT to_status FROM status_transition x WHERE x.customer_id = s.customer_id
                      ORDER BY x.transition_id DESC LIMIT 1) t ON true
 WHERE s.customer_id BETWEEN 900001 AND 900100;

-- a state lost (purchases loaded with triggers off) is recomputed from all
-- the customer's rows by the next purchase, and kept again
SET session_replication_role = replica;
INSERT INTO purchase (customer_id, purchased_at, amount) VALUES (900003, now() - interval '2 days', 5);
RESET session_replication_role;
UPDATE customer_state SET rfm_state = NULL WHERE customer_id = 900003;
INSERT INTO purchase (customer_id, purchased_at, amount) VALUES (900003, now() - interval '1 day', 6);
SELECT * FROM merge_check;

-- the trigger's own errors
CREATE TABLE merge_orders (client bigint, at timestamptz, total numeric, note text);
CREATE TRIGGER two_args AFTER INSERT ON merge_orders REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cartera.purchase_rows_added('client', 'at');
INSERT INTO merge_orders VALUES (900001, now(), 1);
DROP TRIGGER two_args ON merge_orders;
CREATE TRIGGER no_column AFTER INSERT ON merge_orders REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cartera.purchase_rows_added('client', 'when', 'total');
INSERT INTO merge_orders VALUES (900001, now(), 1);
DROP TRIGGER no_column ON merge_orders;
CREATE TRIGGER text_amount AFTER INSERT ON merge_orders REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION cartera.purchase_rows_added('client', 'at', 'note');
INSERT INTO merge_orders VALUES (900001, now(), 1, 'x');
DROP TRIGGER text_amount ON merge_orders;
CREATE TRIGGER per_row AFTER INSERT ON merge_orders
  FOR EACH ROW EXECUTE FUNCTION cartera.purchase_rows_added('client', 'at', 'total');
INSERT INTO merge_orders VALUES (900001, now(), 1);
DROP TRIGGER per_row ON merge_orders;
-- a purchase in the future is refused, and nothing is stored
\set VERBOSITY sqlstate
INSERT INTO purchase (customer_id, purchased_at, amount) VALUES (900001, now() + interval '1 day', 5);
\set VERBOSITY terse
SELECT * FROM merge_check;

-- leave nothing behind
DROP TABLE merge_orders;
DELETE FROM purchase WHERE customer_id BETWEEN 900001 AND 900100;
DELETE FROM alert WHERE customer_id BETWEEN 900001 AND 900100 OR agent_id = 9001;
DELETE FROM customer WHERE customer_id BETWEEN 900001 AND 900100;
DELETE FROM status_transition WHERE customer_id BETWEEN 900001 AND 900100;
DELETE FROM agent WHERE agent_id = 9001;
