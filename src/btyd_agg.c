/*
 * btyd_agg.c — the bgnbd_fit() and gamma_gamma_fit() aggregates: a weighted
 * histogram of distinct (x, t_x, T) or (x, m) tuples, fitted in the final.
 *
 * Memory grows with the number of distinct tuples, not customers: a million
 * customers measured in days have far fewer distinct (x, t_x, T) triples,
 * and the likelihood is a weighted sum over those.  The histogram is
 * combinable and serializable, so the fits run under parallel query.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "btyd.h"
#include "cartera.h"
#include "fit_histogram.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

PG_FUNCTION_INFO_V1(cartera_bgnbd_fit_transfn);
PG_FUNCTION_INFO_V1(cartera_gamma_gamma_fit_transfn);
PG_FUNCTION_INFO_V1(cartera_histogram_combinefn);
PG_FUNCTION_INFO_V1(cartera_histogram_serialfn);
PG_FUNCTION_INFO_V1(cartera_histogram_deserialfn);
PG_FUNCTION_INFO_V1(cartera_bgnbd_fit_finalfn);
PG_FUNCTION_INFO_V1(cartera_pareto_nbd_fit_finalfn);
PG_FUNCTION_INFO_V1(cartera_mbgnbd_fit_finalfn);
PG_FUNCTION_INFO_V1(cartera_gamma_gamma_fit_finalfn);

/* ndims data columns (or one rfm_summary), then an optional unit and penalizer */
const FitSignature *
fit_signature(FunctionCallInfo fcinfo, int ndims)
{
	FitSignature *sig = (FitSignature *) fcinfo->flinfo->fn_extra;
	int			first_option;

	if (sig != NULL)
		return sig;
	sig = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(FitSignature));
	sig->unit_arg = sig->penalizer_arg = -1;
	sig->from_summary = type_is_rowtype(get_fn_expr_argtype(fcinfo->flinfo, 1));
	first_option = 1 + (sig->from_summary ? 1 : ndims);
	for (int i = first_option; i < PG_NARGS(); i++)
	{
		Oid			t = get_fn_expr_argtype(fcinfo->flinfo, i);

		if (t == TEXTOID)
			sig->unit_arg = i;
		else if (t == FLOAT8OID)
			sig->penalizer_arg = i;
		else
			elog(ERROR, "cartera fit called with unsupported argument type %u", t);
	}
	fcinfo->flinfo->fn_extra = sig;
	return sig;
}

int
cartera_time_unit_days(const char *unit)
{
	if (pg_strcasecmp(unit, "days") == 0 || pg_strcasecmp(unit, "day") == 0)
		return 1;
	if (pg_strcasecmp(unit, "weeks") == 0 || pg_strcasecmp(unit, "week") == 0)
		return 7;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("time unit must be \"days\" or \"weeks\", not \"%s\"", unit)));
	return 0;					/* keep compiler quiet */
}

const char *
cartera_time_unit_name(int unit_days)
{
	return unit_days == 7 ? "weeks" : unit_days == 1 ? "days" : NULL;
}

HistState *
fit_hist_new(MemoryContext aggcontext, int ndims)
{
	HistState  *s = MemoryContextAllocZero(aggcontext, sizeof(HistState));
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(HistKey);
	ctl.entrysize = sizeof(HistEntry);
	ctl.hcxt = aggcontext;
	s->ndims = ndims;
	s->cxt = aggcontext;
	s->htab = hash_create("cartera fit histogram", 256, &ctl,
						  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	return s;
}

void
fit_hist_add(HistState *s, const double *v, double weight)
{
	HistKey		key;
	HistEntry  *e;
	bool		found;

	memset(&key, 0, sizeof(key));
	for (int i = 0; i < s->ndims; i++)
		key.v[i] = v[i] + 0.0;	/* -0.0 and 0.0 must hash alike */
	e = (HistEntry *) hash_search(s->htab, &key, HASH_ENTER, &found);
	if (!found)
		e->weight = 0;
	e->weight += weight;
	/*
	 * A weight counts customers, so it fits an int64 like the row count; a
	 * combine of states (or a serialized state naming one tuple twice) that
	 * goes past it would leave a state its own deserializer rejects.
	 */
	if (!(e->weight <= (double) PG_INT64_MAX))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("customer count out of range")));
}

