/*
 * quadrature.c - adaptive Gauss-Kronrod 7/15 for a vector of integrands
 * (QUADPACK's qk15 rule; see quadrature.h).  No allocation: the intervals
 * live on the stack, at most QUAD_MAXINT of them.
 */
#include <math.h>
#include <string.h>

#include "quadrature.h"

const double quad_gk15_x[8] = {
	0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
	0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
	0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
	0.207784955007898467600689403773245, 0.0
};
const double quad_gk15_wk[8] = {
	0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
	0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
	0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
	0.204432940075298892414161999234649, 0.209482141084727828012999174891714
};
const double quad_gk15_wg[4] = {	/* Gauss weights of x[1], x[3], x[5], x[7] */
	0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
	0.381830050505118944950369775488975, 0.417959183673469387755102040816327
};

typedef struct QuadInterval
{
	double		lo,
				hi,
				err;			/* |Kronrod - Gauss| of f[0] */
	double		v[QUAD_MAXF];
} QuadInterval;

static void
gk15(quad_fn fn, const void *ctx, int nf, QuadInterval *iv)
{
	double		c = 0.5 * (iv->lo + iv->hi),
				h = 0.5 * (iv->hi - iv->lo),
				f[QUAD_MAXF],
				gauss0 = 0.0;
	int			i,
				j,
				s;

	memset(iv->v, 0, sizeof(iv->v));
	for (j = 0; j < 8; j++)
		for (s = 0; s < (j == 7 ? 1 : 2); s++)
		{
			fn(s == 0 ? c + h * quad_gk15_x[j] : c - h * quad_gk15_x[j], ctx, f);
			for (i = 0; i < nf; i++)
				iv->v[i] += quad_gk15_wk[j] * f[i];
			if (j & 1)
				gauss0 += quad_gk15_wg[j / 2] * f[0];
		}
	for (i = 0; i < nf; i++)
		iv->v[i] *= h;
	iv->err = fabs(iv->v[0] - h * gauss0);
}

int
quad_gk15(quad_fn fn, const void *ctx, int nf, double lo, double hi,
		  double rtol, double *result, double *abserr)
{
	QuadInterval iv[QUAD_MAXINT];
	int			n = 1,
				evals = 15,
				i,
				k;

	iv[0].lo = lo;
	iv[0].hi = hi;
	gk15(fn, ctx, nf, &iv[0]);
	for (;;)
	{
		double		total = 0.0,
					err = 0.0,
					mid;
		int			worst = 0;

		for (k = 0; k < n; k++)
		{
			total += iv[k].v[0];
			err += iv[k].err;
			if (iv[k].err > iv[worst].err)
				worst = k;
		}
		if (!(err > rtol * fabs(total)) || n == QUAD_MAXINT)
		{
			for (i = 0; i < nf; i++)
			{
				result[i] = 0.0;
				for (k = 0; k < n; k++)
					result[i] += iv[k].v[i];
			}
			if (abserr)
				*abserr = err;
			return evals;
		}
		mid = 0.5 * (iv[worst].lo + iv[worst].hi);
		if (!(mid > iv[worst].lo && mid < iv[worst].hi))
		{
			iv[worst].err = 0.0;	/* cannot split further: accept it */
			continue;
		}
		iv[n].lo = mid;
		iv[n].hi = iv[worst].hi;
		iv[worst].hi = mid;
		gk15(fn, ctx, nf, &iv[worst]);
		gk15(fn, ctx, nf, &iv[n]);
		n++;
		evals += 30;
	}
}
