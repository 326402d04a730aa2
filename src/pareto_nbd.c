/*
 * pareto_nbd.c - the Pareto/NBD model (Schmittlein, Morrison & Colombo
 * 1987): purchases at rate lambda ~ Gamma(r, alpha) while alive, lifetime
 * exponential with rate mu ~ Gamma(s, beta).  Pure C (see btyd.h).
 *
 * The likelihood of Fader & Hardie's note "A note on deriving the
 * Pareto/NBD model and related expressions" (2005) is
 *	 L = Gamma(r+x) alpha^r beta^s / Gamma(r)
 *		 * [ (alpha+T)^-(r+x) (beta+T)^-s + s I ],
 *	 I = int_{t_x}^{T} (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau,
 * the two branches "alive at T" and "died at tau in (t_x, T]".  The note
 * writes s I with the Gaussian hypergeometric function, as a difference of
 * two 2F1 values in one of two regimes (alpha >= beta or alpha < beta);
 * lifetimes and BTYD evaluate that difference, which overflows for large
 * x and cancels when t_x is near T.  Here I is integrated directly: its
 * integrand is positive and decreasing, so nothing cancels, both regimes
 * are one formula, and the gradient is four more integrals over the same
 * nodes (log-derivatives of the integrand), computed in the same pass.
 *
 * The integral, with c = min(alpha, beta) and u = ln((c+tau)/(c+t_x)):
 *	 I = g(t_x) (c+t_x) int_0^U e^phi(u) du,  U = ln((c+T)/(c+t_x)),
 *	 phi(u) = -(r+x) ln((alpha+tau)/(alpha+t_x)) - (s+1) ln((beta+tau)/(beta+t_x)) + u,
 * g the integrand; phi(0) = 0 and phi <= u, decaying like -(r+x+s) u for
 * large u: a smooth function on a bounded interval for adaptive
 * Gauss-Kronrod (src/quadrature.c) to 1e-12.  Everything else is in logs.
 */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "btyd.h"
#include "numerics.h"
#include "quadrature.h"

#define PNBD_RTOL	1e-12

static bool
pnbd_params_ok(const ParetoNbdParams *p)
{
	return p != NULL &&
		isfinite(p->r) && p->r > 0.0 && isfinite(p->alpha) && p->alpha > 0.0 &&
		isfinite(p->s) && p->s > 0.0 && isfinite(p->beta) && p->beta > 0.0;
}

/* the integrand of I and of its four log-derivatives, in u */
typedef struct PnbdIntegrand
{
	double		a;				/* r + x */
	double		b;				/* s + 1 */
	double		alpha,
				beta,
				t_x,
				ct;				/* c + t_x */
	double		at,				/* alpha + t_x */
				bt;				/* beta + t_x */
} PnbdIntegrand;

static void
pnbd_integrand(double u, const void *vctx, double *f)
{
	const PnbdIntegrand *q = (const PnbdIntegrand *) vctx;
	double		em1 = expm1(u),
				tau = q->t_x + q->ct * em1,	/* (c + t_x) e^u - c */
				la = log1p(q->ct * em1 / q->at),	/* ln((alpha+tau)/(alpha+t_x)) */
				lb = log1p(q->ct * em1 / q->bt),
				e = exp(u - q->a * la - q->b * lb);

	/* ln(1 + tau/alpha) = la + ln(1 + t_x/alpha): the constant is added by the caller */
	f[0] = e;
	f[1] = e * la;
	f[2] = e / (q->alpha + tau);
	f[3] = e * lb;
	f[4] = e / (q->beta + tau);
}

/*
 * The death branch's integral I and the g-weighted means its gradient
 * needs: e[0] = E[ln(1 + tau/alpha)], e[1] = E[1/(alpha + tau)],
 * e[2] = E[ln(1 + tau/beta)], e[3] = E[1/(beta + tau)] (E over tau with
 * density proportional to the integrand g on [t_x, T]).  Two ways:
 *
 * (1) The series, when it converges fast.  With M = max(alpha, beta), m the
 *	   other, P and Q the exponents of (M + tau) and (m + tau) in g, and
 *	   m + tau = (M + tau)(1 - w), w = (M - m)/(M + tau), the binomial
 *	   series of (1 - w)^-Q integrates term by term:
 *		 I = (M + t_x)^-mu_0 sum_k (Q)_k/k! z^k E_k / mu_k,
 *		 mu_k = P + Q + k - 1, z = (M - m)/(M + t_x),
 *		 E_k = 1 - ((M + t_x)/(M + T))^mu_k,
 *	   every term positive (the 2F1 difference of the note, each term's
 *	   difference taken by expm1: no cancellation, no overflow), and the
 *	   derivatives are sums over the same terms.  Terms fall at least as
 *	   fast as z (Q + k)/(k + 1): used when z <= 0.5 and z Q <= 40 (about
 *	   15 terms on CDNOW's fits, where alpha and beta are close).
 * (2) Otherwise adaptive Gauss-Kronrod on the integrand (pnbd_integrand).
 * The unit check compares both on every CDNOW cell and at extremes.
 */
