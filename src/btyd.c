/* btyd.c - BG/NBD and Gamma-Gamma customer-base models in pure C: likelihoods,
 * maximum-likelihood fits on (x, t_x, T) histograms, predictions and CLV. */

/*
 * No PostgreSQL headers: the glue (aggregate state, SQL types, errors) lives
 * elsewhere and passes plain arrays in.  Nothing here allocates or keeps
 * state between calls.  See btyd.h for units and conventions, and [FHL05a]
 * / [FHL05b] there for the papers whose equations are cited below.
 */

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "btyd.h"

#define LN10			2.30258509299404568402

/* ------------------------------------------------------------------ */
/* small helpers                                                        */
/* ------------------------------------------------------------------ */

/* ln(1 + e^v) without overflow or loss for large |v| */
static double
softplus(double v)
{
	return (v > 0.0) ? v + log1p(exp(-v)) : log1p(exp(v));
}

/* 1 / (1 + e^-v) */
static double
sigmoid(double v)
{
	if (v >= 0.0)
		return 1.0 / (1.0 + exp(-v));
	else
	{
		double		e = exp(v);

		return e / (1.0 + e);
	}
}

static bool
bgnbd_params_ok(const BgnbdParams *p)
{
	return p != NULL &&
		isfinite(p->r) && p->r > 0.0 && isfinite(p->alpha) && p->alpha > 0.0 &&
		isfinite(p->a) && p->a > 0.0 && isfinite(p->b) && p->b > 0.0;
}

static bool
gg_params_ok(const GammaGammaParams *g)
{
	return g != NULL &&
		isfinite(g->p) && g->p > 0.0 && isfinite(g->q) && g->q > 0.0 &&
		isfinite(g->gamma) && g->gamma > 0.0;
}

static bool
bgnbd_history_ok(double x, double t_x, double T)
{
	return isfinite(x) && isfinite(t_x) && isfinite(T) &&
		x >= 0.0 && t_x >= 0.0 && t_x <= T;
}

size_t
bgnbd_cell_invalid(const BtydCell *cells, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i++)
	{
		const BtydCell *c = &cells[i];

		if (!bgnbd_history_ok(c->x, c->t_x, c->T) ||
			!isfinite(c->weight) || c->weight < 0.0)
			return i;
	}
	return n;
}

size_t
gg_cell_invalid(const SpendCell *cells, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i++)
	{
		const SpendCell *c = &cells[i];

		if (!isfinite(c->x) || !isfinite(c->m) || !isfinite(c->weight) ||
			c->x <= 0.0 || c->m <= 0.0 || c->weight < 0.0)
			return i;
	}
	return n;
}

/* Neumaier-compensated running sum: totals over 10^5..10^6 cells stay exact
 * enough for the line search to see changes of 1e-15 in the mean. */
typedef struct KSum
{
	double		s;
	double		c;
} KSum;

static void
ksum_add(KSum *k, double v)
{
	double		t = k->s + v;

	if (fabs(k->s) >= fabs(v))
		k->c += (k->s - t) + v;
	else
		k->c += (v - t) + k->s;
	k->s = t;
}

/* ------------------------------------------------------------------ */
/* BG/NBD log-likelihood [FHL05a eq. 6]                                 */
/* ------------------------------------------------------------------ */

/*
 * Per customer, with A1..A4 as in lifetimes (and FHL05a eq. 6 in logs):
 *	 LL = ln[Gamma(r+x) alpha^r / Gamma(r)] + ln[B(a, b+x) / B(a, b)]
 *		  - (r+x) ln(alpha+T)
 *		  + ln(1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)),
 * the last term being the log-sum-exp of the "still alive" and "dropped out
 * after the last purchase" branches; v below is the log of the ratio of the
 * second branch to the first and omega = sigmoid(v) its posterior weight
 * (so P(alive) = 1 - omega, eq. 11).  Terms that depend on x only are
 * recomputed only when x changes from one cell to the next.
 *
 * Returns sum w*LL; grad (if not NULL) gets d/d(r, alpha, a, b) of it.
 * *wsum gets sum w.  NaN if a cell is invalid.
 */
