/* sbg_check.c - standalone checks of src/sbg.c (no PostgreSQL): the
 * shifted-beta-geometric fits of Fader & Hardie (2007), gradients, standard
 * errors, recovery on simulated cohorts, DERL of Fader & Hardie (2010). */

/*
 * Usage: sbg_check [-v]
 *	 -v	 print every check, not only failures
 * Prints "N passed, M failed" and exits 1 if anything failed.
 */

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbg.h"
#include "unit.h"

/* ================================================================== */
/* the worked example of Fader & Hardie (2007)                         */
/* ================================================================== */

/* customers active at the start of periods 1..13 (year 0 .. 12) */
static const double regular[13] = {1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173};
static const double high_end[13] = {1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394};

static double
round3(double v)
{
	return floor(v * 1000.0 + 0.5) / 1000.0;
}

/* the fit on periods 0..7 as the paper; returns its parameters */
static SbgParams
fit_paper(const char *name, const double *surv, double want_a, double want_b,
		  double *se)
{
	SbgCell		cells[8];
	size_t		n = sbg_cells_from_survivors(surv, 8, cells);
	SbgParams	p = {0, 0};
	BtydFitResult f = sbg_fit(cells, n, 0.0, &p, NULL);

	check(n == 8, "%s: 7 churn cells and one still-active cell (%zu)", name, n);
	check(f.converged && isfinite(f.loglik), "%s: converged, LL %.6f, %d iterations",
		  name, f.loglik, f.iterations);
	check(round3(p.alpha) == want_a && round3(p.beta) == want_b,
		  "%s: alpha %.6f beta %.6f round to the paper's %.3f, %.3f",
		  name, p.alpha, p.beta, want_a, want_b);
	/* the same fit from any start */
	{
		SbgParams	q = {5.0, 0.05};
		BtydFitResult g = sbg_fit(cells, n, 0.0, &q, NULL);

		check(relerr(q.alpha, p.alpha) < 1e-6 && relerr(q.beta, p.beta) < 1e-6 &&
			  relerr(g.loglik, f.loglik) < 1e-12,
			  "%s: same estimate from start (5, 0.05): %.8f %.8f", name, q.alpha, q.beta);
	}
	se[0] = f.se[0];
	se[1] = f.se[1];
	return p;
}

/* projected survivors n0 S(t) against the actual ones, t = 8..12 */
static void
check_projection(const char *name, const SbgParams *p, const double *surv, double tol)
{
	double		prod = 1.0;
	int			t;

	for (t = 1; t <= 12; t++)
	{
		double		s = sbg_survival(p, t);

		prod *= sbg_retention(p, t);
		/* S(t) = prod of retention rates; P(T = t) = S(t-1) - S(t) */
		check(relerr(s, prod) < 1e-13, "%s: S(%d) = %.15f = product of r(1..t) %.15f", name, t, s, prod);
		check(fabs(sbg_churn_probability(p, t) - (sbg_survival(p, t - 1) - s)) < 4e-15,
			  "%s: P(T = %d) = S(%d) - S(%d)", name, t, t - 1, t);
		if (t >= 8)
		{
			double		proj = 1000.0 * s;

			check(relerr(proj, surv[t]) <= tol, "%s: projected survivors at t = %d: %.1f, actual %.0f "
				  "(within %.0f%%)", name, t, proj, surv[t], 100 * tol);
		}
	}
}

/* the log-likelihood in (alpha, beta), for numeric_se_step() */
typedef struct CellsRef
{
	const SbgCell *cells;
	size_t		n;
} CellsRef;

static double
ll_natural(const double *par, const void *data)
{
	const CellsRef *c = data;
	SbgParams	p = {par[0], par[1]};

	return sbg_loglik(&p, c->cells, c->n, NULL);
}

/* standard errors from an independent Hessian, step 1e-4 relative */
static bool
numeric_se_sbg(const CellsRef *c, const SbgParams *p, double *se)
{
	double		par[2] = {p->alpha, p->beta};

	return numeric_se_step(ll_natural, c, 2, par, 1e-4, se);
}

