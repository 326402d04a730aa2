-- The named-segment map is data: the built-in grid until customized, and a
-- customized map must name every R x F cell exactly once.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS cartera;
SET search_path = public, cartera;
SELECT plan(11);

SELECT is((SELECT count(*) FROM cartera.segment_map), 0::bigint, 'the map starts empty (the built-in grid applies)');
SET LOCAL cartera.language = 'en';
SELECT is((SELECT count(*) FROM generate_series(1, 9) r, generate_series(1, 9) f
            WHERE cartera.segment_label(cartera.segment(r, f, 3)) IS DISTINCT FROM cartera.segment_name(cartera.segment(r, f, 3))), 0::bigint,
          'empty map: segment_label equals the C segment_name for all 81 R x F cells (1..9 rescaled)');
SELECT is(cartera.segment_map_customize(), 10::bigint, 'customize copies the 10 built-in rectangles');
SELECT is((SELECT count(*) FROM generate_series(1, 9) r, generate_series(1, 9) f
            WHERE cartera.segment_label(cartera.segment(r, f, 3)) IS DISTINCT FROM cartera.segment_name(cartera.segment(r, f, 3))), 0::bigint,
          'the customized copy names every cell like the built-in grid');
SELECT throws_ok($$ SELECT cartera.segment_map_customize() $$, '42710', 'the segment map is already customized',
                 'customizing twice is refused');
SELECT throws_ok($$ UPDATE cartera.segment_map SET r_min = 4 WHERE name_en = 'Champions' $$, '23514', NULL,
                 'an overlap is refused');
SELECT throws_ok($$ DELETE FROM cartera.segment_map WHERE name_en = 'New' $$, '23514', NULL,
                 'a gap is refused');
-- the common 11-segment recipe: split Loyal into two names in one statement
SELECT lives_ok($$ WITH shrink AS (UPDATE cartera.segment_map SET r_min = 4 WHERE name_en = 'Loyal')
                   INSERT INTO cartera.segment_map VALUES ('Steady', 'Constantes', 3, 3, 4, 5) $$,
                'a consistent change in one statement is accepted');
SELECT is(cartera.segment_label('345', 'en') || ' / ' || cartera.segment_label('445', 'es'), 'Steady / Leales',
          'labels follow the edited map, in either language');
SELECT lives_ok($$ DELETE FROM cartera.segment_map $$, 'emptying the map goes back to the built-in grid');
SELECT is(cartera.segment_label('345', 'en'), 'Loyal', 'the built-in name again');

SELECT * FROM finish();
ROLLBACK;
