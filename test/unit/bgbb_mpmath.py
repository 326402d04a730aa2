#!/usr/bin/env python3
# Reference values of test/unit/bgbb_check.c (the MP_* constants): the BG/BB
# formulas of Fader, Hardie & Shang (2010) at 50 digits with mpmath, every
# sum written out term by term (no telescoping), independently of src/bgbb.c.
# Usage: python3 test/unit/bgbb_mpmath.py
from mpmath import mp, beta, binomial, mpf

mp.dps = 50

def L(a, b, g, d, x, tx, n):                      # eq. 5
    s = beta(a + x, b + n - x) / beta(a, b) * beta(g, d + n) / beta(g, d)
    for i in range(n - tx):
        s += beta(a + x, b + tx - x + i) / beta(a, b) * beta(g + 1, d + tx + i) / beta(g, d)
    return s

def p_alive(a, b, g, d, x, tx, n):                # eq. 11
    return beta(a + x, b + n - x) / beta(a, b) * beta(g, d + n + 1) / beta(g, d) / L(a, b, g, d, x, tx, n)

def cond(a, b, g, d, k, x, tx, n):                # eq. 13, the bracket as a sum over the k opportunities
    s = sum(beta(g, d + n + j) / beta(g, d) for j in range(1, k + 1))
    return beta(a + x + 1, b + n - x) / beta(a, b) * s / L(a, b, g, d, x, tx, n)

def new(a, b, g, d, n):                           # eq. 7 as a sum
    return a / (a + b) * sum(beta(g, d + t) / beta(g, d) for t in range(1, n + 1))

def px(a, b, g, d, n, x):                         # eq. 6
    s = binomial(n, x) * beta(a + x, b + n - x) / beta(a, b) * beta(g, d + n) / beta(g, d)
    for i in range(x, n):
        s += binomial(i, x) * beta(a + x, b + i - x) / beta(a, b) * beta(g + 1, d + i) / beta(g, d)
    return s

D = [mpf('1.204'), mpf('0.750'), mpf('0.657'), mpf('2.783')]
G1 = [mpf('1.204'), mpf('0.750'), mpf(1), mpf('2.783')]
refs = [
    ("MP_ALIVE_666", p_alive(*D, 6, 6, 6)),
    ("MP_ALIVE_346", p_alive(*D, 3, 4, 6)),
    ("MP_ALIVE_116", p_alive(*D, 1, 1, 6)),
    ("MP_ALIVE_006", p_alive(*D, 0, 0, 6)),
    ("MP_COND_666", cond(*D, 5, 6, 6, 6)),
    ("MP_COND_346", cond(*D, 5, 3, 4, 6)),
    ("MP_COND_006", cond(*D, 5, 0, 0, 6)),
    ("MP_COND_256_1000", cond(*D, 1000, 2, 5, 6)),
    ("MP_NEW_6", new(*D, 6)),
    ("MP_NEW_100", new(*D, 100)),
    ("MP_PX_6_3", px(*D, 6, 3)),
    ("MP_G1_COND_346", cond(*G1, 5, 3, 4, 6)),
    ("MP_G1_NEW_10", new(*G1, 10)),
]
for name, v in refs:
    print("#define %-18s %s" % (name, mp.nstr(v, 20)))
