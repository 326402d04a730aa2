/*
 * optimize.h
 *		The one optimiser of cartera's model fits (src/optimize.c): BFGS on
 *		theta = ln(parameters) with analytic gradients and deterministic
 *		multistart.  Every customer-base model family fits through
 *		opt_multistart(): BG/NBD and Gamma-Gamma (src/btyd.c) today, each new
 *		family in its own file.  No PostgreSQL headers.
 */
#ifndef CARTERA_OPTIMIZE_H
#define CARTERA_OPTIMIZE_H

#include <stdbool.h>

/*
 * Called once per optimiser iteration (PostgreSQL: a function that does
 * CHECK_FOR_INTERRUPTS()).  It may longjmp out: the fits hold no resources.
 * May be NULL.
 */
typedef void (*btyd_interrupt_fn) (void);

#define OPT_MAXDIM		4		/* parameters of the largest model */
#define OPT_MAX_STARTS	5		/* start points a fit may pass */
#define OPT_THETA_MAX	30.0	/* |ln param| bound: e^30 ~ 1e13 */

/*
 * The objective: value at theta, gradient into grad (both in the scaled
 * theta space the model chooses); +inf or NaN where undefined.  It also
 * refreshes the noise scale the caller passed to opt_multistart() (the
 * mean |per-customer log-likelihood|, >= 1).
 */
typedef double (*opt_objfn) (const double *theta, double *grad, void *ctx);

typedef struct OptResult
{
	double		f;				/* objective at the estimate */
	double		gmax;			/* largest projected gradient component there */
	int			iterations;		/* quasi-Newton iterations, all starts */
	bool		converged;		/* interior optimum within tolerance */
} OptResult;

/*
 * Minimise fn in n <= OPT_MAXDIM dimensions from each of starts[0 ..
 * nstarts-1] (fewer when an early run converged in the interior) and keep
 * the lowest objective; theta receives the estimate.  An estimate beyond
 * |theta| = 13.8 (a parameter outside 1e-6 .. 1e6) is reported as not
 * converged: the supremum is not attained there.
 */
extern OptResult opt_multistart(int n, double starts[][OPT_MAXDIM], int nstarts, opt_objfn fn, void *ctx,
								const double *scale, btyd_interrupt_fn check, double *theta);

/*
 * Standard errors of ln(param_i) at the estimate theta, from the observed
 * information (the Hessian of the log-likelihood, by central differences of
 * fn's gradient): fn must be the MEAN negative log-likelihood over wsum
 * customers with any penalty switched off.  The standard error of param_i
 * is param_i * se[i] (delta method).  false, se all NaN, when the Hessian
 * is not positive definite (an edge estimate or a flat direction).
 */
extern bool opt_log_std_errors(int n, opt_objfn fn, void *ctx, const double *theta,
							   double wsum, double *se);

/*
 * The whole covariance matrix of ln(params) (the same computation): what
 * the prediction intervals need, since the parameters' estimates are
 * correlated (r and alpha strongly).  NaN everywhere when not positive
 * definite.
 */
extern bool opt_log_covariance(int n, opt_objfn fn, void *ctx, const double *theta, double wsum,
							   double cov[OPT_MAXDIM][OPT_MAXDIM]);

#endif							/* CARTERA_OPTIMIZE_H */