static double
bgnbd_eval(const BgnbdParams *p, const BtydCell *cells, size_t n,
		   double *grad, double *wsum)
{
	const double r = p->r,
				alpha = p->alpha,
				a = p->a,
				b = p->b;
	const double la = log(a);
	const double psi_r = grad ? btyd_digamma(r) : 0.0;
	const double psi_b = grad ? btyd_digamma(b) : 0.0;
	const double psi_ab = grad ? btyd_digamma(a + b) : 0.0;
	double		px = -1.0;		/* x of the memoised x-terms */
	double		cx = 0.0,
				gr_x = 0.0,
				ga_x = 0.0,
				gb_x = 0.0,
				lab_x = 0.0,
				ibx = 0.0;
	double		g_r = 0.0,
				g_al = 0.0,
				g_a = 0.0,
				g_b = 0.0;
	KSum		ll = {0.0, 0.0};
	KSum		ws = {0.0, 0.0};
	size_t		i;

	for (i = 0; i < n; i++)
	{
		const double x = cells[i].x,
					t_x = cells[i].t_x,
					T = cells[i].T,
					w = cells[i].weight;
		double		l1T,
					li;

		if (!bgnbd_history_ok(x, t_x, T) || !(w >= 0.0) || !isfinite(w))
			return NAN;
		if (w == 0.0)
			continue;
		ksum_add(&ws, w);

		if (x != px)
		{
			px = x;
			if (x > 0.0)
			{
				/* ln Gamma(r+x)/Gamma(r) + ln B(a,b+x)/B(a,b) */
				cx = btyd_lnpoch(r, x) + btyd_lnpoch(b, x) - btyd_lnpoch(a + b, x);
				lab_x = la - log(b + x - 1.0);
				ibx = 1.0 / (b + x - 1.0);
				if (grad)
				{
					double		psi_abx = btyd_digamma(a + b + x);

					gr_x = btyd_digamma(r + x) - psi_r;
					ga_x = psi_ab - psi_abx;
					gb_x = btyd_digamma(b + x) - psi_b + ga_x;
				}
			}
			else
				cx = gr_x = ga_x = gb_x = 0.0;
		}

		/* r ln alpha - (r+x) ln(alpha+T) = -r ln(1+T/alpha) - x ln(alpha+T) */
		l1T = log1p(T / alpha);
		if (x > 0.0)
		{
			double		lT = log(alpha + T);
			/* ln((alpha+T)/(alpha+t_x)) */
			double		lrat = log1p((T - t_x) / (alpha + t_x));
			double		v = lab_x + (r + x) * lrat;

			li = cx - r * l1T - x * lT + softplus(v);
			if (grad)
			{
				double		om = sigmoid(v);

				g_r += w * (gr_x - l1T + om * lrat);
				g_al += w * (r / alpha - (r + x) / (alpha + T) +
							 om * (r + x) * (1.0 / (alpha + T) - 1.0 / (alpha + t_x)));
				g_a += w * (ga_x + om / a);
				g_b += w * (gb_x - om * ibx);
			}
		}
		else
		{
			li = -r * l1T;
			if (grad)
			{
				g_r += w * (-l1T);
				g_al += w * (r / alpha - r / (alpha + T));
			}
		}
		ksum_add(&ll, w * li);
	}
	if (grad)
	{
		grad[0] = g_r;
		grad[1] = g_al;
		grad[2] = g_a;
		grad[3] = g_b;
	}
	if (wsum)
		*wsum = ws.s + ws.c;
	return ll.s + ll.c;
}

double
bgnbd_loglik(const BgnbdParams *p, const BtydCell *cells, size_t n)
{
	if (!bgnbd_params_ok(p) || (n > 0 && cells == NULL))
		return NAN;
	return bgnbd_eval(p, cells, n, NULL, NULL);
}

/* ------------------------------------------------------------------ */
/* Gamma-Gamma log-likelihood [FHL05b]                                  */
/* ------------------------------------------------------------------ */

/*
 * The mean m of x spends z_i ~ Gamma(p, nu) is Gamma(p x, x nu); integrating
 * nu ~ Gamma(q, gamma) gives
 *	 ln f(m|x) = ln Gamma(px+q) - ln Gamma(px) - ln Gamma(q) + q ln gamma
 *				 + (px-1) ln m + px ln x - (px+q) ln(gamma + m x),
 * exactly lifetimes' GammaGammaFitter likelihood.
 */
static double
gg_eval(const GammaGammaParams *g, const SpendCell *cells, size_t n,
		double *grad, double *wsum)
{
	const double p = g->p,
				q = g->q,
				gam = g->gamma;
	const double lgq = btyd_lgamma(q);
	const double lgam = log(gam);
	const double psi_q = grad ? btyd_digamma(q) : 0.0;
	double		px = -1.0;
	double		pxv = 0.0,
				lx = 0.0,
				cx = 0.0,
				dpsi = 0.0,
				psi_pxq = 0.0;
	double		g_p = 0.0,
				g_q = 0.0,
				g_g = 0.0;
	KSum		ll = {0.0, 0.0};
	KSum		ws = {0.0, 0.0};
	size_t		i;

	for (i = 0; i < n; i++)
	{
		const double x = cells[i].x,
					m = cells[i].m,
					w = cells[i].weight;
		double		lm,
					lgm,
					li;

		if (!isfinite(x) || !isfinite(m) || !isfinite(w) || x <= 0.0 || m <= 0.0 || w < 0.0)
			return NAN;
		if (w == 0.0)
			continue;
		ksum_add(&ws, w);
		if (x != px)
		{
			px = x;
			pxv = p * x;
			lx = log(x);
			cx = btyd_lnpoch(pxv, q) - lgq;
			if (grad)
			{
				psi_pxq = btyd_digamma(pxv + q);
				dpsi = psi_pxq - btyd_digamma(pxv);
			}
		}
		lm = log(m);
		lgm = log(gam + m * x);
		li = cx + q * lgam + (pxv - 1.0) * lm + pxv * lx - (pxv + q) * lgm;
		ksum_add(&ll, w * li);
		if (grad)
		{
			g_p += w * x * (dpsi + lm + lx - lgm);
			g_q += w * (psi_pxq - psi_q + lgam - lgm);
			g_g += w * (q / gam - (pxv + q) / (gam + m * x));
		}
	}
	if (grad)
	{
		grad[0] = g_p;
		grad[1] = g_q;
		grad[2] = g_g;
	}
	if (wsum)
		*wsum = ws.s + ws.c;
	return ll.s + ll.c;
}

double
gg_loglik(const GammaGammaParams *g, const SpendCell *cells, size_t n)
{
	if (!gg_params_ok(g) || (n > 0 && cells == NULL))
		return NAN;
	return gg_eval(g, cells, n, NULL, NULL);
}

