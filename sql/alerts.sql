-- Colour-coded follow-up alerts: raised by triggers (purchases, complaints)
-- and by the daily job cartera.run_followups(), all through one contact policy.
SET search_path = public, cartera;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET cartera.language = 'en';
-- what is stored (alert messages included) follows the portfolio's settings,
-- not the session's: the portfolio speaks English for this test
INSERT INTO portfolio_setting (name, value) VALUES ('cartera.language', 'en');

SELECT kind, colour, category, due_days, cooldown FROM alert_kind ORDER BY array_position(ARRAY['red', 'amber', 'green', 'blue'], colour), kind;

INSERT INTO agent (agent_id, name, login, region) VALUES (11, 'Ana', 'ana_alerts', 'Norte'), (12, 'Luis', 'luis_alerts', 'Sur');
-- new customers without an owner get the best-suited agent (same region first)
INSERT INTO customer (customer_id, full_name, region, country, marketing_consent, birthday, created_at) VALUES
  (201, 'Alba (champion)',   'Norte', 'ES', true,  NULL, now() - interval '2 years'),
  (202, 'Bruno (dormant)',   'Sur',   'ES', true,  NULL, now() - interval '2 years'),
  (203, 'Carla (dormant, no consent)', 'Sur', 'ES', false, NULL, now() - interval '2 years'),
  (204, 'Dario (lost)',      'Norte', 'ES', true,  NULL, now() - interval '3 years'),
  (205, 'Elena (idle lead)', 'Sur',   'ES', true,  NULL, now() - interval '30 days'),
  (206, 'Fran (birthday)',   'Norte', 'ES', true,  current_date + 3 - interval '40 years', now() - interval '1 year'),
  (207, 'Gala (new lead)',   NULL,    'ES', true,  NULL, now()),
  (209, 'Iris (Portugal)',   'Norte', 'PT', true,  NULL, now() - interval '1 year');
SELECT customer_id, full_name, owner_agent_id FROM customer WHERE customer_id > 200 ORDER BY customer_id;

-- A recent first purchase raises a green welcome; a cross-sell rule offers
-- something later.  (Each new alert is also announced with NOTIFY
-- cartera_alert: see test/specs/alert_concurrency.spec.)
INSERT INTO cross_sell_rule (bought_category, offer, after_days) VALUES ('cars', 'car insurance', 15);
INSERT INTO purchase (customer_id, purchased_at, amount, category) VALUES
  (206, now() - interval '20 days', 150, 'cars');
SELECT customer_id, kind, colour, due_on - current_date AS due_in_days, message, agent_id
  FROM alert ORDER BY alert_id;

-- History for the others: loading old purchases raises no welcome and no
-- cross-sell (their moment has passed).
INSERT INTO purchase (customer_id, purchased_at, amount, category) VALUES
  (201, now() - interval '400 days', 900, 'cars'),
  (201, now() - interval '300 days', 950, NULL), (201, now() - interval '200 days', 990, NULL),
  (201, now() - interval '70 days', 1200, NULL),
  (202, now() - interval '250 days', 40, NULL), (202, now() - interval '150 days', 35, NULL),
  (203, now() - interval '250 days', 30, NULL), (203, now() - interval '150 days', 25, NULL),
  (204, now() - interval '900 days', 60, NULL), (204, now() - interval '500 days', 20, NULL),
  (209, now() - interval '100 days', 20, NULL);
SELECT count(*) AS alerts_from_history FROM alert WHERE customer_id <> 206;
-- (Fran already had two contact alerts; with the default cap of 3 contacts
-- per 30 days only one more can reach her)
SELECT customer_id, status FROM customer_state WHERE customer_id > 200 ORDER BY customer_id;

-- A complaint is red at once, and never suppressed by the contact policy.
INSERT INTO interaction (customer_id, channel, is_complaint, sentiment, note)
  VALUES (203, 'phone', true, -2, 'the parcel arrived broken');
SELECT customer_id, kind, colour, message FROM alert WHERE kind = 'complaint';

-- The daily job: every rule at once.  High-value at risk -> red; dormant ->
-- amber reactivation (only with marketing consent); lost -> exit survey;
-- idle lead -> convert or reassign; birthday / occasion soon -> green; agent
-- behind the monthly goal -> blue.
-- (our own calendar: once cartera.occasion has rows, the built-in one with
-- Christmas, Black Friday... no longer applies)
INSERT INTO occasion (name_es, name_en, country, month, day)
  VALUES ('Fiesta local', 'Local feast', 'PT', extract(month FROM current_date + 2)::int, extract(day FROM current_date + 2)::int);
INSERT INTO agent_target (agent_id, month, revenue_target) VALUES (12, date_trunc('month', current_date), 100000);
SELECT * FROM run_followups() WHERE raised > 0;
SELECT customer_id, agent_id, kind, colour, due_on - current_date AS due_in_days
  FROM alert WHERE kind NOT IN ('welcome', 'cross_sell', 'complaint') ORDER BY kind, customer_id;
