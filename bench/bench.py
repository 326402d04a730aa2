#!/usr/bin/env python3
"""cartera benchmark driver (started by bench/run).

Every comparison runs in one psql session: the variants alternate order from one
round to the next and the median of --runs rounds is reported.  Read-only queries
are timed with EXPLAIN (ANALYZE, TIMING OFF) ("Execution Time", no result
transfer); writes with psql \\timing.  Nothing here is a test: no threshold fails
the run, the table just says pass / FAIL against the targets of SPEC.md.
"""
import argparse, datetime, os, platform, random, re, shutil, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
BIG, SMALL = 'cartera_bench_big', 'cartera_bench_small'
RESULTS = []          # (case, ours, reference, ratio, target, verdict)
NOTES = []
LOG = []


def say(*a):
    msg = ' '.join(str(x) for x in a)
    print(msg, flush=True)
    LOG.append(msg)


def psql(db, sql, check=True):
    p = subprocess.run(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db],
                       input=sql, text=True, capture_output=True)
    if check and p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit('psql failed on %s' % db)
    return p.stdout + p.stderr


def value(db, sql):
    return psql(db, '\\pset tuples_only on\n\\pset format unaligned\n' + sql + ';\n').strip()


PRELUDE = "SET TimeZone = 'UTC';\nSET client_min_messages = warning;\n"


def compare(db, variants, runs, setup='', mode='explain', cpu=None, output=None):
    """variants: [(label, pre_sql, sql, post_sql)]; returns {label: [ms, ...]}.
    A variant's sql may time a second statement under a label of its own
    (a line "\\echo @@label" before it): that label gets its runs too.
    With cpu={} (a dict) and the server on this machine, cpu[label] gets the
    backend's own CPU time per run (utime + stime from /proc): a serial query's
    cost that does not count the time other processes on a shared machine take.
    With output=[] (a list), it gets the session's output lines."""
    s = [PRELUDE, setup, '\\timing on\n' if mode == 'timing' else '']
    cpuf = None
    if cpu is not None:
        cpuf = tempfile.mktemp(prefix='cartera_bench_cpu_')
        s.append("SELECT pg_backend_pid() AS bench_pid \\gset\n\\setenv BENCH_PID :bench_pid\n")
    for i in range(runs):
        order = variants if i % 2 == 0 else list(reversed(variants))
        for label, pre, sql, post in order:
            s.append(pre + '\n')
            s.append('\\echo @@%s\n' % label)
            if cpuf:
                s.append("\\! echo B %s $(cut -d' ' -f14,15 /proc/$BENCH_PID/stat 2>/dev/null) >> %s\n" % (label, cpuf))
            if mode == 'explain':
                s.append('EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF) %s;\n' % sql)
            else:
                s.append(sql + '\n')
            if cpuf:
                s.append("\\! echo E %s $(cut -d' ' -f14,15 /proc/$BENCH_PID/stat 2>/dev/null) >> %s\n" % (label, cpuf))
            s.append(post + '\n')
    out = psql(db, ''.join(s))
    if output is not None:
        output.extend(out.splitlines())
    if cpuf:
        tick = 1000.0 / os.sysconf('SC_CLK_TCK')
        begin = {}
        try:
            for line in open(cpuf):
                f = line.split()
                if len(f) != 4:        # server not on this machine: no /proc entry
                    continue
                t = (int(f[2]) + int(f[3])) * tick
                if f[0] == 'B':
                    begin[f[1]] = t
                elif f[1] in begin:
                    cpu.setdefault(f[1], []).append(t - begin.pop(f[1]))
            os.unlink(cpuf)
        except OSError:
            pass
    res = {v[0]: [] for v in variants}
    cur = None
    pat = re.compile(r'Execution Time: ([0-9.]+) ms' if mode == 'explain' else r'^Time: ([0-9.]+) ms')
    for line in out.splitlines():
        if line.startswith('@@'):
            cur = line[2:]
            continue
        m = pat.search(line)
        if m and cur is not None:
            res.setdefault(cur, []).append(float(m.group(1)))
            cur = None
    for k, v in res.items():
        if len(v) != runs:
            sys.stderr.write(out)
            raise SystemExit('could not time %s (%d of %d runs)' % (k, len(v), runs))
    return res


def med(xs):
    return statistics.median(xs)


def fmt_s(ms):
    return '%.2f s' % (ms / 1000.0) if ms >= 100 else '%.1f ms' % ms


def record(case, ours, ref, ratio, target, ok):
    verdict = 'info' if ok is None else ('pass' if ok else 'FAIL')
    RESULTS.append((case, ours, ref, ratio, target, verdict))
    say('  => %s | %s | %s | %s | %s | %s' % (case, ours, ref, ratio, target, verdict))
    if os.environ.get('BENCH_PARTIAL'):
        with open(os.environ['BENCH_PARTIAL'], 'a') as fh:
            fh.write('| %s |\n' % ' | '.join(RESULTS[-1]))


# ---------------------------------------------------------------- data

def generate(db, purchases, customers, seed, end):
    """Reproducible synthetic purchases in bench.p: everyone buys once, 40 % of the
    customers buy again with log-normal weights (a few buy hundreds of times),
    amounts log-normal (median 33), first purchases spread over 5 years up to end."""
    if purchases < customers:
        raise SystemExit('--purchases must be >= --customers (everyone buys at least once)')
    t = time.time()
    psql(db, PRELUDE + """
SET max_parallel_workers_per_gather = 0;   -- serial, so random() is reproducible
CREATE SCHEMA IF NOT EXISTS bench;
DROP TABLE IF EXISTS bench.cust, bench.p, bench.summ;
SELECT setseed(%(seed)s);
CREATE TABLE bench.cust AS
  SELECT c AS customer_id,
         CASE WHEN random() < 0.4
              THEN exp(1.0 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) ELSE 0 END AS w,
         timestamptz '%(end)s' - random() * interval '1826 days' AS first_at
    FROM generate_series(1, %(C)s) c;
ALTER TABLE bench.cust ADD COLUMN n bigint NOT NULL DEFAULT 1;
WITH tot AS (SELECT sum(w) AS sw FROM bench.cust),
     e AS (SELECT c.customer_id, (%(P)s - %(C)s) * c.w / tot.sw AS x FROM bench.cust c, tot WHERE c.w > 0),
     f AS (SELECT customer_id, floor(x)::bigint AS n, x - floor(x) AS frac FROM e),
     r AS (SELECT %(P)s - %(C)s - sum(n) AS rest FROM f),
     g AS (SELECT customer_id, n + CASE WHEN row_number() OVER (ORDER BY frac DESC, customer_id) <= r.rest THEN 1 ELSE 0 END AS n
             FROM f, r)
UPDATE bench.cust c SET n = 1 + g.n FROM g WHERE g.customer_id = c.customer_id;
CREATE TABLE bench.p (customer_id bigint NOT NULL, purchased_at timestamptz NOT NULL, amount numeric NOT NULL);
INSERT INTO bench.p
  SELECT customer_id, ts, amount FROM (
    SELECT c.customer_id,
           CASE WHEN g = 1 THEN c.first_at ELSE c.first_at + random() * (timestamptz '%(end)s' - c.first_at) END AS ts,
           round(exp(3.5 + 0.9 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))::numeric, 2) AS amount
      FROM bench.cust c, generate_series(1, c.n) g) s
   ORDER BY ts;                            -- stored in time order, as a shop appends them
VACUUM ANALYZE bench.p;
VACUUM ANALYZE bench.cust;
""" % dict(seed=seed, end=end, P=purchases, C=customers))
    st = value(db, """SELECT format('%s purchases, %s customers; one-time buyers %s %%, median %s, p99 %s, max %s purchases per customer; %s',
        sum(n), count(*), round(100.0 * count(*) FILTER (WHERE n = 1) / count(*), 1),
        percentile_disc(0.5) WITHIN GROUP (ORDER BY n), percentile_disc(0.99) WITHIN GROUP (ORDER BY n), max(n),
        pg_size_pretty(pg_total_relation_size('bench.p'))) FROM bench.cust""")
    say('  generated in %.0f s: %s' % (time.time() - t, st))
    return st


