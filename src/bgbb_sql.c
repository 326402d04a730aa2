/*
 * bgbb_sql.c — the SQL face of the BG/BB model (src/bgbb.c):
 *	 bgbb_history()	   purchase log -> (frequency, recency, n) on a period grid,
 *					   a combinable per-customer aggregate;
 *	 bgbb_fit()		   the fit aggregates, on the shared fit histogram
 *					   (fit_histogram.h, kind HIST_BGBB);
 *	 bgbb_params(), p_alive(), expected_purchases(), expected_purchases_new(),
 *	 probability_of_purchases() on cartera.bgbb_params.
 * The _partial/_merge two-step fits are in partial_agg.c.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "bgbb.h"
#include "cartera.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/executor.h"
#include "fit_histogram.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(cartera_bgbb_history_transfn);
PG_FUNCTION_INFO_V1(cartera_bgbb_history_combinefn);
PG_FUNCTION_INFO_V1(cartera_bgbb_history_serialfn);
PG_FUNCTION_INFO_V1(cartera_bgbb_history_deserialfn);
PG_FUNCTION_INFO_V1(cartera_bgbb_history_finalfn);
PG_FUNCTION_INFO_V1(cartera_bgbb_fit_transfn);
PG_FUNCTION_INFO_V1(cartera_bgbb_fit_finalfn);
PG_FUNCTION_INFO_V1(cartera_bgbb_params_make);
PG_FUNCTION_INFO_V1(cartera_bgbb_p_alive);
PG_FUNCTION_INFO_V1(cartera_bgbb_p_alive_summary);
PG_FUNCTION_INFO_V1(cartera_bgbb_expected_purchases);
PG_FUNCTION_INFO_V1(cartera_bgbb_expected_purchases_summary);
PG_FUNCTION_INFO_V1(cartera_bgbb_expected_purchases_new);
PG_FUNCTION_INFO_V1(cartera_bgbb_probability_of_purchases);

/* cartera.bgbb_params: alpha .. delta, log_likelihood, customers, iterations, converged, 4 se, aic, bic */
#define BGBB_NATTS 14
/* cartera.bgbb_summary: frequency, recency, n */
#define BGBB_SUMMARY_NATTS 3

/* predictions: parameters well beyond any fit's (the fit stops at e^+-31) */
#define BGBB_MIN_PARAM 1e-14
#define BGBB_MAX_PARAM 1e14

/* ------------------------------------------------------------------ */
/* bgbb_history(): the (x, t_x, n) of one customer on a period grid       */
/* ------------------------------------------------------------------ */

/*
 * Periods are [origin + k period, origin + (k+1) period), k = 0, 1, ...
 * (PostgreSQL's timestamptz + interval: months and days on the calendar of
 * the session time zone).  The state keeps the grid, the index E of the
 * period that contains as_of (periods 0 .. E-1 are complete) and the
 * distinct period indices with a purchase.
 */
typedef struct BgbbHistState
{
	TimestampTz origin;
	TimestampTz as_of;
	Interval	period;
	int32		E;
	int32		nidx;			/* entries used in idx */
	int32		cap;
	bool		sorted;			/* idx ascending and duplicate-free */
	int32	   *idx;
} BgbbHistState;

/* the approximate length of a period in microseconds, for a first guess of k */
static double
period_usecs(const Interval *p)
{
	return p->month * (DAYS_PER_YEAR / MONTHS_PER_YEAR) * USECS_PER_DAY +
		p->day * (double) USECS_PER_DAY + (double) p->time;
}

/* origin + k * period */
static TimestampTz
grid_start(const BgbbHistState *s, int32 k)
{
	Interval	iv;

	if (pg_mul_s32_overflow(s->period.month, k, &iv.month) ||
		pg_mul_s32_overflow(s->period.day, k, &iv.day) ||
		pg_mul_s64_overflow(s->period.time, (int64) k, &iv.time))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("period %d of the grid is out of range", k)));
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
												   TimestampTzGetDatum(s->origin),
												   IntervalPGetDatum(&iv)));
}

