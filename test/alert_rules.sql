-- Every alert rule: raised when it should, not when it should not, with the
-- contact policy (consent, cap, cool-down) applied in one place.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS cartera;
-- no holdout groups here: which customers they hold out depends on the month
-- (test/followup_uplift.sql tests them on fixed dates)
UPDATE cartera.alert_kind SET holdout_share = 0;
SET search_path = public, cartera;
SET client_min_messages = warning;
SELECT plan(35);

INSERT INTO cartera.agent (agent_id, name, login, region) VALUES (71, 'Ana', 'ana_rules', 'N'), (72, 'Luis', 'luis_rules', 'S');

-- helper: alerts of a kind for a customer
CREATE FUNCTION pg_temp.n(c bigint, k text) RETURNS bigint LANGUAGE sql AS
  $$ SELECT count(*) FROM cartera.alert WHERE customer_id = c AND kind = k $$;

-- welcome -------------------------------------------------------------------
INSERT INTO cartera.customer (customer_id, full_name, owner_agent_id, marketing_consent) VALUES
  (7001, 'recent first purchase', 71, true), (7002, 'old history', 71, true);
INSERT INTO cartera.purchase (customer_id, purchased_at, amount) VALUES (7001, now() - interval '2 days', 10);
INSERT INTO cartera.purchase (customer_id, purchased_at, amount) VALUES (7002, now() - interval '200 days', 10);
SELECT is(pg_temp.n(7001, 'welcome'), 1::bigint, 'welcome: a recent first purchase');
SELECT is(pg_temp.n(7002, 'welcome'), 0::bigint, 'welcome: not for a first purchase long ago (history load)');
INSERT INTO cartera.purchase (customer_id, purchased_at, amount) VALUES (7001, now() - interval '1 day', 10);
SELECT is(pg_temp.n(7001, 'welcome'), 1::bigint, 'welcome: once, not again on the second purchase');

-- welcome back --------------------------------------------------------------
INSERT INTO cartera.purchase (customer_id, purchased_at, amount) VALUES (7002, now(), 10);
SELECT is(pg_temp.n(7002, 'welcome_back'), 1::bigint, 'welcome_back: a purchase after dormancy');
SELECT is(pg_temp.n(7001, 'welcome_back'), 0::bigint, 'welcome_back: not for a customer who never left');

-- cross-sell ----------------------------------------------------------------
INSERT INTO cartera.cross_sell_rule (bought_category, offer, after_days) VALUES ('bikes', 'helmet', 3);
INSERT INTO cartera.customer (customer_id, full_name, owner_agent_id, marketing_consent) VALUES
  (7003, 'bike buyer', 71, true), (7004, 'bike buyer, no consent', 71, false), (7005, 'book buyer', 71, true);
INSERT INTO cartera.purchase (customer_id, purchased_at, amount, category) VALUES
  (7003, now() - interval '1 day', 300, 'bikes'), (7004, now() - interval '1 day', 300, 'bikes'),
  (7005, now() - interval '1 day', 30, 'books');
SELECT is(pg_temp.n(7003, 'cross_sell'), 1::bigint, 'cross_sell: a purchase matching a rule');
SELECT is((SELECT due_on - current_date FROM cartera.alert WHERE customer_id = 7003 AND kind = 'cross_sell'), 2,
          'cross_sell: due after_days after the purchase');
SELECT is(pg_temp.n(7004, 'cross_sell'), 0::bigint, 'cross_sell: not without marketing consent');
SELECT is(pg_temp.n(7005, 'cross_sell'), 0::bigint, 'cross_sell: not for a purchase matching no rule');

-- complaint -----------------------------------------------------------------
INSERT INTO cartera.interaction (customer_id, channel, is_complaint, note) VALUES
  (7004, 'email', true, 'late delivery'), (7005, 'email', false, 'asked about opening hours');
SELECT is(pg_temp.n(7004, 'complaint'), 1::bigint, 'complaint: raised without marketing consent too');
SELECT is(pg_temp.n(7005, 'complaint'), 0::bigint, 'complaint: not for an interaction that is not a complaint');
SELECT is((SELECT colour FROM cartera.alert WHERE customer_id = 7004 AND kind = 'complaint'), 'red', 'complaint: red');

