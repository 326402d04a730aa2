/* models_check.c - standalone checks of the Pareto/NBD (src/pareto_nbd.c)
 * and MBG/NBD (src/mbgnbd.c) numerics: published CDNOW fits, an
 * independent likelihood through the Gaussian hypergeometric function in
 * both regimes, gradients and standard errors against finite differences,
 * predictions against each other, extreme histories, simulated recovery.
 *
 * Usage: models_check [-v] CDNOW_CSV   (ends with "N passed, N failed")
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "btyd.h"
#include "interval.h"
#include "unit.h"

#define MAX_CUST 4000

/* ------------------------------------------------------------------ */
/* Pareto/NBD likelihood the way Fader & Hardie's note writes it        */
/* ------------------------------------------------------------------ */

/*
 * ln L by eq. (17)-(20) of the note, with the 2F1 of src/hyp2f1.c: A0 is a
 * difference of two 2F1 terms, in the regime alpha >= beta or alpha < beta.
 * Independent of src/pareto_nbd.c (which integrates instead); usable where
 * neither term overflows, i.e. moderate x.
 */
static double
pnbd_ll_2f1(const ParetoNbdParams *p, double x, double t_x, double T)
{
	double		r = p->r,
				al = p->alpha,
				s = p->s,
				be = p->beta,
				rsx = r + s + x,
				A0;

	if (al >= be)
		A0 = btyd_hyp2f1(rsx, s + 1.0, rsx + 1.0, (al - be) / (al + t_x)) / pow(al + t_x, rsx) -
			btyd_hyp2f1(rsx, s + 1.0, rsx + 1.0, (al - be) / (al + T)) / pow(al + T, rsx);
	else
		A0 = btyd_hyp2f1(rsx, r + x, rsx + 1.0, (be - al) / (be + t_x)) / pow(be + t_x, rsx) -
			btyd_hyp2f1(rsx, r + x, rsx + 1.0, (be - al) / (be + T)) / pow(be + T, rsx);
	return lgamma(r + x) - lgamma(r) + r * log(al) + s * log(be) +
		log(1.0 / (pow(al + T, r + x) * pow(be + T, s)) + s / rsx * A0);
}

typedef struct CellsRef
{
	const BtydCell *cells;
	size_t		n;
} CellsRef;

static double
pnbd_ll_natural(const double *par, const void *data)
{
	const CellsRef *c = (const CellsRef *) data;
	ParetoNbdParams p = {par[0], par[1], par[2], par[3]};

	return pareto_nbd_loglik(&p, c->cells, c->n);
}

static double
mbg_ll_natural(const double *par, const void *data)
{
	const CellsRef *c = (const CellsRef *) data;
	BgnbdParams p = {par[0], par[1], par[2], par[3]};

	return mbgnbd_loglik(&p, c->cells, c->n);
}

/* the gradient the fit uses, seen through d/dtheta of the objective: checked via the SEs and
 * here directly against central differences of the log-likelihood */
static void
check_gradient_fd(const char *model, ll_natural_fn ll, const CellsRef *ref, const double *par,
				  const double *se_fit)
{
	double		se_num[4];
	static const char *const pn[2][4] = {{"r", "alpha", "s", "beta"}, {"r", "alpha", "a", "b"}};
	int			which = strcmp(model, "Pareto/NBD") == 0 ? 0 : 1;

	check(numeric_se(ll, ref, 4, par, se_num), "%s: numerical Hessian negative definite", model);
	for (int i = 0; i < 4; i++)
		check(relerr(se_fit[i], se_num[i]) < 2e-3, "%s se(%s) = %.6f, numerical Hessian %.6f",
			  model, pn[which][i], se_fit[i], se_num[i]);
	/* at the maximum every partial derivative vanishes: central differences */
	for (int i = 0; i < 4; i++)
	{
		double		x[4],
					h = 1e-5 * par[i],
					d;

		memcpy(x, par, sizeof(x));
		x[i] = par[i] + h;
		d = ll(x, ref);
		x[i] = par[i] - h;
		d = (d - ll(x, ref)) / (2.0 * h);
		check(fabs(d * par[i]) < 1e-3, "%s: d LL / d ln %s = %.2e at the estimate", model, pn[which][i], d * par[i]);
	}
}

