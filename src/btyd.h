/*
 * btyd.h
 *		Pure-C numerics for "buy 'til you die" models: BG/NBD (purchase counts
 *		and dropout) and Gamma-Gamma (spend per purchase), plus the special
 *		functions they need.  No PostgreSQL headers; safe to unit-test alone.
 *
 * References (equation numbers are cited in btyd.c / hyp2f1.c):
 *	 [FHL05a] Fader, Hardie & Lee (2005), "Counting your customers the easy way:
 *			  an alternative to the Pareto/NBD model", Marketing Science 24(2).
 *	 [FHL05b] Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves
 *			  for customer base analysis", J. Marketing Research 42(4).
 *	 [AS]	  Abramowitz & Stegun, Handbook of Mathematical Functions, ch. 15.
 *
 * Conventions shared by every function below:
 *	 - One time unit throughout (the unit the caller chose: weeks for the
 *	   CDNOW references, days for cartera's rfm()).  t_x, T, t and alpha are
 *	   all in that unit; rescaling all four by k leaves every prediction
 *	   unchanged (r, a, b, p, q, gamma are unit-free).
 *	 - x = number of REPEAT purchases (purchase days - 1), integer-valued,
 *	   t_x = time of last purchase since the first (0 when x == 0),
 *	   T = age, time from first purchase to the end of observation, t_x <= T.
 *	 - Gamma-Gamma m = mean spend per repeat purchase (currency units), x > 0.
 *	 - Functions never allocate, keep no global or static mutable state, and
 *	   are re-entrant.  Invalid arguments give NaN (or a result with
 *	   converged = false); they never abort, so the caller decides what
 *	   error to raise.  Use bgnbd_cell_invalid()/gg_cell_invalid() to find the
 *	   offending row for a helpful message.
 *	 - Likelihood totals are sums of weight * per-customer log-likelihood, so a
 *	   histogram of distinct (x, t_x, T) triples with counts gives exactly the
 *	   same result as one row per customer.  Evaluation is O(n cells); it is
 *	   fastest when cells are sorted by x (x-only terms are then computed once
 *	   per distinct x), but any order is correct.
 */
#ifndef CARTERA_BTYD_H
#define CARTERA_BTYD_H

#include <stdbool.h>
#include <stddef.h>

/* One distinct (x, t_x, T) triple; weight = number of customers with it (>= 0). */
typedef struct BtydCell
{
	double		x;
	double		t_x;
	double		T;
	double		weight;
} BtydCell;

/* BG/NBD: lambda ~ Gamma(shape r, rate alpha), dropout p ~ Beta(a, b). */
typedef struct BgnbdParams
{
	double		r;
	double		alpha;
	double		a;
	double		b;
} BgnbdParams;

/* Gamma-Gamma: spend z ~ Gamma(p, nu), nu ~ Gamma(shape q, rate gamma). */
typedef struct GammaGammaParams
{
	double		p;
	double		q;
	double		gamma;
} GammaGammaParams;

/* One distinct (x, m) pair: x repeat purchases (> 0), mean repeat spend m (> 0). */
typedef struct SpendCell
{
	double		x;
	double		m;
	double		weight;
} SpendCell;

typedef struct BtydFitResult
{
	double		loglik;			/* sum of weight * log-likelihood at the
								 * estimate, WITHOUT the penalty; NaN if the
								 * data were invalid */
	int			iterations;		/* quasi-Newton iterations, all restarts */
	bool		converged;		/* gradient test passed at the estimate */
} BtydFitResult;

/*
 * Called once per optimiser iteration (PostgreSQL: a function that does
 * CHECK_FOR_INTERRUPTS()).  It may longjmp out: the fit functions hold no
 * resources.  May be NULL.
 */
typedef void (*btyd_interrupt_fn) (void);

/* ---------------------------------------------------------------- hyp2f1.c */

/*
 * Gauss hypergeometric 2F1(a, b; c; z) for real arguments and z <= 1
 * (z == 1 only when c - a - b > 0, Gauss's sum).  Uses the series for
 * |z| <= 1/2, the Pfaff transformation for z < 0 and the 1 - z connection
 * formula (including the logarithmic cases c - a - b = integer and the
 * nearly-integer cases) near z = 1.  About 1e-13 relative where the result
 * is representable.  NaN for z > 1, NaN arguments, or c a non-positive
 * integer (pole) that is not cancelled by a terminating series.
 */
extern double btyd_hyp2f1(double a, double b, double c, double z);

/* ln|Gamma(x)| (re-entrant: no signgam), +Inf at the poles. */
extern double btyd_lgamma(double x);

/* digamma psi(x) = d/dx ln Gamma(x); NaN at the poles. */
extern double btyd_digamma(double x);