def load_portfolio(db, capacity, agents=20):
    """cartera.agent / customer / purchase from bench.cust / bench.p (purchases loaded
    with triggers off: refresh() is what sets the state, and it is timed in case 8).
    Every agent can work `capacity` alerts a day (agent.daily_capacity): far fewer
    than the daily job raises, so it fills each queue and ranks a backlog (case 6).
    The holdout shares are the defaults (10 %% of the contact kinds' customers)."""
    t = time.time()
    psql(db, PRELUDE + """
SELECT setseed(0.25);
INSERT INTO cartera.agent (name, login, region, daily_capacity)
  SELECT 'Agent ' || a, 'agent' || a, 'R' || (a %% 5), %(K)s FROM generate_series(1, %(A)s) a;
INSERT INTO cartera.customer (customer_id, full_name, email, country, region, birthday, owner_agent_id, marketing_consent, created_at)
  SELECT customer_id, 'Customer ' || customer_id, 'c' || customer_id || '@example.com',
         (ARRAY['ES','MX','AR','US'])[1 + customer_id %% 4], 'R' || customer_id %% 5,
         CASE WHEN random() < 0.5 THEN date '1950-01-01' + (random() * 20000)::int END,
         1 + customer_id %% %(A)s, random() < 0.7, first_at
    FROM bench.cust ORDER BY customer_id;
SELECT setval(pg_get_serial_sequence('cartera.customer', 'customer_id'), (SELECT max(customer_id) FROM cartera.customer));
SET session_replication_role = replica;
INSERT INTO cartera.purchase (customer_id, purchased_at, amount) SELECT customer_id, purchased_at, amount FROM bench.p;
RESET session_replication_role;
VACUUM ANALYZE cartera.customer;
VACUUM ANALYZE cartera.purchase;
VACUUM ANALYZE cartera.customer_state;
""" % dict(A=agents, K=capacity))
    say('  portfolio loaded in %.0f s' % (time.time() - t))


# ---------------------------------------------------------------- cases

def rfm_q(end):
    return "SELECT customer_id, cartera.rfm(purchased_at, amount, timestamptz '%s') FROM bench.p GROUP BY customer_id" % end


FLOOR_Q = ("SELECT customer_id, count(*), sum(amount), min(purchased_at), max(purchased_at) "
           "FROM bench.p GROUP BY customer_id")


def idiomatic_q(end):
    return """WITH d AS (SELECT customer_id, purchased_at::date AS day, sum(amount) AS amount, count(*) AS n
             FROM bench.p GROUP BY customer_id, purchased_at::date),
     w AS (SELECT d.*, min(day) OVER (PARTITION BY customer_id) AS first_day FROM d)
SELECT customer_id, sum(n) AS purchases, count(*) - 1 AS frequency,
       max(day) - min(day) AS t_x_days, date '%(d)s' - min(day) AS age_days,
       date '%(d)s' - max(day) AS recency_days, sum(amount) AS monetary_total,
       round(sum(amount) FILTER (WHERE day > first_day) / nullif(count(*) - 1, 0), 4) AS repeat_avg
  FROM w GROUP BY customer_id""" % dict(d=end[:10])


SERIAL = 'SET max_parallel_workers_per_gather = 0;'
PAR2 = 'SET max_parallel_workers_per_gather = 2;'


def case1_2(db, end, runs, tag):
    say('case 1/2 (%s): rfm() GROUP BY customer vs floor vs idiomatic SQL, serial' % tag)
    # the idiomatic query computes the same numbers: check on every customer
    bad = value(db, PRELUDE + """SELECT count(*) FROM (%s) i JOIN (%s) r(customer_id, s) USING (customer_id)
      WHERE (i.purchases, i.frequency, i.t_x_days, i.age_days, i.recency_days, i.monetary_total, i.repeat_avg)
            IS DISTINCT FROM ((s).purchases, (s).frequency, (s).t_x_days, (s).age_days, (s).recency_days, (s).monetary_total, (s).repeat_avg)"""
                % (idiomatic_q(end), rfm_q(end)))
    say('  idiomatic SQL vs rfm(): %s customers differ' % bad.splitlines()[-1])
    cpu = {}
    r = compare(db, [('rfm', SERIAL, rfm_q(end), ''), ('floor', SERIAL, FLOOR_Q, ''),
                     ('idiomatic', SERIAL, idiomatic_q(end), '')], runs, cpu=cpu)
    o, f, i = med(r['rfm']), med(r['floor']), med(r['idiomatic'])
    say('  runs (ms):', r)
    c1 = c2 = ''
    if all(len(cpu.get(k, [])) == runs for k in ('rfm', 'floor', 'idiomatic')):
        say('  backend CPU (ms):', cpu)
        co, cf, ci = med(cpu['rfm']), med(cpu['floor']), med(cpu['idiomatic'])
        if co > 0 and cf > 0:
            c1, c2 = ' (CPU %.2fx)' % (co / cf), ' (CPU %.2fx)' % (ci / co)
    record('1. rfm() GROUP BY customer vs floor query (%s)' % tag, fmt_s(o), fmt_s(f), '%.2fx%s' % (o / f, c1), '<= 1.2x', o / f <= 1.2)
    record('2. rfm() vs idiomatic SQL (%s)' % tag, fmt_s(o), fmt_s(i), '%.2fx faster%s' % (i / o, c2), '>= 2x faster', i / o >= 2)
    return o


# case 3 measures what 2 workers gain: make the planner use them even where it
# would not on its own (tables of ~100 k rows at the small size)
PAR2_FORCED = PAR2 + ' SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;'


