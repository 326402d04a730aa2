-- The portfolio on shards (sql/cartera_shards.sql): a shard's half of the
-- model, merged, is refresh()'s model; refresh_with_model() is refresh()'s
-- second half; the coordinator's errors.  scaleout/run check runs
-- shard_refresh() over real shards and compares every state, transition and
-- alert with a single server's refresh().  Outputs show only what does not
-- depend on the day.
SET search_path = public, cartera;
SET TimeZone = 'UTC';
\set VERBOSITY terse
-- an error's SQLSTATE and message without the times in it
CREATE FUNCTION pg_temp.error_of(query text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE query;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || regexp_replace(regexp_replace(SQLERRM, 'as_of .+ is', 'as_of <time> is'),
                                            '\(as of .+\)', '(as of <time>)');
END $$;

BEGIN;
SET LOCAL client_min_messages = error;   -- fits' convergence warnings
-- 600 CDNOW customers join the portfolio (cdnow_purchase: sql/cdnow.sql)
INSERT INTO customer (customer_id, full_name)
  SELECT DISTINCT 7000000 + customer_id, 'CDNOW ' || customer_id FROM cdnow_purchase WHERE customer_id <= 600;
INSERT INTO purchase (customer_id, purchased_at, amount)
  SELECT 7000000 + customer_id, purchased_at, amount FROM cdnow_purchase WHERE customer_id <= 600;

-- this database as the only shard: its partial states, merged ...
CREATE TEMP TABLE halves AS SELECT * FROM refresh_partials(now(), 'weeks');
SELECT count(*) AS shard_rows, bool_and(recency IS NOT NULL AND transactions IS NOT NULL AND spend IS NOT NULL) AS states
  FROM halves;
CREATE TEMP TABLE merged AS
  SELECT breakpoints_merge(recency) AS rb, breakpoints_merge(frequency) AS fb, breakpoints_merge(monetary) AS mb,
         bgnbd_fit_merge(transactions) AS bg, pareto_nbd_fit_merge(transactions) AS pn,
         mbgnbd_fit_merge(transactions) AS mg, gamma_gamma_fit_merge(spend) AS gg
    FROM halves;
-- ... are the model refresh() fits and stores (fits that did not converge left out)
SELECT customers >= 600 AS refreshed FROM refresh(now(), 'weeks');
SELECT m.recency_breaks = x.rb AS recency, m.frequency_breaks = x.fb AS frequency,
       m.monetary_breaks = x.mb AS monetary,
       m.bgnbd IS NOT DISTINCT FROM CASE WHEN (x.bg).converged THEN x.bg END AS bgnbd,
       m.pareto_nbd IS NOT DISTINCT FROM CASE WHEN (x.pn).converged THEN x.pn END AS pareto_nbd,
       m.mbgnbd IS NOT DISTINCT FROM CASE WHEN (x.mg).converged THEN x.mg END AS mbgnbd,
       m.gamma_gamma IS NOT DISTINCT FROM CASE WHEN (x.gg).converged THEN x.gg END AS gamma_gamma,
       (x.bg).customers >= 600 AS fitted_on_every_buyer
  FROM portfolio_model m, merged x;

-- the second half alone: the same model again changes nothing, logs nothing
SELECT customers >= 600 AS customers, transitions FROM refresh_with_model((SELECT m FROM portfolio_model m));
-- a fit that did not converge is not stored
SELECT transitions >= 0 AS applied
  FROM refresh_with_model((SELECT jsonb_populate_record(m, jsonb_build_object('gamma_gamma',
                                     jsonb_set(to_jsonb(m.gamma_gamma), '{converged}', 'false')))
                             FROM portfolio_model m));
SELECT gamma_gamma IS NULL AS left_out, bgnbd IS NOT NULL OR pareto_nbd IS NOT NULL AS others_kept FROM portfolio_model;
ROLLBACK;

-- errors of the two halves
SELECT * FROM refresh_with_model(NULL);
SELECT * FROM refresh_with_model(ROW(true, NULL, NULL, NULL, NULL, NULL, NULL, now(), NULL, NULL, NULL)::portfolio_model);
SELECT * FROM refresh_partials(NULL);
SELECT * FROM refresh_partials(now(), 'months');
SELECT pg_temp.error_of($$SELECT * FROM cartera.refresh_partials(now() + interval '1 day', 'weeks')$$);
-- the portfolio's clock only moves forward, for either half
BEGIN;
SET LOCAL client_min_messages = error;
SELECT customers > 0 AS refreshed
  FROM refresh_with_model(ROW(true, now(), NULL, NULL, NULL, NULL, NULL, now(), NULL, NULL, NULL)::portfolio_model);
SELECT pg_temp.error_of($$SELECT * FROM cartera.refresh_with_model(
                          ROW(true, '2000-01-01', NULL, NULL, NULL, NULL, NULL, now(), NULL, NULL, NULL)::cartera.portfolio_model)$$);
SELECT pg_temp.error_of($$SELECT * FROM cartera.refresh_partials('2000-01-01', 'weeks')$$);
-- and for the coordinator's, checked before any shard is reached
CREATE EXTENSION dblink;
INSERT INTO shard (server) VALUES ('nowhere');
SELECT pg_temp.error_of($$SELECT * FROM cartera.shard_refresh('2000-01-01')$$);
ROLLBACK;

-- the coordinator: dblink, a list of shards, each a foreign server
SELECT * FROM shard_refresh();
SELECT * FROM shard_followups();
SELECT * FROM shard_plan_day();
SELECT * FROM shard_views();
CALL shard_load('cartera.purchase', 'cartera.purchase');
CALL shard_relay(1);
CREATE EXTENSION dblink;
SELECT * FROM shard_views(NULL);
SELECT * FROM shard_views('cartera');
SELECT * FROM shard_views('pg_toast');
SELECT * FROM shard_views('public');
CREATE SCHEMA taken;
SELECT * FROM shard_views('taken');
DROP SCHEMA taken;
SELECT * FROM shard_views();
SELECT * FROM shard_plan_day(NULL);
SELECT pg_temp.error_of($$SELECT * FROM cartera.shard_plan_day(current_date + 2)$$);
SELECT * FROM shard_plan_day();
SELECT * FROM shard_followups(NULL);
SELECT * FROM shard_followups('infinity');
SELECT pg_temp.error_of($$SELECT * FROM cartera.shard_followups(current_date + 2)$$);
SELECT * FROM shard_followups();
SELECT * FROM followups_raise(current_date, NULL, NULL, 1, '{}', true);
CALL shard_relay(0);
CALL shard_relay(NULL);
CALL shard_relay('infinity');
CALL shard_relay(60, 0);
CALL shard_relay(60, 61);
CALL shard_relay(1);
CALL shard_load(NULL, 'cartera.purchase');
CALL shard_load('cartera.purchase', 'cartera.purchase');
CREATE TEMP TABLE routed (customer_id bigint, purchased_at timestamptz, amount numeric) PARTITION BY HASH (customer_id);
CALL shard_load('cartera.purchase', 'routed');
CREATE TEMP TABLE unroutable (purchased_at timestamptz, amount numeric);
INSERT INTO shard (server) VALUES ('nowhere');
CALL shard_load('unroutable', 'routed');
CALL shard_load('cartera.purchase', 'routed');
DELETE FROM shard;
SELECT shard_purchase_modes('{shard_a,shard_b}', '{deferred,immediate,deferred}');
SELECT * FROM shard_refresh(NULL);
SELECT * FROM shard_refresh('infinity');
SELECT pg_temp.error_of($$SELECT * FROM cartera.shard_refresh(now() + interval '1 day')$$);
SELECT * FROM shard_refresh(now(), 'hours');
SELECT * FROM shard_refresh();
INSERT INTO shard (server) VALUES ('');
INSERT INTO shard (server) VALUES ('nowhere');
SELECT * FROM shard_refresh();
DELETE FROM shard;
-- a shard that cannot be reached: the run fails and leaves no connection open
CREATE EXTENSION postgres_fdw;
CREATE SERVER unreachable FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', port '1', dbname 'shop');
CREATE USER MAPPING FOR CURRENT_USER SERVER unreachable OPTIONS (user 'cartera');
INSERT INTO shard (server) VALUES ('unreachable');
SELECT * FROM shard_refresh();
SELECT count(*) AS open_connections FROM unnest(dblink_get_connections()) c WHERE c LIKE 'cartera_shard_%';
DELETE FROM shard;
DROP EXTENSION postgres_fdw CASCADE;
DROP EXTENSION dblink;

-- a shard's plan_queue() takes the coordinator's ranks as given (shard_plan())
BEGIN;
INSERT INTO agent (agent_id, name, login, daily_capacity) VALUES (9101, 'Planner', 'planner', 1);
INSERT INTO alert (customer_id, agent_id, kind, colour, raised_at, due_on, message)
  SELECT c, 9101, 'welcome', 'green', now(), current_date, 'hello'
    FROM (SELECT customer_id AS c FROM customer_state ORDER BY customer_id LIMIT 2) x;
-- ranked here, by queue_place
SELECT queued, backlog FROM plan_queue(current_date, NULL, NULL, NULL, NULL) WHERE agent_id = 9101;
SELECT alert_id = (SELECT alert_id FROM plan_candidates() WHERE agent_id = 9101 ORDER BY place LIMIT 1) AS first_place_first,
       queue, queue_rank FROM alert WHERE agent_id = 9101 ORDER BY queue_rank;
-- ranked by a coordinator the other way round: its ranks, and the queue filled to capacity by them
SELECT min(alert_id) FILTER (WHERE queue_rank = 1) AS first_id, min(alert_id) FILTER (WHERE queue_rank = 2) AS second_id
  FROM alert WHERE agent_id = 9101 \gset
SELECT queued, backlog, escalated FROM plan_queue(current_date, jsonb_build_object(:first_id, 2, :second_id, 1), NULL, NULL, '{9101}')
 WHERE agent_id = 9101;
SELECT alert_id = :second_id AS given_first, queue, queue_rank FROM alert WHERE agent_id = 9101 ORDER BY queue_rank;
ROLLBACK;

-- numbering a shard (cartera.set_shard_number())
SELECT * FROM set_shard_number(NULL, 3);
SELECT * FROM set_shard_number(3, 3);
SELECT * FROM set_shard_number(0, 0);
SELECT * FROM set_shard_number(-1, 3);
SELECT shard_of(1) AS not_a_shard;
BEGIN;
-- this portfolio's ids began at 1: only block 0 holds them
SELECT pg_temp.error_of('SELECT * FROM cartera.set_shard_number(1, 2)');
SELECT relation, next_id = (SELECT coalesce(max(purchase_id), 0) + 1 FROM purchase) AS next_purchase_id
  FROM set_shard_number(0, 2) WHERE relation = 'purchase'::regclass;
SELECT count(*) AS other_ids_left FROM set_shard_number(0, 2);   -- again: the same number is fine
SELECT pg_temp.error_of('SELECT * FROM cartera.set_shard_number(1, 2)');
SELECT shard, shards FROM shard_number;
-- customers are placed by the coordinator's hash partitions of customer_id
CREATE TEMP TABLE route (customer_id bigint) PARTITION BY HASH (customer_id);
CREATE TEMP TABLE route0 PARTITION OF route FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TEMP TABLE route1 PARTITION OF route FOR VALUES WITH (MODULUS 2, REMAINDER 1);
INSERT INTO route SELECT generate_series(1, 1000);
SELECT count(*) FILTER (WHERE shard_of(customer_id) = 0) AS in_route0, count(*) AS rows FROM route0;
SELECT count(*) FILTER (WHERE shard_of(customer_id) = 1) AS in_route1, count(*) AS rows FROM route1;
-- a referral or a merge with a customer of the other shard: refused clearly
SELECT min(customer_id) AS here FROM route0 WHERE customer_id NOT IN (SELECT customer_id FROM customer) \gset
SELECT min(customer_id) AS elsewhere FROM route1 WHERE customer_id NOT IN (SELECT customer_id FROM customer) \gset
INSERT INTO customer (customer_id, full_name) VALUES (:here, 'Here');
SELECT pg_temp.error_of(format('INSERT INTO cartera.customer (customer_id, full_name, referred_by) VALUES (%s, %L, %s)',
                               :here + 2000, 'Referred', :elsewhere)) ~ 'belongs to shard 1, not to this one \(shard 0 of 2\)' AS referral_refused;
SELECT pg_temp.error_of(format('SELECT cartera.merge_customers(%s, %s)', :here, :elsewhere))
       ~ '^0A000: customer \d+ \(the duplicate\) belongs to shard 1' AS merge_refused;
SELECT pg_temp.error_of(format('SELECT cartera.merge_customers(%s, %s)', :elsewhere, :here))
       ~ '^0A000: customer \d+ \(the customer to keep\) belongs to shard 1' AS merge_refused;
-- one of this shard that does not exist is still "does not exist"
SELECT max(customer_id) AS missing FROM route0 WHERE customer_id NOT IN (SELECT customer_id FROM customer) \gset
SELECT pg_temp.error_of(format('SELECT cartera.merge_customers(%s, %s)', :here, :missing)) ~ '^P0002: customer \d+ does not exist$' AS missing;
-- a referral within the shard is kept
SELECT min(customer_id) AS neighbour FROM route0 WHERE customer_id NOT IN (SELECT customer_id FROM customer) \gset
INSERT INTO customer (customer_id, full_name, referred_by) VALUES (:neighbour, 'Neighbour', :here) RETURNING referred_by = :here AS kept;
-- new ids come from the shard's block
INSERT INTO purchase (customer_id, purchased_at, amount) VALUES (:here, now() - interval '1 day', 10)
  RETURNING purchase_id < 281474976710656 AS in_block_0;
ROLLBACK;
