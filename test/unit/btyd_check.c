/* btyd_check.c - standalone checks of src/btyd.c, src/optimize.c and src/hyp2f1.c (no PostgreSQL):
 * closed forms, mpmath references, the published CDNOW fits, simulated recovery. */

/*
 * Usage: btyd_check [-v] [--mc N] CDNOW_CSV
 *	 CDNOW_CSV	 cdnow_customers_summary_with_transactions.csv (ID,x,t_x,T,zbar)
 *	 -v			 print every check, not only failures
 *	 --mc N		 also run N Monte Carlo replications per simulated parameter set
 *				 and compare the spread of the estimates with the Hessian
 *				 standard errors (slow; not part of the default run)
 * Prints "N passed, M failed" and exits 1 if anything failed.
 *
 * Reference values marked "mpmath" were computed once with mpmath 1.3 at 50
 * significant digits straight from the paper formulas (FHL 2005 eqs. 8-10 and
 * the hypergeometric series), independently of this code.
 */

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "btyd.h"
#include "unit.h"

/* ================================================================== */
/* special functions                                                   */
/* ================================================================== */

static void
test_special(void)
{
	static const double xs[] = {1e-8, 0.1, 0.5, 1.0, 1.5, 2.0, 3.7, 9.99, 10.0, 47.3,
	1e3, 1e6, -0.5, -1.5, -2.25, -10.3};
	double		maxe = 0.0;
	size_t		i;

	/* ln|Gamma| against libm (absolute: what matters inside exp()) */
	for (i = 0; i < sizeof(xs) / sizeof(xs[0]); i++)
	{
		double		e = fabs(btyd_lgamma(xs[i]) - lgamma(xs[i])) / fmax(1.0, fabs(lgamma(xs[i])));

		maxe = fmax(maxe, e);
	}
	check(maxe < 1e-14, "btyd_lgamma vs libm lgamma: max scaled err %.2e", maxe);
	check(isinf(btyd_lgamma(0.0)) && isinf(btyd_lgamma(-3.0)), "btyd_lgamma poles are +Inf");

	/* digamma: psi(1) = -Euler gamma, psi(1/2) = -gamma - 2 ln 2, recurrence */
	check_rel("digamma(1)", btyd_digamma(1.0), -0.57721566490153286061, 1e-15);
	check_rel("digamma(1/2)", btyd_digamma(0.5), -0.57721566490153286061 - 2.0 * log(2.0), 1e-15);
	check_rel("digamma(-0.5)", btyd_digamma(-0.5), 0.03648997397857652056, 1e-13);
	check_rel("digamma(x+1) = digamma(x) + 1/x at 3.3", btyd_digamma(4.3), btyd_digamma(3.3) + 1.0 / 3.3, 1e-15);

	/* psi(x+d) - psi(x) for d << x (where two digamma calls would cancel) */
	/* asymptotic: ln(1+d/x) + d/(2x(x+d)) + d(2x+d)/(12 x^2 (x+d)^2) + O(x^-4 d) */
	check_rel("digamma_diff(1e6, 1e-3)", btyd_digamma_diff(1e6, 1e-3),
			  log1p(1e-3 / 1e6) + 0.5e-3 / (1e6 * (1e6 + 1e-3)) +
			  1e-3 * (2e6 + 1e-3) / (12.0 * 1e12 * (1e6 + 1e-3) * (1e6 + 1e-3)), 1e-14);
	check_rel("digamma_diff(0.3, 2) = 1/0.3 + 1/1.3", btyd_digamma_diff(0.3, 2.0), 1.0 / 0.3 + 1.0 / 1.3, 1e-14);

	/* ln (a)_x: exact small cases and the large-a regime */
	check_rel("lnpoch(1, 5) = ln 120", btyd_lnpoch(1.0, 5.0), log(120.0), 1e-15);
	check_rel("lnpoch(0.5, 0.5) = -ln Gamma(1/2)", btyd_lnpoch(0.5, 0.5), -0.5 * log(M_PI), 1e-14);
	/* ln Gamma(1e7 + 0.5) - ln Gamma(1e7) = 0.5 ln(1e7) - 1/(8e7) + O(1e-22) */
	check_rel("lnpoch(1e7, 0.5)", btyd_lnpoch(1e7, 0.5), 0.5 * log(1e7) - 1.0 / 8e7, 1e-14);
}

/* ================================================================== */
/* hyp2f1                                                              */
/* ================================================================== */

static const double hyp_ref[][5] = {
	/* a, b, c, z, 2F1 (mpmath, 50 digits) */
	{0.5, 0.5, 1.5, 0.99, 1.4780376623747747643},
	{1.0, 1.0, 3.0, 0.999999, 1.9999743689256212688},
	{1.0, 1.0, 3.0, -1000000.0, 2.5631050746950664136e-5},
	{2.5, 1.5, 4.0, 0.9999999999, 1.0762323568283645749e+2},
	{0.3, 0.8, 1.1, 0.75, 1.3235020245696387374},
	{0.3, 0.8, 1.1, -50.0, 3.6744936970104808645e-1},
	{1.5, 2.5, 4.0, 0.97, 9.7847348610851569399},
	{1.5, 2.5, 4.000000001, 0.97, 9.7847348496056415161},
	{1.5, 2.5, 3.999999, 0.99999, 4.8990645735719659397e+1},
	{1.0, 1.0, 2.000000000001, 0.9, 2.5584278811026640267},
	{0.7, 1.3, 2.00000003, -10000.0, 2.9165977956325411714e-3},
	{-0.45, -0.2, 2.79, 0.95, 1.0328063052923023613},
	{1.55, -0.207, 3.219, 0.999, 8.5138973140037692523e-1},
	/* the Euler form used by expected purchases: (a+b-1-r, a-1; a+b+x-1) */
	{2.9761468, -0.2071139, 4.2186395, 0.47403, 9.1767335640080409028e-1},
	{2.9761468, -0.2071139, 3.2186395, 0.99, 5.207410681678550326e-1},
	{2.9761468, -0.2071139, 102.2186395, 0.999, 9.9388116901028968833e-1},
	{-48.5, 0.5, 3.0, 0.9, 2.222429906003422193e-1},
	{-48.5, 0.5, 3.0, 0.6, 2.6993252713651484556e-1},
	{2.243, 4.426, 4.219, 0.474, 4.574781444616262123},
	{12.0, 0.3, 0.001, 0.8, 2.5604858732361926524e+11},
	{0.05, 3.0, 3.05, 0.999999999, 2.1064308601673928719},
	{-3.5, 2.25, 0.75, -0.9, 4.5884132029302626018e+1},
	{4.25, -2.75, 1.5, 0.3, -2.2744265114513662671e-1},
	{1.0, 1.0, 1.5, -1000000000000.0, 1.4508657738517215085e-11},
	{0.5, 0.25, 1.75, 0.9999999999990905, 1.1441396452491086237},
};

