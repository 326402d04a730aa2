/* unit.c - what the standalone numeric checks share: pass/fail counting,
 * relative errors, the CDNOW summary reader, the histogram the fit
 * aggregates keep, an independent numerical Hessian, and the random
 * variates of the simulations. */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "btyd.h"
#include "unit.h"

int			n_pass;
int			n_fail;
bool		verbose;

void
check(bool ok, const char *fmt,...)
{
	va_list		ap;

	if (ok)
		n_pass++;
	else
		n_fail++;
	if (ok && !verbose)
		return;
	printf("%s: ", ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

double
relerr(double got, double want)
{
	if (got == want)
		return 0.0;
	if (isnan(got) || isnan(want))
		return INFINITY;
	return fabs(got - want) / fmax(fabs(want), 1e-300);
}

void
check_rel(const char *what, double got, double want, double tol)
{
	double		e = relerr(got, want);

	check(e <= tol, "%s: got %.17g want %.17g (rel err %.2e, tol %.0e)", what, got, want, e, tol);
}

double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + 1e-9 * ts.tv_nsec;
}



int
read_cdnow(const char *path, Customer *out, int max)
{
	FILE	   *f = fopen(path, "r");
	char		line[512];
	int			n = 0;

	if (!f)
		return -1;
	if (!fgets(line, sizeof line, f))
	{
		fclose(f);
		return -1;
	}
	while (n < max && fgets(line, sizeof line, f))
	{
		Customer	c;

		if (sscanf(line, "%d,%lf,%lf,%lf,%lf", &c.id, &c.x, &c.t_x, &c.T, &c.zbar) == 5)
			out[n++] = c;
	}
	fclose(f);
	return n;
}

int
cmp_cell(const void *pa, const void *pb)
{
	const BtydCell *a = pa,
			   *b = pb;

	if (a->x != b->x)
		return a->x < b->x ? -1 : 1;
	if (a->t_x != b->t_x)
		return a->t_x < b->t_x ? -1 : 1;
	if (a->T != b->T)
		return a->T < b->T ? -1 : 1;
	return 0;
}


/* sort by (x, t_x, T) and merge equal triples: the histogram the aggregate keeps */
size_t
histogram(BtydCell *c, size_t n)
{
	size_t		i,
				m = 0;

	qsort(c, n, sizeof(BtydCell), cmp_cell);
	for (i = 0; i < n; i++)
	{
		if (m > 0 && cmp_cell(&c[m - 1], &c[i]) == 0)
			c[m - 1].weight += c[i].weight;
		else
			c[m++] = c[i];
	}
	return m;
}



/*
 * Standard errors the textbook way, independent of opt_log_std_errors():
 * the Hessian of ll in the natural parameters by second differences of
 * function values (step 1e-3 relative, or the one given), inverted by
 * Gauss-Jordan.
 */

bool
numeric_se(ll_natural_fn ll, const void *data, int n, const double *par, double *se)
{
	return numeric_se_step(ll, data, n, par, 1e-3, se);
}

bool
numeric_se_step(ll_natural_fn ll, const void *data, int n, const double *par,
				double step, double *se)
{
	double		H[4][8],
				x[4],
				h[4],
				f0 = ll(par, data);
	int			i,
				j,
				k;

	for (i = 0; i < n; i++)
		h[i] = step * par[i];
	for (i = 0; i < n; i++)
		for (j = 0; j <= i; j++)
		{
			double		fpp,
						fpm,
						fmp,
						fmm;

			if (i == j)
			{
				memcpy(x, par, n * sizeof(double));
				x[i] = par[i] + h[i];
				fpp = ll(x, data);
				x[i] = par[i] - h[i];
				fmm = ll(x, data);
				H[i][i] = -(fpp - 2.0 * f0 + fmm) / (h[i] * h[i]);
				continue;
			}
			memcpy(x, par, n * sizeof(double));
			x[i] = par[i] + h[i], x[j] = par[j] + h[j];
			fpp = ll(x, data);
			x[i] = par[i] + h[i], x[j] = par[j] - h[j];
			fpm = ll(x, data);
			x[i] = par[i] - h[i], x[j] = par[j] + h[j];
			fmp = ll(x, data);
			x[i] = par[i] - h[i], x[j] = par[j] - h[j];
			fmm = ll(x, data);
			H[i][j] = H[j][i] = -(fpp - fpm - fmp + fmm) / (4.0 * h[i] * h[j]);
		}
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			H[i][n + j] = (i == j);
	for (i = 0; i < n; i++)
	{
		double		piv = H[i][i];

		if (!(piv > 0.0))
			return false;
		for (j = 0; j < 2 * n; j++)
			H[i][j] /= piv;
		for (k = 0; k < n; k++)
		{
			double		f = H[k][i];

			if (k == i)
				continue;
			for (j = 0; j < 2 * n; j++)
				H[k][j] -= f * H[i][j];
		}
	}
	for (i = 0; i < n; i++)
		se[i] = sqrt(H[i][n + i]);
	return true;
}


/* xoshiro256** seeded with splitmix64 */
static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t	z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void
xoshiro_seed(Xoshiro *r, uint64_t seed)
{
	int			i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t
xoshiro_next(Xoshiro *r)
{
	uint64_t   *s = r->s;
	uint64_t	res = rotl(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

double
rand_unif(Xoshiro *r)
{
	return ((double) (xoshiro_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

double
rand_normal(Xoshiro *r)
{
	return sqrt(-2.0 * log(rand_unif(r))) * cos(2.0 * M_PI * rand_unif(r));
}

double
rand_log_gamma(Xoshiro *r, double k)
{
	double		d,
				c;

	if (k < 1.0)
		return rand_log_gamma(r, k + 1.0) + log(rand_unif(r)) / k;
	d = k - 1.0 / 3.0;
	c = 1.0 / sqrt(9.0 * d);
	for (;;)
	{
		double		x = rand_normal(r),
					v = 1.0 + c * x,
					u;

		if (v <= 0.0)
			continue;
		v = v * v * v;
		u = rand_unif(r);
		if (log(u) < 0.5 * x * x + d - d * v + d * log(v))
			return log(d * v);
	}
}

double
rand_beta(Xoshiro *r, double a, double b)
{
	double		la = rand_log_gamma(r, a),
				lb = rand_log_gamma(r, b),
				m = fmax(la, lb);

	return exp(la - m) / (exp(la - m) + exp(lb - m));
}
