/*
 * rfm.c — final function of cartera.rfm(): turns the shared aggregate state
 * into the composite cartera.rfm_summary, plus small numeric helpers.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "cartera.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(cartera_rfm_finalfn);
PG_FUNCTION_INFO_V1(cartera_rfm_state_summary);

/* attribute numbers of cartera.rfm_summary (keep in step with the SQL) */
enum
{
	RFM_FIRST_PURCHASE,
	RFM_LAST_PURCHASE,
	RFM_PURCHASES,
	RFM_PURCHASE_DAYS,
	RFM_FREQUENCY,
	RFM_RECENCY_DAYS,
	RFM_AGE_DAYS,
	RFM_T_X_DAYS,
	RFM_MONETARY_TOTAL,
	RFM_AVG_TICKET,
	RFM_REPEAT_AVG,
	RFM_MEAN_GAP_DAYS,
	RFM_LAST_GAP_DAYS,
	RFM_AS_OF,
	RFM_NATTS
};

RfmState *
rfm_state_from_arg(FunctionCallInfo fcinfo)
{
	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "cartera aggregate final function called in non-aggregate context");
	return PG_ARGISNULL(0) ? NULL : (RfmState *) PG_GETARG_POINTER(0);
}

void
rfm_facts_from_state(RfmState *s, RfmFacts *f)
{
	rfm_state_compact(s);
	memset(f, 0, sizeof(RfmFacts));
	f->as_of = s->as_of;
	f->as_of_day = cartera_timestamptz_day(s->as_of);
	f->purchases = s->purchases;
	f->purchase_days = s->ndays;
	f->has_purchase = s->purchases > 0;
	if (f->has_purchase)
	{
		f->first_ts = s->first_ts;
		f->last_ts = s->last_ts;
		f->first_day = s->days[0];
		f->last_day = s->days[s->ndays - 1];
		f->prev_day = s->ndays >= 2 ? s->days[s->ndays - 2] : DATEVAL_NOBEGIN;
	}
}

/*
 * x (frequency), t_x and T of a stored rfm_summary in a time unit of
 * unit_days days (t_x may be NULL when only x is wanted); false for a lead.
 */
bool
cartera_summary_history(HeapTupleHeader s, int unit_days, double *x, double *t_x, double *T)
{
	bool		isnull;
	Datum		d = GetAttributeByName(s, "frequency", &isnull);

	if (isnull)
		return false;
	*x = DatumGetInt32(d);
	if (t_x != NULL)
	{
		*t_x = DatumGetInt32(GetAttributeByName(s, "t_x_days", &isnull)) / (double) unit_days;
		*T = DatumGetInt32(GetAttributeByName(s, "age_days", &isnull)) / (double) unit_days;
	}
	return true;
}

/* repeat_avg of a stored rfm_summary as float8 (0 when there is none) */
double
cartera_summary_repeat_spend(HeapTupleHeader s)
{
	bool		isnull;
	Datum		d = GetAttributeByName(s, "repeat_avg", &isnull);

	return isnull ? 0 : cartera_numeric_float8(DatumGetNumeric(d), "repeat_avg");
}

/*
 * A numeric as float8 for scoring and the models.  numeric_float8() refuses
 * a value beyond the float8 range with a message that repeats the whole
 * number (up to 131072 digits); here the message shows it in short
 * scientific notation.  A value too small for float8 becomes 0 (or a
 * denormal), as it would in float8 arithmetic; NaN and +/-Infinity pass
 * through.
 */
double
cartera_numeric_float8(Numeric num, const char *what)
{
	double		v = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
													 NumericGetDatum(num)));

	if (isinf(v) && !numeric_is_inf(num))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s %s is out of range for type double precision",
						what, numeric_out_sci(num, 3)),
				 errdetail("Scores and model predictions work in double precision, up to about 1.8e308.")));
	return v;
}

int
cartera_numeric_dscale(Numeric num)
{
	return DatumGetInt32(DirectFunctionCall1(numeric_scale, NumericGetDatum(num)));
}

/* num / den rounded to extra_scale more decimals than num has */
Numeric
cartera_numeric_div_round(Numeric num, Numeric den, int extra_scale)
{
	Numeric		q = numeric_div_opt_error(num, den, NULL);

	return DatumGetNumeric(DirectFunctionCall2(numeric_round, NumericGetDatum(q),
											   Int32GetDatum(cartera_numeric_dscale(num) + extra_scale)));
}

/*
 * num / 10^scale divided by den > 0, rounded half away from zero to
 * scale + extra decimals, in integers (what cartera_numeric_div_round does
 * with numeric arithmetic, without its cost per customer).  False when an
 * intermediate would overflow.
 */
static bool
fixed_div_round(cartera_acc num, int scale, int64 den, int extra, Numeric *out)
{
	cartera_acc n = num,
				q,
				r;

	for (int i = 0; i < extra; i++)
		if (__builtin_mul_overflow(n, (cartera_acc) 10, &n))
			return false;
	q = n / den;
	r = n % den;
	if (r < 0)
		r = -r;
	if (r >= den - r)
		q += (n < 0) ? -1 : 1;
	*out = exact_sum_acc_to_numeric(q, scale + extra);
	return true;
}