/* ------------------------------------------------------------------ */
/* Quasi-Newton minimiser on log-parameters                             */
/* ------------------------------------------------------------------ */

/*
 * BFGS on theta = ln(params) (positivity for free, and the scale of every
 * coordinate becomes "relative change").  Small, fixed dimension: all
 * storage is on the stack.
 *
 * Convergence is max |d objective / d theta_i| <= GTOL on the per-customer
 * objective.  Near the optimum the decrease predicted for a step (g'Hg, of
 * order 1e-18 there) is below the rounding noise of the objective itself
 * (~1e-16 * |f|), so the line search uses the approximate Wolfe test of
 * Hager & Zhang (SIAM J. Optim. 16 (2005)): accept a step whose value is
 * within the noise when the slope shows it went downhill.  Restarts (H
 * reset to a scaled identity) handle a BFGS matrix gone bad; they are
 * deterministic.
 */
#define MAXDIM			4
#define GTOL			1e-9
#define MAX_ITER		500
#define MAX_RESTARTS	8
#define THETA_MAX		30.0	/* |ln param| bound: e^30 ~ 1e13 */

typedef double (*btyd_objfn) (const double *theta, double *grad, void *ctx);

typedef struct MinResult
{
	double		f;
	double		gmax;
	int			iterations;
	bool		converged;
} MinResult;

static double
vmaxabs(const double *v, int n)
{
	double		m = 0.0;
	int			i;

	for (i = 0; i < n; i++)
		if (fabs(v[i]) > m)
			m = fabs(v[i]);
	return m;
}

/* projected gradient: a coordinate pinned at the box and pushing out is 0 */
static double
proj_gmax(const double *theta, const double *g, int n)
{
	double		m = 0.0;
	int			i;

	for (i = 0; i < n; i++)
	{
		double		gi = g[i];

		if ((theta[i] >= THETA_MAX && gi < 0.0) || (theta[i] <= -THETA_MAX && gi > 0.0))
			gi = 0.0;
		if (fabs(gi) > m)
			m = fabs(gi);
	}
	return m;
}

/*
 * Line search along d from x (value f, gradient g, slope dg < 0).  On
 * success xn/fout/gn hold the accepted point.  Weak Wolfe conditions with
 * bracketing, bisection/interpolation, and the approximate-Wolfe escape.
 */
static bool
line_search(int n, const double *x, double f, const double *g, const double *d,
			double dg, double step0, double stepmax, btyd_objfn fn, void *ctx,
			double *xn, double *fout, double *gn)
{
	const double c1 = 1e-4,
				c2 = 0.9;
	const double noise = 1e-13 * (fabs(f) + 1e-3);
	double		lo = 0.0,
				hi = INFINITY;
	double		flo = f,
				dglo = dg;
	double		step = fmin(step0, stepmax);
	int			it,
				i;

	for (it = 0; it < 60; it++)
	{
		double		ft,
					dgt;
		bool		armijo,
					approx;

		for (i = 0; i < n; i++)
			xn[i] = x[i] + step * d[i];
		ft = fn(xn, gn, ctx);
		dgt = 0.0;
		for (i = 0; i < n; i++)
			dgt += gn[i] * d[i];

		if (!isfinite(ft) || !isfinite(dgt))
		{
			hi = step;
			step = 0.5 * (lo + hi);
			continue;
		}
		armijo = ft <= f + c1 * step * dg;
		approx = ft <= f + noise && dgt <= (2.0 * c1 - 1.0) * dg;
		if (!(armijo || approx) || ft > flo + noise)
		{
			/* too long: shrink, by safeguarded quadratic interpolation */
			double		qstep;

			hi = step;
			qstep = lo - 0.5 * dglo * (step - lo) * (step - lo) /
				(ft - flo - dglo * (step - lo));
			if (!(qstep > lo + 0.1 * (hi - lo) && qstep < hi - 0.1 * (hi - lo)))
				qstep = 0.5 * (lo + hi);
			step = qstep;
		}
		else if (dgt < c2 * dg)
		{
			/* still going downhill steeply: too short */
			lo = step;
			flo = ft;
			dglo = dgt;
			if (isinf(hi))
			{
				if (step >= stepmax)
				{
					*fout = ft;
					return true;	/* at the box / step cap: accept */
				}
				step = fmin(2.0 * step, stepmax);
			}
			else
				step = 0.5 * (lo + hi);
		}
		else
		{
			*fout = ft;
			return true;
		}
		if (hi - lo <= 1e-16 * fmax(1.0, hi))
			break;
	}
	/* no Wolfe point: settle for the best lower point seen, if any */
	if (lo > 0.0 && flo < f)
	{
		for (i = 0; i < n; i++)
			xn[i] = x[i] + lo * d[i];
		*fout = fn(xn, gn, ctx);
		return isfinite(*fout) && *fout <= f;
	}
	return false;
}