def case3(db, end, runs):
    say('case 3: parallel, 2 workers vs 0')
    PAR2 = PAR2_FORCED
    fit_sub = ("SELECT cartera.bgnbd_fit(s, 'weeks') FROM (SELECT cartera.rfm(purchased_at, amount, timestamptz '%s') AS s "
               "FROM bench.p GROUP BY customer_id) q" % end)
    cases = [
        ('bgnbd_fit over stored summaries (1 row per customer)', "SELECT cartera.bgnbd_fit(s, 'weeks') FROM bench.summ"),
        ('gamma_gamma_fit over stored summaries', "SELECT cartera.gamma_gamma_fit(s) FROM bench.summ"),
        ('breakpoints of amount, all purchases', "SELECT cartera.breakpoints(amount::float8, 5) FROM bench.p"),
        ('rfm() over all purchases, no GROUP BY', "SELECT cartera.rfm(purchased_at, amount, timestamptz '%s') FROM bench.p" % end),
        ('bgnbd_fit over rfm() GROUP BY subquery', fit_sub),
    ]
    plans = []
    for label, q in cases:
        plan = psql(db, PRELUDE + PAR2 + '\nEXPLAIN (COSTS OFF) ' + q + ';\n')
        plans.append('-- %s, 2 workers\n%s' % (label, plan.strip()))
        cpu = {}
        r = compare(db, [('par', PAR2, q, ''), ('serial', SERIAL, q, '')], runs, cpu=cpu)
        p, s = med(r['par']), med(r['serial'])
        # the leader's own CPU with 2 workers vs the serial backend's: what the
        # wall-clock ratio would approach with idle cores for the workers
        lead = ''
        if len(cpu.get('par', [])) == runs and len(cpu.get('serial', [])) == runs and med(cpu['par']) > 0:
            lead = ' (leader CPU %.2fx)' % (med(cpu['serial']) / med(cpu['par']))
            say('  backend CPU (ms): %s' % cpu)
        shape = 'Partial+Finalize' if ('Partial Aggregate' in plan or 'Partial HashAggregate' in plan or 'Partial GroupAggregate' in plan) and 'Finalize' in plan else 'NOT parallel'
        say('  %s runs (ms): %s' % (label, r))
        record('3. %s [%s]' % (label, shape), fmt_s(p), fmt_s(s), '%.2fx faster%s' % (s / p, lead), '>= 1.6x faster', s / p >= 1.6)
    # the control: what 2 workers give PostgreSQL's own aggregates over the same
    # rows on this machine (the ceiling the targets above are measured under)
    q = 'SELECT count(*), sum(amount), min(purchased_at), max(purchased_at) FROM bench.p'
    r = compare(db, [('par', PAR2, q, ''), ('serial', SERIAL, q, '')], runs)
    p, s = med(r['par']), med(r['serial'])
    say('  control, built-in aggregates runs (ms): %s' % r)
    record('3. control: built-in count, sum, min, max over all purchases, 2 workers vs 0', fmt_s(p), fmt_s(s),
           '%.2fx faster' % (s / p), "informational (this machine's parallel gain)", None)
    # per-customer GROUP BY with 2 workers
    plan = psql(db, PRELUDE + PAR2 + '\nEXPLAIN (COSTS OFF) ' + rfm_q(end) + ';\nEXPLAIN (COSTS OFF) ' + FLOOR_Q + ';\n')
    plans.append('-- rfm() GROUP BY customer_id and the floor query, 2 workers\n' + plan.strip())
    cpu = {}
    r = compare(db, [('rfm_par', PAR2, rfm_q(end), ''), ('rfm_serial', SERIAL, rfm_q(end), ''),
                     ('floor_par', PAR2, FLOOR_Q, ''), ('floor_serial', SERIAL, FLOOR_Q, '')], runs, cpu=cpu)
    rp, rs, fp, fs = med(r['rfm_par']), med(r['rfm_serial']), med(r['floor_par']), med(r['floor_serial'])
    say('  GROUP BY runs (ms):', r)
    l1 = l2 = ''
    if all(len(cpu.get(k, [])) == runs and med(cpu[k]) > 0 for k in ('rfm_par', 'rfm_serial', 'floor_par')):
        say('  backend CPU (ms): %s' % cpu)
        l1 = ' (leader CPU %.2fx)' % (med(cpu['rfm_serial']) / med(cpu['rfm_par']))
        l2 = ' (leader CPU %.2fx)' % (med(cpu['rfm_par']) / med(cpu['floor_par']))
    record('3. rfm() GROUP BY customer, 2 workers vs serial', fmt_s(rp), fmt_s(rs), '%.2fx faster%s' % (rs / rp, l1), '>= 1.0x (never slower)', rs / rp >= 1.0)
    record('3. rfm() GROUP BY customer vs floor, both 2 workers', fmt_s(rp), fmt_s(fp), '%.2fx%s' % (rp / fp, l2), '<= 1.2x', rp / fp <= 1.2)
    record('3. control: the floor query GROUP BY customer, 2 workers vs serial', fmt_s(fp), fmt_s(fs), '%.2fx faster' % (fs / fp),
           "informational (this machine's parallel gain)", None)
    return plans


def case10(db, end, runs, quick=False):
    """How the per-customer GROUP BY grows: with the number of customers at a fixed
    number of purchases each, and with purchases per customer at a fixed number of
    customers.  Each point is a table of C customers with exactly K purchases each,
    spread over five years, stored in time order."""
    say('case 10: growth of rfm() GROUP BY with customers and purchases per customer (serial)')
    points = [(10000, 1), (10000, 10), (10000, 100), (100000, 1), (100000, 10), (1000, 1000)]
    if quick:
        points = [(1000, 1), (1000, 10), (10000, 1), (100, 100)]
    for c, k in points:
        psql(db, PRELUDE + """
SELECT setseed(0.42);
DROP TABLE IF EXISTS bench.g;
CREATE TABLE bench.g AS
  SELECT customer_id, purchased_at, amount FROM (
    SELECT c AS customer_id, timestamptz '%(end)s' - random() * interval '1825 days' AS purchased_at,
           round(exp(3.5 + random())::numeric, 2) AS amount
      FROM generate_series(1, %(c)d) c, generate_series(1, %(k)d) k) x
   ORDER BY purchased_at;
VACUUM ANALYZE bench.g;
""" % dict(end=end, c=c, k=k))
        qr = "SELECT customer_id, cartera.rfm(purchased_at, amount, timestamptz '%s') FROM bench.g GROUP BY customer_id" % end
        qf = 'SELECT customer_id, count(*), sum(amount), min(purchased_at), max(purchased_at) FROM bench.g GROUP BY customer_id'
        r = compare(db, [('rfm', SERIAL, qr, ''), ('floor', SERIAL, qf, '')], runs)
        o, f = med(r['rfm']), med(r['floor'])
        say('  %d customers x %d purchases: runs (ms) %s' % (c, k, r))
        record('10. growth: %s customers x %d purchases each (%s rows), rfm() vs floor; rfm() %.3f us per purchase'
               % (format(c, ','), k, format(c * k, ','), 1000.0 * o / (c * k)),
               fmt_s(o), fmt_s(f), '%.2fx' % (o / f), 'informational', None)
    psql(db, 'DROP TABLE bench.g;')


