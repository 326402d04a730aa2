#!/usr/bin/env bash
# pg_dump of a database holding cartera data, restored into a new database,
# gives the same portfolio: every table of schema cartera (listed from the
# catalog), tracked tables, and a user table with a column of every cartera
# type (listed from the catalog) and of its array.  Both formats: plain
# (psql) and custom (pg_dump -Fc, pg_restore).  The user table also goes
# through COPY ... (FORMAT binary), which uses the types' send/receive
# functions.  Then DROP EXTENSION cartera must leave the database as it was
# before CREATE EXTENSION: every object of the main catalogs (by
# pg_identify_object), dependencies, comments, initial privileges, roles and
# event triggers are compared.  Runs against the cluster in $PG*
# (tools/run-suites); prints TAP.
#
# The dump also holds the derived tables (customer_state, status_transition,
# alerts), so the restore must not fire cartera's triggers.  Three ways are
# checked (docs/data-model.md#backups):
#  - a superuser: pg_dump, then PGOPTIONS='-c session_replication_role=replica'
#    psql, the usual way to load data whose triggers already ran;
#  - a role that is not superuser and holds cartera_manager (what a team
#    has on managed PostgreSQL): pg_dump --enable-row-security, then in a new
#    database where the administrator (the superuser here) ran CREATE
#    EXTENSION cartera and grant_manager_role(): cartera.pre_restore(),
#    psql -v ON_ERROR_STOP=1 (plain) or pg_restore (custom format) with no
#    option, cartera.post_restore().  No error, identical rows, no alert, no
#    transition and no NOTIFY from the restored rows, the catalog state
#    (row-level security, triggers, privileges) of the source again, and new
#    purchases raise their transitions, alerts and notifications again.
set -uo pipefail
cd "$(dirname "$0")/.."
a=cartera_dump_source
b=cartera_dump_target
c=cartera_dump_target_fc
d=cartera_drop
e=cartera_dump_target_mgr
f=cartera_dump_target_mgr_fc
mgr=cartera_dump_mgr                     # LOGIN, member of cartera_manager, not superuser
mgr_pw=$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
tmp=${TMPDIR:-/tmp}
n=0
fail=0
check() {  # check "description" "sql" [target db]  -- the sql must give the same text in the source and the target
  n=$((n + 1))
  local x y
  x=$(psql -X -At -d "$a" -c "$2" 2>&1)
  y=$(psql -X -At -d "${3:-$b}" -c "$2" 2>&1)
  if [ "$x" = "$y" ] && [ -n "$x" ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; echo "# source: ${x:0:300}"; echo "# target: ${y:0:300}"; fail=1; fi
}
ok() {  # ok "description" "sql returning t" [db]
  n=$((n + 1))
  local r
  r=$(psql -X -q -At -d "${3:-$b}" -c "$2" 2>&1)
  if [ "$r" = "t" ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; echo "# got: ${r:0:300}"; fail=1; fi
}
tap() {  # tap "description" status [diagnostics]
  n=$((n + 1))
  if [ "$2" -eq 0 ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; [ -n "${3:-}" ] && echo "$3" | head -20 | sed 's/^/# /'; fail=1; fi
}

for x in "$a" "$b" "$c" "$d" "$e" "$f"; do dropdb --if-exists "$x" >/dev/null 2>&1; done
# the roles: cartera_manager / cartera_agent as the DBA creates them
# (docs/security.md), and a manager who logs in; dropped at the end if this
# script created them
created_roles=""
for r in cartera_manager cartera_agent; do
  if [ "$(psql -X -At -d postgres -c "SELECT count(*) FROM pg_roles WHERE rolname = '$r'")" = 0 ]; then
    psql -X -q -d postgres -c "CREATE ROLE $r NOLOGIN" && created_roles="$created_roles $r"
  fi
done
psql -X -q -d postgres -c "DROP ROLE IF EXISTS $mgr" >/dev/null 2>&1
psql -X -q -d postgres -c "CREATE ROLE $mgr LOGIN PASSWORD '$mgr_pw' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE IN ROLE cartera_manager" ||
  { echo "Bail out! cannot create role $mgr"; exit 1; }
cleanup() {
  for x in "$a" "$b" "$c" "$d" "$e" "$f"; do dropdb --if-exists "$x" >/dev/null 2>&1; done
  psql -X -q -d postgres -c "DROP ROLE IF EXISTS $mgr" >/dev/null 2>&1
  for r in $created_roles; do psql -X -q -d postgres -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1; done
}
trap cleanup EXIT
as_mgr() { PGUSER=$mgr PGPASSWORD=$mgr_pw "$@"; }
createdb "$a" && createdb "$b" && createdb "$c" || { echo "Bail out! cannot create databases"; exit 1; }
psql -X -q -v ON_ERROR_STOP=1 -d "$a" >/dev/null <<'SQL' || { echo "Bail out! cannot build the source database"; exit 1; }
SET client_min_messages = warning;
CREATE EXTENSION cartera;
UPDATE cartera.alert_kind SET holdout_share = 0;   -- the notifications are counted: no holdout group
-- the alert kinds are a manager's configuration: edited, and one added
-- (with an alert of it), they must come back from the dump
UPDATE cartera.alert_kind SET cooldown = '45 days', response_window = '21 days' WHERE kind = 'reactivation';
INSERT INTO cartera.alert_kind (kind, colour, category, due_days, message_es, message_en)
  VALUES ('vip_call', 'amber', 'relationship', 2, 'Llamar a %s. %s', 'Call %s. %s');
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
SELECT count(*) FROM cartera.raise_alerts(ARRAY[2]::bigint[], ARRAY['vip_call'], ARRAY[NULL::date], ARRAY['x'],
                                          ARRAY[NULL::bigint], '1998-07-01');
SELECT cartera.acknowledge_alert(min(alert_id)) FROM cartera.alert;
SELECT cartera.segment_map_customize();
UPDATE cartera.segment_map SET name_en = 'Stars', name_es = 'Estrellas' WHERE name_en = 'Champions';
SELECT cartera.occasion_customize();
INSERT INTO cartera.occasion (name_es, name_en, country, month, day) VALUES ('Aniversario', 'Anniversary', 'ES', 10, 1);
INSERT INTO cartera.cross_sell_rule (bought_category, offer) VALUES ('cd', 'concert tickets');
-- the portfolio's own settings are dumped with the data (the default value: nothing changes)
INSERT INTO cartera.portfolio_setting (name, value) VALUES ('cartera.new_window', '30 days');
CREATE TABLE shop_orders (id serial, client bigint, ordered_on date, total numeric);
CREATE INDEX ON shop_orders (client);
INSERT INTO shop_orders (client, ordered_on, total) VALUES (1, '1998-01-01', 20);
SELECT cartera.track_purchases('shop_orders', 'client', 'ordered_on', 'total');
-- deferred maintenance: the tracked table in deferred mode (its trigger comes
-- with the dump), and the queue's tables with rows that need no
-- recomputation: cross-sell ids whose state was already applied, a
-- set-aside customer, the appliers' totals
SELECT cartera.set_purchase_mode('shop_orders', 'deferred');
INSERT INTO cartera.deferred_change (customer_id, purchase_ids, source, queued_at)
  SELECT 1, ARRAY[min(purchase_id)], 'cartera.purchase', '1998-06-30' FROM cartera.purchase WHERE customer_id = 1;
INSERT INTO cartera.deferred_failure (customer_id, sqlstate, error, first_failed_at, last_failed_at, retry_at)
  VALUES (2, '22000', 'a broken rule', '1998-07-01', '1998-07-01', '1998-07-01 00:00:10');
INSERT INTO cartera.deferred_run (last_run_at, last_run_by, last_customers, last_changes, last_purchases, last_set_aside,
                                  last_duration, total_runs, total_changes, total_purchases, since)
  VALUES ('1998-07-01', 'worker', 10, 12, 15, 1, '00:00:00.5', 3, 30, 40, '1998-06-30');
INSERT INTO cartera.agent_target (agent_id, month, revenue_target, retention_target)
  SELECT agent_id, date '1998-06-01', 5000, 0.5 FROM cartera.agent;
-- the portfolio on shards: this database as shard 0 of 1, and a coordinator's list
SELECT count(*) FROM cartera.set_shard_number(0, 1);
INSERT INTO cartera.shard (server) VALUES ('shard_a');
UPDATE cartera.customer SET email = 'twin@example.com' WHERE customer_id IN (5, 6);
SELECT cartera.merge_customers(5, 6);
-- a user table with a column of every cartera type, and of its array, each
-- filled from a cartera table column of that type or from a literal
DO $$
DECLARE
  t regtype;
  v text;
BEGIN
  CREATE TABLE public.all_types (id int PRIMARY KEY);
  INSERT INTO public.all_types VALUES (1), (2);
  FOR t IN SELECT ty.oid FROM pg_type ty
            WHERE ty.typnamespace = 'cartera'::regnamespace AND ty.typcategory <> 'A'
              AND (ty.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = ty.typrelid) = 'c')
            ORDER BY ty.oid LOOP
    EXECUTE format('ALTER TABLE public.all_types ADD COLUMN %I %s, ADD COLUMN %I %s[]',
                   'c_' || (SELECT typname FROM pg_type WHERE oid = t), t, 'a_' || (SELECT typname FROM pg_type WHERE oid = t), t);
    SELECT format('(SELECT %I FROM %s WHERE %1$I IS NOT NULL ORDER BY 1::int LIMIT 1)', a.attname, a.attrelid::regclass) INTO v
      FROM pg_attribute a JOIN pg_class cl ON cl.oid = a.attrelid
     WHERE a.atttypid = t AND cl.relnamespace = 'cartera'::regnamespace AND cl.relkind = 'r' AND NOT a.attisdropped
     ORDER BY cl.relname, a.attnum LIMIT 1;
    IF t = 'cartera.state_transition'::regtype THEN
      v := $v$ROW(1, 'lead', 'new', NULL, '555')::cartera.state_transition$v$;
    -- the model types no table stores (0.4.0)
    ELSIF t = 'cartera.prediction_interval'::regtype THEN
      v := $v$ROW(0.72, 0.016, 0.69, 0.76, 0.95)::cartera.prediction_interval$v$;
    ELSIF t = 'cartera.bgbb_params'::regtype THEN
      v := $v$cartera.bgbb_params(1.2035, 0.7497, 0.6567, 2.7834)$v$;
    ELSIF t = 'cartera.bgbb_summary'::regtype THEN
      v := $v$ROW(3, 5, 6)::cartera.bgbb_summary$v$;
    ELSIF t = 'cartera.sbg_params'::regtype THEN
      v := $v$cartera.sbg_params(0.704, 1.182)$v$;
    ELSIF t = 'cartera.queue_place'::regtype THEN
      v := $v$ROW(false, 1, -105.25, '1998-07-02', 8103, 'welcome')::cartera.queue_place$v$;
    ELSIF v IS NULL THEN
      RAISE EXCEPTION 'no value for type %', t;
    END IF;
    EXECUTE format('UPDATE public.all_types SET %I = %s, %I = ARRAY[%s, NULL]', 'c_' || (SELECT typname FROM pg_type WHERE oid = t), v,
                   'a_' || (SELECT typname FROM pg_type WHERE oid = t), v) ;
  END LOOP;
  -- row 2: every value of the enum, the lowest and the highest segment
  UPDATE public.all_types SET a_lifecycle_status = enum_range(NULL::cartera.lifecycle_status), c_segment = '111', a_segment = '{111,999,555}'
   WHERE id = 2;
END $$;
SQL
# the DBA grants the group roles; the team's own tables belong to the manager
psql -X -q -v ON_ERROR_STOP=1 -d "$a" >/dev/null <<SQL || { echo "Bail out! cannot grant the roles"; exit 1; }
SELECT cartera.grant_agent_role('cartera_agent');
SELECT cartera.grant_manager_role('cartera_manager');
ALTER TABLE public.shop_orders OWNER TO $mgr;
ALTER TABLE public.all_types OWNER TO $mgr;
SQL

pg_dump -d "$a" > "${TMPDIR:-/tmp}/cartera_dump.sql" || { echo "Bail out! pg_dump failed"; exit 1; }
PGOPTIONS='-c session_replication_role=replica' psql -X -q -v ON_ERROR_STOP=1 -d "$b" \
  -f "${TMPDIR:-/tmp}/cartera_dump.sql" >/dev/null 2>"${TMPDIR:-/tmp}/cartera_restore.err"
rc=$?
n=$((n + 1))
if [ $rc -eq 0 ]; then echo "ok $n - restore without errors"; else echo "not ok $n - restore without errors"; sed 's/^/# /' "${TMPDIR:-/tmp}/cartera_restore.err" | head -20; fail=1; fi

tables=$(psql -X -At -d "$a" -c "SELECT string_agg(relname, ' ' ORDER BY relname) FROM pg_class WHERE relnamespace = 'cartera'::regnamespace AND relkind = 'r'")
ok "the source has rows in every cartera table" \
  "SELECT bool_and(n > 0) FROM (SELECT (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM cartera.%I', relname), false, true, '')))[1]::text::int AS n
                                  FROM pg_class WHERE relnamespace = 'cartera'::regnamespace AND relkind = 'r'
                                   AND relname <> 'restore_in_progress') x" "$a"
ok "the source's user table holds a non-NULL value of every cartera type and of its array" \
  "SELECT bool_and(e.v <> 'null'::jsonb) FROM public.all_types t, jsonb_each(to_jsonb(t)) e(k, v)" "$a"
ok "every cartera type has a column in the user table" \
  "SELECT count(*) = 0 FROM pg_type ty WHERE ty.typnamespace = 'cartera'::regnamespace AND ty.typcategory <> 'A'
     AND (ty.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = ty.typrelid) = 'c')
     AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = 'public.all_types'::regclass AND a.atttypid = ty.oid)" "$a"
