/*
 * sbg_sql.c — SQL glue of the shifted-beta-geometric model (src/sbg.c): the
 * sbg_fit() function on survivor counts, the sbg_fit() aggregates on
 * customers (the shared fit histogram of btyd_agg.c, kind HIST_SURVIVAL,
 * cells (t, active)), and the projections on cartera.sbg_params.
 *
 * Periods from dates: the k-th renewal of a contract started at s falls on
 * s + k * period, computed in one step as PostgreSQL adds an interval (a
 * monthly contract started on 31 January renews on 28 or 29 February, 31
 * March, 30 April ...: the anchor day, not drifting by repeated addition).
 * A customer who ended at e <= as_of churned in period t = the smallest
 * k >= 1 with s + k * period >= e (ending on a renewal day means not
 * renewing then; ending the day of the start counts as period 1).  One not
 * ended by as_of (ended NULL or later) is still active after the number of
 * renewal days s + k * period <= as_of, k >= 0.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "btyd.h"
#include "cartera.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "datatype/timestamp.h"
#include "fit_histogram.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "sbg.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(cartera_sbg_fit_survivors);
PG_FUNCTION_INFO_V1(cartera_sbg_fit_transfn);
PG_FUNCTION_INFO_V1(cartera_sbg_fit_dates_transfn);
PG_FUNCTION_INFO_V1(cartera_sbg_fit_finalfn);
PG_FUNCTION_INFO_V1(cartera_sbg_params_make);
PG_FUNCTION_INFO_V1(cartera_sbg_survival);
PG_FUNCTION_INFO_V1(cartera_sbg_retention);
PG_FUNCTION_INFO_V1(cartera_sbg_churn_probability);
PG_FUNCTION_INFO_V1(cartera_sbg_projection);
PG_FUNCTION_INFO_V1(cartera_sbg_derl);

/* alpha, beta, log_likelihood, customers, iterations, converged, se_alpha, se_beta, aic, bic */
#define SBG_NATTS 10
/* the longest series sbg_fit(bigint[]) and sbg_projection() take */
#define SBG_MAX_PERIODS 1000000

/* ------------------------------------------------------------------ */
/* fit results                                                          */
/* ------------------------------------------------------------------ */

static Datum
sbg_result(FunctionCallInfo fcinfo, const SbgCell *cells, size_t n, double penalizer,
		   int64 customers, bool aggregate)
{
	SbgParams	p = {0, 0};
	BtydFitResult fit;
	Datum		values[SBG_NATTS];
	bool		nulls[SBG_NATTS] = {false};

	fit = sbg_fit(cells, n, penalizer, &p, fit_interrupt_check);
	if (!isfinite(fit.loglik))
	{
		ereport(WARNING,
				(errmsg("sbg_fit found no finite likelihood for these customers"),
				 errdetail("The result is NULL: the counts are too extreme to fit a model to.")));
		PG_RETURN_NULL();
	}
	if (!fit.converged)
		ereport(WARNING,
				(errmsg("sbg_fit found no interior maximum after %d iterations", fit.iterations),
				 errdetail("The likelihood is largest at the edge of the parameter space: nobody churned (alpha tending to 0), every customer has the same churn probability (alpha and beta tending to infinity), or the data span one period only; the estimate returned is the best point found."),
				 errhint("Observe the cohort for more periods, or add a small penalizer, e.g. sbg_fit(survivors, 0.001).")));
	values[0] = Float8GetDatum(p.alpha);
	values[1] = Float8GetDatum(p.beta);
	values[2] = Float8GetDatum(fit.loglik);
	values[3] = Int64GetDatum(customers);
	values[4] = Int32GetDatum(fit.iterations);
	values[5] = BoolGetDatum(fit.converged);
	cartera_fit_uncertainty(values, nulls, 6, 2, fit.se, fit.loglik, customers);
	if (aggregate)
		PG_RETURN_DATUM(cartera_make_composite_prefix(fcinfo, values, nulls, SBG_NATTS));
	PG_RETURN_DATUM(cartera_make_composite(fcinfo, values, nulls, SBG_NATTS));
}