#define PNBD_SERIES_Z		0.5
#define PNBD_SERIES_ZQ		40.0
#define PNBD_SERIES_TERMS	400

static bool
pnbd_series(double a, double b, double alpha, double beta, double t_x, double T,
			double *lnI, double *e)
{
	bool		abig = alpha >= beta;
	double		M = abig ? alpha : beta,
				m = abig ? beta : alpha,
				P = abig ? a : b,
				Q = abig ? b : a,
				Mt = M + t_x,
				z = (M - m) / Mt,
				L = log1p((T - t_x) / Mt),
				dLdM = -(T - t_x) / ((M + T) * Mt),
				mu0 = P + Q - 1.0,
				c = 1.0,		/* (Q)_k / k! z^k */
				cd = 0.0,		/* (Q)_k / k! k z^(k-1) */
				H = 0.0,		/* psi(Q + k) - psi(Q) */
				S = 0.0,
				SP = 0.0,		/* sums of t_k times d ln t_k / d(P, Q, M), and of d t_k / dz */
				SQ = 0.0,
				SM = 0.0,
				Sz = 0.0,
				dM,
				dm;
	int			k;

	if (!(z <= PNBD_SERIES_Z) || z * Q > PNBD_SERIES_ZQ || !(L > 0.0))
		return false;
	for (k = 0; k < PNBD_SERIES_TERMS; k++)
	{
		double		mu = mu0 + k,
					ex = exp(-mu * L),
					E = -expm1(-mu * L),
					tk = c * E / mu,
					dlE = L * ex / E;	/* d ln E_k / d mu */

		S += tk;
		SP += tk * (dlE - 1.0 / mu);
		SQ += tk * (H + dlE - 1.0 / mu);
		SM += tk * mu * ex * dLdM / E;
		Sz += cd * E / mu;
		/* the rest is below t_k rho / (1 - rho), rho = z (Q + k) / (k + 1) */
		{
			double		rho = z * (Q + k) / (k + 1.0);

			if (k >= 1 && rho < 0.9 && tk * rho / (1.0 - rho) <= 1e-17 * S)
				break;
		}
		cd = c * (k + 1.0) * (Q + k) / (k + 1.0);	/* (Q)_{k+1}/(k+1)! (k+1) z^k */
		c *= z * (Q + k) / (k + 1.0);
		H += 1.0 / (Q + k);
	}
	if (k == PNBD_SERIES_TERMS || !(S > 0.0) || !isfinite(S))
		return false;
	*lnI = -mu0 * log(Mt) + log(S);
	/* d ln I / d(M, m); those in P and Q, -ln(M + t_x) + SP/S and + SQ/S, enter e[] directly */
	dM = -mu0 / Mt + (Sz * (m + t_x) / (Mt * Mt) + SM) / S;
	dm = -(Sz / Mt) / S;
	if (abig)
	{
		/* P = a, Q = b, M = alpha, m = beta: E[ln(1 + tau/alpha)] = -d ln I/dP - ln alpha, ... */
		e[0] = log1p(t_x / alpha) - SP / S;
		e[1] = -dM / a;
		e[2] = log(Mt / beta) - SQ / S;
		e[3] = -dm / b;
	}
	else
	{
		e[0] = log(Mt / alpha) - SQ / S;
		e[1] = -dm / a;
		e[2] = log1p(t_x / beta) - SP / S;
		e[3] = -dM / b;
	}
	return true;
}

static double
pnbd_quadrature(double a, double b, double alpha, double beta, double t_x, double T, double *e)
{
	PnbdIntegrand in;
	double		q[QUAD_MAXF] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
	double		c = fmin(alpha, beta);

	in.a = a;
	in.b = b;
	in.alpha = alpha;
	in.beta = beta;
	in.t_x = t_x;
	in.ct = c + t_x;
	in.at = alpha + t_x;
	in.bt = beta + t_x;
	quad_gk15(pnbd_integrand, &in, 5, 0.0, log1p((T - t_x) / in.ct), PNBD_RTOL, q, NULL);
	for (int i = 0; i < 4; i++)
		e[i] = q[i + 1] / q[0];
	e[0] += log1p(t_x / alpha);
	e[2] += log1p(t_x / beta);
	return -a * log(in.at) - b * log(in.bt) + log(in.ct) + log(q[0]);
}

