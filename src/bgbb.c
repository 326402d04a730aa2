/* bgbb.c - the BG/BB model in pure C: likelihood with its gradient, the
 * maximum-likelihood fit on (x, t_x, n) histograms, predictions. */

/*
 * No PostgreSQL headers (the glue is bgbb_sql.c); nothing allocates or keeps
 * state.  See bgbb.h for the model and [FHS10] for the equations cited.
 *
 * Every Beta-function ratio is written with rising factorials,
 *	 B(a + x, b + y) / B(a, b) = (a)_x (b)_y / (a + b)_(x+y),
 * in logs through btyd_lnpoch(), which stays accurate when a >> x (a
 * difference of lgamma values would cancel for large fitted parameters);
 * their derivatives are differences of digamma values, btyd_digamma_diff().
 */

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "bgbb.h"
#include "numerics.h"

/* ln (a)_x, 0 for x = 0 */
static double
lp(double a, double x)
{
	return x == 0.0 ? 0.0 : btyd_lnpoch(a, x);
}

/* psi(a + x) - psi(a), 0 for x = 0 */
static double
dd(double a, double x)
{
	return x == 0.0 ? 0.0 : btyd_digamma_diff(a, x);
}

static bool
params_ok(const BgbbParams *p)
{
	return p != NULL &&
		isfinite(p->alpha) && p->alpha > 0.0 && isfinite(p->beta) && p->beta > 0.0 &&
		isfinite(p->gamma) && p->gamma > 0.0 && isfinite(p->delta) && p->delta > 0.0;
}

static bool
whole(double v)
{
	return isfinite(v) && v == floor(v);
}

bool
bgbb_history_ok(double x, double t_x, double n)
{
	return whole(x) && whole(t_x) && whole(n) &&
		x >= 0.0 && x <= t_x && t_x <= n && n <= BGBB_MAX_OPPORTUNITIES &&
		((x == 0.0) == (t_x == 0.0));
}

size_t
bgbb_cell_invalid(const BgbbCell *cells, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i++)
		if (!bgbb_history_ok(cells[i].x, cells[i].t_x, cells[i].n) ||
			!isfinite(cells[i].weight) || cells[i].weight < 0.0)
			return i;
	return n;
}


/* ------------------------------------------------------------------ */
/* the log-likelihood of one history [FHS10 eq. 5]                      */
/* ------------------------------------------------------------------ */

/*
 * A running log-sum-exp of terms t_k with their gradients g_k: holds the
 * largest term m, s = sum exp(t_k - m) and G = sum exp(t_k - m) g_k, so
 * that ln sum exp(t_k) = m + ln s and its gradient is G / s.
 */
typedef struct Lse
{
	double		m;
	double		s;
	double		G[4];
} Lse;

static void
lse_add(Lse *l, double t, const double *g)
{
	int			j;

	if (t <= l->m)
	{
		double		e = exp(t - l->m);

		l->s += e;
		if (g)
			for (j = 0; j < 4; j++)
				l->G[j] += e * g[j];
	}
	else
	{
		double		e = exp(l->m - t);

		l->s = l->s * e + 1.0;
		if (g)
			for (j = 0; j < 4; j++)
				l->G[j] = l->G[j] * e + g[j];
		l->m = t;
	}
}

/*
 * ln L(alpha, beta, gamma, delta | x, t_x, n), eq. 5 term by term:
 *	 alive throughout:	ln[B(a+x, b+n-x)/B(a,b)] + ln[B(g, d+n)/B(g,d)]
 *	 dead at the start of opportunity t_x + i + 1, i = 0 .. n-t_x-1:
 *		ln[B(a+x, b+t_x-x+i)/B(a,b)] + ln[B(g+1, d+t_x+i)/B(g,d)],
 * the latter by recurrence in i (each step adds two logs of ratios, and
 * 1/argument to the digamma differences), so a cell costs O(n - t_x)
 * elementary operations and a constant number of special functions.
 * g (may be NULL) receives the gradient.
 */
