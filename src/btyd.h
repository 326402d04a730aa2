/*
 * btyd.h
 *		Pure-C numerics for "buy 'til you die" models: BG/NBD (repeat purchases
 *		and dropout) and Gamma-Gamma (spend per purchase), plus the special
 *		functions they need.  No PostgreSQL headers; unit-tested alone by
 *		test/unit (make -C test/unit check).
 *
 * References:
 *	 [FHL05a] Fader, Hardie & Lee (2005), "Counting your customers the easy way:
 *			  an alternative to the Pareto/NBD model", Marketing Science 24(2);
 *			  equation numbers below are that paper's.  P(alive) is from their
 *			  note "Computing P(alive) using the BG/NBD model".
 *	 [FHL05b] Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves
 *			  for customer base analysis", J. Marketing Research 42(4), and
 *			  Fader & Hardie's note "The Gamma-Gamma model of monetary value".
 *	 [AS]	  Abramowitz & Stegun, Handbook of Mathematical Functions.
 *	 lifetimes (github.com/CamDavidsonPilon/lifetimes): the CDNOW numbers,
 *			  the penalizer, and the CLV method follow it.
 *
 * Conventions shared by every function below:
 *	 - ONE time unit throughout, the caller's choice (weeks for the published
 *	   CDNOW numbers; days are natural for rfm()).  t_x, T, t and alpha are in
 *	   that unit; multiplying all four by k changes no prediction and no fitted
 *	   unit-free parameter (r, a, b, p, q, gamma).  The BG/NBD log-likelihood
 *	   itself shifts by -sum(weight * x) * ln k (it is a density in time).
 *	 - x = number of REPEAT purchases (purchase days - 1), integer-valued;
 *	   t_x = time from the first to the last purchase (ignored when x = 0);
 *	   T = time from the first purchase to the end of observation; t_x <= T.
 *	 - Gamma-Gamma: m = mean spend per repeat purchase day, x > 0, m > 0.
 *	 - Nothing allocates, nothing keeps global or static mutable state (no
 *	   libm lgamma(), whose signgam is global): every function is re-entrant
 *	   and thread-safe.  The caller owns all memory; no scratch buffers.
 *	 - Invalid input gives NaN (fits: converged = false, loglik = NaN, *inout
 *	   untouched); nothing aborts.  bgnbd_cell_invalid() / gg_cell_invalid()
 *	   find the offending cell for an error message.
 *	 - Likelihoods are sums of weight * per-customer log-likelihood, so a
 *	   histogram of distinct triples with counts gives exactly the result of
 *	   one row per customer.  Cost is O(cells) per evaluation, about 3x lower
 *	   when cells are sorted by x (terms that depend on x alone are then
 *	   computed once per distinct x); any order gives the same answer.
 */
#ifndef CARTERA_BTYD_H
#define CARTERA_BTYD_H

#include <stdbool.h>
#include <stddef.h>

#include "optimize.h"

/* One distinct (x, t_x, T) triple; weight = number of customers with it (>= 0). */
typedef struct BtydCell
{
	double		x;
	double		t_x;
	double		T;
	double		weight;
} BtydCell;

/* BG/NBD: purchase rate lambda ~ Gamma(shape r, rate alpha), dropout
 * probability after each repeat purchase p ~ Beta(a, b). */
typedef struct BgnbdParams
{
	double		r;
	double		alpha;
	double		a;
	double		b;
} BgnbdParams;

/* Gamma-Gamma: spend per purchase ~ Gamma(shape p, rate nu),
 * nu ~ Gamma(shape q, rate gamma) across customers. */
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

/* Pareto/NBD: purchase rate lambda ~ Gamma(shape r, rate alpha) while alive,
 * lifetime ~ Exponential(mu), mu ~ Gamma(shape s, rate beta). */
typedef struct ParetoNbdParams
{
	double		r;
	double		alpha;
	double		s;
	double		beta;
} ParetoNbdParams;

typedef struct BtydFitResult
{
	double		loglik;			/* sum of weight * log-likelihood at the
								 * estimate, WITHOUT the penalty; NaN if the
								 * input was invalid or empty */
	int			iterations;		/* quasi-Newton iterations, all starts */
	bool		converged;		/* small gradient at an interior point; false
								 * also when the likelihood's supremum lies on
								 * the edge of the parameter space (see
								 * bgnbd_fit) */
	double		se[OPT_MAXDIM]; /* standard error of each parameter, in the
								 * order of the model's params struct, from
								 * the observed information of the unpenalised
								 * log-likelihood (opt_log_std_errors); NaN
								 * when not positive definite */
	double		log_cov[OPT_MAXDIM][OPT_MAXDIM];	/* covariance of ln(params)
													 * (opt_log_covariance), the
													 * transaction models only;
													 * NaN when unknown */
} BtydFitResult;

