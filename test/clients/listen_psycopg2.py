"""LISTEN cartera_alert with psycopg2 (what Python BI back ends and
notebooks use): the payload documented in docs/alerts.md arrives for an
alert raised by another session.  argv: the customer id the harness will
create; prints TAP lines, exits non-zero on a failure."""
import json
import select
import sys

import psycopg2
import psycopg2.extensions

customer = int(sys.argv[1])
conn = psycopg2.connect("")          # libpq's PG* environment
conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
cur = conn.cursor()
cur.execute("LISTEN cartera_alert")
print("# listening", flush=True)
got = None
for _ in range(200):                 # up to 20 s
    if select.select([conn], [], [], 0.1) != ([], [], []):
        conn.poll()
        for note in conn.notifies:
            body = json.loads(note.payload)
            if body.get("customer") == customer:
                got = (note.channel, body)
        conn.notifies.clear()
    if got:
        break
n = 0
def ok(cond, what):
    global n
    n += 1
    print(("ok" if cond else "not ok") + " %d - psycopg2: %s" % (n, what))
    return cond
good = ok(got is not None, "a notification on cartera_alert for customer %d" % customer)
if got:
    channel, body = got
    good &= ok(sorted(body) == ["agent", "colour", "customer", "id", "kind"],
               "the payload has exactly the documented keys (%s)" % json.dumps(body))
    cur.execute("SELECT kind, colour, customer_id, agent_id FROM cartera.alert WHERE alert_id = %s", (body["id"],))
    row = cur.fetchone()
    good &= ok(row == (body["kind"], body["colour"], body["customer"], body["agent"]),
               "its id names the alert it describes (%s)" % (row,))
print("1..%d" % n)
sys.exit(0 if good else 1)