static void
test_cdnow(const char *path)
{
	static Customer cu[MAX_CUST];
	static BtydCell cells[MAX_CUST];
	int			n = path ? read_cdnow(path, cu, MAX_CUST) : -1;
	size_t		nc;
	ParetoNbdParams pp = {0, 0, 0, 0};
	BgnbdParams mp = {0, 0, 0, 0};
	BtydFitResult fr;
	double		t0;

	check(n == 2357, "read CDNOW summary %s: %d customers", path ? path : "(none)", n);
	if (n != 2357)
		return;
	for (int i = 0; i < n; i++)
	{
		BtydCell	c = {cu[i].x, cu[i].t_x, cu[i].T, 1.0};

		cells[i] = c;
	}
	nc = histogram(cells, n);

	/* ---- Pareto/NBD: Hardie's published values, also pymc-marketing's test ---- */
	t0 = now_sec();
	fr = pareto_nbd_fit(cells, nc, 0.0, &pp, NULL);
	printf("Pareto/NBD fit: r = %.6f, alpha = %.6f, s = %.6f, beta = %.6f, LL = %.4f "
		   "(%d iterations, %.1f ms, converged %d)\n",
		   pp.r, pp.alpha, pp.s, pp.beta, fr.loglik, fr.iterations, 1e3 * (now_sec() - t0), fr.converged);
	printf("  se: %.4f %.4f %.4f %.4f\n", fr.se[0], fr.se[1], fr.se[2], fr.se[3]);
	check(fr.converged, "Pareto/NBD fit converged");
	check(fabs(pp.r - 0.5534) < 0.0005, "r = %.5f: 0.5534 to 3 significant digits", pp.r);
	check(fabs(pp.alpha - 10.5802) < 0.05, "alpha = %.4f: 10.58 to 3 significant digits", pp.alpha);
	check(fabs(pp.s - 0.6061) < 0.0005, "s = %.5f: 0.6061 to 3 significant digits", pp.s);
	check(fabs(pp.beta - 11.6562) < 0.05, "beta = %.4f: 11.66 to 3 significant digits", pp.beta);
	check(fabs(fr.loglik + 9594.98) < 0.01, "LL = %.4f: -9594.98 to 0.01", fr.loglik);
	{
		double		par[4] = {pp.r, pp.alpha, pp.s, pp.beta};
		CellsRef	ref = {cells, nc};

		check_gradient_fd("Pareto/NBD", pnbd_ll_natural, &ref, par, fr.se);
	}
	/* the integral and the 2F1 difference agree at the estimate, per customer */
	{
		double		maxe = 0.0;

		for (size_t i = 0; i < nc; i++)
		{
			BtydCell	one = cells[i];
			double		a,
						b;

			one.weight = 1.0;
			a = pareto_nbd_loglik(&pp, &one, 1);
			b = pnbd_ll_2f1(&pp, one.x, one.t_x, one.T);
			maxe = fmax(maxe, fabs(a - b) / fmax(1.0, fabs(b)));
		}
		check(maxe < 1e-10, "Pareto/NBD LL = Fader-Hardie 2F1 form on every CDNOW cell (max err %.1e)", maxe);
	}
	/* the series and the quadrature agree, value and gradient, on every cell */
	{
		double		maxe = 0.0,
					maxg = 0.0;
		size_t		nser = 0;

		for (size_t i = 0; i < nc; i++)
		{
			BtydCell	one = cells[i];
			double		gs[4],
						gq[4],
						ls,
						lq;

			one.weight = 1.0;
			ls = pareto_nbd_loglik_by(&pp, &one, 1, PNBD_SERIES, gs);
			lq = pareto_nbd_loglik_by(&pp, &one, 1, PNBD_QUADRATURE, gq);
			if (isnan(ls))
				continue;
			nser++;
			maxe = fmax(maxe, fabs(ls - lq) / fmax(1.0, fabs(lq)));
			for (int j = 0; j < 4; j++)
				maxg = fmax(maxg, fabs(gs[j] - gq[j]) / fmax(1.0, fabs(gq[j])));
		}
		check(nser > nc / 2 && maxe < 1e-12 && maxg < 1e-9,
			  "Pareto/NBD: series = quadrature on %zu of %zu CDNOW cells (LL %.1e, gradient %.1e)", nser, nc, maxe, maxg);
	}
	/* P(alive) of one-time buyers falls with T; E[X] consistent with the pmf */
	{
		bool		falls = true;
		double		prev = 1.0,
					mean = 0.0,
					total = 0.0;

		for (double T = 1.0; T <= 78.0; T += 1.0)
		{
			double		pa = pareto_nbd_p_alive(&pp, 0.0, 0.0, T);

			falls = falls && pa < prev && pa > 0.0;
			prev = pa;
		}
		check(falls, "Pareto/NBD: P(alive | x = 0) falls with T (%.4f at T = 78 weeks)", prev);
		for (int k = 0; k < 400; k++)
		{
			double		pk = pareto_nbd_prob_purchases(&pp, 39.0, k);

			total += pk;
			mean += k * pk;
		}
		check(fabs(total - 1.0) < 1e-9, "Pareto/NBD: sum P(X(39) = n) = 1 (%.12f)", total);
		check_rel("Pareto/NBD: sum n P(X(39) = n) = E[X(39)]", mean, pareto_nbd_expected_purchases_new(&pp, 39.0), 1e-8);
		/* a new customer is one with x = t_x = T = 0 */
		check_rel("Pareto/NBD: E[Y(39) | 0, 0, 0] = E[X(39)]", pareto_nbd_expected_purchases(&pp, 39.0, 0, 0, 0),
				  pareto_nbd_expected_purchases_new(&pp, 39.0), 1e-13);
	}

	/* ---- MBG/NBD: BTYDplus values, asserted by lifetimes' own test ---- */
	t0 = now_sec();
	fr = mbgnbd_fit(cells, nc, 0.0, &mp, NULL);
	printf("MBG/NBD fit: r = %.6f, alpha = %.6f, a = %.6f, b = %.6f, LL = %.4f "
		   "(%d iterations, %.1f ms, converged %d)\n",
		   mp.r, mp.alpha, mp.a, mp.b, fr.loglik, fr.iterations, 1e3 * (now_sec() - t0), fr.converged);
	check(fr.converged, "MBG/NBD fit converged");
	check(fabs(mp.r - 0.525) < 0.0005, "r = %.5f rounds to 0.525", mp.r);
	check(fabs(mp.alpha - 6.183) < 0.0005, "alpha = %.5f rounds to 6.183", mp.alpha);
	check(fabs(mp.a - 0.891) < 0.0005, "a = %.5f rounds to 0.891", mp.a);
	check(fabs(mp.b - 1.614) < 0.0005, "b = %.5f rounds to 1.614", mp.b);
	{
		double		par[4] = {mp.r, mp.alpha, mp.a, mp.b},
					total = 0.0,
					mean = 0.0;
		CellsRef	ref = {cells, nc};
		bool		falls = true;
		double		prev = 1.0;

		check_gradient_fd("MBG/NBD", mbg_ll_natural, &ref, par, fr.se);
		for (double T = 1.0; T <= 78.0; T += 1.0)
		{
			double		pa = mbgnbd_p_alive(&mp, 0.0, 0.0, T);

			falls = falls && pa < prev && pa > 0.0;
			prev = pa;
		}
		check(falls, "MBG/NBD: P(alive | x = 0) falls with T (%.4f at T = 78 weeks)", prev);
		for (int k = 0; k < 400; k++)
		{
			double		pk = mbgnbd_prob_purchases(&mp, 39.0, k);

			total += pk;
			mean += k * pk;
		}
		check(fabs(total - 1.0) < 1e-9, "MBG/NBD: sum P(X(39) = n) = 1 (%.12f)", total);
		check_rel("MBG/NBD: sum n P(X(39) = n) = E[X(39)]", mean, mbgnbd_expected_purchases_new(&mp, 39.0), 1e-8);
		/* at t -> 0 the expected purchases are rate * P(alive) * t */
		check_rel("MBG/NBD: E[Y(t)] ~ (r+x)/(alpha+T) P(alive) t for small t",
				  mbgnbd_expected_purchases(&mp, 1e-6, 2, 30.43, 38.86) / 1e-6,
				  (mp.r + 2) / (mp.alpha + 38.86) * mbgnbd_p_alive(&mp, 2, 30.43, 38.86), 1e-5);
	}
}