/*
 * The bracket of L for one customer: returns ln A, A = T1 + s I, and the
 * weight w1 = T1 / A of "alive at T" (P(alive)).  With dA (not NULL), the
 * derivatives of ln A + r ln alpha + s ln beta w.r.t. (r, alpha, s, beta)
 * minus what depends on r alone (the Gamma ratio's digammas).
 */
static double
pnbd_bracket(const ParetoNbdParams *p, double x, double t_x, double T, PnbdMethod method,
			 double *w1out, double *dA)
{
	const double r = p->r,
				alpha = p->alpha,
				s = p->s,
				beta = p->beta,
				a = r + x;
	double		lnT1 = -a * log(alpha + T) - s * log(beta + T),
				lnA,
				w1,
				w2,
				e[4] = {0.0, 0.0, 0.0, 0.0};

	if (T > t_x)
	{
		double		lnI;

		if (method == PNBD_QUADRATURE ||
			!pnbd_series(a, s + 1.0, alpha, beta, t_x, T, &lnI, e))
		{
			if (method == PNBD_SERIES)
				return NAN;
			lnI = pnbd_quadrature(a, s + 1.0, alpha, beta, t_x, T, e);
		}
		lnA = logaddexp(lnT1, log(s) + lnI);
		w1 = exp(lnT1 - lnA);
		w2 = exp(log(s) + lnI - lnA);
	}
	else
	{
		lnA = lnT1;
		w1 = 1.0;
		w2 = 0.0;
	}
	if (w1out)
		*w1out = w1;
	if (dA)
	{
		/* r ln alpha - (r+x) ln(alpha+tau) etc. folded into log1p(tau/alpha) */
		dA[0] = -(w1 * log1p(T / alpha) + w2 * e[0]);
		dA[1] = r / alpha - a * (w1 / (alpha + T) + w2 * e[1]);
		dA[2] = w2 / s - (w1 * log1p(T / beta) + w2 * e[2]);
		dA[3] = s / beta - w1 * s / (beta + T) - w2 * (s + 1.0) * e[3];
	}
	return lnA;
}

/*
 * sum w * LL; grad (if not NULL) d/d(r, alpha, s, beta); *absll sum w |LL|.
 * Per customer LL = ln Gamma(r+x) - ln Gamma(r) + r ln alpha + s ln beta + ln A.
 */
static double
pnbd_eval(const ParetoNbdParams *p, const BtydCell *cells, size_t n, PnbdMethod method,
		  double *grad, double *absll)
{
	KSum		ll = {0.0, 0.0},
				g[4] = {{0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}};
	double		ra = p->r * log(p->alpha) + p->s * log(p->beta),
				lastx = -1.0,
				lpoch = 0.0,
				dpoch = 0.0,
				abs_sum = 0.0;
	size_t		k;
	int			i;

	if (!pnbd_params_ok(p))
		return NAN;
	for (k = 0; k < n; k++)
	{
		const BtydCell *c = &cells[k];
		double		dA[4],
					v;

		if (c->weight == 0.0)
			continue;
		if (c->x != lastx)
		{
			lastx = c->x;
			lpoch = btyd_lnpoch(p->r, c->x);
			dpoch = btyd_digamma_diff(p->r, c->x);
		}
		v = lpoch + ra + pnbd_bracket(p, c->x, c->t_x, c->T, method, NULL, grad ? dA : NULL);
		if (!isfinite(v))
			return NAN;
		ksum_add(&ll, c->weight * v);
		abs_sum += c->weight * fabs(v);
		if (grad)
		{
			dA[0] += dpoch;
			for (i = 0; i < 4; i++)
				ksum_add(&g[i], c->weight * dA[i]);
		}
	}
	if (grad)
		for (i = 0; i < 4; i++)
			grad[i] = g[i].s + g[i].c;
	if (absll)
		*absll = abs_sum;
	return ll.s + ll.c;
}

double
pareto_nbd_loglik(const ParetoNbdParams *p, const BtydCell *cells, size_t n)
{
	return pareto_nbd_loglik_by(p, cells, n, PNBD_AUTO, NULL);
}

double
pareto_nbd_loglik_by(const ParetoNbdParams *p, const BtydCell *cells, size_t n, PnbdMethod method,
					 double *grad)
{
	if (cells == NULL || bgnbd_cell_invalid(cells, n) != n)
		return NAN;
	return pnbd_eval(p, cells, n, method, grad, NULL);
}

/* ------------------------------------------------------------------ */
/* fit                                                                  */
/* ------------------------------------------------------------------ */