/* the k with grid_start(k) <= ts < grid_start(k + 1); origin <= ts, k in [0, kmax] */
static int32
grid_index(const BgbbHistState *s, TimestampTz ts, int32 kmax)
{
	double		guess = floor((double) (ts - s->origin) / period_usecs(&s->period));
	int32		k;

	if (guess < 0)
		guess = 0;
	if (guess > kmax)
		guess = kmax;
	k = (int32) guess;
	while (k > 0 && grid_start(s, k) > ts)
		k--;
	while (k < kmax && grid_start(s, k + 1) <= ts)
		k++;
	return k;
}

static void
grid_check(TimestampTz origin, const Interval *period, TimestampTz as_of)
{
	if (TIMESTAMP_NOT_FINITE(origin) || TIMESTAMP_NOT_FINITE(as_of))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("origin and as_of must be finite timestamps")));
	if (period->month < 0 || period->day < 0 || period->time < 0 ||
		(period->month == 0 && period->day == 0 && period->time == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("period must be a positive interval"),
				 errdetail("Each of its months, days and time parts must be zero or more, and one of them more than zero."),
				 errhint("Use the length of one transaction opportunity, e.g. interval '1 year' or '1 week'.")));
	if (as_of < origin)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("as_of must not be before origin"),
				 errdetail("The period grid starts at origin; as_of ends the observation.")));
}

static void
hist_append(BgbbHistState *s, int32 k, MemoryContext cxt)
{
	if (s->nidx > 0 && s->idx[s->nidx - 1] == k)
		return;
	if (s->nidx == s->cap)
	{
		int32		newcap = s->cap == 0 ? 8 : s->cap * 2;

		s->idx = s->idx == NULL ?
			MemoryContextAlloc(cxt, newcap * sizeof(int32)) :
			repalloc(s->idx, newcap * sizeof(int32));
		s->cap = newcap;
	}
	if (s->nidx > 0 && s->idx[s->nidx - 1] > k)
		s->sorted = false;
	s->idx[s->nidx++] = k;
}

static int
int32_cmp(const void *a, const void *b)
{
	int32		x = *(const int32 *) a,
				y = *(const int32 *) b;

	return (x > y) - (x < y);
}

static void
hist_sort(BgbbHistState *s)
{
	int32		m = 0;

	if (s->sorted)
		return;
	qsort(s->idx, s->nidx, sizeof(int32), int32_cmp);
	for (int32 i = 0; i < s->nidx; i++)
		if (m == 0 || s->idx[m - 1] != s->idx[i])
			s->idx[m++] = s->idx[i];
	s->nidx = m;
	s->sorted = true;
}

static BgbbHistState *
hist_state_new(MemoryContext cxt, TimestampTz origin, const Interval *period, TimestampTz as_of)
{
	BgbbHistState *s = MemoryContextAllocZero(cxt, sizeof(BgbbHistState));
	double		guess;

	s->origin = origin;
	s->as_of = as_of;
	s->period = *period;
	s->sorted = true;
	guess = floor((double) (as_of - origin) / period_usecs(period));
	if (guess > PG_INT32_MAX - 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many periods between origin and as_of"),
				 errdetail("There are about %.0f; at most %d are supported.", guess, PG_INT32_MAX - 2),
				 errhint("Use a longer period.")));
	/* the period containing as_of: the largest k with grid_start(k) <= as_of */
	s->E = grid_index(s, as_of, PG_INT32_MAX - 1);
	return s;
}

static bool
same_grid(const BgbbHistState *a, TimestampTz origin, const Interval *period, TimestampTz as_of)
{
	return a->origin == origin && a->as_of == as_of && a->period.month == period->month &&
		a->period.day == period->day && a->period.time == period->time;
}

