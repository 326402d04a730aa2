/*
 * fuzz_rfm_state — cartera_rfm_deserialfn() on arbitrary bytes: the partial
 * state of rfm(), lifecycle() and clv() that parallel workers send to the
 * leader.  A state it accepts must be one the transition function could have
 * built, as far as the consumers depend on it (they index days[] with
 * ndays - 1 when purchases > 0 and render the sums); then the harness runs
 * those consumers: combine (with itself), serialize -> deserialize (must give
 * the same bytes), rfm_facts_from_state and exact_sum_get.
 */
#include "fz.h"

#include "cartera.h"
#include "datatype/timestamp.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

extern Datum cartera_rfm_deserialfn(PG_FUNCTION_ARGS);
extern Datum cartera_rfm_serialfn(PG_FUNCTION_ARGS);
extern Datum cartera_rfm_combinefn(PG_FUNCTION_ARGS);

/* the session time zone is UTC here: a day is a plain division */
pg_tz	   *session_timezone = NULL;

Datum
timestamptz_date(PG_FUNCTION_ARGS)
{
	TimestampTz ts = PG_GETARG_TIMESTAMPTZ(0);

	if (ts == DT_NOBEGIN)
		PG_RETURN_DATEADT(DATEVAL_NOBEGIN);
	if (ts == DT_NOEND)
		PG_RETURN_DATEADT(DATEVAL_NOEND);
	if (!IS_VALID_TIMESTAMP(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	PG_RETURN_DATEADT((DateADT) (ts >= 0 ? ts / USECS_PER_DAY : -((-ts + USECS_PER_DAY - 1) / USECS_PER_DAY)));
}

TimestampTz
date2timestamptz_opt_overflow(DateADT d, int *overflow)
{
	if (!IS_VALID_DATE(d) || (int64) d * USECS_PER_DAY < MIN_TIMESTAMP ||
		(int64) d * USECS_PER_DAY >= END_TIMESTAMP)
	{
		*overflow = d < 0 ? -1 : 1;
		return 0;
	}
	*overflow = 0;
	return (TimestampTz) d * USECS_PER_DAY;
}

static bytea *
serialize(RfmState *s)
{
	bool		isnull;

	return DatumGetByteaP(fz_call1(cartera_rfm_serialfn, PointerGetDatum(s), &isnull));
}

static RfmState *
deserialize(bytea *b)
{
	bool		isnull;

	return (RfmState *) DatumGetPointer(fz_call1(cartera_rfm_deserialfn, PointerGetDatum(b), &isnull));
}

static void
check_sum(const ExactSum *sum, const char *what)
{
	Numeric		n = exact_sum_get(sum);

	if (exact_sum_numeric_is_special(n))
		fz_fail("deserialized %s is NaN or infinite", what);
}

/* what the finals rely on */
static void
check_state(const RfmState *s)
{
	if (s->ndays < 0 || s->ndays > s->maxdays || s->purchases < 0)
		fz_fail("state with ndays %d (capacity %d), purchases %lld",
				s->ndays, s->maxdays, (long long) s->purchases);
	if ((s->purchases > 0) != (s->ndays > 0) || s->ndays > s->purchases)
		fz_fail("state with %lld purchases on %d days", (long long) s->purchases, s->ndays);
	for (int i = 1; i < s->ndays; i++)
		if (s->days[i] <= s->days[i - 1])
			fz_fail("state claims sorted days but day %d (%d) <= day %d (%d)",
					i, s->days[i], i - 1, s->days[i - 1]);
	check_sum(&s->gross, "gross");
	check_sum(&s->refunds, "refunds");
	check_sum(&s->first_day_amount, "first_day_amount");
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
		RfmState   *s = deserialize(fz_bytea(data, size));
		RfmState   *again;
		RfmState   *merged;
		bytea	   *b1,
				   *b2;
		RfmFacts	f;
		bool		isnull;

		stage = 1;
		check_state(s);
		b1 = serialize(s);
		again = deserialize(b1);
		b2 = serialize(again);
		if (VARSIZE(b1) != VARSIZE(b2) || memcmp(b1, b2, VARSIZE(b1)) != 0)
			fz_fail("serialize(deserialize(serialize(s))) differs from serialize(s)");
		stage = 2;
		merged = (RfmState *) DatumGetPointer(fz_call2(cartera_rfm_combinefn, (Datum) 0, true,
													   PointerGetDatum(again), false, &isnull));
		merged = (RfmState *) DatumGetPointer(fz_call2(cartera_rfm_combinefn, PointerGetDatum(merged), false,
													   PointerGetDatum(s), false, &isnull));
		stage = 3;
		rfm_facts_from_state(merged, &f);
		check_state(merged);
		(void) exact_sum_get(&merged->gross);
	}
	else if (stage == 0 ? !fz_error_is("08P01 22P03 22P02 22003 54000 53200")
			 : !fz_error_is("22003 22008 54000 53200"))
		fz_fail("stage %d raised %s: %s", stage, fz_error.sqlstate, fz_error.message);
	fz_end();
	return 0;
}
