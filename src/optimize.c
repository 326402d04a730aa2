/* optimize.c - the one optimiser of cartera's model fits: BFGS on
 * log-parameters with analytic gradients, a line search that copes with the
 * rounding noise of a sum of log-likelihoods, and deterministic multistart.
 * Every customer-base model (src/btyd.c and the model families that follow
 * it) fits through opt_multistart(); see optimize.h. */

/*
 * No PostgreSQL headers, no allocation, no state between calls: built into
 * the extension and alone by test/unit and test/fuzz.
 */

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "optimize.h"

/*
 * BFGS on theta = ln(params): positivity for free, and every coordinate's
 * scale becomes "relative change".  Small fixed dimension, all storage on
 * the stack.
 *
 * Convergence: max |d objective / d theta_i| <= GTOL * noise scale, where
 * the objective is the per-customer negative log-likelihood and the scale is
 * the mean |per-customer LL| (>= 1): the objective is a sum of terms of that
 * size, so its gradient cannot be resolved much below 1e-16 of it.  Near the
 * optimum the decrease a step predicts (g'Hg ~ 1e-18) is below the rounding
 * noise of the objective itself, so the line search also accepts the
 * approximate Wolfe condition of Hager & Zhang (SIAM J. Optim. 16 (2005)):
 * a step whose value is within the noise when the slope shows it went
 * downhill.  Restarts reset H to a scaled identity; all deterministic.
 */
#define GTOL			1e-9
#define MAX_ITER		500
#define MAX_RESTARTS	8
#define STALL			25		/* iterations per progress check */
#define THETA_EDGE		13.8	/* |ln param| beyond which (1e6) we call it a boundary */
#define THETA_NEAR		9.2		/* beyond 1e4: worth trying the other starts */

static double
vmaxabs(const double *v, int n)
{
	double		m = 0.0;
	int			i;

	for (i = 0; i < n; i++)
		if (fabs(v[i]) > m)
			m = fabs(v[i]);
	return m;
}

/* projected gradient: a coordinate pinned at the box and pushing out is 0 */
static double
proj_gmax(const double *theta, const double *g, int n)
{
	double		m = 0.0;
	int			i;

	for (i = 0; i < n; i++)
	{
		double		gi = g[i];

		if ((theta[i] >= OPT_THETA_MAX && gi < 0.0) || (theta[i] <= -OPT_THETA_MAX && gi > 0.0))
			gi = 0.0;
		if (fabs(gi) > m)
			m = fabs(gi);
	}
	return m;
}

/*
 * Line search along d from x (value f, slope dg < 0).  On
 * success xn/fout/gn hold the accepted point.  Weak Wolfe conditions with
 * bracketing, safeguarded interpolation, and the approximate-Wolfe escape.
 */
static bool
line_search(int n, const double *x, double f, const double *d,
			double dg, double stepmax, double noise, opt_objfn fn, void *ctx,
			double *xn, double *fout, double *gn)
{
	const double c1 = 1e-4,
				c2 = 0.9;
	double		lo = 0.0,
				hi = INFINITY;
	double		flo = f,
				dglo = dg;
	double		step = fmin(1.0, stepmax);
	int			it,
				i;

	for (it = 0; it < 60; it++)
	{
		double		ft,
					dgt;
		bool		armijo,
					approx;

		for (i = 0; i < n; i++)
			xn[i] = x[i] + step * d[i];
		ft = fn(xn, gn, ctx);
		dgt = 0.0;
		for (i = 0; i < n; i++)
			dgt += gn[i] * d[i];

		if (!isfinite(ft) || !isfinite(dgt))
		{
			hi = step;
			step = 0.5 * (lo + hi);
			continue;
		}
		armijo = ft <= f + c1 * step * dg;
		approx = ft <= f + noise && dgt <= (2.0 * c1 - 1.0) * dg;
		if (!(armijo || approx) || ft > flo + noise)
		{
			/* too long: shrink, by safeguarded quadratic interpolation */
			double		qstep;

			hi = step;
			qstep = lo - 0.5 * dglo * (step - lo) * (step - lo) /
				(ft - flo - dglo * (step - lo));
			if (!(qstep > lo + 0.1 * (hi - lo) && qstep < hi - 0.1 * (hi - lo)))
				qstep = 0.5 * (lo + hi);
			step = qstep;
		}
		else if (dgt < c2 * dg)
		{
			/* still going downhill steeply: too short */
			lo = step;
			flo = ft;
			dglo = dgt;
			if (isinf(hi))
			{
				if (step >= stepmax)
				{
					*fout = ft;
					return true;	/* at the box / step cap: accept */
				}
				step = fmin(2.0 * step, stepmax);
			}
			else
				step = 0.5 * (lo + hi);
		}
		else
		{
			*fout = ft;
			return true;
		}
		if (hi - lo <= 1e-16 * fmax(1.0, hi))
			break;
	}
	/* no Wolfe point: settle for the best lower point seen, if any */
	if (lo > 0.0 && flo < f)
	{
		for (i = 0; i < n; i++)
			xn[i] = x[i] + lo * d[i];
		*fout = fn(xn, gn, ctx);
		return isfinite(*fout) && *fout <= f;
	}
	return false;
}