static MinResult
minimize(int n, double *theta, btyd_objfn fn, void *ctx, btyd_interrupt_fn check)
{
	MinResult	res;
	double		g[MAXDIM],
				H[MAXDIM][MAXDIM],
				d[MAXDIM],
				xn[MAXDIM],
				gn[MAXDIM],
				s[MAXDIM],
				y[MAXDIM],
				Hy[MAXDIM];
	double		f;
	int			restart,
				i,
				j;

	res.iterations = 0;
	res.converged = false;
	f = fn(theta, g, ctx);
	res.f = f;
	res.gmax = isfinite(f) ? proj_gmax(theta, g, n) : INFINITY;
	if (!isfinite(f))
		return res;

	for (restart = 0; restart < MAX_RESTARTS; restart++)
	{
		double		f_start = f;
		bool		scaled = false;
		int			it;

		for (i = 0; i < n; i++)
			for (j = 0; j < n; j++)
				H[i][j] = (i == j) ? 1.0 : 0.0;

		for (it = 0; it < MAX_ITER; it++)
		{
			double		dg = 0.0,
						dmax,
						stepmax,
						fnew = f,
						sy = 0.0,
						yHy = 0.0;

			if (check)
				check();
			res.gmax = proj_gmax(theta, g, n);
			if (res.gmax <= GTOL)
			{
				res.converged = true;
				res.f = f;
				return res;
			}
			res.iterations++;

			for (i = 0; i < n; i++)
			{
				d[i] = 0.0;
				for (j = 0; j < n; j++)
					d[i] -= H[i][j] * g[j];
				/* do not push a pinned coordinate further out */
				if ((theta[i] >= THETA_MAX && d[i] > 0.0) ||
					(theta[i] <= -THETA_MAX && d[i] < 0.0))
					d[i] = 0.0;
				dg += d[i] * g[i];
			}
			if (!(dg < 0.0))
			{
				/* not a descent direction: fall back to steepest descent */
				for (i = 0; i < n; i++)
					for (j = 0; j < n; j++)
						H[i][j] = (i == j) ? 1.0 : 0.0;
				dg = 0.0;
				for (i = 0; i < n; i++)
				{
					d[i] = -g[i];
					dg -= g[i] * g[i];
				}
			}
			/* cap a step at a factor e^3 per parameter, and keep in the box */
			dmax = vmaxabs(d, n);
			stepmax = (dmax > 0.0) ? 3.0 / dmax : 1.0;
			for (i = 0; i < n; i++)
			{
				if (d[i] > 0.0)
					stepmax = fmin(stepmax, (THETA_MAX - theta[i]) / d[i]);
				else if (d[i] < 0.0)
					stepmax = fmin(stepmax, (-THETA_MAX - theta[i]) / d[i]);
			}
			if (!(stepmax > 0.0))
				break;

			if (!line_search(n, theta, f, g, d, dg, 1.0, stepmax, fn, ctx, xn, &fnew, gn))
				break;

			for (i = 0; i < n; i++)
			{
				s[i] = xn[i] - theta[i];
				y[i] = gn[i] - g[i];
				sy += s[i] * y[i];
			}
			for (i = 0; i < n; i++)
			{
				Hy[i] = 0.0;
				for (j = 0; j < n; j++)
					Hy[i] += H[i][j] * y[j];
				yHy += y[i] * Hy[i];
			}
			if (sy > 1e-300 && sy > 1e-12 * sqrt(yHy > 0.0 ? yHy : 0.0) * vmaxabs(s, n))
			{
				if (!scaled)
				{
					/* Nocedal & Wright eq. 6.20: H0 = (s'y / y'y) I */
					double		yy = 0.0,
								sc;

					for (i = 0; i < n; i++)
						yy += y[i] * y[i];
					sc = sy / yy;
					for (i = 0; i < n; i++)
					{
						for (j = 0; j < n; j++)
							H[i][j] *= sc;
						Hy[i] *= sc;
					}
					yHy *= sc;
					scaled = true;
				}
				/* H+ = H - (Hy s' + s y'H)/sy + (1 + y'Hy/sy) s s'/sy */
				for (i = 0; i < n; i++)
					for (j = 0; j < n; j++)
						H[i][j] += -(Hy[i] * s[j] + s[i] * Hy[j]) / sy +
							(1.0 + yHy / sy) * s[i] * s[j] / sy;
			}
			for (i = 0; i < n; i++)
			{
				theta[i] = xn[i];
				g[i] = gn[i];
			}
			f = fnew;
		}
		res.gmax = proj_gmax(theta, g, n);
		res.f = f;
		if (res.gmax <= GTOL)
		{
			res.converged = true;
			return res;
		}
		/* a restart that could not improve at all: the point is as good as
		 * the arithmetic allows */
		if (restart > 0 && !(f < f_start))
			break;
	}
	return res;
}

/* ------------------------------------------------------------------ */
/* BG/NBD fit                                                           */
/* ------------------------------------------------------------------ */

typedef struct BgnbdCtx
{
	const BtydCell *cells;
	size_t		n;
	double		wsum;
	double		penalizer;
	double		ascale;			/* lifetimes' 10 / max(T) */
} BgnbdCtx;

/* objective on theta = ln(r, alpha, a, b); gradient w.r.t. theta */
static double
bgnbd_objective(const double *theta, double *grad, void *vctx)
{
	const BgnbdCtx *ctx = (const BgnbdCtx *) vctx;
	BgnbdParams p;
	double		g[4],
				pv[4],
				ll,
				pen,
				as;
	int			i;

	for (i = 0; i < 4; i++)
		if (!(fabs(theta[i]) <= THETA_MAX + 1.0))
			return NAN;
	p.r = exp(theta[0]);
	p.alpha = exp(theta[1]);
	p.a = exp(theta[2]);
	p.b = exp(theta[3]);
	ll = bgnbd_eval(&p, ctx->cells, ctx->n, g, NULL);
	pv[0] = p.r;
	pv[1] = p.alpha;
	pv[2] = p.a;
	pv[3] = p.b;
	as = p.alpha * ctx->ascale;
	pen = ctx->penalizer * (p.r * p.r + as * as + p.a * p.a + p.b * p.b);
	for (i = 0; i < 4; i++)
	{
		double		pi2 = (i == 1) ? as * as : pv[i] * pv[i];

		grad[i] = -pv[i] * g[i] / ctx->wsum + 2.0 * ctx->penalizer * pi2;
	}
	return -ll / ctx->wsum + pen;
}

