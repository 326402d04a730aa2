/*
 * btyd_predict.c — SQL-callable BG/NBD and Gamma-Gamma predictions:
 * parameter constructors, expected purchases, P(alive), spend and discounted CLV.
 *
 * Parameters travel as the composites cartera.bgnbd_params and
 * cartera.gamma_gamma_params, so a model fitted elsewhere (pymc-marketing,
 * CLVTools, lifetimes) scores here too.  A BG/NBD model knows the time unit
 * it was fitted in; functions given a unit refuse a different one.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "btyd.h"
#include "cartera.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "interval.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

PG_FUNCTION_INFO_V1(cartera_bgnbd_params_make);
PG_FUNCTION_INFO_V1(cartera_gamma_gamma_params_make);
PG_FUNCTION_INFO_V1(cartera_expected_purchases);
PG_FUNCTION_INFO_V1(cartera_expected_purchases_summary);
PG_FUNCTION_INFO_V1(cartera_expected_purchases_new);
PG_FUNCTION_INFO_V1(cartera_p_alive);
PG_FUNCTION_INFO_V1(cartera_p_alive_summary);
PG_FUNCTION_INFO_V1(cartera_probability_of_purchases);
PG_FUNCTION_INFO_V1(cartera_expected_avg_spend);
PG_FUNCTION_INFO_V1(cartera_expected_avg_spend_summary);
PG_FUNCTION_INFO_V1(cartera_clv_predicted);
PG_FUNCTION_INFO_V1(cartera_clv_predicted_summary);
PG_FUNCTION_INFO_V1(cartera_p_alive_interval);
PG_FUNCTION_INFO_V1(cartera_expected_purchases_interval);

#define BGNBD_ATT_UNIT 9
#define BGNBD_ATT_COV 16		/* log_covariance, since 0.4.0 */

#define CLV_MAX_MONTHS 1200
/* the range the predictions are supported on (days or weeks, any currency) */
#define BTYD_MIN_PARAM 1e-8
#define BTYD_MAX_PARAM 1e8
#define BTYD_MAX_HISTORY 1e7

/*
 * A transaction model's parameters: bgnbd_params, pareto_nbd_params or
 * mbgnbd_params (the same layout), told apart by the composite's type.
 */
typedef struct Model
{
	TransactionModel family;
	BgnbdParams p;				/* BG/NBD and MBG/NBD */
	ParetoNbdParams pp;			/* Pareto/NBD */
	int			unit_days;		/* 0 when the model does not say */
} Model;

static const char *const family_name[] = {"BG/NBD", "Pareto/NBD", "MBG/NBD"};
static const char *const family_key[] = {"bgnbd", "pareto_nbd", "mbgnbd"};

static TransactionModel
family_of_type(Oid typid)
{
	char	   *name = get_rel_name(get_typ_typrelid(typid));

	if (name && strcmp(name, "pareto_nbd_params") == 0)
		return MODEL_PARETO_NBD;
	if (name && strcmp(name, "mbgnbd_params") == 0)
		return MODEL_MBGNBD;
	return MODEL_BGNBD;
}

/* the row type's family, looked up once per call site */
typedef struct FamilyCache
{
	Oid			typid;
	TransactionModel family;
	TupleDesc	result;			/* the interval functions' blessed result type */
} FamilyCache;

static TransactionModel
model_family(FunctionCallInfo fcinfo, HeapTupleHeader t)
{
	FamilyCache *c = (FamilyCache *) fcinfo->flinfo->fn_extra;
	Oid			typid = HeapTupleHeaderGetTypeId(t);

	if (c == NULL || c->typid != typid)
	{
		if (c == NULL)
			c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(FamilyCache));
		c->typid = typid;
		c->family = family_of_type(typid);
		fcinfo->flinfo->fn_extra = c;
	}
	return c->family;
}