void
fit_check_penalizer(double penalizer)
{
	if (!(penalizer >= 0) || isinf(penalizer))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("penalizer must be a finite number >= 0, not %g", penalizer)));
}

/* the state, created on the first row with the call's unit and penalizer */
HistState *
fit_state(FunctionCallInfo fcinfo, const FitSignature *sig, int ndims)
{
	MemoryContext aggcontext;
	HistState  *s;
	int			unit = 0;
	double		penalizer = 0;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "cartera fit transition function called in non-aggregate context");
	if (sig->unit_arg >= 0)
	{
		if (PG_ARGISNULL(sig->unit_arg))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("time unit must not be null"),
					 errhint("Use 'weeks' or 'days'.")));
		unit = cartera_time_unit_days(text_to_cstring(PG_GETARG_TEXT_PP(sig->unit_arg)));
	}
	if (sig->penalizer_arg >= 0)
	{
		if (PG_ARGISNULL(sig->penalizer_arg))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("penalizer must not be null")));
		penalizer = PG_GETARG_FLOAT8(sig->penalizer_arg);
		fit_check_penalizer(penalizer);
	}
	if (PG_ARGISNULL(0))
	{
		s = fit_hist_new(aggcontext, ndims);
		s->unit_days = unit;
		s->penalizer = penalizer;
		return s;
	}
	s = (HistState *) PG_GETARG_POINTER(0);
	if (s->unit_days != unit || s->penalizer != penalizer)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time unit and penalizer must be the same for every row")));
	return s;
}

Datum
cartera_bgnbd_fit_transfn(PG_FUNCTION_ARGS)
{
	const FitSignature *sig = fit_signature(fcinfo, 3);
	HistState  *s = fit_state(fcinfo, sig, 3);
	double		v[3];

	if (sig->from_summary)
	{
		if (PG_ARGISNULL(1) ||
			!cartera_summary_history(PG_GETARG_HEAPTUPLEHEADER(1), s->unit_days, &v[0], &v[1], &v[2]))
			PG_RETURN_POINTER(s);
	}
	else
	{
		if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
			PG_RETURN_POINTER(s);
		v[0] = PG_GETARG_INT32(1);
		v[1] = PG_GETARG_FLOAT8(2);
		v[2] = PG_GETARG_FLOAT8(3);
	}
	if (v[0] < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("frequency must not be negative, not %g", v[0])));
	if (!(v[1] >= 0 && v[1] <= v[2]) || isinf(v[2]))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("t_x must be between 0 and T, not t_x = %g with T = %g", v[1], v[2]),
				 errdetail("t_x is the time from the first to the last purchase, T the time from the first purchase to the end of the period.")));
	if (v[2] <= 0)
		PG_RETURN_POINTER(s);	/* acquired at the very end: no information */
	fit_hist_add(s, v, 1.0);
	s->rows++;
	PG_RETURN_POINTER(s);
}

Datum
cartera_gamma_gamma_fit_transfn(PG_FUNCTION_ARGS)
{
	const FitSignature *sig = fit_signature(fcinfo, 2);
	HistState  *s = fit_state(fcinfo, sig, 2);
	double		v[2];

	if (sig->from_summary)
	{
		if (PG_ARGISNULL(1) ||
			!cartera_summary_history(PG_GETARG_HEAPTUPLEHEADER(1), 1, &v[0], NULL, NULL))
			PG_RETURN_POINTER(s);
		v[1] = cartera_summary_repeat_spend(PG_GETARG_HEAPTUPLEHEADER(1));
	}
	else
	{
		if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
			PG_RETURN_POINTER(s);
		v[0] = PG_GETARG_INT32(1);
		v[1] = PG_GETARG_FLOAT8(2);
	}
	if (v[0] < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("frequency must not be negative, not %g", v[0])));
	if (isnan(v[1]) || isinf(v[1]))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("monetary value must be a finite number, not %g", v[1])));
	/* one-time buyers carry no repeat spend: they are not in this model */
	if (v[0] == 0)
		PG_RETURN_POINTER(s);
	/* refunds and free orders: Gamma-Gamma needs positive spend */
	if (v[1] <= 0)
	{
		s->excluded++;
		PG_RETURN_POINTER(s);
	}
	fit_hist_add(s, v, 1.0);
	s->rows++;
	PG_RETURN_POINTER(s);
}