static void
test_hyp2f1(void)
{
	/* z values spanning every code path: series, Pfaff, 1 - z connection */
	static const double zs[] = {-1e12, -1e6, -1000.0, -50.0, -3.0, -1.0, -0.7, -0.2,
		1e-9, 0.2, 0.5, 0.6, 0.9, 0.99, 1.0 - 1e-4, 1.0 - 1e-8, 1.0 - 1e-12};
	const int	nz = sizeof(zs) / sizeof(zs[0]);
	double		e1 = 0.0,
				e2 = 0.0,
				e3 = 0.0,
				e4 = 0.0,
				e5 = 0.0,
				e6 = 0.0,
				maxe = 0.0;
	int			i,
				worst = 0;

	for (i = 0; i < nz; i++)
	{
		double		z = zs[i];

		/* 2F1(1,1;2;z) = -ln(1-z)/z: c - a - b = 0, the logarithmic case */
		e1 = fmax(e1, relerr(btyd_hyp2f1(1.0, 1.0, 2.0, z), -log1p(-z) / z));
		/* 2F1(a,b;b;z) = (1-z)^-a */
		e2 = fmax(e2, relerr(btyd_hyp2f1(0.37, 2.5, 2.5, z), pow(1.0 - z, -0.37)));
		/* 2F1(1/2,1;3/2;-y^2) = atan(y)/y, y^2 = -z; Pfaff + connection */
		if (z < 0.0)
			e3 = fmax(e3, relerr(btyd_hyp2f1(0.5, 1.0, 1.5, z), atan(sqrt(-z)) / sqrt(-z)));
		else
		{
			/*
			 * With y = sqrt(z): 2F1(1/2,1/2;3/2;z) = asin(y)/y and
			 * 2F1(1/2,1;3/2;z) = atanh(y)/y.  Near z = 1 these are
			 * ill-conditioned in y, so the references are written with
			 * 1 - z (exact there) instead of 1 - y: asin(y) = atan2(y,
			 * sqrt(1-z)), atanh(y) = ln(1+y) - ln(1-z)/2, 1 - y = (1-z)/(1+y).
			 */
			double		y = sqrt(z),
						w = 1.0 - z,
						omy = w / (1.0 + y),
						xx = atan2(y, sqrt(w)),
						a = 0.3;

			e4 = fmax(e4, relerr(btyd_hyp2f1(0.5, 0.5, 1.5, z), xx / y));
			e5 = fmax(e5, relerr(btyd_hyp2f1(0.5, 1.0, 1.5, z), (log1p(y) - 0.5 * log1p(-z)) / y));
			/* 2F1(a, a+1/2; 1/2; y^2) = ((1+y)^-2a + (1-y)^-2a)/2: c-a-b = -2a */
			e6 = fmax(e6, relerr(btyd_hyp2f1(a, a + 0.5, 0.5, z),
								 0.5 * (pow(1.0 + y, -2.0 * a) + pow(omy, -2.0 * a))));
			/* 2F1(a, 1-a; 3/2; sin^2 x) = sin((2a-1)x) / ((2a-1) sin x), a = 0.2 */
			e6 = fmax(e6, relerr(btyd_hyp2f1(0.2, 0.8, 1.5, z), sin(-0.6 * xx) / (-0.6 * y)));
		}
	}
	check(e1 <= 1e-13, "2F1(1,1;2;z) = -ln(1-z)/z, z in [-1e12, 1-1e-12]: max rel err %.2e", e1);
	check(e2 <= 1e-13, "2F1(a,b;b;z) = (1-z)^-a: max rel err %.2e", e2);
	check(e3 <= 1e-13, "2F1(1/2,1;3/2;-y^2) = atan(y)/y, down to z = -1e12: max rel err %.2e", e3);
	check(e4 <= 1e-13, "2F1(1/2,1/2;3/2;y^2) = asin(y)/y up to z = 1-1e-12: max rel err %.2e", e4);
	check(e5 <= 1e-13, "2F1(1/2,1;3/2;y^2) = atanh(y)/y: max rel err %.2e", e5);
	check(e6 <= 1e-13, "2F1(a,a+1/2;1/2;y^2) and 2F1(a,1-a;3/2;sin^2): max rel err %.2e", e6);

	for (i = 0; i < (int) (sizeof(hyp_ref) / sizeof(hyp_ref[0])); i++)
	{
		double		e = relerr(btyd_hyp2f1(hyp_ref[i][0], hyp_ref[i][1], hyp_ref[i][2], hyp_ref[i][3]),
							   hyp_ref[i][4]);

		if (e > maxe)
		{
			maxe = e;
			worst = i;
		}
	}
	check(maxe <= 1e-12, "2F1 vs %d mpmath values (degenerate, near-degenerate, z->1, z->-inf): "
		  "max rel err %.2e (row %d)", (int) (sizeof(hyp_ref) / sizeof(hyp_ref[0])), maxe, worst);

	/* Gauss's sum at z = 1; polynomial cases; poles and domain */
	check_rel("2F1(0.5,0.25;1.75;1) Gauss sum", btyd_hyp2f1(0.5, 0.25, 1.75, 1.0),
			  tgamma(1.75) * tgamma(1.0) / (tgamma(1.25) * tgamma(1.5)), 1e-14);
	check_rel("2F1(-3,2;5;-7) polynomial", btyd_hyp2f1(-3.0, 2.0, 5.0, -7.0),
			  1.0 + (-3.0 * 2.0 / 5.0) * -7.0 + (-3.0 * -2.0 * 2.0 * 3.0) / (5.0 * 6.0 * 2.0) * 49.0 +
			  (-3.0 * -2.0 * -1.0 * 2.0 * 3.0 * 4.0) / (5.0 * 6.0 * 7.0 * 6.0) * -343.0, 1e-15);
	check(isnan(btyd_hyp2f1(1.0, 1.0, 2.0, 1.5)), "2F1 for z > 1 is NaN");
	check(isnan(btyd_hyp2f1(1.0, 1.0, -2.0, 0.3)), "2F1 with c a non-positive integer is NaN");
}

/* ================================================================== */
/* BG/NBD predictions against mpmath                                    */
/* ================================================================== */

static const double cond_ref[][9] = {
	/* r, alpha, a, b, x, t_x, T, t, E[Y(t)|x,t_x,T] (mpmath, eq. 10 or its integral) */
	{0.2425929, 4.4135316, 0.7928861, 2.4257534, 2.0, 30.43, 38.86, 39.0, 1.2259104749794062596},
	{0.2425929, 4.4135316, 0.7928861, 2.4257534, 0.0, 0.0, 38.86, 39.0, 1.94780841966526893e-1},
	{0.2425929, 4.4135316, 0.7928861, 2.4257534, 14.0, 37.0, 38.86, 520.0, 4.7078585107259035616e+1},
	{0.2425929, 4.4135316, 0.7928861, 2.4257534, 1.0, 5.0, 38.86, 5000.0, 5.479523024371948322},
	{0.2425929, 4.4135316, 0.7928861, 2.4257534, 25.0, 38.0, 38.86, 1000000.0, 8.6216399280102655775e+2},
	/* a = 1 exactly and a -> 1: eq. 10 is 0/0 there */
	{0.5, 3.0, 1.0, 2.0, 3.0, 20.0, 30.0, 100.0, 2.9702209078161917783},
	{0.5, 3.0, 1.000003, 2.0, 3.0, 20.0, 30.0, 100.0, 2.9702122293587378253},
	{0.5, 3.0, 0.99995, 2.0, 3.0, 20.0, 30.0, 2000.0, 9.8908213549082839775},
	{0.5, 3.0, 1.002, 2.0, 0.0, 0.0, 30.0, 10000.0, 7.0766288014864650868},
	/* large r; a+b < 1 so a+b+x-1 < 0, and = 0 exactly */
	{50.0, 20.0, 0.4, 0.7, 0.0, 0.0, 10.0, 8.0, 5.5183847790603877129},
	{50.0, 20.0, 0.4, 0.6, 0.0, 0.0, 10.0, 8.0, 5.1841153104485574614},
	{50.0, 20.0, 0.4, 0.7, 2.0, 5.0, 10.0, 400.0, 3.7769025388864131047e-2},
	/* heavy buyer, a near 0, daily units */
	{2.0, 1.0, 3.5, 40.0, 300.0, 51.0, 52.0, 26.0, 1.910000755088635125e+1},
	{2.0, 1.0, 3.5, 40.0, 300.0, 51.0, 52.0, 5200.0, 3.2218509467917496953e+1},
	{0.05, 2.0, 0.05, 1.0, 1.0, 3.0, 52.0, 1000.0, 1.087501463940498033e+1},
	{1.5, 10.0, 2.5, 4.0, 7.0, 200.0, 250.0, 3650.0, 3.1838973548696860684},
};

static const double pmf_ref[][7] = {
	/* r, alpha, a, b, t, n, P(X(t)=n) (mpmath, eq. 8) */
	{0.2425929, 4.4135316, 0.7928861, 2.4257534, 39.0, 0, 5.7430730166883015566e-1},
	{0.2425929, 4.4135316, 0.7928861, 2.4257534, 39.0, 1, 1.9919303622962690746e-1},
	{0.2425929, 4.4135316, 0.7928861, 2.4257534, 39.0, 2, 8.532240598210194661e-2},
	{0.2425929, 4.4135316, 0.7928861, 2.4257534, 39.0, 5, 1.7938393542854988406e-2},
	{0.2425929, 4.4135316, 0.7928861, 2.4257534, 39.0, 20, 3.9800084518600825021e-4},
	{0.2425929, 4.4135316, 0.7928861, 2.4257534, 1.0, 7, 1.5627855496889354105e-7},
	{3.0, 2.0, 1.2, 5.0, 100.0, 40, 2.1095847388496301359e-3},
	{3.0, 2.0, 1.2, 5.0, 100.0, 400, 1.3810021747487919378e-6},
};

