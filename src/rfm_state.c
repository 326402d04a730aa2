/*
 * rfm_state.c — the one transition state shared by every per-customer
 * aggregate (rfm, lifecycle, clv): accumulate, combine, serialize, deserialize.
 *
 * This is the only file that allocates in the aggregate memory context.  A
 * single C transition function serves every SQL overload; it looks at the
 * declared argument types once per query (cached in fn_extra) and then reads
 * purchased_at (timestamptz or date), amount (numeric, float8, bigint or
 * none), as_of (given, or the transaction timestamp) and an optional lifespan.
 */
#include "postgres.h"
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

#include "cartera.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/date.h"
#include "utils/float.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(cartera_rfm_transfn);
PG_FUNCTION_INFO_V1(cartera_rfm_combinefn);
PG_FUNCTION_INFO_V1(cartera_rfm_serialfn);
PG_FUNCTION_INFO_V1(cartera_rfm_deserialfn);
PG_FUNCTION_INFO_V1(cartera_rfm_state_merge_transfn);
PG_FUNCTION_INFO_V1(cartera_rfm_state_mergeable);

typedef enum AmountKind
{
	AMOUNT_NONE,
	AMOUNT_NUMERIC,
	AMOUNT_FLOAT8,
	AMOUNT_INT8
} AmountKind;

/* what the SQL signature of the calling aggregate looks like */
typedef struct TransSignature
{
	bool		at_is_date;		/* purchased_at is date, else timestamptz */
	AmountKind	amount_kind;
	int			amount_arg;		/* -1 when none */
	int			as_of_arg;		/* -1: transaction timestamp */
	bool		as_of_is_date;
	int			lifespan_arg;	/* -1 when none */
	bool		as_of_seen;		/* as_of_first is set */
	bool		as_of_varies;	/* rows have brought different as_of values */
	TimestampTz as_of_first;	/* the as_of of the first row of the query */
} TransSignature;

static TransSignature *
trans_signature(FunctionCallInfo fcinfo)
{
	TransSignature *sig = (TransSignature *) fcinfo->flinfo->fn_extra;
	int			nargs = PG_NARGS();

	if (sig != NULL)
		return sig;

	sig = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(TransSignature));
	sig->amount_arg = sig->as_of_arg = sig->lifespan_arg = -1;
	sig->at_is_date = get_fn_expr_argtype(fcinfo->flinfo, 1) == DATEOID;
	/* argument 0 is the state, 1 is purchased_at */
	for (int i = 2; i < nargs; i++)
	{
		Oid			t = get_fn_expr_argtype(fcinfo->flinfo, i);

		switch (t)
		{
			case NUMERICOID:
				sig->amount_kind = AMOUNT_NUMERIC;
				sig->amount_arg = i;
				break;
			case FLOAT8OID:
				sig->amount_kind = AMOUNT_FLOAT8;
				sig->amount_arg = i;
				break;
			case INT8OID:
				sig->amount_kind = AMOUNT_INT8;
				sig->amount_arg = i;
				break;
			case TIMESTAMPTZOID:
			case DATEOID:
				sig->as_of_arg = i;
				sig->as_of_is_date = (t == DATEOID);
				break;
			case INTERVALOID:
				sig->lifespan_arg = i;
				break;
			default:
				elog(ERROR, "cartera aggregate called with unsupported argument type %u", t);
		}
	}
	fcinfo->flinfo->fn_extra = sig;
	return sig;
}

/*
 * The UTC offset of the session TimeZone in microseconds if the zone has
 * never had a transition (UTC, Etc/GMT+5, ...), else false.  Decided once
 * per zone.
 */
static bool
fixed_zone_offset(int64 *offset_usec)
{
	static pg_tz *checked_tz = NULL;
	static bool fixed = false;
	static int64 offset = 0;

	if (checked_tz != session_timezone)
	{
		/* before any date a timestamptz can hold: 0 means no transition ever */
		pg_time_t	t = (pg_time_t) INT64CONST(-300000000000);
		long int	before_gmtoff,
					after_gmtoff;
		int			before_isdst,
					after_isdst;
		pg_time_t	boundary;

		fixed = session_timezone != NULL &&
			pg_next_dst_boundary(&t, &before_gmtoff, &before_isdst, &boundary,
								 &after_gmtoff, &after_isdst, session_timezone) == 0;
		offset = fixed ? (int64) before_gmtoff * USECS_PER_SEC : 0;
		checked_tz = session_timezone;
	}
	*offset_usec = offset;
	return fixed;
}

