#!/usr/bin/env bash
# An agent cannot stall everyone with LOCK TABLE (docs/security.md "Locks").
# PostgreSQL lets a role LOCK a table in any mode once it may UPDATE or
# DELETE it, which an agent may do on cartera.purchase; so grant_agent_role()
# gives agent roles session defaults (lock_timeout 5s,
# idle_in_transaction_session_timeout 60s) and grant_manager_role() managers
# theirs (30s, 10min).  This runs psql sessions against the cluster in $PG*
# (tools/run-suites) and prints TAP:
#  * the helpers set the defaults on the group roles and on their login
#    members, and a new session of each member has them;
#  * an agent holds LOCK TABLE cartera.purchase in an idle transaction:
#    another agent's purchase fails after its lock_timeout instead of waiting
#    forever, and the idle timeout ends the holder's session, so a loader
#    without any timeout gets through after about a minute.
# It uses a database and roles of its own (cartera_lk_*), dropped at the end.
# Takes about 70 s (the idle timeout is a minute).
set -uo pipefail
cd "$(dirname "$0")/.."
# the test's roles log in for real (role settings apply at login); over TCP
# (pg_virtualenv) they need a password: this one, given to them only
pw=cartera_lk_password
db=cartera_agent_locks
n=0
fail=0
ok() {  # ok "description" status [diagnostics]
  n=$((n + 1))
  if [ "$2" -eq 0 ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; [ -n "${3:-}" ] && echo "$3" | head -5 | sed 's/^/# /'; fail=1; fi
}
su() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
as() {  # as LOGIN SQL: a new session of LOGIN (its role settings apply), errors with SQLSTATE
  PGPASSWORD=$pw psql -X -q -At -v VERBOSITY=verbose -U "$1" -d "$db" -c "$2" 2>&1
}
roles="cartera_lk_ana cartera_lk_luis cartera_lk_marta cartera_lk_late cartera_lk_agent cartera_manager"
holder=
flag=
cleanup() {
  [ -n "$flag" ] && rm -f "$flag"
  [ -n "$holder" ] && kill "$holder" 2>/dev/null
  dropdb --if-exists "$db" >/dev/null 2>&1
  for r in $roles; do psql -X -q -d postgres -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1; done
}
if [ "$(psql -X -At -d postgres -c "SELECT count(*) FROM pg_roles WHERE rolname = 'cartera_manager'")" != 0 ]; then
  echo "1..0 # SKIP role cartera_manager already exists in this cluster"; exit 0
fi
cleanup
trap cleanup EXIT
echo "1..15"
createdb "$db" || { echo "Bail out! cannot create database $db"; exit 1; }
psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<'SQL' || { echo "Bail out! cannot set up the portfolios"; exit 1; }
SET client_min_messages = error;
CREATE EXTENSION cartera;
CREATE ROLE cartera_lk_agent NOLOGIN;
CREATE ROLE cartera_manager NOLOGIN;
CREATE ROLE cartera_lk_ana LOGIN PASSWORD 'cartera_lk_password' IN ROLE cartera_lk_agent;
CREATE ROLE cartera_lk_luis LOGIN PASSWORD 'cartera_lk_password' IN ROLE cartera_lk_agent;
CREATE ROLE cartera_lk_marta LOGIN PASSWORD 'cartera_lk_password' IN ROLE cartera_manager;
SELECT cartera.grant_agent_role('cartera_lk_agent');
SELECT cartera.grant_manager_role('cartera_manager');
INSERT INTO cartera.agent (agent_id, name, login) VALUES (701, 'Ana', 'cartera_lk_ana'), (702, 'Luis', 'cartera_lk_luis');
INSERT INTO cartera.customer (customer_id, full_name, owner_agent_id) VALUES (7101, 'Cliente Ana', 701), (7201, 'Cliente Luis', 702);
INSERT INTO cartera.purchase (customer_id, purchased_at, amount) VALUES (7101, now() - interval '3 days', 10), (7201, now() - interval '3 days', 20);
SQL

setting() {  # setting ROLE NAME: the role's own default (ALTER ROLE ... SET), database-wide
  su "SELECT split_part(c, '=', 2) FROM pg_db_role_setting s, unnest(s.setconfig) c
       WHERE s.setrole = '$1'::regrole AND s.setdatabase = 0 AND split_part(c, '=', 1) = '$2'"
}
got="$(setting cartera_lk_agent lock_timeout) $(setting cartera_lk_agent idle_in_transaction_session_timeout)"
[ "$got" = "5s 60s" ]; ok "grant_agent_role sets lock_timeout 5s and idle_in_transaction_session_timeout 60s on the group role" $? "$got"
got="$(setting cartera_lk_ana lock_timeout) $(setting cartera_lk_ana idle_in_transaction_session_timeout)"
[ "$got" = "5s 60s" ]; ok "and on its login members (PostgreSQL applies only the login role's own settings)" $? "$got"
got="$(as cartera_lk_ana "SELECT current_setting('lock_timeout') || ' ' || current_setting('idle_in_transaction_session_timeout')")"
[ "$got" = "5s 1min" ]; ok "a new session of an agent has them" $? "$got"
got="$(as cartera_lk_marta "SELECT current_setting('lock_timeout') || ' ' || current_setting('idle_in_transaction_session_timeout')")"
[ "$got" = "30s 10min" ]; ok "a manager's session has the manager defaults (30s, 10min)" $? "$got"
got="$(setting cartera_manager lock_timeout) $(setting cartera_manager idle_in_transaction_session_timeout)"
[ "$got" = "30s 10min" ]; ok "set on cartera_manager too" $? "$got"
su "CREATE ROLE cartera_lk_late LOGIN PASSWORD 'cartera_lk_password' IN ROLE cartera_lk_agent" >/dev/null
[ -z "$(setting cartera_lk_late lock_timeout)" ] && su "SELECT cartera.grant_agent_role('cartera_lk_agent')" >/dev/null \
  && [ "$(setting cartera_lk_late lock_timeout)" = 5s ]
ok "an agent added later gets them when grant_agent_role runs again (as documented)" $?
su "ALTER ROLE cartera_lk_ana IN DATABASE $db SET lock_timeout = '7s'" >/dev/null
su "SELECT cartera.grant_agent_role('cartera_lk_agent')" >/dev/null
got="$(as cartera_lk_ana "SHOW lock_timeout")"
[ "$got" = 7s ]; ok "a per-person value set with ALTER ROLE ... IN DATABASE survives the helper" $? "$got"
su "ALTER ROLE cartera_lk_ana IN DATABASE $db RESET lock_timeout" >/dev/null

# ana locks the purchases table and leaves the transaction idle
out=$(mktemp)
flag=$(mktemp)   # the session's input stays open while this file exists
( printf 'BEGIN;\nLOCK TABLE cartera.purchase IN ACCESS EXCLUSIVE MODE;\nSELECT 1 AS locked;\n'
  for _ in $(seq 150); do [ -f "$flag" ] || break; sleep 1; done ) \
  | PGPASSWORD=$pw psql -X -At -U cartera_lk_ana -d "$db" >"$out" 2>&1 &
holder=$!
for _ in $(seq 50); do grep -q '^1$' "$out" && break; sleep 0.2; done
grep -q '^1$' "$out"; ok "an agent may LOCK TABLE cartera.purchase (UPDATE or DELETE privilege allows every lock mode)" $? "$(cat "$out")"
held_since=$(date +%s)

start=$(date +%s%N)
got=$(PGPASSWORD=$pw timeout 40 psql -X -q -At -v VERBOSITY=verbose -U cartera_lk_luis -d "$db" \
        -c "INSERT INTO cartera.purchase (customer_id, purchased_at, amount) VALUES (7201, now() - interval '1 hour', 5)" 2>&1)
rc=$?
took=$(( ($(date +%s%N) - start) / 1000000000 ))
echo "$got" | grep -q '55P03'; ok "another agent's purchase fails with 55P03 (lock timeout) instead of waiting forever" $? "rc $rc: $got"
[ "$took" -ge 4 ] && [ "$took" -lt 15 ]; ok "after about its lock_timeout (${took} s)" $? "$took"

# a loader without any timeout waits, but only until the idle timeout ends ana's session
start=$(date +%s)
got=$(timeout 120 psql -X -q -At -v ON_ERROR_STOP=1 -c "SET lock_timeout = 0" \
        -c "INSERT INTO cartera.purchase (customer_id, purchased_at, amount) VALUES (7101, now() - interval '1 hour', 7)" \
        -c "SELECT 'loaded'" -d "$db" 2>&1)
rc=$?
waited=$(( $(date +%s) - held_since ))
[ "$rc" = 0 ] && [ "$got" = loaded ]; ok "a loader without timeouts gets through" $? "rc $rc: $got"
[ "$waited" -ge 55 ] && [ "$waited" -le 90 ]; ok "once the agent's transaction has been idle for about a minute (${waited} s)" $? "$waited"
got=$(su "SELECT count(*) FROM pg_stat_activity WHERE usename = 'cartera_lk_ana'")
[ "$got" = 0 ]; ok "the server ended the agent's session (idle-in-transaction timeout)" $? "$got sessions left; $(cat "$out")"
rm -f "$flag"; wait "$holder" 2>/dev/null; holder=
rm -f "$out"
[ "$(su "SELECT (summary).purchases FROM cartera.customer_state WHERE customer_id = 7101")" = 2 ]
ok "the loader's purchase is in the state" $?
got=$(as cartera_lk_luis "INSERT INTO cartera.purchase (customer_id, purchased_at, amount) VALUES (7201, now() - interval '1 hour', 5)")
[ -z "$got" ]; ok "and agents record purchases again" $? "$got"
exit $fail
