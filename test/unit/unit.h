/* unit.h - shared by the standalone numeric checks (unit.c) */
#ifndef CARTERA_UNIT_H
#define CARTERA_UNIT_H

#include <stdbool.h>
#include <stddef.h>

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
 * differences of function values (step 1e-3 relative), inverted by
 * Gauss-Jordan.  false when it is not negative definite.
 */
typedef double (*ll_natural_fn) (const double *par, const void *data);
extern bool numeric_se(ll_natural_fn ll, const void *data, int n, const double *par, double *se);

#endif							/* CARTERA_UNIT_H */