/*
 * Calendar day of an instant in the session TimeZone (the same as
 * ts::date).  In a zone without transitions it is plain arithmetic.
 * Otherwise: purchase logs are usually loaded in time order, so a one-entry
 * cache of the last day's [start, end) range avoids most time zone lookups.
 */
DateADT
cartera_timestamptz_day(TimestampTz ts)
{
	static pg_tz *cached_tz = NULL;
	static TimestampTz cached_start = 0;
	static TimestampTz cached_end = 0;
	static DateADT cached_day = 0;
	DateADT		day;
	int			overflow = 0;
	int64		offset;

	if (cached_tz == session_timezone && ts >= cached_start && ts < cached_end)
		return cached_day;
	if (!TIMESTAMP_NOT_FINITE(ts) && fixed_zone_offset(&offset))
	{
		int64		local = ts + offset;
		int64		d = local / USECS_PER_DAY;

		if (local % USECS_PER_DAY < 0)
			d--;				/* floor, not truncation, before 2000 */
		return (DateADT) d;
	}
	day = DatumGetDateADT(DirectFunctionCall1(timestamptz_date,
											  TimestampTzGetDatum(ts)));
	if (DATE_NOT_FINITE(day))
		return day;
	cached_start = date2timestamptz_opt_overflow(day, &overflow);
	cached_end = date2timestamptz_opt_overflow(day + 1, &overflow);
	if (overflow == 0 && cached_start <= ts && ts < cached_end)
	{
		cached_tz = session_timezone;
		cached_day = day;
	}
	else
		cached_tz = NULL;
	return day;
}

static TimestampTz
day_to_timestamptz(DateADT day)
{
	int			overflow = 0;
	TimestampTz ts = date2timestamptz_opt_overflow(day, &overflow);

	if (overflow != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("date out of range for timestamp with time zone")));
	return ts;
}

/* room for the state on a 64-byte boundary in a MAXALIGN'ed chunk */
#define RFM_STATE_ALIGN 64
#define RFM_STATE_ALLOC (sizeof(RfmState) + RFM_STATE_ALIGN - MAXIMUM_ALIGNOF)

static RfmState *
rfm_state_new(MemoryContext aggcontext, TimestampTz as_of)
{
	/* 64-byte aligned (see cartera.h); states are never freed one by one */
	char	   *raw = MemoryContextAllocZero(aggcontext, RFM_STATE_ALLOC);
	RfmState   *s = (RfmState *) TYPEALIGN(RFM_STATE_ALIGN, raw);

	StaticAssertStmt(RFM_STATE_ALLOC <= 256, "RfmState outgrew its 256-byte chunk");

	s->as_of = as_of;
	s->lifespan_years = get_float8_nan();
	s->days = s->inline_days;
	s->maxdays = RFM_INLINE_DAYS;
	s->days_sorted = true;
	s->fast_scale = -1;
	exact_sum_init(&s->gross);
	exact_sum_init(&s->refunds);
	exact_sum_init(&s->first_day_amount);
	return s;
}

/* the gross sum: the general accumulator plus the fast one */
void
rfm_state_gross(const RfmState *s, ExactSum *out)
{
	*out = s->gross;
	if (s->fast_scale < 0)
		return;
	/* adding may replace (and free) the spill: work on a copy of it */
	if (out->spill != NULL)
		out->spill = DatumGetNumeric(datumCopy(NumericGetDatum(out->spill), false, -1));
	exact_sum_add_fixed(out, s->fast_acc, s->fast_scale, CurrentMemoryContext);
}

static int
day_cmp(const void *a, const void *b)
{
	DateADT		x = *(const DateADT *) a;
	DateADT		y = *(const DateADT *) b;

	return (x > y) - (x < y);
}

/* sort days[] and drop duplicates */
void
rfm_state_compact(RfmState *s)
{
	int			n = 0;

	if (s->days_sorted)
		return;
	qsort(s->days, s->ndays, sizeof(DateADT), day_cmp);
	for (int i = 0; i < s->ndays; i++)
		if (n == 0 || s->days[n - 1] != s->days[i])
			s->days[n++] = s->days[i];
	s->ndays = n;
	s->days_sorted = true;
	if (n > 0)
		s->last_added = s->days[n - 1];
}

