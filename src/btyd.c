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
#include <stdint.h>
#include <string.h>

#include "btyd.h"
#include "numerics.h"
#include "quadrature.h"

#define LN10			2.30258509299404568402

/* ------------------------------------------------------------------ */
/* small helpers                                                        */
/* ------------------------------------------------------------------ */

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

void
btyd_fit_result_init(BtydFitResult *out)
{
	memset(out, 0, sizeof(*out));
	out->loglik = NAN;
	for (int i = 0; i < OPT_MAXDIM; i++)
	{
		out->se[i] = NAN;
		for (int j = 0; j < OPT_MAXDIM; j++)
			out->log_cov[i][j] = NAN;
	}
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
 * (so P(alive) = 1 - omega).  Terms that depend on x only are
 * recomputed only when x changes from one cell to the next.
 *
 * Returns sum w*LL; grad (if not NULL) gets d/d(r, alpha, a, b) of it.
 * *absll (if not NULL) gets sum w*|LL|, the scale of the rounding noise in
 * the total.  NaN if a cell is invalid.
 */
static double
bgnbd_eval(const BgnbdParams *p, const BtydCell *cells, size_t n,
		   double *grad, double *absll)
{
	const double r = p->r,
				alpha = p->alpha,
				a = p->a,
				b = p->b;
	const double la = log(a);
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
	double		absacc = 0.0;
	size_t		i;

	/*
	 * ln(1 + T/alpha) and ln(alpha + T) depend on T alone, and there are few
	 * distinct T (days or weeks of age) against many (x, t_x, T) cells: a
	 * small direct-mapped cache on T gives the same bits for a fraction of
	 * the log calls.
	 */
#define T_MEMO_SIZE 2048
	struct
	{
		double		T;
		double		l1T;
		double		lT;
	}			tmemo[T_MEMO_SIZE];

	for (i = 0; i < T_MEMO_SIZE; i++)
		tmemo[i].T = -1.0;		/* no valid T is negative */

	for (i = 0; i < n; i++)
	{
		const double x = cells[i].x,
					t_x = cells[i].t_x,
					T = cells[i].T,
					w = cells[i].weight;
		double		l1T,
					lT,
					li;
		uint64_t	tbits;
		size_t		slot;

		if (!bgnbd_history_ok(x, t_x, T) || !(w >= 0.0) || !isfinite(w))
			return NAN;
		if (w == 0.0)
			continue;

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
					gr_x = btyd_digamma_diff(r, x);
					ga_x = -btyd_digamma_diff(a + b, x);
					gb_x = btyd_digamma_diff(b, x) + ga_x;
				}
			}
			else
				cx = gr_x = ga_x = gb_x = 0.0;
		}

		/* r ln alpha - (r+x) ln(alpha+T) = -r ln(1+T/alpha) - x ln(alpha+T) */
		memcpy(&tbits, &T, sizeof(tbits));
		slot = (size_t) ((tbits * UINT64_C(0x9E3779B97F4A7C15)) >> 53) & (T_MEMO_SIZE - 1);
		if (tmemo[slot].T != T)
		{
			tmemo[slot].T = T;
			tmemo[slot].l1T = log1p(T / alpha);
			tmemo[slot].lT = log(alpha + T);
		}
		l1T = tmemo[slot].l1T;
		lT = tmemo[slot].lT;
		if (x > 0.0)
		{
			/* ln((alpha+T)/(alpha+t_x)) */
			double		lrat = log1p((T - t_x) / (alpha + t_x));
			double		v = lab_x + (r + x) * lrat;
			/* softplus(v) = ln(1 + e^v) and sigmoid(v) share exp(-|v|) */
			double		e = exp(-fabs(v));

			li = cx - r * l1T - x * lT + ((v > 0.0) ? v + log1p(e) : log1p(e));
			if (grad)
			{
				double		om = (v >= 0.0) ? 1.0 / (1.0 + e) : e / (1.0 + e);

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
		absacc += w * fabs(li);
	}
	if (grad)
	{
		grad[0] = g_r;
		grad[1] = g_al;
		grad[2] = g_a;
		grad[3] = g_b;
	}
	if (absll)
		*absll = absacc;
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
		double *grad, double *absll)
{
	const double p = g->p,
				q = g->q,
				gam = g->gamma;
	const double lgq = btyd_lgamma(q);
	const double psi_q = grad ? btyd_digamma(q) : 0.0;
	double		px = -1.0;
	double		pxv = 0.0,
				cx = 0.0,
				dpsi = 0.0,
				psi_pxq = 0.0;
	double		g_p = 0.0,
				g_q = 0.0,
				g_g = 0.0;
	KSum		ll = {0.0, 0.0};
	double		absacc = 0.0;
	size_t		i;

	for (i = 0; i < n; i++)
	{
		const double x = cells[i].x,
					m = cells[i].m,
					w = cells[i].weight;
		double		l1u,
					lgr,
					li,
					mx,
					sg;

		if (!isfinite(x) || !isfinite(m) || !isfinite(w) || x <= 0.0 || m <= 0.0 || w < 0.0)
			return NAN;
		if (w == 0.0)
			continue;
		if (x != px)
		{
			px = x;
			pxv = p * x;
			cx = btyd_lnpoch(pxv, q) - lgq;
			if (grad)
			{
				psi_pxq = btyd_digamma(pxv + q);
				dpsi = btyd_digamma_diff(pxv, q);
			}
		}
		/*
		 * Regrouped so that no O(p x ln x) terms cancel (x can be in the
		 * thousands): (px-1) ln m + px ln x + q ln gamma - (px+q) ln(gamma+mx)
		 *	 = -ln m - px ln(1 + gamma/(mx)) + q ln(gamma/(gamma+mx)).
		 */
		mx = m * x;
		if (isfinite(mx) && mx >= DBL_MIN && isfinite(gam / mx))
		{
			l1u = log1p(gam / mx);
			lgr = -log1p(mx / gam);
			/* gamma / (gamma + m x) */
			sg = 1.0 / (1.0 + mx / gam);
		}
		else
		{
			/* m x beyond or below float8 (m up to 1e308, x up to 2^31): in logs */
			double		lr = log(gam) - log(m) - log(x);	/* ln(gamma/(m x)) */

			l1u = softplus(lr);
			lgr = -softplus(-lr);
			sg = sigmoid(lr);
		}
		li = cx - log(m) - pxv * l1u + q * lgr;
		ksum_add(&ll, w * li);
		absacc += w * fabs(li);
		if (grad)
		{
			g_p += w * x * (dpsi - l1u);
			g_q += w * (psi_pxq - psi_q + lgr);
			/* q/gamma - (px+q)/(gamma+mx) = (q - (px+q) sg) / gamma */
			g_g += w * (q - (pxv + q) * sg) / gam;
		}
	}
	if (grad)
	{
		grad[0] = g_p;
		grad[1] = g_q;
		grad[2] = g_g;
	}
	if (absll)
		*absll = absacc;
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

/* ------------------------------------------------------------------ */
/* BG/NBD fit                                                           */
/* ------------------------------------------------------------------ */

/*
 * The optimiser works on theta = ln(r, alpha*s, a, b), s = 10/max(T): the
 * time axis rescaled as lifetimes does, so that theta is unit-free (the
 * same starts and edge test whatever the time unit) and the penalty is
 * lifetimes' penalizer * sum(params^2) with alpha on that scale.
 */
typedef struct BgnbdCtx
{
	bgnbd_eval_fn eval;			/* BG/NBD's or MBG/NBD's likelihood */
	const BtydCell *cells;
	size_t		n;
	double		wsum;
	double		penalizer;
	double		ascale;			/* s = 10 / max(T) */
	double		noise;			/* mean |LL| of the last evaluation */
} BgnbdCtx;

static double
bgnbd_objective(const double *theta, double *grad, void *vctx)
{
	BgnbdCtx   *ctx = (BgnbdCtx *) vctx;
	BgnbdParams p;
	double		g[4],
				pv[4],
				ll,
				absll = 0.0;
	int			i;

	for (i = 0; i < 4; i++)
		if (!(fabs(theta[i]) <= OPT_THETA_MAX + 1.0))
			return NAN;
	pv[0] = exp(theta[0]);
	pv[1] = exp(theta[1]);		/* alpha * s */
	pv[2] = exp(theta[2]);
	pv[3] = exp(theta[3]);
	p.r = pv[0];
	p.alpha = pv[1] / ctx->ascale;
	p.a = pv[2];
	p.b = pv[3];
	ll = ctx->eval(&p, ctx->cells, ctx->n, g, &absll);
	ctx->noise = absll / ctx->wsum;
	/* d/dtheta_i = param_i d/dparam_i; for alpha*s that is alpha d/dalpha */
	g[1] *= p.alpha / pv[1];
	for (i = 0; i < 4; i++)
		grad[i] = -pv[i] * g[i] / ctx->wsum + 2.0 * ctx->penalizer * pv[i] * pv[i];
	return -ll / ctx->wsum +
		ctx->penalizer * (pv[0] * pv[0] + pv[1] * pv[1] + pv[2] * pv[2] + pv[3] * pv[3]);
}

BtydFitResult
bgnbd_fit(const BtydCell *cells, size_t n, double penalizer,
		  BgnbdParams *inout, btyd_interrupt_fn check)
{
	return bgnbd_family_fit(bgnbd_eval, cells, n, penalizer, inout, check);
}

BtydFitResult
bgnbd_family_fit(bgnbd_eval_fn eval, const BtydCell *cells, size_t n, double penalizer,
				 BgnbdParams *inout, btyd_interrupt_fn check)
{
	BtydFitResult out;
	BgnbdCtx	ctx;
	OptResult	mr;
	double		starts[OPT_MAX_STARTS][OPT_MAXDIM];
	double		theta[OPT_MAXDIM] = {0.0, 0.0, 0.0, 0.0};
	double		def[4],
				usr[4],
				maxT = 0.0,
				sx = 0.0,
				sT = 0.0;
	int			nstarts = 0,
				i;
	size_t		k;

	btyd_fit_result_init(&out);
	if (inout == NULL || (n > 0 && cells == NULL) || !isfinite(penalizer) || penalizer < 0.0)
		return out;
	if (bgnbd_cell_invalid(cells, n) != n)
		return out;

	ctx.eval = eval;
	ctx.cells = cells;
	ctx.n = n;
	ctx.penalizer = penalizer;
	ctx.wsum = 0.0;
	ctx.noise = 1.0;
	for (k = 0; k < n; k++)
	{
		const double w = cells[k].weight;

		ctx.wsum += w;
		sx += w * cells[k].x;
		sT += w * cells[k].T;
		if (w > 0.0 && cells[k].T > maxT)
			maxT = cells[k].T;
	}
	if (!(ctx.wsum > 0.0) || !(maxT > 0.0))
		return out;
	ctx.ascale = 10.0 / maxT;

	/*
	 * Default start: r = 1 and alpha matching the mean purchase rate r/alpha
	 * to purchases per unit time; a = b = 1 (mean dropout 1/2, flat).
	 */
	def[0] = 0.0;
	def[1] = (sx > 0.0 && sT > 0.0) ? log(ctx.ascale * sT / sx) : 0.0;
	if (!(fabs(def[1]) < 10.0))
		def[1] = 0.0;
	def[2] = def[3] = 0.0;
	usr[0] = (isfinite(inout->r) && inout->r > 0.0) ? log(inout->r) : def[0];
	usr[1] = (isfinite(inout->alpha) && inout->alpha > 0.0) ? log(inout->alpha * ctx.ascale) : def[1];
	usr[2] = (isfinite(inout->a) && inout->a > 0.0) ? log(inout->a) : def[2];
	usr[3] = (isfinite(inout->b) && inout->b > 0.0) ? log(inout->b) : def[3];

	memcpy(starts[nstarts++], usr, sizeof(usr));
	if (memcmp(usr, def, sizeof(def)) != 0)
		memcpy(starts[nstarts++], def, sizeof(def));
	/* the two other dropout regimes: a < b (rare dropout), a > b (frequent) */
	memcpy(starts[nstarts], def, sizeof(def));
	starts[nstarts][2] = log(0.3);
	starts[nstarts++][3] = log(3.0);
	memcpy(starts[nstarts], def, sizeof(def));
	starts[nstarts][2] = log(3.0);
	starts[nstarts++][3] = log(0.3);
	/* and a, b both small: a two-point dropout mixture */
	memcpy(starts[nstarts], def, sizeof(def));
	starts[nstarts][2] = log(0.1);
	starts[nstarts++][3] = log(0.1);

	mr = opt_multistart(4, starts, nstarts, bgnbd_objective, &ctx, &ctx.noise, check, theta);
	out.iterations = mr.iterations;
	if (!isfinite(mr.f))
		return out;
	ctx.penalizer = 0.0;
	if (opt_log_covariance(4, bgnbd_objective, &ctx, theta, ctx.wsum, out.log_cov))
		for (i = 0; i < 4; i++)
			out.se[i] = sqrt(out.log_cov[i][i]);
	for (i = 0; i < 4; i++)
		theta[i] = exp(theta[i]);
	inout->r = theta[0];
	inout->alpha = theta[1] / ctx.ascale;
	inout->a = theta[2];
	inout->b = theta[3];
	out.se[0] *= inout->r;
	out.se[1] *= inout->alpha;
	out.se[2] *= inout->a;
	out.se[3] *= inout->b;
	out.loglik = eval(inout, cells, n, NULL, NULL);
	out.converged = mr.converged;
	return out;
}

/* ------------------------------------------------------------------ */
/* Gamma-Gamma fit                                                      */
/* ------------------------------------------------------------------ */

/*
 * theta = ln(p, q, gamma/mean(m)): gamma is measured against the mean spend
 * so that starts and the edge test do not depend on the currency; the
 * penalty stays lifetimes' penalizer * (p^2 + q^2 + gamma^2) in the
 * caller's currency.
 */
typedef struct GgCtx
{
	const SpendCell *cells;
	size_t		n;
	double		wsum;
	double		penalizer;
	double		mscale;			/* mean m */
	double		noise;
} GgCtx;

static double
gg_objective(const double *theta, double *grad, void *vctx)
{
	GgCtx	   *ctx = (GgCtx *) vctx;
	GammaGammaParams g;
	double		gr[3],
				pv[3],
				ll,
				absll = 0.0;
	int			i;

	for (i = 0; i < 3; i++)
		if (!(fabs(theta[i]) <= OPT_THETA_MAX + 1.0))
			return NAN;
	g.p = pv[0] = exp(theta[0]);
	g.q = pv[1] = exp(theta[1]);
	g.gamma = pv[2] = exp(theta[2]) * ctx->mscale;
	ll = gg_eval(&g, ctx->cells, ctx->n, gr, &absll);
	ctx->noise = absll / ctx->wsum;
	for (i = 0; i < 3; i++)
		grad[i] = -pv[i] * gr[i] / ctx->wsum;
	if (ctx->penalizer == 0.0)
		return -ll / ctx->wsum;	/* (0 * gamma^2 would be NaN for gamma ~ 1e308) */
	for (i = 0; i < 3; i++)
		grad[i] += 2.0 * ctx->penalizer * pv[i] * pv[i];
	return -ll / ctx->wsum +
		ctx->penalizer * (g.p * g.p + g.q * g.q + g.gamma * g.gamma);
}

BtydFitResult
gamma_gamma_fit(const SpendCell *cells, size_t n, double penalizer,
				GammaGammaParams *inout, btyd_interrupt_fn check)
{
	BtydFitResult out;
	GgCtx		ctx;
	OptResult	mr;
	double		starts[OPT_MAX_STARTS][OPT_MAXDIM];
	double		theta[OPT_MAXDIM] = {0.0, 0.0, 0.0, 0.0};
	double		def[OPT_MAXDIM] = {0.0, 0.0, 0.0, 0.0},
				usr[OPT_MAXDIM] = {0.0, 0.0, 0.0, 0.0},
				sm = 0.0,
				lm;
	int			nstarts = 0;
	size_t		k;

	btyd_fit_result_init(&out);
	if (inout == NULL || (n > 0 && cells == NULL) || !isfinite(penalizer) || penalizer < 0.0)
		return out;
	if (gg_cell_invalid(cells, n) != n)
		return out;

	ctx.cells = cells;
	ctx.n = n;
	ctx.penalizer = penalizer;
	ctx.wsum = 0.0;
	ctx.noise = 1.0;
	for (k = 0; k < n; k++)
		ctx.wsum += cells[k].weight;
	if (!(ctx.wsum > 0.0))
		return out;
	/* mean m, summed as a weighted mean so that spends near 1e308 do not overflow */
	for (k = 0; k < n; k++)
		sm += (cells[k].weight / ctx.wsum) * cells[k].m;
	ctx.mscale = sm;
	if (!(ctx.mscale > 0.0) || !isfinite(ctx.mscale))
		return out;
	lm = log(ctx.mscale);

	/*
	 * Default start p = 1, q = 2, gamma = mean(m): population mean spend
	 * p gamma/(q-1) equal to the sample mean.
	 */
	def[0] = 0.0;
	def[1] = log(2.0);
	def[2] = 0.0;
	usr[0] = (isfinite(inout->p) && inout->p > 0.0) ? log(inout->p) : def[0];
	usr[1] = (isfinite(inout->q) && inout->q > 0.0) ? log(inout->q) : def[1];
	usr[2] = (isfinite(inout->gamma) && inout->gamma > 0.0) ? log(inout->gamma) - lm : def[2];
	memcpy(starts[nstarts++], usr, sizeof(usr));
	if (memcmp(usr, def, sizeof(def)) != 0)
		memcpy(starts[nstarts++], def, sizeof(def));
	/* little and much spend heterogeneity, same population mean */
	starts[nstarts][0] = log(5.0);
	starts[nstarts][1] = log(20.0);
	starts[nstarts][2] = log(19.0 / 5.0);
	starts[nstarts++][3] = 0.0;
	starts[nstarts][0] = log(0.5);
	starts[nstarts][1] = log(1.5);
	starts[nstarts][2] = 0.0;
	starts[nstarts++][3] = 0.0;

	mr = opt_multistart(3, starts, nstarts, gg_objective, &ctx, &ctx.noise, check, theta);
	out.iterations = mr.iterations;
	if (!isfinite(mr.f))
		return out;
	ctx.penalizer = 0.0;
	opt_log_std_errors(3, gg_objective, &ctx, theta, ctx.wsum, out.se);
	inout->p = exp(theta[0]);
	inout->q = exp(theta[1]);
	inout->gamma = exp(theta[2]) * ctx.mscale;
	out.se[0] *= inout->p;
	out.se[1] *= inout->q;
	out.se[2] *= inout->gamma;
	out.loglik = gg_eval(inout, cells, n, NULL, NULL);
	out.converged = mr.converged;
	return out;
}

/* ------------------------------------------------------------------ */
/* BG/NBD predictions                                                   */
/* ------------------------------------------------------------------ */

/*
 * ln of the odds "dropped out after the last purchase" : "alive" given the
 * history (FHL's P(alive) note; lifetimes conditional_probability_alive):
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
 * Two evaluations, both bounded in time:
 *
 * (1) a positive series.  Writing 1 = (1-z)^k sum_n (k)_n z^n / n! and
 *	   (beta)_n/(C)_n = prod_j (1 - (a-1)/(C+j)) gives
 *		 N = sum_{n>=1} pi_n H_n,  pi_n = NB(n; k, z) = (1-z)^k (k)_n z^n/n!,
 *		 H_n = sum_{j<n} c_j,  c_0 = 1,  c_{j+1} = c_j (beta+j)/(C+j+1),
 *	   every term positive: no cancellation for any a (a = 1 included: no
 *	   division by a-1), any r, any C > -1.  Cost ~ the NB mean k u plus a
 *	   few standard deviations, plus 1/(1-z) for the geometric tail: used
 *	   while that is at most COND_SERIES_MAX terms (~10 us).
 *
 * (2) otherwise (long horizons, many purchases, extreme parameters) the
 *	   Beta integral by quadrature, cond_quad() below: ~50-500 us whatever
 *	   the arguments.
 *
 * (The textbook route, N = C/(a-1) [1 - (1-z)^(a-1) 2F1(a+b-1-r, a-1; C; z)]
 * with btyd_hyp2f1, is not used: against 40-digit references it lost up to
 * 6 digits for a > 10, gave NaN for a > ~30, and its series fallback could
 * run for seconds with parameters near the SQL bounds.  test/unit keeps it
 * as an independent cross-check where it is accurate.)
 * Against 40-50 digit references: ~1e-15 typically, 1e-11 at worst
 * (a and b + x near 1e8).
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
		if (nn > 0.0 && tau < 1.0 && pi * H <= 1e-17 * (1.0 - tau) * sum)
			break;
	}
	return sum * exp(k * L + lscale);
}

/*
 * (2) the bounded fallback for everything else (parameters or horizons far
 *	   from any fitted model: r, a, b near 1e-8 or 1e8, t up to 1e7 alpha):
 *	   N = E[g(p)], g(p) = (1 - (1 + p u)^-k) / p, p ~ Beta(a, beta), as an
 *	   integral over y = logit(p), where the Beta density becomes
 *	   e^{l(y)}, l(y) = a ln p + beta ln(1-p): log-concave and smooth, peaked
 *	   at y_m = ln(a/beta) with width ~ (1/a + 1/beta)^(1/2).  Pieces:
 *	   p < p0 (g = k u there to 1e-17: analytic Beta tail), 1-p < q1 (g =
 *	   g(1) to 1e-17: analytic tail), and between them the window where
 *	   l(y) - l(y_m) > -CQ_CUT, by adaptive Gauss-Kronrod (7/15 points) with
 *	   at most CQ_MAXINT intervals, the density normalised by the same
 *	   quadrature.  g u-decreasing, p g increasing, so 0 <= N <= k u.
 *	   Cost: at most 15 (2 CQ_MAXINT - 8) = 3720 integrand evaluations plus
 *	   160 to find the window (~0.5 ms), typically ~500; against 60-digit
 *	   references ~1e-15 relative, 3e-13 at worst with a, beta near 1e8
 *	   (the log density cancels there; the tolerance follows that noise).
 */
#define CQ_MAXINT		128
#define CQ_CUT		50.0
#define CQ_RTOL		1e-14

typedef struct CondQuad
{
	double		k,
				a,
				beta,
				u,
				ym,				/* mode of the logit density */
				s1,				/* beta / (a + beta) = 1 - p at the mode */
				s2;				/* a / (a + beta) = p at the mode */
} CondQuad;

/*
 * ln(1 + s (e^d - 1)) = ln(s' + s e^d), s' = 1 - s given separately: the
 * log1p form near the mode, the other where s (e^d - 1) nears -1 (there s
 * may round to 1 and lose s', e.g. a = 1e-8 against beta = 2e9)
 */
static double
cq_log_mix(double s, double s_other, double d)
{
	double		v = s * expm1(d);

	if (v > -0.5)
		return log1p(v);
	return log(s_other + s * exp(d));
}

/* l(y) - l(y_m), written around the mode so that only O(min(a, beta) d) cancels */
static double
cq_logw(const CondQuad *q, double y)
{
	double		d = y - q->ym;

	return -q->a * cq_log_mix(q->s1, q->s2, -d) - q->beta * cq_log_mix(q->s2, q->s1, d);
}

static double
cq_g(const CondQuad *q, double y)
{
	double		p = 1.0 / (1.0 + exp(-y));

	return -expm1(-q->k * log1p(p * q->u)) / p;
}

/* y in [lo, hi] with cq_logw(y) = -CQ_CUT, cq_logw(lo) < -CUT <= cq_logw(hi) or reversed */
static double
cq_cut(const CondQuad *q, double lo, double hi)
{
	int			i;

	for (i = 0; i < 80; i++)
	{
		double		mid = 0.5 * (lo + hi);

		if (mid == lo || mid == hi)
			break;
		if (cq_logw(q, mid) < -CQ_CUT)
			lo = mid;
		else
			hi = mid;
	}
	return 0.5 * (lo + hi);
}

typedef struct CqInterval
{
	double		lo,
				hi,
				w,				/* integral of the weight */
				wg,				/* integral of weight * g */
				err;
} CqInterval;

/* Gauss-Kronrod 7/15 on [lo, hi] for the weight and weight * g [QUADPACK qk15] */
static void
cq_gk15(const CondQuad *q, CqInterval *iv)
{
	double		c = 0.5 * (iv->lo + iv->hi),
				h = 0.5 * (iv->hi - iv->lo),
				kw = 0.0,
				kwg = 0.0,
				gw = 0.0,
				gwg = 0.0;
	int			j;

	for (j = 0; j < 8; j++)
	{
		int			nside = (j == 7) ? 1 : 2;
		int			s;

		for (s = 0; s < nside; s++)
		{
			double		y = (s == 0) ? c + h * quad_gk15_x[j] : c - h * quad_gk15_x[j];
			double		w = exp(cq_logw(q, y));
			double		v = w * cq_g(q, y);

			kw += quad_gk15_wk[j] * w;
			kwg += quad_gk15_wk[j] * v;
			if (j & 1)
			{
				gw += quad_gk15_wg[j / 2] * w;
				gwg += quad_gk15_wg[j / 2] * v;
			}
		}
	}
	iv->w = h * kw;
	iv->wg = h * kwg;
	/* error relative to each integral's own scale (both end up in a ratio) */
	iv->err = fmax(fabs(h * (kw - gw)) / fmax(fabs(iv->w), DBL_MIN),
				   fabs(h * (kwg - gwg)) / fmax(fabs(iv->wg), DBL_MIN));
}

static double
cond_quad(double k, double a, double beta, double u)
{
	CondQuad	q;
	CqInterval	iv[CQ_MAXINT];
	int			niv = 0,
				i;
	double		p0,
				q1,
				y0,
				y1,
				lmode,
				zl,
				zr,
				zm,
				gm,
				lo,
				hi,
				ku = k * u,
				g1 = -expm1(-k * log1p(u)),
				tol;

	q.k = k;
	q.a = a;
	q.beta = beta;
	q.u = u;
	/*
	 * cq_logw() cancels terms of size ~ sqrt(a beta / (a + beta)) inside the
	 * window: ask no more of the quadrature than that rounding noise allows
	 */
	tol = fmax(CQ_RTOL, 1e-15 * sqrt(a * beta / (a + beta)));

	/*
	 * Tails: below p0, g = k u (1 - O((k+1) p u)) and the Beta integral is
	 * p0^a / a (1 + a (1-beta) p0 / (a+1) + O((beta p0)^2)); above 1 - q1,
	 * g = g(1) (1 + O(q1)) (p g is increasing, so |p g'/g| <= 1).  (The
	 * 1e-300 floors matter only far outside the SQL bounds.)
	 */
	p0 = fmax(1e-300, fmin(4e-18 / fmax(1.0, (k + 1.0) * u), 1e-9 / (1.0 + beta)));
	q1 = fmax(1e-300, fmin(4e-18, 1e-9 / (1.0 + a)));
	y0 = log(p0) - log1p(-p0);
	y1 = log1p(-q1) - log(q1);

	/*
	 * The reference point of cq_logw(): the mode ln(a/beta), where
	 * p = a/(a+beta), l = a ln s2 + beta ln s1.  Within the SQL bounds it
	 * lies inside [y0, y1]; otherwise the nearer end (l is concave, so the
	 * maximum over [y0, y1] is there).
	 */
	q.ym = log(a) - log(beta);
	if (q.ym >= y0 && q.ym <= y1)
	{
		q.s1 = beta / (a + beta);
		q.s2 = a / (a + beta);
		lmode = -a * log1p(beta / a) - beta * log1p(a / beta);
	}
	else
	{
		q.ym = (q.ym < y0) ? y0 : y1;
		q.s1 = 1.0 / (1.0 + exp(q.ym));
		q.s2 = 1.0 / (1.0 + exp(-q.ym));
		lmode = -a * softplus(-q.ym) - beta * softplus(q.ym);
	}
	zl = exp(a * log(p0) - lmode) / a * (1.0 + a * (1.0 - beta) * p0 / (a + 1.0));
	zr = exp(beta * log(q1) - lmode) / beta * (1.0 + beta * (1.0 - a) * q1 / (beta + 1.0));

	/* the window: l within CQ_CUT of its maximum, inside [y0, y1] */
	lo = (cq_logw(&q, y0) < -CQ_CUT) ? cq_cut(&q, y0, q.ym) : y0;
	hi = (cq_logw(&q, y1) < -CQ_CUT) ? cq_cut(&q, y1, q.ym) : y1;

	/* adaptive Gauss-Kronrod from 8 panels: bisect the worst interval */
	for (i = 0; i < 8; i++)
	{
		iv[niv].lo = lo + (hi - lo) * i / 8.0;
		iv[niv].hi = (i == 7) ? hi : lo + (hi - lo) * (i + 1) / 8.0;
		cq_gk15(&q, &iv[niv]);
		niv++;
	}
	for (;;)
	{
		double		tw = 0.0,
					twg = 0.0,
					ew = 0.0,
					ewg = 0.0,
					worst = -1.0,
					mid;
		int			wi = 0;

		for (i = 0; i < niv; i++)
		{
			tw += iv[i].w;
			twg += iv[i].wg;
		}
		for (i = 0; i < niv; i++)
		{
			/* absolute errors of each piece against the totals */
			double		e = iv[i].err;
			double		cw = e * fabs(iv[i].w) / fmax(tw + zl + zr, DBL_MIN);
			double		cg = e * fabs(iv[i].wg) / fmax(twg + ku * zl + g1 * zr, DBL_MIN);
			double		c = fmax(cw, cg);

			ew += cw;
			ewg += cg;
			if (c > worst)
			{
				worst = c;
				wi = i;
			}
		}
		if ((ew <= tol && ewg <= tol) || niv >= CQ_MAXINT)
			break;
		mid = 0.5 * (iv[wi].lo + iv[wi].hi);
		if (!(mid > iv[wi].lo && mid < iv[wi].hi))
			break;
		iv[niv].lo = mid;
		iv[niv].hi = iv[wi].hi;
		iv[wi].hi = mid;
		cq_gk15(&q, &iv[wi]);
		cq_gk15(&q, &iv[niv]);
		niv++;
	}
	zm = gm = 0.0;
	for (i = 0; i < niv; i++)
	{
		zm += iv[i].w;
		gm += iv[i].wg;
	}
	return (ku * zl + gm + g1 * zr) / (zl + zm + zr);
}

/* N(t) above; u = t/(alpha+T) */
#define COND_SERIES_MAX	1e4

double
bgnbd_cond_num(const BgnbdParams *p, double x, double u)
{
	double		k = p->r + x;
	double		beta = p->b + x;
	double		C = p->a + p->b + x - 1.0;
	double		nest,
				v;

	if (u == 0.0)
		return 0.0;
	if (isinf(u))
		return (p->a > 1.0) ? C / (p->a - 1.0) : INFINITY;
	/* terms the positive series needs: NB mean + 10 sd + geometric tail */
	nest = k * u + 10.0 * sqrt(k * u * (1.0 + u)) + 40.0 * (1.0 + u) + 20.0;
	if (nest <= COND_SERIES_MAX)
		return cond_nb_series(k, beta, C, u / (1.0 + u), -log1p(u), 20.0 * nest + 1000.0);
	v = cond_quad(k, p->a, beta, u);
	if (isnan(v))
		return v;				/* only far beyond the SQL bounds */
	/* 0 <= N <= k u (g(p) <= k u); rounding cannot leave that range */
	return fmax(0.0, fmin(v, k * u));
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
			fmax(0.0, fmin(1.0, ibeta((double) n, r, q, y, lq, lp)));
	}
	/* both parts are >= 0 and sum to at most 1; keep rounding inside [0, 1] */
	return fmin(1.0, first + second);
}

