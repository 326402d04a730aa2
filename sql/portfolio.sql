-- The portfolio layer: agents, customers, purchases, and customer_state kept
-- up to date by statement-level triggers.
SET search_path = public, cartera;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

INSERT INTO agent (agent_id, name, login, region, speciality) VALUES
  (1, 'Ana Pérez', 'ana', 'Norte', 'Champions'),
  (2, 'Luis Gómez', 'luis', 'Sur', 'At Risk');
INSERT INTO customer (customer_id, full_name, email, country, city, birthday, owner_agent_id, marketing_consent) VALUES
  (1, 'María López', 'maria@example.com', 'ES', 'Bilbao', '1985-03-14', 1, true),
  (2, 'Jorge Ruiz', 'jorge@example.com', 'MX', 'Monterrey', NULL, 2, false),
  (3, 'Lucía Martín', NULL, 'ES', 'Sevilla', NULL, 1, true);

-- Every customer starts as a lead, before any purchase.
SELECT customer_id, status, (summary).purchases FROM customer_state ORDER BY customer_id;

-- Nonsense is refused with the rule that was broken.
\set VERBOSITY terse
INSERT INTO customer (full_name, email) VALUES ('Sin Arroba', 'no-at-sign');
INSERT INTO customer (full_name, country) VALUES ('País Raro', 'Spain');
INSERT INTO customer (full_name) VALUES ('   ');
INSERT INTO customer (full_name, birthday) VALUES ('Muy Mayor', '1850-01-01');
INSERT INTO customer (full_name, life_events) VALUES ('Eventos', '{"event": "car"}');
INSERT INTO purchase (customer_id, purchased_at, amount) VALUES (1, now() - interval '1 day', -5);
INSERT INTO purchase (customer_id, purchased_at, amount, kind) VALUES (1, now() - interval '1 day', 5, 'refund');
INSERT INTO purchase (customer_id, purchased_at, amount, quantity) VALUES (1, now() - interval '1 day', 5, 0);
INSERT INTO purchase (customer_id, purchased_at, amount) VALUES (1, now() - interval '1 day', 'NaN');
INSERT INTO purchase (customer_id, purchased_at, amount) VALUES (99, now() - interval '1 day', 5);
-- a purchase in the future is not a purchase yet
INSERT INTO purchase (customer_id, purchased_at, amount) VALUES (1, '2999-01-01', 5);
\set VERBOSITY default

-- Purchases: one statement recomputes each customer it touches, once.
INSERT INTO purchase (customer_id, purchased_at, amount, product, category, external_id) VALUES
  (1, now() - interval '300 days', 120.00, 'Sofá', 'muebles', 'T-1'),
  (1, now() - interval '200 days',  80.00, 'Mesa', 'muebles', 'T-2'),
  (1, now() - interval '10 days',   45.50, 'Lámpara', 'iluminación', 'T-3'),
  (2, now() - interval '150 days',  30.00, 'Silla', 'muebles', 'T-4'),
  (3, now() - interval '5 days',    15.00, 'Cojín', 'textil', 'T-5');
SELECT customer_id, status, (summary).purchases, (summary).purchase_days, (summary).monetary_total,
       (summary).recency_days, (summary).frequency, clv
  FROM customer_state ORDER BY customer_id;
-- The state is exactly rfm() over the customer's rows at the state's own as_of.
SELECT count(*) AS mismatches
  FROM customer_state s
  LEFT JOIN LATERAL (SELECT rfm(p.purchased_at, p.amount, (s.summary).as_of) AS r
                       FROM purchase p WHERE p.customer_id = s.customer_id) f ON true
 WHERE (s.summary).purchases <> coalesce((f.r).purchases, 0)
    OR (s.summary).monetary_total <> coalesce((f.r).monetary_total, 0);

-- Reloading the same source rows is idempotent with external_id.
INSERT INTO purchase (customer_id, purchased_at, amount, external_id)
  VALUES (1, now() - interval '10 days', 45.50, 'T-3') ON CONFLICT (external_id) DO NOTHING;
SELECT (summary).purchases FROM customer_state WHERE customer_id = 1;

-- A refund lowers the total and is not a purchase.
INSERT INTO purchase (customer_id, purchased_at, amount, kind) VALUES (1, now() - interval '9 days', -20.00, 'refund');
SELECT (summary).purchases, (summary).monetary_total FROM customer_state WHERE customer_id = 1;