static void
require_positive(double v, const char *name, const char *model)
{
	if (!(v > 0) || isinf(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s parameter %s must be a positive finite number, not %g", model, name, v)));
}

static double
param_field(HeapTupleHeader t, int attno, const char *name, const char *model, bool bounded)
{
	bool		isnull;
	Datum		d = GetAttributeByNum(t, attno, &isnull);

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s parameter %s is null", model, name),
				 errhint("A fit over no rows returns NULL parameters.")));
	require_positive(DatumGetFloat8(d), name, model);
	/*
	 * BG/NBD: the predictions are bounded in time for any parameters, but
	 * their accuracy is checked (test/unit, sql/adversarial) on [1e-8, 1e8]
	 * only, far beyond any fitted model: refuse what lies outside.
	 * Gamma-Gamma is closed-form, and a fit at the edge of its space
	 * legitimately gives huge q and gamma: no bound there.
	 */
	if (bounded && (DatumGetFloat8(d) < BTYD_MIN_PARAM || DatumGetFloat8(d) > BTYD_MAX_PARAM))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s parameter %s = %g is outside the supported range [%g, %g]",
						model, name, DatumGetFloat8(d), BTYD_MIN_PARAM, BTYD_MAX_PARAM)));
	return DatumGetFloat8(d);
}

static Model
read_model(FunctionCallInfo fcinfo, int argno)
{
	static const char *const names[][4] = {
		{"r", "alpha", "a", "b"}, {"r", "alpha", "s", "beta"}, {"r", "alpha", "a", "b"}
	};
	HeapTupleHeader t = PG_GETARG_HEAPTUPLEHEADER(argno);
	Model		m;
	bool		isnull;
	Datum		unit;
	double		v[4];

	m.family = model_family(fcinfo, t);
	for (int i = 0; i < 4; i++)
		v[i] = param_field(t, i + 1, names[m.family][i], family_name[m.family], true);
	m.p.r = m.pp.r = v[0];
	m.p.alpha = m.pp.alpha = v[1];
	m.p.a = m.pp.s = v[2];
	m.p.b = m.pp.beta = v[3];
	unit = GetAttributeByNum(t, BGNBD_ATT_UNIT, &isnull);
	m.unit_days = isnull ? 0 : cartera_time_unit_days(TextDatumGetCString(unit));
	return m;
}

/* the predictions of each family */
static double
model_expected(const Model *m, double t, double x, double t_x, double T)
{
	switch (m->family)
	{
		case MODEL_PARETO_NBD:
			return pareto_nbd_expected_purchases(&m->pp, t, x, t_x, T);
		case MODEL_MBGNBD:
			return mbgnbd_expected_purchases(&m->p, t, x, t_x, T);
		default:
			return bgnbd_expected_purchases(&m->p, t, x, t_x, T);
	}
}

static double
model_p_alive(const Model *m, double x, double t_x, double T)
{
	switch (m->family)
	{
		case MODEL_PARETO_NBD:
			return pareto_nbd_p_alive(&m->pp, x, t_x, T);
		case MODEL_MBGNBD:
			return mbgnbd_p_alive(&m->p, x, t_x, T);
		default:
			return bgnbd_p_alive(&m->p, x, t_x, T);
	}
}

static double
model_expected_new(const Model *m, double t)
{
	switch (m->family)
	{
		case MODEL_PARETO_NBD:
			return pareto_nbd_expected_purchases_new(&m->pp, t);
		case MODEL_MBGNBD:
			return mbgnbd_expected_purchases_new(&m->p, t);
		default:
			return bgnbd_expected_purchases_new(&m->p, t);
	}
}

static double
model_prob_purchases(const Model *m, double t, int n)
{
	switch (m->family)
	{
		case MODEL_PARETO_NBD:
			return pareto_nbd_prob_purchases(&m->pp, t, n);
		case MODEL_MBGNBD:
			return mbgnbd_prob_purchases(&m->p, t, n);
		default:
			return bgnbd_prob_purchases(&m->p, t, n);
	}
}

static GammaGammaParams
read_gamma_gamma(HeapTupleHeader t)
{
	GammaGammaParams g;

	g.p = param_field(t, 1, "p", "Gamma-Gamma", false);
	g.q = param_field(t, 2, "q", "Gamma-Gamma", false);
	g.gamma = param_field(t, 3, "gamma", "Gamma-Gamma", false);
	return g;
}

/* the unit asked for must be the model's (when the model states one) */
static int
agree_unit(const Model *m, text *unit_text)
{
	int			unit = cartera_time_unit_days(text_to_cstring(unit_text));

	if (m->unit_days != 0 && m->unit_days != unit)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the %s model was fitted in %s, not %s", family_name[m->family],
						cartera_time_unit_name(m->unit_days), cartera_time_unit_name(unit)),
				 errhint("Pass '%s', or refit the model in %s.",
						 cartera_time_unit_name(m->unit_days), cartera_time_unit_name(unit))));
	return unit;
}