/*
 * Minimise fn from theta (updated in place).  *scale is the objective's
 * noise scale, refreshed by fn on every evaluation.
 */
static OptResult
minimize(int n, double *theta, opt_objfn fn, void *ctx, const double *scale,
		 btyd_interrupt_fn check)
{
	OptResult	res;
	double		g[OPT_MAXDIM],
				H[OPT_MAXDIM][OPT_MAXDIM],
				d[OPT_MAXDIM],
				xn[OPT_MAXDIM],
				gn[OPT_MAXDIM],
				s[OPT_MAXDIM],
				y[OPT_MAXDIM],
				Hy[OPT_MAXDIM];
	double		f;
	int			restart,
				i,
				j;

	res.iterations = 0;
	res.converged = false;
	f = fn(theta, g, ctx);
	res.f = f;
	res.gmax = isfinite(f) ? proj_gmax(theta, g, n) : INFINITY;
	if (!isfinite(f))
		return res;

	for (restart = 0; restart < MAX_RESTARTS; restart++)
	{
		double		f_start = f;
		double		f_window = f;
		bool		scaled = false;
		int			it;

		for (i = 0; i < n; i++)
			for (j = 0; j < n; j++)
				H[i][j] = (i == j) ? 1.0 : 0.0;

		for (it = 0; it < MAX_ITER; it++)
		{
			double		dg = 0.0,
						dmax,
						stepmax,
						fnew = f,
						sy = 0.0,
						yHy = 0.0,
						sc = fmax(1.0, *scale);

			if (check)
				check();
			res.gmax = proj_gmax(theta, g, n);
			if (res.gmax <= GTOL * sc)
			{
				res.converged = true;
				res.f = f;
				return res;
			}
			res.iterations++;
			/*
			 * Creeping along an edge of the parameter space (see
			 * multistart) gains less than 1e-12 per customer per STALL
			 * iterations: stop, not converged.
			 */
			if (it > 0 && it % STALL == 0)
			{
				if (f_window - f <= 1e-12 * sc)
					break;
				f_window = f;
			}

			for (i = 0; i < n; i++)
			{
				d[i] = 0.0;
				for (j = 0; j < n; j++)
					d[i] -= H[i][j] * g[j];
				/* do not push a pinned coordinate further out */
				if ((theta[i] >= OPT_THETA_MAX && d[i] > 0.0) ||
					(theta[i] <= -OPT_THETA_MAX && d[i] < 0.0))
					d[i] = 0.0;
				dg += d[i] * g[i];
			}
			if (!(dg < 0.0))
			{
				/* not a descent direction: fall back to steepest descent */
				for (i = 0; i < n; i++)
					for (j = 0; j < n; j++)
						H[i][j] = (i == j) ? 1.0 : 0.0;
				dg = 0.0;
				for (i = 0; i < n; i++)
				{
					d[i] = -g[i];
					dg -= g[i] * g[i];
				}
			}
			/* cap a step at a factor e^3 per parameter, and keep in the box */
			dmax = vmaxabs(d, n);
			stepmax = (dmax > 0.0) ? 3.0 / dmax : 1.0;
			for (i = 0; i < n; i++)
			{
				if (d[i] > 0.0)
					stepmax = fmin(stepmax, (OPT_THETA_MAX - theta[i]) / d[i]);
				else if (d[i] < 0.0)
					stepmax = fmin(stepmax, (-OPT_THETA_MAX - theta[i]) / d[i]);
			}
			if (!(stepmax > 0.0))
				break;

			if (!line_search(n, theta, f, d, dg, stepmax, 1e-13 * sc,
							 fn, ctx, xn, &fnew, gn))
				break;

			for (i = 0; i < n; i++)
			{
				s[i] = xn[i] - theta[i];
				y[i] = gn[i] - g[i];
				sy += s[i] * y[i];
			}
			for (i = 0; i < n; i++)
			{
				Hy[i] = 0.0;
				for (j = 0; j < n; j++)
					Hy[i] += H[i][j] * y[j];
				yHy += y[i] * Hy[i];
			}
			if (sy > 1e-300 && sy > 1e-12 * sqrt(yHy > 0.0 ? yHy : 0.0) * vmaxabs(s, n))
			{
				if (!scaled)
				{
					/* Nocedal & Wright eq. 6.20: H0 = (s'y / y'y) I */
					double		yy = 0.0,
								h0;

					for (i = 0; i < n; i++)
						yy += y[i] * y[i];
					h0 = sy / yy;
					for (i = 0; i < n; i++)
					{
						for (j = 0; j < n; j++)
							H[i][j] *= h0;
						Hy[i] *= h0;
					}
					yHy *= h0;
					scaled = true;
				}
				/* H+ = H - (Hy s' + s y'H)/sy + (1 + y'Hy/sy) s s'/sy */
				for (i = 0; i < n; i++)
					for (j = 0; j < n; j++)
						H[i][j] += -(Hy[i] * s[j] + s[i] * Hy[j]) / sy +
							(1.0 + yHy / sy) * s[i] * s[j] / sy;
			}
			for (i = 0; i < n; i++)
			{
				theta[i] = xn[i];
				g[i] = gn[i];
			}
			f = fnew;
		}
		res.gmax = proj_gmax(theta, g, n);
		res.f = f;
		if (res.gmax <= GTOL * fmax(1.0, *scale))
		{
			res.converged = true;
			return res;
		}
		/* a restart that could not improve at all: as good as it gets */
		if (restart > 0 && !(f < f_start))
			break;
	}
	return res;
}