static double
cell_ll(const BgbbParams *p, double x, double t_x, double n, double *g)
{
	const double a = p->alpha,
				b = p->beta,
				ga = p->gamma,
				de = p->delta;
	const double ab = a + b,
				gd = ga + de;
	const double lpa = lp(a, x),
				dda = g ? dd(a, x) : 0.0;
	double		t,
				gt[4];
	Lse			l;
	double		i,
				m = n - t_x;
	int			j;

	/* alive at every opportunity */
	t = lpa + lp(b, n - x) - lp(ab, n) + lp(de, n) - lp(gd, n);
	if (g)
	{
		gt[0] = dda - dd(ab, n);
		gt[1] = dd(b, n - x) - dd(ab, n);
		gt[2] = -dd(gd, n);
		gt[3] = dd(de, n) - dd(gd, n);
	}
	l.m = t;
	l.s = 1.0;
	if (g)
		memcpy(l.G, gt, sizeof(gt));
	else
		memset(l.G, 0, sizeof(l.G));
	if (m <= 0.0)
		goto done;

	/* dead just after the last transaction (i = 0) */
	t = lpa + lp(b, t_x - x) - lp(ab, t_x) + log(ga) + lp(de, t_x) - lp(gd, t_x + 1.0);
	if (g)
	{
		gt[0] = dda - dd(ab, t_x);
		gt[1] = dd(b, t_x - x) - dd(ab, t_x);
		gt[2] = 1.0 / ga - dd(gd, t_x + 1.0);
		gt[3] = dd(de, t_x) - dd(gd, t_x + 1.0);
	}
	lse_add(&l, t, g ? gt : NULL);
	for (i = 0.0; i + 1.0 < m; i += 1.0)
	{
		const double u = b + t_x - x + i,
					v = ab + t_x + i,
					s = de + t_x + i,
					q = gd + 1.0 + t_x + i;

		t += log(u / v) + log(s / q);
		if (g)
		{
			gt[0] -= 1.0 / v;
			gt[1] += 1.0 / u - 1.0 / v;
			gt[2] -= 1.0 / q;
			gt[3] += 1.0 / s - 1.0 / q;
		}
		lse_add(&l, t, g ? gt : NULL);
	}
done:
	if (g)
		for (j = 0; j < 4; j++)
			g[j] = l.G[j] / l.s;
	return l.m + log(l.s);
}

static double
bgbb_eval(const BgbbParams *p, const BgbbCell *cells, size_t n, double *grad, double *absll)
{
	KSum		ll = {0.0, 0.0};
	double		G[4] = {0.0, 0.0, 0.0, 0.0},
				absacc = 0.0;
	size_t		k;
	int			j;

	for (k = 0; k < n; k++)
	{
		const BgbbCell *c = &cells[k];
		double		g[4],
					li;

		if (c->weight == 0.0)
			continue;
		li = cell_ll(p, c->x, c->t_x, c->n, grad ? g : NULL);
		ksum_add(&ll, c->weight * li);
		absacc += c->weight * fabs(li);
		if (grad)
			for (j = 0; j < 4; j++)
				G[j] += c->weight * g[j];
	}
	if (grad)
		memcpy(grad, G, sizeof(G));
	if (absll)
		*absll = absacc;
	return ll.s + ll.c;
}

double
bgbb_loglik(const BgbbParams *p, const BgbbCell *cells, size_t n, double *grad)
{
	int			j;

	if (grad)
		for (j = 0; j < 4; j++)
			grad[j] = NAN;
	if (!params_ok(p) || (n > 0 && cells == NULL) || bgbb_cell_invalid(cells, n) != n)
		return NAN;
	return bgbb_eval(p, cells, n, grad, NULL);
}

/* ------------------------------------------------------------------ */
/* the fit                                                              */
/* ------------------------------------------------------------------ */

typedef struct BgbbCtx
{
	const BgbbCell *cells;
	size_t		n;
	double		wsum;
	double		penalizer;
	double		noise;			/* mean |LL| of the last evaluation */
} BgbbCtx;

/* theta = ln(alpha, beta, gamma, delta): all four are unit-free */
static double
bgbb_objective(const double *theta, double *grad, void *vctx)
{
	BgbbCtx    *ctx = (BgbbCtx *) vctx;
	BgbbParams p;
	double		pv[4],
				g[4],
				ll,
				absll = 0.0,
				pen = 0.0;
	int			i;

	for (i = 0; i < 4; i++)
	{
		if (!(fabs(theta[i]) <= OPT_THETA_MAX + 1.0))
			return NAN;
		pv[i] = exp(theta[i]);
	}
	p.alpha = pv[0];
	p.beta = pv[1];
	p.gamma = pv[2];
	p.delta = pv[3];
	ll = bgbb_eval(&p, ctx->cells, ctx->n, g, &absll);
	ctx->noise = absll / ctx->wsum;
	for (i = 0; i < 4; i++)
	{
		grad[i] = -pv[i] * g[i] / ctx->wsum;
		if (ctx->penalizer > 0.0)
		{
			grad[i] += 2.0 * ctx->penalizer * pv[i] * pv[i];
			pen += pv[i] * pv[i];
		}
	}
	return -ll / ctx->wsum + (ctx->penalizer > 0.0 ? ctx->penalizer * pen : 0.0);
}