static void
check_history(double x, double t_x, double T)
{
	if (!(x >= 0) || isinf(x) || x != floor(x))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("frequency must be a whole number >= 0, not %g", x)));
	if (!(t_x >= 0 && t_x <= T) || isinf(T))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("t_x must be between 0 and T, not t_x = %g with T = %g", t_x, T)));
	if (x > BTYD_MAX_HISTORY || T > BTYD_MAX_HISTORY)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("frequency and T must be at most %g, not %g and %g", BTYD_MAX_HISTORY, x, T)));
}

static void
check_horizon(double t)
{
	if (!(t >= 0) || isinf(t))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time horizon t must be a finite number >= 0, not %g", t)));
	if (t > BTYD_MAX_HISTORY)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("time horizon t must be at most %g, not %g", BTYD_MAX_HISTORY, t)));
}

/*
 * NaN from the numerics means an argument outside the model's domain;
 * +/-Infinity a result beyond float8 (absurd Gamma-Gamma parameters or
 * spends near 1e308): never returned as a value.
 */
static double
finite_result(double v, const char *what)
{
	if (isnan(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is undefined for these arguments", what)));
	if (isinf(v))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s is out of range for type double precision", what),
				 errdetail("The result is larger than about 1.8e308.")));
	return v;
}

/* bgnbd_params(r, alpha, a, b, time_unit default NULL), and pareto_nbd_params, mbgnbd_params */
Datum
cartera_bgnbd_params_make(PG_FUNCTION_ARGS)
{
	Datum		values[BGNBD_NATTS];
	bool		nulls[BGNBD_NATTS];
	TransactionModel family = family_of_type(get_func_rettype(fcinfo->flinfo->fn_oid));
	const char *names[] = {"r", "alpha", family == MODEL_PARETO_NBD ? "s" : "a",
	family == MODEL_PARETO_NBD ? "beta" : "b"};

	memset(nulls, true, sizeof(nulls));
	for (int i = 0; i < 4; i++)
	{
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s parameter %s must not be null", family_name[family], names[i])));
		require_positive(PG_GETARG_FLOAT8(i), names[i], family_name[family]);
		values[i] = PG_GETARG_DATUM(i);
		nulls[i] = false;
	}
	if (!PG_ARGISNULL(4))
	{
		int			unit = cartera_time_unit_days(text_to_cstring(PG_GETARG_TEXT_PP(4)));

		values[BGNBD_ATT_UNIT - 1] = CStringGetTextDatum(cartera_time_unit_name(unit));
		nulls[BGNBD_ATT_UNIT - 1] = false;
	}
	PG_RETURN_DATUM(cartera_make_composite_prefix(fcinfo, values, nulls, BGNBD_NATTS));
}

/* gamma_gamma_params(p, q, gamma) */
Datum
cartera_gamma_gamma_params_make(PG_FUNCTION_ARGS)
{
	Datum		values[GG_NATTS];
	bool		nulls[GG_NATTS];
	const char *names[] = {"p", "q", "gamma"};

	memset(nulls, true, sizeof(nulls));
	for (int i = 0; i < 3; i++)
	{
		require_positive(PG_GETARG_FLOAT8(i), names[i], "Gamma-Gamma");
		values[i] = PG_GETARG_DATUM(i);
		nulls[i] = false;
	}
	PG_RETURN_DATUM(cartera_make_composite_prefix(fcinfo, values, nulls, GG_NATTS));
}

/* expected_purchases(params, t, x, t_x, T): E[Y(t) | x, t_x, T], model units */
Datum
cartera_expected_purchases(PG_FUNCTION_ARGS)
{
	Model		m = read_model(fcinfo, 0);
	double		t = PG_GETARG_FLOAT8(1);
	double		x = PG_GETARG_FLOAT8(2);
	double		t_x = PG_GETARG_FLOAT8(3);
	double		T = PG_GETARG_FLOAT8(4);

	check_horizon(t);
	check_history(x, t_x, T);
	PG_RETURN_FLOAT8(finite_result(model_expected(&m, t, x, t_x, T),
								   "expected_purchases"));
}