same_rows() {  # same_rows TARGET LABEL
  for t in $tables; do
    check "$2: cartera.$t has the same rows" "SELECT count(*) || ' ' || md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM cartera.$t x" "$1"
  done
  check "$2: the user table with every cartera type has the same rows" "SELECT count(*) || ' ' || md5(string_agg(x::text, '|' ORDER BY x.id)) FROM public.all_types x" "$1"
  check "$2: the tracked table has the same rows and keeps its triggers" \
    "SELECT (SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'public.shop_orders'::regclass)
            || (SELECT string_agg(x::text, '|' ORDER BY x.id) FROM public.shop_orders x)" "$1"
  check "$2: the grants survive" "SELECT count(*) FROM information_schema.role_table_grants WHERE table_schema = 'cartera'" "$1"
}
new_purchases() {  # new_purchases TARGET LABEL [ROLE PASSWORD]: after the restore, purchases keep the state again
  local u=${3:-$PGUSER} pw=${4:-${PGPASSWORD:-}}
  PGUSER=$u PGPASSWORD=$pw psql -X -q -d "$1" -c "INSERT INTO cartera.purchase (customer_id, purchased_at, amount) VALUES (2, now(), 10)" \
    -c "INSERT INTO shop_orders (client, ordered_on, total) VALUES (3, current_date, 5)" >/dev/null
  ok "$2: after the restore new purchases keep the state (identity, triggers)${3:+, inserted by $3}" \
    "SELECT (summary).purchases = (SELECT count(*) FROM cartera.purchase WHERE customer_id = 2) FROM cartera.customer_state WHERE customer_id = 2" "$1"
  ok "$2: after the restore the tracked table still queues its purchases (deferred mode)" \
    "SELECT EXISTS (SELECT 1 FROM cartera.deferred_change WHERE customer_id = 3 AND source = 'shop_orders'::regclass)" "$1"
  # applying the queue is maintenance: the owner's, not a manager's
  psql -X -q -d "$1" -c "SELECT * FROM cartera.catch_up()" >/dev/null
  ok "$2: after the restore the tracked table still feeds the state (catch_up())" \
    "SELECT (summary).last_purchase::date = current_date FROM cartera.customer_state WHERE customer_id = 3" "$1"
}
same_rows "$b" "superuser, plain"
new_purchases "$b" "superuser, plain"