static void
reserve_days(RfmState *s, int32 needed, MemoryContext aggcontext)
{
	int32		newmax;

	if (needed <= s->maxdays)
		return;
	newmax = Max(s->maxdays * 2, needed);
	if ((Size) newmax * sizeof(DateADT) > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many distinct purchase days for one customer")));
	if (s->days == s->inline_days)
	{
		DateADT    *d = MemoryContextAlloc(aggcontext, newmax * sizeof(DateADT));

		memcpy(d, s->inline_days, s->ndays * sizeof(DateADT));
		s->days = d;
	}
	else
		s->days = repalloc(s->days, newmax * sizeof(DateADT));
	s->maxdays = newmax;
}

/* false when day repeats the last entry; notes when it breaks the order */
static bool
day_extends(RfmState *s, DateADT day)
{
	if (s->ndays > 0)
	{
		if (day == s->last_added)
			return false;
		if (day < s->last_added)
			s->days_sorted = false;
	}
	return true;
}

static void
add_day(RfmState *s, DateADT day, MemoryContext aggcontext)
{
	if (!day_extends(s, day))
		return;
	if (s->ndays == s->maxdays)
	{
		/* duplicates may be hiding in an unsorted array: squeeze first */
		rfm_state_compact(s);
		if (!day_extends(s, day))
			return;
		reserve_days(s, s->ndays + 1, aggcontext);
	}
	s->days[s->ndays++] = day;
	s->last_added = day;
}

static void
reset_sum(ExactSum *sum)
{
	if (sum->spill != NULL)
		pfree(sum->spill);
	exact_sum_init(sum);
}

static void
add_amount(ExactSum *sum, AmountKind kind, Datum amount, MemoryContext aggcontext)
{
	switch (kind)
	{
		case AMOUNT_NUMERIC:
			exact_sum_add_numeric(sum, DatumGetNumeric(amount), aggcontext);
			break;
		case AMOUNT_INT8:
			exact_sum_add_int64(sum, DatumGetInt64(amount), aggcontext);
			break;
		case AMOUNT_FLOAT8:
			/* converted once in the transition function */
			exact_sum_add_numeric(sum, DatumGetNumeric(amount), aggcontext);
			break;
		case AMOUNT_NONE:
			break;
	}
}

/*
 * The amount as checked_amount() left it: detoasted, but a short (1-byte)
 * header kept.  DatumGetNumeric() would copy every such value into a new
 * palloc'd 4-byte-header one (a palloc, a copy and a context reset per
 * row); the readers below go through VARDATA_ANY and need no copy.
 */
static inline Numeric
packed_numeric(Datum amount)
{
	return (Numeric) DatumGetPointer(amount);
}

static bool
amount_is_negative(AmountKind kind, Datum amount)
{
	switch (kind)
	{
		case AMOUNT_NUMERIC:
		case AMOUNT_FLOAT8:
			return exact_sum_is_negative_numeric(packed_numeric(amount));
		case AMOUNT_INT8:
			return DatumGetInt64(amount) < 0;
		case AMOUNT_NONE:
			break;
	}
	return false;
}

static void
reject_amount(const char *shown)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("purchase amount must be a finite number, not %s", shown),
			 errhint("Leave the amount NULL to skip the row.")));
}

/*
 * Validate the amount and bring float8 to numeric, so that the state only
 * ever adds exact decimals.  Returns the (possibly converted) datum.
 */
static Datum
checked_amount(AmountKind kind, Datum amount)
{
	if (kind == AMOUNT_FLOAT8)
	{
		float8		f = DatumGetFloat8(amount);

		if (isnan(f) || isinf(f))
			reject_amount(float8out_internal(f));
		return DirectFunctionCall1(float8_numeric, amount);
	}
	if (kind == AMOUNT_NUMERIC)
	{
		/* keep short headers: no copy per row (exact_sum reads them as is) */
		Numeric		n = (Numeric) PG_DETOAST_DATUM_PACKED(amount);

		if (exact_sum_numeric_is_special(n))
			reject_amount(DatumGetCString(DirectFunctionCall1(numeric_out,
															  NumericGetDatum(DatumGetNumeric(amount)))));
		return PointerGetDatum(n);
	}
	return amount;
}