/* ------------------------------------------------------------------ */
/* regimes and extremes                                                 */
/* ------------------------------------------------------------------ */

static void
test_pareto_extremes(void)
{
	/* both regimes of the note, moderate histories: integral = 2F1 form */
	static const ParetoNbdParams ps[] = {
		{0.55, 10.58, 0.61, 11.66},	/* alpha < beta (CDNOW) */
		{0.55, 30.0, 0.61, 2.0},	/* alpha > beta */
		{2.0, 5.0, 3.0, 5.0},	/* alpha = beta */
		{0.1, 0.5, 0.05, 80.0},
		{15.0, 200.0, 0.3, 0.01},
	};
	static const double hist[][3] = {{0, 0, 10}, {1, 3, 40}, {5, 30, 39}, {12, 70, 78}, {3, 0.5, 200}};
	double		maxe = 0.0;

	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		for (size_t j = 0; j < sizeof(hist) / sizeof(hist[0]); j++)
		{
			BtydCell	c = {hist[j][0], hist[j][1], hist[j][2], 1.0};
			double		a = pareto_nbd_loglik(&ps[i], &c, 1),
						b = pnbd_ll_2f1(&ps[i], c.x, c.t_x, c.T);

			maxe = fmax(maxe, fabs(a - b) / fmax(1.0, fabs(b)));
			if (verbose && fabs(a - b) > 1e-9)
				printf("  regime case %zu/%zu: %.15g vs %.15g\n", i, j, a, b);
		}
	check(maxe < 1e-9, "Pareto/NBD LL = 2F1 form in both regimes (max err %.1e)", maxe);
	/* series vs quadrature over both regimes, z up to the switch, large x */
	{
		double		mls = 0.0,
					mgs = 0.0;
		int			used = 0,
					total = 0;

		for (double ratio = 0.4; ratio <= 2.5; ratio *= 1.25)
			for (double x = 0; x <= 300; x = x < 1 ? 1 : x * 3)
				for (double tx = 0; tx <= 60; tx += 15)
				{
					ParetoNbdParams q = {0.7, 8.0, 0.9, 8.0 * ratio};
					BtydCell	c = {x, x > 0 ? tx : 0, 78, 1.0};
					double		gs[4],
								gq[4],
								ls = pareto_nbd_loglik_by(&q, &c, 1, PNBD_SERIES, gs),
								lq = pareto_nbd_loglik_by(&q, &c, 1, PNBD_QUADRATURE, gq);

					total++;
					if (isnan(ls))
						continue;
					used++;
					mls = fmax(mls, fabs(ls - lq) / fmax(1.0, fabs(lq)));
					for (int j = 0; j < 4; j++)
						mgs = fmax(mgs, fabs(gs[j] - gq[j]) / fmax(1.0, fabs(gq[j])));
				}
		check(used > total / 3 && mls < 1e-12 && mgs < 1e-9,
			  "Pareto/NBD: series = quadrature over both regimes (%d of %d cases; LL %.1e, gradient %.1e)", used, total, mls, mgs);
	}

	/*
	 * Extreme histories and parameters, where the 2F1 difference overflows
	 * ((alpha+t_x)^(r+s+x) with x = 10^4) or cancels (t_x = T - 1e-9):
	 * finite, and P(alive) in [0, 1], monotone where theory says so.
	 */
	{
		static const ParetoNbdParams ext[] = {
			{0.55, 10.58, 0.61, 11.66}, {1e-6, 1e-6, 1e-6, 1e-6}, {1e6, 1e6, 1e6, 1e6},
			{1e-3, 1e5, 50.0, 1e-4}, {50.0, 1e-4, 1e-3, 1e5}
		};
		static const double eh[][3] = {
			{1e4, 10, 100}, {1e4, 100 - 1e-9, 100}, {0, 0, 1e7}, {1, 1e-12, 1e7}, {200, 1e6, 1e6 + 1},
			{0, 0, 1e-9}, {3000, 5, 5}
		};
		bool		ok = true;

		for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
			for (size_t j = 0; j < sizeof(eh) / sizeof(eh[0]); j++)
			{
				BtydCell	c = {eh[j][0], eh[j][1], eh[j][2], 1.0};
				double		ll = pareto_nbd_loglik(&ext[i], &c, 1),
							pa = pareto_nbd_p_alive(&ext[i], c.x, c.t_x, c.T),
							ey = pareto_nbd_expected_purchases(&ext[i], 52.0, c.x, c.t_x, c.T);

				if (!isfinite(ll) || !(pa >= 0.0 && pa <= 1.0) || !(ey >= 0.0) || !isfinite(ey))
				{
					ok = false;
					printf("  extreme %zu/%zu: LL %g P(alive) %g E[Y] %g\n", i, j, ll, pa, ey);
				}
			}
		check(ok, "Pareto/NBD: finite LL, P(alive) in [0,1], E[Y] >= 0 at extreme histories and parameters");
	}
	/* t_x -> T: continuous (no cancellation jump), and P(alive) = 1 exactly when T = t_x */
	{
		ParetoNbdParams p = {0.55, 10.58, 0.61, 11.66};
		BtydCell	a = {5, 39.0 - 1e-10, 39.0, 1.0},
					b = {5, 39.0, 39.0, 1.0};

		check(fabs(pareto_nbd_loglik(&p, &a, 1) - pareto_nbd_loglik(&p, &b, 1)) < 1e-9,
			  "Pareto/NBD: LL continuous as t_x -> T");
		check(pareto_nbd_p_alive(&p, 5, 39, 39) == 1.0, "Pareto/NBD: P(alive) = 1 when the last purchase is now");
	}
	/* P(alive) falls as the silence T - t_x grows, rises with x at fixed recency */
	{
		ParetoNbdParams p = {0.55, 10.58, 0.61, 11.66};

		check(pareto_nbd_p_alive(&p, 3, 10, 60) < pareto_nbd_p_alive(&p, 3, 30, 60) &&
			  pareto_nbd_p_alive(&p, 3, 30, 60) < pareto_nbd_p_alive(&p, 3, 50, 60),
			  "Pareto/NBD: P(alive) rises with recency");
	}
	/* s = 1 (the exposure's 0/0) is continuous */
	{
		ParetoNbdParams a = {0.5, 10, 1.0, 12},
					b = {0.5, 10, 1.0 + 1e-7, 12};

		check_rel("Pareto/NBD: E[Y] continuous at s = 1", pareto_nbd_expected_purchases(&a, 52, 2, 20, 40),
				  pareto_nbd_expected_purchases(&b, 52, 2, 20, 40), 1e-6);
		check_rel("Pareto/NBD: E[X] at s = 1 is r/alpha beta ln(1 + t/beta)", pareto_nbd_expected_purchases_new(&a, 52),
				  0.5 / 10 * 12 * log1p(52.0 / 12), 1e-14);
	}
}

