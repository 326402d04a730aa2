/*
 * scoring.c — quantile scoring: the breakpoints() aggregate (n-1 cut points
 * from the sorted values), score() and rfm_segment().
 *
 * A score is a function of the value alone (1 + number of cut points below
 * it), so equal values always get equal scores, and the cut points depend
 * only on the multiset of values, not on the order rows arrive in.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "cartera.h"
#include "executor/executor.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

PG_FUNCTION_INFO_V1(cartera_breakpoints_transfn);
PG_FUNCTION_INFO_V1(cartera_breakpoints_combinefn);
PG_FUNCTION_INFO_V1(cartera_breakpoints_serialfn);
PG_FUNCTION_INFO_V1(cartera_breakpoints_deserialfn);
PG_FUNCTION_INFO_V1(cartera_breakpoints_finalfn);
PG_FUNCTION_INFO_V1(cartera_score);
PG_FUNCTION_INFO_V1(cartera_rfm_segment);

#define MIN_SCORES 2
#define MAX_SCORES 9

typedef struct BreakpointsState
{
	int32		nscores;
	int64		count;
	int64		capacity;
	double	   *values;
} BreakpointsState;

static void
check_nscores(int32 n)
{
	if (n < MIN_SCORES || n > MAX_SCORES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("number of scores must be between %d and %d, not %d",
						MIN_SCORES, MAX_SCORES, n),
				 errhint("Use 5 for the usual RFM quintiles.")));
}

static BreakpointsState *
breakpoints_new(MemoryContext aggcontext, int32 nscores)
{
	BreakpointsState *s = MemoryContextAllocZero(aggcontext, sizeof(BreakpointsState));

	s->nscores = nscores;
	return s;
}

static void
breakpoints_reserve(BreakpointsState *s, int64 needed, MemoryContext aggcontext)
{
	int64		newcap;

	if (needed <= s->capacity)
		return;
	newcap = Max(Max(s->capacity * 2, needed), 64);
	if (s->values == NULL)
		s->values = MemoryContextAllocHuge(aggcontext, newcap * sizeof(double));
	else
		s->values = repalloc_huge(s->values, newcap * sizeof(double));
	s->capacity = newcap;
}

Datum
cartera_breakpoints_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	BreakpointsState *s;
	double		v;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "cartera_breakpoints_transfn called in non-aggregate context");
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("number of scores must not be null")));
	if (PG_ARGISNULL(0))
	{
		check_nscores(PG_GETARG_INT32(2));
		s = breakpoints_new(aggcontext, PG_GETARG_INT32(2));
	}
	else
	{
		s = (BreakpointsState *) PG_GETARG_POINTER(0);
		if (PG_GETARG_INT32(2) != s->nscores)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("number of scores must be the same for every row")));
	}
	if (PG_ARGISNULL(1))
		PG_RETURN_POINTER(s);
	v = PG_GETARG_FLOAT8(1);
	if (isnan(v))
		PG_RETURN_POINTER(s);	/* NaN has no rank: skipped like NULL */
	breakpoints_reserve(s, s->count + 1, aggcontext);
	s->values[s->count++] = v;
	PG_RETURN_POINTER(s);
}

Datum
cartera_breakpoints_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	BreakpointsState *s1 = PG_ARGISNULL(0) ? NULL : (BreakpointsState *) PG_GETARG_POINTER(0);
	BreakpointsState *s2 = PG_ARGISNULL(1) ? NULL : (BreakpointsState *) PG_GETARG_POINTER(1);

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "cartera_breakpoints_combinefn called in non-aggregate context");
	if (s2 == NULL)
	{
		if (s1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s1);
	}
	if (s1 == NULL)
		s1 = breakpoints_new(aggcontext, s2->nscores);
	else if (s1->nscores != s2->nscores)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("number of scores must be the same for every row")));
	if (s2->count > 0)			/* values is NULL in an empty state */
	{
		breakpoints_reserve(s1, s1->count + s2->count, aggcontext);
		memcpy(s1->values + s1->count, s2->values, s2->count * sizeof(double));
		s1->count += s2->count;
	}
	PG_RETURN_POINTER(s1);
}

Datum
cartera_breakpoints_serialfn(PG_FUNCTION_ARGS)
{
	BreakpointsState *s = (BreakpointsState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, s->nscores);
	pq_sendint64(&buf, s->count);
	for (int64 i = 0; i < s->count; i++)
		pq_sendfloat8(&buf, s->values[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

Datum
cartera_breakpoints_deserialfn(PG_FUNCTION_ARGS)
{
	bytea	   *bytes = PG_GETARG_BYTEA_PP(0);
	MemoryContext aggcontext;
	StringInfoData buf;
	BreakpointsState *s;
	int64		count;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "cartera_breakpoints_deserialfn called in non-aggregate context");
	buf.data = VARDATA_ANY(bytes);
	buf.len = VARSIZE_ANY_EXHDR(bytes);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	s = breakpoints_new(aggcontext, pq_getmsgint(&buf, 4));
	count = pq_getmsgint64(&buf);
	if (s->nscores < MIN_SCORES || s->nscores > MAX_SCORES ||
		count < 0 || count > (int64) (buf.len - buf.cursor) / (int64) sizeof(double))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("corrupt cartera breakpoints state"),
				 errdetail("%d scores, %lld values.", s->nscores, (long long) count)));
	breakpoints_reserve(s, count, aggcontext);
	for (int64 i = 0; i < count; i++)
		s->values[i] = pq_getmsgfloat8(&buf);
	s->count = count;
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(s);
}