# custom format
pg_dump -Fc -d "$a" -f "$tmp/cartera_dump.fc" || { echo "Bail out! pg_dump -Fc failed"; exit 1; }
PGOPTIONS='-c session_replication_role=replica' pg_restore -d "$c" "$tmp/cartera_dump.fc" 2>"$tmp/cartera_restore_fc.err"
tap "pg_restore of the custom-format dump without errors" $? "$(cat "$tmp/cartera_restore_fc.err")"
same_rows "$c" "superuser, custom"
new_purchases "$c" "superuser, custom"

# --- a manager who is not superuser (docs/data-model.md#backups) ---
ok "$mgr is not superuser, has no BYPASSRLS, and is a manager" \
  "SELECT NOT rolsuper AND NOT rolbypassrls AND pg_has_role(oid, 'cartera_manager', 'USAGE') FROM pg_roles WHERE rolname = '$mgr'" "$a"
out=$(as_mgr pg_dump -d "$a" 2>&1 >/dev/null)
echo "$out" | grep -q 'query would be affected by row-level security policy'
tap "a manager's plain pg_dump stops at row-level security: PostgreSQL refuses row_security = off to a role under it (hence --enable-row-security)" $? "$out"
as_mgr pg_dump --enable-row-security -d "$a" -f "$tmp/cartera_dump_mgr.sql" 2>"$tmp/cartera_dump_mgr.err"
tap "a manager dumps the database: pg_dump --enable-row-security" $? "$(cat "$tmp/cartera_dump_mgr.err")"
as_mgr pg_dump --enable-row-security -Fc -d "$a" -f "$tmp/cartera_dump_mgr.fc" 2>"$tmp/cartera_dump_mgr.err"
tap "a manager dumps the database: pg_dump --enable-row-security -Fc" $? "$(cat "$tmp/cartera_dump_mgr.err")"
grep -q 'COMMENT ON EXTENSION' "$tmp/cartera_dump_mgr.sql"
tap "the dump holds no COMMENT ON EXTENSION (only the extension's owner may run it)" $((1 - $?))