static void
bgnbd_default_start(const BtydCell *cells, size_t n, BgnbdParams *s)
{
	double		sx = 0.0,
				sT = 0.0;
	size_t		i;

	for (i = 0; i < n; i++)
	{
		sx += cells[i].weight * cells[i].x;
		sT += cells[i].weight * cells[i].T;
	}
	/* mean rate r/alpha matched to purchases per unit time; mean dropout 1/2 */
	s->r = 1.0;
	s->alpha = (sx > 0.0 && sT > 0.0) ? sT / sx : 1.0;
	if (!(s->alpha > 1e-6 && s->alpha < 1e6))
		s->alpha = 1.0;
	s->a = 1.0;
	s->b = 1.0;
}

BtydFitResult
bgnbd_fit(const BtydCell *cells, size_t n, double penalizer,
		  BgnbdParams *inout, btyd_interrupt_fn check)
{
	BtydFitResult out;
	BgnbdCtx	ctx;
	BgnbdParams start,
				def,
				est;
	MinResult	mr;
	double		theta[4] = {0.0, 0.0, 0.0, 0.0},
				maxT = 0.0;
	int			attempt;
	size_t		i;

	out.loglik = NAN;
	out.iterations = 0;
	out.converged = false;
	if (inout == NULL || (n > 0 && cells == NULL) || !isfinite(penalizer) || penalizer < 0.0)
		return out;
	if (bgnbd_cell_invalid(cells, n) != n)
		return out;

	ctx.cells = cells;
	ctx.n = n;
	ctx.penalizer = penalizer;
	ctx.wsum = 0.0;
	for (i = 0; i < n; i++)
	{
		ctx.wsum += cells[i].weight;
		if (cells[i].weight > 0.0 && cells[i].T > maxT)
			maxT = cells[i].T;
	}
	if (!(ctx.wsum > 0.0) || !(maxT > 0.0))
		return out;
	ctx.ascale = 10.0 / maxT;

	bgnbd_default_start(cells, n, &def);
	start = *inout;
	if (!(isfinite(start.r) && start.r > 0.0))
		start.r = def.r;
	if (!(isfinite(start.alpha) && start.alpha > 0.0))
		start.alpha = def.alpha;
	if (!(isfinite(start.a) && start.a > 0.0))
		start.a = def.a;
	if (!(isfinite(start.b) && start.b > 0.0))
		start.b = def.b;

	/* first from the caller's start, then (if that failed) from the default */
	mr.converged = false;
	mr.f = INFINITY;
	for (attempt = 0; attempt < 2; attempt++)
	{
		const BgnbdParams *sp = (attempt == 0) ? &start : &def;
		MinResult	m;
		double		th[4];

		if (attempt == 1 && memcmp(&start, &def, sizeof(def)) == 0)
			break;
		th[0] = log(sp->r);
		th[1] = log(sp->alpha);
		th[2] = log(sp->a);
		th[3] = log(sp->b);
		for (i = 0; i < 4; i++)
			th[i] = fmax(-THETA_MAX, fmin(THETA_MAX, th[i]));
		m = minimize(4, th, bgnbd_objective, &ctx, check);
		out.iterations += m.iterations;
		if (isfinite(m.f) && (attempt == 0 || m.f < mr.f))
		{
			mr = m;
			memcpy(theta, th, sizeof(theta));
		}
		if (mr.converged)
			break;
	}
	if (!isfinite(mr.f))
		return out;

	est.r = exp(theta[0]);
	est.alpha = exp(theta[1]);
	est.a = exp(theta[2]);
	est.b = exp(theta[3]);
	*inout = est;
	out.loglik = bgnbd_eval(&est, cells, n, NULL, NULL);
	out.converged = mr.converged;
	return out;
}

/* ------------------------------------------------------------------ */
/* Gamma-Gamma fit                                                      */
/* ------------------------------------------------------------------ */

typedef struct GgCtx
{
	const SpendCell *cells;
	size_t		n;
	double		wsum;
	double		penalizer;
} GgCtx;

static double
gg_objective(const double *theta, double *grad, void *vctx)
{
	const GgCtx *ctx = (const GgCtx *) vctx;
	GammaGammaParams g;
	double		gr[3],
				pv[3],
				ll;
	int			i;

	for (i = 0; i < 3; i++)
		if (!(fabs(theta[i]) <= THETA_MAX + 1.0))
			return NAN;
	g.p = exp(theta[0]);
	g.q = exp(theta[1]);
	g.gamma = exp(theta[2]);
	ll = gg_eval(&g, ctx->cells, ctx->n, gr, NULL);
	pv[0] = g.p;
	pv[1] = g.q;
	pv[2] = g.gamma;
	for (i = 0; i < 3; i++)
		grad[i] = -pv[i] * gr[i] / ctx->wsum + 2.0 * ctx->penalizer * pv[i] * pv[i];
	return -ll / ctx->wsum +
		ctx->penalizer * (g.p * g.p + g.q * g.q + g.gamma * g.gamma);
}