/* ------------------------------------------------------------------ */
/* recovery on simulated customer bases                                 */
/* ------------------------------------------------------------------ */

/* the simulations' generator (unit.c), one stream for the whole run */
static Xoshiro rng;

static double
unif(void)
{
	return rand_unif(&rng);
}

static double
gamma_rand(double shape)
{
	return exp(rand_log_gamma(&rng, shape));
}

static double
beta_rand(double a, double b)
{
	return rand_beta(&rng, a, b);
}

/* T uniform on [26, 78] weeks like CDNOW's cohort; purchases Poisson(lambda) */
static size_t
simulate(bool pareto, const double *truth, BtydCell *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
	{
		double		T = 26.0 + 52.0 * unif(),
					lambda = gamma_rand(truth[0]) / truth[1],
					t = 0.0,
					t_x = 0.0,
					x = 0.0;

		if (pareto)
		{
			double		mu = gamma_rand(truth[2]) / truth[3],
						death = -log(unif()) / mu,
						end = fmin(T, death);

			for (;;)
			{
				t += -log(unif()) / lambda;
				if (t > end)
					break;
				x += 1.0;
				t_x = t;
			}
		}
		else
		{
			/* MBG/NBD: may drop out after every purchase, the first included */
			double		p = beta_rand(truth[2], truth[3]);

			if (unif() >= p)
				for (;;)
				{
					t += -log(unif()) / lambda;
					if (t > T)
						break;
					x += 1.0;
					t_x = t;
					if (unif() < p)
						break;
				}
		}
		out[i].x = x;
		out[i].t_x = t_x;
		out[i].T = round(T * 7.0) / 7.0;
		out[i].t_x = fmin(round(t_x * 7.0) / 7.0, out[i].T);
		out[i].weight = 1.0;
	}
	return histogram(out, n);
}

