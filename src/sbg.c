/* sbg.c - the shifted-beta-geometric model of contractual retention in pure C:
 * likelihood, maximum-likelihood fit, projections and DERL. */

/*
 * No PostgreSQL headers (glue: src/sbg_sql.c).  Nothing here allocates or
 * keeps state between calls.  See sbg.h for the model and [FH07] / [FH10]
 * for the papers cited below.
 */

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "sbg.h"
#include "numerics.h"

static bool
sbg_params_ok(const SbgParams *p)
{
	return p != NULL && isfinite(p->alpha) && p->alpha > 0.0 &&
		isfinite(p->beta) && p->beta > 0.0;
}

static bool
sbg_cell_ok(const SbgCell *c)
{
	return isfinite(c->t) && c->t == floor(c->t) &&
		(c->active == 0.0 || c->active == 1.0) &&
		c->t >= (c->active == 0.0 ? 1.0 : 0.0) &&
		isfinite(c->weight) && c->weight >= 0.0;
}

size_t
sbg_cell_invalid(const SbgCell *cells, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i++)
		if (!sbg_cell_ok(&cells[i]))
			return i;
	return n;
}

size_t
sbg_cells_from_survivors(const double *survivors, size_t k1, SbgCell *cells)
{
	size_t		m = 0,
				t;

	if (k1 == 0 || survivors == NULL || cells == NULL)
		return (size_t) -1;
	for (t = 0; t < k1; t++)
		if (!isfinite(survivors[t]) || survivors[t] < 0.0 ||
			(t > 0 && survivors[t] > survivors[t - 1]))
			return (size_t) -1;
	for (t = 1; t < k1; t++)
	{
		double		churned = survivors[t - 1] - survivors[t];

		if (churned > 0.0)
		{
			cells[m].t = (double) t;
			cells[m].active = 0.0;
			cells[m++].weight = churned;
		}
	}
	if (survivors[k1 - 1] > 0.0)
	{
		cells[m].t = (double) (k1 - 1);
		cells[m].active = 1.0;
		cells[m++].weight = survivors[k1 - 1];
	}
	return m;
}


/*
 * Per cell, in logs [FH07 eqs. 1-2]:
 *	 churned in t:	 ln alpha + ln (beta)_{t-1} - ln (alpha+beta)_t
 *	 active after t: ln (beta)_t - ln (alpha+beta)_t
 * with (x)_k the rising factorial, accurate for large alpha, beta and t
 * (btyd_lnpoch), and derivatives from psi(x+k) - psi(x) (btyd_digamma_diff).
 * Terms that depend on t alone are recomputed only when t changes.
 */
static double
sbg_eval(const SbgParams *p, const SbgCell *cells, size_t n, double *grad, double *absll)
{
	const double a = p->alpha,
				b = p->beta,
				ab = a + b,
				la = log(a);
	double		pt = -1.0,
				lab = 0.0,
				dab = 0.0;
	double		g_a = 0.0,
				g_b = 0.0,
				absacc = 0.0;
	KSum		ll = {0.0, 0.0};
	size_t		i;

	for (i = 0; i < n; i++)
	{
		const double t = cells[i].t,
					w = cells[i].weight;
		double		li;

		if (!sbg_cell_ok(&cells[i]))
			return NAN;
		if (w == 0.0)
			continue;
		if (t != pt)
		{
			pt = t;
			lab = btyd_lnpoch(ab, t);
			dab = grad ? btyd_digamma_diff(ab, t) : 0.0;
		}
		if (cells[i].active == 0.0)
		{
			li = la + btyd_lnpoch(b, t - 1.0) - lab;
			if (grad)
			{
				g_a += w * (1.0 / a - dab);
				g_b += w * (btyd_digamma_diff(b, t - 1.0) - dab);
			}
		}
		else
		{
			li = btyd_lnpoch(b, t) - lab;
			if (grad)
			{
				g_a -= w * dab;
				g_b += w * (btyd_digamma_diff(b, t) - dab);
			}
		}
		ksum_add(&ll, w * li);
		absacc += w * fabs(li);
	}
	if (grad)
	{
		grad[0] = g_a;
		grad[1] = g_b;
	}
	if (absll)
		*absll = absacc;
	return ll.s + ll.c;
}

double
sbg_loglik(const SbgParams *p, const SbgCell *cells, size_t n, double *grad)
{
	if (!sbg_params_ok(p) || (n > 0 && cells == NULL))
		return NAN;
	return sbg_eval(p, cells, n, grad, NULL);
}

/* ------------------------------------------------------------------ */
/* fit                                                                  */
/* ------------------------------------------------------------------ */

typedef struct SbgCtx
{
	const SbgCell *cells;
	size_t		n;
	double		wsum;
	double		penalizer;
	double		noise;
} SbgCtx;