BtydFitResult
gamma_gamma_fit(const SpendCell *cells, size_t n, double penalizer,
				GammaGammaParams *inout, btyd_interrupt_fn check)
{
	BtydFitResult out;
	GgCtx		ctx;
	GammaGammaParams start,
				def,
				est;
	MinResult	mr;
	double		theta[3] = {0.0, 0.0, 0.0},
				sm = 0.0;
	int			attempt;
	size_t		i;

	out.loglik = NAN;
	out.iterations = 0;
	out.converged = false;
	if (inout == NULL || (n > 0 && cells == NULL) || !isfinite(penalizer) || penalizer < 0.0)
		return out;
	if (gg_cell_invalid(cells, n) != n)
		return out;

	ctx.cells = cells;
	ctx.n = n;
	ctx.penalizer = penalizer;
	ctx.wsum = 0.0;
	for (i = 0; i < n; i++)
	{
		ctx.wsum += cells[i].weight;
		sm += cells[i].weight * cells[i].m;
	}
	if (!(ctx.wsum > 0.0))
		return out;

	/* default: p = 1, q = 2, gamma so that the population mean p gamma/(q-1)
	 * is the sample mean of m */
	def.p = 1.0;
	def.q = 2.0;
	def.gamma = sm / ctx.wsum;
	start = *inout;
	if (!(isfinite(start.p) && start.p > 0.0))
		start.p = def.p;
	if (!(isfinite(start.q) && start.q > 0.0))
		start.q = def.q;
	if (!(isfinite(start.gamma) && start.gamma > 0.0))
		start.gamma = def.gamma;

	mr.converged = false;
	mr.f = INFINITY;
	for (attempt = 0; attempt < 2; attempt++)
	{
		const GammaGammaParams *sp = (attempt == 0) ? &start : &def;
		MinResult	m;
		double		th[3];

		if (attempt == 1 && memcmp(&start, &def, sizeof(def)) == 0)
			break;
		th[0] = log(sp->p);
		th[1] = log(sp->q);
		th[2] = log(sp->gamma);
		for (i = 0; i < 3; i++)
			th[i] = fmax(-THETA_MAX, fmin(THETA_MAX, th[i]));
		m = minimize(3, th, gg_objective, &ctx, check);
		out.iterations += m.iterations;
		if (isfinite(m.f) && (attempt == 0 || m.f < mr.f))
		{
			mr = m;
			memcpy(theta, th, sizeof(theta));
		}
		if (mr.converged)
			break;
	}
	if (!isfinite(mr.f))
		return out;

	est.p = exp(theta[0]);
	est.q = exp(theta[1]);
	est.gamma = exp(theta[2]);
	*inout = est;
	out.loglik = gg_eval(&est, cells, n, NULL, NULL);
	out.converged = mr.converged;
	return out;
}

/* ------------------------------------------------------------------ */
/* BG/NBD predictions                                                   */
/* ------------------------------------------------------------------ */

/*
 * ln of the odds "dropped out after the last purchase" : "alive" given the
 * history [FHL05a eq. 11 / lifetimes conditional_probability_alive]:
 *	 ln[a/(b+x-1)] + (r+x) ln[(alpha+T)/(alpha+t_x)], x > 0.
 */
static double
bgnbd_dead_logodds(const BgnbdParams *p, double x, double t_x, double T)
{
	return log(p->a / (p->b + x - 1.0)) +
		(p->r + x) * log1p((T - t_x) / (p->alpha + t_x));
}

double
bgnbd_p_alive(const BgnbdParams *p, double x, double t_x, double T)
{
	if (!bgnbd_params_ok(p) || !bgnbd_history_ok(x, t_x, T))
		return NAN;
	if (x == 0.0)
		return 1.0;
	return sigmoid(-bgnbd_dead_logodds(p, x, t_x, T));
}

/*
 * Expected purchases in the next t for a customer alive now, with purchase
 * rate posterior Gamma(k = r+x, alpha+T) and dropout posterior
 * Beta(a, beta = b+x):  N(t) = E[(1 - (1 + p u)^-k) / p],  u = t/(alpha+T)
 * (FHL05a: E[X(t)|lambda,p] = (1 - e^{-lambda p t})/p, integrated).  It is
 * the first factor of eq. 10 times the bracket:
 *	 N = C/(a-1) [1 - (1-z)^k 2F1(k, beta; C; z)],  C = a+b+x-1, z = u/(1+u).
 *
 * Two evaluations:
 *
 * (1) a positive series.  Writing 1 = (1-z)^k sum_n (k)_n z^n / n! and
 *	   (beta)_n/(C)_n = prod_j (1 - (a-1)/(C+j)) gives
 *		 N = sum_{n>=1} pi_n H_n,  pi_n = NB(n; k, z) = (1-z)^k (k)_n z^n/n!,
 *		 H_n = sum_{j<n} c_j,  c_0 = 1,  c_{j+1} = c_j (beta+j)/(C+j+1),
 *	   every term positive: no cancellation for any a (a = 1 included: no
 *	   division by a-1), any r, any C > -1.  Cost ~ the NB mean k u plus a
 *	   few standard deviations, plus 1/(1-z) for the geometric tail.
 *
 * (2) for long horizons (z -> 1, many terms) the Euler-transformed form
 *		 N = C/(a-1) [1 - (1-z)^(a-1) 2F1(a+b-1-r, a-1; C; z)]
 *	   with btyd_hyp2f1 (connection formula near z = 1).  Its 1/(a-1) loses
 *	   digits as a -> 1, so for |a-1| < 1e-4 it is evaluated at a = 1 +/- h,
 *	   1 +/- 2h and interpolated (N is analytic in a; error ~ h^4).
 */
