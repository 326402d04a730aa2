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
#include "common/int.h"
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

/*
 * The values, kept exactly but compactly: a sorted array of distinct values
 * with their counts, plus a buffer of raw values that is sorted and merged
 * into it whenever it fills.  Money amounts and scores have few distinct
 * values, so a partial state from a parallel worker is small (it used to
 * ship every value), and memory grows with the distinct values, not rows.
 */
#define BREAKPOINTS_MIN_BUFFER 65536

typedef struct BreakpointsState
{
	int32		nscores;
	int64		count;			/* values seen, duplicates included */
	int64		ndistinct;		/* entries of vals[] / cnts[] */
	double	   *vals;			/* sorted distinct values */
	int64	   *cnts;			/* how often each occurs */
	int64		nraw;			/* values waiting in raw[] */
	int64		rawcap;
	double	   *raw;
	MemoryContext cxt;
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
	s->cxt = aggcontext;
	return s;
}

static int
double_cmp(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/*
 * Merge the sorted (value, count) runs a and b into fresh arrays in s->cxt;
 * counts of equal values are added.
 */
static void
merge_runs(BreakpointsState *s,
		   const double *av, const int64 *ac, int64 an,
		   const double *bv, const int64 *bc, int64 bn)
{
	double	   *vals = MemoryContextAllocHuge(s->cxt, Max(an + bn, 1) * sizeof(double));
	int64	   *cnts = MemoryContextAllocHuge(s->cxt, Max(an + bn, 1) * sizeof(int64));
	int64		i = 0,
				j = 0,
				n = 0;

	while (i < an || j < bn)
	{
		if (j >= bn || (i < an && av[i] < bv[j]))
		{
			vals[n] = av[i];
			cnts[n++] = ac[i++];
		}
		else if (i >= an || bv[j] < av[i])
		{
			vals[n] = bv[j];
			cnts[n++] = bc[j++];
		}
		else
		{
			vals[n] = av[i];
			cnts[n++] = ac[i++] + bc[j++];
		}
	}
	if (s->vals != NULL)
	{
		pfree(s->vals);
		pfree(s->cnts);
	}
	s->vals = vals;
	s->cnts = cnts;
	s->ndistinct = n;
}

/* sort the raw buffer and merge it into the distinct values */
static void
breakpoints_compact(BreakpointsState *s)
{
	double	   *rv;
	int64	   *rc;
	int64		n = 0;

	if (s->nraw == 0)
		return;
	qsort(s->raw, s->nraw, sizeof(double), double_cmp);
	/* runs of equal values in place: raw[] keeps the values, rc the counts */
	rv = s->raw;
	rc = MemoryContextAllocHuge(s->cxt, s->nraw * sizeof(int64));
	for (int64 i = 0; i < s->nraw; i++)
	{
		if (n > 0 && rv[n - 1] == s->raw[i])
			rc[n - 1]++;
		else
		{
			rv[n] = s->raw[i];
			rc[n++] = 1;
		}
	}
	merge_runs(s, s->vals, s->cnts, s->ndistinct, rv, rc, n);
	pfree(rc);
	s->nraw = 0;
}

static void
breakpoints_add(BreakpointsState *s, double v)
{
	if (s->nraw == s->rawcap)
	{
		breakpoints_compact(s);
		/* a buffer as large as the distinct values keeps merging O(n log n) */
		if (s->rawcap < Max(s->ndistinct, BREAKPOINTS_MIN_BUFFER))
		{
			if (s->raw != NULL)
				pfree(s->raw);
			s->rawcap = Max(s->ndistinct, BREAKPOINTS_MIN_BUFFER);
			s->raw = MemoryContextAllocHuge(s->cxt, s->rawcap * sizeof(double));
		}
	}
	s->raw[s->nraw++] = v + 0.0;	/* -0.0 and 0.0 are one value */
	s->count++;
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
	breakpoints_add(s, v);
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
	breakpoints_compact(s1);
	breakpoints_compact(s2);
	if (pg_add_s64_overflow(s1->count, s2->count, &s1->count))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("too many values for breakpoints")));
	merge_runs(s1, s1->vals, s1->cnts, s1->ndistinct, s2->vals, s2->cnts, s2->ndistinct);
	PG_RETURN_POINTER(s1);
}