def case7(db, end, runs, tmp):
    say('case 7: the model fits on all customers (serial): BG/NBD, Pareto/NBD, MBG/NBD, Gamma-Gamma')
    cells = value(db, """SELECT format('%s customers; BG/NBD: %s distinct (x, t_x, T) cells; Gamma-Gamma: %s distinct (x, repeat_avg) cells',
        count(*), count(DISTINCT ((s).frequency, (s).t_x_days, (s).age_days)),
        count(DISTINCT ((s).frequency, (s).repeat_avg)) FILTER (WHERE (s).frequency > 0)) FROM bench.summ""")
    fits = value(db, "SELECT cartera.bgnbd_fit(s, 'weeks')::text || ' / ' || cartera.gamma_gamma_fit(s)::text FROM bench.summ")
    pfits = value(db, "SELECT cartera.pareto_nbd_fit(s, 'weeks')::text || ' / ' || cartera.mbgnbd_fit(s, 'weeks')::text FROM bench.summ")
    # the state every transaction fit keeps: the (x, t_x, T) histogram, 32 bytes a cell
    state = value(db, "SELECT format('%s bytes of fit state (the serialized histogram)', length(cartera.bgnbd_fit_partial(s, 7))) FROM bench.summ")
    r = compare(db, [('bgnbd', SERIAL, "SELECT cartera.bgnbd_fit(s, 'weeks') FROM bench.summ", ''),
                     ('pareto', SERIAL, "SELECT cartera.pareto_nbd_fit(s, 'weeks') FROM bench.summ", ''),
                     ('mbgnbd', SERIAL, "SELECT cartera.mbgnbd_fit(s, 'weeks') FROM bench.summ", ''),
                     ('gg', SERIAL, "SELECT cartera.gamma_gamma_fit(s) FROM bench.summ", ''),
                     ('scan', SERIAL, "SELECT count(s) FROM bench.summ", '')], runs)
    say('  runs (ms):', r)
    say('  ' + cells + '; ' + state)
    say('  fits: ' + fits)
    say('  fits: ' + pfits)
    NOTES.append('Case 7: ' + cells + '; ' + state + '. Fits: ' + fits + '; ' + pfits + '.')
    n = cells.split(';')[0]
    record('7. bgnbd_fit, %s' % n, fmt_s(med(r['bgnbd'])), fmt_s(med(r['scan'])) + ' (scan)', '-', 'seconds', med(r['bgnbd']) < 30000)
    record('7. pareto_nbd_fit, %s (%s)' % (n, state), fmt_s(med(r['pareto'])), fmt_s(med(r['scan'])) + ' (scan)',
           '%.1fx bgnbd_fit' % (med(r['pareto']) / med(r['bgnbd'])), 'seconds', med(r['pareto']) < 30000)
    record('7. mbgnbd_fit', fmt_s(med(r['mbgnbd'])), fmt_s(med(r['scan'])) + ' (scan)',
           '%.1fx bgnbd_fit' % (med(r['mbgnbd']) / med(r['bgnbd'])), 'seconds', med(r['mbgnbd']) < 30000)
    record('7. gamma_gamma_fit', fmt_s(med(r['gg'])), fmt_s(med(r['scan'])) + ' (scan)', '-', 'seconds', med(r['gg']) < 30000)
    # The generated customers never drop out, which puts Pareto/NBD on the
    # edge of its space (s -> 0, beta -> inf) where its integral needs
    # quadrature and the optimiser crawls.  Customers who do drop out: 1 M
    # drawn from the Pareto/NBD with CDNOW's published parameters (weeks,
    # T uniform on 0-104 weeks in whole days), fitted as they come.
    rng = random.Random(20261204)
    rows = []
    for _ in range(1000000):
        T = rng.randrange(1, 729) / 7.0
        lam = rng.gammavariate(0.5534, 1 / 10.5802)
        mu = rng.gammavariate(0.6061, 1 / 11.6562)
        end = min(T, rng.expovariate(mu) if mu > 0 else T)
        t = tx = 0.0
        x = 0
        while True:
            t += rng.expovariate(lam) if lam > 0 else float('inf')
            if t > end:
                break
            x += 1
            tx = t
        rows.append('%d\t%r\t%r' % (x, min(round(tx * 7) / 7.0, T), T))
    path = os.path.join(tmp, 'pnbd.tsv')
    with open(path, 'w') as f:
        f.write('\n'.join(rows) + '\n')
    psql(db, "CREATE TABLE bench.pnbd_sim (x int, t_x float8, tt float8);\n\\copy bench.pnbd_sim FROM '%s'\nVACUUM ANALYZE bench.pnbd_sim;\n" % path)
    big = value(db, "SELECT format('%s customers, %s distinct (x, t_x, T) cells', count(*), count(DISTINCT (x, t_x, tt))) FROM bench.pnbd_sim")
    pf = value(db, "SELECT cartera.pareto_nbd_fit(x, t_x, tt, 'weeks')::text FROM bench.pnbd_sim")
    r2 = compare(db, [('bgnbd', SERIAL, "SELECT cartera.bgnbd_fit(x, t_x, tt, 'weeks') FROM bench.pnbd_sim", ''),
                      ('pareto', SERIAL, "SELECT cartera.pareto_nbd_fit(x, t_x, tt, 'weeks') FROM bench.pnbd_sim", ''),
                      ('mbgnbd', SERIAL, "SELECT cartera.mbgnbd_fit(x, t_x, tt, 'weeks') FROM bench.pnbd_sim", '')], runs)
    say('  simulated Pareto/NBD: ' + big + '; runs (ms): ' + str(r2))
    say('  Pareto/NBD: ' + pf)
    NOTES.append('Case 7, 1 M customers simulated from the Pareto/NBD with the CDNOW parameters: ' + big + '. Pareto/NBD: ' + pf + '.')
    record('7. simulated Pareto/NBD customers (%s): pareto_nbd_fit' % big, fmt_s(med(r2['pareto'])), fmt_s(med(r2['bgnbd'])) + ' (bgnbd_fit)',
           '%.1fx' % (med(r2['pareto']) / med(r2['bgnbd'])), 'seconds', med(r2['pareto']) < 30000)
    record('7. simulated Pareto/NBD customers: mbgnbd_fit', fmt_s(med(r2['mbgnbd'])), fmt_s(med(r2['bgnbd'])) + ' (bgnbd_fit)',
           '%.1fx' % (med(r2['mbgnbd']) / med(r2['bgnbd'])), 'seconds', med(r2['mbgnbd']) < 30000)
    psql(db, 'DROP TABLE bench.pnbd_sim;')


