/*
 * mbgnbd.c - the MBG/NBD model (Batislam, Denizel & Filiztekin 2007), as
 * lifetimes' ModifiedBetaGeoFitter: BG/NBD where a customer may drop out
 * after every purchase INCLUDING the first, with probability p ~ Beta(a, b).
 * That removes BG/NBD's P(alive) = 1 for every one-time buyer.  Pure C (see
 * btyd.h); the fit is BG/NBD's (bgnbd_family_fit) with this likelihood.
 *
 * Per customer (lifetimes' A_1..A_4):
 *	 LL = ln[Gamma(r+x) alpha^r / Gamma(r)] - (r+x) ln(alpha+T)
 *		  + ln[B(a, b+x+1) / B(a, b)] + softplus(D),
 *	 D = ln(a/(b+x)) + (r+x) ln((alpha+T)/(alpha+t_x)),
 * D being the log-odds of "dropped out after the last purchase" against
 * "alive at T", for every x (BG/NBD has that branch only for x > 0).
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>

#include "btyd.h"
#include "numerics.h"

static bool
mbg_params_ok(const BgnbdParams *p)
{
	return p != NULL &&
		isfinite(p->r) && p->r > 0.0 && isfinite(p->alpha) && p->alpha > 0.0 &&
		isfinite(p->a) && p->a > 0.0 && isfinite(p->b) && p->b > 0.0;
}

static bool
history_ok(double x, double t_x, double T)
{
	return isfinite(x) && isfinite(t_x) && isfinite(T) && x >= 0.0 && t_x >= 0.0 && t_x <= T;
}

static double
dead_logodds(const BgnbdParams *p, double x, double t_x, double T)
{
	return log(p->a / (p->b + x)) + (p->r + x) * log1p((T - t_x) / (p->alpha + t_x));
}

static double
mbgnbd_eval(const BgnbdParams *p, const BtydCell *cells, size_t n, double *grad, double *absll)
{
	const double r = p->r,
				alpha = p->alpha,
				a = p->a,
				b = p->b;
	KSum		ll = {0.0, 0.0},
				g[4] = {{0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}};
	double		lastx = -1.0,
				cx = 0.0,		/* terms of x alone */
				dr = 0.0,
				da = 0.0,
				db = 0.0,
				abs_sum = 0.0;
	size_t		k;
	int			i;

	if (!mbg_params_ok(p))
		return NAN;
	for (k = 0; k < n; k++)
	{
		const BtydCell *c = &cells[k];
		double		x = c->x,
					lg,
					D,
					om,
					v;

		if (c->weight == 0.0)
			continue;
		if (x != lastx)
		{
			lastx = x;
			/* ln Gamma(r+x)/Gamma(r) + ln B(a, b+x+1)/B(a, b) */
			cx = btyd_lnpoch(r, x) + btyd_lnpoch(b, x + 1.0) - btyd_lnpoch(a + b, x + 1.0);
			if (grad)
			{
				double		dab = btyd_digamma_diff(a + b, x + 1.0);

				dr = btyd_digamma_diff(r, x);
				da = -dab;
				db = btyd_digamma_diff(b, x + 1.0) - dab;
			}
		}
		lg = log1p((c->T - c->t_x) / (alpha + c->t_x));
		D = log(a / (b + x)) + (r + x) * lg;
		v = cx + r * log(alpha) - (r + x) * log(alpha + c->T) + softplus(D);
		if (!isfinite(v))
			return NAN;
		ksum_add(&ll, c->weight * v);
		abs_sum += c->weight * fabs(v);
		if (grad)
		{
			om = sigmoid(D);
			ksum_add(&g[0], c->weight * (dr - log1p(c->T / alpha) + om * lg));
			ksum_add(&g[1], c->weight * (r / alpha - (r + x) / (alpha + c->T) +
										 om * (r + x) * (1.0 / (alpha + c->T) - 1.0 / (alpha + c->t_x))));
			ksum_add(&g[2], c->weight * (da + om / a));
			ksum_add(&g[3], c->weight * (db - om / (b + x)));
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
mbgnbd_loglik(const BgnbdParams *p, const BtydCell *cells, size_t n)
{
	if (cells == NULL || bgnbd_cell_invalid(cells, n) != n)
		return NAN;
	return mbgnbd_eval(p, cells, n, NULL, NULL);
}

BtydFitResult
mbgnbd_fit(const BtydCell *cells, size_t n, double penalizer,
		   BgnbdParams *inout, btyd_interrupt_fn check)
{
	return bgnbd_family_fit(mbgnbd_eval, cells, n, penalizer, inout, check);
}

double
mbgnbd_p_alive(const BgnbdParams *p, double x, double t_x, double T)
{
	if (!mbg_params_ok(p) || !history_ok(x, t_x, T))
		return NAN;
	return sigmoid(-dead_logodds(p, x, t_x, T));
}

/* the customer alive at T buys as a BG/NBD customer with b + 1 would */
static BgnbdParams
shifted(const BgnbdParams *p)
{
	BgnbdParams q = *p;

	q.b = p->b + 1.0;
	return q;
}

double
mbgnbd_expected_purchases(const BgnbdParams *p, double t, double x, double t_x, double T)
{
	BgnbdParams q;

	if (!mbg_params_ok(p) || !history_ok(x, t_x, T) || isnan(t) || t < 0.0)
		return NAN;
	if (t == 0.0)
		return 0.0;
	q = shifted(p);
	return bgnbd_cond_num(&q, x, t / (p->alpha + T)) * mbgnbd_p_alive(p, x, t_x, T);
}

/*
 * A new customer drops out at once with mean probability a/(a+b); else,
 * with p ~ Beta(a, b+1), she is a BG/NBD customer: E[X(t)] = b/(a+b) *
 * E_BG(a, b+1)[X(t)] = b/(a-1) [1 - (alpha/(alpha+t))^r 2F1(...)] as in
 * lifetimes.
 */
double
mbgnbd_expected_purchases_new(const BgnbdParams *p, double t)
{
	BgnbdParams q;

	if (!mbg_params_ok(p) || isnan(t) || t < 0.0)
		return NAN;
	q = shifted(p);
	return p->b / (p->a + p->b) * bgnbd_expected_purchases_new(&q, t);
}

double
mbgnbd_prob_purchases(const BgnbdParams *p, double t, int n)
{
	BgnbdParams q;
	double		alive;

	if (!mbg_params_ok(p) || isnan(t) || t < 0.0)
		return NAN;
	if (n < 0)
		return 0.0;
	q = shifted(p);
	alive = p->b / (p->a + p->b);
	return fmin(1.0, (n == 0 ? 1.0 - alive : 0.0) + alive * bgnbd_prob_purchases(&q, t, n));
}