/* sbg_fit(survivors bigint[], penalizer float8 default 0) */
Datum
cartera_sbg_fit_survivors(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(0);
	double		penalizer = PG_GETARG_FLOAT8(1);
	Datum	   *elems;
	bool	   *enulls;
	int			nelems;
	double	   *surv;
	SbgCell    *cells;
	size_t		n;

	fit_check_penalizer(penalizer);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("survivor counts must be a one-dimensional array")));
	deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &enulls, &nelems);
	if (nelems < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sbg_fit needs at least two survivor counts, not %d", nelems),
				 errdetail("The first is the cohort size, each next one the customers still active a period later.")));
	if (nelems - 1 > SBG_MAX_PERIODS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("sbg_fit takes at most %d periods, not %d", SBG_MAX_PERIODS, nelems - 1)));
	surv = palloc(nelems * sizeof(double));
	for (int i = 0; i < nelems; i++)
	{
		int64		v;

		if (enulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("survivor count %d is null", i + 1)));
		v = DatumGetInt64(elems[i]);
		if (v < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("survivor count %d is negative: %lld", i + 1, (long long) v)));
		if (i > 0 && v > DatumGetInt64(elems[i - 1]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("survivor counts must not increase, but count %d is %lld after %lld",
							i + 1, (long long) v, (long long) DatumGetInt64(elems[i - 1])),
					 errdetail("Each count is the number of the first period's customers still active at the start of a later period.")));
		surv[i] = (double) v;
	}
	if (surv[0] == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the cohort size (the first survivor count) must be positive")));
	cells = palloc(nelems * sizeof(SbgCell));
	n = sbg_cells_from_survivors(surv, nelems, cells);
	if (n == (size_t) -1)
		elog(ERROR, "sbg_fit: survivor counts refused after checking");
	return sbg_result(fcinfo, cells, n, penalizer, DatumGetInt64(elems[0]), false);
}

/* ------------------------------------------------------------------ */
/* aggregates                                                           */
/* ------------------------------------------------------------------ */

static void
add_customer(HistState *s, double t, bool active)
{
	double		v[2];

	v[0] = t;
	v[1] = active ? 1.0 : 0.0;
	fit_hist_add(s, v, 1.0);
	s->rows++;
}

/* sbg_fit(periods integer, active boolean [, penalizer]) */
Datum
cartera_sbg_fit_transfn(PG_FUNCTION_ARGS)
{
	const FitSignature *sig = fit_signature(fcinfo, 2);
	HistState  *s = fit_state(fcinfo, sig, 2);
	int32		t;
	bool		active;

	s->kind = HIST_SURVIVAL;
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_POINTER(s);
	t = PG_GETARG_INT32(1);
	active = PG_GETARG_BOOL(2);
	if (t < (active ? 0 : 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be at least %d, not %d",
						active ? "periods of an active customer" : "churn period of a customer who left",
						active ? 0 : 1, t),
				 errdetail("For a customer who left, periods is the period of churn (1 = did not renew at the first opportunity); for an active one, the periods completed.")));
	add_customer(s, t, active);
	PG_RETURN_POINTER(s);
}

/* the period as an interval PostgreSQL adds unambiguously: whole months, or a fixed length */
static void
check_period(const Interval *p)
{
	if (p->month < 0 || p->day < 0 || p->time < 0 ||
		(p->month == 0 && p->day == 0 && p->time == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("contract period must be positive"),
				 errhint("Pass the renewal period, e.g. interval '1 month' or interval '7 days'.")));
	if (p->month != 0 && (p->day != 0 || p->time != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("contract period must be whole months or days and hours, not a mix of both"),
				 errdetail("Months have no fixed length in days, so a period of months and days has no well-defined renewal dates.")));
}

typedef struct PeriodClock
{
	bool		tz;				/* timestamptz: the session time zone's days */
	Timestamp	start;
	Interval	period;
} PeriodClock;

/* start + k * period; false when k * period is beyond an interval */
static bool
clock_add(const PeriodClock *c, int64 k, Timestamp *out)
{
	Interval	kp;
	int32		k32;

	if (k > PG_INT32_MAX)
		return false;
	k32 = (int32) k;
	if (pg_mul_s32_overflow(c->period.month, k32, &kp.month) ||
		pg_mul_s32_overflow(c->period.day, k32, &kp.day) ||
		pg_mul_s64_overflow(c->period.time, k, &kp.time))
		return false;
	*out = DatumGetTimestamp(DirectFunctionCall2(c->tz ? timestamptz_pl_interval : timestamp_pl_interval,
												 TimestampGetDatum(c->start),
												 IntervalPGetDatum(&kp)));
	return true;
}

/* the largest k >= 0 with start + k * period <= x (x >= start) */
static int64
clock_count(const PeriodClock *c, Timestamp x)
{
	double		approx = (double) c->period.month * (DAYS_PER_YEAR / MONTHS_PER_YEAR) * USECS_PER_DAY +
		(double) c->period.day * USECS_PER_DAY + (double) c->period.time;
	int64		k = (int64) floor(((double) x - (double) c->start) / approx);
	Timestamp	at;

	/* the estimate is off by a few at most (month lengths, DST days) */
	if (k > PG_INT32_MAX - 4)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("more than %d contract periods between the start and as_of", PG_INT32_MAX - 4),
				 errhint("Use a longer contract period.")));
	k = Max(k - 2, 0);
	while (k > 0 && (!clock_add(c, k, &at) || at > x))
		k--;
	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (!clock_add(c, k + 1, &at) || at > x)
			return k;
		k++;
	}
}