Datum
cartera_histogram_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	HistState  *s1 = PG_ARGISNULL(0) ? NULL : (HistState *) PG_GETARG_POINTER(0);
	HistState  *s2 = PG_ARGISNULL(1) ? NULL : (HistState *) PG_GETARG_POINTER(1);
	HASH_SEQ_STATUS seq;
	HistEntry  *e;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "cartera_histogram_combinefn called in non-aggregate context");
	if (s2 == NULL)
	{
		if (s1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s1);
	}
	if (s1 == NULL)
	{
		s1 = fit_hist_new(aggcontext, s2->ndims);
		s1->kind = s2->kind;
		s1->unit_days = s2->unit_days;
		s1->penalizer = s2->penalizer;
	}
	else if (s1->kind != s2->kind || s1->ndims != s2->ndims)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine the states of two different model fits")));
	else if (s1->unit_days != s2->unit_days || s1->penalizer != s2->penalizer)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time unit and penalizer must be the same for every row")));
	hash_seq_init(&seq, s2->htab);
	while ((e = (HistEntry *) hash_seq_search(&seq)) != NULL)
		fit_hist_add(s1, e->key.v, e->weight);
	if (pg_add_s64_overflow(s1->rows, s2->rows, &s1->rows) ||
		pg_add_s64_overflow(s1->excluded, s2->excluded, &s1->excluded))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("customer count out of range")));
	PG_RETURN_POINTER(s1);
}

Datum
cartera_histogram_serialfn(PG_FUNCTION_ARGS)
{
	HistState  *s = (HistState *) PG_GETARG_POINTER(0);
	StringInfoData buf;
	HASH_SEQ_STATUS seq;
	HistEntry  *e;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, s->ndims | (s->kind << 8));
	pq_sendint32(&buf, s->unit_days);
	pq_sendfloat8(&buf, s->penalizer);
	pq_sendint64(&buf, s->rows);
	pq_sendint64(&buf, s->excluded);
	pq_sendint64(&buf, hash_get_num_entries(s->htab));
	hash_seq_init(&seq, s->htab);
	while ((e = (HistEntry *) hash_seq_search(&seq)) != NULL)
	{
		for (int i = 0; i < s->ndims; i++)
			pq_sendfloat8(&buf, e->key.v[i]);
		pq_sendfloat8(&buf, e->weight);
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

static void
corrupt_fit_state(const char *detail_fmt,...) pg_attribute_printf(1, 2);

/* the state a parallel worker sent cannot have come from the transition functions */
static void
corrupt_fit_state(const char *detail_fmt,...)
{
	char		detail[128];
	va_list		args;

	va_start(args, detail_fmt);
	vsnprintf(detail, sizeof(detail), detail_fmt, args);
	va_end(args);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("corrupt cartera fit state"),
			 errdetail("%s", detail)));
}

/* the tuples each kind's transition function lets in; the fits take them as given */
static bool
hist_tuple_ok(int kind, int ndims, const double *v)
{
	for (int d = 0; d < ndims; d++)
		if (!isfinite(v[d]))
			return false;
	switch (kind)
	{
		case HIST_HISTORY:
			return v[0] >= 0 && (ndims == 3 ? v[1] >= 0 && v[1] <= v[2] && v[2] > 0 : v[1] > 0);
		case HIST_BGBB:
			/* x repeat purchases in n opportunities, the last at t_x */
			return v[0] == floor(v[0]) && v[1] == floor(v[1]) && v[2] == floor(v[2]) &&
				v[0] >= 0 && v[0] <= v[1] && v[1] <= v[2] && v[2] >= 1 &&
				(v[0] == 0) == (v[1] == 0);
		case HIST_SURVIVAL:
			/* churned in period t >= 1 (active = 0), or still active after t >= 0 periods */
			return v[0] == floor(v[0]) && (v[1] == 0 || v[1] == 1) &&
				v[0] >= (v[1] == 0 ? 1 : 0);
	}
	return false;
}