-- the daily job -------------------------------------------------------------
INSERT INTO cartera.customer (customer_id, full_name, owner_agent_id, marketing_consent, lost_reason, birthday, country, created_at) VALUES
  (7010, 'big spender at risk', 71, true, NULL, NULL, NULL, now() - interval '3 years'),
  (7011, 'small spender at risk', 71, true, NULL, NULL, NULL, now() - interval '3 years'),
  (7012, 'dormant, consent', 72, true, NULL, NULL, NULL, now() - interval '3 years'),
  (7013, 'dormant, no consent', 72, false, NULL, NULL, NULL, now() - interval '3 years'),
  (7014, 'lost, no reason', 72, true, NULL, NULL, NULL, now() - interval '3 years'),
  (7015, 'lost, reason known', 72, true, 'moved away', NULL, NULL, now() - interval '3 years'),
  (7016, 'idle lead', 72, true, NULL, NULL, NULL, now() - interval '60 days'),
  (7017, 'lead we called', 72, true, NULL, NULL, NULL, now() - interval '60 days'),
  (7018, 'brand new lead', 72, true, NULL, NULL, NULL, now()),
  (7019, 'birthday in 2 days', 71, true, NULL, current_date + 2 - interval '30 years', NULL, now() - interval '3 years'),
  (7020, 'birthday in 40 days', 71, true, NULL, current_date + 40 - interval '30 years', NULL, now() - interval '3 years'),
  (7021, 'in Chile', 71, true, NULL, NULL, 'CL', now() - interval '3 years'),
  (7022, 'in Peru', 71, true, NULL, NULL, 'PE', now() - interval '3 years');
INSERT INTO cartera.purchase (customer_id, purchased_at, amount) VALUES
  (7010, now() - interval '300 days', 5000), (7010, now() - interval '90 days', 5000),
  (7011, now() - interval '300 days', 5), (7011, now() - interval '90 days', 5),
  (7012, now() - interval '200 days', 20), (7013, now() - interval '200 days', 20),
  (7014, now() - interval '500 days', 20), (7015, now() - interval '500 days', 20);
INSERT INTO cartera.interaction (customer_id, channel, note, happened_at) VALUES (7017, 'phone', 'interested', now() - interval '3 days');
INSERT INTO cartera.occasion (name_es, name_en, country, month, day)
  VALUES ('Fiestas Patrias', 'National holidays', 'CL', extract(month FROM current_date + 3)::int, extract(day FROM current_date + 3)::int);
INSERT INTO cartera.agent_target (agent_id, month, revenue_target) VALUES
  (71, date_trunc('month', current_date), 1e9), (72, date_trunc('month', current_date), 50);
-- agent 72 sold 100 this month: ahead of a goal of 50
INSERT INTO cartera.purchase (customer_id, purchased_at, amount) VALUES (7017, now(), 100);
CREATE TEMP TABLE first_run AS SELECT * FROM cartera.run_followups();

SELECT is(pg_temp.n(7010, 'cant_lose'), 1::bigint, 'cant_lose: a high-value customer at risk');
SELECT is(pg_temp.n(7011, 'cant_lose'), 0::bigint, 'cant_lose: not a low-value customer at risk');
SELECT is(pg_temp.n(7012, 'reactivation'), 1::bigint, 'reactivation: a dormant customer with consent');
SELECT is(pg_temp.n(7013, 'reactivation'), 0::bigint, 'reactivation: not without consent');
SELECT is(pg_temp.n(7001, 'reactivation'), 0::bigint, 'reactivation: not for an active customer');
SELECT is(pg_temp.n(7014, 'exit_survey'), 1::bigint, 'exit_survey: a lost customer whose reason we do not know');
SELECT is(pg_temp.n(7015, 'exit_survey'), 0::bigint, 'exit_survey: not when the reason is recorded');
SELECT is(pg_temp.n(7016, 'idle_lead'), 1::bigint, 'idle_lead: a lead with no purchase and no contact for weeks');
SELECT is(pg_temp.n(7017, 'idle_lead'), 0::bigint, 'idle_lead: not a lead contacted recently');
SELECT is(pg_temp.n(7018, 'idle_lead'), 0::bigint, 'idle_lead: not a lead created today');
SELECT is(pg_temp.n(7019, 'birthday'), 1::bigint, 'birthday: within the horizon');
SELECT is(pg_temp.n(7020, 'birthday'), 0::bigint, 'birthday: not 40 days ahead');
SELECT is(pg_temp.n(7021, 'occasion'), 1::bigint, 'occasion: a holiday of the customer''s country');
SELECT is(pg_temp.n(7022, 'occasion'), 0::bigint, 'occasion: not a holiday of another country');
SELECT is((SELECT count(*) FROM cartera.alert WHERE kind = 'below_target' AND agent_id = 71), 1::bigint,
          'below_target: the agent behind the pace of the monthly goal');