static TimestampTz
read_as_of(FunctionCallInfo fcinfo, const TransSignature *sig)
{
	TimestampTz as_of;

	if (sig->as_of_arg < 0)
		return GetCurrentTransactionStartTimestamp();
	if (PG_ARGISNULL(sig->as_of_arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("as_of must not be null"),
				 errhint("Omit the argument to use the transaction timestamp.")));
	if (sig->as_of_is_date)
	{
		DateADT		d = PG_GETARG_DATEADT(sig->as_of_arg);

		if (DATE_NOT_FINITE(d))
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("as_of must be a finite date")));
		as_of = day_to_timestamptz(d);
	}
	else
	{
		as_of = PG_GETARG_TIMESTAMPTZ(sig->as_of_arg);
		if (TIMESTAMP_NOT_FINITE(as_of))
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("as_of must be a finite timestamp")));
	}
	return as_of;
}

static double
read_lifespan_years(FunctionCallInfo fcinfo, const TransSignature *sig)
{
	Interval   *iv;
	double		seconds;

	if (PG_ARGISNULL(sig->lifespan_arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("lifespan must not be null")));
	iv = PG_GETARG_INTERVAL_P(sig->lifespan_arg);
	seconds = DatumGetFloat8(DirectFunctionCall2(interval_part,
												 CStringGetTextDatum("epoch"),
												 IntervalPGetDatum(iv)));
	if (!(seconds >= 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lifespan must not be negative"),
				 errhint("Give the expected length of the relationship, e.g. interval '3 years'.")));
	/* interval '1 year' is 365.25 days by PostgreSQL's own convention */
	return seconds / (365.25 * SECS_PER_DAY);
}

/*
 * Add one purchase row (already known to have a date and, when the aggregate
 * has an amount column, an amount) to the state.  day is valid when
 * day_known (date input); otherwise it is derived from ts when the row counts.
 * as_of is the state's (passed in: the transition function knows it without
 * touching the state's cold part).
 */
static inline void
accumulate(RfmState *s, TimestampTz ts, DateADT day, bool day_known,
		   AmountKind kind, Datum amount, TimestampTz as_of, MemoryContext aggcontext)
{
	bool		refund = false;
	bool		fixed = false;
	cartera_acc v = 0;
	int			vscale = 0;

	/* after as_of: not yet happened from the point of view of the summary */
	if (ts > as_of)
		return;

	if (kind != AMOUNT_NONE)
	{
		amount = checked_amount(kind, amount);
		refund = amount_is_negative(kind, amount);
	}

	if (refund)
	{
		/* a refund lowers the total but is not a purchase */
		add_amount(&s->refunds, kind, amount, aggcontext);
		return;
	}

	if (!day_known)
		day = cartera_timestamptz_day(ts);

	/* decode the amount once into a scaled integer, when it fits one */
	switch (kind)
	{
		case AMOUNT_NUMERIC:
		case AMOUNT_FLOAT8:
			fixed = exact_sum_decode_numeric(packed_numeric(amount), &v, &vscale);
			break;
		case AMOUNT_INT8:
			v = DatumGetInt64(amount);
			vscale = 0;
			fixed = true;
			break;
		case AMOUNT_NONE:
			break;
	}

	if (s->purchases == 0 || day < s->first_day)
	{
		s->first_day = day;
		reset_sum(&s->first_day_amount);
	}
	if (day == s->first_day && kind != AMOUNT_NONE)
	{
		if (fixed)
			exact_sum_add_fixed(&s->first_day_amount, v, vscale, aggcontext);
		else
			add_amount(&s->first_day_amount, kind, amount, aggcontext);
	}
	if (s->purchases == 0 || ts < s->first_ts)
		s->first_ts = ts;
	if (s->purchases == 0 || ts > s->last_ts)
		s->last_ts = ts;
	s->purchases++;
	add_day(s, day, aggcontext);
	if (fixed)
	{
		int64		r;

		if (vscale == s->fast_scale && v >= PG_INT64_MIN && v <= PG_INT64_MAX &&
			!pg_add_s64_overflow(s->fast_acc, (int64) v, &r))
			s->fast_acc = r;
		else if (s->fast_scale < 0 && v >= PG_INT64_MIN && v <= PG_INT64_MAX)
		{
			s->fast_scale = (int8) vscale;
			s->fast_acc = (int64) v;
		}
		else
			exact_sum_add_fixed(&s->gross, v, vscale, aggcontext);
	}
	else if (kind != AMOUNT_NONE)
		add_amount(&s->gross, kind, amount, aggcontext);
}