# what the catalog says about row-level security, triggers and privileges
catalog_state="SELECT string_agg(x, E'\n' ORDER BY x) FROM (
   SELECT c.oid::regclass || ' rls ' || c.relrowsecurity || ' acl ' || coalesce((SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(c.relacl) a), '-')
     FROM pg_class c WHERE c.relnamespace = 'cartera'::regnamespace
   UNION ALL
   SELECT p.oid::regprocedure || ' acl ' || coalesce((SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(p.proacl) a), '-')
     FROM pg_proc p WHERE p.pronamespace = 'cartera'::regnamespace
   UNION ALL
   SELECT t.tgrelid::regclass || ' trigger ' || t.tgname || ' ' || t.tgenabled FROM pg_trigger t WHERE NOT t.tgisinternal
   UNION ALL
   SELECT 'restores in progress ' || count(*) FROM cartera.restore_in_progress) s(x)"
source_max="SELECT (SELECT max(alert_id) FROM cartera.alert) || ' ' || (SELECT max(transition_id) FROM cartera.status_transition)"
max_alert=$(psql -X -At -d "$a" -c "SELECT max(alert_id) FROM cartera.alert")

listener=""
listen_start() {  # listen_start DB: a session LISTENs to cartera_alert until listen_stop
  rm -f "$tmp/cartera_listen.stop"
  { echo "LISTEN cartera_alert;"; while [ ! -e "$tmp/cartera_listen.stop" ]; do sleep 0.2; done; echo "SELECT 'listener done';"; } |
    psql -X -q -At -d "$1" >"$tmp/cartera_listen.out" 2>&1 &
  listener=$!
  for _ in $(seq 1 50); do
    [ "$(psql -X -At -d "$1" -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$1' AND query LIKE 'LISTEN%'")" = 1 ] && return
    sleep 0.1
  done
}
listen_stop() { touch "$tmp/cartera_listen.stop"; wait "$listener"; }