static void
test_paper(void)
{
	double		se_r[2],
				se_h[2],
				num[2];
	SbgParams	reg = fit_paper("regular", regular, 0.704, 1.182, se_r);
	SbgParams	hi = fit_paper("high end", high_end, 0.668, 3.806, se_h);
	SbgCell		cells[8];
	CellsRef	ref = {cells, 0};

	/*
	 * The paper shows the projections in a figure only; asserted here
	 * against the actual survivors (Table 1): five years beyond the data
	 * the sBG projection is within 2% (regular) and 4.1% (high end) of
	 * them, slightly low as in the paper's figure, where the projection of
	 * a model without heterogeneity (a plain geometric) falls far below.
	 */
	check_projection("regular", &reg, regular, 0.02);
	check_projection("high end", &hi, high_end, 0.05);
	check(relerr(1000 * sbg_survival(&hi, 12), high_end[12]) < 0.041, "high end: year 12 %.1f vs 394",
		  1000 * sbg_survival(&hi, 12));

	ref.n = sbg_cells_from_survivors(regular, 8, cells);
	check(numeric_se_sbg(&ref, &reg, num), "regular: numerical Hessian is negative definite");
	check(relerr(se_r[0], num[0]) < 1e-4 && relerr(se_r[1], num[1]) < 1e-4,
		  "regular: se(alpha) %.6f se(beta) %.6f vs numerical Hessian %.6f %.6f",
		  se_r[0], se_r[1], num[0], num[1]);
	ref.n = sbg_cells_from_survivors(high_end, 8, cells);
	check(numeric_se_sbg(&ref, &hi, num), "high end: numerical Hessian is negative definite");
	check(relerr(se_h[0], num[0]) < 1e-4 && relerr(se_h[1], num[1]) < 1e-4,
		  "high end: se(alpha) %.6f se(beta) %.6f vs numerical Hessian %.6f %.6f",
		  se_h[0], se_h[1], num[0], num[1]);
}

/* ================================================================== */
/* likelihood, gradient, cells                                          */
/* ================================================================== */

