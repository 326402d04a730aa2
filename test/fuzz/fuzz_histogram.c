/*
 * fuzz_histogram — cartera_histogram_deserialfn() on arbitrary bytes: the
 * partial state of bgnbd_fit() (x, t_x, T histogram) and gamma_gamma_fit()
 * ((x, m) histogram), and sbg_fit() ((t, active) cells, kind 2).  An accepted
 * state must be one the transition functions
 * could have built (2 or 3 dimensions, a known time unit, a finite penalizer
 * >= 0, counts >= 0, finite keys, positive finite weights; for 3 dimensions
 * 0 <= t_x <= T, T > 0; for 2, m > 0; for the BG/BB kind whole numbers
 * 0 <= x <= t_x <= n, n >= 1, x = 0 exactly when t_x = 0; for the survival
 * kind a whole t and active 0/1): the fits take them as given.  Then
 * combine (with itself) and serialize -> deserialize must agree.  The state
 * layout is fit_histogram.h's.
 */
#include "fz.h"

#include <math.h>

#include "cartera.h"
#include "fit_histogram.h"
#include "utils/hsearch.h"

extern Datum cartera_histogram_deserialfn(PG_FUNCTION_ARGS);
extern Datum cartera_histogram_serialfn(PG_FUNCTION_ARGS);
extern Datum cartera_histogram_combinefn(PG_FUNCTION_ARGS);

/* rfm.c is not linked here */
bool
cartera_summary_history(HeapTupleHeader s, int unit_days, double *x, double *t_x, double *T)
{
	fz_fail("cartera_summary_history reached");
}

double
cartera_summary_repeat_spend(HeapTupleHeader s)
{
	fz_fail("cartera_summary_repeat_spend reached");
}

static void
check_state(const HistState *s)
{
	HASH_SEQ_STATUS seq;
	HistEntry  *e;

	if (s->ndims < 2 || s->ndims > 3)
		fz_fail("histogram with %d dimensions", s->ndims);
	if (s->unit_days != 0 && s->unit_days != 1 && s->unit_days != 7)
		fz_fail("histogram with time unit %d days", s->unit_days);
	if (!(s->penalizer >= 0) || isinf(s->penalizer))
		fz_fail("histogram with penalizer %g", s->penalizer);
	if (s->rows < 0 || s->excluded < 0)
		fz_fail("histogram with %lld rows, %lld excluded", (long long) s->rows, (long long) s->excluded);
	hash_seq_init(&seq, s->htab);
	if (s->kind != HIST_HISTORY && s->kind != HIST_BGBB && s->kind != HIST_SURVIVAL)
		fz_fail("histogram of kind %d", s->kind);
	if ((s->kind == HIST_BGBB && s->ndims != 3) || (s->kind == HIST_SURVIVAL && s->ndims != 2))
		fz_fail("histogram of kind %d with %d dimensions", s->kind, s->ndims);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		const double *v = e->key.v;

		for (int d = 0; d < 3; d++)
			if (!isfinite(v[d]))
				fz_fail("histogram key with %g", v[d]);
		if (!(e->weight > 0) || isinf(e->weight))
			fz_fail("histogram weight %g", e->weight);
		if (v[0] < 0)
			fz_fail("histogram frequency %g", v[0]);
		if (s->kind == HIST_BGBB)
		{
			if (v[0] != floor(v[0]) || v[1] != floor(v[1]) || v[2] != floor(v[2]) ||
				!(v[0] <= v[1] && v[1] <= v[2] && v[2] >= 1) || (v[0] == 0) != (v[1] == 0))
				fz_fail("BG/BB histogram cell (%g, %g, %g)", v[0], v[1], v[2]);
		}
		else if (s->kind == HIST_SURVIVAL)
		{
			if (v[0] != floor(v[0]) || !(v[1] == 0 || v[1] == 1) || v[0] < (v[1] == 0 ? 1 : 0))
				fz_fail("survival histogram cell (%g, %g)", v[0], v[1]);
		}
		else if (s->ndims == 3 && !(v[1] >= 0 && v[1] <= v[2] && v[2] > 0))
			fz_fail("histogram t_x %g, T %g", v[1], v[2]);
		else if (s->ndims == 2 && !(v[1] > 0))
			fz_fail("histogram spend %g", v[1]);
	}
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sigjmp_buf	jb;
	volatile int stage = 0;

	fz_begin();
	fz_catch = &jb;
	if (sigsetjmp(jb, 0) == 0)
	{
		bool		isnull;
		HistState  *s = (HistState *) DatumGetPointer(fz_call1(cartera_histogram_deserialfn,
																PointerGetDatum(fz_bytea(data, size)), &isnull));
		HistState  *m;
		bytea	   *b;
		HistState  *again;

		stage = 1;
		check_state(s);
		m = (HistState *) DatumGetPointer(fz_call2(cartera_histogram_combinefn, (Datum) 0, true,
												   PointerGetDatum(s), false, &isnull));
		m = (HistState *) DatumGetPointer(fz_call2(cartera_histogram_combinefn, PointerGetDatum(m), false,
												   PointerGetDatum(s), false, &isnull));
		/* a weight past int64 (customers) is refused with 22003, so every state here re-reads */
		b = DatumGetByteaP(fz_call1(cartera_histogram_serialfn, PointerGetDatum(m), &isnull));
		again = (HistState *) DatumGetPointer(fz_call1(cartera_histogram_deserialfn, PointerGetDatum(b), &isnull));
		if (hash_get_num_entries(again->htab) != hash_get_num_entries(s->htab) ||
			again->rows != 2 * s->rows)
			fz_fail("combine + serialize changed the histogram");
	}
	else if (stage == 0 ? !fz_error_is("08P01 22P03 22003 54000 53200")
			 : !fz_error_is("22003"))
		fz_fail("stage %d raised %s: %s", stage, fz_error.sqlstate, fz_error.message);
	fz_end();
	return 0;
}
