#!/usr/bin/env bash
# Row-level security through COPY and what LISTENers learn (docs/security.md).
# pgTAP cannot see COPY ... TO STDOUT nor notifications, so this runs psql
# against the cluster in $PG* (tools/run-suites) and prints TAP:
#  * an agent's COPY of every table (COPY t TO STDOUT) gives exactly what
#    COPY (SELECT * FROM t) gives them, which row-level security filters:
#    nothing of the other agent's portfolio; COPY (SELECT * FROM view) too;
#  * an agent's COPY ... FROM STDIN into every table is refused (42501 without
#    INSERT, 0A000 "COPY FROM not supported with row-level security" with it);
#  * the payload of NOTIFY cartera_alert, received by a role without any
#    grant, is exactly {"id", "kind", "colour", "customer", "agent"}: ids, the
#    kind and its colour, nothing else.
# It uses a database and roles of its own (cartera_io_*), dropped at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
db=cartera_security_io
n=0
fail=0
ok() {  # ok "description" status [diagnostics]
  n=$((n + 1))
  if [ "$2" -eq 0 ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; [ -n "${3:-}" ] && echo "$3" | head -5 | sed 's/^/# /'; fail=1; fi
}
su() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
as() {  # as ROLE SQL: run SQL as ROLE, errors with their SQLSTATE
  psql -X -q -At -v VERBOSITY=verbose -d "$db" -c "SET ROLE $1" -c "$2" 2>&1
}
roles="cartera_io_ana cartera_io_luis cartera_io_nobody cartera_io_agent"
cleanup() {
  dropdb --if-exists "$db" >/dev/null 2>&1
  for r in $roles; do psql -X -q -d postgres -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1; done
}
cleanup
trap cleanup EXIT
createdb "$db" || { echo "Bail out! cannot create database $db"; exit 1; }
psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<'SQL' || { echo "Bail out! cannot set up the portfolios"; exit 1; }
SET client_min_messages = error;
CREATE EXTENSION cartera;
UPDATE cartera.alert_kind SET holdout_share = 0;   -- the notifications are counted: no holdout group
CREATE ROLE cartera_io_agent NOLOGIN;
SELECT cartera.grant_agent_role('cartera_io_agent');
CREATE ROLE cartera_io_ana LOGIN IN ROLE cartera_io_agent;
CREATE ROLE cartera_io_luis LOGIN IN ROLE cartera_io_agent;
CREATE ROLE cartera_io_nobody LOGIN;
INSERT INTO cartera.agent (agent_id, name, login) VALUES (801, 'Ana', 'cartera_io_ana'), (802, 'Luis Secreto', 'cartera_io_luis');
INSERT INTO cartera.customer (customer_id, full_name, owner_agent_id, country, email, marketing_consent, created_at) VALUES
  (8101, 'Ana Cliente', 801, 'ES', 'ana@example.com', true, now() - interval '90 days'),
  (8102, 'Ana Lead', 801, 'ES', NULL, true, now() - interval '90 days'),
  (87654321, 'Cliente Secreto', 802, 'MX', 'secret@example.com', true, now() - interval '90 days'),
  (87654322, 'Lead Secreto', 802, 'MX', NULL, true, now() - interval '90 days');
INSERT INTO cartera.purchase (customer_id, purchased_at, amount, product) VALUES
  (8101, now() - interval '80 days', 120, 'coche'), (8101, now() - interval '3 days', 20, 'aceite'),
  (87654321, now() - interval '80 days', 7777.71, 'coche'), (87654321, now() - interval '3 days', 7777.72, 'aceite');
INSERT INTO cartera.interaction (customer_id, agent_id, channel, is_complaint, note) VALUES
  (8101, 801, 'phone', true, 'queja'), (87654321, 802, 'phone', true, 'secret complaint');
INSERT INTO cartera.agent_target (agent_id, month, revenue_target)
  VALUES (801, date_trunc('month', current_date), 1e6), (802, date_trunc('month', current_date), 1e6);
INSERT INTO cartera.cross_sell_rule (bought_product, offer) VALUES ('coche', 'seguro');
SELECT cartera.refresh();
SELECT cartera.run_followups();
SQL
leaks() { grep -Eiq 'secret|\b8765432[12]\b|7777\.7'; }

# COPY TO: every table
for t in $(su "SELECT relname FROM pg_class WHERE relnamespace = 'cartera'::regnamespace AND relkind = 'r' ORDER BY 1"); do
  if [ "$(su "SELECT has_table_privilege('cartera_io_ana', 'cartera.$t', 'SELECT')")" = t ]; then
    copy=$(as cartera_io_ana "COPY cartera.$t TO STDOUT" | sort)
    query=$(as cartera_io_ana "COPY (SELECT * FROM cartera.$t) TO STDOUT" | sort)
    [ "$copy" = "$query" ] && ! echo "$copy" | grep -q 'ERROR'; r=$?
    ok "COPY cartera.$t TO STDOUT gives an agent what SELECT gives them ($(echo -n "$copy" | grep -c '^') rows)" $r "$copy"
    ! echo "$copy" | leaks; ok "COPY cartera.$t TO STDOUT by an agent holds nothing of another agent's portfolio" $? "$copy"
  else
    out=$(as cartera_io_ana "COPY cartera.$t TO STDOUT")
    echo "$out" | grep -q 'ERROR:  42501'; ok "COPY cartera.$t TO STDOUT is refused to an agent (no SELECT)" $? "$out"
  fi
done
# the protected tables hold the victim's rows, so the checks above are not vacuous
[ "$(su "SELECT count(*) FROM cartera.purchase WHERE customer_id = 87654321")" -gt 0 ] \
  && [ "$(su "SELECT count(*) FROM cartera.alert WHERE customer_id = 87654321")" -gt 0 ]
ok "the other agent's portfolio has purchases and alerts to leak" $?
# COPY TO: every view, through a query
for v in $(su "SELECT relname FROM pg_class WHERE relnamespace = 'cartera'::regnamespace AND relkind = 'v' ORDER BY 1"); do
  out=$(as cartera_io_ana "COPY (SELECT * FROM cartera.$v) TO STDOUT")
  ! echo "$out" | grep -q ERROR && ! echo "$out" | leaks; ok "COPY (SELECT * FROM cartera.$v) TO STDOUT by an agent holds nothing of another agent's portfolio" $? "$out"
done
# COPY FROM: every table refuses an agent
before=$(su "SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM (SELECT c::text FROM cartera.customer c UNION ALL SELECT p::text FROM cartera.purchase p
              UNION ALL SELECT i::text FROM cartera.interaction i UNION ALL SELECT a::text FROM cartera.alert a) x(x)")
for t in $(su "SELECT relname FROM pg_class WHERE relnamespace = 'cartera'::regnamespace AND relkind = 'r' ORDER BY 1"); do
  out=$(as cartera_io_ana "COPY cartera.$t FROM STDIN" </dev/null)
  if [ "$(su "SELECT has_table_privilege('cartera_io_ana', 'cartera.$t', 'INSERT')")" = t ]; then
    echo "$out" | grep -q 'ERROR:  0A000: COPY FROM not supported with row-level security'
    ok "COPY cartera.$t FROM STDIN is refused to an agent: row-level security (use INSERT)" $? "$out"
  else
    echo "$out" | grep -q 'ERROR:  42501'; ok "COPY cartera.$t FROM STDIN is refused to an agent (no INSERT)" $? "$out"
  fi
done
after=$(su "SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM (SELECT c::text FROM cartera.customer c UNION ALL SELECT p::text FROM cartera.purchase p
             UNION ALL SELECT i::text FROM cartera.interaction i UNION ALL SELECT a::text FROM cartera.alert a) x(x)")
[ "$before" = "$after" ]; ok "the portfolios are unchanged after the COPY attempts" $?

# NOTIFY: a role without any grant listens while luis works on his portfolio
out=$(psql -X -q -d "$db" 2>&1 <<'SQL'
SET ROLE cartera_io_nobody;
LISTEN cartera_alert;
\! psql -X -q -d cartera_security_io -c "SET ROLE cartera_io_luis" -c "INSERT INTO cartera.interaction (customer_id, channel, is_complaint, note) VALUES (87654322, 'phone', true, 'secret complaint')" -c "INSERT INTO cartera.purchase (customer_id, purchased_at, amount, product) VALUES (87654322, now() - interval '1 hour', 7777.73, 'coche')"
SELECT 1;
SQL
)
payloads=$(echo "$out" | sed -nE 's/^Asynchronous notification "cartera_alert" with payload "(.*)" received from server process with PID [0-9]+\.$/\1/p')
count=$(echo -n "$payloads" | grep -c '^')
[ "$count" -ge 3 ]; ok "a role without any grant receives the notifications of another agent's new alerts ($count: complaint, welcome, cross-sell)" $? "$out"
while IFS= read -r p; do
  [ -z "$p" ] && continue
  r=$(su "WITH j AS (SELECT \$j\$$p\$j\$::json AS j)
          SELECT (SELECT array_agg(k ORDER BY k) FROM json_object_keys(j) k) = '{agent,colour,customer,id,kind}'
             AND json_typeof(j->'id') = 'number' AND json_typeof(j->'customer') = 'number' AND json_typeof(j->'agent') = 'number'
             AND EXISTS (SELECT 1 FROM cartera.alert a WHERE a.alert_id = (j->>'id')::bigint AND a.kind = j->>'kind'
                           AND a.colour = j->>'colour' AND a.customer_id = (j->>'customer')::bigint AND a.agent_id = (j->>'agent')::bigint)
            FROM j")
  [ "$r" = t ]; ok "payload $p has exactly id, kind, colour, customer, agent, and they are the alert's" $?
  ! echo "$p" | sed -E 's/"customer" ?: ?87654322//' | leaks; ok "payload $p carries no name, note, amount or other value of the portfolio" $?
done <<<"$payloads"

echo "1..$n"
exit $fail
