-- cartera.rfm(purchased_at, amount, as_of): one pass over a customer's purchase
-- rows gives the whole RFM summary.
SET search_path = public, cartera;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

CREATE TEMP TABLE purchase (customer_id int, purchased_at timestamptz, amount numeric);
INSERT INTO purchase VALUES
  -- customer 1: three purchase days, two rows on the first day
  (1, '2024-01-10 09:00', 20.00), (1, '2024-01-10 17:30', 5.50),
  (1, '2024-02-10 12:00', 30.00), (1, '2024-03-01 08:00', 10.25),
  -- customer 2: one purchase, then a refund (negative amount)
  (2, '2024-02-01 10:00', 100.00), (2, '2024-02-05 10:00', -40.00),
  -- customer 3: a free (zero amount) order is still a purchase
  (3, '2024-01-15 10:00', 0), (3, '2024-02-15 10:00', 12.00),
  -- customer 4: NULL amount and NULL date rows are skipped
  (4, '2024-01-20 10:00', 15.00), (4, NULL, 99.00), (4, '2024-02-20 10:00', NULL),
  -- customer 5: only buys after as_of, so at as_of it is a lead
  (5, '2024-06-01 10:00', 50.00),
  -- customer 6: a purchase after as_of is ignored (calibration / holdout split)
  (6, '2024-01-05 10:00', 8.00), (6, '2024-05-01 10:00', 80.00);

SELECT customer_id, (rfm(purchased_at, amount, '2024-03-31')).*
  FROM purchase GROUP BY customer_id ORDER BY customer_id;

-- The fields BG/NBD needs: frequency (repeat purchase days), t_x and T (age).
SELECT customer_id, (s).frequency AS x, (s).t_x_days AS t_x, (s).age_days AS "T", (s).repeat_avg
  FROM (SELECT customer_id, rfm(purchased_at, amount, '2024-03-31') s
          FROM purchase GROUP BY customer_id) q
 ORDER BY customer_id;

-- Overloads: date purchase days, float8 and bigint amounts give the same summary.
SELECT (rfm(purchased_at::date, amount, date '2024-03-31')).monetary_total AS date_numeric,
       (rfm(purchased_at, amount::float8, '2024-03-31')).monetary_total AS ts_float8,
       (rfm(purchased_at::date, (amount * 100)::bigint, date '2024-03-31')).monetary_total AS date_cents_bigint
  FROM purchase WHERE customer_id = 1;

-- The two-argument form summarises up to the transaction timestamp: every
-- purchase above is in the past.
SELECT customer_id, (rfm(purchased_at, amount)).purchases
  FROM purchase GROUP BY customer_id ORDER BY customer_id;

-- A purchase day is a calendar day in the session TimeZone: 23:30 and 00:30 UTC
-- are two days in UTC but one day in America/Mexico_City (UTC-6).
CREATE TEMP TABLE late (purchased_at timestamptz, amount numeric);
INSERT INTO late VALUES ('2024-03-01 23:30+00', 1), ('2024-03-02 00:30+00', 1);
SELECT (rfm(purchased_at, amount, '2024-03-31')).purchase_days AS days_utc FROM late;
SET TimeZone = 'America/Mexico_City';
SELECT (rfm(purchased_at, amount, '2024-03-31')).purchase_days AS days_mexico FROM late;
SET TimeZone = 'UTC';

-- Exact sums: amounts with many decimals and very large amounts leave the
-- fast fixed-point path and are still added exactly.
SELECT (rfm(t, a, '2024-12-31')).monetary_total
  FROM (VALUES ('2024-01-01'::timestamptz, 0.1::numeric), ('2024-01-02', 0.2), ('2024-01-03', 0.3)) v(t, a);
SELECT (rfm(t, a, '2024-12-31')).monetary_total
  FROM (VALUES ('2024-01-01'::timestamptz, 0.1234567890123456789012345::numeric),
               ('2024-01-02', 1)) v(t, a);
SELECT (rfm(t, a, '2024-12-31')).monetary_total
  FROM (VALUES ('2024-01-01'::timestamptz, 99999999999999999999999999999999999999::numeric),
               ('2024-01-02', 99999999999999999999999999999999999999),
               ('2024-01-03', 0.01)) v(t, a);
SELECT (rfm(t, a, '2024-12-31')).monetary_total
  FROM (VALUES ('2024-01-01'::timestamptz, 9223372036854775807::bigint),
               ('2024-01-02', 9223372036854775807)) v(t, a);
-- Beyond numeric's own range (10^131072) the sum is an error, not a wrong number.
SELECT (rfm(t, a, '2024-12-31')).monetary_total
  FROM (VALUES ('2024-01-01'::timestamptz, 9e131071::numeric), ('2024-01-02', 9e131071)) v(t, a);