/* format: nscores, count, ndistinct, then ndistinct (value, count) pairs in ascending order */
Datum
cartera_breakpoints_serialfn(PG_FUNCTION_ARGS)
{
	BreakpointsState *s = (BreakpointsState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	breakpoints_compact(s);
	pq_begintypsend(&buf);
	pq_sendint32(&buf, s->nscores);
	pq_sendint64(&buf, s->count);
	pq_sendint64(&buf, s->ndistinct);
	for (int64 i = 0; i < s->ndistinct; i++)
	{
		pq_sendfloat8(&buf, s->vals[i]);
		pq_sendint64(&buf, s->cnts[i]);
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

static void
corrupt_state(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("corrupt cartera breakpoints state")));
}

Datum
cartera_breakpoints_deserialfn(PG_FUNCTION_ARGS)
{
	bytea	   *bytes = PG_GETARG_BYTEA_PP(0);
	MemoryContext aggcontext;
	StringInfoData buf;
	BreakpointsState *s;
	int64		count,
				n,
				total = 0;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "cartera_breakpoints_deserialfn called in non-aggregate context");
	buf.data = VARDATA_ANY(bytes);
	buf.len = VARSIZE_ANY_EXHDR(bytes);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	s = breakpoints_new(aggcontext, pq_getmsgint(&buf, 4));
	count = pq_getmsgint64(&buf);
	n = pq_getmsgint64(&buf);
	if (s->nscores < MIN_SCORES || s->nscores > MAX_SCORES ||
		count < 0 || n < 0 || n > (int64) (buf.len - buf.cursor) / (int64) (sizeof(double) + sizeof(int64)))
		corrupt_state();
	s->vals = MemoryContextAllocHuge(aggcontext, Max(n, 1) * sizeof(double));
	s->cnts = MemoryContextAllocHuge(aggcontext, Max(n, 1) * sizeof(int64));
	for (int64 i = 0; i < n; i++)
	{
		s->vals[i] = pq_getmsgfloat8(&buf);
		s->cnts[i] = pq_getmsgint64(&buf);
		/* ascending, no NaN, positive counts that add up to count */
		if (isnan(s->vals[i]) || s->cnts[i] <= 0 || (i > 0 && !(s->vals[i] > s->vals[i - 1])) ||
			pg_add_s64_overflow(total, s->cnts[i], &total))
			corrupt_state();
	}
	if (total != count)
		corrupt_state();
	s->ndistinct = n;
	s->count = count;
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(s);
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
	int64		cum = 0;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "cartera_breakpoints_finalfn called in non-aggregate context");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = (BreakpointsState *) PG_GETARG_POINTER(0);
	if (s->count == 0)
		PG_RETURN_NULL();
	/* compacting in place is fine: the final function may run more than once */
	breakpoints_compact(s);
	ncuts = s->nscores - 1;
	cuts = palloc(ncuts * sizeof(Datum));
	for (int k = 1, i = 0; k <= ncuts; k++)
	{
		/* k * count overflows int64 for counts near its range (a state decoded
		 * from bytes can say so); the rank itself is at most count */
		int64		rank = Max((int64) (((int128) k * s->count + s->nscores - 1) / s->nscores), 1);

		/* the value at rank (1-based) of the sorted values: walk the counts */
		while (cum + s->cnts[i] < rank)
			cum += s->cnts[i++];
		cuts[k - 1] = Float8GetDatum(s->vals[i]);
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
		return cartera_numeric_float8(DatumGetNumeric(d), name);
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
