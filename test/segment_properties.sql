-- Properties of cartera.segment over all 729 cells and of quantile scoring.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS cartera;
SET search_path = public, cartera;
SELECT plan(9);

CREATE TEMP TABLE cell AS
  SELECT r, f, m, segment(r, f, m) AS s
    FROM generate_series(1, 9) r, generate_series(1, 9) f, generate_series(1, 9) m;

SELECT is((SELECT count(*) FROM cell WHERE s::text::segment <> s
              OR format('%s-%s-%s', r, f, m)::segment <> s
              OR format('r%sF%sm%s', r, f, m)::segment <> s), 0::bigint,
          'all three spellings parse to the same cell, and text round-trips');
SELECT is((SELECT count(*) FROM cell a, cell b
            WHERE (a.s < b.s) <> ((a.r, a.f, a.m) < (b.r, b.f, b.m))
               OR (a.s = b.s) <> ((a.r, a.f, a.m) = (b.r, b.f, b.m))), 0::bigint,
          'ordering is R, then F, then M');
SELECT is((SELECT count(*) FROM cell a, cell b
            WHERE a.s = b.s AND segment_hash(a.s) <> segment_hash(b.s)), 0::bigint,
          'equal cells hash equally');
SELECT is((SELECT count(*) FROM cell WHERE recency_score(s) <> r OR frequency_score(s) <> f
             OR monetary_score(s) <> m), 0::bigint, 'accessors return the scores');
SELECT is((SELECT count(DISTINCT segment_name(s)) FROM cell), 10::bigint,
          'the grid names ten segments');
SELECT is((SELECT count(*) FROM cell WHERE segment_name(s) IS NULL), 0::bigint,
          'every cell, 1..9 included, has a name');

-- quantile scoring
SELECT setseed(0.7);
CREATE TEMP TABLE v AS SELECT floor(random() * 200)::float8 AS x FROM generate_series(1, 5000);
CREATE TEMP TABLE b AS SELECT breakpoints(x, 5) AS cuts FROM v;
SELECT is((SELECT count(*) FROM (SELECT x, count(DISTINCT score(x, cuts)) n FROM v, b GROUP BY x) q
            WHERE n > 1), 0::bigint, 'equal values always get equal scores');
SELECT ok((SELECT bool_and(c BETWEEN 900 AND 1100) FROM
            (SELECT count(*) c FROM v, b GROUP BY score(x, cuts)) q),
          'quintiles of 200 near-distinct values hold about a fifth each');
SELECT is((SELECT count(*) FROM (SELECT score(x, cuts) sc, min(x) lo, max(x) hi FROM v, b GROUP BY 1) a,
                              (SELECT score(x, cuts) sc, min(x) lo, max(x) hi FROM v, b GROUP BY 1) c
            WHERE a.sc < c.sc AND a.hi >= c.lo), 0::bigint,
          'score ranges do not overlap');

SELECT * FROM finish();
ROLLBACK;