Datum
cartera_rfm_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	TransSignature *sig;
	RfmState   *s;
	TimestampTz as_of;
	TimestampTz ts;
	DateADT		day;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "cartera_rfm_transfn called in non-aggregate context");
	sig = trans_signature(fcinfo);

	as_of = read_as_of(fcinfo, sig);
	if (sig->as_of_arg >= 0)
	{
		if (!sig->as_of_seen)
		{
			sig->as_of_first = as_of;
			sig->as_of_seen = true;
		}
		else if (as_of != sig->as_of_first)
			sig->as_of_varies = true;
	}
	if (PG_ARGISNULL(0))
	{
		s = rfm_state_new(aggcontext, as_of);
		if (sig->lifespan_arg >= 0)
			s->lifespan_years = read_lifespan_years(fcinfo, sig);
		s->has_amounts = sig->amount_kind != AMOUNT_NONE;
	}
	else
	{
		s = (RfmState *) PG_GETARG_POINTER(0);
		/* the slot the next purchase day goes to is in another cache line: ask early */
		__builtin_prefetch(s->days + s->ndays, 1);

		/*
		 * as_of is normally a constant; a varying one would be meaningless.
		 * While every row of the query has brought the same value, every
		 * state holds it: only look (a cache miss) when it varies.
		 */
		if (sig->as_of_varies && as_of != s->as_of)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("as_of must be the same for every row of a group")));
	}

	/* rows without a date or amount carry no purchase: skip them */
	if (PG_ARGISNULL(1) ||
		(sig->amount_arg >= 0 && PG_ARGISNULL(sig->amount_arg)))
		PG_RETURN_POINTER(s);

	if (sig->at_is_date)
	{
		day = PG_GETARG_DATEADT(1);
		if (DATE_NOT_FINITE(day))
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("purchase date must be finite")));
		ts = day_to_timestamptz(day);
	}
	else
	{
		ts = PG_GETARG_TIMESTAMPTZ(1);
		if (TIMESTAMP_NOT_FINITE(ts))
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("purchase timestamp must be finite")));
		day = 0;				/* computed below, only if the row counts */
	}

	accumulate(s, ts, day, sig->at_is_date, sig->amount_kind,
			   sig->amount_arg >= 0 ? PG_GETARG_DATUM(sig->amount_arg) : (Datum) 0,
			   as_of, aggcontext);
	PG_RETURN_POINTER(s);
}

/*
 * Merge src into dst (dst lives in aggcontext): the combine function's work,
 * and the insert trigger's (stored state + the statement's new rows).
 */
void
rfm_state_combine(RfmState *dst, RfmState *src, MemoryContext aggcontext)
{
	if (dst->as_of != src->as_of)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("as_of must be the same for every row of a group")));
	if (src->purchases > 0)
	{
		if (dst->purchases == 0 || src->first_day < dst->first_day)
		{
			dst->first_day = src->first_day;
			reset_sum(&dst->first_day_amount);
			exact_sum_add_sum(&dst->first_day_amount, &src->first_day_amount, aggcontext);
		}
		else if (src->first_day == dst->first_day)
			exact_sum_add_sum(&dst->first_day_amount, &src->first_day_amount, aggcontext);
		if (dst->purchases == 0 || src->first_ts < dst->first_ts)
			dst->first_ts = src->first_ts;
		if (dst->purchases == 0 || src->last_ts > dst->last_ts)
			dst->last_ts = src->last_ts;
		if (pg_add_s64_overflow(dst->purchases, src->purchases, &dst->purchases))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("purchase count out of range")));
		reserve_days(dst, dst->ndays + src->ndays, aggcontext);
		memcpy(dst->days + dst->ndays, src->days, src->ndays * sizeof(DateADT));
		dst->ndays += src->ndays;
		dst->days_sorted = false;
		if (dst->ndays > 0)
			dst->last_added = dst->days[dst->ndays - 1];
	}
	exact_sum_add_sum(&dst->gross, &src->gross, aggcontext);
	if (src->fast_scale >= 0)
		exact_sum_add_fixed(&dst->gross, src->fast_acc, src->fast_scale, aggcontext);
	exact_sum_add_sum(&dst->refunds, &src->refunds, aggcontext);
	dst->has_amounts |= src->has_amounts;
}

