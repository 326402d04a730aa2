/*
 * quadrature.h
 *		Adaptive Gauss-Kronrod (7/15 points) for a few integrals of one
 *		smooth integrand family at once (src/quadrature.c).  Pure C, no
 *		allocation, re-entrant: the Pareto/NBD likelihood and its gradient
 *		(src/pareto_nbd.c) are integrals over the same nodes.
 */
#ifndef CARTERA_QUADRATURE_H
#define CARTERA_QUADRATURE_H

#define QUAD_MAXF		6		/* integrands per call */
#define QUAD_MAXINT		64		/* intervals kept */

/*
 * The 15-point Kronrod rule on [-1, 1] (QUADPACK qk15): the positive nodes
 * (x[7] = 0) with their Kronrod weights, and the weights of the embedded
 * 7-point Gauss rule at x[1], x[3], x[5], x[7].
 */
extern const double quad_gk15_x[8];
extern const double quad_gk15_wk[8];
extern const double quad_gk15_wg[4];

/* f[0 .. nf-1] at x; f[0] steers the subdivision */
typedef void (*quad_fn) (double x, const void *ctx, double *f);

/*
 * result[i] = integral of f_i over [lo, hi], bisecting the interval with
 * the largest error estimate of f[0] until the total estimate is below
 * rtol * |result[0]| or QUAD_MAXINT intervals are in use.  Returns the
 * number of integrand evaluations; the estimated absolute error of
 * result[0] goes to *abserr when that is not NULL.
 */
extern int	quad_gk15(quad_fn fn, const void *ctx, int nf, double lo, double hi,
					  double rtol, double *result, double *abserr);

#endif							/* CARTERA_QUADRATURE_H */