/* expected_purchases(params, t, summary, time_unit): t in time_unit */
Datum
cartera_expected_purchases_summary(PG_FUNCTION_ARGS)
{
	Model		m = read_model(fcinfo, 0);
	double		t = PG_GETARG_FLOAT8(1);
	int			unit = agree_unit(&m, PG_GETARG_TEXT_PP(3));
	double		x,
				t_x,
				T;

	check_horizon(t);
	if (!cartera_summary_history(PG_GETARG_HEAPTUPLEHEADER(2), unit, &x, &t_x, &T))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(finite_result(model_expected(&m, t, x, t_x, T),
								   "expected_purchases"));
}

/* expected_purchases_new(params, t): E[X(t)] for a customer just acquired */
Datum
cartera_expected_purchases_new(PG_FUNCTION_ARGS)
{
	Model		m = read_model(fcinfo, 0);
	double		t = PG_GETARG_FLOAT8(1);

	check_horizon(t);
	PG_RETURN_FLOAT8(finite_result(model_expected_new(&m, t),
								   "expected_purchases_new"));
}

Datum
cartera_p_alive(PG_FUNCTION_ARGS)
{
	Model		m = read_model(fcinfo, 0);
	double		x = PG_GETARG_FLOAT8(1);
	double		t_x = PG_GETARG_FLOAT8(2);
	double		T = PG_GETARG_FLOAT8(3);

	check_history(x, t_x, T);
	PG_RETURN_FLOAT8(finite_result(model_p_alive(&m, x, t_x, T), "p_alive"));
}

Datum
cartera_p_alive_summary(PG_FUNCTION_ARGS)
{
	Model		m = read_model(fcinfo, 0);
	int			unit = agree_unit(&m, PG_GETARG_TEXT_PP(2));
	double		x,
				t_x,
				T;

	if (!cartera_summary_history(PG_GETARG_HEAPTUPLEHEADER(1), unit, &x, &t_x, &T))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(finite_result(model_p_alive(&m, x, t_x, T), "p_alive"));
}

/* probability_of_purchases(params, t, n): P(X(t) = n) for a new customer */
Datum
cartera_probability_of_purchases(PG_FUNCTION_ARGS)
{
	Model		m = read_model(fcinfo, 0);
	double		t = PG_GETARG_FLOAT8(1);
	int32		n = PG_GETARG_INT32(2);

	check_horizon(t);
	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("number of purchases must not be negative, not %d", n)));
	PG_RETURN_FLOAT8(finite_result(model_prob_purchases(&m, t, n),
								   "probability_of_purchases"));
}

static void
check_spend(double x, double m)
{
	if (!(x >= 0) || isinf(x) || x != floor(x))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("frequency must be a whole number >= 0, not %g", x)));
	if (isnan(m) || isinf(m) || m < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("monetary value must be a finite number >= 0, not %g", m)));
}

/* expected_avg_spend(gg, x, m): E[M | x, m]; x = 0 gives the population mean */
Datum
cartera_expected_avg_spend(PG_FUNCTION_ARGS)
{
	GammaGammaParams g = read_gamma_gamma(PG_GETARG_HEAPTUPLEHEADER(0));
	double		x = PG_GETARG_FLOAT8(1);
	double		m = PG_GETARG_FLOAT8(2);

	check_spend(x, m);
	PG_RETURN_FLOAT8(finite_result(gg_expected_avg_spend(&g, x, m), "expected_avg_spend"));
}

Datum
cartera_expected_avg_spend_summary(PG_FUNCTION_ARGS)
{
	GammaGammaParams g = read_gamma_gamma(PG_GETARG_HEAPTUPLEHEADER(0));
	HeapTupleHeader s = PG_GETARG_HEAPTUPLEHEADER(1);
	double		x;
	double		m;

	if (!cartera_summary_history(s, 1, &x, NULL, NULL))
		PG_RETURN_NULL();
	m = Max(cartera_summary_repeat_spend(s), 0);
	PG_RETURN_FLOAT8(finite_result(gg_expected_avg_spend(&g, x, m), "expected_avg_spend"));
}

/*
 * lifetimes' customer_lifetime_value for any transaction model, month i
 * ending horizon[i - 1] model time units from now: the purchases expected
 * in each month, discounted, times the expected spend (btyd_clv_discounted
 * is the same sum for BG/NBD with 30-day months, sharing P(alive)).
 */