/* btyd_interrupt_fn: the optimiser's interrupt hook (optimize.h) */

/* a result with nothing estimated: loglik, se and log_cov NaN, converged false */
extern void btyd_fit_result_init(BtydFitResult *out);

/* ---------------------------------------------------------------- hyp2f1.c */

/*
 * Gauss hypergeometric 2F1(a, b; c; z), real arguments, z <= 1 (z = 1 only
 * when c - a - b > 0: Gauss's sum).  Series for |z| <= 1/2, Pfaff for z < 0,
 * the 1 - z connection formula near z = 1 with the logarithmic (c - a - b
 * integer) and nearly-logarithmic cases handled without cancellation.
 * About 1e-13 relative for moderate parameters (|a|, |b| up to ~10, any c,
 * z down to -1e12 and up to 1 - 1e-12); less where the function itself is
 * ill-conditioned (a or b within 1e-12 of a non-positive integer, or large
 * parameters of mixed sign whose series cancel).  NaN for z > 1, NaN input,
 * or a pole (c a non-positive integer not cancelled by a terminating series).
 * Not used by the predictions (see bgnbd_expected_purchases): it loses
 * digits for large parameters and some of its series run up to 1e7 terms;
 * test/unit keeps it as a checked utility.
 */
extern double btyd_hyp2f1(double a, double b, double c, double z);

/* ln|Gamma(x)|, re-entrant (no signgam); +Inf at the poles. */
extern double btyd_lgamma(double x);

/* digamma psi(x) = d/dx ln Gamma(x); NaN at the poles. */
extern double btyd_digamma(double x);

/*
 * ln of the rising factorial (a)_x = ln Gamma(a+x) - ln Gamma(a), a > 0,
 * x >= 0; accurate also when a >> x, where a difference of two lgamma values
 * would cancel (ln Gamma(r+x) - ln Gamma(r) in the likelihood with large r).
 */
extern double btyd_lnpoch(double a, double x);

/* psi(x+d) - psi(x), x > 0, x+d > 0; accurate also when d << x. */
extern double btyd_digamma_diff(double x, double d);

/* the standard normal quantile (AS 241), ~1e-16 relative; +-Inf at 0 and 1 */
extern double btyd_normal_quantile(double p);

/* ---------------------------------------------------------------- btyd.c */

/*
 * Index of the first invalid cell, or n if all are valid.  BG/NBD cells:
 * all fields finite, x >= 0, 0 <= t_x <= T, weight >= 0.  Spend cells:
 * finite, x > 0, m > 0, weight >= 0.
 */
extern size_t bgnbd_cell_invalid(const BtydCell *cells, size_t n);
extern size_t gg_cell_invalid(const SpendCell *cells, size_t n);

/*
 * Sum of weight * per-customer log-likelihood [FHL05a eq. 6], with all the
 * constants (CDNOW in weeks: -9582.43).  NaN for invalid parameters or cells.
 */
extern double bgnbd_loglik(const BgnbdParams *p, const BtydCell *cells, size_t n);

/*
 * Maximum-likelihood fit.  Minimises lifetimes' BetaGeoFitter objective
 *	 -loglik / sum(weight) + penalizer * (r^2 + (alpha*s)^2 + a^2 + b^2),
 * s = 10 / max(T) (lifetimes fits on a time axis rescaled so the oldest
 * customer is 10; this keeps the penalised fit unit-free).  penalizer >= 0;
 * lifetimes suggests 0.001..0.1 for small samples.
 *
 * *inout: starting values on entry (a field <= 0 or non-finite takes the
 * default; all zeros = all defaults), the estimate on exit.  The optimiser
 * is BFGS on log-parameters with analytic gradients; if the first run does
 * not end well inside the parameter space it also runs from a few fixed
 * starts and keeps the best, so results are deterministic and do not depend
 * much on the start.  When the supremum of the likelihood lies on an edge
 * (a -> 0 with b -> inf: nobody drops out; a, b -> 0; a, b -> inf) the
 * estimate is the best point found, some parameter beyond 1e-6..1e6, and
 * converged = false: report it, and suggest a penalizer.
 *
 * Cost: ~20-40 iterations of 1-2 likelihood+gradient evaluations, each
 * O(cells): CDNOW (1016 cells) ~2 ms; 63k cells ~0.1 s; 400k unsorted ~1.3 s.
 */