static bool
hist_kind_ok(int kind, int ndims)
{
	return (kind == HIST_HISTORY && (ndims == 2 || ndims == 3)) ||
		(kind == HIST_BGBB && ndims == 3) ||
		(kind == HIST_SURVIVAL && ndims == 2);
}

Datum
cartera_histogram_deserialfn(PG_FUNCTION_ARGS)
{
	bytea	   *bytes = PG_GETARG_BYTEA_PP(0);
	MemoryContext aggcontext;
	StringInfoData buf;
	HistState  *s;
	int32		ndims;
	int32		kind;
	int64		n;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "cartera_histogram_deserialfn called in non-aggregate context");
	buf.data = VARDATA_ANY(bytes);
	buf.len = VARSIZE_ANY_EXHDR(bytes);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	ndims = pq_getmsgint(&buf, 4);
	kind = (uint32) ndims >> 8;
	ndims &= 0xff;
	/* 3: (x, t_x, T) or (x, t_x, n), 2: gamma_gamma_fit's (x, m) or (t, active) */
	if (ndims < 2 || ndims > HIST_MAX_DIMS)
		corrupt_fit_state("%d dimensions.", ndims);
	if (!hist_kind_ok(kind, ndims))
		corrupt_fit_state("Histogram of kind %d with %d dimensions.", kind, ndims);
	s = fit_hist_new(aggcontext, ndims);
	s->kind = kind;
	s->unit_days = pq_getmsgint(&buf, 4);
	s->penalizer = pq_getmsgfloat8(&buf);
	s->rows = pq_getmsgint64(&buf);
	s->excluded = pq_getmsgint64(&buf);
	n = pq_getmsgint64(&buf);
	if (s->unit_days != 0 && cartera_time_unit_name(s->unit_days) == NULL)
		corrupt_fit_state("Time unit of %d days.", s->unit_days);
	if (!(s->penalizer >= 0) || isinf(s->penalizer) || s->rows < 0 || s->excluded < 0)
		corrupt_fit_state("Penalizer %g, %lld rows, %lld excluded.", s->penalizer,
						  (long long) s->rows, (long long) s->excluded);
	if (n < 0 || n > (buf.len - buf.cursor) / (int64) (sizeof(double) * (ndims + 1)))
		corrupt_fit_state("%lld entries in %d bytes.", (long long) n, buf.len - buf.cursor);
	for (int64 i = 0; i < n; i++)
	{
		double		v[HIST_MAX_DIMS];
		double		weight;

		for (int d = 0; d < ndims; d++)
			v[d] = pq_getmsgfloat8(&buf);
		weight = pq_getmsgfloat8(&buf);
		/* what the transition functions let in; the fits take it as given */
		/* a weight counts customers: at most int64, so sums of them stay finite */
		if (!(weight > 0 && weight <= (double) PG_INT64_MAX) || !hist_tuple_ok(kind, ndims, v))
			corrupt_fit_state("Entry %lld out of range.", (long long) i);
		fit_hist_add(s, v, weight);
	}
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(s);
}

static int
entry_cmp(const void *a, const void *b)
{
	const HistEntry *x = (const HistEntry *) a;
	const HistEntry *y = (const HistEntry *) b;

	for (int i = 0; i < HIST_MAX_DIMS; i++)
	{
		if (x->key.v[i] != y->key.v[i])
			return x->key.v[i] < y->key.v[i] ? -1 : 1;
	}
	return 0;
}

/*
 * The histogram as an array sorted by tuple: the fit is then the same
 * whatever order rows (or parallel workers) arrived in, to the last bit.
 */