static const double new_ref[][6] = {
	/* r, alpha, a, b, t, E[X(t)] (mpmath, eq. 9) */
	{0.2425929, 4.4135316, 0.7928861, 2.4257534, 39.0, 1.1950162829019600229},
	{0.2425929, 4.4135316, 0.7928861, 2.4257534, 100000.0, 2.9590152940210135088e+1},
	{3.0, 2.0, 1.0, 5.0, 100.0, 1.6837980025437716622e+1},
};

static void
test_predictions(void)
{
	double		maxe = 0.0,
				sum,
				mean;
	int			i,
				worst = 0,
				n;
	BgnbdParams cd = {0.2425929, 4.4135316, 0.7928861, 2.4257534};
	bool		mono = true;
	double		prev;

	for (i = 0; i < (int) (sizeof(cond_ref) / sizeof(cond_ref[0])); i++)
	{
		const double *c = cond_ref[i];
		BgnbdParams p = {c[0], c[1], c[2], c[3]};
		double		e = relerr(bgnbd_expected_purchases(&p, c[7], c[4], c[5], c[6]), c[8]);

		if (e > maxe)
		{
			maxe = e;
			worst = i;
		}
	}
	check(maxe <= 1e-11, "expected_purchases vs %d mpmath values (a = 1, a -> 1, a+b+x-1 <= 0, "
		  "large r, x = 300, t up to 1e6): max rel err %.2e (row %d)",
		  (int) (sizeof(cond_ref) / sizeof(cond_ref[0])), maxe, worst);

	maxe = 0.0;
	for (i = 0; i < (int) (sizeof(pmf_ref) / sizeof(pmf_ref[0])); i++)
	{
		const double *c = pmf_ref[i];
		BgnbdParams p = {c[0], c[1], c[2], c[3]};

		maxe = fmax(maxe, relerr(bgnbd_prob_purchases(&p, c[4], (int) c[5]), c[6]));
	}
	check(maxe <= 1e-12, "prob_purchases vs mpmath eq. 8: max rel err %.2e", maxe);

	maxe = 0.0;
	for (i = 0; i < (int) (sizeof(new_ref) / sizeof(new_ref[0])); i++)
	{
		const double *c = new_ref[i];
		BgnbdParams p = {c[0], c[1], c[2], c[3]};

		maxe = fmax(maxe, relerr(bgnbd_expected_purchases_new(&p, c[4]), c[5]));
	}
	check(maxe <= 1e-11, "expected_purchases_new vs mpmath eq. 9: max rel err %.2e", maxe);

	/* the pmf sums to 1 and its mean is eq. 9 */
	sum = mean = 0.0;
	for (n = 0; n < 5000; n++)
	{
		double		pn = bgnbd_prob_purchases(&cd, 39.0, n);

		sum += pn;
		mean += n * pn;
	}
	check_rel("sum_n P(X(39)=n)", sum, 1.0, 1e-12);
	check_rel("sum_n n P(X(39)=n) = E[X(39)]", mean, bgnbd_expected_purchases_new(&cd, 39.0), 1e-11);

	/* E[Y(t)] increasing in t across every evaluation path, no jumps */
	prev = 0.0;
	for (i = 0; i <= 400; i++)
	{
		double		t = pow(10.0, -3.0 + 9.0 * i / 400.0);
		double		e1 = bgnbd_expected_purchases(&cd, t, 7.0, 30.0, 38.86);
		double		e2 = bgnbd_expected_purchases(&cd, t * (1.0 + 1e-9), 7.0, 30.0, 38.86);

		if (!(e1 > prev) || !(e2 >= e1) || (e2 - e1) > 1e-8 * e1)
			mono = false;
		prev = e1;
	}
	check(mono, "expected_purchases increasing and continuous for t in [1e-3, 1e6]");

	/* a -> 1 is continuous (the eq.-10 factor 1/(a-1) is removable) */
	{
		BgnbdParams p0 = cd,
					p1 = cd,
					p2 = cd;
		double		v0,
					v1,
					v2;

		p0.a = 1.0;
		p1.a = 1.0 - 1e-10;
		p2.a = 1.0 + 1e-10;
		v0 = bgnbd_expected_purchases(&p0, 2000.0, 3.0, 20.0, 38.86);
		v1 = bgnbd_expected_purchases(&p1, 2000.0, 3.0, 20.0, 38.86);
		v2 = bgnbd_expected_purchases(&p2, 2000.0, 3.0, 20.0, 38.86);
		check(isfinite(v0) && relerr(v1, v0) < 1e-9 && relerr(v2, v0) < 1e-9,
			  "expected_purchases at a = 1 - 1e-10, 1, 1 + 1e-10: %.15g %.15g %.15g", v1, v0, v2);
	}

	/* extreme histories: log-space P(alive), no NaN */
	{
		double		pa = bgnbd_p_alive(&cd, 1000.0, 10.0, 100.0);
		double		ea = bgnbd_expected_purchases(&cd, 39.0, 1000.0, 10.0, 100.0);
		double		pb = bgnbd_p_alive(&cd, 1000.0, 100.0, 100.0);

		check(pa >= 0.0 && pa < 1e-300, "p_alive(x=1000, t_x=10, T=100) = %g (0, not NaN)", pa);
		check(ea >= 0.0 && ea < 1e-300, "expected_purchases for that history = %g", ea);
		check(pb > 0.99 && pb <= 1.0, "p_alive(x=1000, t_x=T=100) = %.6f", pb);
		check(bgnbd_p_alive(&cd, 0.0, 0.0, 50.0) == 1.0, "p_alive(x=0) = 1");
		check(isnan(bgnbd_p_alive(&cd, 2.0, 40.0, 30.0)), "p_alive with t_x > T is NaN");
		check(bgnbd_expected_purchases(&cd, 0.0, 2.0, 30.0, 38.86) == 0.0, "E[Y(0)] = 0");
	}

	/* weeks -> days invariance (alpha, t_x, T, t all times 7) */
	{
		BgnbdParams dd = cd;
		double		e = 0.0;
		static const double h[][4] = {{2, 30.43, 38.86, 39}, {0, 0, 38.86, 52}, {14, 37, 38.86, 520},
		{1, 1.71, 38.86, 5000}, {7, 29.43, 38.86, 0.5}};

		dd.alpha *= 7.0;
		for (i = 0; i < 5; i++)
		{
			e = fmax(e, relerr(bgnbd_expected_purchases(&dd, 7 * h[i][3], h[i][0], 7 * h[i][1], 7 * h[i][2]),
							   bgnbd_expected_purchases(&cd, h[i][3], h[i][0], h[i][1], h[i][2])));
			e = fmax(e, relerr(bgnbd_p_alive(&dd, h[i][0], 7 * h[i][1], 7 * h[i][2]),
							   bgnbd_p_alive(&cd, h[i][0], h[i][1], h[i][2])));
		}
		check(e <= 1e-13, "weeks -> days (alpha, t_x, T, t x 7): p_alive and E[Y] max rel diff %.2e", e);
	}

	/* invalid input is NaN, not a crash */
	{
		BgnbdParams bad = {-1.0, 1.0, 1.0, 1.0};
		GammaGammaParams gg = {6.0, 0.5, 15.0};

		check(isnan(bgnbd_expected_purchases(&bad, 1.0, 0.0, 0.0, 1.0)), "negative r gives NaN");
		check(isnan(gg_expected_avg_spend(&gg, 0.0, 0.0)), "Gamma-Gamma mean with q <= 1 (x=0) is NaN");
	}
}

/* ================================================================== */
/* CDNOW                                                               */
/* ================================================================== */

static int
cmp_spend(const void *pa, const void *pb)
{
	const SpendCell *a = pa,
			   *b = pb;

	if (a->x != b->x)
		return a->x < b->x ? -1 : 1;
	if (a->m != b->m)
		return a->m < b->m ? -1 : 1;
	return 0;
}

static size_t
spend_histogram(SpendCell *c, size_t n)
{
	size_t		i,
				m = 0;

	qsort(c, n, sizeof(SpendCell), cmp_spend);
	for (i = 0; i < n; i++)
	{
		if (m > 0 && cmp_spend(&c[m - 1], &c[i]) == 0)
			c[m - 1].weight += c[i].weight;
		else
			c[m++] = c[i];
	}
	return m;
}