static void
different_grid(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("origin, period and as_of must be the same for every row")));
}

/* bgbb_history(purchased_at, origin, period, as_of) */
Datum
cartera_bgbb_history_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	BgbbHistState *s = PG_ARGISNULL(0) ? NULL : (BgbbHistState *) PG_GETARG_POINTER(0);
	TimestampTz ts,
				origin,
				as_of;
	Interval   *period;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "cartera_bgbb_history_transfn called in non-aggregate context");
	if (PG_ARGISNULL(2) || PG_ARGISNULL(3) || PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("origin, period and as_of must not be null")));
	origin = PG_GETARG_TIMESTAMPTZ(2);
	period = PG_GETARG_INTERVAL_P(3);
	as_of = PG_GETARG_TIMESTAMPTZ(4);
	if (s == NULL)
	{
		grid_check(origin, period, as_of);
		s = hist_state_new(aggcontext, origin, period, as_of);
	}
	else if (!same_grid(s, origin, period, as_of))
		different_grid();
	if (PG_ARGISNULL(1))
		PG_RETURN_POINTER(s);
	ts = PG_GETARG_TIMESTAMPTZ(1);
	/* after as_of: not yet happened (as rfm() does) */
	if (ts > as_of)
		PG_RETURN_POINTER(s);
	if (ts < origin)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("purchase at %s is before the origin of the period grid",
						timestamptz_to_str(ts)),
				 errhint("Choose an origin at or before every customer's first purchase.")));
	hist_append(s, grid_index(s, ts, s->E), aggcontext);
	PG_RETURN_POINTER(s);
}

Datum
cartera_bgbb_history_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	BgbbHistState *s1 = PG_ARGISNULL(0) ? NULL : (BgbbHistState *) PG_GETARG_POINTER(0);
	BgbbHistState *s2 = PG_ARGISNULL(1) ? NULL : (BgbbHistState *) PG_GETARG_POINTER(1);

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "cartera_bgbb_history_combinefn called in non-aggregate context");
	if (s2 == NULL)
	{
		if (s1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s1);
	}
	if (s1 == NULL)
	{
		s1 = MemoryContextAllocZero(aggcontext, sizeof(BgbbHistState));
		*s1 = *s2;
		s1->idx = NULL;
		s1->nidx = s1->cap = 0;
		s1->sorted = true;
	}
	else if (!same_grid(s1, s2->origin, &s2->period, s2->as_of))
		different_grid();
	for (int32 i = 0; i < s2->nidx; i++)
		hist_append(s1, s2->idx[i], aggcontext);
	PG_RETURN_POINTER(s1);
}