static double
cond_nb_series(double k, double beta, double C, double z, double L, double maxn)
{
	double		pi = 1.0;		/* pi_n / pi_0, rescaled below */
	double		lscale = 0.0;
	double		H = 0.0,
				c = 1.0,
				sum = 0.0;
	double		nn;

	for (nn = 0.0; nn < maxn; nn += 1.0)
	{
		double		rho,
					tau;

		sum += pi * H;
		H += c;
		c *= (beta + nn) / (C + nn + 1.0);
		rho = (k + nn) * z / (nn + 1.0);
		pi *= rho;
		if (pi > 1e250)
		{
			pi *= 1e-250;
			sum *= 1e-250;
			lscale += 250.0 * LN10;
		}
		/*
		 * terms pi_n H_n shrink by at most tau = max(rho, z) (1 + 1/n) per
		 * step once rho < 1 (H_{n+1}/H_n <= 1 + 1/n since c_j decreases)
		 */
		tau = fmax(rho, z) * (1.0 + 1.0 / (nn + 1.0));
		if (nn > 0.0 && tau < 1.0 && pi * H * tau <= 1e-17 * (1.0 - tau) * sum)
			break;
	}
	return sum * exp(k * L + lscale);
}

static double
cond_hyp_one(double r, double a, double b, double x, double z, double L)
{
	double		eps = a - 1.0;
	double		C = a + b + x - 1.0;
	double		F = btyd_hyp2f1(a + b - 1.0 - r, eps, C, z);

	return C * (1.0 - exp(eps * L) * F) / eps;
}

static double
cond_hyp(double r, double a, double b, double x, double z, double L)
{
	const double h = 1e-4;

	if (fabs(a - 1.0) >= h)
		return cond_hyp_one(r, a, b, x, z, L);
	else
	{
		/* Lagrange interpolation in e = a - 1 through -2h, -h, h, 2h */
		static const double nodes[4] = {-2.0, -1.0, 1.0, 2.0};
		double		e = (a - 1.0) / h;
		double		res = 0.0;
		int			i,
					j;

		for (i = 0; i < 4; i++)
		{
			double		li = 1.0;

			for (j = 0; j < 4; j++)
				if (j != i)
					li *= (e - nodes[j]) / (nodes[i] - nodes[j]);
			res += li * cond_hyp_one(r, 1.0 + nodes[i] * h, b, x, z, L);
		}
		return res;
	}
}

/* N(t) above; u = t/(alpha+T) */
static double
bgnbd_cond_num(const BgnbdParams *p, double x, double u)
{
	double		k = p->r + x;
	double		beta = p->b + x;
	double		C = p->a + p->b + x - 1.0;
	double		z,
				L,
				nest,
				nmax,
				v;

	if (u == 0.0)
		return 0.0;
	if (isinf(u))
		return (p->a > 1.0) ? C / (p->a - 1.0) : INFINITY;
	z = u / (1.0 + u);
	L = -log1p(u);				/* ln(1-z) */
	/*
	 * Terms the positive series needs: NB mean + 10 sd + geometric tail.
	 * The 2F1 route costs about as much as 150 terms, but loses about
	 * log10(1/|a-1|) digits to its 1/(a-1), so near a = 1 the exact series
	 * is worth more terms.
	 */
	nest = k * u + 10.0 * sqrt(k * u * (1.0 + u)) + 40.0 * (1.0 + u) + 20.0;
	nmax = fmin(2e5, fmax(150.0, 5.0 / fabs(p->a - 1.0)));
	if (z <= 0.5 || nest <= nmax)
		return cond_nb_series(k, beta, C, z, L, 20.0 * nest + 1000.0);
	v = cond_hyp(p->r, p->a, p->b, x, z, L);
	if (!isfinite(v) || v < 0.0)
		v = cond_nb_series(k, beta, C, z, L, 1e8);
	return v;
}

double
bgnbd_expected_purchases(const BgnbdParams *p, double t, double x, double t_x, double T)
{
	double		num;

	if (!bgnbd_params_ok(p) || !bgnbd_history_ok(x, t_x, T) || isnan(t) || t < 0.0)
		return NAN;
	if (t == 0.0)
		return 0.0;
	num = bgnbd_cond_num(p, x, t / (p->alpha + T));
	/* [FHL05a eq. 10]: N(t) times the eq.-10 denominator's inverse, P(alive) */
	return num * bgnbd_p_alive(p, x, t_x, T);
}

double
bgnbd_expected_purchases_new(const BgnbdParams *p, double t)
{
	/* eq. 9 is eq. 10 at x = t_x = T = 0 (P(alive) = 1) */
	if (!bgnbd_params_ok(p) || isnan(t) || t < 0.0)
		return NAN;
	if (t == 0.0)
		return 0.0;
	return bgnbd_cond_num(p, 0.0, t / p->alpha);
}

/*
 * Regularised incomplete beta I_x(a, b), with y = 1 - x passed separately
 * (accurate when x is near 1).  Continued fraction (modified Lentz), used on
 * the side where it converges fast; the other side by symmetry.
 */
