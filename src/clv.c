/*
 * clv.c — the seed article's customer lifetime value:
 * average ticket x purchases per year x relationship lifespan (x margin).
 */
#include "postgres.h"

#include "cartera.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "executor/executor.h"

PG_FUNCTION_INFO_V1(cartera_clv_finalfn);
PG_FUNCTION_INFO_V1(cartera_clv_simple);
PG_FUNCTION_INFO_V1(cartera_clv_summary);

#define DAYS_PER_YEAR 365.25

static Numeric
float8_to_numeric(double v)
{
	return DatumGetNumeric(DirectFunctionCall1(float8_numeric, Float8GetDatum(v)));
}

static Numeric
numeric_round_to(Numeric v, int scale)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_round, NumericGetDatum(v),
											   Int32GetDatum(scale)));
}

/*
 * clv(purchased_at, amount, as_of, lifespan):
 *   avg_ticket        = net total / purchases
 *   purchases_per_year = purchases / observed years, where the observed
 *                        relationship is as_of - first purchase, at least one
 *                        year (a customer seen for a week is not extrapolated
 *                        to 52 purchases a year)
 *   clv               = avg_ticket x purchases_per_year x lifespan in years
 *                     = net total x lifespan / observed years
 */
/* the formula on a net total, observed days and lifespan: shared by both forms */
static Numeric
clv_formula(Numeric total, int32 age_days, double lifespan_years)
{
	double		observed_years = Max(age_days / DAYS_PER_YEAR, 1.0);

	return numeric_round_to(numeric_mul_opt_error(total,
												  float8_to_numeric(lifespan_years / observed_years),
												  NULL),
							Max(cartera_numeric_dscale(total), 2));
}

Datum
cartera_clv_finalfn(PG_FUNCTION_ARGS)
{
	RfmState   *s = rfm_state_from_arg(fcinfo);
	RfmFacts	f;
	Numeric		total;
	ExactSum	gross;

	if (s == NULL)
		PG_RETURN_NULL();
	rfm_facts_from_state(s, &f);
	if (!f.has_purchase)
		PG_RETURN_NUMERIC(int64_to_numeric(0));
	rfm_state_gross(s, &gross);
	total = exact_sum_get(&gross);
	if (!exact_sum_is_zero(&s->refunds))
		total = numeric_add_opt_error(total, exact_sum_get(&s->refunds), NULL);
	PG_RETURN_NUMERIC(clv_formula(total, f.as_of_day - f.first_day, s->lifespan_years));
}

/* clv(summary, lifespan): the same formula on a stored rfm_summary */
Datum
cartera_clv_summary(PG_FUNCTION_ARGS)
{
	HeapTupleHeader summary = PG_GETARG_HEAPTUPLEHEADER(0);
	Interval   *lifespan = PG_GETARG_INTERVAL_P(1);
	bool		isnull;
	Datum		purchases = GetAttributeByName(summary, "purchases", &isnull);
	Datum		total;
	Datum		age;
	double		seconds;

	if (isnull || DatumGetInt64(purchases) == 0)
		PG_RETURN_NUMERIC(int64_to_numeric(0));
	total = GetAttributeByName(summary, "monetary_total", &isnull);
	if (isnull)
		PG_RETURN_NULL();
	age = GetAttributeByName(summary, "age_days", &isnull);
	seconds = DatumGetFloat8(DirectFunctionCall2(interval_part, CStringGetTextDatum("epoch"),
												 IntervalPGetDatum(lifespan)));
	if (!(seconds >= 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lifespan must not be negative")));
	PG_RETURN_NUMERIC(clv_formula(DatumGetNumeric(total), DatumGetInt32(age),
								  seconds / (365.25 * SECS_PER_DAY)));
}

static void
require_nonnegative(Numeric v, const char *what)
{
	if (numeric_is_nan(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a number, not NaN", what)));
	if (exact_sum_is_negative_numeric(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative, not %s", what,
						DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v))))));
	if (numeric_is_inf(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be finite", what)));
}

/* clv_simple(avg_ticket, purchases_per_year, lifespan_years, margin default 1) */
Datum
cartera_clv_simple(PG_FUNCTION_ARGS)
{
	Numeric		avg_ticket = PG_GETARG_NUMERIC(0);
	Numeric		per_year = PG_GETARG_NUMERIC(1);
	Numeric		years = PG_GETARG_NUMERIC(2);
	Numeric		margin = PG_GETARG_NUMERIC(3);
	Numeric		one = int64_to_numeric(1);
	Numeric		result;

	if (numeric_is_nan(avg_ticket) || numeric_is_inf(avg_ticket))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("average ticket must be a finite number")));
	require_nonnegative(per_year, "purchases per year");
	require_nonnegative(years, "lifespan in years");
	require_nonnegative(margin, "margin");
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(margin),
										  NumericGetDatum(one))) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("margin must be between 0 and 1, not %s",
						DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(margin)))),
				 errhint("Give the margin as a fraction: 0.3 for 30 %%.")));

	result = numeric_mul_opt_error(avg_ticket, per_year, NULL);
	result = numeric_mul_opt_error(result, years, NULL);
	result = numeric_mul_opt_error(result, margin, NULL);
	PG_RETURN_NUMERIC(numeric_round_to(result, Max(cartera_numeric_dscale(avg_ticket), 2)));
}
