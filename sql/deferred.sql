-- Deferred maintenance (sql/cartera_deferred.sql): a purchase source in
-- deferred mode only queues; catch_up() (or the worker) applies the queue
-- through the statements of immediate mode.  Purchases are dated relative to
-- now() and outputs show only what does not depend on the day.
SET search_path = public, cartera;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
\set VERBOSITY terse

INSERT INTO agent (agent_id, name, login) VALUES (9401, 'Deferred Tester', 'deferred_tester');
-- two groups with the same purchases: 940001-940030 bought in immediate
-- mode, 950001-950030 in deferred mode
INSERT INTO customer (customer_id, full_name, owner_agent_id)
  SELECT c, 'D' || c, 9401 FROM generate_series(940001, 940030) c
  UNION ALL SELECT c, 'D' || c, 9401 FROM generate_series(950001, 950030) c;
CREATE TEMP TABLE history AS
  SELECT i, k, now() - ((i * 37 + k * 11) % 500) * interval '1 day' - (k % 3) * interval '1 hour' AS at,
         ((i * 13 + k * 7) % 90 + 5)::numeric AS amount
    FROM generate_series(1, 30) i, generate_series(1, 6) k WHERE k <= 1 + i % 6;

-- the errors of set_purchase_mode()
SELECT set_purchase_mode('cartera.purchase', 'later');
SELECT set_purchase_mode('cartera.purchase', NULL);
SELECT set_purchase_mode('pg_class', 'deferred');
SELECT set_purchase_mode('cartera.purchase', 'immediate') AS unchanged;