-- as_of before every purchase: an empty summary (a lead), not an error.
SELECT (rfm(purchased_at, amount, '2000-01-01')).* FROM purchase WHERE customer_id = 1;
-- No rows at all: NULL, like sum().
SELECT rfm(purchased_at, amount, '2024-03-31') IS NULL AS is_null FROM purchase WHERE false;

-- Bad input gets a clear error.
SELECT rfm(t, a, '2024-12-31') FROM (VALUES ('2024-01-01'::timestamptz, 'NaN'::numeric)) v(t, a);
SELECT rfm(t, a, '2024-12-31') FROM (VALUES ('2024-01-01'::timestamptz, 'Infinity'::float8)) v(t, a);
SELECT rfm(t, a, '2024-12-31') FROM (VALUES ('-infinity'::timestamptz, 1::numeric)) v(t, a);
SELECT rfm(t, a, 'infinity') FROM (VALUES ('2024-01-01'::timestamptz, 1::numeric)) v(t, a);
SELECT rfm(t, a, NULL::timestamptz) FROM (VALUES ('2024-01-01'::timestamptz, 1::numeric)) v(t, a);
SELECT rfm(t, a, t) FROM (VALUES ('2024-01-01'::timestamptz, 1::numeric), ('2024-01-02', 2)) v(t, a);

-- The per-row fast path (one int64 accumulator at the scale of the first
-- amount) hands over to the general one on another scale, on an int64
-- overflow and on days out of order; the results stay those of sum().
SELECT (s).monetary_total::text = sum_ok::text AS same_total, (s).purchases, (s).purchase_days,
       (s).frequency, (s).t_x_days, (s).repeat_avg, (s).last_gap_days
  FROM (SELECT rfm(t, a, '2024-12-31') AS s, sum(a) AS sum_ok
          FROM (VALUES ('2024-01-09'::timestamptz, 10.5::numeric), ('2024-01-02', 3.25),
                       ('2024-01-08', 1), ('2024-01-03', 0.125), ('2024-01-09', 2.5),
                       ('2024-01-01', 7), ('2024-01-05', 4.75), ('2024-01-04', 1.10),
                       ('2024-01-07', 2), ('2024-01-06', 3)) v(t, a)) q;
SELECT (rfm(t, a, '2024-12-31')).monetary_total, sum(a)
  FROM (VALUES ('2024-01-01'::timestamptz, 90000000000000000.00::numeric),
               ('2024-01-02', 90000000000000000.00), ('2024-01-03', 0.01)) v(t, a);
-- as_of may differ between groups (the same within each).
SELECT g, (rfm(t, a, asof)).age_days
  FROM (VALUES (1, '2024-01-01'::timestamptz, 1::numeric, '2024-02-01'::timestamptz),
               (1, '2024-01-02', 1, '2024-02-01'), (2, '2024-01-01', 1, '2024-03-01'),
               (2, '2024-01-05', 1, '2024-03-01')) v(g, t, a, asof)
 GROUP BY g ORDER BY g;
SELECT rfm(t, a, asof)
  FROM (VALUES ('2024-01-01'::timestamptz, 1::numeric, '2024-02-01'::timestamptz),
               ('2024-01-02', 1, '2024-03-01'), ('2024-01-03', 1, '2024-02-01')) v(t, a, asof);

-- The purchase day is ts::date in the session time zone, computed by
-- arithmetic in zones that never change offset and through the time zone
-- rules otherwise: both agree with ::date on instants in any order.
CREATE TEMP TABLE tz_check AS
  SELECT i, timestamptz '1995-03-01 00:00:00+00' + ((i * 7919) % 3001) * interval '7 hours 13 minutes' AS t
    FROM generate_series(1, 3001) i
  UNION ALL
  SELECT -i, t FROM unnest(ARRAY['4713-01-01 00:00:00+00 BC', '1999-12-31 23:59:59.999999+00',
                                 '2000-01-01 00:00:00+00', '1899-06-01 12:00+00',
                                 '1969-12-31 19:00+00']::timestamptz[]) WITH ORDINALITY u(t, i);
CREATE FUNCTION pg_temp.tz_check_mismatches() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FILTER (WHERE a <> date '2100-01-01' - t::date)
    FROM (SELECT i, t, (cartera.rfm(t, 1::numeric, '2100-01-01')).age_days AS a
            FROM tz_check GROUP BY i, t) q $$;
SET TimeZone = 'Etc/GMT+5';
SELECT pg_temp.tz_check_mismatches() AS fixed_offset_mismatches;
SET TimeZone = 'America/New_York';
SELECT pg_temp.tz_check_mismatches() AS dst_zone_mismatches;
SET TimeZone = 'UTC';
SELECT pg_temp.tz_check_mismatches() AS utc_mismatches;