BtydFitResult
bgbb_fit(const BgbbCell *cells, size_t n, double penalizer,
		 BgbbParams *inout, btyd_interrupt_fn check)
{
	BtydFitResult out;
	BgbbCtx		ctx;
	OptResult	mr;
	double		starts[OPT_MAX_STARTS][OPT_MAXDIM];
	double		theta[OPT_MAXDIM] = {0.0, 0.0, 0.0, 0.0};
	const double def[OPT_MAXDIM] = {0.0, 0.0, 0.0, 0.0};
	double		usr[OPT_MAXDIM];
	const double in[4] = {inout ? inout->alpha : 0, inout ? inout->beta : 0,
	inout ? inout->gamma : 0, inout ? inout->delta : 0};
	int			nstarts = 0,
				i;
	size_t		k;

	btyd_fit_result_init(&out);
	if (inout == NULL || (n > 0 && cells == NULL) || !isfinite(penalizer) || penalizer < 0.0)
		return out;
	if (bgbb_cell_invalid(cells, n) != n)
		return out;
	ctx.cells = cells;
	ctx.n = n;
	ctx.penalizer = penalizer;
	ctx.noise = 1.0;
	ctx.wsum = 0.0;
	for (k = 0; k < n; k++)
		ctx.wsum += cells[k].weight;
	if (!(ctx.wsum > 0.0))
		return out;

	/*
	 * Starts: the caller's (defaults 1: p and theta uniform), then the
	 * uniform start, then three other regimes of the dropout distribution:
	 * rare dropout (gamma < delta), frequent dropout, and U-shaped
	 * (gamma, delta small: some die at once, the others never) with
	 * U-shaped transaction probabilities.
	 */
	for (i = 0; i < 4; i++)
		usr[i] = (isfinite(in[i]) && in[i] > 0.0) ? log(in[i]) : def[i];
	memcpy(starts[nstarts++], usr, sizeof(usr));
	if (memcmp(usr, def, sizeof(def)) != 0)
		memcpy(starts[nstarts++], def, sizeof(def));
	memcpy(starts[nstarts], def, sizeof(def));
	starts[nstarts][2] = log(0.3);
	starts[nstarts++][3] = log(3.0);
	memcpy(starts[nstarts], def, sizeof(def));
	starts[nstarts][2] = log(3.0);
	starts[nstarts++][3] = log(0.3);
	for (i = 0; i < 4; i++)
		starts[nstarts][i] = log(0.2);
	nstarts++;

	mr = opt_multistart(4, starts, nstarts, bgbb_objective, &ctx, &ctx.noise, check, theta);
	out.iterations = mr.iterations;
	if (!isfinite(mr.f))
		return out;
	ctx.penalizer = 0.0;
	opt_log_std_errors(4, bgbb_objective, &ctx, theta, ctx.wsum, out.se);
	inout->alpha = exp(theta[0]);
	inout->beta = exp(theta[1]);
	inout->gamma = exp(theta[2]);
	inout->delta = exp(theta[3]);
	out.se[0] *= inout->alpha;
	out.se[1] *= inout->beta;
	out.se[2] *= inout->gamma;
	out.se[3] *= inout->delta;
	out.loglik = bgbb_eval(inout, cells, n, NULL, NULL);
	out.converged = mr.converged;
	return out;
}

/* ------------------------------------------------------------------ */
/* predictions                                                          */
/* ------------------------------------------------------------------ */

double
bgbb_p_alive(const BgbbParams *p, double x, double t_x, double n)
{
	double		num,
				ll;

	if (!params_ok(p) || !bgbb_history_ok(x, t_x, n))
		return NAN;
	/* eq. 11: alive throughout AND still alive at n + 1, over L */
	num = lp(p->alpha, x) + lp(p->beta, n - x) - lp(p->alpha + p->beta, n) +
		lp(p->delta, n + 1.0) - lp(p->gamma + p->delta, n + 1.0);
	ll = cell_ll(p, x, t_x, n, NULL);
	return fmin(1.0, exp(num - ll));
}