extern BtydFitResult bgnbd_fit(const BtydCell *cells, size_t n, double penalizer,
							   BgnbdParams *inout, btyd_interrupt_fn check);

/*
 * The fit of the BG/NBD family (BG/NBD, MBG/NBD): one parametrisation,
 * starts and edge test, the model's likelihood given as eval (sum of weight
 * * LL; gradient d/d(r, alpha, a, b) when grad is not NULL; sum of weight *
 * |LL| into *absll when not NULL; NaN for invalid input).
 */
typedef double (*bgnbd_eval_fn) (const BgnbdParams *p, const BtydCell *cells, size_t n,
								 double *grad, double *absll);
extern BtydFitResult bgnbd_family_fit(bgnbd_eval_fn eval, const BtydCell *cells, size_t n,
									  double penalizer, BgnbdParams *inout,
									  btyd_interrupt_fn check);

/*
 * E[Y(t) | x, t_x, T]: expected repeat purchases in (T, T + t] for a
 * customer with that history [FHL05a eq. 10].  t >= 0.  Finite, >= 0 and
 * <= (r + x) t / (alpha + T) within the SQL bounds (r, alpha, a, b in
 * [1e-8, 1e8], x and T up to 2^31, t up to 1e7), including a = 1 (where
 * eq. 10 is 0/0) and extreme histories (then ~0); far beyond them (1e300)
 * it may be NaN or +Inf where (r + x) t / alpha overflows.  Bounded cost
 * whatever the arguments: a positive series of at most 2e5 terms or a
 * quadrature of at most 3880 integrand evaluations (~0.5 ms); so are
 * bgnbd_expected_purchases_new() and each month of btyd_clv_discounted().
 */
extern double bgnbd_expected_purchases(const BgnbdParams *p, double t,
									   double x, double t_x, double T);

/*
 * The bracket of [FHL05a eq. 10] without its P(alive) factor, at u = t /
 * (alpha + T): (a+b+x-1)/(a-1) [1 - (1+u)^-(r+x) 2F1(r+x, b+x; a+b+x-1;
 * u/(1+u))], the expected purchases in the next t of a customer alive at
 * T (MBG/NBD uses it with b+1).  Bounded cost (see above).
 */
extern double bgnbd_cond_num(const BgnbdParams *p, double x, double u);

/* P(alive | x, t_x, T) in [0, 1], computed in log space: exactly 1 for
 * x = 0, 0 (not NaN) for hopeless histories such as x=1000, t_x=10, T=100. */
extern double bgnbd_p_alive(const BgnbdParams *p, double x, double t_x, double T);

/* E[X(t)]: expected repeat purchases in (0, t] for a new customer [FHL05a eq. 9]. */
extern double bgnbd_expected_purchases_new(const BgnbdParams *p, double t);

/* P(X(t) = n) for a new customer [FHL05a eq. 8]; 0 for n < 0; in [0, 1]. */
extern double bgnbd_prob_purchases(const BgnbdParams *p, double t, int n);

/*
 * Gamma-Gamma: sum of weight * ln f(m | x) [FHL05b], the likelihood of
 * lifetimes' GammaGammaFitter (mean of x Gamma(p, nu) spends is
 * Gamma(px, x nu); nu integrated out).
 */
extern double gg_loglik(const GammaGammaParams *g, const SpendCell *cells, size_t n);

/*
 * Fit; objective -loglik / sum(weight) + penalizer * (p^2 + q^2 + gamma^2),
 * lifetimes' GammaGammaFitter (gamma on the caller's currency scale, as
 * there).  *inout and converged as for bgnbd_fit; the edge here is
 * q, gamma -> inf (no spend heterogeneity across customers).
 */
extern BtydFitResult gamma_gamma_fit(const SpendCell *cells, size_t n, double penalizer,
									 GammaGammaParams *inout, btyd_interrupt_fn check);

/*
 * E[mean spend | x, m] = p (gamma + m x) / (p x + q - 1) [FHL05b]:
 * lifetimes' conditional_expected_average_profit, a credibility-weighted
 * mix of the population mean p gamma / (q - 1) and the customer's m.
 * x = 0 gives the population mean (m ignored).  NaN when p x + q <= 1 (the
 * mean does not exist); +Inf only when the result itself exceeds float8
 * (no intermediate overflow: p x beyond float8 gives gamma/x + m).
 */
extern double gg_expected_avg_spend(const GammaGammaParams *g, double x, double m);

