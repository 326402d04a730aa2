-- The portfolio used by two agents and a manager exactly as docs/security.md
-- sets them up, attacking what 0.3.0 let through (issue 13):
--  1. a deleted customer's history outlived them, readable by another agent;
--  2. erasure requests: one call forgets a customer's personal data;
--  3. agents and managers chose ids (ahead of the sequence) and changed them;
--  4. one agent's session settings changed what is stored for everyone;
--  5. UPDATE customer SET owner_agent_id left the open alerts with the old owner.
-- Roles are created inside the transaction and vanish with the ROLLBACK.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS cartera;
-- no holdout groups here: which customers they hold out depends on the month
-- (test/followup_uplift.sql tests them on fixed dates)
UPDATE cartera.alert_kind SET holdout_share = 0;
SET search_path = public, cartera;
SET client_min_messages = warning;
SELECT plan(50);

CREATE ROLE cartera_agent NOLOGIN;
CREATE ROLE cartera_manager NOLOGIN;
DO $$ BEGIN PERFORM cartera.grant_agent_role('cartera_agent'); PERFORM cartera.grant_manager_role('cartera_manager'); END $$;
CREATE ROLE pd_ana LOGIN IN ROLE cartera_agent;
CREATE ROLE pd_luis LOGIN IN ROLE cartera_agent;
CREATE ROLE pd_marta LOGIN IN ROLE cartera_manager;
INSERT INTO cartera.agent (name, login) VALUES ('Ana', 'pd_ana'), ('Luis', 'pd_luis');
SELECT agent_id AS ana FROM cartera.agent WHERE login = 'pd_ana' \gset
SELECT agent_id AS luis FROM cartera.agent WHERE login = 'pd_luis' \gset

-- ten customers each, alike: bought 300 and 90 days ago (at risk), amounts 100..1000
INSERT INTO cartera.customer (full_name, owner_agent_id, email, marketing_consent, created_at)
  SELECT format('%s cliente %s', a.name, i), a.agent_id, format('c%s@%s.example', i, lower(a.name)), true, now() - interval '2 years'
    FROM cartera.agent a, generate_series(1, 10) i WHERE a.login IN ('pd_ana', 'pd_luis');
INSERT INTO cartera.purchase (customer_id, purchased_at, amount)
  SELECT c.customer_id, now() - d * interval '1 day', 100 * (c.customer_id % 10 + 1)
    FROM cartera.customer c, (VALUES (300), (90)) v(d)
   WHERE c.owner_agent_id IN (:ana, :luis);
CREATE TEMP TABLE pd_customers AS
  SELECT customer_id, owner_agent_id FROM cartera.customer WHERE owner_agent_id IN (:ana, :luis);
GRANT SELECT ON pd_customers TO cartera_agent, cartera_manager;

------------------------------------------------------------------------------
-- 4. settings: what is stored comes from the portfolio, not the writer
------------------------------------------------------------------------------
-- the baseline: the daily job on the untouched portfolio (undone afterwards)
SAVEPOINT baseline;
DO $$ BEGIN PERFORM cartera.run_followups(current_date); END $$;
SELECT count(*) FILTER (WHERE agent_id = :ana) AS base_ana, count(*) FILTER (WHERE agent_id = :luis) AS base_luis
  FROM cartera.alert WHERE kind = 'cant_lose' \gset
ROLLBACK TO SAVEPOINT baseline;
CREATE TEMP TABLE pd_clv AS SELECT customer_id, clv FROM cartera.customer_state WHERE customer_id IN (SELECT customer_id FROM pd_customers);

SET ROLE pd_ana;
SET cartera.clv_lifespan = '1000 years';
SET cartera.max_contacts = 1000;
SET cartera.language = 'en';
UPDATE cartera.purchase SET amount = amount WHERE customer_id IN (SELECT customer_id FROM pd_customers);
INSERT INTO cartera.interaction (customer_id, channel, is_complaint, note)
  SELECT min(customer_id), 'phone', true, 'roto' FROM pd_customers WHERE owner_agent_id = :ana;
