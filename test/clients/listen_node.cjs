// LISTEN cartera_alert with node-postgres (what JavaScript BI tools and
// dashboards use): the payload documented in docs/alerts.md arrives for an
// alert raised by another session.  argv: the customer id the harness will
// create; prints TAP lines, exits non-zero on a failure.
const pg = require('pg');   // test/clients/node_modules, else Debian's node-pg (NODE_PATH)

(async () => {
const customer = Number(process.argv[2]);
const client = new pg.Client();       // libpq's PG* environment
await client.connect();
let n = 0, good = true;
const ok = (cond, what) => { n++; console.log(`${cond ? 'ok' : 'not ok'} ${n} - node-postgres: ${what}`); good &&= cond; };
const got = new Promise((resolve) => {
  client.on('notification', (msg) => {
    const body = JSON.parse(msg.payload);
    if (body.customer === customer) resolve(body);
  });
  setTimeout(() => resolve(null), 20000);
});
await client.query('LISTEN cartera_alert');
console.log('# listening');
const body = await got;
ok(body !== null, `a notification on cartera_alert for customer ${customer}`);
if (body) {
  ok(JSON.stringify(Object.keys(body).sort()) === JSON.stringify(['agent', 'colour', 'customer', 'id', 'kind']),
     `the payload has exactly the documented keys (${JSON.stringify(body)})`);
  const r = await client.query('SELECT kind, colour, customer_id::int AS customer, agent_id::int AS agent FROM cartera.alert WHERE alert_id = $1', [body.id]);
  const row = r.rows[0] || {};
  ok(row.kind === body.kind && row.colour === body.colour && row.customer === body.customer && row.agent === body.agent,
     `its id names the alert it describes (${JSON.stringify(row)})`);
}
console.log(`1..${n}`);
await client.end();
process.exit(good ? 0 : 1);
})().catch((e) => { console.log(`not ok - node-postgres: ${e.message}`); process.exit(1); });