/*
 * Discounted CLV, lifetimes' customer_lifetime_value method:
 *	 sum_{i=1..months} (E[Y(i M)] - E[Y((i-1) M)]) * spend / (1 + d)^i,
 * E[Y] = bgnbd_expected_purchases(p, ., x, t_x, T),
 * spend = gg_expected_avg_spend(g, x, m), d = monthly_discount_rate > -1,
 * M = 30 / days_per_unit model time units (a 30-day month): days_per_unit
 * = 1 when t_x, T, alpha are in days, 7 in weeks.  (lifetimes' freq='W'
 * uses 4.345 weeks per month: days_per_unit = 30/4.345 reproduces it; its
 * default freq='D' on weekly data, as in its docs, is days_per_unit = 1.)
 * months >= 0.  NaN on invalid input; +Inf if the CLV exceeds float8; 0
 * when no purchase is expected, whatever the spend.
 */
extern double btyd_clv_discounted(const BgnbdParams *p, const GammaGammaParams *g,
								  double x, double t_x, double T, double m,
								  int months, double monthly_discount_rate,
								  double days_per_unit);

/* ---------------------------------------------------------------- pareto_nbd.c */

/*
 * Pareto/NBD [SMC87; Fader & Hardie's note on deriving it], on the same
 * cells and conventions as BG/NBD.  The likelihood's "died in (t_x, T]"
 * branch is integrated directly (no 2F1 difference: no overflow, no
 * cancellation, either regime alpha >= beta or alpha < beta) by adaptive
 * Gauss-Kronrod to 1e-12, with the gradient from the same nodes.  CDNOW
 * in weeks: r 0.5534, alpha 10.5802, s 0.6061, beta 11.6562, LL -9594.98.
 */
extern double pareto_nbd_loglik(const ParetoNbdParams *p, const BtydCell *cells, size_t n);

/*
 * The same by a chosen method, with the gradient d/d(r, alpha, s, beta)
 * into grad when not NULL (test/unit compares them): PNBD_AUTO as the fits
 * do, the series where it converges fast and quadrature elsewhere;
 * PNBD_SERIES (NaN where the series is not used); PNBD_QUADRATURE always.
 */
typedef enum PnbdMethod
{
	PNBD_AUTO,
	PNBD_SERIES,
	PNBD_QUADRATURE
} PnbdMethod;
extern double pareto_nbd_loglik_by(const ParetoNbdParams *p, const BtydCell *cells, size_t n,
								   PnbdMethod method, double *grad);

/* as bgnbd_fit, theta = ln(r, alpha, s, beta) with the same time scaling */
extern BtydFitResult pareto_nbd_fit(const BtydCell *cells, size_t n, double penalizer,
									ParetoNbdParams *inout, btyd_interrupt_fn check);

/* P(alive | x, t_x, T): < 1 also for x = 0, falling as T grows */
extern double pareto_nbd_p_alive(const ParetoNbdParams *p, double x, double t_x, double T);

/* E[Y(t) | x, t_x, T]: expected repeat purchases in (T, T + t] */
extern double pareto_nbd_expected_purchases(const ParetoNbdParams *p, double t,
											double x, double t_x, double T);

/* E[X(t)] for a new customer */
extern double pareto_nbd_expected_purchases_new(const ParetoNbdParams *p, double t);

/* P(X(t) = n) for a new customer, in [0, 1]; 0 for n < 0 */
extern double pareto_nbd_prob_purchases(const ParetoNbdParams *p, double t, int n);

/* ---------------------------------------------------------------- mbgnbd.c */

/*
 * MBG/NBD [Batislam, Denizel & Filiztekin 2007], lifetimes'
 * ModifiedBetaGeoFitter: BG/NBD whose customers may also drop out right
 * after the first purchase, so a one-time buyer's P(alive) falls with T.
 * Same parameters (r, alpha, a, b), cells and conventions as BG/NBD.
 * CDNOW in weeks: r 0.525, alpha 6.183, a 0.891, b 1.614 (BTYDplus).
 */
extern double mbgnbd_loglik(const BgnbdParams *p, const BtydCell *cells, size_t n);
extern BtydFitResult mbgnbd_fit(const BtydCell *cells, size_t n, double penalizer,
								BgnbdParams *inout, btyd_interrupt_fn check);
extern double mbgnbd_p_alive(const BgnbdParams *p, double x, double t_x, double T);
extern double mbgnbd_expected_purchases(const BgnbdParams *p, double t,
										double x, double t_x, double T);
extern double mbgnbd_expected_purchases_new(const BgnbdParams *p, double t);
extern double mbgnbd_prob_purchases(const BgnbdParams *p, double t, int n);

#endif							/* CARTERA_BTYD_H */