RESET ROLE;
RESET cartera.clv_lifespan;
RESET cartera.max_contacts;
RESET cartera.language;
SELECT is((SELECT count(*) FROM cartera.customer_state s JOIN pd_clv p USING (customer_id) WHERE s.clv IS DISTINCT FROM p.clv), 0::bigint,
          'an agent''s SET cartera.clv_lifespan does not change the CLV stored when she updates her purchases');
SELECT ok(:base_ana > 0 AND :base_luis > 0, 'baseline: the daily job raises cant_lose alerts for both agents');
DO $$ BEGIN PERFORM cartera.run_followups(current_date); END $$;
SELECT results_eq($$ SELECT count(*) FILTER (WHERE agent_id = $$ || :ana || $$), count(*) FILTER (WHERE agent_id = $$ || :luis || $$)
                       FROM cartera.alert WHERE kind = 'cant_lose' $$,
                  format('VALUES (%s::bigint, %s::bigint)', :base_ana, :base_luis),
                  'after her SET and update, each agent gets the baseline cant_lose alerts (the cut is the portfolio''s)');
SELECT is((SELECT count(*) FROM cartera.alert WHERE kind = 'complaint' AND message LIKE 'Queja de %'), 1::bigint,
          'the complaint she recorded in English is stored in the portfolio''s language (es), not hers');

-- the manager changes the portfolio's settings; the table checks them
SET ROLE pd_marta;
SELECT lives_ok($$ INSERT INTO cartera.portfolio_setting (name, value) VALUES ('cartera.clv_lifespan', '5 years') $$,
                'a manager sets the portfolio''s CLV lifespan');
SELECT throws_ok($$ INSERT INTO cartera.portfolio_setting (name, value) VALUES ('cartera.at_risk_after', 'soon') $$,
                 '22023', NULL, 'a value the setting refuses is refused');
SELECT throws_ok($$ INSERT INTO cartera.portfolio_setting (name, value) VALUES ('work_mem', '1GB') $$,
                 '23514', NULL, 'only the portfolio settings can be set');
SELECT throws_ok($$ UPDATE cartera.portfolio_setting SET value = '-1 days' WHERE name = 'cartera.clv_lifespan' $$,
                 '22023', NULL, 'an update is checked too');
RESET ROLE;
SELECT is((SELECT value FROM cartera.portfolio_settings WHERE name = 'cartera.clv_lifespan'), '5 years', 'portfolio_settings shows the value in force');
SELECT is((SELECT count(*) FROM cartera.portfolio_settings p JOIN pg_settings g USING (name)
            WHERE p.name LIKE 'cartera.%' AND p.default_value IS DISTINCT FROM g.boot_val), 0::bigint,
          'the defaults of portfolio_settings are those of the server settings (pg_settings.boot_val)');
SELECT is((SELECT count(*) FROM pg_settings WHERE name LIKE 'cartera.%' AND name NOT IN (SELECT name FROM cartera.portfolio_settings)
              AND name NOT LIKE 'cartera.deferred\_%'), 0::bigint,
          'every cartera.* setting is a portfolio setting (but the deferred worker''s, which are the server''s)');
SELECT is((SELECT string_agg(name || ' ' || context, ', ' ORDER BY name) FROM pg_settings WHERE name LIKE 'cartera.deferred\_%'),
          'cartera.deferred_batch_size sighup, cartera.deferred_naptime sighup',
          'the worker''s settings that exist without preloading are the server''s (sighup), not a session''s');
DO $$ BEGIN PERFORM cartera.refresh(now()); END $$;
SELECT is((SELECT count(*) FROM cartera.customer_state s JOIN pd_clv p USING (customer_id) WHERE s.clv = p.clv * 5 / 3), 20::bigint,
          'after refresh() every stored CLV uses the portfolio''s 5-year lifespan');
SET ROLE pd_ana;
SELECT throws_ok($$ UPDATE cartera.portfolio_setting SET value = '1000 years' WHERE name = 'cartera.clv_lifespan' $$,
                 '42501', NULL, 'an agent cannot change the portfolio''s settings');
SELECT is((SELECT count(*) FROM cartera.portfolio_settings), 20::bigint, 'an agent reads the portfolio''s settings');
RESET ROLE;
SELECT is(current_setting('cartera.clv_lifespan'), '3 years', 'the maintenance left the session''s own setting as it was');

