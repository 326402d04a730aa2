/*
 * sbg.h
 *		Pure-C numerics of the shifted-beta-geometric (sBG) model of contractual
 *		retention: likelihood with gradient, maximum-likelihood fit, survival
 *		and retention projections, discounted expected residual lifetime.  No
 *		PostgreSQL headers (the SQL glue is src/sbg_sql.c); unit-tested alone
 *		by test/unit/sbg_check.c.
 *
 * References:
 *	 [FH07]  Fader & Hardie (2007), "How to project customer retention",
 *			 J. Interactive Marketing 21(1): the model, the "regular" and
 *			 "high end" worked example.
 *	 [FH10]  Fader & Hardie (2010), "Customer-base valuation in a contractual
 *			 setting: the perils of ignoring heterogeneity", Marketing
 *			 Science 29(1): DERL (their eq. 6).
 *
 * The model: each customer has a constant churn probability theta at every
 * renewal opportunity, theta ~ Beta(alpha, beta) across customers.  T, the
 * period in which a customer churns (T = 1: did not renew at the first
 * opportunity), has
 *	 P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta),	t >= 1
 *	 S(t) = P(T > t) = B(alpha, beta + t) / B(alpha, beta),		t >= 0
 *	 r(t) = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1).
 *
 * Conventions as in btyd.h: re-entrant, nothing allocates, invalid input
 * gives NaN, fits return BtydFitResult (loglik NaN on invalid input).
 */
#ifndef CARTERA_SBG_H
#define CARTERA_SBG_H

#include <stdbool.h>
#include <stddef.h>

#include "btyd.h"

typedef struct SbgParams
{
	double		alpha;
	double		beta;
} SbgParams;

/*
 * One distinct (t, active) pair: active = 0, churned in period t >= 1
 * (contributes ln P(T = t)); active = 1, still active after t >= 0 periods
 * (contributes ln S(t)).  t integer-valued; weight = customers, >= 0.
 */
typedef struct SbgCell
{
	double		t;
	double		active;
	double		weight;
} SbgCell;

/* index of the first invalid cell, or n if all are valid */
extern size_t sbg_cell_invalid(const SbgCell *cells, size_t n);

/*
 * Survivor counts n_0 >= n_1 >= ... >= n_k >= 0 (customers active at the
 * start of periods 1 .. k+1) as cells: n_{t-1} - n_t churned in period t,
 * n_k active after k periods; zero counts give no cell.  cells must hold
 * k + 1 entries; returns the number written, or (size_t) -1 when the
 * counts are negative, increasing or not finite.
 */
extern size_t sbg_cells_from_survivors(const double *survivors, size_t k1, SbgCell *cells);

/* sum of weight * log-likelihood; grad (may be NULL) gets d/d(alpha, beta) */
extern double sbg_loglik(const SbgParams *p, const SbgCell *cells, size_t n, double *grad);

/*
 * Maximum-likelihood fit by opt_multistart() on theta = ln(alpha, beta),
 * objective -loglik / sum(weight) + penalizer * (alpha^2 + beta^2).
 * *inout: start (fields <= 0 or non-finite take the defaults), estimate on
 * exit.  se[0..1]: standard errors of alpha and beta from the observed
 * information of the unpenalised likelihood.  converged = false when the
 * supremum is on the edge (nobody churns: alpha -> 0; no heterogeneity:
 * alpha, beta -> inf together; one period of data only: a flat ridge).
 */
extern BtydFitResult sbg_fit(const SbgCell *cells, size_t n, double penalizer,
							 SbgParams *inout, btyd_interrupt_fn check);

/* S(t), t >= 0 (real t allowed); in [0, 1] */
extern double sbg_survival(const SbgParams *p, double t);

/* r(t) = S(t)/S(t-1), t >= 1 */
extern double sbg_retention(const SbgParams *p, double t);

/* P(T = t), t >= 1 integer; 0 for t < 1 */
extern double sbg_churn_probability(const SbgParams *p, double t);

/*
 * DERL(d | n renewals) [FH10 eq. 6 with n - 1 -> n]: the expected number of
 * further payments, discounted, of a customer who has made n renewals (is
 * active after n periods), the next one undiscounted:
 *	 sum_{t >= 1} S(n + t) / S(n) / (1 + d)^(t - 1)
 *	   = B(alpha, beta+n+1)/B(alpha, beta+n) 2F1(1, beta+n+1; alpha+beta+n+1; 1/(1+d)).
 * d >= 0, n >= 0.  d = 0: (beta + n)/(alpha - 1) when alpha > 1, +Inf when
 * alpha <= 1 (the mean lifetime is infinite).  d > 0: a positive series
 * when it converges fast, else Gauss's continued fraction (both without
 * overflow, relative error ~1e-14); NaN if neither converges within its
 * bound (d below ~1e-12 with huge beta + n).
 */
extern double sbg_derl(const SbgParams *p, double d, double n);

/* E[T] = (alpha + beta - 1)/(alpha - 1) periods, +Inf when alpha <= 1 */
extern double sbg_expected_lifetime(const SbgParams *p);

#endif							/* CARTERA_SBG_H */