manager_restore() {  # manager_restore TARGET LABEL RESTORE-COMMAND...
  local db=$1 label=$2 rc r
  shift 2
  # the administrator: a new database for the team, the extension, the manager grants
  createdb -O "$mgr" "$db" &&
    psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "CREATE EXTENSION cartera" -c "SELECT cartera.grant_manager_role('cartera_manager')" >/dev/null
  tap "$label: the administrator creates the database, the extension and the manager grants" $?
  listen_start "$db"
  as_mgr psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "SELECT cartera.pre_restore()" >/dev/null 2>"$tmp/cartera_mgr.err"
  tap "$label: the manager runs cartera.pre_restore()" $? "$(cat "$tmp/cartera_mgr.err")"
  as_mgr "$@" >/dev/null 2>"$tmp/cartera_mgr.err"
  rc=$?
  tap "$label: the manager restores the dump with no option, without errors: $(echo "$*" | sed "s|$tmp/||; s| -d $db||")" $rc "$(cat "$tmp/cartera_mgr.err")"
  ! grep -v 'WARNING:  no privileges were granted for' "$tmp/cartera_mgr.err" | grep -qE 'ERROR|FATAL|WARNING'
  tap "$label: and no message but the GRANTs of the dump that a manager cannot give (no grant option)" $? "$(cat "$tmp/cartera_mgr.err")"
  r=$(as_mgr psql -X -At -v ON_ERROR_STOP=1 -d "$db" -c "SELECT repaired FROM cartera.post_restore()" 2>&1)
  n=$((n + 1))
  if [ "$r" = "0" ]; then echo "ok $n - $label: the manager runs cartera.post_restore(): the restored state matches the purchases (no customer recomputed)"
  else echo "not ok $n - $label: the manager runs cartera.post_restore(): $r"; fail=1; fi
  psql -X -q -d "$db" -c "SELECT cartera.grant_agent_role('cartera_agent')" >/dev/null
  tap "$label: the administrator grants the agent role after the restore" $?
  check "$label: no alert and no transition beyond the source's (the restored rows fired nothing)" "$source_max" "$db"
  same_rows "$db" "$label"
  check "$label: row-level security, triggers and privileges are those of the source (the restore's are taken back)" "$catalog_state" "$db"
  # a new customer's first purchase, by the manager: the maintenance runs again
  as_mgr psql -X -q -v ON_ERROR_STOP=1 -d "$db" \
    -c "INSERT INTO cartera.customer (full_name, owner_agent_id, marketing_consent) VALUES ('Tras la restauración', 1, true)" \
    -c "INSERT INTO cartera.purchase (customer_id, purchased_at, amount) SELECT customer_id, now() - interval '1 hour', 25 FROM cartera.customer WHERE full_name = 'Tras la restauración'" >/dev/null 2>"$tmp/cartera_mgr.err"
  tap "$label: the manager adds a customer and their first purchase" $? "$(cat "$tmp/cartera_mgr.err")"
  ok "$label: which logs the transition lead -> new and raises the welcome alert" \
    "SELECT EXISTS (SELECT 1 FROM cartera.status_transition t JOIN cartera.customer c USING (customer_id)
                     WHERE c.full_name = 'Tras la restauración' AND t.from_status = 'lead' AND t.to_status = 'new')
        AND EXISTS (SELECT 1 FROM cartera.alert a JOIN cartera.customer c USING (customer_id)
                     WHERE c.full_name = 'Tras la restauración' AND a.kind = 'welcome')" "$db"
  listen_stop
  r=$(psql -X -At -d "$db" -c "SELECT string_agg(alert_id::text, ' ' ORDER BY alert_id) FROM cartera.alert WHERE alert_id > $max_alert AND status <> 'held_out'")
  n=$((n + 1))
  got=$(grep -o 'notification "cartera_alert" with payload "{[^}]*}"' "$tmp/cartera_listen.out" | grep -o '\\\?"id\\\?"[: ]*[0-9]*' | grep -o '[0-9]*$' | tr '\n' ' ' | sed 's/ $//')
  if [ -n "$r" ] && [ "$got" = "$r" ]; then echo "ok $n - $label: a listener got NOTIFY cartera_alert for the new alerts only ($got), none for the restored rows"
  else echo "not ok $n - $label: notifications for alerts '$got', alerts after the restore '$r'"; sed 's/^/# /' "$tmp/cartera_listen.out" | head -5; fail=1; fi
  new_purchases "$db" "$label" "$mgr" "$mgr_pw"
}
manager_restore "$e" "manager, plain" psql -X -q -v ON_ERROR_STOP=1 -d "$e" -f "$tmp/cartera_dump_mgr.sql"
manager_restore "$f" "manager, custom" pg_restore -d "$f" "$tmp/cartera_dump_mgr.fc"