/*
 * ln sum_{k=1..K} B(gamma, delta+n+k) / B(gamma, delta): the expected
 * number of the next K opportunities a customer alive at n (with no other
 * information) is alive at, times P(alive at n) -- i.e. the survival
 * curve summed.  K >= 1.  Telescoping (the bracket of eqs. 7 and 13),
 *	 sum = h(n) (1 - exp(D)) / (gamma - 1),
 *	 h(n) = Gamma(gamma+delta) Gamma(delta+n+1) / (Gamma(delta) Gamma(gamma+delta+n)),
 *	 D = ln h(n+K)/h(n) = sum_{m=n+1..n+K} log1p(e / (gamma+delta+m-1)), e = 1 - gamma,
 * which is 0/0 at gamma = 1.  With Q = D / e (a sum of log1p(e y)/e, each
 * tending to y as e -> 0, no cancellation):
 *	 sum = h(n) * Q * expm1(D) / D,
 * exact at gamma = 1 (Q = sum 1/(delta + m), the factor 1) and accurate
 * near it.  O(K) elementary operations, K <= BGBB_MAX_OPPORTUNITIES.
 */
static double
log_survival_sum(const BgbbParams *p, double n, double K)
{
	const double e = 1.0 - p->gamma,
				c = p->gamma + p->delta - 1.0;
	double		Q = 0.0,
				D,
				f,
				m;

	for (m = n + 1.0; m <= n + K; m += 1.0)
	{
		double		y = 1.0 / (c + m);

		Q += (e == 0.0) ? y : log1p(e * y) / e;
	}
	D = e * Q;
	f = (D == 0.0) ? 1.0 : expm1(D) / D;
	return lp(p->delta, n + 1.0) - lp(p->gamma + p->delta, n) + log(Q) + log(f);
}

static bool
horizon_ok(double k)
{
	return whole(k) && k >= 0.0 && k <= BGBB_MAX_OPPORTUNITIES;
}

double
bgbb_expected_purchases(const BgbbParams *p, double nstar, double x, double t_x, double n)
{
	double		num,
				ll;

	if (!params_ok(p) || !bgbb_history_ok(x, t_x, n) || !horizon_ok(nstar))
		return NAN;
	if (nstar == 0.0)
		return 0.0;

	/*
	 * eq. 13: (1/L) B(a+x+1, b+n-x)/B(a,b) sum_{k=1..n*} B(g, d+n+k)/B(g,d):
	 * the customer must be alive at n (the first factor carries the
	 * history's transactions and one more), then at each n + k.
	 */
	num = lp(p->alpha, x + 1.0) + lp(p->beta, n - x) - lp(p->alpha + p->beta, n + 1.0) +
		log_survival_sum(p, n, nstar);
	ll = cell_ll(p, x, t_x, n, NULL);
	return exp(num - ll);
}

double
bgbb_expected_purchases_new(const BgbbParams *p, double n)
{
	if (!params_ok(p) || !horizon_ok(n))
		return NAN;
	if (n == 0.0)
		return 0.0;
	/* eq. 7: alpha/(alpha+beta) times the summed survival curve */
	return p->alpha / (p->alpha + p->beta) * exp(log_survival_sum(p, 0.0, n));
}

/* ln C(n, k) */
static double
lchoose(double n, double k)
{
	return btyd_lgamma(n + 1.0) - btyd_lgamma(k + 1.0) - btyd_lgamma(n - k + 1.0);
}

double
bgbb_prob_purchases(const BgbbParams *p, double n, double x)
{
	const double a = p ? p->alpha : 0,
				b = p ? p->beta : 0,
				ga = p ? p->gamma : 0,
				de = p ? p->delta : 0;
	Lse			l;
	double		i,
				lpa;

	if (!params_ok(p) || !horizon_ok(n) || !isfinite(x) || x != floor(x))
		return NAN;
	if (x < 0.0 || x > n)
		return 0.0;
	lpa = lp(a, x);
	/* eq. 6: alive at all n opportunities ... */
	l.m = lchoose(n, x) + lpa + lp(b, n - x) - lp(a + b, n) + lp(de, n) - lp(ga + de, n);
	l.s = 1.0;
	/* ... or dead at the start of opportunity i + 1, x transactions among the first i */
	for (i = x; i < n; i += 1.0)
		lse_add(&l, lchoose(i, x) + lpa + lp(b, i - x) - lp(a + b, i) +
				log(ga) + lp(de, i) - lp(ga + de, i + 1.0), NULL);
	return fmin(1.0, exp(l.m + log(l.s)));
}