static double
sbg_objective(const double *theta, double *grad, void *vctx)
{
	SbgCtx	   *ctx = (SbgCtx *) vctx;
	SbgParams	p;
	double		g[2],
				pv[2],
				ll,
				absll = 0.0;
	int			i;

	for (i = 0; i < 2; i++)
		if (!(fabs(theta[i]) <= OPT_THETA_MAX + 1.0))
			return NAN;
	p.alpha = pv[0] = exp(theta[0]);
	p.beta = pv[1] = exp(theta[1]);
	ll = sbg_eval(&p, ctx->cells, ctx->n, g, &absll);
	ctx->noise = absll / ctx->wsum;
	for (i = 0; i < 2; i++)
		grad[i] = -pv[i] * g[i] / ctx->wsum;
	if (ctx->penalizer == 0.0)
		return -ll / ctx->wsum;
	for (i = 0; i < 2; i++)
		grad[i] += 2.0 * ctx->penalizer * pv[i] * pv[i];
	return -ll / ctx->wsum + ctx->penalizer * (pv[0] * pv[0] + pv[1] * pv[1]);
}

BtydFitResult
sbg_fit(const SbgCell *cells, size_t n, double penalizer,
		SbgParams *inout, btyd_interrupt_fn check)
{
	BtydFitResult out;
	SbgCtx		ctx;
	OptResult	mr;
	double		starts[OPT_MAX_STARTS][OPT_MAXDIM];
	double		theta[OPT_MAXDIM] = {0.0, 0.0, 0.0, 0.0};
	double		def[OPT_MAXDIM] = {0.0, 0.0, 0.0, 0.0},
				usr[OPT_MAXDIM] = {0.0, 0.0, 0.0, 0.0},
				first = 0.0,
				at_risk = 0.0,
				churned = 0.0;
	bool		se_ok;
	int			nstarts = 0;
	size_t		k;

	btyd_fit_result_init(&out);
	memset(starts, 0, sizeof(starts));
	if (inout == NULL || (n > 0 && cells == NULL) || !isfinite(penalizer) || penalizer < 0.0)
		return out;
	if (sbg_cell_invalid(cells, n) != n)
		return out;

	ctx.cells = cells;
	ctx.n = n;
	ctx.penalizer = penalizer;
	ctx.wsum = 0.0;
	ctx.noise = 1.0;
	for (k = 0; k < n; k++)
	{
		const SbgCell *c = &cells[k];

		ctx.wsum += c->weight;
		/* churn in period 1 over those at risk of it: a start for E[theta] */
		if (c->active == 0.0 && c->t == 1.0)
			first += c->weight;
		if (c->active == 0.0)
			churned += c->weight;
		if (c->t >= 1.0)
			at_risk += c->weight;
	}
	if (!(ctx.wsum > 0.0) || !isfinite(ctx.wsum))
		return out;

	/*
	 * Default start: alpha = 1 and beta matching the first period's churn
	 * rate, E[theta] = alpha/(alpha+beta).
	 */
	if (first > 0.0 && first < at_risk)
		def[1] = log((at_risk - first) / first);
	if (!(fabs(def[1]) < 10.0))
		def[1] = 0.0;
	usr[0] = (isfinite(inout->alpha) && inout->alpha > 0.0) ? log(inout->alpha) : def[0];
	usr[1] = (isfinite(inout->beta) && inout->beta > 0.0) ? log(inout->beta) : def[1];
	memcpy(starts[nstarts++], usr, sizeof(usr));
	if (memcmp(usr, def, sizeof(def)) != 0)
		memcpy(starts[nstarts++], def, sizeof(def));
	/* much heterogeneity (U-shaped Beta), little (concentrated), same mean */
	starts[nstarts][0] = log(0.2);
	starts[nstarts++][1] = def[1] + log(0.2);
	starts[nstarts][0] = log(20.0);
	starts[nstarts++][1] = def[1] + log(20.0);

	mr = opt_multistart(2, starts, nstarts, sbg_objective, &ctx, &ctx.noise, check, theta);
	out.iterations = mr.iterations;
	if (!isfinite(mr.f))
		return out;
	ctx.penalizer = 0.0;
	se_ok = opt_log_std_errors(2, sbg_objective, &ctx, theta, ctx.wsum, out.se);
	inout->alpha = exp(theta[0]);
	inout->beta = exp(theta[1]);
	out.se[0] *= inout->alpha;
	out.se[1] *= inout->beta;
	out.loglik = sbg_eval(inout, cells, n, NULL, NULL);

	/*
	 * Nobody churned: the likelihood rises towards alpha -> 0 however flat
	 * its slope has become; no positive definite information: a ridge (one
	 * period of data pins down only alpha/(alpha+beta)).  Both are edges,
	 * whatever the gradient test said.
	 */
	out.converged = mr.converged && churned > 0.0 && se_ok;
	return out;
}

/* ------------------------------------------------------------------ */
/* projections                                                          */
/* ------------------------------------------------------------------ */

double
sbg_survival(const SbgParams *p, double t)
{
	if (!sbg_params_ok(p) || isnan(t) || t < 0.0)
		return NAN;
	if (isinf(t))
		return 0.0;
	return exp(btyd_lnpoch(p->beta, t) - btyd_lnpoch(p->alpha + p->beta, t));
}