Datum
cartera_rfm_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	RfmState   *s1 = PG_ARGISNULL(0) ? NULL : (RfmState *) PG_GETARG_POINTER(0);
	RfmState   *s2 = PG_ARGISNULL(1) ? NULL : (RfmState *) PG_GETARG_POINTER(1);

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "cartera_rfm_combinefn called in non-aggregate context");
	if (s2 == NULL)
	{
		if (s1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s1);
	}
	if (s1 == NULL)
	{
		/*
		 * A state our deserializer just made already lives in this
		 * aggcontext and nobody else points at it: take it as it is (the
		 * leader of a parallel GROUP BY gets one per group and worker).
		 */
		if (s2->adoptable)
		{
			s2->adoptable = false;
			PG_RETURN_POINTER(s2);
		}
		/* otherwise the state we return must live in our aggcontext: copy s2 */
		s1 = rfm_state_new(aggcontext, s2->as_of);
		s1->lifespan_years = s2->lifespan_years;
	}
	rfm_state_combine(s1, s2, aggcontext);
	PG_RETURN_POINTER(s1);
}

/* format version, so a future layout can still read old partial states */
#define RFM_STATE_FORMAT 1

bytea *
rfm_state_serialize(RfmState *s)
{
	StringInfoData buf;
	ExactSum	gross;

	rfm_state_compact(s);
	/* pq_begintypsend() with a buffer of the right size (it allocates 1 kB) */
	buf.maxlen = 128 + s->ndays * sizeof(int32);
	buf.data = palloc(buf.maxlen);
	buf.len = 0;
	buf.cursor = 0;
	appendBinaryStringInfo(&buf, "\0\0\0\0", 4);
	pq_sendbyte(&buf, RFM_STATE_FORMAT);
	pq_sendbyte(&buf, s->has_amounts ? 1 : 0);
	pq_sendint64(&buf, s->as_of);
	pq_sendfloat8(&buf, s->lifespan_years);
	pq_sendint64(&buf, s->purchases);
	pq_sendint64(&buf, s->first_ts);
	pq_sendint64(&buf, s->last_ts);
	pq_sendint32(&buf, s->first_day);
	pq_sendint32(&buf, s->ndays);
	for (int i = 0; i < s->ndays; i++)
		pq_sendint32(&buf, s->days[i]);
	/* the wire format has one gross sum: fold the fast accumulator in */
	rfm_state_gross(s, &gross);
	exact_sum_send(&buf, &gross);
	exact_sum_send(&buf, &s->refunds);
	exact_sum_send(&buf, &s->first_day_amount);
	return pq_endtypsend(&buf);
}

/* whether bytes were written by rfm_state_serialize of this layout */
bool
rfm_state_format_current(bytea *bytes)
{
	return VARSIZE_ANY_EXHDR(bytes) > 0 &&
		*(unsigned char *) VARDATA_ANY(bytes) == RFM_STATE_FORMAT;
}

RfmState *
rfm_state_deserialize(bytea *bytes, MemoryContext mcxt)
{
	StringInfoData buf;
	RfmState   *s;
	int32		ndays;

	buf.data = VARDATA_ANY(bytes);
	buf.len = VARSIZE_ANY_EXHDR(bytes);
	buf.maxlen = buf.len;
	buf.cursor = 0;

	if (pq_getmsgbyte(&buf) != RFM_STATE_FORMAT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("unsupported cartera aggregate state format")));
	s = rfm_state_new(mcxt, 0);
	s->has_amounts = pq_getmsgbyte(&buf) != 0;
	s->as_of = pq_getmsgint64(&buf);
	s->lifespan_years = pq_getmsgfloat8(&buf);
	s->purchases = pq_getmsgint64(&buf);
	s->first_ts = pq_getmsgint64(&buf);
	s->last_ts = pq_getmsgint64(&buf);
	s->first_day = pq_getmsgint(&buf, 4);
	ndays = pq_getmsgint(&buf, 4);
	if (ndays < 0 || (Size) ndays > (Size) (buf.len - buf.cursor) / sizeof(int32))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("corrupt cartera aggregate state")));
	reserve_days(s, ndays, mcxt);
	for (int i = 0; i < ndays; i++)
	{
		s->days[i] = pq_getmsgint(&buf, 4);
		/* serialfn sends them compacted: the finals rely on that */
		if (i > 0 && s->days[i] <= s->days[i - 1])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("corrupt cartera aggregate state"),
					 errdetail("Purchase days out of order.")));
	}
	s->ndays = ndays;
	/* the finals read days[ndays - 1] whenever there is a purchase */
	if (s->purchases < ndays || (s->purchases > 0) != (ndays > 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("corrupt cartera aggregate state"),
				 errdetail("%lld purchases on %d days.", (long long) s->purchases, ndays)));
	if (ndays > 0)
		s->last_added = s->days[ndays - 1];
	exact_sum_recv(&buf, &s->gross, mcxt);
	exact_sum_recv(&buf, &s->refunds, mcxt);
	exact_sum_recv(&buf, &s->first_day_amount, mcxt);
	pq_getmsgend(&buf);
	return s;
}

