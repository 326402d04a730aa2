/*
 * interval.h
 *		Prediction intervals by the delta method (src/interval.c): a
 *		prediction f(params) with the covariance of ln(params) from the fit
 *		(opt_log_covariance).  Pure C.
 */
#ifndef CARTERA_INTERVAL_H
#define CARTERA_INTERVAL_H

#include "optimize.h"

/* the prediction at natural parameters p[0 .. n-1]; ctx carries the history */
typedef double (*interval_fn) (const double *p, const void *ctx);

typedef enum IntervalScale
{
	INTERVAL_LOG,				/* a positive quantity: expected purchases, CLV */
	INTERVAL_LOGIT				/* a probability: P(alive) */
} IntervalScale;

typedef struct PredictionInterval
{
	double		estimate;		/* f at the estimate */
	double		std_error;		/* delta-method standard error of f */
	double		lower;			/* the interval, symmetric on the log or logit */
	double		upper;			/* scale, so it stays in (0, inf) or (0, 1) */
} PredictionInterval;

/*
 * f's interval at the given level (0 < level < 1): u = log f or logit f,
 * its gradient in theta = ln(params) by central differences (step 1e-5),
 * var(u) = grad' cov grad, u +- z sd(u) mapped back; std_error = |df/du|
 * sd(u).  A prediction at the edge of its scale (0, or a probability of
 * exactly 1) has a degenerate interval [f, f] and std_error 0.  NaN fields
 * when f or the covariance is not finite.
 */
extern PredictionInterval delta_interval(interval_fn f, const void *ctx, int n, const double *params,
										 const double cov[OPT_MAXDIM][OPT_MAXDIM], double level,
										 IntervalScale scale);

#endif							/* CARTERA_INTERVAL_H */