double
sbg_retention(const SbgParams *p, double t)
{
	double		num;

	if (!sbg_params_ok(p) || !isfinite(t) || t < 1.0)
		return NAN;
	/* (beta + t - 1)/(alpha + beta + t - 1) = 1/(1 + alpha/(beta + t - 1)) */
	num = p->beta + (t - 1.0);
	return 1.0 / (1.0 + p->alpha / num);
}

double
sbg_churn_probability(const SbgParams *p, double t)
{
	if (!sbg_params_ok(p) || isnan(t))
		return NAN;
	if (t < 1.0)
		return 0.0;
	if (isinf(t))
		return 0.0;
	if (t != floor(t))
		return NAN;
	return exp(log(p->alpha) + btyd_lnpoch(p->beta, t - 1.0) -
			   btyd_lnpoch(p->alpha + p->beta, t));
}

double
sbg_expected_lifetime(const SbgParams *p)
{
	if (!sbg_params_ok(p))
		return NAN;
	if (p->alpha <= 1.0)
		return INFINITY;
	/* 1 + beta/(alpha - 1) */
	return 1.0 + p->beta / (p->alpha - 1.0);
}

/* terms of the DERL series, most; beyond this the continued fraction */
#define DERL_SERIES_MAX 200000
/* iterations of the continued fraction */
#define DERL_CF_MAX 20000000

/*
 * sum_{k >= 0} u_k, u_0 = b/(a+b), u_{k+1} = u_k z (b+1+k)/(a+b+1+k), with
 * b = beta + n and z = 1/(1+d): u_k = S(n+k+1)/S(n) z^k, every term positive
 * and below the previous one by a factor < z, so the tail after u_k is at
 * most u_k z/(1-z) = u_k/d.  NaN when that bound does not fall below the
 * rounding of the sum within DERL_SERIES_MAX terms.
 */
static double
derl_series(double a, double b, double d)
{
	const double z = 1.0 / (1.0 + d);
	double		u = 1.0 / (1.0 + a / b),
				sum = 0.0;
	KSum		acc = {0.0, 0.0};
	long		k;

	for (k = 0; k < DERL_SERIES_MAX; k++)
	{
		ksum_add(&acc, u);
		sum = acc.s + acc.c;
		if (u / d <= 1e-17 * sum)
			return sum;
		u *= z * (b + 1.0 + k) / (a + b + 1.0 + k);
		if (u == 0.0)
			return sum;
	}
	return NAN;
}

/*
 * The same sum as (b/(a+b)) 2F1(1, b+1; a+b+1; z) with Gauss's continued
 * fraction for 2F1(1, B; c+1; z) / 2F1(0, B; c; z) (c = a+b, B = b+1):
 *	 1 / (1 + k1 z / (1 + k2 z / (1 + ...))),
 *	 k_{2i+1} = -(c+i)(B+i) / ((c+2i)(c+2i+1)),
 *	 k_{2i}	  = (B-c-i) i / ((c+2i-1)(c+2i)) = -(a-1+i) i / (...),
 * all negative, |k| -> 1/4: it converges for z < 1 in about
 * ln(1/eps) / (2 sqrt(1-z)) steps where the series needs ln(1/eps)/(1-z).
 * Evaluated by the modified Lentz method.
 */
static double
derl_cf(double a, double b, double d)
{
	const double z = 1.0 / (1.0 + d);
	const double c = a + b,
				B = b + 1.0;
	const double tiny = 1e-300;
	double		f = 1.0,		/* b_0 = 1 of the inner fraction 1 + k1 z/(1 + ...) */
				C = 1.0,
				D = 0.0;
	long		j;

	for (j = 1; j <= DERL_CF_MAX; j++)
	{
		double		i = (double) (j / 2),
					kz,
					delta;

		if (j % 2 == 1)
			kz = -((c + i) / (c + 2.0 * i)) * ((B + i) / (c + 2.0 * i + 1.0)) * z;
		else
			kz = -((a - 1.0 + i) / (c + 2.0 * i - 1.0)) * (i / (c + 2.0 * i)) * z;
		D = 1.0 + kz * D;
		if (fabs(D) < tiny)
			D = tiny;
		C = 1.0 + kz / C;
		if (fabs(C) < tiny)
			C = tiny;
		D = 1.0 / D;
		delta = C * D;
		f *= delta;
		if (fabs(delta - 1.0) <= 1e-16)
			return (1.0 / (1.0 + a / b)) / f;
	}
	return NAN;
}

double
sbg_derl(const SbgParams *p, double d, double n)
{
	double		b,
				v;

	if (!sbg_params_ok(p) || isnan(d) || d < 0.0 || isnan(n) || n < 0.0 || isinf(n))
		return NAN;
	b = p->beta + n;
	if (d == 0.0)
		return p->alpha > 1.0 ? b / (p->alpha - 1.0) : INFINITY;
	if (isinf(d))
		return 1.0 / (1.0 + p->alpha / b);	/* only the next, undiscounted */
	/* the series when it surely ends within its bound (d >= ~2e-4) */
	if (d * DERL_SERIES_MAX >= 45.0)
	{
		v = derl_series(p->alpha, b, d);
		if (isfinite(v))
			return v;
	}
	return derl_cf(p->alpha, b, d);
}