static double
clv_generic(const Model *model, const GammaGammaParams *g, double x, double t_x, double T,
			double m, int months, double rate, const double *horizon)
{
	double		spend = gg_expected_avg_spend(g, x, m),
				prev = 0.0,
				total = 0.0;

	if (isnan(spend))
		return NAN;
	for (int i = 1; i <= months; i++)
	{
		double		e = model_expected(model, horizon[i - 1], x, t_x, T);

		total += (e - prev) / pow(1.0 + rate, (double) i);
		prev = e;
		CHECK_FOR_INTERRUPTS();
	}
	return total == 0.0 ? 0.0 : total * spend;
}

/*
 * The month of clv_predicted(..., month interval): a fixed length between
 * 28 and 31 days ('30 days' is lifetimes', '30 days 10:30' the mean
 * Gregorian month 30.4375 days of pymc-marketing), or '1 month': calendar
 * months from the summary's as_of.  horizon[i - 1] = the end of month i in
 * model time units (unit_days days each).
 */
static void
month_horizons(const Interval *month, int months, int unit_days, const TimestampTz *as_of,
			   double *horizon)
{
	if (month->month != 0 || month->day < 0 || month->time < 0)
	{
		if (month->month != 1 || month->day != 0 || month->time != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("month must be '1 month' (calendar months) or a length between 28 and 31 days"),
					 errhint("'30 days' is lifetimes' month, '30 days 10:30' the mean Gregorian month (30.4375 days).")));
		if (as_of == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("calendar months need a date to count from"),
					 errhint("Use the rfm_summary form of clv_predicted() (its as_of), or a fixed month length such as '30 days 10:30'.")));
		for (int i = 1; i <= months; i++)
		{
			Interval	im = {0, 0, i};
			TimestampTz end = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
																	  TimestampTzGetDatum(*as_of),
																	  IntervalPGetDatum(&im)));

			horizon[i - 1] = (double) (end - *as_of) / USECS_PER_DAY / unit_days;
		}
		return;
	}
	{
		double		days = month->day + (double) month->time / USECS_PER_DAY;

		if (!(days >= 28.0 && days <= 31.0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("month must be '1 month' (calendar months) or a length between 28 and 31 days, not %g days", days),
					 errhint("'30 days' is lifetimes' month, '30 days 10:30' the mean Gregorian month (30.4375 days).")));
		for (int i = 1; i <= months; i++)
			horizon[i - 1] = i * days / unit_days;
	}
}

static double
clv(const Model *model, const GammaGammaParams *g, int unit_days,
	double x, double t_x, double T, double m, int32 months, double rate,
	const Interval *month, const TimestampTz *as_of)
{
	double		horizon[CLV_MAX_MONTHS];

	/* the discounted sum is a loop over months: keep it short and bounded */
	if (months < 0 || months > CLV_MAX_MONTHS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("months must be between 0 and %d, not %d", CLV_MAX_MONTHS, months),
				 errhint("CLV is a sum over future months; %d months is a century.", CLV_MAX_MONTHS)));
	if (!(rate > -1) || isinf(rate))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("monthly discount rate must be greater than -1, not %g", rate),
				 errhint("Give it as a fraction: 0.01 for 1 %% a month.")));
	if (month == NULL)
	{
		/* the forms without a month argument: lifetimes' 30-day month */
		if (model->family == MODEL_BGNBD)
			return finite_result(btyd_clv_discounted(&model->p, g, x, t_x, T, m, months, rate,
													 (double) unit_days), "clv_predicted");
		for (int i = 1; i <= months; i++)
			horizon[i - 1] = i * 30.0 / unit_days;
	}
	else
		month_horizons(month, months, unit_days, as_of, horizon);
	return finite_result(clv_generic(model, g, x, t_x, T, m, months, rate, horizon), "clv_predicted");
}