/* the attributes of cartera.rfm_summary for a state */
static void
summary_values(RfmState *s, Datum *values, bool *nulls)
{
	RfmFacts	f;
	Numeric		total,
				avg;
	ExactSum	gross;
	bool		exact;

	rfm_facts_from_state(s, &f);
	memset(nulls, true, RFM_NATTS * sizeof(bool));

	rfm_state_gross(s, &gross);
	/* the common case: no refunds, everything in the fixed-point sums */
	exact = exact_sum_is_zero(&s->refunds) && gross.spill == NULL &&
		s->first_day_amount.spill == NULL;
	total = exact_sum_get(&gross);
	if (!exact_sum_is_zero(&s->refunds))
		total = numeric_add_opt_error(total, exact_sum_get(&s->refunds), NULL);

	values[RFM_PURCHASES] = Int64GetDatum(f.purchases);
	values[RFM_PURCHASE_DAYS] = Int32GetDatum(f.purchase_days);
	values[RFM_MONETARY_TOTAL] = NumericGetDatum(total);
	values[RFM_AS_OF] = TimestampTzGetDatum(f.as_of);
	nulls[RFM_PURCHASES] = nulls[RFM_PURCHASE_DAYS] = false;
	nulls[RFM_MONETARY_TOTAL] = nulls[RFM_AS_OF] = false;

	if (f.has_purchase)
	{
		int32		frequency = f.purchase_days - 1;
		int32		t_x = f.last_day - f.first_day;

		values[RFM_FIRST_PURCHASE] = TimestampTzGetDatum(f.first_ts);
		values[RFM_LAST_PURCHASE] = TimestampTzGetDatum(f.last_ts);
		values[RFM_FREQUENCY] = Int32GetDatum(frequency);
		values[RFM_RECENCY_DAYS] = Int32GetDatum(f.as_of_day - f.last_day);
		values[RFM_AGE_DAYS] = Int32GetDatum(f.as_of_day - f.first_day);
		values[RFM_T_X_DAYS] = Int32GetDatum(t_x);
		if (!exact || !fixed_div_round(gross.acc, gross.scale, f.purchases, 2, &avg))
			avg = cartera_numeric_div_round(total, int64_to_numeric(f.purchases), 2);
		values[RFM_AVG_TICKET] = NumericGetDatum(avg);
		nulls[RFM_FIRST_PURCHASE] = nulls[RFM_LAST_PURCHASE] = false;
		nulls[RFM_FREQUENCY] = nulls[RFM_RECENCY_DAYS] = false;
		nulls[RFM_AGE_DAYS] = nulls[RFM_T_X_DAYS] = false;
		nulls[RFM_AVG_TICKET] = false;
		if (frequency > 0)
		{
			/* lifetimes' monetary_value: mean spend of the repeat purchase days */
			const ExactSum *first = &s->first_day_amount;
			int			sc = Max(gross.scale, first->scale);
			cartera_acc g = gross.acc,
						a = first->acc;
			Numeric		ravg = NULL;

			/* gross - first day amount at the larger scale, in integers */
			if (exact)
			{
				bool		ok = true;

				for (int i = gross.scale; i < sc && ok; i++)
					ok = !__builtin_mul_overflow(g, (cartera_acc) 10, &g);
				for (int i = first->scale; i < sc && ok; i++)
					ok = !__builtin_mul_overflow(a, (cartera_acc) 10, &a);
				if (!ok || __builtin_sub_overflow(g, a, &g) ||
					!fixed_div_round(g, sc, frequency, 2, &ravg))
					ravg = NULL;
			}
			if (ravg == NULL)
			{
				Numeric		repeat = numeric_sub_opt_error(exact_sum_get(&gross),
														   exact_sum_get(first),
														   NULL);

				ravg = cartera_numeric_div_round(repeat, int64_to_numeric(frequency), 2);
			}
			values[RFM_REPEAT_AVG] = NumericGetDatum(ravg);
			values[RFM_MEAN_GAP_DAYS] = Float8GetDatum((double) t_x / frequency);
			values[RFM_LAST_GAP_DAYS] = Int32GetDatum(f.last_day - f.prev_day);
			nulls[RFM_REPEAT_AVG] = nulls[RFM_MEAN_GAP_DAYS] = false;
			nulls[RFM_LAST_GAP_DAYS] = false;
		}
	}
	if (!s->has_amounts)
	{
		nulls[RFM_MONETARY_TOTAL] = nulls[RFM_AVG_TICKET] = true;
		nulls[RFM_REPEAT_AVG] = true;
	}
}

Datum
cartera_rfm_finalfn(PG_FUNCTION_ARGS)
{
	RfmState   *s = rfm_state_from_arg(fcinfo);
	Datum		values[RFM_NATTS];
	bool		nulls[RFM_NATTS];

	if (s == NULL)
		PG_RETURN_NULL();
	summary_values(s, values, nulls);
	PG_RETURN_DATUM(cartera_make_composite(fcinfo, values, nulls, RFM_NATTS));
}

/*
 * cartera.rfm_state_summary(bytea): the rfm_summary of a state serialized by
 * cartera.rfm_state() or kept in customer_state.rfm_state.
 */
Datum
cartera_rfm_state_summary(PG_FUNCTION_ARGS)
{
	bytea	   *bytes = PG_GETARG_BYTEA_PP(0);
	Datum		values[RFM_NATTS];
	bool		nulls[RFM_NATTS];

	if (!rfm_state_format_current(bytes))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("not a cartera rfm state of this version"),
				 errhint("Recompute it with cartera.rfm_state().")));
	summary_values(rfm_state_deserialize(bytes, CurrentMemoryContext), values, nulls);
	PG_RETURN_DATUM(cartera_make_composite(fcinfo, values, nulls, RFM_NATTS));
}