typedef struct CellsRef
{
	const BtydCell *cells;
	size_t		n;
} CellsRef;

static double
bgnbd_ll_natural(const double *par, const void *data)
{
	const CellsRef *c = (const CellsRef *) data;
	BgnbdParams p = {par[0], par[1], par[2], par[3]};

	return bgnbd_loglik(&p, c->cells, c->n);
}

static int	interrupt_calls;

static void
count_interrupt(void)
{
	interrupt_calls++;
}

#define MAX_CUST 4000

static void
test_cdnow(const char *path)
{
	static Customer cu[MAX_CUST];
	static BtydCell raw[MAX_CUST],
				cells[MAX_CUST],
				days[MAX_CUST];
	static SpendCell spend[MAX_CUST];
	int			n,
				i;
	size_t		nc,
				ns = 0;
	BgnbdParams p = {0, 0, 0, 0},
				praw = {0, 0, 0, 0},
				pd = {0, 0, 0, 0},
				pbad = {100.0, 0.01, 50.0, 0.01};
	GammaGammaParams g = {0, 0, 0};
	BtydFitResult fr,
				fraw,
				fd,
				fg,
				fbad;
	double		t0,
				t_bg,
				t_gg,
				pmin = 1.0,
				pmax = 0.0,
				avg = 0.0;
	bool		pal_ok = true;

	n = path ? read_cdnow(path, cu, MAX_CUST) : -1;
	check(n == 2357, "read CDNOW summary %s: %d customers (want 2357)", path ? path : "(no path given)", n);
	if (n != 2357)
		return;

	for (i = 0; i < n; i++)
	{
		BtydCell	c = {cu[i].x, cu[i].t_x, cu[i].T, 1.0};

		raw[i] = cells[i] = c;
		if (cu[i].x > 0)
		{
			SpendCell	s = {cu[i].x, cu[i].zbar, 1.0};

			spend[ns++] = s;
		}
	}
	nc = histogram(cells, n);
	printf("CDNOW: %d customers, %zu distinct (x, t_x, T) triples, %zu repeat customers\n", n, nc, ns);

	/* ---- BG/NBD ---- */
	interrupt_calls = 0;
	t0 = now_sec();
	fr = bgnbd_fit(cells, nc, 0.0, &p, count_interrupt);
	t_bg = now_sec() - t0;
	printf("BG/NBD fit: r = %.6f, alpha = %.6f, a = %.6f, b = %.6f, LL = %.4f "
		   "(%d iterations, %.1f ms, converged %d)\n",
		   p.r, p.alpha, p.a, p.b, fr.loglik, fr.iterations, 1e3 * t_bg, fr.converged);
	check(fr.converged, "BG/NBD fit converged");
	check(interrupt_calls > 0 && interrupt_calls >= fr.iterations, "interrupt callback called (%d times)", interrupt_calls);
	/* published, FHL 2005: 3 significant digits */
	check(fabs(p.r - 0.243) < 0.0005, "r = %.6f rounds to 0.243 (FHL 2005)", p.r);
	check(fabs(p.alpha - 4.414) < 0.0005, "alpha = %.6f rounds to 4.414", p.alpha);
	check(fabs(p.a - 0.793) < 0.0005, "a = %.6f rounds to 0.793", p.a);
	check(fabs(p.b - 2.426) < 0.0005, "b = %.6f rounds to 2.426", p.b);
	check(fabs(fr.loglik + 9582.4) < 0.05, "log-likelihood = %.4f rounds to -9582.4", fr.loglik);
	/* lifetimes' summary (6 decimals; its optimiser stops a little earlier) */
	check_rel("r vs lifetimes 0.242593", p.r, 0.242593, 5e-6);
	check_rel("alpha vs lifetimes 4.413532", p.alpha, 4.413532, 5e-6);
	check_rel("a vs lifetimes 0.792886", p.a, 0.792886, 5e-6);
	check_rel("b vs lifetimes 2.425752", p.b, 2.425752, 5e-6);

	/* standard errors: an independent Hessian, and lifetimes' summary (2 decimals) */
	{
		double		par[4] = {p.r, p.alpha, p.a, p.b},
					se[4];
		CellsRef	ref = {cells, nc};
		static const char *const name[4] = {"r", "alpha", "a", "b"};
		static const double lt[4] = {0.01, 0.38, 0.19, 0.71};

		check(numeric_se(bgnbd_ll_natural, &ref, 4, par, se), "BG/NBD: numerical Hessian is negative definite");
		for (i = 0; i < 4; i++)
		{
			check(relerr(fr.se[i], se[i]) < 1e-3, "BG/NBD se(%s) = %.6f, numerical Hessian %.6f",
				  name[i], fr.se[i], se[i]);
			check(fabs(fr.se[i] - lt[i]) <= 0.005 + 1e-9, "BG/NBD se(%s) = %.4f rounds to lifetimes' %.2f",
				  name[i], fr.se[i], lt[i]);
		}
	}

	/* customer 1: 1.226 expected repeat purchases in the next 39 weeks */
	{
		double		e1 = bgnbd_expected_purchases(&p, 39.0, 2.0, 30.43, 38.86);

		check(fabs(e1 - 1.226) < 0.0005, "customer 1 E[Y(39)] = %.6f rounds to 1.226 (FHL 2005)", e1);
	}

	/* a histogram and one row per customer in file order give the same thing */
	check_rel("LL(histogram) = LL(one row per customer)", bgnbd_loglik(&p, cells, nc),
			  bgnbd_loglik(&p, raw, n), 1e-13);
	fraw = bgnbd_fit(raw, n, 0.0, &praw, NULL);
	check(fraw.converged && relerr(praw.r, p.r) < 1e-6 && relerr(praw.alpha, p.alpha) < 1e-6 &&
		  relerr(praw.a, p.a) < 1e-6 && relerr(praw.b, p.b) < 1e-6,
		  "fit on unsorted per-customer rows = fit on histogram (r %.8f vs %.8f, b %.8f vs %.8f)",
		  praw.r, p.r, praw.b, p.b);

	/* a bad start still reaches the same optimum */
	fbad = bgnbd_fit(cells, nc, 0.0, &pbad, NULL);
	check(fbad.converged && relerr(pbad.r, p.r) < 1e-6 && relerr(pbad.alpha, p.alpha) < 1e-6 &&
		  relerr(pbad.a, p.a) < 1e-6 && relerr(pbad.b, p.b) < 1e-6,
		  "fit from a bad start (r=100, alpha=0.01, a=50, b=0.01): r=%.6f alpha=%.6f a=%.6f b=%.6f, %d iterations",
		  pbad.r, pbad.alpha, pbad.a, pbad.b, fbad.iterations);

	/* weeks -> days: alpha x 7, everything else unchanged, LL shifts by -sum(x) ln 7 */
	{
		double		sx = 0.0;

		for (i = 0; i < (int) nc; i++)
		{
			days[i] = cells[i];
			days[i].t_x *= 7.0;
			days[i].T *= 7.0;
			sx += cells[i].weight * cells[i].x;
		}
		fd = bgnbd_fit(days, nc, 0.0, &pd, NULL);
		check(fd.converged && relerr(pd.alpha, 7.0 * p.alpha) < 1e-6 && relerr(pd.r, p.r) < 1e-6 &&
			  relerr(pd.a, p.a) < 1e-6 && relerr(pd.b, p.b) < 1e-6,
			  "fit in days: alpha = %.6f = 7 x %.6f, r, a, b unchanged", pd.alpha, p.alpha);
		check_rel("LL in days = LL in weeks - sum(x) ln 7", fd.loglik, fr.loglik - sx * log(7.0), 1e-10);
	}

	/* penalizer: shrinks, and (alpha penalised on lifetimes' 10/max T scale) unit-free */
	{
		BgnbdParams pp = {0, 0, 0, 0},
					ppd = {0, 0, 0, 0};
		BtydFitResult f1 = bgnbd_fit(cells, nc, 0.1, &pp, NULL);
		BtydFitResult f2 = bgnbd_fit(days, nc, 0.1, &ppd, NULL);

		printf("BG/NBD penalizer 0.1: r = %.6f, alpha = %.6f, a = %.6f, b = %.6f, LL = %.4f\n",
			   pp.r, pp.alpha, pp.a, pp.b, f1.loglik);
		check(f1.converged && f2.converged && f1.loglik < fr.loglik && pp.b < p.b,
			  "penalizer 0.1 lowers LL and shrinks b (%.4f < %.4f)", pp.b, p.b);
		check(relerr(ppd.alpha, 7.0 * pp.alpha) < 1e-6 && relerr(ppd.b, pp.b) < 1e-6,
			  "penalised fit is unit-free (days alpha = %.6f, 7 x weeks alpha = %.6f)", ppd.alpha, 7.0 * pp.alpha);
	}

	for (i = 0; i < n; i++)
	{
		double		pa = bgnbd_p_alive(&p, cu[i].x, cu[i].t_x, cu[i].T);

		if (!(pa >= 0.0 && pa <= 1.0))
			pal_ok = false;
		pmin = fmin(pmin, pa);
		pmax = fmax(pmax, pa);
	}
	check(pal_ok, "p_alive in [0,1] for all 2357 customers (min %.4g, max %.4g)", pmin, pmax);

	/* ---- Gamma-Gamma ---- */
	ns = spend_histogram(spend, ns);
	t0 = now_sec();
	fg = gamma_gamma_fit(spend, ns, 0.0, &g, count_interrupt);
	t_gg = now_sec() - t0;
	printf("Gamma-Gamma fit: p = %.6f, q = %.6f, gamma = %.6f, LL = %.4f "
		   "(%d iterations, %.1f ms, converged %d)\n",
		   g.p, g.q, g.gamma, fg.loglik, fg.iterations, 1e3 * t_gg, fg.converged);
	check(fg.converged, "Gamma-Gamma fit converged");
	check(fabs(g.p - 6.25) < 0.005, "p = %.6f rounds to 6.25 (FHL 2005b)", g.p);
	check(fabs(g.q - 3.74) < 0.005, "q = %.6f rounds to 3.74", g.q);
	/*
	 * FHL print gamma = 15.44; the MLE on this summary is 15.4477 (lifetimes
	 * gets the same and prints 15.45): agreement to 3 significant digits,
	 * 0.05 %, presumably the paper's unrounded spends or solver tolerance.
	 */
	check(relerr(g.gamma, 15.44) < 1e-3, "gamma = %.6f within 0.1%% of 15.44 (FHL 2005b)", g.gamma);
	check_rel("gamma vs lifetimes 15.447748", g.gamma, 15.447748, 2e-6);

	/* lifetimes' conditional_expected_average_profit: mean over all 2357 ~ 35.2529588 */
	for (i = 0; i < n; i++)
		avg += gg_expected_avg_spend(&g, cu[i].x, cu[i].zbar);
	avg /= n;
	check(fabs(avg - 35.2529588) < 5e-5, "mean expected avg spend = %.7f (lifetimes 35.2529588)", avg);
	check_rel("customer 1 expected avg spend (lifetimes 24.658619)",
			  gg_expected_avg_spend(&g, 2.0, 22.35), 24.658619, 1e-6);
	check_rel("x = 0 expected avg spend (lifetimes 35.170981)",
			  gg_expected_avg_spend(&g, 0.0, 0.0), 35.170981, 1e-6);

	/*
	 * lifetimes' customer_lifetime_value(time=12, discount_rate=0.01) on this
	 * weekly data with its default freq='D' treats a month as 30 weeks, which
	 * is days_per_unit = 1 here.  Their documented outputs:
	 */
	{
		static const double clv_ref[][5] = {
			/* id, x, t_x, T, clv */
			{1, 2, 30.43, 38.86, 140.096211}, {2, 1, 1.71, 38.86, 18.943467},
			{3, 0, 0.00, 38.86, 38.180574}, {6, 7, 29.43, 38.86, 1003.868107},
			{7, 1, 5.00, 38.86, 28.109683}, {9, 2, 35.71, 38.86, 167.418216},
		};
		double		e = 0.0;
		double		t1;

		for (i = 0; i < 6; i++)
		{
			const Customer *c = &cu[(int) clv_ref[i][0] - 1];
			double		v = btyd_clv_discounted(&p, &g, c->x, c->t_x, c->T, c->zbar, 12, 0.01, 1.0);

			e = fmax(e, relerr(v, clv_ref[i][4]));
		}
		check(e < 1e-5, "CLV (12 months, 1%%/month) vs lifetimes docs for 6 customers: max rel err %.1e", e);

		t1 = now_sec();
		avg = 0.0;
		for (i = 0; i < n; i++)
			avg += btyd_clv_discounted(&p, &g, cu[i].x, cu[i].t_x, cu[i].T, cu[i].zbar, 120, 0.01, 7.0);
		printf("CLV, 120 months of 30 days, all 2357 customers: mean %.2f, %.1f ms\n",
			   avg / n, 1e3 * (now_sec() - t1));
	}
}