/*
 * The likelihoods can have their supremum on the edge of the parameter
 * space, where a quasi-Newton method in log-parameters stalls with a tiny
 * gradient: a -> 0 with b -> inf (no dropout: plain NBD), a, b -> 0 (half
 * the customers drop out at once, the rest never), a, b -> inf (the same
 * dropout probability for all), q, gamma -> inf (no spend heterogeneity).
 * Such a stall can also happen away from the best edge when the start is
 * poor.  So: unless the first run ends with a small gradient at a point
 * well inside (all unit-free parameters within 1e-4..1e4), run from a few
 * fixed, deterministic starts and keep the lowest objective.  An estimate
 * beyond 1e-6..1e6 is reported as not converged: the supremum is not
 * attained there, and the values only say which edge it is (a penalizer
 * > 0 makes such fits well posed).
 */
static bool
theta_beyond(const double *theta, int n, double lim)
{
	int			i;

	for (i = 0; i < n; i++)
		if (fabs(theta[i]) > lim)
			return true;
	return false;
}

/*
 * starts[k] are start points in the scaled theta space the objective uses;
 * on return theta holds the best estimate (scaled).  Returns converged /
 * iterations / f of the best run.
 */
OptResult
opt_multistart(int n, double starts[][OPT_MAXDIM], int nstarts, opt_objfn fn, void *ctx,
			   const double *scale, btyd_interrupt_fn check, double *theta)
{
	OptResult	best;
	int			k,
				iters = 0,
				i;
	double		tie;

	best.f = INFINITY;
	best.gmax = INFINITY;
	best.iterations = 0;
	best.converged = false;
	for (k = 0; k < nstarts; k++)
	{
		double		th[OPT_MAXDIM];
		OptResult	m;

		if (k > 0 && best.converged && !theta_beyond(theta, n, THETA_NEAR))
			break;
		for (i = 0; i < n; i++)
			th[i] = fmax(-OPT_THETA_MAX, fmin(OPT_THETA_MAX, starts[k][i]));
		m = minimize(n, th, fn, ctx, scale, check);
		tie = 1e-11 * fmax(1.0, *scale);
		iters += m.iterations;
		if (m.converged && theta_beyond(th, n, THETA_EDGE))
			m.converged = false;
		if (!isfinite(m.f))
			continue;
		/*
		 * Lowest objective wins; within the rounding noise of the objective
		 * a converged interior point wins over one that is not.
		 */
		if (!isfinite(best.f) ||
			m.f < best.f - tie ||
			(m.f <= best.f + tie && m.converged && !best.converged))
		{
			best = m;
			memcpy(theta, th, sizeof(double) * n);
		}
	}
	best.iterations = iters;
	return best;
}