HistEntry *
fit_hist_sorted(HistState *s, size_t *n)
{
	HistEntry  *arr;
	HASH_SEQ_STATUS seq;
	HistEntry  *e;
	size_t		i = 0;

	*n = hash_get_num_entries(s->htab);
	arr = palloc_extended(Max(*n, 1) * sizeof(HistEntry), MCXT_ALLOC_HUGE);
	hash_seq_init(&seq, s->htab);
	while ((e = (HistEntry *) hash_seq_search(&seq)) != NULL)
		arr[i++] = *e;
	qsort(arr, *n, sizeof(HistEntry), entry_cmp);
	return arr;
}

BtydCell *
fit_hist_history_cells(HistState *s, size_t *n)
{
	HistEntry  *entries = fit_hist_sorted(s, n);
	BtydCell   *cells = palloc_extended(Max(*n, 1) * sizeof(BtydCell), MCXT_ALLOC_HUGE);

	for (size_t i = 0; i < *n; i++)
	{
		cells[i].x = entries[i].key.v[0];
		cells[i].t_x = entries[i].key.v[1];
		cells[i].T = entries[i].key.v[2];
		cells[i].weight = entries[i].weight;
	}
	pfree(entries);
	return cells;
}

void
fit_interrupt_check(void)
{
	CHECK_FOR_INTERRUPTS();
}


/*
 * The final function of the transaction-model fits: the same (x, t_x, T)
 * histogram, the model chosen by the aggregate (bgnbd_fit, pareto_nbd_fit,
 * mbgnbd_fit).  The result types share their layout: four parameters,
 * log_likelihood, customers, iterations, converged, time_unit, four
 * standard errors, aic, bic.
 */
static Datum
history_fit_final(FunctionCallInfo fcinfo, TransactionModel model)
{
	static const char *const fn_name[] = {"bgnbd_fit", "pareto_nbd_fit", "mbgnbd_fit"};
	static const char *const edge[] = {
		"a or b tending to 0 or infinity",
		"s or beta tending to 0 or infinity: dropout beyond what the data can show",
		"a or b tending to 0 or infinity"
	};
	HistState  *s;
	BtydCell   *cells;
	size_t		n;
	double		par[4] = {0, 0, 0, 0};
	BtydFitResult fit;
	Datum		values[BGNBD_NATTS];
	bool		nulls[BGNBD_NATTS] = {false};
	const char *unit;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "cartera %s final function called in non-aggregate context", fn_name[model]);
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = (HistState *) PG_GETARG_POINTER(0);
	if (s->rows == 0)
		PG_RETURN_NULL();
	cells = fit_hist_history_cells(s, &n);
	if (model == MODEL_PARETO_NBD)
	{
		ParetoNbdParams p = {0, 0, 0, 0};

		fit = pareto_nbd_fit(cells, n, s->penalizer, &p, fit_interrupt_check);
		par[0] = p.r, par[1] = p.alpha, par[2] = p.s, par[3] = p.beta;
	}
	else
	{
		BgnbdParams p = {0, 0, 0, 0};

		fit = (model == MODEL_MBGNBD ? mbgnbd_fit : bgnbd_fit) (cells, n, s->penalizer, &p, fit_interrupt_check);
		par[0] = p.r, par[1] = p.alpha, par[2] = p.a, par[3] = p.b;
	}
	if (!isfinite(fit.loglik))
	{
		/* no start gave a finite likelihood: no estimate, as for no data */
		ereport(WARNING,
				(errmsg("%s found no finite likelihood for these histories", fn_name[model]),
				 errdetail("The result is NULL: the values are too extreme to fit a model to.")));
		PG_RETURN_NULL();
	}
	if (!fit.converged)
		ereport(WARNING,
				(errmsg("%s found no interior maximum after %d iterations", fn_name[model], fit.iterations),
				 errdetail("The likelihood is largest at the edge of the parameter space (%s); the estimate returned is the best point found.", edge[model]),
				 errhint("Add a small penalizer, e.g. %s(summary, 'weeks', 0.001), or check that frequency, t_x and T use one time unit.", fn_name[model])));
	for (int i = 0; i < 4; i++)
		values[i] = Float8GetDatum(par[i]);
	values[4] = Float8GetDatum(fit.loglik);
	values[5] = Int64GetDatum(s->rows);
	values[6] = Int32GetDatum(fit.iterations);
	values[7] = BoolGetDatum(fit.converged);
	unit = cartera_time_unit_name(s->unit_days);
	nulls[8] = (unit == NULL);
	values[8] = unit ? CStringGetTextDatum(unit) : (Datum) 0;
	cartera_fit_uncertainty(values, nulls, 9, 4, fit.se, fit.loglik, s->rows);
	values[15] = cartera_log_covariance_datum(fit.log_cov, 4, &nulls[15]);
	PG_RETURN_DATUM(cartera_make_composite_prefix(fcinfo, values, nulls, BGNBD_NATTS));
}