/*
 * ln of the rising factorial (a)_x = ln Gamma(a+x) - ln Gamma(a), a > 0,
 * x >= 0; accurate also when a >> x, where the difference of two lgamma
 * values would cancel (e.g. ln Gamma(r+x) - ln Gamma(r) in the BG/NBD
 * likelihood with large r).
 */
extern double btyd_lnpoch(double a, double x);

/* ---------------------------------------------------------------- btyd.c */

/*
 * Index of the first invalid cell, or n if all are valid.  Valid: all
 * fields finite, x >= 0, weight >= 0, 0 <= t_x <= T, and t_x > 0 whenever
 * x > 0 is allowed to be 0 too (same-day purchases are merged upstream,
 * but a zero recency is harmless).
 */
extern size_t bgnbd_cell_invalid(const BtydCell *cells, size_t n);

/* Valid: finite, x > 0, m > 0, weight >= 0. */
extern size_t gg_cell_invalid(const SpendCell *cells, size_t n);

/*
 * Sum of weight * per-customer log-likelihood [FHL05a eq. 6], including
 * the ln Gamma constants (so CDNOW gives -9582.4).  NaN for invalid
 * parameters or cells.
 */
extern double bgnbd_loglik(const BgnbdParams *p, const BtydCell *cells, size_t n);

/*
 * Maximum-likelihood fit.  Objective, as lifetimes' BetaGeoFitter:
 *	 -loglik / sum(weight) + penalizer * (r^2 + (alpha*s)^2 + a^2 + b^2),
 * with s = 10 / max(T) (lifetimes fits alpha on a time axis rescaled so
 * that the oldest customer is 10; this keeps the penalty unit-free).
 * *inout holds starting values on entry (any field <= 0 or non-finite is
 * replaced by a default; all zeros = all defaults) and the estimate on exit
 * (left unchanged if the data are invalid or empty).  Deterministic.
 */
extern BtydFitResult bgnbd_fit(const BtydCell *cells, size_t n, double penalizer,
							   BgnbdParams *inout, btyd_interrupt_fn check);

/*
 * E[Y(t) | x, t_x, T]: expected repeat purchases in (T, T + t]
 * [FHL05a eq. 10].  t >= 0.
 */
extern double bgnbd_expected_purchases(const BgnbdParams *p, double t,
									   double x, double t_x, double T);

/* P(alive | x, t_x, T) in [0, 1] [FHL05a eq. 11 / appendix], log-space. */
extern double bgnbd_p_alive(const BgnbdParams *p, double x, double t_x, double T);

/* E[X(t)] for a customer just acquired [FHL05a eq. 9]. */
extern double bgnbd_expected_purchases_new(const BgnbdParams *p, double t);

/* P(X(t) = n) for a customer just acquired [FHL05a eq. 8]. 0 for n < 0. */
extern double bgnbd_prob_purchases(const BgnbdParams *p, double t, int n);

/*
 * Gamma-Gamma: sum of weight * log f(m | x) [FHL05b eq. 3 after the
 * mean-of-x-gammas reduction], as lifetimes' GammaGammaFitter.
 */
extern double gg_loglik(const GammaGammaParams *g, const SpendCell *cells, size_t n);

/*
 * Objective: -loglik / sum(weight) + penalizer * (p^2 + q^2 + gamma^2)
 * (lifetimes' GammaGammaFitter; no rescaling, so a penalty depends on the
 * currency unit).  *inout as for bgnbd_fit.
 */
extern BtydFitResult gamma_gamma_fit(const SpendCell *cells, size_t n, double penalizer,
									 GammaGammaParams *inout, btyd_interrupt_fn check);

/*
 * E[M | x, m] = p (gamma + x m) / (p x + q - 1) [FHL05b eq. 5], lifetimes'
 * conditional_expected_average_profit; x = 0 gives the population mean
 * p gamma / (q - 1).  NaN when p x + q <= 1 (mean does not exist).
 */
extern double gg_expected_avg_spend(const GammaGammaParams *g, double x, double m);

/*
 * Discounted CLV, lifetimes' customer_lifetime_value method:
 *	 sum_{i=1..months} (E[Y(i*M)] - E[Y((i-1)*M)]) * spend / (1 + d)^i
 * with M = 30 / days_per_unit time units (one 30-day month), E[Y] from
 * bgnbd_expected_purchases and spend = gg_expected_avg_spend(g, x, m).
 * days_per_unit = 1 when t_x/T are in days, 7 when in weeks.  (lifetimes
 * with freq='W' uses 4.345 weeks a month: pass days_per_unit = 30/4.345
 * to reproduce it; with freq='D' on weekly data it used 30 weeks a month,
 * i.e. days_per_unit = 1.)  months >= 0, monthly_discount_rate > -1.
 */
extern double btyd_clv_discounted(const BgnbdParams *p, const GammaGammaParams *g,
								  double x, double t_x, double T, double m,
								  int months, double monthly_discount_rate,
								  double days_per_unit);

#endif							/* CARTERA_BTYD_H */