static void
test_likelihood(void)
{
	static const SbgCell cells[] = {
		{1, 0, 369}, {2, 0, 163}, {3, 0, 86}, {7, 0, 21}, {7, 1, 241},
		{0, 1, 5}, {40, 0, 2}, {250, 1, 3}, {1e4, 1, 1}
	};
	static const SbgParams ps[] = {{0.704, 1.182}, {0.05, 0.02}, {3.0, 40.0}, {500.0, 2000.0}, {1e-4, 1e4}};
	const size_t n = sizeof(cells) / sizeof(cells[0]);
	size_t		i;

	for (i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
	{
		double		g[2],
					e = 0.0;
		int			j;

		sbg_loglik(&ps[i], cells, n, g);
		for (j = 0; j < 2; j++)
		{
			SbgParams	hp = ps[i],
						hm = ps[i];
			double		h = 1e-6 * (j == 0 ? ps[i].alpha : ps[i].beta),
						fd;

			if (j == 0)
				hp.alpha += h, hm.alpha -= h;
			else
				hp.beta += h, hm.beta -= h;
			fd = (sbg_loglik(&hp, cells, n, NULL) - sbg_loglik(&hm, cells, n, NULL)) / (2 * h);
			e = fmax(e, fabs(fd - g[j]) / fmax(1.0, fabs(g[j])));
		}
		check(e < 2e-6, "gradient vs central differences at (%g, %g): scaled err %.2e",
			  ps[i].alpha, ps[i].beta, e);
	}
	/* t = 1e6: LL ~ 1e7 whose rounding needs a larger difference step */
	{
		SbgParams	p = {0.704, 1.182},
					hp = p,
					hm = p;
		SbgCell		far[1] = {{1e6, 1, 1}};
		double		g[2],
					h = 1e-4 * p.alpha,
					fd;

		sbg_loglik(&p, far, 1, g);
		hp.alpha += h;
		hm.alpha -= h;
		fd = (sbg_loglik(&hp, far, 1, NULL) - sbg_loglik(&hm, far, 1, NULL)) / (2 * h);
		check(relerr(g[0], fd) < 1e-5, "gradient at t = 1e6: %.10g vs central difference %.10g", g[0], fd);
	}
	/* the likelihood as probabilities: P(T = 1) = alpha/(alpha+beta), S(0) = 1 */
	{
		SbgParams	p = {0.7, 1.3};
		SbgCell		one[2] = {{1, 0, 1}, {0, 1, 1}};

		check_rel("LL of a period-1 churner = ln(alpha/(alpha+beta))",
				  sbg_loglik(&p, one, 1, NULL), log(0.7 / 2.0), 1e-15);
		check(sbg_loglik(&p, one + 1, 1, NULL) == 0.0, "LL of 'active after 0 periods' is 0");
	}
	{
		SbgParams	p = {2.5, 4.0};
		double		s = 0.0;
		int			t;

		for (t = 1; t <= 200; t++)
			s += sbg_churn_probability(&p, t);
		check(fabs(s + sbg_survival(&p, 200) - 1.0) < 1e-14, "sum_{t<=200} P(T = t) + S(200) = 1 (%.3g)",
			  s + sbg_survival(&p, 200) - 1.0);
		check_rel("E[T] = (alpha+beta-1)/(alpha-1)", sbg_expected_lifetime(&p), 5.5 / 1.5, 1e-15);
	}
	/* invalid input: NaN, no abort */
	{
		SbgParams	bad = {-1, 1},
					ok = {1, 1};
		SbgCell		c0[1] = {{0, 0, 1}},
					c1[1] = {{1.5, 1, 1}},
					c2[1] = {{1, 0.5, 1}},
					c3[1] = {{1, 0, -1}};
		SbgParams	q = {0, 0};

		check(isnan(sbg_loglik(&bad, cells, n, NULL)), "LL with alpha < 0 is NaN");
		check(isnan(sbg_loglik(&ok, c0, 1, NULL)) && isnan(sbg_loglik(&ok, c1, 1, NULL)) &&
			  isnan(sbg_loglik(&ok, c2, 1, NULL)) && isnan(sbg_loglik(&ok, c3, 1, NULL)),
			  "LL of invalid cells (churn at 0, t = 1.5, active = 0.5, weight < 0) is NaN");
		check(sbg_cell_invalid(c1, 1) == 0 && sbg_cell_invalid(cells, n) == n, "sbg_cell_invalid");
		check(isnan(sbg_fit(c0, 1, 0.0, &q, NULL).loglik) && q.alpha == 0.0, "fit on invalid cells: NaN, *inout untouched");
		check(isnan(sbg_fit(cells, n, -1.0, &q, NULL).loglik), "fit with a negative penalizer: NaN");
		check(isnan(sbg_survival(&ok, -1)) && isnan(sbg_retention(&ok, 0.5)) &&
			  isnan(sbg_churn_probability(&bad, 2)) && isnan(sbg_derl(&ok, -0.1, 0)) &&
			  isnan(sbg_derl(&ok, 0.1, -1)), "projections of invalid arguments are NaN");
	}
	/* survivor counts */
	{
		double		inc[3] = {100, 90, 95},
					neg[2] = {100, -1},
					flat[3] = {100, 100, 100};
		SbgCell		c[3];

		check(sbg_cells_from_survivors(inc, 3, c) == (size_t) -1, "increasing survivor counts are refused");
		check(sbg_cells_from_survivors(neg, 2, c) == (size_t) -1, "negative survivor counts are refused");
		check(sbg_cells_from_survivors(flat, 3, c) == 1 && c[0].t == 2 && c[0].active == 1 && c[0].weight == 100,
			  "no churn: one cell, 100 active after 2 periods");
	}
	/* edges: nobody churns (alpha -> 0), one period only (a ridge) */
	{
		SbgCell		none[1] = {{5, 1, 1000}};
		SbgCell		ridge[2] = {{1, 0, 300}, {1, 1, 700}};
		SbgParams	p = {0, 0},
					q = {0, 0},
					r = {0, 0};
		BtydFitResult f = sbg_fit(none, 1, 0.0, &p, NULL);
		BtydFitResult g = sbg_fit(ridge, 2, 0.0, &q, NULL);
		BtydFitResult h = sbg_fit(ridge, 2, 0.01, &r, NULL);

		check(!f.converged && isfinite(f.loglik), "nobody churns: not converged (alpha %g, beta %g)", p.alpha, p.beta);
		check(isfinite(g.loglik) && fabs(q.alpha / (q.alpha + q.beta) - 0.3) < 1e-4,
			  "one period of data: mean churn alpha/(alpha+beta) = %.6f = 0.3", q.alpha / (q.alpha + q.beta));
		/* the L2 penalty then favours small alpha, beta along the ridge: an edge */
		check(isfinite(h.loglik) && fabs(r.alpha / (r.alpha + r.beta) - 0.3) < 1e-3,
			  "one period with penalizer 0.01: still mean churn 0.3 (alpha %.3g, beta %.3g)", r.alpha, r.beta);
	}
}

/* ================================================================== */
/* DERL                                                                 */
/* ================================================================== */

/* sum_{t >= 1} S(n+t)/S(n)/(1+d)^(t-1), term by term from the survival function */
static double
derl_brute(const SbgParams *p, double d, double n)
{
	double		sum = 0.0,
				ln_sn = log(sbg_survival(p, n));
	long		t;

	for (t = 1; t < 20000000; t++)
	{
		double		v = exp(log(sbg_survival(p, n + t)) - ln_sn - (t - 1) * log1p(d));

		sum += v;
		if (v < 1e-18 * sum)
			break;
	}
	return sum;
}

static void
test_derl(void)
{
	static const SbgParams ps[] = {{0.704, 1.182}, {0.668, 3.806}, {3.0, 8.0}, {0.05, 0.3}, {40.0, 900.0},
	{1e-3, 1e6}, {100.0, 1e-3}};
	static const double ds[] = {1.0, 0.1, 0.01, 0.002, 1e-4};
	static const double ns[] = {0, 1, 4, 100};
	size_t		i,
				j,
				k;
	double		maxe = 0.0;

	for (i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		for (j = 0; j < sizeof(ds) / sizeof(ds[0]); j++)
			for (k = 0; k < sizeof(ns) / sizeof(ns[0]); k++)
			{
				double		got = sbg_derl(&ps[i], ds[j], ns[k]),
							want = derl_brute(&ps[i], ds[j], ns[k]),
							e = relerr(got, want);

				maxe = fmax(maxe, e);
				if (e > 1e-9)
					check(false, "DERL(alpha %g, beta %g, d %g, n %g) = %.15g, brute force %.15g",
						  ps[i].alpha, ps[i].beta, ds[j], ns[k], got, want);
			}
	check(maxe < 1e-9, "DERL vs brute-force sum over 7 parameter sets (alpha 1e-3 .. 100, beta 1e-3 .. 1e6) x 5 rates x 4 renewals: max rel err %.2e", maxe);

	/* against btyd_hyp2f1, FH10 eq. 6 as printed */
	{
		SbgParams	p = {0.668, 3.806};
		double		n = 2,
					d = 0.1,
					b = p.beta + n,
					want = (b / (p.alpha + b)) * btyd_hyp2f1(1.0, b + 1.0, p.alpha + b + 1.0, 1.0 / (1.0 + d));

		check_rel("DERL(d = 0.1 | 2 renewals) vs B(.)/B(.) 2F1 (btyd_hyp2f1)", sbg_derl(&p, d, n), want, 1e-12);
	}
	/* d -> 0: the undiscounted residual lifetime (beta + n)/(alpha - 1) */
	{
		SbgParams	p = {3.0, 8.0};

		check_rel("DERL(d = 1e-9 | 5) -> (beta+5)/(alpha-1)", sbg_derl(&p, 1e-9, 5), 13.0 / 2.0, 1e-6);
		check(sbg_derl(&p, 0.0, 5) == 6.5, "DERL(d = 0 | 5) = 6.5 exactly");
		p.alpha = 0.7;
		check(isinf(sbg_derl(&p, 0.0, 0)) && isinf(sbg_expected_lifetime(&p)),
			  "alpha <= 1: undiscounted lifetime is infinite");
		check(isfinite(sbg_derl(&p, 1e-6, 0)) && sbg_derl(&p, 1e-6, 0) > sbg_derl(&p, 1e-4, 0),
			  "alpha <= 1, d = 1e-6: finite (%.6g) and above d = 1e-4 (%.6g)",
			  sbg_derl(&p, 1e-6, 0), sbg_derl(&p, 1e-4, 0));
	}
	/* the two ways of summing: series (d >= 2.25e-4) and continued fraction, on the same sum */
	{
		SbgParams	p = {0.704, 1.182};

		check(relerr(sbg_derl(&p, 2.3e-4, 3), derl_brute(&p, 2.3e-4, 3)) < 1e-10 &&
			  relerr(sbg_derl(&p, 2.2e-4, 3), derl_brute(&p, 2.2e-4, 3)) < 1e-10,
			  "DERL on both sides of the series / fraction switch");
	}
}

/* ================================================================== */
/* simulated cohorts                                                    */
/* ================================================================== */

/*
 * A cohort of N customers, theta ~ Beta(alpha, beta), each renewing with
 * probability 1 - theta at the end of every period, observed for K periods;
 * fitted on the survivor counts; the estimate must lie within 3.5 standard
 * errors of the truth (and the truth's LL below the estimate's).
 */
static void
test_simulation(void)
{
	static const struct
	{
		double		alpha,
					beta;
		int			N,
					K;
	}			sets[] = {
		{0.704, 1.182, 20000, 8}, {0.668, 3.806, 20000, 8}, {2.0, 10.0, 50000, 12},
		{0.3, 0.9, 10000, 24}, {8.0, 30.0, 100000, 6}
	};
	size_t		s;

	for (s = 0; s < sizeof(sets) / sizeof(sets[0]); s++)
	{
		Xoshiro		rng;
		double		surv[32];
		SbgCell		cells[32];
		SbgParams	p = {0, 0},
					truth = {sets[s].alpha, sets[s].beta};
		BtydFitResult f;
		size_t		n;
		int			i,
					t;

		xoshiro_seed(&rng, 20070101 + s);
		memset(surv, 0, sizeof(surv));
		for (i = 0; i < sets[s].N; i++)
		{
			double		theta = rand_beta(&rng, truth.alpha, truth.beta);

			surv[0] += 1;
			for (t = 1; t <= sets[s].K; t++)
			{
				if (rand_unif(&rng) < theta)
					break;
				surv[t] += 1;
			}
		}
		n = sbg_cells_from_survivors(surv, sets[s].K + 1, cells);
		f = sbg_fit(cells, n, 0.0, &p, NULL);
		check(f.converged && fabs(p.alpha - truth.alpha) <= 3.5 * f.se[0] &&
			  fabs(p.beta - truth.beta) <= 3.5 * f.se[1] &&
			  sbg_loglik(&truth, cells, n, NULL) <= f.loglik,
			  "simulated cohort %zu (N %d, %d periods): alpha %.4f +- %.4f (true %g), beta %.4f +- %.4f (true %g)",
			  s, sets[s].N, sets[s].K, p.alpha, f.se[0], truth.alpha, p.beta, f.se[1], truth.beta);
	}
}

int
main(int argc, char **argv)
{
	int			i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "-v") == 0)
			verbose = true;
	test_paper();
	test_likelihood();
	test_derl();
	test_simulation();
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail == 0 ? 0 : 1;
}