SELECT is((SELECT count(*) FROM cartera.alert WHERE kind = 'below_target' AND agent_id = 72), 0::bigint,
          'below_target: not the agent ahead of the goal');
SELECT is((SELECT raised FROM first_run WHERE kind = 'reactivation'), 1::bigint, 'run_followups reports the alerts it raised per kind');
SELECT is((SELECT sum(raised) FROM cartera.run_followups()), 0::numeric, 'a second run the same day raises nothing');

-- the cap: at most cartera.max_contacts (the portfolio's) contact alerts per customer and window
INSERT INTO cartera.portfolio_setting (name, value) VALUES ('cartera.max_contacts', '1') ON CONFLICT (name) DO UPDATE SET value = excluded.value;
INSERT INTO cartera.customer (customer_id, full_name, owner_agent_id, marketing_consent) VALUES (7030, 'capped', 71, true);
INSERT INTO cartera.purchase (customer_id, purchased_at, amount, category) VALUES (7030, now() - interval '1 day', 300, 'bikes');
SELECT is((SELECT count(*) FROM cartera.alert a JOIN cartera.alert_kind k USING (kind)
            WHERE a.customer_id = 7030 AND k.category IN ('relationship', 'marketing')), 1::bigint,
          'cap: one contact alert when cartera.max_contacts = 1 (welcome and cross-sell were both due)');
INSERT INTO cartera.interaction (customer_id, channel, is_complaint) VALUES (7030, 'phone', true);
SELECT is(pg_temp.n(7030, 'complaint'), 1::bigint, 'cap: complaints are never capped');
DELETE FROM cartera.portfolio_setting WHERE name = 'cartera.max_contacts';

-- transitions: a Champion who falls to At Risk raises one alert at once
INSERT INTO cartera.customer (customer_id, full_name, owner_agent_id) VALUES (7040, 'champion', 71);
INSERT INTO cartera.purchase (customer_id, purchased_at, amount)
  SELECT 7040, now() - (i * 3 + 70) * interval '1 day', 500 FROM generate_series(1, 30) i;
UPDATE cartera.customer_state SET segment = '555', status = 'active' WHERE customer_id = 7040;
SELECT is((SELECT count(*) FROM cartera.raise_transition_alerts(
             ARRAY[ROW(7040, 'active', 'at_risk', '555', '555')::cartera.state_transition], now())), 1::bigint,
          'champion_at_risk: raised when a Champion becomes at risk');
SELECT is(pg_temp.n(7040, 'champion_at_risk'), 1::bigint, 'champion_at_risk: one alert');

-- occasion dates
SELECT is((SELECT array_agg(cartera.occasion_date(o, 2024) ORDER BY (o).name_en, (o).country)
             FROM (VALUES (ROW(0, 'Madre', 'Mother''s Day', 'ES', 5, NULL, 0, 1, 0)::cartera.occasion),
                          (ROW(0, 'Madre', 'Mother''s Day', 'US', 5, NULL, 0, 2, 0)::cartera.occasion),
                          (ROW(0, 'Black Friday', 'Black Friday', NULL, 11, NULL, 4, 4, 1)::cartera.occasion),
                          (ROW(0, 'Último lunes', 'Last Monday of May', NULL, 5, NULL, 1, -1, 0)::cartera.occasion)) v(o)),
          ARRAY[date '2024-11-29', date '2024-05-27', date '2024-05-05', date '2024-05-12'],
          'occasion_date: nth and last weekdays, offsets');

SELECT * FROM finish();
ROLLBACK;