/* ================================================================== */
/* simulation                                                          */
/* ================================================================== */

/* the generator is unit.c's: xoshiro256** seeded with splitmix64 */

typedef struct SimSet
{
	const char *name;
	BgnbdParams bg;
	GammaGammaParams gg;
} SimSet;

typedef struct SimCustomer
{
	double		x,
				t_x,
				T,
				m;
} SimCustomer;

/*
 * BG/NBD generative process [FHL05a sec. 3]: lambda ~ Gamma(r, alpha),
 * p ~ Beta(a, b); purchases are Poisson(lambda) from the first one at 0;
 * after each repeat purchase the customer drops out with probability p.
 * Observed until T, uniform over 20..52 whole weeks.  Spend: nu ~ Gamma(q,
 * gamma), the mean of x Gamma(p, nu) spends is Gamma(p x, x nu).
 */
static void
simulate(Xoshiro *rng, const SimSet *set, SimCustomer *out, int n)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		const BgnbdParams *bg = &set->bg;
		double		T = 20.0 + (double) (xoshiro_next(rng) % 33);
		double		lam = exp(rand_log_gamma(rng, bg->r)) / bg->alpha;
		double		lx = rand_log_gamma(rng, bg->a);
		double		ly = rand_log_gamma(rng, bg->b);
		double		pdrop = 1.0 / (1.0 + exp(ly - lx));
		double		t = 0.0,
					x = 0.0,
					t_x = 0.0;

		for (;;)
		{
			if (!(lam > 0.0))
				break;
			t += -log(rand_unif(rng)) / lam;
			if (t > T)
				break;
			x += 1.0;
			t_x = t;
			if (rand_unif(rng) < pdrop)
				break;
		}
		out[i].x = x;
		out[i].t_x = t_x;
		out[i].T = T;
		out[i].m = 0.0;
		if (x > 0.0)
		{
			double		lnu = rand_log_gamma(rng, set->gg.q) - log(set->gg.gamma);

			out[i].m = exp(rand_log_gamma(rng, set->gg.p * x) - log(x) - lnu);
		}
	}
}

/* invert a symmetric positive definite k x k matrix (k <= 4) by Gauss-Jordan */
static bool
invert(int k, double A[4][4], double inv[4][4])
{
	double		M[4][8];
	int			i,
				j,
				c;

	for (i = 0; i < k; i++)
		for (j = 0; j < 2 * k; j++)
			M[i][j] = (j < k) ? A[i][j] : (j - k == i ? 1.0 : 0.0);
	for (c = 0; c < k; c++)
	{
		int			piv = c;
		double		d;

		for (i = c + 1; i < k; i++)
			if (fabs(M[i][c]) > fabs(M[piv][c]))
				piv = i;
		if (M[piv][c] == 0.0)
			return false;
		for (j = 0; j < 2 * k; j++)
		{
			double		tmp = M[c][j];

			M[c][j] = M[piv][j];
			M[piv][j] = tmp;
		}
		d = M[c][c];
		for (j = 0; j < 2 * k; j++)
			M[c][j] /= d;
		for (i = 0; i < k; i++)
			if (i != c)
			{
				double		f = M[i][c];

				for (j = 0; j < 2 * k; j++)
					M[i][j] -= f * M[c][j];
			}
	}
	for (i = 0; i < k; i++)
		for (j = 0; j < k; j++)
			inv[i][j] = M[i][j + k];
	return true;
}

/* total log-likelihood at log-parameters th (k = 4 BG/NBD, 3 Gamma-Gamma) */
typedef struct LLCtx
{
	const BtydCell *cells;
	size_t		nc;
	const SpendCell *spend;
	size_t		ns;
} LLCtx;