def case8_6(db, runs, tag, customers):
    say('case 8/6 (%s): refresh() and run_followups()' % tag)
    # every round but the last rolls back, so each starts from the same state
    refresh = []
    for i in range(runs):
        post = 'COMMIT;' if i == runs - 1 else 'ROLLBACK;'
        refresh.append(('refresh%d' % i, 'BEGIN;', 'SELECT * FROM cartera.refresh();', post))
    out = {}
    for v in refresh:
        out.update(compare(db, [v], 1, mode='timing'))
    rt = [out[k][0] for k in sorted(out)]
    say('  refresh runs (ms):', rt)
    mix = value(db, "SELECT string_agg(status || ' ' || n, ', ' ORDER BY status) FROM (SELECT status, count(*) n FROM cartera.customer_state GROUP BY 1) s")
    say('  statuses after refresh: ' + mix)
    r = compare(db, [('followups', 'BEGIN;', 'SELECT sum(raised) FROM cartera.run_followups();', 'ROLLBACK;')], runs, mode='timing')
    raised = value(db, "BEGIN; SELECT sum(raised) FROM cartera.run_followups(); ROLLBACK").splitlines()
    say('  run_followups runs (ms): %s; raises %s alerts' % (r['followups'], raised[-1] if raised else '?'))
    # what the job did with capacity and holdouts on (rolled back): no queue
    # over its agent's capacity, a backlog, the holdout groups drawn
    chk = value(db, """BEGIN;
SELECT count(*) FROM cartera.run_followups();
SELECT format('%s alerts, %s held out (%s %%), %s queued, %s backlog; queues within capacity: %s',
              count(*), count(*) FILTER (WHERE status = 'held_out'),
              round(100.0 * count(*) FILTER (WHERE status = 'held_out')
                    / nullif(count(*) FILTER (WHERE k.category IN ('relationship', 'marketing')), 0), 1),
              count(*) FILTER (WHERE queue = 'queued' AND status IN ('open', 'acknowledged')),
              count(*) FILTER (WHERE queue = 'backlog' AND status IN ('open', 'acknowledged')),
              CASE WHEN (SELECT bool_and(p.queued_alerts <= p.daily_capacity) FROM cartera.agent_portfolio p
                          WHERE p.agent_id IS NOT NULL) THEN 'yes' ELSE 'NO' END)
  FROM cartera.alert a JOIN cartera.alert_kind k USING (kind);
ROLLBACK""").splitlines()
    chk = chk[-1] if chk else '?'
    say('  case 6 check (%s): %s' % (tag, chk))
    NOTES.append('Portfolio %s: statuses after refresh(): %s; run_followups() raises %s alerts; %s.'
                 % (tag, mix, raised[-1] if raised else '?', chk))
    return med(rt), med(r['followups'])


def purchase_copy(db, table, extra_sql=''):
    """A table with cartera.purchase's shape, indexes and foreign key, without
    cartera's triggers (created again, empty), then extra_sql."""
    psql(db, PRELUDE + """
DROP TABLE IF EXISTS %(t)s;
CREATE TABLE %(t)s (LIKE cartera.purchase INCLUDING ALL);
ALTER TABLE %(t)s ADD FOREIGN KEY (customer_id) REFERENCES cartera.customer;
""" % dict(t=table) + extra_sql)


def make_plain_table(db):
    """The reference of cases 4 and 5."""
    purchase_copy(db, 'bench.purchase_plain')


def make_floor_table(db):
    """The control of case 4: the plain table with the smallest synchronous state
    maintenance there can be, a statement trigger updating each customer's
    customer_state row once (no summary, scoring, log or alerts)."""
    purchase_copy(db, 'bench.purchase_floor', """
CREATE OR REPLACE FUNCTION bench.touch_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE cartera.customer_state s SET updated_at = clock_timestamp()
   WHERE s.customer_id IN (SELECT n.customer_id FROM new_rows n);
  RETURN NULL;
END $$;
CREATE TRIGGER touch_state AFTER INSERT ON bench.purchase_floor REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION bench.touch_state();
""")


def worker_running(db):
    return value(db, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'cartera deferred worker' "
                     "AND datname = current_database()") != '0'


STATE_CHECK = """WITH f AS (
        SELECT p.customer_id, cartera.rfm(p.purchased_at, p.amount, (s.summary).as_of) AS summary
          FROM cartera.purchase p JOIN cartera.customer_state s USING (customer_id)
         GROUP BY p.customer_id, (s.summary).as_of)
      SELECT format('%s customers checked, %s differ from rfm() from scratch, %s duplicate open alerts', count(*),
                    count(*) FILTER (WHERE f.summary IS DISTINCT FROM s.summary),
                    (SELECT count(*) FROM (SELECT customer_id, kind FROM cartera.alert
                                            WHERE status IN ('open', 'acknowledged', 'snoozed') AND customer_id IS NOT NULL
                                            GROUP BY 1, 2 HAVING count(*) > 1) d))
        FROM f JOIN cartera.customer_state s USING (customer_id)"""

# waits, inside one statement, until the deferred queue is empty
DRAIN = """DO $$ BEGIN
  LOOP
    EXIT WHEN NOT EXISTS (SELECT 1 FROM cartera.deferred_change);
    PERFORM pg_sleep(0.02);
  END LOOP;
END $$;"""


def case5(db, runs, tmp, refresh_ms):
    """COPY of the purchases into cartera.purchase in immediate mode, into the
    plain table, and (with the worker running) into cartera.purchase in
    deferred mode, the worker then draining the queue. The three run next to
    each other in each round, in alternating order, and each target takes the
    median of the rounds' ratios: the machine is shared, and its speed drifts
    between rounds more than the effects measured."""
    say('case 5: COPY of the purchases into cartera.purchase (immediate, deferred) vs a plain table of the same shape')
    csv = os.path.join(tmp, 'purchases.csv')
    psql(db, PRELUDE + "\\copy (SELECT customer_id, purchased_at, amount FROM bench.p) TO '%s' CSV\n" % csv)
    n = value(db, 'SELECT count(*) FROM bench.p')
    make_plain_table(db)
    copy = "COPY %%s (customer_id, purchased_at, amount) FROM '%s' CSV;" % csv
    deferred = worker_running(db)
    if not deferred:
        say('  (no cartera deferred worker serves %s: the deferred variant is skipped; bench/run preloads it)' % db)

    def check(label):
        return "SELECT '##check %s ' || (%s);" % (label, STATE_CHECK)
    variants = [
        ('trig', 'TRUNCATE cartera.purchase; CHECKPOINT;', copy % 'cartera.purchase', check('trig')),
        ('plain', 'TRUNCATE bench.purchase_plain; CHECKPOINT;', copy % 'bench.purchase_plain', ''),
    ]
    if deferred:
        # the queue the COPY leaves is invisible to the worker until the COPY
        # commits: the COPY's time is the purchase path's alone; then the
        # worker's drain is timed
        variants.append(('deferred',
                         "TRUNCATE cartera.purchase; SELECT cartera.set_purchase_mode('cartera.purchase', 'deferred'); CHECKPOINT;",
                         copy % 'cartera.purchase' + '\n\\echo @@drain\n' + DRAIN,
                         "SELECT cartera.set_purchase_mode('cartera.purchase', 'immediate');\n"
                         "VACUUM cartera.deferred_change, cartera.customer_state;\n" + check('deferred')))
    out = []
    ms = compare(db, variants, runs, mode='timing', output=out,
                 setup="\\pset tuples_only on\n\\pset format unaligned\n"
                       "SELECT cartera.set_purchase_mode('cartera.purchase', 'immediate');\n")
    checks = {}
    for line in out:
        if line.startswith('##check '):
            _, label, text = line.split(' ', 2)
            checks.setdefault(label, []).append(text)
    say('  runs (ms):', ms)
    for k, v in checks.items():
        say('  checks after %s: %s' % (k, '; '.join(sorted(set(v)))))
        NOTES.append('Case 5 check after each COPY (%s%s): %s.' % (k, ', once the worker drained it' if k == 'deferred' else '',
                                                                  '; '.join(sorted(set(v)))))
    chk = checks['trig'][-1]
    p = med(ms['plain'])
    t = med(ms['trig'])
    tr = med([a / b for a, b in zip(ms['trig'], ms['plain'])])
    NOTES.append('Case 5 ratios to the plain COPY per round: immediate %s; deferred %s.'
                 % (', '.join('%.2fx' % (a / b) for a, b in zip(ms['trig'], ms['plain'])),
                    ', '.join('%.2fx' % (a / b) for a, b in zip(ms.get('deferred', []), ms['plain'])) or '-'))
    record('5. COPY %s purchases, triggers vs plain table (%s), median of the rounds\' ratios'
           % (n, chk.split(',')[1].strip()), fmt_s(t), fmt_s(p), '%.2fx' % tr, '<= 2x', tr <= 2)
    if deferred:
        dr = med([a / b for a, b in zip(ms['deferred'], ms['plain'])])
        record('5. COPY, deferred mode vs plain table, median of the rounds\' ratios', fmt_s(med(ms['deferred'])), fmt_s(p),
               '%.2fx' % dr, '<= 1.2x', dr <= 1.2)
        if refresh_ms:
            d = med(ms['drain'])
            dchk = checks['deferred'][-1]
            record('5. the worker drains that COPY (%s) vs refresh() on the same customers' % dchk.split(',')[1].strip(),
                   fmt_s(d), fmt_s(refresh_ms), '%.2fx' % (d / refresh_ms), '<= 1x', d / refresh_ms <= 1)