Datum
cartera_bgbb_history_serialfn(PG_FUNCTION_ARGS)
{
	BgbbHistState *s = (BgbbHistState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	hist_sort(s);
	pq_begintypsend(&buf);
	pq_sendint64(&buf, s->origin);
	pq_sendint64(&buf, s->as_of);
	pq_sendint32(&buf, s->period.month);
	pq_sendint32(&buf, s->period.day);
	pq_sendint64(&buf, s->period.time);
	pq_sendint32(&buf, s->E);
	pq_sendint32(&buf, s->nidx);
	for (int32 i = 0; i < s->nidx; i++)
		pq_sendint32(&buf, s->idx[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

Datum
cartera_bgbb_history_deserialfn(PG_FUNCTION_ARGS)
{
	bytea	   *bytes = PG_GETARG_BYTEA_PP(0);
	MemoryContext aggcontext;
	StringInfoData buf;
	BgbbHistState *s;
	int32		n;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "cartera_bgbb_history_deserialfn called in non-aggregate context");
	buf.data = VARDATA_ANY(bytes);
	buf.len = VARSIZE_ANY_EXHDR(bytes);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	s = MemoryContextAllocZero(aggcontext, sizeof(BgbbHistState));
	s->origin = pq_getmsgint64(&buf);
	s->as_of = pq_getmsgint64(&buf);
	s->period.month = pq_getmsgint(&buf, 4);
	s->period.day = pq_getmsgint(&buf, 4);
	s->period.time = pq_getmsgint64(&buf);
	s->E = pq_getmsgint(&buf, 4);
	n = pq_getmsgint(&buf, 4);
	if (n < 0 || n > (buf.len - buf.cursor) / 4 || s->E < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("corrupt cartera bgbb_history state")));
	s->sorted = true;
	s->cap = Max(n, 1);
	s->idx = MemoryContextAlloc(aggcontext, s->cap * sizeof(int32));
	for (int32 i = 0; i < n; i++)
	{
		int32		k = pq_getmsgint(&buf, 4);

		if (k < 0 || k > s->E || (i > 0 && k <= s->idx[i - 1]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("corrupt cartera bgbb_history state")));
		s->idx[i] = k;
	}
	s->nidx = n;
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(s);
}

/*
 * The first period with a purchase is the acquisition (opportunity 0); the
 * n complete periods after it are the opportunities; x counts those with a
 * purchase, t_x is the last of them.  Purchases in the period that contains
 * as_of (not complete) count only as an acquisition: a customer acquired
 * there has n = 0 (bgbb_fit skips such rows).
 */
Datum
cartera_bgbb_history_finalfn(PG_FUNCTION_ARGS)
{
	BgbbHistState *s;
	Datum		values[BGBB_SUMMARY_NATTS];
	bool		nulls[BGBB_SUMMARY_NATTS] = {false, false, false};
	int32		k0,
				x = 0,
				t_x = 0,
				n;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "cartera_bgbb_history_finalfn called in non-aggregate context");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = (BgbbHistState *) PG_GETARG_POINTER(0);
	if (s->nidx == 0)
		PG_RETURN_NULL();		/* no purchase up to as_of: not a customer yet */
	hist_sort(s);
	k0 = s->idx[0];
	n = Max(s->E - 1 - k0, 0);
	for (int32 i = 1; i < s->nidx; i++)
		if (s->idx[i] - k0 <= n)
		{
			x++;
			t_x = s->idx[i] - k0;
		}
	values[0] = Int32GetDatum(x);
	values[1] = Int32GetDatum(t_x);
	values[2] = Int32GetDatum(n);
	PG_RETURN_DATUM(cartera_make_composite(fcinfo, values, nulls, BGBB_SUMMARY_NATTS));
}

/* ------------------------------------------------------------------ */
/* bgbb_fit()                                                           */
/* ------------------------------------------------------------------ */

/* (frequency, recency, n | summary) [, customers integer or bigint] [, penalizer float8] */
typedef struct BgbbSignature
{
	FitSignature fit;			/* from_summary, penalizer_arg (unit_arg = -1) */
	int			weight_arg;		/* -1 when none */
	bool		weight_int4;	/* customers integer, not bigint */
} BgbbSignature;

static const BgbbSignature *
bgbb_signature(FunctionCallInfo fcinfo)
{
	BgbbSignature *sig = (BgbbSignature *) fcinfo->flinfo->fn_extra;

	if (sig != NULL)
		return sig;
	sig = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(BgbbSignature));
	sig->fit.unit_arg = sig->fit.penalizer_arg = sig->weight_arg = -1;
	sig->fit.from_summary = type_is_rowtype(get_fn_expr_argtype(fcinfo->flinfo, 1));
	for (int i = 1 + (sig->fit.from_summary ? 1 : 3); i < PG_NARGS(); i++)
	{
		Oid			t = get_fn_expr_argtype(fcinfo->flinfo, i);

		if (t == INT8OID || t == INT4OID)
		{
			sig->weight_arg = i;
			sig->weight_int4 = (t == INT4OID);
		}
		else if (t == FLOAT8OID)
			sig->fit.penalizer_arg = i;
		else
			elog(ERROR, "cartera bgbb_fit called with unsupported argument type %u", t);
	}
	fcinfo->flinfo->fn_extra = sig;
	return sig;
}

