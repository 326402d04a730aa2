-- cartera.schedule() registers the daily job with pg_cron (tools/test-all
-- starts the cluster with pg_cron preloaded); without pg_cron it says so
-- (sql/alerts.sql).
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS cartera;
SELECT plan(7);
SELECT skip('pg_cron is not preloaded in this cluster', 7)
  WHERE current_setting('shared_preload_libraries') NOT LIKE '%pg_cron%';
CREATE EXTENSION IF NOT EXISTS pg_cron;
SELECT ok(cartera.schedule() > 0, 'schedule() registers a job');
SELECT is((SELECT schedule || ' ' || command FROM cron.job WHERE jobname = 'cartera-followups'),
          '0 7 * * * SELECT * FROM cartera.run_followups()',
          'the job runs run_followups() every day at 07:00');
SELECT is((SELECT schedule || ' ' || command FROM cron.job WHERE jobname = 'cartera-catch-up'),
          '* * * * * SELECT * FROM cartera.catch_up()',
          'and a second job applies the deferred queue every minute (where no worker does)');
SELECT lives_ok($$ SELECT cartera.schedule('30 6 * * 1-5') $$, 'scheduling again changes the time');
SELECT is((SELECT count(*) FROM cron.job WHERE jobname = 'cartera-followups'), 1::bigint,
          'there is still one job (by name), not two');
-- pg_cron's job table is not part of cartera: DROP EXTENSION leaves the job
-- (docs/scheduling.md says to unschedule it first)
SELECT lives_ok('DROP EXTENSION cartera', 'DROP EXTENSION cartera with a scheduled job');
SELECT is((SELECT count(*) FROM cron.job WHERE jobname = 'cartera-followups'), 1::bigint,
          'leaves the pg_cron job, which must be unscheduled by hand (cron.unschedule)');
SELECT * FROM finish();
ROLLBACK;