# binary COPY of the user table: send/receive of every type
psql -X -q -d "$c" -c "CREATE TABLE all_types_binary (LIKE public.all_types)" &&
psql -X -q -d "$a" -c "COPY public.all_types TO STDOUT (FORMAT binary)" | psql -X -q -d "$c" -c "COPY all_types_binary FROM STDIN (FORMAT binary)"
tap "binary COPY of the user table with every cartera type loads" $?
ok "and gives the same rows" "SELECT NOT EXISTS (SELECT * FROM public.all_types EXCEPT SELECT * FROM all_types_binary)
                                AND NOT EXISTS (SELECT * FROM all_types_binary EXCEPT SELECT * FROM public.all_types)" "$c"

# DROP EXTENSION leaves nothing behind
snapshot() {
  psql -X -At -d "$d" <<'SQL'
SELECT x.type || ' ' || coalesce(x.identity, '?')
  FROM (SELECT 'pg_class'::regclass AS cat, oid FROM pg_class UNION ALL SELECT 'pg_proc', oid FROM pg_proc
        UNION ALL SELECT 'pg_type', oid FROM pg_type UNION ALL SELECT 'pg_operator', oid FROM pg_operator
        UNION ALL SELECT 'pg_cast', oid FROM pg_cast UNION ALL SELECT 'pg_namespace', oid FROM pg_namespace
        UNION ALL SELECT 'pg_opclass', oid FROM pg_opclass UNION ALL SELECT 'pg_opfamily', oid FROM pg_opfamily
        UNION ALL SELECT 'pg_amop', oid FROM pg_amop UNION ALL SELECT 'pg_amproc', oid FROM pg_amproc
        UNION ALL SELECT 'pg_trigger', oid FROM pg_trigger UNION ALL SELECT 'pg_policy', oid FROM pg_policy
        UNION ALL SELECT 'pg_event_trigger', oid FROM pg_event_trigger UNION ALL SELECT 'pg_constraint', oid FROM pg_constraint
        UNION ALL SELECT 'pg_attrdef', oid FROM pg_attrdef UNION ALL SELECT 'pg_rewrite', oid FROM pg_rewrite
        UNION ALL SELECT 'pg_collation', oid FROM pg_collation UNION ALL SELECT 'pg_conversion', oid FROM pg_conversion
        UNION ALL SELECT 'pg_ts_config', oid FROM pg_ts_config UNION ALL SELECT 'pg_ts_dict', oid FROM pg_ts_dict
        UNION ALL SELECT 'pg_language', oid FROM pg_language UNION ALL SELECT 'pg_extension', oid FROM pg_extension
        UNION ALL SELECT 'pg_foreign_data_wrapper', oid FROM pg_foreign_data_wrapper
        UNION ALL SELECT 'pg_foreign_server', oid FROM pg_foreign_server UNION ALL SELECT 'pg_statistic_ext', oid FROM pg_statistic_ext
        UNION ALL SELECT 'pg_transform', oid FROM pg_transform UNION ALL SELECT 'pg_publication', oid FROM pg_publication
        UNION ALL SELECT 'pg_default_acl', oid FROM pg_default_acl) o,
       pg_identify_object(o.cat, o.oid, 0) x
UNION ALL SELECT 'role ' || rolname FROM pg_roles
UNION ALL SELECT 'count pg_depend ' || count(*) FROM pg_depend
UNION ALL SELECT 'count pg_shdepend ' || count(*) FROM pg_shdepend WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
UNION ALL SELECT 'count pg_description ' || count(*) FROM pg_description
UNION ALL SELECT 'count pg_init_privs ' || count(*) FROM pg_init_privs
UNION ALL SELECT 'count pg_seclabel ' || count(*) FROM pg_seclabel
UNION ALL SELECT 'columns of shop_orders ' || string_agg(attname || ' ' || atttypid::regtype, ', ' ORDER BY attnum)
            FROM pg_attribute WHERE attrelid = 'public.shop_orders'::regclass AND attnum > 0 AND NOT attisdropped
ORDER BY 1
SQL
}
createdb "$d" || { echo "Bail out! cannot create $d"; exit 1; }
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP ROLE IF EXISTS cartera_drop_agent" -c "CREATE ROLE cartera_drop_agent" >/dev/null
psql -X -q -d "$d" -c "CREATE TABLE shop_orders (id serial PRIMARY KEY, client bigint, ordered_on date, total numeric)" \
  -c "INSERT INTO shop_orders (client, ordered_on, total) VALUES (1, '2020-01-01', 10), (2, '2020-02-01', 20)" >/dev/null