static int
double_cmp(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/*
 * Cut point k (1..n-1) is the value at rank ceil(k * N / n) of the sorted
 * values: the lower k/n quantile, always a value that occurs in the data.
 */
Datum
cartera_breakpoints_finalfn(PG_FUNCTION_ARGS)
{
	BreakpointsState *s;
	Datum	   *cuts;
	int			ncuts;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "cartera_breakpoints_finalfn called in non-aggregate context");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = (BreakpointsState *) PG_GETARG_POINTER(0);
	if (s->count == 0)
		PG_RETURN_NULL();
	/* sorting in place is fine: the final function may run more than once, the order stays valid */
	qsort(s->values, s->count, sizeof(double), double_cmp);
	ncuts = s->nscores - 1;
	cuts = palloc(ncuts * sizeof(Datum));
	for (int k = 1; k <= ncuts; k++)
	{
		int64		rank = (k * s->count + s->nscores - 1) / s->nscores;

		cuts[k - 1] = Float8GetDatum(s->values[Max(rank, 1) - 1]);
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(cuts, ncuts, FLOAT8OID, sizeof(float8),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* unpack and validate a breakpoints array: 1..8 ascending, no NULLs or NaN */
static int
read_breakpoints(ArrayType *arr, double **cuts)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(arr) > 1 || ARR_ELEMTYPE(arr) != FLOAT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("breakpoints must be a one-dimensional float8 array")));
	deconstruct_array(arr, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &elems, &nulls, &n);
	if (n < MIN_SCORES - 1 || n > MAX_SCORES - 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("breakpoints must have between %d and %d elements, not %d",
						MIN_SCORES - 1, MAX_SCORES - 1, n),
				 errhint("Compute them with cartera.breakpoints(value, n).")));
	*cuts = palloc(n * sizeof(double));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i] || isnan(DatumGetFloat8(elems[i])))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("breakpoints must not contain NULL or NaN")));
		(*cuts)[i] = DatumGetFloat8(elems[i]);
		if (i > 0 && (*cuts)[i] < (*cuts)[i - 1])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("breakpoints must be in ascending order")));
	}
	return n;
}

/* 1 + number of cut points strictly below value; reversed when lower is better */
static int
score_value(double v, const double *cuts, int ncuts, bool higher_is_better)
{
	int			above = 0;

	if (isnan(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot score NaN")));
	while (above < ncuts && v > cuts[above])
		above++;
	return higher_is_better ? 1 + above : ncuts + 1 - above;
}

Datum
cartera_score(PG_FUNCTION_ARGS)
{
	double		v = PG_GETARG_FLOAT8(0);
	double	   *cuts;
	int			n = read_breakpoints(PG_GETARG_ARRAYTYPE_P(1), &cuts);

	PG_RETURN_INT32(score_value(v, cuts, n, PG_GETARG_BOOL(2)));
}

/* an integer or numeric field of an rfm_summary as float8 */
static double
summary_field(HeapTupleHeader t, const char *name, bool is_numeric, bool *isnull)
{
	Datum		d = GetAttributeByName(t, name, isnull);

	if (*isnull)
		return 0;
	if (is_numeric)
		return DatumGetFloat8(DirectFunctionCall1(numeric_float8, d));
	return (double) DatumGetInt32(d);
}

/* rfm_segment(summary, r_breaks, f_breaks, m_breaks): R on recency_days (lower is better), F on frequency, M on monetary_total */
Datum
cartera_rfm_segment(PG_FUNCTION_ARGS)
{
	HeapTupleHeader t = PG_GETARG_HEAPTUPLEHEADER(0);
	double	   *rc,
			   *fc,
			   *mc;
	int			rn = read_breakpoints(PG_GETARG_ARRAYTYPE_P(1), &rc);
	int			fn = read_breakpoints(PG_GETARG_ARRAYTYPE_P(2), &fc);
	int			mn = read_breakpoints(PG_GETARG_ARRAYTYPE_P(3), &mc);
	bool		rnull,
				fnull,
				mnull;
	double		recency = summary_field(t, "recency_days", false, &rnull);
	double		frequency = summary_field(t, "frequency", false, &fnull);
	double		monetary = summary_field(t, "monetary_total", true, &mnull);

	/* a lead (no purchase yet) has no RFM cell */
	if (rnull || fnull || mnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(cartera_segment_from_scores(score_value(recency, rc, rn, false),
												score_value(frequency, fc, fn, true),
												score_value(monetary, mc, mn, true)));
}