------------------------------------------------------------------------------
-- 5. every path that changes the owner moves the open alerts
------------------------------------------------------------------------------
SELECT customer_id AS moved FROM cartera.alert WHERE agent_id = :ana AND kind = 'cant_lose' AND customer_id IS NOT NULL ORDER BY customer_id LIMIT 1 \gset
INSERT INTO cartera.alert (customer_id, agent_id, kind, colour, raised_at, due_on, message, status, closed_at)
  VALUES (:moved, :ana, 'reactivation', 'amber', now() - interval '40 days', current_date - 30, 'worked', 'done', now() - interval '30 days');
SELECT ok((SELECT count(*) FROM cartera.alert WHERE customer_id = :moved AND status IN ('open', 'acknowledged', 'snoozed')) > 0,
          'the customer to move has open alerts');
SET ROLE pd_marta;
UPDATE cartera.customer SET owner_agent_id = :luis WHERE customer_id = :moved;
RESET ROLE;
SELECT is((SELECT count(*) FROM cartera.alert WHERE customer_id = :moved AND status IN ('open', 'acknowledged', 'snoozed') AND agent_id <> :luis),
          0::bigint, 'a manager''s UPDATE ... SET owner_agent_id moves the open alerts to the new owner');
SELECT is((SELECT count(*) FROM cartera.alert WHERE customer_id = :moved AND status = 'done' AND agent_id = :ana),
          1::bigint, 'closed alerts stay with the agent who worked them');
SELECT is((SELECT sum(open_alerts) FROM cartera.agent_portfolio WHERE agent_id = :ana)::bigint,
          (SELECT count(*) FROM cartera.alert WHERE agent_id = :ana AND status IN ('open', 'acknowledged', 'snoozed')),
          'agent_portfolio counts the alerts where they are');
SET ROLE pd_luis;
SELECT ok((SELECT count(*) FROM cartera.alert WHERE customer_id = :moved AND status = 'open') > 0, 'the new owner sees and works them');
RESET ROLE;

------------------------------------------------------------------------------
-- 3. ids are assigned by cartera only, and a customer's id never changes
------------------------------------------------------------------------------
SET ROLE pd_ana;
SELECT throws_ok($$ INSERT INTO cartera.customer (customer_id, full_name) VALUES (900000000, 'ahead') $$,
                 '42501', 'permission denied for table customer', 'an agent cannot choose a customer id');
SELECT throws_ok(format($$ INSERT INTO cartera.purchase (purchase_id, customer_id, purchased_at, amount) VALUES (900000000, %s, now(), 1) $$,
                        (SELECT min(customer_id) FROM pd_customers WHERE owner_agent_id = :ana)),
                 '42501', 'permission denied for table purchase', 'an agent cannot choose a purchase id');
SELECT throws_ok($$ INSERT INTO cartera.interaction (interaction_id, customer_id, channel) VALUES (900000000, 1, 'phone') $$,
                 '42501', 'permission denied for table interaction', 'an agent cannot choose an interaction id');
SELECT throws_ok(format($$ UPDATE cartera.customer SET customer_id = 900000000 WHERE customer_id = %s $$,
                        (SELECT min(customer_id) FROM pd_customers WHERE owner_agent_id = :ana)),
                 '42501', 'permission denied for table customer', 'an agent cannot change a customer id');
SELECT lives_ok($$ INSERT INTO cartera.customer (full_name) VALUES ('nuevo de Ana') $$, 'an agent adds a customer without an id');
RESET ROLE;
-- a lead (no purchase refers to it, so only cartera can object to a new id)
INSERT INTO cartera.customer (full_name, owner_agent_id) VALUES ('lead sin compras', :ana);
SET ROLE pd_marta;
SELECT throws_ok($$ INSERT INTO cartera.customer (customer_id, full_name) VALUES (900000000, 'ahead') $$,
                 '42501', 'permission denied for table customer', 'a manager cannot choose a customer id');
SELECT throws_ok($$ UPDATE cartera.customer SET customer_id = customer_id + 1000000 WHERE full_name = 'lead sin compras' $$,
                 '42501', 'permission denied for table customer', 'a manager cannot change a customer id');
SELECT throws_ok($$ INSERT INTO cartera.agent (agent_id, name) VALUES (900000000, 'ahead') $$,
                 '42501', 'permission denied for table agent', 'a manager cannot choose an agent id');