static Timestamp
row_time(FunctionCallInfo fcinfo, int argno, bool tz, const char *name)
{
	Timestamp	ts;

	if (tz)
		ts = PG_GETARG_TIMESTAMPTZ(argno);
	else
	{
		DateADT		d = PG_GETARG_DATEADT(argno);
		int			overflow = 0;

		if (DATE_NOT_FINITE(d))
			ts = DATE_IS_NOBEGIN(d) ? DT_NOBEGIN : DT_NOEND;
		else
			ts = date2timestamp_opt_overflow(d, &overflow);
	}
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be finite", name)));
	return ts;
}

/* sbg_fit(started, ended, as_of, period [, penalizer]), date or timestamptz */
Datum
cartera_sbg_fit_dates_transfn(PG_FUNCTION_ARGS)
{
	const FitSignature *sig = fit_signature(fcinfo, 4);
	HistState  *s = fit_state(fcinfo, sig, 2);
	bool		tz = get_fn_expr_argtype(fcinfo->flinfo, 1) == TIMESTAMPTZOID;
	PeriodClock c;
	Timestamp	as_of;

	s->kind = HIST_SURVIVAL;
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("contract start must not be null"),
				 errhint("Leave out customers without a start, e.g. WHERE started IS NOT NULL.")));
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("as_of must not be null")));
	if (PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("contract period must not be null")));
	c.tz = tz;
	c.start = row_time(fcinfo, 1, tz, "contract start");
	as_of = row_time(fcinfo, 3, tz, "as_of");
	c.period = *PG_GETARG_INTERVAL_P(4);
	check_period(&c.period);
	if (c.start > as_of)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("contract start is after as_of"),
				 errdetail("Customers must have started by the date the data describe.")));
	if (!PG_ARGISNULL(2))
	{
		Timestamp	ended = row_time(fcinfo, 2, tz, "contract end");

		if (ended < c.start)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("contract end is before its start")));
		if (ended <= as_of)
		{
			int64		k = clock_count(&c, ended);
			Timestamp	at;

			/* churned in the period whose renewal day is the first on or after the end */
			if (!(clock_add(&c, k, &at) && at == ended))
				k++;
			if (k > PG_INT32_MAX)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("more than %d contract periods", PG_INT32_MAX)));
			add_customer(s, (double) Max(k, 1), false);
			PG_RETURN_POINTER(s);
		}
	}
	/* still active at as_of: censored after the renewals so far */
	add_customer(s, (double) clock_count(&c, as_of), true);
	PG_RETURN_POINTER(s);
}

Datum
cartera_sbg_fit_finalfn(PG_FUNCTION_ARGS)
{
	HistState  *s;
	HistEntry  *entries;
	SbgCell    *cells;
	size_t		n;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "cartera_sbg_fit_finalfn called in non-aggregate context");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = (HistState *) PG_GETARG_POINTER(0);
	if (s->rows == 0)
		PG_RETURN_NULL();
	if (s->kind != HIST_SURVIVAL || s->ndims != 2)
		elog(ERROR, "cartera_sbg_fit_finalfn called on a state of kind %d", s->kind);
	entries = fit_hist_sorted(s, &n);
	cells = palloc_extended(Max(n, 1) * sizeof(SbgCell), MCXT_ALLOC_HUGE);
	for (size_t i = 0; i < n; i++)
	{
		cells[i].t = entries[i].key.v[0];
		cells[i].active = entries[i].key.v[1];
		cells[i].weight = entries[i].weight;
	}
	pfree(entries);
	return sbg_result(fcinfo, cells, n, s->penalizer, s->rows, true);
}

/* ------------------------------------------------------------------ */
/* projections                                                          */
/* ------------------------------------------------------------------ */

