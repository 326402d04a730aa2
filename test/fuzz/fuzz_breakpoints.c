/*
 * fuzz_breakpoints — cartera_breakpoints_deserialfn() on arbitrary bytes:
 * the partial state of breakpoints(value, n), sorted distinct values with counts.  An accepted state must have
 * n in 2..9 (the transition function checks it); then combine (with itself),
 * serialize -> deserialize and the final function (cut points) run on it.
 */
#include "fz.h"

#include "cartera.h"

extern Datum cartera_breakpoints_deserialfn(PG_FUNCTION_ARGS);
extern Datum cartera_breakpoints_serialfn(PG_FUNCTION_ARGS);
extern Datum cartera_breakpoints_combinefn(PG_FUNCTION_ARGS);
extern Datum cartera_breakpoints_finalfn(PG_FUNCTION_ARGS);

/* the head of src/scoring.c's state (keep in step with it) */
typedef struct BreakpointsState
{
	int32		nscores;
	int64		count;			/* values seen, duplicates included */
	int64		ndistinct;		/* sorted distinct values with counts */
} BreakpointsState;

/* segment.c is not linked here */
Datum
cartera_segment_from_scores(int r, int f, int m)
{
	fz_fail("cartera_segment_from_scores reached");
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
		BreakpointsState *s = (BreakpointsState *) DatumGetPointer(fz_call1(cartera_breakpoints_deserialfn,
																			 PointerGetDatum(fz_bytea(data, size)), &isnull));
		BreakpointsState *m;
		bytea	   *b;

		stage = 1;
		if (s->nscores < 2 || s->nscores > 9 || s->count < 0 || s->ndistinct < 0 || s->ndistinct > s->count)
			fz_fail("breakpoints state with n = %d, count %lld, %lld distinct",
					s->nscores, (long long) s->count, (long long) s->ndistinct);
		m = (BreakpointsState *) DatumGetPointer(fz_call2(cartera_breakpoints_combinefn, (Datum) 0, true,
														  PointerGetDatum(s), false, &isnull));
		m = (BreakpointsState *) DatumGetPointer(fz_call2(cartera_breakpoints_combinefn, PointerGetDatum(m), false,
														  PointerGetDatum(s), false, &isnull));
		b = DatumGetByteaP(fz_call1(cartera_breakpoints_serialfn, PointerGetDatum(m), &isnull));
		m = (BreakpointsState *) DatumGetPointer(fz_call1(cartera_breakpoints_deserialfn, PointerGetDatum(b), &isnull));
		if (m->count != 2 * s->count)
			fz_fail("combine + serialize changed the count");
		(void) fz_call2(cartera_breakpoints_finalfn, PointerGetDatum(m), false, (Datum) 0, true, &isnull);
	}
	else if (stage == 0 ? !fz_error_is("08P01 22P03 54000 53200")
			 : !fz_error_is("22003 54000 53200"))
		fz_fail("stage %d raised %s: %s", stage, fz_error.sqlstate, fz_error.message);
	fz_end();
	return 0;
}