-- Moving a purchase to another customer recomputes both.
UPDATE purchase SET customer_id = 2 WHERE external_id = 'T-3';
SELECT customer_id, status, (summary).purchases, (summary).monetary_total
  FROM customer_state WHERE customer_id IN (1, 2) ORDER BY customer_id;
-- Deleting a customer's only purchase makes them a lead again.
DELETE FROM purchase WHERE customer_id = 3;
SELECT customer_id, status, (summary).purchases FROM customer_state WHERE customer_id = 3;

-- Every change of status or segment is logged.
SELECT customer_id, from_status, to_status FROM status_transition ORDER BY transition_id;

-- refresh(): portfolio breakpoints and BG/NBD / Gamma-Gamma fits, then every
-- state.  With the CDNOW customers (ids 1001..3357) at the end of the data:
INSERT INTO customer (customer_id, full_name)
  SELECT 1000 + customer_id, 'CDNOW ' || customer_id FROM (SELECT DISTINCT customer_id FROM cdnow_purchase) c;
INSERT INTO purchase (customer_id, purchased_at, amount, quantity)
  SELECT 1000 + customer_id, purchased_at, amount, cds FROM cdnow_purchase;
SELECT * FROM refresh('1998-06-30');
SELECT round((bgnbd).r::numeric, 3) AS r, round((bgnbd).alpha::numeric, 3) AS alpha,
       round((bgnbd).a::numeric, 3) AS a, round((bgnbd).b::numeric, 3) AS b, (bgnbd).time_unit,
       round((gamma_gamma).p::numeric, 2) AS p, round((gamma_gamma).q::numeric, 2) AS q,
       round((gamma_gamma).gamma::numeric, 2) AS gamma, recency_breaks
  FROM portfolio_model;
-- the same statuses as lifecycle() on the raw rows (sql/cdnow.sql)
SELECT status, count(*) AS customers, count(segment) AS with_segment, count(p_alive) AS with_p_alive,
       round(avg(p_alive)::numeric, 3) AS mean_p_alive, round(sum(clv_predicted_12m)::numeric) AS predicted_clv_12m
  FROM customer_state WHERE customer_id > 1000 GROUP BY status ORDER BY status;
SELECT customer_id - 1000 AS cdnow_id, status, segment, round(p_alive::numeric, 3) AS p_alive,
       round(expected_purchases_12m::numeric, 2) AS purchases_12m, round(clv_predicted_12m::numeric, 2) AS clv_12m, clv
  FROM customer_state ORDER BY clv_predicted_12m DESC NULLS LAST, customer_id LIMIT 5;

-- The transaction model: refresh() fitted BG/NBD, Pareto/NBD and MBG/NBD and
-- filled the predictions from the one cartera.model_selection (bic) chose
-- among Pareto/NBD and MBG/NBD; every fit is in model_history.
SELECT transaction_model, round((mbgnbd).r::numeric, 3) AS mbg_r, round((mbgnbd).b::numeric, 3) AS mbg_b,
       round((pareto_nbd).s::numeric, 3) AS pareto_s
  FROM portfolio_model;
SELECT model, chosen, selection, time_unit, customers, converged, round(r::numeric, 3) AS r,
       round(log_likelihood::numeric, 2) AS log_likelihood, round(bic::numeric, 2) AS bic,
       se_r IS NOT NULL AND se_alpha IS NOT NULL AND coalesce(se_a, se_s) IS NOT NULL AS has_se
  FROM model_history ORDER BY history_id;
-- No one-time buyer silent for long shows a purchase probability near 1
-- (BG/NBD gives them all exactly 1): P(alive) falls as their T grows.
WITH one_timers AS (
  SELECT (summary).age_days AS t, p_alive FROM customer_state
   WHERE customer_id > 1000 AND (summary).frequency = 0)
SELECT count(*) AS one_time_buyers,
       bool_and(p_alive < prev) FILTER (WHERE t > prev_t) AS falls_as_t_grows,
       round(max(p_alive) FILTER (WHERE t > 365)::numeric, 3) AS max_p_alive_after_a_year,
       round(min(p_alive)::numeric, 3) AS min_p_alive
  FROM (SELECT t, p_alive, lag(p_alive) OVER w AS prev, lag(t) OVER w AS prev_t
          FROM one_timers WINDOW w AS (ORDER BY t, p_alive DESC)) x;
