/* unit.h - shared by the standalone numeric checks (unit.c) */
#ifndef CARTERA_UNIT_H
#define CARTERA_UNIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "btyd.h"

extern int	n_pass;
extern int	n_fail;
extern bool verbose;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
extern void check(bool ok, const char *fmt,...);
extern double relerr(double got, double want);
extern void check_rel(const char *what, double got, double want, double tol);
extern double now_sec(void);

/* one row of cdnow_customers_summary_with_transactions.csv */
typedef struct Customer
{
	double		x,
				t_x,
				T,
				zbar;
	int			id;
} Customer;

extern int	read_cdnow(const char *path, Customer *out, int max);
extern int	cmp_cell(const void *pa, const void *pb);

/* sort by (x, t_x, T) and merge equal triples: the histogram the aggregate keeps */
extern size_t histogram(BtydCell *c, size_t n);

/*
 * Standard errors the textbook way, independent of opt_log_std_errors():
 * the Hessian of ll in the natural parameters (n <= 4) by second
 * differences of function values (step 1e-3 relative; numeric_se_step:
 * the relative step given), inverted by Gauss-Jordan.  false when it is
 * not negative definite.
 */
typedef double (*ll_natural_fn) (const double *par, const void *data);
extern bool numeric_se(ll_natural_fn ll, const void *data, int n, const double *par, double *se);
extern bool numeric_se_step(ll_natural_fn ll, const void *data, int n, const double *par,
							double step, double *se);

/*
 * Random variates for the simulations: xoshiro256** seeded with
 * splitmix64 (small, fast, the same stream everywhere).  rand_unif is on
 * (0, 1), never 0 or 1; rand_normal is Box-Muller, one value a call;
 * rand_log_gamma is ln of a Gamma(shape k, scale 1) variate (Marsaglia &
 * Tsang 2000, in logs for k < 1 so tiny shapes do not underflow);
 * rand_beta is Beta(a, b) from two of those.
 */
typedef struct Xoshiro
{
	uint64_t	s[4];
} Xoshiro;

extern void xoshiro_seed(Xoshiro *r, uint64_t seed);
extern uint64_t xoshiro_next(Xoshiro *r);
extern double rand_unif(Xoshiro *r);
extern double rand_normal(Xoshiro *r);
extern double rand_log_gamma(Xoshiro *r, double k);
extern double rand_beta(Xoshiro *r, double a, double b);

#endif							/* CARTERA_UNIT_H */
