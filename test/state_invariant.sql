-- customer_state always equals the from-scratch computation: after thousands of
-- random INSERT / UPDATE (including moving purchases between customers) /
-- DELETE statements on two purchase sources, every customer's state is rfm()
-- over their rows at the state's own as_of.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS cartera;
-- no holdout groups here: which customers they hold out depends on the month
-- (test/followup_uplift.sql tests them on fixed dates)
UPDATE cartera.alert_kind SET holdout_share = 0;
SET search_path = public, cartera;
SET client_min_messages = warning;
SELECT plan(7);

SELECT setseed(0.2024);
INSERT INTO cartera.customer (customer_id, full_name)
  SELECT 500000 + i, 'Invariante ' || i FROM generate_series(1, 40) i;
CREATE TABLE pos_sales (id serial PRIMARY KEY, client bigint NOT NULL, sold_on date NOT NULL, total numeric NOT NULL);
CREATE INDEX ON pos_sales (client);
SELECT cartera.track_purchases('pos_sales', 'client', 'sold_on', 'total');

DO $$
DECLARE
  i int;
  c bigint;
  r float8;
BEGIN
  FOR i IN 1..2500 LOOP
    r := random();
    c := 500001 + floor(random() * 40)::int;
    IF r < 0.40 THEN
      INSERT INTO cartera.purchase (customer_id, purchased_at, amount, kind)
        SELECT c, now() - random() * interval '800 days', a, CASE WHEN a < 0 THEN 'refund' ELSE 'sale' END
          FROM (SELECT round((random() * 120 - 10)::numeric, 2) AS a FROM generate_series(1, 1 + floor(random() * 3)::int)) x;
    ELSIF r < 0.55 THEN
      INSERT INTO pos_sales (client, sold_on, total)
        VALUES (c, current_date - floor(random() * 600)::int, round((random() * 80)::numeric, 2));
    ELSIF r < 0.70 THEN
      UPDATE cartera.purchase SET amount = round((random() * 50)::numeric, 2), kind = 'sale'
       WHERE purchase_id IN (SELECT purchase_id FROM cartera.purchase WHERE customer_id = c LIMIT 2);
    ELSIF r < 0.80 THEN
      -- move a purchase to another customer
      UPDATE cartera.purchase SET customer_id = 500001 + floor(random() * 40)::int
       WHERE purchase_id = (SELECT purchase_id FROM cartera.purchase WHERE customer_id = c
                             ORDER BY purchase_id LIMIT 1);
    ELSIF r < 0.85 THEN
      UPDATE pos_sales SET client = 500001 + floor(random() * 40)::int, sold_on = sold_on - 3
       WHERE id = (SELECT id FROM pos_sales WHERE client = c ORDER BY id LIMIT 1);
    ELSIF r < 0.95 THEN
      DELETE FROM cartera.purchase WHERE purchase_id = (SELECT purchase_id FROM cartera.purchase
                                                         WHERE customer_id = c ORDER BY random() LIMIT 1);
    ELSE
      DELETE FROM pos_sales WHERE client = c;
    END IF;
  END LOOP;
END
$$;

CREATE TEMP TABLE truth AS
  SELECT s.customer_id, s.summary, f.r
    FROM cartera.customer_state s
    LEFT JOIN LATERAL (
      SELECT cartera.rfm(x.at, x.amount, (s.summary).as_of) AS r
        FROM (SELECT purchased_at AS at, amount FROM cartera.purchase WHERE customer_id = s.customer_id
              UNION ALL
              SELECT sold_on::timestamptz, total FROM pos_sales WHERE client = s.customer_id) x) f ON true
   WHERE s.customer_id > 500000;

SELECT ok((SELECT count(*) FROM cartera.purchase WHERE customer_id > 500000) > 500,
          'the random workload left hundreds of purchases');
SELECT is((SELECT count(*) FROM truth), 40::bigint, 'one state row per customer');
SELECT is((SELECT count(*) FROM truth WHERE summary IS DISTINCT FROM r), 0::bigint,
          'every state equals rfm() over the customer''s rows from both sources');
SELECT is((SELECT count(*) FROM cartera.customer_state s
            WHERE s.customer_id > 500000 AND s.status IS DISTINCT FROM cartera.lifecycle_status(s.summary)), 0::bigint,
          'every status equals lifecycle_status() of the summary');
SELECT is((SELECT count(*) FROM cartera.customer_state s
            WHERE s.customer_id > 500000 AND s.clv IS DISTINCT FROM cartera.clv(s.summary, interval '3 years')), 0::bigint,
          'every formula CLV equals clv() of the summary');
-- the transition log ends where the state is
SELECT is((SELECT count(*) FROM cartera.customer_state s
            WHERE s.customer_id > 500000
              AND s.status IS DISTINCT FROM (SELECT t.to_status FROM cartera.status_transition t
                                              WHERE t.customer_id = s.customer_id
                                              ORDER BY t.transition_id DESC LIMIT 1)
              AND EXISTS (SELECT 1 FROM cartera.status_transition t WHERE t.customer_id = s.customer_id)), 0::bigint,
          'the last logged transition of every customer is its current status');
SELECT cartera.untrack_purchases('pos_sales');
SELECT is((SELECT count(*) FROM cartera.customer_state s
            JOIN LATERAL (SELECT cartera.rfm(purchased_at, amount, (s.summary).as_of) AS r
                            FROM cartera.purchase p WHERE p.customer_id = s.customer_id) f ON true
           WHERE s.customer_id > 500000 AND s.summary IS DISTINCT FROM f.r), 0::bigint,
          'after untrack_purchases the state counts cartera.purchase alone');

SELECT * FROM finish();
ROLLBACK;
