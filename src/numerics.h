/*
 * numerics.h
 *		Small inline helpers shared by the model files (btyd.c, pareto_nbd.c,
 *		mbgnbd.c, bgbb.c, sbg.c): stable log-sum-exp pieces and a compensated
 *		sum.  Pure C.
 */
#ifndef CARTERA_NUMERICS_H
#define CARTERA_NUMERICS_H

#include <math.h>

/* ln(1 + e^v) without overflow or loss for large |v| */
static inline double
softplus(double v)
{
	return (v > 0.0) ? v + log1p(exp(-v)) : log1p(exp(v));
}

/* 1 / (1 + e^-v) */
static inline double
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

/* ln(e^a + e^b) */
static inline double
logaddexp(double a, double b)
{
	if (a < b)
	{
		double		t = a;

		a = b;
		b = t;
	}
	if (isinf(a) && a < 0.0)
		return a;
	return a + log1p(exp(b - a));
}

/* Neumaier-compensated running sum: totals over 10^5..10^6 cells stay exact
 * enough for the line search to see changes of 1e-15 in the mean. */
typedef struct KSum
{
	double		s;
	double		c;
} KSum;

static inline void
ksum_add(KSum *k, double v)
{
	double		t = k->s + v;

	if (fabs(k->s) >= fabs(v))
		k->c += (k->s - t) + v;
	else
		k->c += (v - t) + k->s;
	k->s = t;
}

#endif							/* CARTERA_NUMERICS_H */