/* ------------------------------------------------------------------ */
/* Gamma-Gamma prediction and CLV                                       */
/* ------------------------------------------------------------------ */

double
gg_expected_avg_spend(const GammaGammaParams *g, double x, double m)
{
	double		den,
				ratio,
				lr;

	if (!gg_params_ok(g) || !isfinite(x) || !isfinite(m) || x < 0.0 || (x > 0.0 && m < 0.0))
		return NAN;
	/*
	 * [FHL05b]: E(M|x,m) = (q-1)/(px+q-1) * gamma p/(q-1)
	 *						  + px/(px+q-1) * m = p(gamma + m x)/(px+q-1),
	 * the credibility-weighted mix of population mean and own mean.
	 */
	den = g->p * x + g->q - 1.0;
	if (!(den > 0.0))
		return NAN;
	/* p x beyond float8: the q - 1 in den is negligible, E = gamma/x + m */
	if (isinf(den))
		return g->gamma / x + m;
	/*
	 * as (p/den) gamma + (p/den) x m; where p/den itself leaves the normal
	 * float8 range (p ~ 1e300 over den ~ 1e-10), each term in logs: no
	 * intermediate overflow or underflow, +Infinity only when the result
	 * itself exceeds float8, never NaN
	 */
	ratio = g->p / den;
	if (isnormal(ratio) && isfinite(ratio))
	{
		if (x == 0.0 || m == 0.0)
			return ratio * g->gamma;
		return ratio * g->gamma + ratio * x * m;
	}
	lr = log(g->p) - log(den);
	if (x == 0.0 || m == 0.0)
		return exp(lr + log(g->gamma));
	return exp(lr + log(g->gamma)) + exp(lr + log(x) + log(m));
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
	/* nothing expected is worth nothing, even at an overflowing spend */
	if (total == 0.0)
		return 0.0;
	return total * spend;
}
