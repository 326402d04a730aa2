#!/usr/bin/env bash
# pg_dump of a database holding cartera data, restored into a new database,
# gives the same portfolio: customers, purchases, customer_state, alerts,
# transitions, edited segment names and occasions, tracked tables.  Runs
# against the cluster in $PG* (tools/run-suites); prints TAP.
#
# The dump also holds the derived tables (customer_state, alerts), so the
# restore must not fire cartera's triggers: restore with
#   PGOPTIONS='-c session_replication_role=replica' psql NEWDB < dump.sql
# (as a superuser), the usual way to load data whose triggers already ran.
set -uo pipefail
cd "$(dirname "$0")/.."
a=cartera_dump_source
b=cartera_dump_target
n=0
fail=0
check() {  # check "description" "sql"  -- the sql must give the same text in both databases
  n=$((n + 1))
  local x y
  x=$(psql -X -At -d "$a" -c "$2" 2>&1)
  y=$(psql -X -At -d "$b" -c "$2" 2>&1)
  if [ "$x" = "$y" ] && [ -n "$x" ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; echo "# source: ${x:0:300}"; echo "# target: ${y:0:300}"; fail=1; fi
}
ok() {  # ok "description" "sql returning t"
  n=$((n + 1))
  local r
  r=$(psql -X -q -At -d "$b" -c "$2" 2>&1)
  if [ "$r" = "t" ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; echo "# got: ${r:0:300}"; fail=1; fi
}

dropdb --if-exists "$a" >/dev/null 2>&1; dropdb --if-exists "$b" >/dev/null 2>&1
createdb "$a" && createdb "$b" || { echo "Bail out! cannot create databases"; exit 1; }
psql -X -q -v ON_ERROR_STOP=1 -d "$a" >/dev/null <<'SQL' || { echo "Bail out! cannot build the source database"; exit 1; }
SET client_min_messages = warning;
CREATE EXTENSION cartera;
CREATE TEMP TABLE raw (line text);
\copy raw FROM 'data/cdnow/CDNOW_sample.txt'
INSERT INTO cartera.agent (name, login, region) VALUES ('Ana', 'ana', 'N'), ('Luis', 'luis', 'S');
INSERT INTO cartera.customer (customer_id, full_name, marketing_consent, country)
  SELECT DISTINCT f[2]::int, 'CDNOW ' || f[2], f[2]::int % 2 = 0, 'ES'
    FROM (SELECT regexp_split_to_array(btrim(line), '\s+') AS f FROM raw) s;
INSERT INTO cartera.purchase (customer_id, purchased_at, amount, quantity)
  SELECT f[2]::int, to_date(f[3], 'YYYYMMDD'), f[5]::numeric, f[4]::int
    FROM (SELECT regexp_split_to_array(btrim(line), '\s+') AS f FROM raw) s;
SELECT count(*) FROM cartera.refresh('1998-06-30');
SELECT count(*) FROM cartera.run_followups('1998-07-01');
INSERT INTO cartera.interaction (customer_id, channel, is_complaint, note) VALUES (1, 'phone', true, 'broken');
SELECT cartera.acknowledge_alert(min(alert_id)) FROM cartera.alert;
SELECT cartera.segment_map_customize();
UPDATE cartera.segment_map SET name_en = 'Stars', name_es = 'Estrellas' WHERE name_en = 'Champions';
SELECT cartera.occasion_customize();
INSERT INTO cartera.occasion (name_es, name_en, country, month, day) VALUES ('Aniversario', 'Anniversary', 'ES', 10, 1);
INSERT INTO cartera.cross_sell_rule (bought_category, offer) VALUES ('cd', 'concert tickets');
CREATE TABLE shop_orders (id serial, client bigint, ordered_on date, total numeric);
CREATE INDEX ON shop_orders (client);
INSERT INTO shop_orders (client, ordered_on, total) VALUES (1, '1998-01-01', 20);
SELECT cartera.track_purchases('shop_orders', 'client', 'ordered_on', 'total');
SQL

pg_dump -d "$a" > "${TMPDIR:-/tmp}/cartera_dump.sql" || { echo "Bail out! pg_dump failed"; exit 1; }
PGOPTIONS='-c session_replication_role=replica' psql -X -q -v ON_ERROR_STOP=1 -d "$b" \
  -f "${TMPDIR:-/tmp}/cartera_dump.sql" >/dev/null 2>"${TMPDIR:-/tmp}/cartera_restore.err"
rc=$?
n=$((n + 1))
if [ $rc -eq 0 ]; then echo "ok $n - restore without errors"; else echo "not ok $n - restore without errors"; sed 's/^/# /' "${TMPDIR:-/tmp}/cartera_restore.err" | head -20; fail=1; fi

for t in customer purchase customer_state status_transition alert interaction segment_map occasion cross_sell_rule purchase_source portfolio_model agent; do
  check "cartera.$t has the same rows" "SELECT count(*) || ' ' || md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM cartera.$t x"
done
check "the tracked table keeps its triggers" "SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'public.shop_orders'::regclass"
ok "after the restore new purchases keep the state (identity, triggers)" \
  "INSERT INTO cartera.purchase (customer_id, purchased_at, amount) VALUES (2, now(), 10);
   SELECT (summary).purchases = (SELECT count(*) FROM cartera.purchase WHERE customer_id = 2) FROM cartera.customer_state WHERE customer_id = 2"
ok "after the restore the tracked table still feeds the state" \
  "INSERT INTO shop_orders (client, ordered_on, total) VALUES (3, current_date, 5);
   SELECT (summary).last_purchase::date = current_date FROM cartera.customer_state WHERE customer_id = 3"

dropdb "$a"; dropdb "$b"
echo "1..$n"
exit $fail