static double
ll_at(const LLCtx *c, int k, const double *th)
{
	if (k == 4)
	{
		BgnbdParams p = {exp(th[0]), exp(th[1]), exp(th[2]), exp(th[3])};

		return bgnbd_loglik(&p, c->cells, c->nc);
	}
	else
	{
		GammaGammaParams g = {exp(th[0]), exp(th[1]), exp(th[2])};

		return gg_loglik(&g, c->spend, c->ns);
	}
}

/*
 * Standard errors of ln(param) = relative standard errors of the params, from
 * the observed information (central-difference Hessian of the total LL).
 */
static bool
log_param_se(const LLCtx *c, int k, const double *th0, double *se)
{
	double		H[4][4],
				inv[4][4],
				th[4],
				f0;
	const double h = 1e-3;
	int			i,
				j;

	memcpy(th, th0, sizeof(double) * k);
	f0 = ll_at(c, k, th);
	for (i = 0; i < k; i++)
	{
		double		fp,
					fm;

		th[i] = th0[i] + h;
		fp = ll_at(c, k, th);
		th[i] = th0[i] - h;
		fm = ll_at(c, k, th);
		th[i] = th0[i];
		H[i][i] = -(fp - 2.0 * f0 + fm) / (h * h);
		for (j = 0; j < i; j++)
		{
			double		fpp,
						fpm,
						fmp,
						fmm;

			th[i] = th0[i] + h;
			th[j] = th0[j] + h;
			fpp = ll_at(c, k, th);
			th[j] = th0[j] - h;
			fpm = ll_at(c, k, th);
			th[i] = th0[i] - h;
			fmm = ll_at(c, k, th);
			th[j] = th0[j] + h;
			fmp = ll_at(c, k, th);
			th[i] = th0[i];
			th[j] = th0[j];
			H[i][j] = H[j][i] = -(fpp - fpm - fmp + fmm) / (4.0 * h * h);
		}
	}
	if (!invert(k, H, inv))
		return false;
	for (i = 0; i < k; i++)
	{
		if (!(inv[i][i] > 0.0))
			return false;
		se[i] = sqrt(inv[i][i]);
	}
	return true;
}

#define N_SIM 20000

static const SimSet sim_sets[] = {
	{"CDNOW-like", {0.243, 4.414, 0.793, 2.426}, {6.25, 3.74, 15.44}},
	{"frequent buyers", {2.0, 8.0, 1.2, 5.0}, {2.0, 10.0, 150.0}},
	{"a near 0 (rare dropout)", {0.5, 5.0, 0.05, 2.0}, {6.25, 3.74, 15.44}},
	{"r very small (0.05)", {0.05, 2.0, 0.8, 2.5}, {6.25, 3.74, 15.44}},
	{"high dropout, low heterogeneity", {5.0, 20.0, 3.0, 1.5}, {4.0, 6.0, 50.0}},
	{"information-rich (a = 1 exactly)", {1.0, 1.0, 1.0, 10.0}, {6.25, 3.74, 15.44}},
};

/*
 * Fit one simulated data set.  est[] gets r, alpha, a, b, p, q, gamma and
 * se[] the Hessian standard errors of their logs.  Returns false if a fit
 * did not converge.
 */
static bool
fit_sim(const SimSet *set, uint64_t seed, double *est, double *se, double *secs,
		int *iters, size_t *ncells, int *nrepeat, double *lr)
{
	static SimCustomer sc[N_SIM];
	static BtydCell cells[N_SIM];
	static SpendCell spend[N_SIM];
	Xoshiro			rng;
	BgnbdParams p = {0, 0, 0, 0};
	GammaGammaParams g = {0, 0, 0};
	BtydFitResult f1,
				f2;
	LLCtx		ctx;
	size_t		nc,
				ns = 0;
	double		th[4],
				t0;
	int			i;

	xoshiro_seed(&rng, seed);
	simulate(&rng, set, sc, N_SIM);
	for (i = 0; i < N_SIM; i++)
	{
		BtydCell	c = {sc[i].x, sc[i].t_x, sc[i].T, 1.0};

		cells[i] = c;
		if (sc[i].x > 0)
		{
			SpendCell	s = {sc[i].x, sc[i].m, 1.0};

			spend[ns++] = s;
		}
	}
	nc = histogram(cells, N_SIM);
	t0 = now_sec();
	f1 = bgnbd_fit(cells, nc, 0.0, &p, NULL);
	f2 = gamma_gamma_fit(spend, ns, 0.0, &g, NULL);
	*secs = now_sec() - t0;
	*iters = f1.iterations;
	*ncells = nc;
	*nrepeat = (int) ns;
	est[0] = p.r;
	est[1] = p.alpha;
	est[2] = p.a;
	est[3] = p.b;
	est[4] = g.p;
	est[5] = g.q;
	est[6] = g.gamma;
	ctx.cells = cells;
	ctx.nc = nc;
	ctx.spend = spend;
	ctx.ns = ns;
	for (i = 0; i < 7; i++)
		se[i] = NAN;
	for (i = 0; i < 4; i++)
		th[i] = log(est[i]);
	(void) log_param_se(&ctx, 4, th, se);
	for (i = 0; i < 3; i++)
		th[i] = log(est[4 + i]);
	(void) log_param_se(&ctx, 3, th, se + 4);
	/* likelihood-ratio statistics 2 (LL(estimate) - LL(truth)), BG/NBD and GG */
	lr[0] = 2.0 * (f1.loglik - bgnbd_loglik(&set->bg, cells, nc));
	lr[1] = 2.0 * (f2.loglik - gg_loglik(&set->gg, spend, ns));
	return f1.converged && f2.converged;
}

static void
test_simulation(int mc)
{
	static const char *names[7] = {"r", "alpha", "a", "b", "p", "q", "gamma"};
	size_t		s;
	double		t_all = now_sec();

	printf("Simulated recovery, %d customers per set, T uniform on 20..52 weeks.\n"
		   "  err = estimate/true - 1; se = Hessian standard error of ln(estimate);\n"
		   "  z = ln(estimate/true)/se.  Asserted: |z| <= 4 for every parameter, and\n"
		   "  |err| <= 5%% wherever 4 se <= 5%% (i.e. where 20k customers can pin it),\n"
		   "  and LL(estimate) >= LL(truth) by a chi-square-sized margin.\n", N_SIM);
	for (s = 0; s < sizeof(sim_sets) / sizeof(sim_sets[0]); s++)
	{
		const SimSet *set = &sim_sets[s];
		const double truth[7] = {set->bg.r, set->bg.alpha, set->bg.a, set->bg.b,
		set->gg.p, set->gg.q, set->gg.gamma};
		double		est[7],
					se[7],
					lr[2],
					secs;
		int			iters,
					nrep,
					i;
		size_t		nc;
		bool		conv;

		conv = fit_sim(set, 1000 + s, est, se, &secs, &iters, &nc, &nrep, lr);
		printf("  set %zu \"%s\": %zu cells, %d repeat customers, fits %.0f ms (BG/NBD %d iterations)\n",
			   s + 1, set->name, nc, nrep, 1e3 * secs, iters);
		check(conv, "set %zu (%s): both fits converged", s + 1, set->name);
		/*
		 * The MLE must beat the true parameters on their own data (else the
		 * optimiser stopped short), and by the chi-square amount expected:
		 * 2 (LL(mle) - LL(true)) ~ chi2(4) resp. chi2(3); P(> 25) < 5e-5.
		 */
		printf("    LR statistic vs truth: BG/NBD %.2f (chi2 4 df), Gamma-Gamma %.2f (chi2 3 df)\n",
			   lr[0], lr[1]);
		check(lr[0] >= 0.0 && lr[0] <= 25.0, "set %zu: BG/NBD LL(mle) - LL(true) = %.3f in [0, 12.5]",
			  s + 1, 0.5 * lr[0]);
		check(lr[1] >= 0.0 && lr[1] <= 25.0, "set %zu: Gamma-Gamma LL(mle) - LL(true) = %.3f in [0, 12.5]",
			  s + 1, 0.5 * lr[1]);
		for (i = 0; i < 7; i++)
		{
			double		err = est[i] / truth[i] - 1.0;
			double		z = log(est[i] / truth[i]) / se[i];
			bool		pinned = 4.0 * se[i] <= 0.05;

			printf("    %-6s true %8.4f  est %9.4f  err %+7.2f%%  se %6.2f%%  z %+5.2f%s\n",
				   names[i], truth[i], est[i], 100.0 * err, 100.0 * se[i], z,
				   pinned ? "" : "  (not pinnable to 5% with this n)");
			check(isfinite(z) && fabs(z) <= 4.0, "set %zu %s: |z| = %.2f <= 4", s + 1, names[i], fabs(z));
			if (pinned)
				check(fabs(err) <= 0.05, "set %zu %s: within 5%% (err %.2f%%)", s + 1, names[i], 100.0 * err);
		}

		if (mc > 0)
		{
			/* empirical spread over replications vs the Hessian se */
			double		sum[7] = {0},
						sum2[7] = {0},
						sese[7] = {0};
			int			rep,
						nconv = 0;

			for (rep = 0; rep < mc; rep++)
			{
				double		e2[7],
							s2[7],
							lr2[2],
							sc2;
				int			it2,
							nr2;
				size_t		nc2;

				if (fit_sim(set, 777000 + 1000 * s + rep, e2, s2, &sc2, &it2, &nc2, &nr2, lr2) &&
					lr2[0] >= 0.0 && lr2[1] >= 0.0)
					nconv++;
				for (i = 0; i < 7; i++)
				{
					double		l = log(e2[i] / truth[i]);

					sum[i] += l;
					sum2[i] += l * l;
					sese[i] += s2[i];
				}
			}
			printf("    Monte Carlo, %d replications (%d converged): mean ln(est/true) +/- sd, mean se\n", mc, nconv);
			for (i = 0; i < 7; i++)
			{
				double		m = sum[i] / mc;
				double		sd = sqrt(fmax(0.0, sum2[i] / mc - m * m) * mc / (mc - 1.0));

				printf("      %-6s bias %+7.3f%%  sd %6.3f%%  mean se %6.3f%%\n",
					   names[i], 100.0 * m, 100.0 * sd, 100.0 * sese[i] / mc);
			}
		}
	}
	printf("  simulation total %.2f s\n", now_sec() - t_all);
}