snapshot >"$tmp/cartera_before_create"
psql -X -q -v ON_ERROR_STOP=1 -d "$d" >/dev/null 2>"$tmp/cartera_drop.err" <<'SQL'
SET client_min_messages = error;
CREATE EXTENSION cartera;
SELECT cartera.grant_agent_role('cartera_drop_agent');
INSERT INTO cartera.agent (name, login) VALUES ('Ana', 'cartera_drop_agent');
INSERT INTO cartera.customer (customer_id, full_name) VALUES (1, 'Uno'), (2, 'Dos');
INSERT INTO cartera.purchase (customer_id, purchased_at, amount) VALUES (1, now() - interval '10 days', 10), (2, now() - interval '1 day', 20);
INSERT INTO cartera.interaction (customer_id, channel, is_complaint) VALUES (1, 'phone', true);
SELECT cartera.track_purchases('shop_orders', 'client', 'ordered_on', 'total');
SELECT cartera.refresh();
SELECT cartera.run_followups();
SELECT cartera.segment_map_customize();
SELECT cartera.occasion_customize();
CREATE TABLE uses_types (id int, s cartera.segment, st cartera.lifecycle_status, r cartera.rfm_summary);
INSERT INTO uses_types SELECT 1, segment, status, summary FROM cartera.customer_state LIMIT 1;
SQL
tap "the extension is installed and used in $d (data, grants, a tracked table, a user table of cartera types)" $? "$(cat "$tmp/cartera_drop.err")"
out=$(psql -X -q -d "$d" -v VERBOSITY=verbose -c "DROP EXTENSION cartera" 2>&1)
echo "$out" | grep -q 'ERROR:  2BP01'
tap "DROP EXTENSION cartera without CASCADE refuses while user objects depend on it (2BP01)" $? "$out"
out=$(psql -X -q -d "$d" -c "DROP EXTENSION cartera CASCADE" 2>&1)
tap "DROP EXTENSION cartera CASCADE succeeds" $? "$out"
ok "CASCADE dropped the user table's columns of cartera types, and kept the table" \
  "SELECT string_agg(attname, ',' ORDER BY attnum) = 'id' FROM pg_attribute WHERE attrelid = 'uses_types'::regclass AND attnum > 0 AND NOT attisdropped" "$d"
ok "the tracked table keeps its rows, without cartera's triggers" \
  "SELECT count(*) = 2 AND NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'shop_orders'::regclass) FROM shop_orders" "$d"
ok "no schema cartera, no extension, no object of pg_depend refers to an extension" \
  "SELECT NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'cartera') AND NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'cartera')
      AND NOT EXISTS (SELECT 1 FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND refobjid NOT IN (SELECT oid FROM pg_extension))" "$d"
psql -X -q -d "$d" -c "DROP TABLE uses_types" >/dev/null
snapshot >"$tmp/cartera_after_drop"
diffs=$(diff "$tmp/cartera_before_create" "$tmp/cartera_after_drop")
tap "after DROP EXTENSION the catalogs hold exactly what they held before CREATE EXTENSION ($(wc -l <"$tmp/cartera_before_create") objects and counts compared)" \
  "$([ -z "$diffs" ]; echo $?)" "$diffs"
psql -X -q -d "$d" -c "DROP OWNED BY cartera_drop_agent" >/dev/null 2>&1
dropdb "$d"; psql -X -q -d postgres -c "DROP ROLE cartera_drop_agent" >/dev/null

dropdb "$a"; dropdb "$b"; dropdb "$c"
echo "1..$n"
exit $fail