-- immediate group: one statement per customer (the alerts of a purchase
-- depend on what arrived before it in its statement's customer only)
DO $$
BEGIN
  FOR c IN 1..30 LOOP
    INSERT INTO purchase (customer_id, purchased_at, amount) SELECT 940000 + h.i, h.at, h.amount FROM history h WHERE h.i = c;
  END LOOP;
END $$;

SELECT set_purchase_mode('cartera.purchase', 'deferred') AS was;
SELECT mode FROM purchase_source WHERE source = 'cartera.purchase'::regclass;
SELECT tgname, tgfoid::regproc AS fn FROM pg_trigger WHERE tgrelid = 'cartera.purchase'::regclass AND tgname LIKE 'cartera%' ORDER BY 1;

-- deferred group: the same statements queue and change nothing else
DO $$
BEGIN
  FOR c IN 1..30 LOOP
    INSERT INTO purchase (customer_id, purchased_at, amount) SELECT 950000 + h.i, h.at, h.amount FROM history h WHERE h.i = c;
  END LOOP;
END $$;
SELECT count(*) AS queued, count(DISTINCT customer_id) AS customers, bool_and(state IS NOT NULL) AS states,
       -- a small statement queues its purchase ids even without cross-sell rules
       bool_and(cardinality(purchase_ids) = (SELECT count(*) FROM history h WHERE 950000 + h.i = d.customer_id)) AS ids_queued,
       bool_or(recompute) AS recompute
  FROM deferred_change d WHERE customer_id BETWEEN 950001 AND 950030;
SELECT count(*) FILTER (WHERE status = 'lead') AS still_leads, count(*) AS customers
  FROM customer_state WHERE customer_id BETWEEN 950001 AND 950030;
SELECT count(*) AS alerts_before FROM alert WHERE customer_id BETWEEN 950001 AND 950030;
SELECT queued_changes, queued_customers, oldest_age > interval '0' AS waiting, set_aside_customers
  FROM deferred_status;

-- the door still refuses bad rows, and a refused statement queues nothing
DO $$
BEGIN
  INSERT INTO purchase (customer_id, purchased_at, amount) VALUES (950001, now() + interval '1 day', 5);
EXCEPTION WHEN check_violation THEN
  RAISE NOTICE 'refused: %', regexp_replace(SQLERRM, 'date .* is', 'date ... is');
END $$;
INSERT INTO purchase (customer_id, purchased_at, amount) VALUES (950001, now() - interval '1 day', 1e15);
BEGIN;
INSERT INTO purchase (customer_id, purchased_at, amount) VALUES (950001, now() - interval '1 day', 5);
ROLLBACK;
SELECT count(*) AS queued FROM deferred_change WHERE customer_id BETWEEN 950001 AND 950030;

-- apply: every queued change once
SELECT batches >= 1 AS batched, customers, changes, purchases, set_aside, still_queued FROM catch_up();
SELECT * FROM catch_up();
-- the two groups are equal: summaries (but as_of), statuses, transitions logged, alerts raised
SELECT count(*) AS customers,
       count(*) FILTER (WHERE (a.summary).purchases = (b.summary).purchases
                          AND (a.summary).monetary_total = (b.summary).monetary_total
                          AND (a.summary).frequency = (b.summary).frequency
                          AND (a.summary).first_purchase = (b.summary).first_purchase
                          AND (a.summary).last_purchase = (b.summary).last_purchase) AS same_summary,
       count(*) FILTER (WHERE a.status = b.status) AS same_status
  FROM customer_state a JOIN customer_state b ON b.customer_id = a.customer_id + 10000
 WHERE a.customer_id BETWEEN 940001 AND 940030;
SELECT (SELECT string_agg(kind || ' x' || n, ', ' ORDER BY kind) FROM (SELECT kind, count(*) n FROM alert WHERE customer_id BETWEEN 940001 AND 940030 GROUP BY kind) x) AS immediate_alerts,
       (SELECT string_agg(kind || ' x' || n, ', ' ORDER BY kind) FROM (SELECT kind, count(*) n FROM alert WHERE customer_id BETWEEN 950001 AND 950030 GROUP BY kind) x) AS deferred_alerts;
SELECT count(*) AS customers_with_different_alerts FROM (
  SELECT customer_id - 10000 AS c, kind FROM alert WHERE customer_id BETWEEN 950001 AND 950030
  EXCEPT SELECT customer_id, kind FROM alert WHERE customer_id BETWEEN 940001 AND 940030) x;
-- states equal rfm() from scratch at their as_of, and are kept for merging
CREATE TEMP VIEW scratch_check AS
  SELECT count(*) AS customers, count(*) FILTER (WHERE f.summary IS DISTINCT FROM s.summary) AS differ,
         count(*) FILTER (WHERE s.rfm_state IS NULL) AS without_state
    FROM customer_state s
    JOIN (SELECT p.customer_id, rfm(p.purchased_at, p.amount, (k.summary).as_of) AS summary
            FROM purchase p JOIN customer_state k USING (customer_id)
           GROUP BY p.customer_id, (k.summary).as_of) f USING (customer_id)
   WHERE s.customer_id BETWEEN 950001 AND 950030;
SELECT * FROM scratch_check;
SELECT last_run_by, last_changes, total_changes >= 30 AS counted, last_error FROM deferred_status;

-- UPDATE and DELETE queue recomputations; applied, the states are right again
UPDATE purchase SET amount = amount + 1 WHERE customer_id = 950002;
DELETE FROM purchase WHERE customer_id = 950003 AND purchased_at = (SELECT max(purchased_at) FROM purchase WHERE customer_id = 950003);
SELECT customer_id, state IS NULL AS no_state, recompute FROM deferred_change ORDER BY change_id;
SELECT customers, changes, still_queued FROM catch_up();
SELECT * FROM scratch_check;

-- recompute_state() takes the queued changes of the customers it recomputes
-- with it (in the statement that reads the purchases): nothing counted twice.
-- With a cross-sell rule the purchase ids are queued too, and kept (emptied)
-- for the applier's cross-sell alerts.
INSERT INTO cross_sell_rule (bought_product, offer, after_days) VALUES ('no such product', 'nothing', 0);
INSERT INTO purchase (customer_id, purchased_at, amount) VALUES (950004, now() - interval '2 days', 10), (950005, now() - interval '2 days', 10);
SELECT count(*) >= 0 AS recomputed FROM recompute_state(ARRAY[950004]::bigint[], clock_timestamp());
SELECT customer_id, state IS NULL AS emptied, cardinality(purchase_ids) AS ids FROM deferred_change ORDER BY change_id;
SELECT customers, changes, still_queued FROM catch_up();
SELECT * FROM scratch_check;
-- a statement of more than 100 rows queues its purchase ids only when there
-- are cross-sell rules (a bulk load would otherwise sort and store them all)
INSERT INTO purchase (customer_id, purchased_at, amount)
  SELECT 950020, now() - interval '3 days' - g * interval '1 minute', 1 FROM generate_series(1, 101) g;
DELETE FROM cross_sell_rule WHERE offer = 'nothing';
INSERT INTO purchase (customer_id, purchased_at, amount)
  SELECT 950021, now() - interval '3 days' - g * interval '1 minute', 1 FROM generate_series(1, 101) g;
SELECT customer_id, cardinality(purchase_ids) AS ids FROM deferred_change ORDER BY change_id;
SELECT customers, changes, still_queued FROM catch_up();
SELECT * FROM scratch_check;

-- the portfolio's calendar dates the queued purchases, not the writing
-- session's: 01:00 and 05:00 UTC are one day in UTC, two in Santiago
INSERT INTO customer (customer_id, full_name, owner_agent_id) VALUES (950040, 'D950040', 9401);
INSERT INTO portfolio_setting (name, value) VALUES ('TimeZone', 'America/Santiago');
INSERT INTO purchase (customer_id, purchased_at, amount)
  SELECT 950040, d + h * interval '1 hour', 5
    FROM (SELECT date_trunc('day', now() - interval '10 days', 'UTC') AS d) x, (VALUES (1), (5)) v(h);
SELECT current_setting('TimeZone') AS session_zone,
       (rfm_state_summary(state)).purchase_days AS queued_days FROM deferred_change WHERE customer_id = 950040;
SELECT customers, changes, still_queued FROM catch_up();
SELECT (summary).purchase_days, (summary).frequency FROM customer_state WHERE customer_id = 950040;
DELETE FROM portfolio_setting WHERE name = 'TimeZone';

-- a customer whose changes fail (a broken rule of the owner's: here a
-- trigger) is set aside with the error; the others are applied
CREATE FUNCTION pg_temp.broken_rule() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.customer_id = 950006 THEN
    RAISE EXCEPTION 'rule "vip upsell" cannot read customer %', NEW.customer_id USING ERRCODE = 'data_exception';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER broken_rule BEFORE UPDATE ON customer_state FOR EACH ROW EXECUTE FUNCTION pg_temp.broken_rule();
INSERT INTO purchase (customer_id, purchased_at, amount)
  VALUES (950006, now() - interval '1 day', 20), (950007, now() - interval '1 day', 20), (950008, now() - interval '1 day', 20);
SELECT customers, changes, set_aside, still_queued FROM catch_up();
SELECT customer_id, full_name, sqlstate, error, attempts, retry_at > last_failed_at AS later, queued_changes FROM deferred_set_aside;
SELECT set_aside_customers, queued_changes FROM deferred_status;
-- not retried before retry_at; the purchase path never noticed
SELECT customers, changes, set_aside, still_queued FROM catch_up();
INSERT INTO purchase (customer_id, purchased_at, amount) VALUES (950006, now() - interval '1 hour', 1);
-- fixed, retried now: applied, and no longer set aside
DROP TRIGGER broken_rule ON customer_state;
SELECT retry_set_aside(950006) AS due;
SELECT customers, changes, set_aside, still_queued FROM catch_up();
SELECT count(*) AS set_aside FROM deferred_failure;
SELECT * FROM scratch_check;

-- behind: after a full batch the next one takes twice as many customers
-- (1,000, 2,000, then the 500 left: 3 batches, not 4)
INSERT INTO customer (customer_id, full_name, owner_agent_id) SELECT g, 'B' || g, 9401 FROM generate_series(941001, 944500) g;
INSERT INTO purchase (customer_id, purchased_at, amount) SELECT g, now() - interval '2 days', 10 FROM generate_series(941001, 944500) g;
SELECT batches, customers, changes, still_queued FROM catch_up();
SELECT count(*) FILTER (WHERE (summary).purchases = 1) AS bought_once FROM customer_state WHERE customer_id BETWEEN 941001 AND 944500;
-- each batch gives the size of the next (the worker follows it as catch_up()
-- does): twice after a full batch, at most 8 times the setting (1,000 here),
-- the setting after a batch that is not full
INSERT INTO purchase (customer_id, purchased_at, amount) SELECT g, now() - interval '2 days', 10 FROM generate_series(941001, 944500) g;
INSERT INTO purchase (customer_id, purchased_at, amount) SELECT g, now() - interval '1 day', 10 FROM generate_series(941001, 944500) g;
SELECT customers, changes, next_batch FROM apply_deferred(4500);
INSERT INTO purchase (customer_id, purchased_at, amount) SELECT g, now() - interval '1 day', 5 FROM generate_series(941001, 941010) g;
SELECT customers, changes, next_batch FROM apply_deferred(10);
INSERT INTO purchase (customer_id, purchased_at, amount) SELECT g, now() - interval '1 day', 5 FROM generate_series(941001, 941005) g;
SELECT customers, changes, next_batch FROM apply_deferred(10);
SELECT count(*) FILTER (WHERE (summary).purchases = 3) AS bought_3, count(*) FILTER (WHERE (summary).purchases = 4) AS bought_4,
       count(*) FILTER (WHERE (summary).purchases = 5) AS bought_5
  FROM customer_state WHERE customer_id BETWEEN 941001 AND 944500;
SELECT count(*) AS customers, count(*) FILTER (WHERE f.summary IS DISTINCT FROM s.summary) AS differ
  FROM customer_state s
  JOIN (SELECT p.customer_id, rfm(p.purchased_at, p.amount, (k.summary).as_of) AS summary
          FROM purchase p JOIN customer_state k USING (customer_id)
         WHERE p.customer_id BETWEEN 941001 AND 944500
         GROUP BY p.customer_id, (k.summary).as_of) f USING (customer_id);

-- a tracked table in deferred mode: TRUNCATE queues a whole recomputation
CREATE TABLE shop_sales (customer_id bigint, sold_at timestamptz, total numeric);
CREATE INDEX ON shop_sales (customer_id);
SELECT track_purchases('shop_sales', 'customer_id', 'sold_at', 'total') >= 0 AS tracked;
SELECT set_purchase_mode('shop_sales', 'deferred') AS was;
INSERT INTO shop_sales VALUES (950009, now() - interval '3 days', 30), (950010, now() - interval '3 days', 30);
SELECT customer_id, source, purchase_ids FROM deferred_change ORDER BY change_id;
TRUNCATE shop_sales;
SELECT customer_id, recompute FROM deferred_change ORDER BY change_id;
SELECT changes >= 3 AS applied, still_queued FROM catch_up();
SELECT * FROM scratch_check;
-- a hand-made deferred trigger on a table not registered as deferred is refused
CREATE TABLE other_sales (customer_id bigint, sold_at timestamptz, total numeric);
CREATE TRIGGER sneaky AFTER INSERT ON other_sales REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION purchase_rows_deferred('customer_id', 'sold_at', 'total');
INSERT INTO other_sales VALUES (950011, now(), 1);
DROP TABLE other_sales;
SELECT untrack_purchases('shop_sales') >= 0 AS untracked;
DROP TABLE shop_sales;

-- refresh() and run_followups() apply the queue first, through the purchase
-- path: a lead's first purchase raises its welcome alert, as in immediate mode
BEGIN;
SET LOCAL client_min_messages = error;
INSERT INTO customer (customer_id, full_name, owner_agent_id) VALUES (950031, 'D950031', 9401), (950032, 'D950032', 9401);
INSERT INTO purchase (customer_id, purchased_at, amount) VALUES (950031, now() - interval '1 day', 9);
SELECT count(*) AS queued, (SELECT lag IS NOT NULL FROM deferred_status) AS lagging FROM deferred_change;
DO $$ BEGIN PERFORM * FROM refresh(); END $$;
INSERT INTO purchase (customer_id, purchased_at, amount) VALUES (950032, now() - interval '1 day', 9);
DO $$ BEGIN PERFORM * FROM run_followups(); END $$;
SELECT customer_id, kind FROM alert WHERE customer_id IN (950031, 950032) ORDER BY 1, 2;
SELECT count(*) AS queued, (SELECT lag FROM deferred_status) AS lag FROM deferred_change;
ROLLBACK;

-- back to immediate: the queue is applied first
INSERT INTO purchase (customer_id, purchased_at, amount) VALUES (950012, now() - interval '5 days', 3);
SELECT count(*) AS queued FROM deferred_change;
SELECT set_purchase_mode('cartera.purchase', 'immediate') AS was;
SELECT count(*) AS queued FROM deferred_change;
SELECT tgname, tgfoid::regproc AS fn FROM pg_trigger WHERE tgrelid = 'cartera.purchase'::regclass AND tgname = 'cartera_state_insert';
SELECT * FROM scratch_check;

-- the merge aggregate: states of parts merge to the state of the whole
SELECT (SELECT rfm_state_summary(rfm_state_merge(x.s, timestamptz '2026-02-01'))
          FROM (SELECT rfm_state(t, a, timestamptz '2026-02-01') s FROM (VALUES ('2026-01-01'::timestamptz, 5), ('2026-01-03', 7)) v(t, a)
                UNION ALL
                SELECT rfm_state(t, a, timestamptz '2026-02-01') FROM (VALUES ('2026-01-03'::timestamptz, -2), ('2026-01-09', 1)) v(t, a)) x)
       = (SELECT rfm(t, a, timestamptz '2026-02-01')
            FROM (VALUES ('2026-01-01'::timestamptz, 5), ('2026-01-03', 7), ('2026-01-03', -2), ('2026-01-09', 1)) w(t, a)) AS same;
SELECT rfm_state_merge(s, NULL) FROM (VALUES ('\x'::bytea)) v(s);
SELECT rfm_state_mergeable(rfm_state(t, 1, timestamptz '2026-02-01'), timestamptz '2026-01-15') AS after_as_of,
       rfm_state_mergeable(rfm_state(t, 1, timestamptz '2026-02-01'), timestamptz '2026-02-15') AS before_as_of,
       rfm_state_mergeable(NULL, timestamptz '2026-02-15') AS null_state,
       rfm_state_mergeable('\x00', timestamptz '2026-02-15') AS other_layout
  FROM (VALUES ('2026-01-20'::timestamptz)) v(t);
SELECT * FROM apply_deferred(0);
SELECT * FROM apply_deferred(10, 'cron');

-- the tests that follow share this database: leave it as it was
DELETE FROM purchase WHERE customer_id BETWEEN 940001 AND 950040;
DELETE FROM customer WHERE customer_id BETWEEN 940001 AND 950040;
DELETE FROM agent WHERE agent_id = 9401;
SELECT (SELECT count(*) FROM customer_state WHERE customer_id BETWEEN 940001 AND 950030) AS states,
       (SELECT count(*) FROM deferred_change) AS queued, (SELECT count(*) FROM deferred_failure) AS set_aside;