/* clv_predicted(bgnbd, gg, x, t_x, T, m, months, monthly_discount_rate) */
Datum
cartera_clv_predicted(PG_FUNCTION_ARGS)
{
	Model		model = read_model(fcinfo, 0);
	GammaGammaParams g = read_gamma_gamma(PG_GETARG_HEAPTUPLEHEADER(1));
	double		x = PG_GETARG_FLOAT8(2);
	double		t_x = PG_GETARG_FLOAT8(3);
	double		T = PG_GETARG_FLOAT8(4);
	double		m = PG_GETARG_FLOAT8(5);

	if (model.unit_days == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the %s model does not say its time unit, so a month cannot be measured", family_name[model.family]),
				 errhint("Fit it with a unit, %s_fit(frequency, t_x, T, 'weeks'), or build it with %s_params(r, alpha, %s, 'weeks').",
						 family_key[model.family], family_key[model.family],
						 model.family == MODEL_PARETO_NBD ? "s, beta" : "a, b")));
	check_history(x, t_x, T);
	check_spend(x, m);
	PG_RETURN_FLOAT8(clv(&model, &g, model.unit_days, x, t_x, T, m,
						 PG_GETARG_INT32(6), PG_GETARG_FLOAT8(7),
						 PG_NARGS() > 8 ? PG_GETARG_INTERVAL_P(8) : NULL, NULL));
}

/* clv_predicted(bgnbd, gg, summary, time_unit, months, monthly_discount_rate) */
Datum
cartera_clv_predicted_summary(PG_FUNCTION_ARGS)
{
	Model		model = read_model(fcinfo, 0);
	GammaGammaParams g = read_gamma_gamma(PG_GETARG_HEAPTUPLEHEADER(1));
	HeapTupleHeader s = PG_GETARG_HEAPTUPLEHEADER(2);
	int			unit = agree_unit(&model, PG_GETARG_TEXT_PP(3));
	double		x,
				t_x,
				T;

	TimestampTz as_of;
	bool		isnull;

	if (!cartera_summary_history(s, unit, &x, &t_x, &T))
		PG_RETURN_NULL();
	as_of = DatumGetTimestampTz(GetAttributeByName(s, "as_of", &isnull));
	PG_RETURN_FLOAT8(clv(&model, &g, unit, x, t_x, T, Max(cartera_summary_repeat_spend(s), 0),
						 PG_GETARG_INT32(4), PG_GETARG_FLOAT8(5),
						 PG_NARGS() > 6 ? PG_GETARG_INTERVAL_P(6) : NULL, isnull ? NULL : &as_of));
}


/* ------------------------------------------------------------------ */
/* prediction intervals (delta method, src/interval.c)                  */
/* ------------------------------------------------------------------ */

/* the covariance of ln(params) the fit stored, 4 x 4 */
static void
read_log_covariance(HeapTupleHeader t, const char *model, double cov[OPT_MAXDIM][OPT_MAXDIM])
{
	TupleDesc	desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(t), HeapTupleHeaderGetTypMod(t));
	int			natts = desc->natts;
	bool		isnull = true;
	Datum		d = (Datum) 0;
	ArrayType  *a;
	Datum	   *v;
	bool	   *vnull;
	int			nv;

	ReleaseTupleDesc(desc);
	if (natts >= BGNBD_ATT_COV)
		d = GetAttributeByNum(t, BGNBD_ATT_COV, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the %s model has no covariance of its estimates", model),
				 errdetail("A prediction interval needs the log_covariance of a fit; parameters built by hand, stored before 0.4.0 or estimated on the edge of the parameter space have none."),
				 errhint("Fit the model again with cartera's fit aggregate.")));
	a = DatumGetArrayTypeP(d);
	deconstruct_array(a, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &v, &vnull, &nv);
	if (ARR_NDIM(a) != 1 || nv != 16)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("log_covariance of a %s model must be 16 numbers (a 4 x 4 matrix by rows)", model)));
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
		{
			double		cij = vnull[4 * i + j] ? NAN : DatumGetFloat8(v[4 * i + j]),
						cji = vnull[4 * j + i] ? NAN : DatumGetFloat8(v[4 * j + i]);

			if (!isfinite(cij) || cij != cji || (i == j && !(cij >= 0)))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("log_covariance of a %s model must be a finite symmetric matrix with a non-negative diagonal", model)));
			cov[i][j] = cij;
		}
}

typedef struct IntervalCtx
{
	Model		m;
	bool		alive;			/* P(alive), else expected purchases in t */
	double		t,
				x,
				t_x,
				T;
} IntervalCtx;

static double
interval_prediction(const double *p, const void *vctx)
{
	const IntervalCtx *c = (const IntervalCtx *) vctx;
	Model		m = c->m;

	m.p.r = m.pp.r = p[0];
	m.p.alpha = m.pp.alpha = p[1];
	m.p.a = m.pp.s = p[2];
	m.p.b = m.pp.beta = p[3];
	return c->alive ? model_p_alive(&m, c->x, c->t_x, c->T) : model_expected(&m, c->t, c->x, c->t_x, c->T);
}

