# Follow-up outcomes per kind of alert, all months and agents (cartera.followup_performance).
exec ./query <<'SQL'
SELECT kind, sum(raised) AS raised, sum(worked) AS worked, sum(done) AS done, sum(moot) AS moot,
       sum(converted) AS converted, sum(converted)::numeric / nullif(sum(done), 0) AS conversion_rate,
       sum(revenue_after) AS revenue_after
  FROM cartera.followup_performance GROUP BY kind ORDER BY kind
SQL