/*
 * theta = ln(r, alpha*sc, s, beta*sc), sc = 10 / max(T), as for BG/NBD:
 * unit-free starts and edge test; the penalty is lifetimes'
 * penalizer * sum(params^2) on that scale.
 */
typedef struct PnbdCtx
{
	const BtydCell *cells;
	size_t		n;
	double		wsum;
	double		penalizer;
	double		sc;
	double		noise;
} PnbdCtx;

static double
pnbd_objective(const double *theta, double *grad, void *vctx)
{
	PnbdCtx    *ctx = (PnbdCtx *) vctx;
	ParetoNbdParams p;
	double		g[4],
				pv[4],
				ll,
				absll = 0.0,
				pen = 0.0;
	int			i;

	for (i = 0; i < 4; i++)
	{
		if (!(fabs(theta[i]) <= OPT_THETA_MAX + 1.0))
			return NAN;
		pv[i] = exp(theta[i]);
		pen += pv[i] * pv[i];
	}
	p.r = pv[0];
	p.alpha = pv[1] / ctx->sc;
	p.s = pv[2];
	p.beta = pv[3] / ctx->sc;
	ll = pnbd_eval(&p, ctx->cells, ctx->n, PNBD_AUTO, g, &absll);
	ctx->noise = fmax(1.0, absll / ctx->wsum);
	/* d/dtheta_i = param_i d/dparam_i (alpha*sc and alpha alike) */
	g[0] *= p.r;
	g[1] *= p.alpha;
	g[2] *= p.s;
	g[3] *= p.beta;
	for (i = 0; i < 4; i++)
		grad[i] = -g[i] / ctx->wsum + 2.0 * ctx->penalizer * pv[i] * pv[i];
	return -ll / ctx->wsum + ctx->penalizer * pen;
}

BtydFitResult
pareto_nbd_fit(const BtydCell *cells, size_t n, double penalizer,
			   ParetoNbdParams *inout, btyd_interrupt_fn check)
{
	BtydFitResult out;
	PnbdCtx		ctx;
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
	ctx.sc = 10.0 / maxT;

	/*
	 * Default start: r = 1, alpha matching the mean purchase rate; s = 1 and
	 * beta = the observation span (a median lifetime of about max T).  Then
	 * short and long lifetimes, and a small r (very uneven rates).
	 */
	def[0] = 0.0;
	def[1] = (sx > 0.0 && sT > 0.0) ? log(ctx.sc * sT / sx) : 0.0;
	if (!(fabs(def[1]) < 10.0))
		def[1] = 0.0;
	def[2] = 0.0;
	def[3] = log(10.0);
	usr[0] = (isfinite(inout->r) && inout->r > 0.0) ? log(inout->r) : def[0];
	usr[1] = (isfinite(inout->alpha) && inout->alpha > 0.0) ? log(inout->alpha * ctx.sc) : def[1];
	usr[2] = (isfinite(inout->s) && inout->s > 0.0) ? log(inout->s) : def[2];
	usr[3] = (isfinite(inout->beta) && inout->beta > 0.0) ? log(inout->beta * ctx.sc) : def[3];
	memcpy(starts[nstarts++], usr, sizeof(usr));
	if (memcmp(usr, def, sizeof(def)) != 0)
		memcpy(starts[nstarts++], def, sizeof(def));
	memcpy(starts[nstarts], def, sizeof(def));
	starts[nstarts][2] = log(0.5);
	starts[nstarts++][3] = log(1.0);
	memcpy(starts[nstarts], def, sizeof(def));
	starts[nstarts][2] = log(3.0);
	starts[nstarts++][3] = log(100.0);
	memcpy(starts[nstarts], def, sizeof(def));
	starts[nstarts][0] = log(0.2);
	starts[nstarts++][1] = def[1] + log(0.2);

	mr = opt_multistart(4, starts, nstarts, pnbd_objective, &ctx, &ctx.noise, check, theta);
	out.iterations = mr.iterations;
	if (!isfinite(mr.f))
		return out;
	ctx.penalizer = 0.0;
	if (opt_log_covariance(4, pnbd_objective, &ctx, theta, ctx.wsum, out.log_cov))
		for (i = 0; i < 4; i++)
			out.se[i] = sqrt(out.log_cov[i][i]);
	inout->r = exp(theta[0]);
	inout->alpha = exp(theta[1]) / ctx.sc;
	inout->s = exp(theta[2]);
	inout->beta = exp(theta[3]) / ctx.sc;
	out.se[0] *= inout->r;
	out.se[1] *= inout->alpha;
	out.se[2] *= inout->s;
	out.se[3] *= inout->beta;
	out.loglik = pnbd_eval(inout, cells, n, PNBD_AUTO, NULL, NULL);
	out.converged = mr.converged;
	return out;
}