Datum
cartera_rfm_serialfn(PG_FUNCTION_ARGS)
{
	PG_RETURN_BYTEA_P(rfm_state_serialize((RfmState *) PG_GETARG_POINTER(0)));
}

Datum
cartera_rfm_deserialfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	RfmState   *s;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "cartera_rfm_deserialfn called in non-aggregate context");
	s = rfm_state_deserialize(PG_GETARG_BYTEA_PP(0), aggcontext);
	/* made in aggcontext, pointed at by nobody else: the combine may keep it */
	s->adoptable = true;
	PG_RETURN_POINTER(s);
}

/*
 * For the customer_state trigger (state_trigger.c): a state outside any
 * aggregate, fed one (timestamptz, numeric) purchase at a time, and merged
 * with a stored one.  Same rules as the transition function above.
 */
RfmState *
rfm_state_create(TimestampTz as_of, MemoryContext mcxt)
{
	RfmState   *s = rfm_state_new(mcxt, as_of);

	s->has_amounts = true;
	return s;
}

void
rfm_state_add_purchase(RfmState *s, TimestampTz ts, Numeric amount, MemoryContext mcxt)
{
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("purchase timestamp must be finite")));
	accumulate(s, ts, 0, false, AMOUNT_NUMERIC, NumericGetDatum(amount), s->as_of, mcxt);
}

/*
 * Deferred maintenance (sql/cartera_deferred.sql): the queue holds, per
 * customer and purchase statement, the state of the statement's new rows;
 * the applier merges them with the stored state by the aggregate
 * cartera.rfm_state_merge(state, as_of), whose transition function this is
 * (its final function is the serial function: the result is a state again).
 * Every state is taken at as_of, as the insert trigger does.
 */
Datum
cartera_rfm_state_merge_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	RfmState   *acc = PG_ARGISNULL(0) ? NULL : (RfmState *) PG_GETARG_POINTER(0);
	RfmState   *next;
	TimestampTz as_of;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "cartera_rfm_state_merge_transfn called in non-aggregate context");
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("as_of must not be null")));
	as_of = PG_GETARG_TIMESTAMPTZ(2);
	if (acc == NULL)
	{
		acc = rfm_state_new(aggcontext, as_of);
		acc->has_amounts = true;
	}
	if (PG_ARGISNULL(1))
		PG_RETURN_POINTER(acc);
	next = rfm_state_deserialize(PG_GETARG_BYTEA_PP(1), CurrentMemoryContext);
	next->as_of = as_of;
	rfm_state_combine(acc, next, aggcontext);
	PG_RETURN_POINTER(acc);
}

/*
 * Whether new rows can be merged into a stored state at as_of: it is a state
 * of the current layout whose purchases are all at or before as_of (after a
 * clock step backwards, or with no state at all, the customer is recomputed
 * from the purchases instead).
 */
Datum
cartera_rfm_state_mergeable(PG_FUNCTION_ARGS)
{
	bytea	   *bytes;
	RfmState   *s;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_BOOL(false);
	bytes = PG_GETARG_BYTEA_PP(0);
	if (!rfm_state_format_current(bytes))
		PG_RETURN_BOOL(false);
	s = rfm_state_deserialize(bytes, CurrentMemoryContext);
	PG_RETURN_BOOL(s->purchases == 0 || s->last_ts <= PG_GETARG_TIMESTAMPTZ(1));
}
