-- Customer lifetime value, the seed article's formula:
--   CLV = average ticket x purchase frequency (per year) x relationship lifespan (years)
SET search_path = public, cartera;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

-- Worked example: a customer who spends 50 on average, buys 4 times a year and
-- is expected to stay 3 years is worth 50 x 4 x 3 = 600; at a 30 % margin, 180.
SELECT clv_simple(50, 4, 3) AS revenue_clv, clv_simple(50, 4, 3, 0.30) AS profit_clv;

-- The aggregate computes the three factors from the purchase rows.  Purchases
-- per year are measured over the observed relationship (as_of - first
-- purchase), at least one year, so a customer seen for a month is not
-- extrapolated to twelve times their purchases.
CREATE TEMP TABLE purchase (customer_id int, purchased_at date, amount numeric);
INSERT INTO purchase VALUES
  -- two years of history, 8 purchases of 50: avg 50, 4 a year -> 600 over 3 years
  (1, '2022-07-01', 50), (1, '2022-10-01', 50), (1, '2023-01-01', 50), (1, '2023-04-01', 50),
  (1, '2023-07-01', 50), (1, '2023-10-01', 50), (1, '2024-01-01', 50), (1, '2024-04-01', 50),
  -- one month of history, 2 purchases of 30: counted over one year -> 60 a year
  (2, '2024-06-01', 30), (2, '2024-06-15', 30),
  -- a refund lowers the value
  (3, '2024-01-01', 100), (3, '2024-02-01', -100), (3, '2024-03-01', 40);

SELECT customer_id,
       (rfm(purchased_at, amount, date '2024-06-30')).avg_ticket,
       (rfm(purchased_at, amount, date '2024-06-30')).purchases,
       clv(purchased_at, amount, date '2024-06-30', interval '3 years') AS clv_3_years
  FROM purchase GROUP BY customer_id ORDER BY customer_id;
-- customer 1 is (near) the worked example: observed 2 years -> 8 / 2 = 4 a year
SELECT clv_simple(50, 8 / ((date '2024-06-30' - date '2022-07-01') / 365.25)::numeric, 3) AS by_hand;

-- Without as_of the transaction timestamp is used, like the other aggregates.
SELECT clv(purchased_at, amount, interval '1 year') > 0 AS positive FROM purchase WHERE customer_id = 1;

-- Bad input.
SELECT clv_simple(50, -1, 3);
SELECT clv_simple(50, 4, -3);
SELECT clv_simple(50, 4, 3, 1.5);
SELECT clv_simple('NaN', 4, 3);
SELECT clv_simple(50, 'NaN', 3);
SELECT clv(purchased_at, amount, date '2024-06-30', interval '-1 year') FROM purchase;
SELECT clv(purchased_at, amount, date '2024-06-30', NULL::interval) FROM purchase;
