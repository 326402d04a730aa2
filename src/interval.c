/*
 * interval.c - prediction intervals by the delta method (see interval.h).
 *
 * The fits give the covariance of theta = ln(params) (the observed
 * information); a prediction's uncertainty is carried through its gradient.
 * Working on the log (or logit) scale keeps the interval inside the
 * prediction's range and makes it asymmetric where the prediction is
 * skewed, as the sampling distribution of a rate or a probability is.
 */
#include <math.h>
#include <string.h>

#include "btyd.h"
#include "interval.h"

static double
to_scale(double v, IntervalScale scale)
{
	return scale == INTERVAL_LOGIT ? log(v) - log1p(-v) : log(v);
}

static double
from_scale(double u, IntervalScale scale)
{
	if (scale == INTERVAL_LOGIT)
		return u >= 0.0 ? 1.0 / (1.0 + exp(-u)) : exp(u) / (1.0 + exp(u));
	return exp(u);
}

PredictionInterval
delta_interval(interval_fn f, const void *ctx, int n, const double *params,
			   const double cov[OPT_MAXDIM][OPT_MAXDIM], double level, IntervalScale scale)
{
	const double h = 1e-5;
	PredictionInterval out;
	double		grad[OPT_MAXDIM],
				p[OPT_MAXDIM],
				var = 0.0,
				u,
				z,
				sd;
	int			i,
				j;

	out.estimate = f(params, ctx);
	out.std_error = out.lower = out.upper = NAN;
	if (!isfinite(out.estimate) || n < 1 || n > OPT_MAXDIM || !(level > 0.0 && level < 1.0))
		return out;
	/* at the edge of the scale the prediction does not move (P(alive) = 1 at x = 0 in BG/NBD) */
	if (out.estimate <= 0.0 || (scale == INTERVAL_LOGIT && out.estimate >= 1.0))
	{
		out.std_error = 0.0;
		out.lower = out.upper = out.estimate;
		return out;
	}
	u = to_scale(out.estimate, scale);
	for (i = 0; i < n; i++)
	{
		double		up,
					dn;

		memcpy(p, params, n * sizeof(double));
		p[i] = params[i] * exp(h);
		up = f(p, ctx);
		p[i] = params[i] * exp(-h);
		dn = f(p, ctx);
		if (!(up > 0.0 && dn > 0.0) || (scale == INTERVAL_LOGIT && !(up < 1.0 && dn < 1.0)))
			return out;
		grad[i] = (to_scale(up, scale) - to_scale(dn, scale)) / (2.0 * h);
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			var += grad[i] * cov[i][j] * grad[j];
	if (!(var >= 0.0) || !isfinite(var))
		return out;
	sd = sqrt(var);
	z = btyd_normal_quantile(0.5 + 0.5 * level);
	out.lower = from_scale(u - z * sd, scale);
	out.upper = from_scale(u + z * sd, scale);
	/* df/du: f (1 - f) on the logit scale, f on the log scale */
	out.std_error = sd * (scale == INTERVAL_LOGIT ? out.estimate * (1.0 - out.estimate) : out.estimate);
	return out;
}
