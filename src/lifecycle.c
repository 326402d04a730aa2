/*
 * lifecycle.c — the customer life-cycle status (lead, new, active,
 * reactivated, at_risk, dormant, lost): the rules, the aggregate final and
 * the scalar form that classifies a stored rfm_summary.
 */
#include "postgres.h"

#include "cartera.h"
#include "executor/executor.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(cartera_lifecycle_finalfn);
PG_FUNCTION_INFO_V1(cartera_lifecycle_status);
PG_FUNCTION_INFO_V1(cartera_lifecycle_status_at);

/* day + iv (or - iv), calendar arithmetic on dates: no time zone involved */
static DateADT
day_shift(DateADT day, const Interval *iv, bool add)
{
	Datum		ts = DirectFunctionCall2(add ? date_pl_interval : date_mi_interval,
										 DateADTGetDatum(day),
										 IntervalPGetDatum(iv));

	return DatumGetDateADT(DirectFunctionCall1(timestamp_date, ts));
}

/*
 * The SPEC rules, in order: no purchase -> lead; recency beyond lost_after
 * -> lost; beyond dormant_after -> dormant; beyond at_risk_after ->
 * at_risk; first purchase within new_window -> new; the gap before the last
 * purchase beyond dormant_after -> reactivated; else active.  In adaptive
 * mode at_risk/dormant also need recency > factor x the customer's own mean
 * gap, so a customer who always buys twice a year is not "at risk" in month 3.
 */
const char *
lifecycle_classify(const RfmFacts *f)
{
	int32		recency;
	double		mean_gap = 0.0;
	bool		adaptive = cartera_lifecycle_mode == CARTERA_LIFECYCLE_ADAPTIVE;

	if (!f->has_purchase)
		return "lead";
	recency = f->as_of_day - f->last_day;
	if (adaptive && f->purchase_days > 1)
		mean_gap = (double) (f->last_day - f->first_day) / (f->purchase_days - 1);

	if (f->last_day < day_shift(f->as_of_day, &cartera_lost_after, false))
		return "lost";
	if (f->last_day < day_shift(f->as_of_day, &cartera_dormant_after, false) &&
		recency > cartera_dormant_factor * mean_gap)
		return "dormant";
	if (f->last_day < day_shift(f->as_of_day, &cartera_at_risk_after, false) &&
		recency > cartera_at_risk_factor * mean_gap)
		return "at_risk";
	if (f->first_day >= day_shift(f->as_of_day, &cartera_new_window, false))
		return "new";
	if (f->purchase_days >= 2 &&
		f->last_day > day_shift(f->prev_day, &cartera_dormant_after, true))
		return "reactivated";
	return "active";
}

/* label -> enum value of the function's declared result type */
static Datum
lifecycle_enum(FunctionCallInfo fcinfo, const char *label)
{
	Oid			enumtype = get_fn_expr_rettype(fcinfo->flinfo);

	return DirectFunctionCall2(enum_in, CStringGetDatum(label),
							   ObjectIdGetDatum(enumtype));
}

Datum
cartera_lifecycle_finalfn(PG_FUNCTION_ARGS)
{
	RfmState   *s = rfm_state_from_arg(fcinfo);
	RfmFacts	f;

	if (s == NULL)
		PG_RETURN_NULL();
	rfm_facts_from_state(s, &f);
	PG_RETURN_DATUM(lifecycle_enum(fcinfo, lifecycle_classify(&f)));
}

/* rebuild the facts lifecycle_classify needs from a stored rfm_summary */
static void
facts_from_summary(HeapTupleHeader summary, TimestampTz as_of, RfmFacts *f)
{
	bool		isnull;
	Datum		d;

	memset(f, 0, sizeof(RfmFacts));
	f->as_of = as_of;
	f->as_of_day = cartera_timestamptz_day(as_of);

	d = GetAttributeByName(summary, "purchases", &isnull);
	f->purchases = isnull ? 0 : DatumGetInt64(d);
	d = GetAttributeByName(summary, "last_purchase", &isnull);
	/* purchases after the new as_of cannot be undone from a summary */
	if (f->purchases == 0 || isnull)
		return;
	f->has_purchase = true;
	f->last_ts = DatumGetTimestampTz(d);
	f->last_day = cartera_timestamptz_day(f->last_ts);
	if (f->last_ts > as_of)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("as_of is before the last purchase of the summary"),
				 errhint("Recompute the summary with cartera.rfm(..., as_of).")));
	d = GetAttributeByName(summary, "first_purchase", &isnull);
	f->first_ts = DatumGetTimestampTz(d);
	f->first_day = cartera_timestamptz_day(f->first_ts);
	d = GetAttributeByName(summary, "purchase_days", &isnull);
	f->purchase_days = isnull ? 1 : DatumGetInt32(d);
	d = GetAttributeByName(summary, "last_gap_days", &isnull);
	f->prev_day = isnull ? DATEVAL_NOBEGIN : f->last_day - DatumGetInt32(d);
}

Datum
cartera_lifecycle_status_at(PG_FUNCTION_ARGS)
{
	HeapTupleHeader summary = PG_GETARG_HEAPTUPLEHEADER(0);
	TimestampTz as_of = PG_GETARG_TIMESTAMPTZ(1);
	RfmFacts	f;

	if (TIMESTAMP_NOT_FINITE(as_of))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("as_of must be a finite timestamp")));
	facts_from_summary(summary, as_of, &f);
	PG_RETURN_DATUM(lifecycle_enum(fcinfo, lifecycle_classify(&f)));
}

Datum
cartera_lifecycle_status(PG_FUNCTION_ARGS)
{
	HeapTupleHeader summary = PG_GETARG_HEAPTUPLEHEADER(0);
	bool		isnull;
	Datum		as_of = GetAttributeByName(summary, "as_of", &isnull);
	RfmFacts	f;

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("rfm_summary has no as_of"),
				 errhint("Pass as_of explicitly: cartera.lifecycle_status(summary, as_of).")));
	facts_from_summary(summary, DatumGetTimestampTz(as_of), &f);
	PG_RETURN_DATUM(lifecycle_enum(fcinfo, lifecycle_classify(&f)));
}