static void
test_recovery(void)
{
	static BtydCell cells[20000];
	static const double pt[4] = {0.55, 10.58, 0.61, 11.66},
				mt[4] = {0.525, 6.183, 0.891, 1.614};
	static const char *const pn[4] = {"r", "alpha", "s", "beta"},
			   *const mn[4] = {"r", "alpha", "a", "b"};
	size_t		nc;
	ParetoNbdParams pp = {0, 0, 0, 0};
	BgnbdParams mp = {0, 0, 0, 0};
	BtydFitResult fr;
	double		est[4];

	/*
	 * 20,000 customers: every estimate within 4 standard errors of the
	 * truth (a 1-in-16,000 miss per parameter if the SEs are right); the
	 * generator's seed is fixed, so a run is reproducible.
	 */
	nc = simulate(true, pt, cells, 20000);
	fr = pareto_nbd_fit(cells, nc, 0.0, &pp, NULL);
	est[0] = pp.r, est[1] = pp.alpha, est[2] = pp.s, est[3] = pp.beta;
	check(fr.converged, "Pareto/NBD recovery fit converged (%zu cells)", nc);
	for (int i = 0; i < 4; i++)
		check(fabs(est[i] - pt[i]) < 4.0 * fr.se[i], "Pareto/NBD recovers %s: %.4f vs true %.4f (se %.4f, z %+.2f)",
			  pn[i], est[i], pt[i], fr.se[i], (est[i] - pt[i]) / fr.se[i]);

	nc = simulate(false, mt, cells, 20000);
	fr = mbgnbd_fit(cells, nc, 0.0, &mp, NULL);
	est[0] = mp.r, est[1] = mp.alpha, est[2] = mp.a, est[3] = mp.b;
	check(fr.converged, "MBG/NBD recovery fit converged (%zu cells)", nc);
	for (int i = 0; i < 4; i++)
		check(fabs(est[i] - mt[i]) < 4.0 * fr.se[i], "MBG/NBD recovers %s: %.4f vs true %.4f (se %.4f, z %+.2f)",
			  mn[i], est[i], mt[i], fr.se[i], (est[i] - mt[i]) / fr.se[i]);
}