SELECT lives_ok($$ INSERT INTO cartera.agent (name, login) VALUES ('Marta', 'pd_marta') $$, 'a manager adds an agent without an id');
RESET ROLE;
-- the owner cannot change an id either (the state would be orphaned)
SELECT throws_ok($$ UPDATE cartera.customer SET customer_id = customer_id + 1000000 WHERE full_name = 'lead sin compras' $$,
                 '0A000', NULL, 'nobody changes a customer id, not even the owner');
SELECT is((SELECT count(*) FROM cartera.customer_state s WHERE NOT EXISTS (SELECT 1 FROM cartera.customer c WHERE c.customer_id = s.customer_id)),
          0::bigint, 'no orphan state row');
SELECT is((SELECT sum(customers) FROM cartera.lifecycle_summary), (SELECT count(*) FROM cartera.customer)::numeric,
          'lifecycle_summary counts every customer once');
-- a loader (the owner) may bring its own ids: the sequence moves past them,
-- so the next customers added without an id do not collide (0.3.0: 23505)
SELECT last_value AS seq_at FROM cartera.customer_customer_id_seq \gset
INSERT INTO cartera.customer (customer_id, full_name) SELECT :seq_at + i, 'cargado ' || i FROM generate_series(1, 1000) i;
SET ROLE pd_ana;
SELECT lives_ok($$ INSERT INTO cartera.customer (full_name) SELECT 'después ' || i FROM generate_series(1, 3) i $$,
                'after a load with explicit ids, an agent''s new customers get fresh ids');
RESET ROLE;
SELECT lives_ok($$ INSERT INTO cartera.customer (full_name) SELECT 'lote ' || i FROM generate_series(1, 5000) i $$,
                'and so does a bulk insert of the loader');
SELECT ok((SELECT min(customer_id) FROM cartera.customer WHERE full_name LIKE 'después %') > :seq_at + 1000, 'the new ids follow the loaded ones');

------------------------------------------------------------------------------
-- 1. a deleted customer takes everything about them along
------------------------------------------------------------------------------
SELECT customer_id AS gone FROM cartera.customer WHERE full_name = 'nuevo de Ana' \gset
INSERT INTO cartera.purchase (customer_id, purchased_at, amount) VALUES (:gone, now() - interval '1 day', 10);
INSERT INTO cartera.interaction (customer_id, channel, is_complaint, note) VALUES (:gone, 'phone', true, 'secreto de Ana');
DELETE FROM cartera.purchase WHERE customer_id = :gone;
SELECT ok((SELECT count(*) FROM cartera.status_transition WHERE customer_id = :gone) >= 2
          AND (SELECT count(*) FROM cartera.alert WHERE customer_id = :gone) > 0,
          'the customer to delete has history and alerts');
SET ROLE pd_marta;
DELETE FROM cartera.customer WHERE customer_id = :gone;
RESET ROLE;
SELECT is((SELECT count(*) FROM cartera.status_transition WHERE customer_id = :gone)
          + (SELECT count(*) FROM cartera.alert WHERE customer_id = :gone)
          + (SELECT count(*) FROM cartera.interaction WHERE customer_id = :gone)
          + (SELECT count(*) FROM cartera.customer_state WHERE customer_id = :gone), 0::bigint,
          'deleting a customer deletes their transitions, alerts, interactions and state');
-- the owner re-creates the id for someone else: they start with no history
INSERT INTO cartera.customer (customer_id, full_name, owner_agent_id) VALUES (:gone, 'otra persona', :luis);
SELECT count(*) AS luis_transitions FROM cartera.status_transition t JOIN cartera.customer c USING (customer_id)
 WHERE c.owner_agent_id = :luis AND c.customer_id <> :gone \gset
SET ROLE pd_luis;
SELECT is((SELECT count(*) FROM cartera.status_transition WHERE customer_id = :gone), 0::bigint,
          'a new customer with a deleted customer''s id inherits no history');
SELECT is((SELECT coalesce(sum(transitions), 0) FROM cartera.segment_migration), :luis_transitions::numeric,
          'and segment_migration shows nothing of the deleted customer to the other agent');
RESET ROLE;