/*
 * The covariance of the estimate from the observed information.  fn is the
 * model's objective with the penalty off: the MEAN negative log-likelihood
 * over wsum customers, in theta = ln(param) (+ a constant per coordinate,
 * which changes no derivative).  The Hessian is central differences of fn's
 * analytic gradient (step 1e-4 in theta: truncation ~1e-8 relative,
 * rounding ~1e-12), symmetrised; cov(theta) = (wsum H)^-1 by Cholesky.  The
 * standard error of ln(param_i) is sqrt(cov_ii), that of param_i param_i *
 * sqrt(cov_ii) (delta method, exact to first order).
 */
bool
opt_log_covariance(int n, opt_objfn fn, void *ctx, const double *theta, double wsum,
				   double cov[OPT_MAXDIM][OPT_MAXDIM])
{
	const double h = 1e-4;
	double		H[OPT_MAXDIM][OPT_MAXDIM],
				L[OPT_MAXDIM][OPT_MAXDIM],
				inv[OPT_MAXDIM][OPT_MAXDIM],
				x[OPT_MAXDIM],
				gp[OPT_MAXDIM],
				gm[OPT_MAXDIM];
	int			i,
				j,
				k;

	for (i = 0; i < OPT_MAXDIM; i++)
		for (j = 0; j < OPT_MAXDIM; j++)
			cov[i][j] = NAN;
	if (n < 1 || n > OPT_MAXDIM || !(wsum > 0.0) || !isfinite(wsum))
		return false;
	for (j = 0; j < n; j++)
	{
		memcpy(x, theta, n * sizeof(double));
		x[j] = theta[j] + h;
		if (!isfinite(fn(x, gp, ctx)))
			return false;
		x[j] = theta[j] - h;
		if (!isfinite(fn(x, gm, ctx)))
			return false;
		for (i = 0; i < n; i++)
			H[i][j] = wsum * (gp[i] - gm[i]) / (2.0 * h);
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < i; j++)
			H[i][j] = H[j][i] = 0.5 * (H[i][j] + H[j][i]);

	/* H = L L' */
	for (j = 0; j < n; j++)
	{
		double		d = H[j][j];

		for (k = 0; k < j; k++)
			d -= L[j][k] * L[j][k];
		if (!(d > 0.0) || !isfinite(d))
			return false;		/* not a maximum, or a flat direction */
		L[j][j] = sqrt(d);
		for (i = j + 1; i < n; i++)
		{
			double		s = H[i][j];

			for (k = 0; k < j; k++)
				s -= L[i][k] * L[j][k];
			L[i][j] = s / L[j][j];
		}
	}
	/* inv = L^-1 (lower triangular), then H^-1 = inv' inv */
	for (j = 0; j < n; j++)
		for (i = 0; i < n; i++)
		{
			double		s = (i == j) ? 1.0 : 0.0;

			if (i < j)
			{
				inv[i][j] = 0.0;
				continue;
			}
			for (k = j; k < i; k++)
				s -= L[i][k] * inv[k][j];
			inv[i][j] = s / L[i][i];
		}
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
		{
			double		v = 0.0;

			for (k = (i > j ? i : j); k < n; k++)
				v += inv[k][i] * inv[k][j];
			cov[i][j] = v;
		}
	return true;
}

bool
opt_log_std_errors(int n, opt_objfn fn, void *ctx, const double *theta, double wsum, double *se)
{
	double		cov[OPT_MAXDIM][OPT_MAXDIM];
	bool		ok = opt_log_covariance(n, fn, ctx, theta, wsum, cov);

	for (int i = 0; i < n; i++)
		se[i] = ok ? sqrt(cov[i][i]) : NAN;
	return ok;
}