def case4(db, runs, seconds, clients, tmp):
    say('case 4: pgbench single-row INSERT, %d clients, %d s per run' % (clients, seconds))
    ncust = value(db, 'SELECT max(customer_id) FROM cartera.customer')
    # the plain table keeps the rows case 5 copied into it, as cartera.purchase does
    if value(db, "SELECT to_regclass('bench.purchase_plain') IS NULL") == 't':
        make_plain_table(db)
    make_floor_table(db)
    tables = {'trig': 'cartera.purchase', 'plain': 'bench.purchase_plain', 'floor': 'bench.purchase_floor'}
    deferred = worker_running(db)
    if deferred:
        # cartera.purchase in deferred mode, the worker applying beside the writers;
        # and the writers alone, the applier held off by its lock (the queue is
        # applied after the run): what the purchase path itself costs
        tables['deferred'] = 'cartera.purchase'
        tables['queued'] = 'cartera.purchase'
    else:
        say('  (no cartera deferred worker serves %s: the deferred variant is skipped)' % db)
    tps = {k: [] for k in tables}
    # plain and queued run next to each other, in alternating order: their
    # ratio is taken per round (the machine is shared: its speed drifts
    # between rounds more than the effect measured)
    for i in range(runs):
        order = ['trig', 'floor', 'deferred', 'plain', 'queued'] if i % 2 == 0 else ['queued', 'plain', 'deferred', 'floor', 'trig']
        for k in order:
            if k not in tables:
                continue
            table = tables[k]
            holder = None
            if k in ('deferred', 'queued'):
                psql(db, "SELECT cartera.set_purchase_mode('cartera.purchase', 'deferred');")
            if k == 'queued':
                holder = subprocess.Popen(['psql', '-X', '-q', '-d', os.environ.get('PGDATABASE_BENCH', db), '-c',
                                           "SELECT pg_advisory_lock(1667330676, ('cartera.deferred_change'::regclass::oid::bigint "
                                           "% 2147483647)::int)", '-c', 'SELECT pg_sleep(%d)' % (seconds + 60)],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for _ in range(100):
                    if value(db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 1667330676 AND granted") != '0':
                        break
                    time.sleep(0.1)
            f = os.path.join(tmp, 'insert_%s.sql' % k)
            with open(f, 'w') as fh:
                fh.write('\\set c random(1, %s)\n' % ncust)
                fh.write("INSERT INTO %s (customer_id, purchased_at, amount) VALUES "
                         "(:c, now() - random() * interval '30 days', round((random() * 100)::numeric, 2));\n" % table)
            p = subprocess.run(['pgbench', '-n', '-M', 'prepared', '-f', f, '-c', str(clients), '-j', str(min(clients, 2)),
                                '-T', str(seconds), os.environ.get('PGDATABASE_BENCH', db)], capture_output=True, text=True)
            m = re.search(r'tps = ([0-9.]+) \(without initial', p.stdout)
            if not m:
                sys.stderr.write(p.stdout + p.stderr)
                raise SystemExit('pgbench failed')
            tps[k].append(float(m.group(1)))
            if holder is not None:
                holder.kill()
                holder.wait()
                psql(db, "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = 1667330676 AND granted "
                         "AND pid <> pg_backend_pid();")
            if k in ('deferred', 'queued'):
                # back to immediate: what the worker has not applied yet is
                # applied now; then the dead queue rows and states are vacuumed
                # and a checkpoint taken, so that no run pays for another's
                psql(db, "SELECT cartera.set_purchase_mode('cartera.purchase', 'immediate');")
                psql(db, "VACUUM cartera.deferred_change, cartera.customer_state;")
                psql(db, "CHECKPOINT;")
    say('  tps:', tps)
    t, p, f = med(tps['trig']), med(tps['plain']), med(tps['floor'])
    record('4. single-row INSERT tps (pgbench, %d clients), triggers vs plain' % clients, '%.0f tps' % t, '%.0f tps' % p,
           '%.0f %%' % (100 * t / p), '>= 60 %', t / p >= 0.6)
    record('4. control: plain table + a trigger that only updates the customer_state row, vs plain', '%.0f tps' % f, '%.0f tps' % p,
           '%.0f %%' % (100 * f / p), 'informational (ceiling of a synchronous state)', None)
    if deferred:
        d = med(tps['deferred'])
        chk = value(db, PRELUDE + STATE_CHECK)
        say('  after the deferred runs: ' + chk)
        NOTES.append('Case 4 deferred, after switching back to immediate: ' + chk + '.')
        q = med(tps['queued'])
        # the median of the rounds' ratios (each round runs the two next to each other)
        pairs = [a / b for a, b in zip(tps['queued'], tps['plain'])]
        r = med(pairs)
        NOTES.append('Case 4, the purchase path alone in deferred mode: ratio to the plain table per round %s '
                     '(median %.0f %%); the ratio of the medians %.0f %%.'
                     % (', '.join('%.0f %%' % (100 * x) for x in pairs), 100 * r, 100 * q / p))
        record('4. single-row INSERT tps, deferred mode, the purchase path alone (applier held off) vs plain, '
               'median of the rounds\' ratios', '%.0f tps' % q, '%.0f tps' % p, '%.0f %%' % (100 * r), '>= 80 %', r >= 0.8)
        record('4. single-row INSERT tps, deferred mode with the worker applying beside the writers (same 2 cores) vs plain',
               '%.0f tps' % d, '%.0f tps' % p, '%.0f %%' % (100 * d / p), 'informational', None)
    return p


def case11(db, seconds, clients, tmp, plain_tps):
    """Lag under a sustained single-row load at half the plain table's
    throughput (pgbench --rate): the age of the oldest queued change, sampled
    every 50 ms in one session, p99 and max."""
    if not worker_running(db):
        say('case 11: skipped (no cartera deferred worker serves %s: bench/run preloads it)' % db)
        return
    rate = max(1, int(plain_tps / 2))
    secs = max(10, seconds * 3)
    # sampled once the load is steady: its first seconds follow the checkpoint
    # that ended case 4, when every first change of a page writes the whole
    # page to the WAL (a burst no sustained load has every few seconds)
    warmup = 5
    say('case 11: deferred lag at %d purchases/s (half the plain table), %d clients, %d s' % (rate, clients, secs))
    ncust = value(db, 'SELECT max(customer_id) FROM cartera.customer')
    psql(db, "SELECT cartera.set_purchase_mode('cartera.purchase', 'deferred');")
    f = os.path.join(tmp, 'insert_lag.sql')
    with open(f, 'w') as fh:
        fh.write('\\set c random(1, %s)\n' % ncust)
        fh.write("INSERT INTO cartera.purchase (customer_id, purchased_at, amount) VALUES "
                 "(:c, now() - random() * interval '30 days', round((random() * 100)::numeric, 2));\n")
    sampler = subprocess.Popen(['psql', '-X', '-q', '-At', '-d', os.environ.get('PGDATABASE_BENCH', db), '-c', """
DO $$
DECLARE
  ages float8[] := '{}';
  stop timestamptz := clock_timestamp() + interval '%d seconds';
BEGIN
  PERFORM pg_sleep(%d);
  COMMIT;
  WHILE clock_timestamp() < stop LOOP
    ages := ages || coalesce((SELECT extract(epoch FROM clock_timestamp() - d.queued_at)::float8
                                FROM cartera.deferred_change d ORDER BY d.change_id LIMIT 1), 0);
    PERFORM pg_sleep(0.05);
    COMMIT;   -- no snapshot held: the queue's deleted rows must be prunable
  END LOOP;
  RAISE NOTICE 'lag %% %% %% %%', cardinality(ages),
    (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(ages) x),
    (SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY x) FROM unnest(ages) x),
    (SELECT max(x) FROM unnest(ages) x);
END $$;""" % (secs + warmup, warmup)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    p = subprocess.run(['pgbench', '-n', '-M', 'prepared', '-f', f, '-c', str(clients), '-j', str(min(clients, 2)),
                        '-R', str(rate), '-T', str(secs + warmup), os.environ.get('PGDATABASE_BENCH', db)], capture_output=True, text=True)
    _, err = sampler.communicate()
    m = re.search(r'tps = ([0-9.]+) \(without initial', p.stdout)
    lag = re.search(r'lag ([0-9]+) ([0-9.e+-]+) ([0-9.e+-]+) ([0-9.e+-]+)', err)
    if not m or not lag:
        sys.stderr.write(p.stdout + p.stderr + err)
        raise SystemExit('case 11 failed')
    psql(db, DRAIN)
    chk = value(db, PRELUDE + STATE_CHECK)
    psql(db, "SELECT cartera.set_purchase_mode('cartera.purchase', 'immediate');")
    n, p50, p99, mx = int(lag.group(1)), float(lag.group(2)), float(lag.group(3)), float(lag.group(4))
    say('  %s tps done; %d samples of the oldest queued change\'s age: median %.3f s, p99 %.3f s, max %.3f s; %s'
        % (m.group(1), n, p50, p99, mx, chk))
    NOTES.append('Case 11: %s purchases/s for %d s (sampled after the first %d s); oldest queued change: median %.3f s, p99 %.3f s, max %.3f s (%d samples); after the drain: %s.'
                 % (m.group(1), secs + warmup, warmup, p50, p99, mx, n, chk))
    record('11. deferred lag at half the plain throughput (%s tps): p99 age of the oldest queued purchase' % m.group(1),
           '%.2f s' % p99, '2 s', '%.2fx' % (p99 / 2.0), '< 2 s', p99 < 2.0)


def case9(db, end, tmp, rfm_ms):
    py = '/usr/bin/python3'
    probe = subprocess.run([py, '-c', 'import pandas'], capture_output=True)
    if probe.returncode != 0:
        say('case 9: skipped (python3-pandas not installed: apt-get install -y python3-pandas)')
        return
    say('case 9: pandas from a CSV export')
    csv = os.path.join(tmp, 'export.csv')
    t0 = time.time()
    psql(db, PRELUDE + "\\copy (SELECT customer_id, purchased_at, amount FROM bench.p) TO '%s' CSV\n" % csv)
    export = time.time() - t0
    script = r'''
import sys, time, pandas as pd
t0 = time.time()
df = pd.read_csv(sys.argv[1], names=['customer_id', 'purchased_at', 'amount'], parse_dates=['purchased_at'])
t1 = time.time()
end = pd.Timestamp(sys.argv[2]).normalize()
df['day'] = df['purchased_at'].dt.tz_convert('UTC').dt.tz_localize(None).dt.normalize()
d = df.groupby(['customer_id', 'day'], sort=False).agg(amount=('amount', 'sum'), n=('amount', 'size')).reset_index()
d['first_day'] = d.groupby('customer_id')['day'].transform('min')
d['rep'] = d['amount'].where(d['day'] > d['first_day'], 0.0)
g = d.groupby('customer_id').agg(purchases=('n', 'sum'), days=('day', 'size'), first=('day', 'min'), last=('day', 'max'),
                                 total=('amount', 'sum'), rep=('rep', 'sum'))
g['frequency'] = g['days'] - 1
g['t_x_days'] = (g['last'] - g['first']).dt.days
g['age_days'] = (end.tz_localize(None) - g['first']).dt.days
g['repeat_avg'] = g['rep'] / g['frequency'].where(g['frequency'] > 0)
t2 = time.time()
print('%.3f %.3f %d' % (t1 - t0, t2 - t1, len(g)))
'''
    sp = os.path.join(tmp, 'rfm_pandas.py')
    with open(sp, 'w') as fh:
        fh.write(script)
    p = subprocess.run([py, sp, csv, end], capture_output=True, text=True)
    if p.returncode != 0:
        say('  pandas failed: ' + p.stderr[-500:])
        return
    rd, comp, n = p.stdout.split()
    total = export + float(rd) + float(comp)
    say('  export %.1f s, read_csv %s s, compute %s s, %s customers' % (export, rd, comp, n))
    NOTES.append('Case 9 (pandas %s): COPY TO CSV %.1f s, read_csv %s s, group-bys %s s for %s customers (floating-point sums, not exact).'
                 % (subprocess.run([py, '-c', 'import pandas; print(pandas.__version__)'], capture_output=True, text=True).stdout.strip(),
                    export, rd, comp, n))
    record('9. same summary in pandas: export + read + compute (info)', fmt_s(rfm_ms), '%.1f s (compute alone %s s)' % (total, comp),
           '%.1fx' % (total * 1000 / rfm_ms), 'informational', None)


# ---------------------------------------------------------------- main

def machine():
    cpu = '?'
    with open('/proc/cpuinfo') as fh:
        for line in fh:
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    with open('/proc/meminfo') as fh:
        mem = int(fh.readline().split()[1]) // 1024 // 1024
    return 'nproc %s, %s GiB RAM, CPU "%s", %s' % (os.cpu_count(), mem, cpu, platform.platform())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--purchases', type=int, default=10_000_000, help='purchases of the big data set (cases 1-3, 6-9)')
    ap.add_argument('--customers', type=int, default=1_000_000)
    ap.add_argument('--small-purchases', type=int, default=1_000_000, help='second data point; also cases 4 and 5')
    ap.add_argument('--small-customers', type=int, default=100_000)
    ap.add_argument('--runs', type=int, default=3, help='rounds per comparison (median reported)')
    ap.add_argument('--clients', type=int, default=4, help='pgbench clients')
    ap.add_argument('--pgbench-seconds', type=int, default=5)
    ap.add_argument('--seed', type=float, default=0.42)
    ap.add_argument('--capacity', type=int, default=50, help='daily_capacity of each of the 20 agents (case 6)')
    ap.add_argument('--quick', action='store_true', help='tiny sizes (smoke check, under a minute)')
    ap.add_argument('--skip', default='', help='comma-separated case numbers to skip')
    ap.add_argument('--out', help='also write the results as markdown to this file')
    a = ap.parse_args()
    if a.quick:
        a.purchases, a.customers, a.small_purchases, a.small_customers = 100_000, 20_000, 20_000, 4_000
        a.pgbench_seconds, a.runs = 2, 3
    skip = set(x for x in a.skip.split(',') if x)
    end = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d 00:00:00+00')
    maint = os.environ.get('PGDATABASE', 'postgres')
    t_start = time.time()
    say('machine: ' + machine())
    pgv = value(maint, 'SELECT version()')
    say('server: ' + pgv)
    settings = value(maint, "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) FROM pg_settings "
                     "WHERE name IN ('shared_buffers','work_mem','max_parallel_workers_per_gather','jit','synchronous_commit','max_worker_processes','hash_mem_multiplier')")
    say('settings: ' + settings)
    for db in (BIG, SMALL):
        psql(maint, 'DROP DATABASE IF EXISTS %s;\nCREATE DATABASE %s;\n' % (db, db))
        psql(db, 'CREATE EXTENSION cartera;\n')
    extv = value(BIG, "SELECT extversion FROM pg_extension WHERE extname = 'cartera'")
    say('cartera %s; data ends %s; big %d purchases / %d customers, small %d / %d; %d runs'
        % (extv, end, a.purchases, a.customers, a.small_purchases, a.small_customers, a.runs))
    tmp = tempfile.mkdtemp(prefix='cartera_bench_')
    os.chmod(tmp, 0o755)
    stats = {}
    plans = []
    try:
        say('big data set:')
        stats['big'] = generate(BIG, a.purchases, a.customers, a.seed, end)
        say('small data set:')
        stats['small'] = generate(SMALL, a.small_purchases, a.small_customers, a.seed, end)
        psql(BIG, PRELUDE + "CREATE TABLE bench.summ AS SELECT customer_id, cartera.rfm(purchased_at, amount, timestamptz '%s') AS s "
                  "FROM bench.p GROUP BY customer_id;\nVACUUM ANALYZE bench.summ;\n" % end)
        rfm_big = None
        if '1' not in skip:
            rfm_big = case1_2(BIG, end, a.runs, '%dk purchases / %dk customers' % (a.purchases // 1000, a.customers // 1000))
            case1_2(SMALL, end, a.runs, '%dk / %dk' % (a.small_purchases // 1000, a.small_customers // 1000))
        if '3' not in skip:
            plans = case3(BIG, end, a.runs)
        if '10' not in skip:
            case10(SMALL, end, a.runs, a.quick)
        if '7' not in skip:
            case7(BIG, end, a.runs, tmp)
        if '9' not in skip and rfm_big:
            case9(BIG, end, tmp, rfm_big)
        if '8' not in skip:
            # the small portfolio first (cases 8, 6, 5, 4), then the big one
            say('portfolio (small):')
            load_portfolio(SMALL, a.capacity)
            rs, fs = case8_6(SMALL, a.runs, '%dk customers' % (a.small_customers // 1000), a.small_customers)
            plain_tps = None
            if '5' not in skip:
                case5(SMALL, a.runs, tmp, rs)
            if '4' not in skip:
                plain_tps = case4(SMALL, a.runs, a.pgbench_seconds, a.clients, tmp)
            if '11' not in skip and plain_tps:
                case11(SMALL, a.pgbench_seconds, a.clients, tmp, plain_tps)
            say('portfolio (big):')
            load_portfolio(BIG, a.capacity)
            rb, fb = case8_6(BIG, a.runs, '%dk customers' % (a.customers // 1000), a.customers)
            k = a.customers / a.small_customers
            record('8. refresh() on %dk customers / %dk purchases (vs %dk / %dk)' % (a.customers // 1000, a.purchases // 1000,
                   a.small_customers // 1000, a.small_purchases // 1000), fmt_s(rb), fmt_s(rs), '%.1fx' % (rb / rs),
                   'informational (~%.0fx linear)' % k, None)
            # linear = the same cost per customer at both sizes
            pb, ps = fb * 1000 / a.customers, fs * 1000 / a.small_customers
            record('6. run_followups() per customer, %dk vs %dk customers (capacity %d a day, 10 %% held out; total %s vs %s)'
                   % (a.customers // 1000, a.small_customers // 1000, a.capacity, fmt_s(fb), fmt_s(fs)),
                   '%.1f us' % pb, '%.1f us' % ps, '%.2fx' % (pb / ps), '~1x (linear)', pb / ps <= 1.5)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    total = time.time() - t_start
    lines = ['| case | ours | reference | ratio | target | result |', '|---|---|---|---|---|---|']
    lines += ['| %s |' % ' | '.join(r) for r in RESULTS]
    say('\n' + '\n'.join(lines))
    say('\ntotal %.0f s' % total)
    if a.out:
        with open(a.out, 'w') as fh:
            fh.write('# cartera benchmark run %s\n\n' % datetime.datetime.now().isoformat(timespec='seconds'))
            fh.write('- machine: %s\n- server: %s\n- settings: %s\n- cartera %s\n- big data: %s\n- small data: %s\n- total %.0f s\n\n'
                     % (machine(), pgv, settings, extv, stats.get('big'), stats.get('small'), total))
            fh.write('\n'.join(lines) + '\n\n')
            for n in NOTES:
                fh.write('- %s\n' % n)
            fh.write('\n## Plans (2 workers)\n\n```\n%s\n```\n\n## Log\n\n```\n%s\n```\n' % ('\n\n'.join(plans), '\n'.join(LOG)))


if __name__ == '__main__':
    main()