------------------------------------------------------------------------------
-- 2. an erasure request: forget_customer()
------------------------------------------------------------------------------
SELECT min(customer_id) AS forgotten FROM pd_customers WHERE owner_agent_id = :luis \gset
SELECT max(customer_id) AS twin FROM pd_customers WHERE owner_agent_id = :luis \gset
UPDATE cartera.customer SET phone = '+34 600 000 000', birthday = '1980-05-05', city = 'Lugo', company = 'ACME',
       life_events = '[{"event": "boda", "date": "2020-01-01"}]', lost_reason = 'precio'
 WHERE customer_id = :forgotten;
INSERT INTO cartera.interaction (customer_id, channel, is_complaint, need, note)
  VALUES (:forgotten, 'phone', true, 'quiere rebaja', 'llamó furioso, vive en la calle Mayor 3');
-- a merge into them keeps the duplicate's registry row
SELECT keep_id AS merged_keep FROM cartera.merge_customers(:forgotten, (SELECT max(customer_id) FROM cartera.customer WHERE full_name LIKE 'lote %')) \gset
CREATE TEMP TABLE pd_before AS
  SELECT (SELECT summary FROM cartera.customer_state WHERE customer_id = :forgotten) AS summary,
         (SELECT count(*) FROM cartera.purchase WHERE customer_id = :forgotten) AS purchases,
         (SELECT sum(revenue) FROM cartera.segment_summary) AS revenue;
SET ROLE pd_luis;
SELECT throws_ok(format('SELECT cartera.forget_customer(%s)', :forgotten), '42501', NULL, 'an agent cannot erase a customer');
RESET ROLE;
SET ROLE pd_marta;
SELECT is((cartera.forget_customer(:forgotten) ->> 'interactions')::int, 1, 'a manager erases a customer in one call');
SELECT throws_ok('SELECT cartera.forget_customer(NULL)', '22004', 'customer to forget must not be null', 'forget_customer(NULL) is an error');
SELECT throws_ok('SELECT cartera.forget_customer(-1)', 'P0002', 'customer -1 does not exist', 'an unknown customer is an error');
RESET ROLE;
SELECT is((SELECT row(full_name, email, phone, birthday, city, company, life_events, lost_reason, marketing_consent)::text
             FROM cartera.customer WHERE customer_id = :forgotten),
          row(format('customer %s', :forgotten), NULL::text, NULL::text, NULL::date, NULL::text, NULL::text, '[]'::jsonb, NULL::text, false)::text,
          'the registry keeps no personal data');
SELECT is((SELECT count(*) FROM cartera.alert WHERE customer_id = :forgotten
            AND (message LIKE '%cliente%' OR detail IS NOT NULL OR status IN ('open', 'acknowledged', 'snoozed'))), 0::bigint,
          'alert messages no longer name them or quote their complaints, and none is open');
SELECT is((SELECT count(*) FROM cartera.interaction WHERE customer_id = :forgotten AND (note IS NOT NULL OR need IS NOT NULL)), 0::bigint,
          'interaction notes and needs are erased');
SELECT is((SELECT count(*) FROM cartera.customer_merge WHERE (keep_id = :forgotten OR drop_id = :forgotten) AND dropped_row ? 'full_name'), 0::bigint,
          'merge records keep no registry row of them');
SELECT results_eq($$ SELECT (SELECT summary FROM cartera.customer_state WHERE customer_id = $$ || :forgotten || $$)::text,
                            (SELECT count(*) FROM cartera.purchase WHERE customer_id = $$ || :forgotten || $$),
                            (SELECT sum(revenue) FROM cartera.segment_summary) $$,
                  $$ SELECT summary::text, purchases, revenue FROM pd_before $$,
                  'the anonymous facts stay: state, purchases, revenue per segment');
INSERT INTO cartera.interaction (customer_id, channel, is_complaint) VALUES (:forgotten, 'phone', true);
INSERT INTO cartera.purchase (customer_id, purchased_at, amount, category) VALUES (:forgotten, now(), 5, 'x');
SELECT is((SELECT count(*) FROM cartera.alert WHERE customer_id = :forgotten AND status = 'open'), 0::bigint,
          'no alert is raised for a forgotten customer (not even a complaint or a welcome back)');

SELECT * FROM finish();
ROLLBACK;