/*
 * Random parameter sets across several orders of magnitude (r 0.02..20,
 * alpha 0.1..100, a 0.02..20, b 0.05..50), 3000 customers each: the fit
 * from the default start and from a deliberately bad one must agree, and
 * must not be beaten by the true parameters.  Several of these have their
 * likelihood supremum on an edge (converged = false is then correct).
 */
static void
test_robustness(void)
{
	static SimCustomer sc[3000];
	static BtydCell cells[3000];
	Xoshiro			rng;
	int			k,
				i,
				nedge = 0,
				ndisagree = 0,
				nbeaten = 0,
				nnan = 0,
				itmax = 0;
	double		t0 = now_sec();

	xoshiro_seed(&rng, 2024);
	for (k = 0; k < 40; k++)
	{
		SimSet		set = {"random", {0, 0, 0, 0}, {2.0, 5.0, 10.0}};
		BgnbdParams p = {0, 0, 0, 0},
					pb = {50.0, 0.05, 30.0, 0.02};
		BtydFitResult f,
					fb;
		double		llt;
		size_t		nc;

		set.bg.r = 0.02 * pow(1000.0, rand_unif(&rng));
		set.bg.alpha = 0.1 * pow(1000.0, rand_unif(&rng));
		set.bg.a = 0.02 * pow(1000.0, rand_unif(&rng));
		set.bg.b = 0.05 * pow(1000.0, rand_unif(&rng));
		simulate(&rng, &set, sc, 3000);
		for (i = 0; i < 3000; i++)
		{
			BtydCell	c = {sc[i].x, sc[i].t_x, sc[i].T, 1.0};

			cells[i] = c;
		}
		nc = histogram(cells, 3000);
		f = bgnbd_fit(cells, nc, 0.0, &p, NULL);
		fb = bgnbd_fit(cells, nc, 0.0, &pb, NULL);
		llt = bgnbd_loglik(&set.bg, cells, nc);
		if (!isfinite(f.loglik) || !isfinite(p.r + p.alpha + p.a + p.b))
			nnan++;
		if (!f.converged)
			nedge++;
		if (fabs(f.loglik - fb.loglik) > 1e-6 * fabs(f.loglik) + 0.01)
			ndisagree++;
		if (f.loglik < llt - 1e-6 * fabs(llt))
			nbeaten++;
		if (f.iterations > itmax)
			itmax = f.iterations;
	}
	check(nnan == 0, "robustness: 40 random BG/NBD sets give finite estimates (%d did not)", nnan);
	check(nbeaten == 0, "robustness: LL(estimate) >= LL(truth) in all 40 (%d beaten)", nbeaten);
	check(ndisagree == 0, "robustness: default and bad start reach the same LL in all 40 (%d differ)", ndisagree);
	printf("robustness sweep: 40 random sets, %d with the supremum on an edge (converged = false), "
		   "max %d iterations, %.2f s\n", nedge, itmax, now_sec() - t0);
}

/* ================================================================== */
/* the bounds: extreme parameters, bounded time, finite results          */
/* ================================================================== */

/*
 * E[Y(u) | x = 0, T = 0] with alpha = 1, i.e. N(k = r, a, beta = b, u) of
 * btyd.c, at random points with r, a, b log-uniform in [1e-8, 1e8] and u in
 * [1e-8, 1e15] (mpmath 1.3 at 60 digits, C/(a-1) [1 - (1-z)^k 2F1(k, beta;
 * C; z)] straight from FHL05a eq. 10).  Both evaluation paths: the positive
 * series (small u) and the Beta quadrature.
 */
static const double bound_ref[][5] = {
	/* k, a, beta, u, N */
	{2.000248845355709, 5.5396743651486031e-08, 76574400.021238238, 2.4936892132028885e-05, 4.9879989693850643e-5},
	{1811393.0003083639, 0.1497222974518399, 1811393.937487151, 2.2935945303237425e-08, 0.041546010706404804},
	{0.045234340034957021, 0.00012585972022800601, 0.00070082145243214775, 238.14429976294764, 9.1604801537554744},
	{551.00000016659112, 140560.7930644048, 27786142.200714, 3.9202685595465425, 198.67781406553158},
	{1952.4344084107122, 236.53116494884748, 1952.0000000181428, 566454157.99489498, 9.2876505979243854},
	{7.2559975622337589, 1.391358696007188e-08, 63.663460589900758, 5864575391350.1914, 42553329169747.441},
	{149323.00145433799, 977617.04331831948, 536811.56536717596, 1.0046588164402807e-05, 0.96093538377757597},
	{156.00000001500172, 5.5440740640114026, 156.31831314005612, 1.5081894212747742e-08, 2.3527754020059547e-6},
	{8978.7260385665195, 2.2171498335163973e-07, 16342.700903368275, 880.31733575258863, 7904119.0784106668},
	{2675.9663218202418, 37139725.331999414, 1.0448453039854015, 3.0621013851866892e-08, 8.1937443497422477e-5},
	{19143052.433324978, 0.0031678595230246634, 423150.00028621318, 8.0922568858698603e-07, 15.491048888762632},
	{0.030754653612294364, 1.2979100882983775e-08, 5.7387555427678341e-08, 139969.77922165324, 3510.7736896893336},
	{0.00016019540741767316, 4.9216749040251116e-07, 0.42076549959514675, 12322019.928100469, 1973.9143249758759},
	{2.0021671853613525, 0.0084206634506128874, 927728.54564953805, 106634296.9595075, 205233001.26447712},
	{83012.061245367207, 264.32905427694021, 83012.000064015825, 294.36884220217348, 316.2405658082569},
	{6.1491252407377026e-07, 0.35175285307715437, 0.043364434109546914, 102776729392808.28, 159.03140226833543},
	{2.000000030953907, 0.0063173261240058783, 188635.94212334597, 5331.9596350745223, 10661.164477154111},
	{43.880612253785728, 23040.101809298281, 3.2965822753614678, 24170438937.012104, 1.000143086406},
	{106773.00071863006, 16.985331020616318, 193258.49665198405, 6567722.3639050983, 12090.740049970697},
	{396.52912482276992, 628.75620141680304, 392.00000112227434, 2084597749.054472, 1.6244462424067767},
	{22595.19016450195, 0.0046776583991601263, 88.037189279532839, 87.471657898161737, 1894757.0858738934},
	{3.0000198450665221, 1.2227877837106192e-08, 116.91583025320736, 533563224599086.69, 1600699686757000.7},
	{41.062568609336296, 0.00046421764515167395, 575.46438613596808, 1.7002724546021368e-08, 6.9817554321644735e-7},
	{96131465.22297585, 6.5520167486047285, 68260253.77474837, 15858536764364.555, 12294678.207503523},
};