Datum
cartera_bgnbd_fit_finalfn(PG_FUNCTION_ARGS)
{
	return history_fit_final(fcinfo, MODEL_BGNBD);
}

Datum
cartera_pareto_nbd_fit_finalfn(PG_FUNCTION_ARGS)
{
	return history_fit_final(fcinfo, MODEL_PARETO_NBD);
}

Datum
cartera_mbgnbd_fit_finalfn(PG_FUNCTION_ARGS)
{
	return history_fit_final(fcinfo, MODEL_MBGNBD);
}

Datum
cartera_gamma_gamma_fit_finalfn(PG_FUNCTION_ARGS)
{
	HistState  *s;
	HistEntry  *entries;
	SpendCell  *cells;
	size_t		n;
	GammaGammaParams g = {0, 0, 0};
	BtydFitResult fit;
	Datum		values[GG_NATTS];
	bool		nulls[GG_NATTS] = {false};

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "cartera_gamma_gamma_fit_finalfn called in non-aggregate context");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = (HistState *) PG_GETARG_POINTER(0);
	if (s->excluded > 0)
		ereport(NOTICE,
				(errmsg("gamma_gamma_fit left out %lld repeat customers whose repeat spend is zero or negative",
						(long long) s->excluded),
				 errdetail("The Gamma-Gamma model needs positive spend; refunds and free orders can bring the mean to zero or below.")));
	if (s->rows == 0)
		PG_RETURN_NULL();
	entries = fit_hist_sorted(s, &n);
	cells = palloc_extended(n * sizeof(SpendCell), MCXT_ALLOC_HUGE);
	for (size_t i = 0; i < n; i++)
	{
		cells[i].x = entries[i].key.v[0];
		cells[i].m = entries[i].key.v[1];
		cells[i].weight = entries[i].weight;
	}
	fit = gamma_gamma_fit(cells, n, s->penalizer, &g, fit_interrupt_check);
	if (!isfinite(fit.loglik))
	{
		/* no start gave a finite likelihood: no estimate, as for no data */
		ereport(WARNING,
				(errmsg("gamma_gamma_fit found no finite likelihood for these spends"),
				 errdetail("The result is NULL: the spends are too extreme (near the limits of double precision) to fit a model to.")));
		PG_RETURN_NULL();
	}
	if (!fit.converged)
		ereport(WARNING,
				(errmsg("gamma_gamma_fit found no interior maximum after %d iterations", fit.iterations),
				 errdetail("The likelihood is largest at the edge of the parameter space (q and gamma tending to infinity: spend hardly varies between customers); the estimate returned is the best point found."),
				 errhint("Add a small penalizer, e.g. gamma_gamma_fit(summary, 0.001).")));
	values[0] = Float8GetDatum(g.p);
	values[1] = Float8GetDatum(g.q);
	values[2] = Float8GetDatum(g.gamma);
	values[3] = Float8GetDatum(fit.loglik);
	values[4] = Int64GetDatum(s->rows);
	values[5] = Int32GetDatum(fit.iterations);
	values[6] = BoolGetDatum(fit.converged);
	cartera_fit_uncertainty(values, nulls, 7, 3, fit.se, fit.loglik, s->rows);
	PG_RETURN_DATUM(cartera_make_composite_prefix(fcinfo, values, nulls, GG_NATTS));
}