static double
betacf(double a, double b, double x)
{
	const double tiny = 1e-300;
	double		qab = a + b,
				qap = a + 1.0,
				qam = a - 1.0;
	double		c = 1.0,
				d = 1.0 - qab * x / qap,
				h;
	int			m;

	if (fabs(d) < tiny)
		d = tiny;
	d = 1.0 / d;
	h = d;
	for (m = 1; m < 100000; m++)
	{
		double		m2 = 2.0 * m,
					aa,
					del;

		aa = m * (b - m) * x / ((qam + m2) * (a + m2));
		d = 1.0 + aa * d;
		if (fabs(d) < tiny)
			d = tiny;
		c = 1.0 + aa / c;
		if (fabs(c) < tiny)
			c = tiny;
		d = 1.0 / d;
		h *= d * c;
		aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
		d = 1.0 + aa * d;
		if (fabs(d) < tiny)
			d = tiny;
		c = 1.0 + aa / c;
		if (fabs(c) < tiny)
			c = tiny;
		d = 1.0 / d;
		del = d * c;
		h *= del;
		if (fabs(del - 1.0) <= 1e-16)
			break;
	}
	return h;
}

static double
ibeta(double a, double b, double x, double y, double lx, double ly)
{
	double		lbeta,
				front;

	if (x <= 0.0)
		return 0.0;
	if (y <= 0.0)
		return 1.0;
	lbeta = btyd_lgamma(a) + btyd_lgamma(b) - btyd_lgamma(a + b);
	front = exp(a * lx + b * ly - lbeta);
	if (x < (a + 1.0) / (a + b + 2.0))
		return front * betacf(a, b, x) / a;
	return 1.0 - front * betacf(b, a, y) / b;
}

double
bgnbd_prob_purchases(const BgnbdParams *p, double t, int n)
{
	double		r,
				alpha,
				a,
				b,
				lq,
				lp,
				lbab,
				first,
				second = 0.0;

	if (!bgnbd_params_ok(p) || isnan(t) || t < 0.0)
		return NAN;
	if (n < 0)
		return 0.0;
	if (t == 0.0)
		return (n == 0) ? 1.0 : 0.0;
	r = p->r;
	alpha = p->alpha;
	a = p->a;
	b = p->b;
	lq = log(t) - log(alpha + t);	/* ln t/(alpha+t) */
	lp = -log1p(t / alpha);		/* ln alpha/(alpha+t) */
	lbab = btyd_lgamma(a) + btyd_lgamma(b) - btyd_lgamma(a + b);

	/*
	 * [FHL05a eq. 8]: B(a,b+n)/B(a,b) NB(n; r, alpha/(alpha+t))
	 *	 + [n>0] B(a+1,b+n-1)/B(a,b) (1 - sum_{j<n} NB(j; ...)),
	 * and 1 - sum_{j<n} NB(j) = P(NB >= n) = I_q(n, r), q = t/(alpha+t),
	 * computed directly so that a small tail keeps its digits.
	 */
	first = exp(btyd_lgamma(a) + btyd_lgamma(b + n) - btyd_lgamma(a + b + n) - lbab +
				btyd_lnpoch(r, n) - btyd_lgamma(n + 1.0) + r * lp + n * lq);
	if (n > 0)
	{
		double		q = t / (alpha + t),
					y = alpha / (alpha + t);

		second = exp(btyd_lgamma(a + 1.0) + btyd_lgamma(b + n - 1.0) -
					 btyd_lgamma(a + b + n) - lbab) *
			ibeta((double) n, r, q, y, lq, lp);
	}
	return first + second;
}

/* ------------------------------------------------------------------ */
/* Gamma-Gamma prediction and CLV                                       */
/* ------------------------------------------------------------------ */

double
gg_expected_avg_spend(const GammaGammaParams *g, double x, double m)
{
	double		den;

	if (!gg_params_ok(g) || !isfinite(x) || !isfinite(m) || x < 0.0 || (x > 0.0 && m < 0.0))
		return NAN;
	/*
	 * [FHL05b eq. 5]: E(M|x,m) = (q-1)/(px+q-1) * gamma p/(q-1)
	 *						  + px/(px+q-1) * m = p(gamma + m x)/(px+q-1),
	 * the credibility-weighted mix of population mean and own mean.
	 */
	den = g->p * x + g->q - 1.0;
	if (!(den > 0.0))
		return NAN;
	return g->p * (g->gamma + (x > 0.0 ? m * x : 0.0)) / den;
}

double
btyd_clv_discounted(const BgnbdParams *p, const GammaGammaParams *g,
					double x, double t_x, double T, double m,
					int months, double monthly_discount_rate,
					double days_per_unit)
{
	double		spend,
				alive,
				month,
				prev = 0.0,
				total = 0.0;
	int			i;

	if (!bgnbd_params_ok(p) || !bgnbd_history_ok(x, t_x, T) ||
		!isfinite(monthly_discount_rate) || monthly_discount_rate <= -1.0 ||
		!isfinite(days_per_unit) || days_per_unit <= 0.0 || months < 0)
		return NAN;
	spend = gg_expected_avg_spend(g, x, m);
	if (isnan(spend))
		return NAN;
	alive = bgnbd_p_alive(p, x, t_x, T);
	month = 30.0 / days_per_unit;	/* one 30-day month in model time units */
	for (i = 1; i <= months; i++)
	{
		double		e = alive * bgnbd_cond_num(p, x, (i * month) / (p->alpha + T));

		/* purchases expected in month i, discounted to today */
		total += (e - prev) / pow(1.0 + monthly_discount_rate, (double) i);
		prev = e;
	}
	return total * spend;
}
