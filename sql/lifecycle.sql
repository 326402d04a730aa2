-- cartera.lifecycle(purchased_at, as_of): where a customer is in their life cycle.
-- Rules, in order: no purchase -> lead; recency > lost_after -> lost;
-- > dormant_after -> dormant; > at_risk_after -> at_risk; first purchase within
-- new_window -> new; gap before the last purchase > dormant_after -> reactivated;
-- else active.
SET search_path = public, cartera;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

-- The cartera.* settings exist once the library is loaded (any cartera call
-- loads it; shared_preload_libraries or session_preload_libraries make them
-- known from the start of every session).
LOAD 'cartera';
SHOW cartera.at_risk_after;
SHOW cartera.dormant_after;
SHOW cartera.lost_after;
SHOW cartera.new_window;
SHOW cartera.lifecycle_mode;

CREATE TEMP TABLE purchase (customer text, purchased_at date);
INSERT INTO purchase VALUES
  ('lead',        NULL),                 -- a prospect with no purchase (LEFT JOIN style row)
  ('new',         '2024-06-20'),
  ('active',      '2024-01-10'), ('active', '2024-03-10'), ('active', '2024-06-01'),
  ('reactivated', '2023-09-01'), ('reactivated', '2024-06-10'),   -- came back after 283 days
  ('at_risk',     '2024-01-01'), ('at_risk', '2024-04-15'),        -- 76 days ago
  ('dormant',     '2023-12-01'), ('dormant', '2024-02-01'),        -- 150 days ago
  ('lost',        '2022-05-01'), ('lost', '2023-05-01'),           -- 426 days ago
  ('future_only', '2024-12-24');                                   -- buys after as_of: still a lead

SELECT customer, lifecycle(purchased_at, date '2024-06-30') AS status,
       (rfm(purchased_at, 1::bigint, date '2024-06-30')).recency_days
  FROM purchase GROUP BY customer ORDER BY status, customer;

-- Thresholds are settings; SET changes them for the session.
SET cartera.at_risk_after = '90 days';
SELECT lifecycle(purchased_at, date '2024-06-30') FROM purchase WHERE customer = 'at_risk';
RESET cartera.at_risk_after;
SET cartera.lost_after = '1 year 6 months';
SELECT lifecycle(purchased_at, date '2024-06-30') FROM purchase WHERE customer = 'lost';
RESET cartera.lost_after;

-- Adaptive mode: at risk / dormant when recency also exceeds k x the customer's
-- own mean gap (cartera.at_risk_factor, cartera.dormant_factor), with the fixed
-- thresholds as the floor.  A customer who buys every ~100 days is not at risk
-- 76 days after the last purchase.
CREATE TEMP TABLE slow (purchased_at date);
INSERT INTO slow VALUES ('2023-07-01'), ('2023-10-09'), ('2024-01-17'), ('2024-04-15');
SELECT lifecycle(purchased_at, date '2024-06-30') AS fixed FROM slow;
SET cartera.lifecycle_mode = 'adaptive';
SELECT lifecycle(purchased_at, date '2024-06-30') AS adaptive FROM slow;
SELECT lifecycle(purchased_at, date '2024-10-30') AS adaptive_later FROM slow;
RESET cartera.lifecycle_mode;

-- The scalar form classifies a stored summary, at its own as_of or a later one.
CREATE TEMP TABLE summary AS
  SELECT customer, rfm(purchased_at, 1::bigint, date '2024-06-30') AS s
    FROM purchase GROUP BY customer;
SELECT customer, lifecycle_status(s) AS at_summary,
       lifecycle_status(s, '2024-09-30') AS three_months_later
  FROM summary ORDER BY customer;
-- the scalar and the aggregate agree
SELECT count(*) AS disagreements
  FROM summary JOIN (SELECT customer, lifecycle(purchased_at, date '2024-06-30') AS l
                       FROM purchase GROUP BY customer) a USING (customer)
 WHERE lifecycle_status(s) IS DISTINCT FROM a.l;
-- a summary cannot be classified before its own last purchase
SELECT lifecycle_status(s, '2024-01-01') FROM summary WHERE customer = 'new';

-- Bad settings are refused at SET time, with the reason.
SET cartera.at_risk_after = 'soon';
SET cartera.dormant_after = '-10 days';
SET cartera.lost_after = '0';
SET cartera.lifecycle_mode = 'magic';
SET cartera.at_risk_factor = 0.5;
SHOW cartera.at_risk_after;