/* ------------------------------------------------------------------ */
/* prediction intervals (src/interval.c)                                */
/* ------------------------------------------------------------------ */

static double
product(const double *p, const void *ctx)
{
	(void) ctx;
	return p[0] * p[1];
}

static double
odds_prob(const double *p, const void *ctx)
{
	(void) ctx;
	return p[0] / (p[0] + p[1]);
}

static void
test_intervals(void)
{
	double		cov[OPT_MAXDIM][OPT_MAXDIM] = {{0.04, 0.01}, {0.01, 0.09}},
				par[2] = {2.0, 3.0},
				z = btyd_normal_quantile(0.975),
				sd;
	PredictionInterval pi;

	check_rel("normal quantile 0.975", z, 1.959963984540054, 1e-15);
	check_rel("normal quantile 1e-10", btyd_normal_quantile(1e-10), -6.361340902404056, 1e-14);
	check_rel("normal quantile 0.5 + 1e-12 is symmetric", btyd_normal_quantile(0.5 + 1e-12), -btyd_normal_quantile(0.5 - 1e-12), 1e-9);
	/* log(p0 p1) = theta0 + theta1: var = c00 + c11 + 2 c01, exactly */
	pi = delta_interval(product, NULL, 2, par, (const double (*)[OPT_MAXDIM]) cov, 0.95, INTERVAL_LOG);
	sd = sqrt(0.04 + 0.09 + 0.02);
	check_rel("delta interval of a product: lower", pi.lower, 6.0 * exp(-z * sd), 1e-9);
	check_rel("delta interval of a product: upper", pi.upper, 6.0 * exp(z * sd), 1e-9);
	check_rel("delta interval of a product: std error", pi.std_error, 6.0 * sd, 1e-9);
	/* logit(p0/(p0+p1)) = theta0 - theta1: var = c00 + c11 - 2 c01 */
	pi = delta_interval(odds_prob, NULL, 2, par, (const double (*)[OPT_MAXDIM]) cov, 0.9, INTERVAL_LOGIT);
	sd = sqrt(0.04 + 0.09 - 0.02);
	z = btyd_normal_quantile(0.95);
	check_rel("delta interval of a probability: lower", pi.lower, 1.0 / (1.0 + 1.5 * exp(z * sd)), 1e-9);
	check_rel("delta interval of a probability: upper", pi.upper, 1.0 / (1.0 + 1.5 * exp(-z * sd)), 1e-9);
	check(pi.lower < pi.estimate && pi.estimate < pi.upper && pi.upper < 1.0, "the probability interval stays inside (0, 1)");
}

