/*
 * bgbb.h
 *		Pure-C numerics of the BG/BB model (beta-geometric/beta-binomial):
 *		repeat transactions and dropout in DISCRETE time, where a customer
 *		either transacts or not at each of a fixed grid of opportunities
 *		(a yearly fund-raising drive, a weekly market day, a monthly
 *		billing run).  No PostgreSQL headers; unit-tested alone by
 *		test/unit/bgbb_check.c.  The SQL glue is src/bgbb_sql.c.
 *
 * Reference:
 *	 [FHS10] Fader, Hardie & Shang (2010), "Customer-base analysis in a
 *			 discrete-time noncontractual setting", Marketing Science 29(6),
 *			 1086-1108; equation numbers below are that paper's.  The
 *			 donations data (11,104 donors, 6 opportunities) are its Table 1.
 *	 lifetimes' BetaGeoBetaBinomFitter: the penalizer.
 *
 * The model: while alive a customer transacts at each opportunity with
 * probability p ~ Beta(alpha, beta); at the start of each opportunity after
 * the first (the acquisition, opportunity 0) an alive customer dies with
 * probability theta ~ Beta(gamma, delta), and stays dead.
 *
 * Conventions (as in btyd.h):
 *	 - a history is (x, t_x, n): x transactions in the n opportunities after
 *	   the acquisition, the last at opportunity t_x (0 when x = 0); integers
 *	   with 0 <= x <= t_x <= n and x = 0 exactly when t_x = 0.
 *	 - Nothing allocates, nothing keeps global state: re-entrant.
 *	 - Invalid input gives NaN; nothing aborts.  Cost of a likelihood is
 *	   O(n - t_x) per cell (the sum of eq. 5), so n is bounded by
 *	   BGBB_MAX_OPPORTUNITIES everywhere.
 */
#ifndef CARTERA_BGBB_H
#define CARTERA_BGBB_H

#include <stdbool.h>
#include <stddef.h>

#include "btyd.h"

/* the largest n (and horizon n*) the numerics accept */
#define BGBB_MAX_OPPORTUNITIES 100000

/* p ~ Beta(alpha, beta): transaction; theta ~ Beta(gamma, delta): dropout */
typedef struct BgbbParams
{
	double		alpha;
	double		beta;
	double		gamma;
	double		delta;
} BgbbParams;

/* One distinct (x, t_x, n) history; weight = number of customers with it (>= 0). */
typedef struct BgbbCell
{
	double		x;
	double		t_x;
	double		n;
	double		weight;
} BgbbCell;

/* whether (x, t_x, n) is a history: whole numbers, 0 <= x <= t_x <= n <= max, x = 0 iff t_x = 0 */
extern bool bgbb_history_ok(double x, double t_x, double n);

/* index of the first invalid cell (history or weight), or n if all are valid */
extern size_t bgbb_cell_invalid(const BgbbCell *cells, size_t n);

/*
 * Sum of weight * ln L(alpha, beta, gamma, delta | x, t_x, n) [FHS10 eq. 5],
 * in log space (log-sum-exp over the n - t_x + 1 terms).  If grad is not
 * NULL it receives d/d(alpha, beta, gamma, delta) of that sum.  NaN for
 * invalid parameters or cells.  (Donations: -33,225.6 at the estimate.)
 */
extern double bgbb_loglik(const BgbbParams *p, const BgbbCell *cells, size_t n, double *grad);

/*
 * Maximum-likelihood fit.  Minimises lifetimes' BetaGeoBetaBinomFitter
 * objective
 *	 -loglik / sum(weight) + penalizer * (alpha^2 + beta^2 + gamma^2 + delta^2)
 * by BFGS on ln(alpha, beta, gamma, delta) (opt_multistart, analytic
 * gradient) from *inout (a field <= 0 or non-finite takes the default 1)
 * and four fixed starts.  se[] in the order alpha, beta, gamma, delta, of
 * the unpenalised likelihood.  converged = false when the supremum lies on
 * the edge (e.g. nobody ever dies: gamma -> 0), as for bgnbd_fit.
 */
extern BtydFitResult bgbb_fit(const BgbbCell *cells, size_t n, double penalizer,
							  BgbbParams *inout, btyd_interrupt_fn check);

/* P(alive at opportunity n + 1 | x, t_x, n) [FHS10 eq. 11], in [0, 1] */
extern double bgbb_p_alive(const BgbbParams *p, double x, double t_x, double n);

/*
 * E[X(n, n + nstar) | x, t_x, n]: expected transactions in the next nstar
 * opportunities [FHS10 eq. 13], nstar >= 0 whole; gamma = 1 (where eq. 13
 * is 0/0) and gamma near 1 are computed without cancellation.
 */
extern double bgbb_expected_purchases(const BgbbParams *p, double nstar,
									  double x, double t_x, double n);

/* E[X(n)]: expected transactions in the first n opportunities of a new customer [FHS10 eq. 7] */
extern double bgbb_expected_purchases_new(const BgbbParams *p, double n);

/* P(X(n) = x) for a new customer [FHS10 eq. 6]; 0 for x < 0 or x > n */
extern double bgbb_prob_purchases(const BgbbParams *p, double n, double x);

#endif							/* CARTERA_BGBB_H */