/* ------------------------------------------------------------------ */
/* predictions                                                          */
/* ------------------------------------------------------------------ */

double
pareto_nbd_p_alive(const ParetoNbdParams *p, double x, double t_x, double T)
{
	double		w1;

	if (!pnbd_params_ok(p) || !isfinite(x) || !isfinite(t_x) || !isfinite(T) ||
		x < 0.0 || t_x < 0.0 || t_x > T)
		return NAN;
	if (!isfinite(pnbd_bracket(p, x, t_x, T, PNBD_AUTO, &w1, NULL)))
		return NAN;
	return w1;
}

/*
 * (1 - (h/(h+t))^(s-1)) / (s-1) * h = h * -expm1(-(s-1) ln(1 + t/h)) / (s-1):
 * the expected lifetime-weighted exposure in (T, T+t] of a customer alive at
 * T whose hazard is Gamma(s, h)-mixed; h ln(1 + t/h) at s = 1.
 */
static double
exposure(double s, double h, double t)
{
	double		L = log1p(t / h),
				d = (s - 1.0) * L;

	if (fabs(d) < 1e-8)
		return h * L * (1.0 - 0.5 * d);
	return h * -expm1(-d) / (s - 1.0);
}

double
pareto_nbd_expected_purchases(const ParetoNbdParams *p, double t, double x, double t_x, double T)
{
	double		pa = pareto_nbd_p_alive(p, x, t_x, T);

	if (!isfinite(pa) || !isfinite(t) || t < 0.0)
		return NAN;
	if (pa == 0.0 || t == 0.0)
		return 0.0;
	/* [FH05 eq. 22]: (r+x)/(alpha+T) purchases per unit time, over the lifetime left */
	return pa * (p->r + x) / (p->alpha + T) * exposure(p->s, p->beta + T, t);
}

double
pareto_nbd_expected_purchases_new(const ParetoNbdParams *p, double t)
{
	if (!pnbd_params_ok(p) || !isfinite(t) || t < 0.0)
		return NAN;
	return p->r / p->alpha * exposure(p->s, p->beta, t);
}

/*
 * P(X(t) = n) for a new customer: alive through (0, t] with probability
 * (beta/(beta+t))^s, or dead at tau with density s beta^s/(beta+tau)^(s+1);
 * given the exposure, the count is NBD(r, alpha/(alpha+exposure)).  The
 * second branch is integrated in u = ln(1 + tau/beta) like the likelihood.
 */
typedef struct PnbdPmf
{
	double		r,
				alpha,
				s,
				beta,
				n,
				lnb;			/* ln Gamma(r+n) - ln Gamma(r) - ln n! */
} PnbdPmf;

static double
nbd_logpmf(const PnbdPmf *q, double tau)
{
	/* ln[Gamma(r+n)/(Gamma(r) n!) (alpha/(alpha+tau))^r (tau/(alpha+tau))^n] */
	double		l1 = log1p(tau / q->alpha);

	if (q->n == 0.0)
		return -q->r * l1;
	if (tau <= 0.0)
		return -INFINITY;
	return q->lnb - q->r * l1 + q->n * (log(tau / q->alpha) - l1);
}

static void
pmf_integrand(double u, const void *vctx, double *f)
{
	const PnbdPmf *q = (const PnbdPmf *) vctx;
	double		tau = q->beta * expm1(u);

	/* s beta^s (beta+tau)^-(s+1) dtau = s e^{-s u} du */
	f[0] = q->s * exp(-q->s * u + nbd_logpmf(q, tau));
}

double
pareto_nbd_prob_purchases(const ParetoNbdParams *p, double t, int n)
{
	PnbdPmf		q;
	double		alive,
				dead = 0.0,
				U;

	if (!pnbd_params_ok(p) || !isfinite(t) || t < 0.0)
		return NAN;
	if (n < 0)
		return 0.0;
	q.r = p->r;
	q.alpha = p->alpha;
	q.s = p->s;
	q.beta = p->beta;
	q.n = n;
	q.lnb = btyd_lnpoch(p->r, n) - btyd_lgamma(n + 1.0);
	U = log1p(t / p->beta);
	alive = exp(-p->s * U + nbd_logpmf(&q, t));
	if (U > 0.0)
		quad_gk15(pmf_integrand, &q, 1, 0.0, U, PNBD_RTOL, &dead, NULL);
	return fmin(1.0, fmax(0.0, alive + dead));
}