static bool
summary_field(HeapTupleHeader t, int attno, double *v)
{
	bool		isnull;
	Datum		d = GetAttributeByNum(t, attno, &isnull);

	if (isnull)
		return false;
	*v = DatumGetInt32(d);
	return true;
}

/* the errors of a history given to bgbb_fit() or a prediction */
static void
check_bgbb_history(double x, double t_x, double n)
{
	if (x < 0 || t_x < 0 || n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("frequency, recency and n must not be negative, not %g, %g and %g", x, t_x, n)));
	if (x > t_x || t_x > n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("frequency <= recency <= n must hold, not %g, %g and %g", x, t_x, n),
				 errdetail("frequency counts the opportunities with a transaction after the first, recency is the last of them, n is the number of opportunities observed.")));
	if (x == 0 && t_x > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("recency must be 0 when frequency is 0, not %g", t_x)));
	if (n > BGBB_MAX_OPPORTUNITIES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("n must be at most %d opportunities, not %g", BGBB_MAX_OPPORTUNITIES, n),
				 errhint("Use a longer period.")));
}

Datum
cartera_bgbb_fit_transfn(PG_FUNCTION_ARGS)
{
	const BgbbSignature *sig = bgbb_signature(fcinfo);
	HistState  *s = fit_state(fcinfo, &sig->fit, 3);
	double		v[3];
	int64		weight = 1;

	s->kind = HIST_BGBB;
	if (sig->fit.from_summary)
	{
		HeapTupleHeader t;

		if (PG_ARGISNULL(1))
			PG_RETURN_POINTER(s);
		t = PG_GETARG_HEAPTUPLEHEADER(1);
		if (!summary_field(t, 1, &v[0]) || !summary_field(t, 2, &v[1]) || !summary_field(t, 3, &v[2]))
			PG_RETURN_POINTER(s);
	}
	else
	{
		if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
			PG_RETURN_POINTER(s);
		v[0] = PG_GETARG_INT32(1);
		v[1] = PG_GETARG_INT32(2);
		v[2] = PG_GETARG_INT32(3);
	}
	if (sig->weight_arg >= 0)
	{
		if (PG_ARGISNULL(sig->weight_arg))
			PG_RETURN_POINTER(s);
		weight = sig->weight_int4 ? PG_GETARG_INT32(sig->weight_arg) : PG_GETARG_INT64(sig->weight_arg);
		if (weight < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("customers must not be negative, not " INT64_FORMAT, weight)));
	}
	check_bgbb_history(v[0], v[1], v[2]);
	if (v[2] == 0 || weight == 0)
		PG_RETURN_POINTER(s);	/* no opportunity observed yet: no information */
	if (pg_add_s64_overflow(s->rows, weight, &s->rows) || s->rows > ((int64) 1 << 53))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("customer count out of range")));
	fit_hist_add(s, v, (double) weight);
	PG_RETURN_POINTER(s);
}