/*
 * Do the intervals mean what they say?  Coverage of the delta-method 95 %
 * interval of P(alive) and of E[Y(52)] for a fixed history, over simulated
 * portfolios drawn from known parameters: about 95 % of the intervals must
 * hold the true value.  With 60 portfolios the count is Binomial(60, 0.95):
 * at least 52 (a 1-in-400 miss if the intervals are right), and not all 60
 * every time for both models (they would then be too wide) is not asserted.
 */
typedef struct PnbdHist
{
	double		x,
				t_x,
				T;
	bool		alive;
} PnbdHist;

static double
pnbd_alive_at(const double *p, const void *ctx)
{
	const PnbdHist *h = (const PnbdHist *) ctx;
	ParetoNbdParams q = {p[0], p[1], p[2], p[3]};

	return h->alive ? pareto_nbd_p_alive(&q, h->x, h->t_x, h->T)
		: pareto_nbd_expected_purchases(&q, 52.0, h->x, h->t_x, h->T);
}

static void
test_interval_coverage(void)
{
	static BtydCell cells[3000];
	static const double pt[4] = {0.55, 10.58, 0.61, 11.66};
	const ParetoNbdParams truth = {0.55, 10.58, 0.61, 11.66};
	PnbdHist	h = {2, 20, 60, true};
	int			covered_alive = 0,
				covered_exp = 0,
				runs = 60,
				ok_runs = 0;
	double		true_alive = pareto_nbd_p_alive(&truth, 2, 20, 60),
				true_exp = pareto_nbd_expected_purchases(&truth, 52.0, 2, 20, 60);

	for (int k = 0; k < runs; k++)
	{
		size_t		nc = simulate(true, pt, cells, 3000);
		ParetoNbdParams est = {0, 0, 0, 0};
		BtydFitResult fr = pareto_nbd_fit(cells, nc, 0.0, &est, NULL);
		double		par[4] = {est.r, est.alpha, est.s, est.beta};
		PredictionInterval a,
					e;

		if (!fr.converged || !isfinite(fr.log_cov[0][0]))
			continue;
		ok_runs++;
		h.alive = true;
		a = delta_interval(pnbd_alive_at, &h, 4, par, (const double (*)[OPT_MAXDIM]) fr.log_cov, 0.95, INTERVAL_LOGIT);
		h.alive = false;
		e = delta_interval(pnbd_alive_at, &h, 4, par, (const double (*)[OPT_MAXDIM]) fr.log_cov, 0.95, INTERVAL_LOG);
		covered_alive += (a.lower <= true_alive && true_alive <= a.upper);
		covered_exp += (e.lower <= true_exp && true_exp <= e.upper);
	}
	check(ok_runs == runs, "coverage: all %d simulated Pareto/NBD fits converged with a covariance (%d)", runs, ok_runs);
	check(covered_alive >= 52, "coverage: the 95 %% interval of P(alive) held the truth in %d of %d portfolios", covered_alive, runs);
	check(covered_exp >= 52, "coverage: the 95 %% interval of E[Y(52)] held the truth in %d of %d portfolios", covered_exp, runs);
	if (verbose)
		printf("  coverage: P(alive) %d/%d, E[Y(52)] %d/%d\n", covered_alive, runs, covered_exp, runs);
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	double		t0 = now_sec();

	xoshiro_seed(&rng, 20261204);
	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "-v") == 0)
			verbose = true;
		else if (argv[i][0] != '-')
			path = argv[i];
	}
	test_cdnow(path);
	test_pareto_extremes();
	test_recovery();
	test_intervals();
	test_interval_coverage();
	printf("total %.2f s\n", now_sec() - t0);
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail == 0 ? 0 : 1;
}