-- the DBA names a model, or chooses by holdout error instead of BIC
INSERT INTO portfolio_setting VALUES ('cartera.transaction_model', 'bgnbd');
SELECT * FROM refresh('1998-06-30');
SELECT transaction_model, round(avg(p_alive) FILTER (WHERE (summary).frequency = 0)::numeric, 3) AS one_timers_p_alive
  FROM portfolio_model, customer_state GROUP BY 1;
UPDATE portfolio_setting SET value = 'auto' WHERE name = 'cartera.transaction_model';
INSERT INTO portfolio_setting VALUES ('cartera.model_selection', 'holdout'), ('cartera.model_holdout', '26 weeks');
SELECT * FROM refresh('1998-06-30');
SELECT model, chosen, selection, holdout, holdout_customers, round(holdout_rmse::numeric, 3) AS holdout_rmse,
       round(holdout_bias::numeric, 3) AS holdout_bias
  FROM model_history WHERE refreshed_at = (SELECT max(refreshed_at) FROM model_history) ORDER BY model;
SELECT count(*) AS refreshes, count(*) FILTER (WHERE chosen) AS chosen_rows FROM model_history;
INSERT INTO portfolio_setting VALUES ('cartera.model_selection', 'bayes');
DELETE FROM portfolio_setting WHERE name IN ('cartera.model_selection', 'cartera.model_holdout');
SELECT * FROM refresh('1998-06-30');
SELECT transaction_model FROM portfolio_model;

-- TRUNCATE empties every customer's history: all leads again.
TRUNCATE purchase;
SELECT status, count(*) FROM customer_state GROUP BY status;

-- A purchases table the DBA already has can be attached.
CREATE TABLE shop_orders (order_id serial, client bigint, ordered_on date, total numeric(10, 2));
INSERT INTO shop_orders (client, ordered_on, total) VALUES
  (1, current_date - 40, 60.00), (1, current_date - 20, 40.00), (2, current_date - 400, 99.99);
SELECT track_purchases('shop_orders', 'client', 'ordered_on', 'total') >= 0 AS tracked;
SELECT customer_id, status, (summary).purchases, (summary).monetary_total
  FROM customer_state WHERE customer_id IN (1, 2) ORDER BY customer_id;
INSERT INTO shop_orders (client, ordered_on, total) VALUES (2, current_date - 1, 10.00);
SELECT customer_id, status, (summary).purchases FROM customer_state WHERE customer_id = 2;
-- errors
SELECT track_purchases('shop_orders', 'client', 'ordered_on', 'total');
SELECT track_purchases('customer', 'full_name', 'created_at', 'customer_id');
SELECT untrack_purchases('purchase');
SELECT untrack_purchases('shop_orders') >= 0 AS untracked;
SELECT untrack_purchases('shop_orders');
SELECT track_purchases('shop_orders', 'nope', 'ordered_on', 'total');
SELECT customer_id, status, (summary).purchases FROM customer_state WHERE customer_id IN (1, 2) ORDER BY customer_id;

-- An ordinary role that may insert purchases keeps the state right too (the
-- maintenance runs as the extension owner, with a pinned search_path).
-- Row-level security lets it write purchases of its own customers only: for
-- this test it logs in as agent 1, the owner of customer 3.
CREATE ROLE cartera_test_clerk;
GRANT USAGE ON SCHEMA cartera TO cartera_test_clerk;
GRANT SELECT ON agent, customer TO cartera_test_clerk;
GRANT INSERT ON purchase TO cartera_test_clerk;
UPDATE agent SET login = 'cartera_test_clerk' WHERE agent_id = 1;
SET ROLE cartera_test_clerk;
INSERT INTO cartera.purchase (customer_id, purchased_at, amount) VALUES (3, now() - interval '3 days', 12.00);
SELECT * FROM cartera.customer_state;
SELECT cartera.refresh();
RESET ROLE;
UPDATE agent SET login = 'ana' WHERE agent_id = 1;
SELECT customer_id, status, (summary).purchases FROM customer_state WHERE customer_id = 3;
REVOKE ALL ON purchase, agent, customer FROM cartera_test_clerk;
REVOKE ALL ON SCHEMA cartera FROM cartera_test_clerk;
DROP ROLE cartera_test_clerk;
DROP TABLE shop_orders;