static void
test_bounds(void)
{
	static const double pv[] = {1e-8, 1.0, 1e8};
	static const double hist[][3] = {{0, 0, 0}, {0, 0, 10}, {5, 30, 40}, {0, 0, 1e7}, {1e7, 1e7, 1e7},
	{1e7, 1, 1e7}, {3, 1e7, 1e7}, {1, 1e-8, 1e-8}, {1e7, 0, 0}, {2147483647.0, 0, 3e8}};
	static const double ts[] = {1e-8, 1.0, 52.0, 1e4, 1e7};
	static const int ns[] = {0, 1, 5, 1000, 1000000, 2147483647};
	GammaGammaParams gg = {6.25, 3.74, 15.44};
	double		maxe = 0.0;
	int			i,
				j,
				k,
				l,
				h,
				ti,
				worst = 0,
				nbad = 0,
				ncells = 0;
	double		t0 = now_sec();

	for (i = 0; i < (int) (sizeof(bound_ref) / sizeof(bound_ref[0])); i++)
	{
		const double *c = bound_ref[i];
		BgnbdParams p = {c[0], 1.0, c[1], c[2]};
		double		e = relerr(bgnbd_expected_purchases(&p, c[3], 0.0, 0.0, 0.0), c[4]);

		if (e > maxe)
		{
			maxe = e;
			worst = i;
		}
	}
	check(maxe <= 1e-12, "expected_purchases vs %d mpmath values with r, a, b in [1e-8, 1e8], "
		  "u in [1e-8, 1e15]: max rel err %.2e (row %d)",
		  (int) (sizeof(bound_ref) / sizeof(bound_ref[0])), maxe, worst);

	/*
	 * The grid of sql/adversarial.sql and more: every parameter at 1e-8, 1
	 * and 1e8, histories up to 1e7 (and a summary-sized 2^31 - 1 purchases),
	 * horizons up to 1e7.  Before the quadrature this took many minutes
	 * (seconds per cell); no time limit here, only finite results in range.
	 */
	for (i = 0; i < 3; i++)
		for (j = 0; j < 3; j++)
			for (k = 0; k < 3; k++)
				for (l = 0; l < 3; l++)
				{
					BgnbdParams p = {pv[i], pv[j], pv[k], pv[l]};

					for (h = 0; h < (int) (sizeof(hist) / sizeof(hist[0])); h++)
					{
						double		x = hist[h][0],
									tx = hist[h][1],
									T = hist[h][2];
						double		pa = bgnbd_p_alive(&p, x, tx, T);
						double		clv = btyd_clv_discounted(&p, &gg, x, tx, T, 10.0, 24, 0.01, 7.0);

						ncells++;
						if (!(pa >= 0.0 && pa <= 1.0) || !(clv >= 0.0 && isfinite(clv)))
							nbad++;
						for (ti = 0; ti < (int) (sizeof(ts) / sizeof(ts[0])); ti++)
						{
							double		e = bgnbd_expected_purchases(&p, ts[ti], x, tx, T);
							/* E <= (r + x) t / (alpha + T): no more than the Poisson rate allows */
							double		cap = (p.r + x) * ts[ti] / (p.alpha + T) * (1.0 + 1e-12);

							if (!(e >= 0.0 && e <= cap))
							{
								if (nbad < 5)
									printf("  bad E[Y(%g)] = %g for r=%g alpha=%g a=%g b=%g x=%g t_x=%g T=%g\n",
										   ts[ti], e, p.r, p.alpha, p.a, p.b, x, tx, T);
								nbad++;
							}
						}
					}
					for (ti = 0; ti < (int) (sizeof(ts) / sizeof(ts[0])); ti++)
					{
						double		e = bgnbd_expected_purchases_new(&p, ts[ti]);

						if (!(e >= 0.0 && isfinite(e)))
							nbad++;
						for (h = 0; h < (int) (sizeof(ns) / sizeof(ns[0])); h++)
						{
							double		pr = bgnbd_prob_purchases(&p, ts[ti], ns[h]);

							if (!(pr >= 0.0 && pr <= 1.0))
							{
								if (nbad < 5)
									printf("  bad P(X(%g) = %d) = %g for r=%g alpha=%g a=%g b=%g\n",
										   ts[ti], ns[h], pr, p.r, p.alpha, p.a, p.b);
								nbad++;
							}
						}
					}
				}
	check(nbad == 0, "grid at the bounds: %d models x %d histories x %d horizons, p_alive, E[Y], "
		  "E[X], P(X = n), 24-month CLV: %d not finite or out of range",
		  81, (int) (sizeof(hist) / sizeof(hist[0])), (int) (sizeof(ts) / sizeof(ts[0])), nbad);
	printf("grid at the bounds: %d cells in %.2f s\n", ncells, now_sec() - t0);

	/* Gamma-Gamma: no intermediate overflow, no NaN from 0 * Inf */
	{
		GammaGammaParams huge = {1e300, 1e300, 1e300};
		double		s1 = gg_expected_avg_spend(&gg, 1e6, 1e308);
		double		s2 = gg_expected_avg_spend(&huge, 0.0, 0.0);
		double		s3 = gg_expected_avg_spend(&huge, 2147483647.0, 1e-300);
		GammaGammaParams ovf = {1.0, 1.0000000001, 1e300};

		check(isfinite(s1) && relerr(s1, 1e308) < 1e-5, "expected_avg_spend(x = 1e6, m = 1e308) = %g (finite)", s1);
		check_rel("expected_avg_spend(1e300, 1e300, 1e300; x = 0) = gamma p/(q-1)", s2, 1e300, 1e-14);
		check_rel("expected_avg_spend(1e300, 1e300, 1e300; x = 2^31-1, m = 1e-300) = gamma/x + m", s3,
				  1e300 / 2147483647.0, 1e-14);
		check(isinf(gg_expected_avg_spend(&ovf, 0.0, 0.0)), "a result beyond float8 is +Inf (SQL: 22003), not NaN");
		{
			GammaGammaParams big_p = {1e300, 1.0000000001, 1e-300},
						tiny_p = {1e-300, 1e300, 1e300};
			double		q1 = (1.0 + 1e-10) - 1.0;	/* q - 1 as the code sees it */

			check_rel("expected_avg_spend with p/(q-1) ~ 1e310 but gamma = 1e-300",
					  gg_expected_avg_spend(&big_p, 0.0, 0.0), 1e300 * (1e-300 / q1), 1e-13);
			check_rel("expected_avg_spend with p/(q-1) ~ 1e-600 but gamma = 1e300",
					  gg_expected_avg_spend(&tiny_p, 0.0, 0.0), 1e-300, 1e-13);
		}
	}
	{
		SpendCell	c[4] = {{2, 5, 1}, {1, 1e-300, 1}, {7, 4.9e-324, 1}, {2147483647.0, 1e308, 1}};
		GammaGammaParams g = {0, 0, 0};
		BtydFitResult f = gamma_gamma_fit(c, 4, 0.0, &g, NULL);

		check(isfinite(f.loglik) && g.p > 0.0 && g.q > 0.0 && g.gamma > 0.0,
			  "gamma_gamma_fit on spends 4.9e-324 .. 1e308 with x up to 2^31-1: finite (p %g, q %g, "
			  "gamma %g, LL %g)", g.p, g.q, g.gamma, f.loglik);
	}
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	int			mc = 0;
	int			i;
	double		t0 = now_sec();

	for (i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "-v") == 0)
			verbose = true;
		else if (strcmp(argv[i], "--mc") == 0 && i + 1 < argc)
			mc = atoi(argv[++i]);
		else
			path = argv[i];
	}

	test_special();
	test_hyp2f1();
	test_predictions();
	test_bounds();
	test_cdnow(path);
	test_simulation(mc);
	test_robustness();

	printf("total %.2f s\n", now_sec() - t0);
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail == 0 ? 0 : 1;
}
