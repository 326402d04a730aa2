-- cartera.segment: one RFM cell, three scores 1..9 (recency, frequency, monetary).
SET search_path = public, cartera;

-- Three spellings in, one canonical spelling out.
SELECT '543'::segment AS plain, '5-4-3'::segment AS dashed, 'R5F4M3'::segment AS lettered,
       '  r5f4m3  '::segment AS lower_case_and_spaces;

-- The constructor and the accessors.
SELECT segment(5, 4, 3) AS s, recency_score('543'), frequency_score('543'), monetary_score('543');

-- Comparison follows R, then F, then M.
SELECT '543'::segment = '5-4-3' AS eq, '543'::segment <> '542' AS ne,
       '155'::segment < '511' AS lt, '511'::segment <= '511' AS le,
       '911'::segment > '899' AS gt, '111'::segment >= '112' AS ge;

-- Sorting, grouping (hash) and joining.
CREATE TEMP TABLE cells(s segment);
INSERT INTO cells VALUES ('543'), ('111'), ('5-4-3'), ('R9F9M9'), ('234'), ('111');
SELECT s, count(*) FROM cells GROUP BY s ORDER BY s;
SET enable_hashagg = off;
SELECT s, count(*) FROM cells GROUP BY s ORDER BY s DESC;
RESET enable_hashagg;
SELECT a.s, count(*) FROM cells a JOIN cells b USING (s) GROUP BY a.s ORDER BY a.s;

-- A btree index is used for equality and ranges.
CREATE TEMP TABLE many AS
  SELECT segment(1 + i % 9, 1 + (i / 9) % 9, 1 + (i / 81) % 9) AS s FROM generate_series(0, 7289) i;
CREATE INDEX ON many (s);
ANALYZE many;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM many WHERE s = '543';
SELECT count(*) FROM many WHERE s = '543';
SELECT count(*) FROM many WHERE s BETWEEN '511' AND '599';
RESET enable_seqscan;
-- and a hash index
CREATE INDEX ON many USING hash (s);
SELECT count(*) FROM many WHERE s = '999';

-- Binary send/receive: three bytes R, F, M.  A binary COPY round trip
-- goes through segment_send and segment_recv.
SELECT segment_send('543');
\copy cells TO 'results/segment_cells.bin' (FORMAT binary)
CREATE TEMP TABLE cells_back(s segment);
\copy cells_back FROM 'results/segment_cells.bin' (FORMAT binary)
SELECT (SELECT array_agg(s ORDER BY s) FROM cells) = (SELECT array_agg(s ORDER BY s) FROM cells_back) AS same;
-- Binary input is validated like text input: bytes 10, 4, 3 are refused.
CREATE TEMP TABLE raw_bytes(b bytea);
INSERT INTO raw_bytes VALUES ('\x0a0403');
\copy raw_bytes TO 'results/segment_bad.bin' (FORMAT binary)
\copy cells_back FROM 'results/segment_bad.bin' (FORMAT binary)

-- Casts to and from text.
SELECT '5-4-3'::text::segment AS from_text, ('543'::segment)::text || '!' AS to_text;

-- Named segments: the R x F grid (M does not change the name), Spanish by default.
SHOW cartera.language;
SELECT r, string_agg(segment_name(segment(r, f, 3)), ' | ' ORDER BY f) AS f1_to_f5
  FROM generate_series(5, 1, -1) r, generate_series(1, 5) f GROUP BY r ORDER BY r DESC;
SET cartera.language = 'en';
SELECT r, string_agg(segment_name(segment(r, f, 3)), ' | ' ORDER BY f) AS f1_to_f5
  FROM generate_series(5, 1, -1) r, generate_series(1, 5) f GROUP BY r ORDER BY r DESC;
-- Cells from a 9-bin scale are rescaled to 5 bins for naming: 9 -> 5, 7 -> 4, 1 -> 1.
SELECT segment_name('991') AS r9f9, segment_name('771') AS r7f7, segment_name('191') AS r1f9;
-- Unknown languages are refused when set, not when used.
SET cartera.language = 'fr';
SHOW cartera.language;
RESET cartera.language;

-- Bad input: every message quotes the input, says what is wrong and how to write it.
SELECT ''::segment;
SELECT '   '::segment;
SELECT '5431'::segment;
SELECT 'R5F4M3X'::segment;
SELECT '540'::segment;
SELECT '5a3'::segment;
SELECT 'R5X4M3'::segment;
SELECT 'Q543'::segment;
SELECT '5-43'::segment;
SELECT '54-3'::segment;
SELECT '54'::segment;
SELECT 'R5F4'::segment;
SELECT '5-4-3-'::segment;
SELECT 'a very long text that is not a segment'::segment;
SELECT segment(0, 1, 1);
SELECT segment(1, 10, 1);
SELECT segment(1, 1, -3);