-- Carla is dormant but gave no consent: no marketing alert for her.
SELECT count(*) AS marketing_alerts_for_carla FROM alert a JOIN alert_kind k USING (kind)
 WHERE a.customer_id = 203 AND k.category = 'marketing';

-- Running it again the same day raises nothing new ...
SELECT sum(raised) AS raised_again FROM run_followups();
-- ... even after an alert was closed (each kind has a cool-down).
SELECT complete_alert(alert_id, 'called, offered 10 %') FROM alert WHERE customer_id = 202 AND kind = 'reactivation';
SELECT sum(raised) AS raised_after_closing FROM run_followups();

-- Acting on alerts: open -> acknowledged -> done; snoozed until a date; dismissed.
SELECT acknowledge_alert(alert_id) FROM alert WHERE kind = 'exit_survey';
SELECT snooze_alert(alert_id, current_date + 7) FROM alert WHERE kind = 'idle_lead';
SELECT dismiss_alert(alert_id, 'the customer moved abroad') FROM alert WHERE kind = 'cant_lose';
SELECT kind, status, snoozed_until - current_date AS snoozed_days, resolution FROM alert
 WHERE kind IN ('exit_survey', 'idle_lead', 'cant_lose', 'reactivation') ORDER BY kind;
SELECT complete_alert(alert_id) FROM alert WHERE kind = 'cant_lose';
SELECT snooze_alert(alert_id, date '2000-01-01') FROM alert WHERE kind = 'exit_survey';
SELECT acknowledge_alert(-1);

-- The contact policy caps contact alerts per customer and window: the
-- portfolio's cap (a session's own SET cartera.max_contacts changes nothing
-- that is stored).
SET cartera.max_contacts = 1000;
INSERT INTO portfolio_setting (name, value) VALUES ('cartera.max_contacts', '1');
INSERT INTO customer (customer_id, full_name, marketing_consent, owner_agent_id) VALUES (208, 'Hugo (capped)', true, 11);
INSERT INTO purchase (customer_id, purchased_at, amount, category) VALUES (208, now() - interval '1 day', 30000, 'cars');
SELECT kind FROM alert WHERE customer_id = 208 ORDER BY kind;
RESET cartera.max_contacts;
DELETE FROM portfolio_setting WHERE name = 'cartera.max_contacts';

-- At most one open alert per (customer, kind), enforced by a unique index.
INSERT INTO alert (customer_id, agent_id, kind, colour, raised_at, due_on, message)
  SELECT customer_id, agent_id, kind, colour, now(), current_date, 'duplicate' FROM alert WHERE kind = 'birthday';

-- Lead assignment by hand: reassign moves the customer and their open alerts.
SELECT assign_owner(207) AS kept, assign_owner(207, reassign => true) AS moved_to;
SELECT assign_owner(999);

-- A purchase after dormancy: welcome back.
INSERT INTO purchase (customer_id, purchased_at, amount) VALUES (202, now(), 80);
SELECT customer_id, kind, colour FROM alert WHERE kind = 'welcome_back';

-- Why does a customer have their status and alerts?  (Its dates are shown
-- relative to today, so that the output is the same on any day the test runs.)
CREATE FUNCTION pg_temp.relative_dates(t text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE d text;
BEGIN
  FOR d IN SELECT DISTINCT m[1] FROM regexp_matches(t, '(\d{4}-\d{2}-\d{2})', 'g') m LOOP
    t := replace(t, d, 'today' || to_char(d::date - current_date, 'FMS999999'));
  END LOOP;
  RETURN replace(t, 'today+0', 'today');
END $$;
SELECT pg_temp.relative_dates(e) AS explain FROM explain(203) e;

-- Segment names are data: the built-in grid until the DBA customizes it; a
-- customized map must cover every R x F cell exactly once.
SELECT segment_label('555'), segment_label('555', 'es'), segment_label('133'), segment_label('991');
SELECT segment_map_customize() AS rectangles;
SELECT segment_map_customize();
UPDATE segment_map SET r_min = 4 WHERE name_en = 'Champions';
UPDATE segment_map SET r_max = 3 WHERE name_en = 'Loyal';
UPDATE segment_map SET f_max = 3 WHERE name_en = 'Champions';
-- a consistent change is accepted (and kept by pg_dump)
UPDATE segment_map SET name_en = 'Stars', name_es = 'Estrellas' WHERE name_en = 'Champions';
SELECT segment_label('555') AS renamed;

-- The daily job under pg_cron: a clear error when pg_cron is not installed.
SELECT schedule();

-- Leave the database as we found it for the tests that follow.
DELETE FROM alert;
DELETE FROM interaction;
DELETE FROM purchase WHERE customer_id BETWEEN 201 AND 209;
DELETE FROM customer WHERE customer_id BETWEEN 201 AND 209;
DELETE FROM cross_sell_rule;
DELETE FROM agent_target;
DELETE FROM agent WHERE agent_id IN (11, 12);
DELETE FROM occasion;
DELETE FROM segment_map;
DELETE FROM status_transition;
DELETE FROM portfolio_setting;
SELECT (SELECT count(*) FROM customer) AS customers, (SELECT count(*) FROM customer_state) AS states;