static double
sbg_field(HeapTupleHeader t, int attno, const char *name)
{
	bool		isnull;
	Datum		d = GetAttributeByNum(t, attno, &isnull);
	double		v;

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("sBG parameter %s is null", name),
				 errhint("A fit over no rows returns NULL parameters.")));
	v = DatumGetFloat8(d);
	if (!(v > 0) || isinf(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sBG parameter %s must be a positive finite number, not %g", name, v)));
	return v;
}

static SbgParams
read_sbg(FunctionCallInfo fcinfo)
{
	HeapTupleHeader t = PG_GETARG_HEAPTUPLEHEADER(0);
	SbgParams	p;

	p.alpha = sbg_field(t, 1, "alpha");
	p.beta = sbg_field(t, 2, "beta");
	return p;
}

static int32
period_arg(FunctionCallInfo fcinfo, int argno, int32 min, const char *name)
{
	int32		t = PG_GETARG_INT32(argno);

	if (t < min)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be at least %d, not %d", name, min, t)));
	return t;
}

/* sbg_params(alpha, beta) */
Datum
cartera_sbg_params_make(PG_FUNCTION_ARGS)
{
	Datum		values[SBG_NATTS];
	bool		nulls[SBG_NATTS];
	const char *names[] = {"alpha", "beta"};

	memset(nulls, true, sizeof(nulls));
	for (int i = 0; i < 2; i++)
	{
		double		v = PG_GETARG_FLOAT8(i);

		if (!(v > 0) || isinf(v))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("sBG parameter %s must be a positive finite number, not %g", names[i], v)));
		values[i] = PG_GETARG_DATUM(i);
		nulls[i] = false;
	}
	PG_RETURN_DATUM(cartera_make_composite(fcinfo, values, nulls, SBG_NATTS));
}

Datum
cartera_sbg_survival(PG_FUNCTION_ARGS)
{
	SbgParams	p = read_sbg(fcinfo);

	PG_RETURN_FLOAT8(sbg_survival(&p, period_arg(fcinfo, 1, 0, "period t")));
}

Datum
cartera_sbg_retention(PG_FUNCTION_ARGS)
{
	SbgParams	p = read_sbg(fcinfo);

	PG_RETURN_FLOAT8(sbg_retention(&p, period_arg(fcinfo, 1, 1, "period t")));
}

Datum
cartera_sbg_churn_probability(PG_FUNCTION_ARGS)
{
	SbgParams	p = read_sbg(fcinfo);

	PG_RETURN_FLOAT8(sbg_churn_probability(&p, period_arg(fcinfo, 1, 0, "period t")));
}

/* sbg_projection(params, periods): (period, survival, retention, churn_probability) for 0..periods */
Datum
cartera_sbg_projection(PG_FUNCTION_ARGS)
{
	FuncCallContext *fc;
	SbgParams  *p;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext old;
		TupleDesc	tupdesc;
		SbgParams	params = read_sbg(fcinfo);
		int32		periods = period_arg(fcinfo, 1, 0, "periods");

		if (periods > SBG_MAX_PERIODS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("sbg_projection takes at most %d periods, not %d", SBG_MAX_PERIODS, periods)));
		fc = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(fc->multi_call_memory_ctx);
		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		fc->tuple_desc = BlessTupleDesc(tupdesc);
		p = palloc(sizeof(SbgParams));
		*p = params;
		fc->user_fctx = p;
		fc->max_calls = (uint64) periods + 1;
		MemoryContextSwitchTo(old);
	}
	fc = SRF_PERCALL_SETUP();
	p = (SbgParams *) fc->user_fctx;
	if (fc->call_cntr < fc->max_calls)
	{
		int32		t = (int32) fc->call_cntr;
		Datum		values[4];
		bool		nulls[4] = {false, false, t == 0, false};

		values[0] = Int32GetDatum(t);
		values[1] = Float8GetDatum(sbg_survival(p, t));
		values[2] = t == 0 ? (Datum) 0 : Float8GetDatum(sbg_retention(p, t));
		values[3] = Float8GetDatum(sbg_churn_probability(p, t));
		SRF_RETURN_NEXT(fc, HeapTupleGetDatum(heap_form_tuple(fc->tuple_desc, values, nulls)));
	}
	SRF_RETURN_DONE(fc);
}

/* sbg_derl(params, discount_rate, renewals) */
Datum
cartera_sbg_derl(PG_FUNCTION_ARGS)
{
	SbgParams	p = read_sbg(fcinfo);
	double		d = PG_GETARG_FLOAT8(1);
	int32		n = period_arg(fcinfo, 2, 0, "renewals");
	double		v;

	if (!(d >= 0) || isinf(d))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("discount rate must be a finite number >= 0, not %g", d)));
	v = sbg_derl(&p, d, n);
	if (isinf(v))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the undiscounted expected residual lifetime is infinite when alpha <= 1 (alpha = %g)", p.alpha),
				 errdetail("With alpha <= 1 enough customers almost never churn that the mean lifetime diverges."),
				 errhint("Pass a discount rate greater than 0.")));
	if (isnan(v))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("DERL did not converge for discount rate %g", d),
				 errhint("Use a discount rate of at least 1e-9 per period.")));
	PG_RETURN_FLOAT8(v);
}