Datum
cartera_bgbb_fit_finalfn(PG_FUNCTION_ARGS)
{
	HistState  *s;
	HistEntry  *entries;
	BgbbCell   *cells;
	size_t		n;
	BgbbParams	p = {0, 0, 0, 0};
	BtydFitResult fit;
	Datum		values[BGBB_NATTS];
	bool		nulls[BGBB_NATTS] = {false};

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "cartera_bgbb_fit_finalfn called in non-aggregate context");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = (HistState *) PG_GETARG_POINTER(0);
	if (s->rows == 0)
		PG_RETURN_NULL();
	if (s->kind != HIST_BGBB || s->ndims != 3)
		elog(ERROR, "cartera_bgbb_fit_finalfn given the state of another fit");
	entries = fit_hist_sorted(s, &n);
	cells = palloc_extended(Max(n, 1) * sizeof(BgbbCell), MCXT_ALLOC_HUGE);
	for (size_t i = 0; i < n; i++)
	{
		cells[i].x = entries[i].key.v[0];
		cells[i].t_x = entries[i].key.v[1];
		cells[i].n = entries[i].key.v[2];
		cells[i].weight = entries[i].weight;
	}
	pfree(entries);
	fit = bgbb_fit(cells, n, s->penalizer, &p, fit_interrupt_check);
	if (!isfinite(fit.loglik))
	{
		ereport(WARNING,
				(errmsg("bgbb_fit found no finite likelihood for these histories"),
				 errdetail("The result is NULL.")));
		PG_RETURN_NULL();
	}
	if (!fit.converged)
		ereport(WARNING,
				(errmsg("bgbb_fit found no interior maximum after %d iterations", fit.iterations),
				 errdetail("The likelihood is largest at the edge of the parameter space (a Beta distribution degenerating: e.g. nobody drops out); the estimate returned is the best point found."),
				 errhint("Add a small penalizer, e.g. bgbb_fit(frequency, recency, n, 0.001).")));
	values[0] = Float8GetDatum(p.alpha);
	values[1] = Float8GetDatum(p.beta);
	values[2] = Float8GetDatum(p.gamma);
	values[3] = Float8GetDatum(p.delta);
	values[4] = Float8GetDatum(fit.loglik);
	values[5] = Int64GetDatum(s->rows);
	values[6] = Int32GetDatum(fit.iterations);
	values[7] = BoolGetDatum(fit.converged);
	cartera_fit_uncertainty(values, nulls, 8, 4, fit.se, fit.loglik, s->rows);
	PG_RETURN_DATUM(cartera_make_composite(fcinfo, values, nulls, BGBB_NATTS));
}

/* ------------------------------------------------------------------ */
/* parameters and predictions                                           */
/* ------------------------------------------------------------------ */

static const char *const param_names[4] = {"alpha", "beta", "gamma", "delta"};

static double
checked_param(double v, const char *name)
{
	if (!(v > 0) || isinf(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("BG/BB parameter %s must be a positive finite number, not %g", name, v)));
	if (v < BGBB_MIN_PARAM || v > BGBB_MAX_PARAM)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("BG/BB parameter %s = %g is outside the supported range [%g, %g]",
						name, v, BGBB_MIN_PARAM, BGBB_MAX_PARAM)));
	return v;
}

static BgbbParams
read_bgbb(HeapTupleHeader t)
{
	double		v[4];
	BgbbParams	p;

	for (int i = 0; i < 4; i++)
	{
		bool		isnull;
		Datum		d = GetAttributeByNum(t, i + 1, &isnull);

		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("BG/BB parameter %s is null", param_names[i]),
					 errhint("A fit over no rows returns NULL parameters.")));
		v[i] = checked_param(DatumGetFloat8(d), param_names[i]);
	}
	p.alpha = v[0];
	p.beta = v[1];
	p.gamma = v[2];
	p.delta = v[3];
	return p;
}

/* bgbb_params(alpha, beta, gamma, delta) */
Datum
cartera_bgbb_params_make(PG_FUNCTION_ARGS)
{
	Datum		values[BGBB_NATTS];
	bool		nulls[BGBB_NATTS];

	memset(nulls, true, sizeof(nulls));
	for (int i = 0; i < 4; i++)
	{
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("BG/BB parameter %s must not be null", param_names[i])));
		values[i] = Float8GetDatum(checked_param(PG_GETARG_FLOAT8(i), param_names[i]));
		nulls[i] = false;
	}
	PG_RETURN_DATUM(cartera_make_composite(fcinfo, values, nulls, BGBB_NATTS));
}