/* cartera.prediction_interval: fn_extra holds the FamilyCache, so the row type is kept there */
static Datum
interval_tuple(FunctionCallInfo fcinfo, Datum *values, bool *nulls)
{
	FamilyCache *c = (FamilyCache *) fcinfo->flinfo->fn_extra;

	Assert(c != NULL);			/* read_model() made it */
	if (c->result == NULL)
	{
		TupleDesc	desc;
		MemoryContext old;

		if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE || desc->natts != 5)
			elog(ERROR, "cartera interval function must return cartera.prediction_interval");
		old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		c->result = BlessTupleDesc(CreateTupleDescCopy(desc));
		MemoryContextSwitchTo(old);
	}
	return HeapTupleGetDatum(heap_form_tuple(c->result, values, nulls));
}

static Datum
interval_result(FunctionCallInfo fcinfo, IntervalCtx *c, double level)
{
	double		cov[OPT_MAXDIM][OPT_MAXDIM];
	double		par[4] = {c->m.p.r, c->m.p.alpha, c->m.p.a, c->m.p.b};
	PredictionInterval pi;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	if (!(level > 0 && level < 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("level must be between 0 and 1 (exclusive), not %g", level),
				 errhint("0.95 gives a 95 %% interval.")));
	read_log_covariance(PG_GETARG_HEAPTUPLEHEADER(0), family_name[c->m.family], cov);
	pi = delta_interval(interval_prediction, c, 4, par, (const double (*)[OPT_MAXDIM]) cov, level,
						c->alive ? INTERVAL_LOGIT : INTERVAL_LOG);
	values[0] = Float8GetDatum(finite_result(pi.estimate, c->alive ? "p_alive" : "expected_purchases"));
	values[1] = Float8GetDatum(pi.std_error);
	values[2] = Float8GetDatum(pi.lower);
	values[3] = Float8GetDatum(pi.upper);
	values[4] = Float8GetDatum(level);
	for (int i = 1; i <= 3; i++)
		nulls[i] = !isfinite(DatumGetFloat8(values[i]));
	PG_RETURN_DATUM(interval_tuple(fcinfo, values, nulls));
}

/* history of the interval functions: (x, t_x, T) or (summary, time_unit) from argument first */
static bool
interval_history(FunctionCallInfo fcinfo, IntervalCtx *c, int first, bool summary)
{
	if (summary)
	{
		int			unit = agree_unit(&c->m, PG_GETARG_TEXT_PP(first + 1));

		return cartera_summary_history(PG_GETARG_HEAPTUPLEHEADER(first), unit, &c->x, &c->t_x, &c->T);
	}
	c->x = PG_GETARG_FLOAT8(first);
	c->t_x = PG_GETARG_FLOAT8(first + 1);
	c->T = PG_GETARG_FLOAT8(first + 2);
	check_history(c->x, c->t_x, c->T);
	return true;
}

/* p_alive_interval(params, x, t_x, T, level) or (params, summary, time_unit, level) */
Datum
cartera_p_alive_interval(PG_FUNCTION_ARGS)
{
	IntervalCtx c;
	bool		summary = PG_NARGS() == 4;

	c.m = read_model(fcinfo, 0);
	c.alive = true;
	c.t = 0;
	if (!interval_history(fcinfo, &c, 1, summary))
		PG_RETURN_NULL();
	return interval_result(fcinfo, &c, PG_GETARG_FLOAT8(PG_NARGS() - 1));
}

/* expected_purchases_interval(params, t, x, t_x, T, level) or (params, t, summary, time_unit, level) */
Datum
cartera_expected_purchases_interval(PG_FUNCTION_ARGS)
{
	IntervalCtx c;
	bool		summary = PG_NARGS() == 5;

	c.m = read_model(fcinfo, 0);
	c.alive = false;
	c.t = PG_GETARG_FLOAT8(1);
	check_horizon(c.t);
	if (!interval_history(fcinfo, &c, 2, summary))
		PG_RETURN_NULL();
	return interval_result(fcinfo, &c, PG_GETARG_FLOAT8(PG_NARGS() - 1));
}