/* the history of a bgbb_summary; false when a field is NULL */
static bool
read_summary(HeapTupleHeader t, double *x, double *t_x, double *n)
{
	return summary_field(t, 1, x) && summary_field(t, 2, t_x) && summary_field(t, 3, n);
}

static void
check_horizon(double k, const char *what)
{
	if (k < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative, not %g", what, k)));
	if (k > BGBB_MAX_OPPORTUNITIES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s must be at most %d opportunities, not %g", what, BGBB_MAX_OPPORTUNITIES, k)));
}

static double
result(double v, const char *what)
{
	if (!isfinite(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is undefined for these arguments", what)));
	return v;
}

static Datum
p_alive_of(BgbbParams p, double x, double t_x, double n)
{
	check_bgbb_history(x, t_x, n);
	return Float8GetDatum(result(bgbb_p_alive(&p, x, t_x, n), "P(alive)"));
}

/* p_alive(params, frequency, recency, n) */
Datum
cartera_bgbb_p_alive(PG_FUNCTION_ARGS)
{
	return p_alive_of(read_bgbb(PG_GETARG_HEAPTUPLEHEADER(0)),
					  PG_GETARG_INT32(1), PG_GETARG_INT32(2), PG_GETARG_INT32(3));
}

/* p_alive(params, summary) */
Datum
cartera_bgbb_p_alive_summary(PG_FUNCTION_ARGS)
{
	BgbbParams	p = read_bgbb(PG_GETARG_HEAPTUPLEHEADER(0));
	double		x,
				t_x,
				n;

	if (!read_summary(PG_GETARG_HEAPTUPLEHEADER(1), &x, &t_x, &n))
		PG_RETURN_NULL();
	return p_alive_of(p, x, t_x, n);
}

static Datum
expected_of(BgbbParams p, double k, double x, double t_x, double n)
{
	check_horizon(k, "future_opportunities");
	check_bgbb_history(x, t_x, n);
	return Float8GetDatum(result(bgbb_expected_purchases(&p, k, x, t_x, n), "expected purchases"));
}

/* expected_purchases(params, future_opportunities, frequency, recency, n) */
Datum
cartera_bgbb_expected_purchases(PG_FUNCTION_ARGS)
{
	return expected_of(read_bgbb(PG_GETARG_HEAPTUPLEHEADER(0)), PG_GETARG_INT32(1),
					   PG_GETARG_INT32(2), PG_GETARG_INT32(3), PG_GETARG_INT32(4));
}

/* expected_purchases(params, future_opportunities, summary) */
Datum
cartera_bgbb_expected_purchases_summary(PG_FUNCTION_ARGS)
{
	BgbbParams	p = read_bgbb(PG_GETARG_HEAPTUPLEHEADER(0));
	double		x,
				t_x,
				n;

	if (!read_summary(PG_GETARG_HEAPTUPLEHEADER(2), &x, &t_x, &n))
		PG_RETURN_NULL();
	return expected_of(p, PG_GETARG_INT32(1), x, t_x, n);
}

/* expected_purchases_new(params, n) */
Datum
cartera_bgbb_expected_purchases_new(PG_FUNCTION_ARGS)
{
	BgbbParams	p = read_bgbb(PG_GETARG_HEAPTUPLEHEADER(0));
	double		n = PG_GETARG_INT32(1);

	check_horizon(n, "n");
	PG_RETURN_FLOAT8(result(bgbb_expected_purchases_new(&p, n), "expected purchases"));
}

/* probability_of_purchases(params, n, frequency) */
Datum
cartera_bgbb_probability_of_purchases(PG_FUNCTION_ARGS)
{
	BgbbParams	p = read_bgbb(PG_GETARG_HEAPTUPLEHEADER(0));
	double		n = PG_GETARG_INT32(1);

	check_horizon(n, "n");
	PG_RETURN_FLOAT8(result(bgbb_prob_purchases(&p, n, PG_GETARG_INT32(2)), "probability of purchases"));
}
