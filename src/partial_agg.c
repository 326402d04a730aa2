/*
 * partial_agg.c — the two-step form of the combinable aggregates, for shards:
 * *_partial() returns an aggregate's state as bytea, *_merge(bytea) combines
 * such states and applies the original final function.
 *
 * PostgreSQL 15's postgres_fdw pushes a whole aggregate to a remote server
 * but never a PARTIAL one, so a portfolio-wide fit over foreign partitions
 * would pull every row to the coordinator.  Run the *_partial aggregate on
 * each shard instead (one bytea row per shard comes back) and merge there.
 *
 * The partial state is the aggregate's own serialized state (the same
 * functions parallel query uses) in an envelope: a magic, a format version,
 * the kind of state and a CRC-32C of the payload.  A bytea that did not come
 * from the matching *_partial aggregate, or was damaged on the way, is
 * refused with an error before it is deserialized; the payload is then
 * checked for the invariants the final functions rely on, because unlike the
 * states parallel workers exchange, these come from the user.
 */
#include "postgres.h"
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

#include "bgbb.h"
#include "cartera.h"
#include "fit_histogram.h"
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "nodes/makefuncs.h"
#include "port/pg_bswap.h"
#include "port/pg_crc32c.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/float.h"
#include "utils/timestamp.h"

/* the aggregates' own support functions (rfm_state.c, btyd_agg.c, scoring.c) */
extern Datum cartera_rfm_serialfn(PG_FUNCTION_ARGS);
extern Datum cartera_rfm_deserialfn(PG_FUNCTION_ARGS);
extern Datum cartera_rfm_combinefn(PG_FUNCTION_ARGS);
extern Datum cartera_histogram_serialfn(PG_FUNCTION_ARGS);
extern Datum cartera_histogram_deserialfn(PG_FUNCTION_ARGS);
extern Datum cartera_histogram_combinefn(PG_FUNCTION_ARGS);
extern Datum cartera_breakpoints_serialfn(PG_FUNCTION_ARGS);
extern Datum cartera_breakpoints_deserialfn(PG_FUNCTION_ARGS);
extern Datum cartera_breakpoints_combinefn(PG_FUNCTION_ARGS);
extern Datum cartera_bgnbd_fit_transfn(PG_FUNCTION_ARGS);

PG_FUNCTION_INFO_V1(cartera_rfm_partial_finalfn);
PG_FUNCTION_INFO_V1(cartera_bgnbd_fit_partial_finalfn);
PG_FUNCTION_INFO_V1(cartera_gamma_gamma_fit_partial_finalfn);
PG_FUNCTION_INFO_V1(cartera_breakpoints_partial_finalfn);
PG_FUNCTION_INFO_V1(cartera_bgbb_fit_partial_finalfn);
PG_FUNCTION_INFO_V1(cartera_bgbb_fit_merge_transfn);
PG_FUNCTION_INFO_V1(cartera_rfm_merge_transfn);
PG_FUNCTION_INFO_V1(cartera_bgnbd_fit_merge_transfn);
PG_FUNCTION_INFO_V1(cartera_gamma_gamma_fit_merge_transfn);
PG_FUNCTION_INFO_V1(cartera_breakpoints_merge_transfn);
PG_FUNCTION_INFO_V1(cartera_bgnbd_fit_unit_days_transfn);
PG_FUNCTION_INFO_V1(cartera_summary_recency_days);
PG_FUNCTION_INFO_V1(cartera_summary_frequency);
PG_FUNCTION_INFO_V1(cartera_summary_monetary_total);
PG_FUNCTION_INFO_V1(cartera_sbg_fit_partial_finalfn);
PG_FUNCTION_INFO_V1(cartera_sbg_fit_merge_transfn);

/* envelope: "CART", version, kind, CRC-32C of the payload, payload */
#define PARTIAL_MAGIC "CART"
#define PARTIAL_VERSION 1
#define PARTIAL_HEADER (4 + 1 + 1 + 4)

typedef enum PartialKind
{
	PARTIAL_RFM = 1,
	PARTIAL_BGNBD = 2,
	PARTIAL_GAMMA_GAMMA = 3,
	PARTIAL_BREAKPOINTS = 4,
	PARTIAL_BGBB = 5,
	PARTIAL_SURVIVAL = 6
} PartialKind;

static const char *
kind_name(int kind)
{
	switch (kind)
	{
		case PARTIAL_RFM:
			return "rfm";
		case PARTIAL_BGNBD:
			return "bgnbd_fit";
		case PARTIAL_GAMMA_GAMMA:
			return "gamma_gamma_fit";
		case PARTIAL_BREAKPOINTS:
			return "breakpoints";
		case PARTIAL_BGBB:
			return "bgbb_fit";
		case PARTIAL_SURVIVAL:
			return "sbg_fit";
	}
	return NULL;
}

static pg_crc32c
payload_crc(const char *data, int len)
{
	pg_crc32c	crc;

	INIT_CRC32C(crc);
	COMP_CRC32C(crc, data, len);
	FIN_CRC32C(crc);
	return crc;
}

/* the state serialized by serialfn, wrapped in the envelope */
static Datum
partial_final(FunctionCallInfo fcinfo, PGFunction serialfn, PartialKind kind)
{
	bytea	   *payload;
	StringInfoData buf;
	int			len;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "cartera partial final function called in non-aggregate context");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();		/* no input rows: merges like no rows */
	payload = DatumGetByteaPP(DirectFunctionCall1(serialfn, PG_GETARG_DATUM(0)));
	len = VARSIZE_ANY_EXHDR(payload);
	pq_begintypsend(&buf);
	pq_sendbytes(&buf, PARTIAL_MAGIC, 4);
	pq_sendbyte(&buf, PARTIAL_VERSION);
	pq_sendbyte(&buf, kind);
	pq_sendint32(&buf, payload_crc(VARDATA_ANY(payload), len));
	pq_sendbytes(&buf, VARDATA_ANY(payload), len);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

Datum
cartera_rfm_partial_finalfn(PG_FUNCTION_ARGS)
{
	return partial_final(fcinfo, cartera_rfm_serialfn, PARTIAL_RFM);
}

Datum
cartera_bgnbd_fit_partial_finalfn(PG_FUNCTION_ARGS)
{
	return partial_final(fcinfo, cartera_histogram_serialfn, PARTIAL_BGNBD);
}

Datum
cartera_gamma_gamma_fit_partial_finalfn(PG_FUNCTION_ARGS)
{
	return partial_final(fcinfo, cartera_histogram_serialfn, PARTIAL_GAMMA_GAMMA);
}

Datum
cartera_breakpoints_partial_finalfn(PG_FUNCTION_ARGS)
{
	return partial_final(fcinfo, cartera_breakpoints_serialfn, PARTIAL_BREAKPOINTS);
}

Datum
cartera_bgbb_fit_partial_finalfn(PG_FUNCTION_ARGS)
{
	return partial_final(fcinfo, cartera_histogram_serialfn, PARTIAL_BGBB);
}

static void
corrupt(int kind, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("corrupt cartera.%s_partial state", kind_name(kind)),
			 errdetail("%s", detail)));
}

/*
 * Check the envelope of a partial state and return its payload as a new
 * bytea (what the deserialize function of the aggregate reads).
 */
static bytea *
open_envelope(bytea *bytes, PartialKind kind)
{
	const char *data = VARDATA_ANY(bytes);
	int			len = VARSIZE_ANY_EXHDR(bytes);
	StringInfoData buf;
	int			version,
				found;
	pg_crc32c	crc;
	bytea	   *payload;

	if (len < PARTIAL_HEADER || memcmp(data, PARTIAL_MAGIC, 4) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("not a cartera partial aggregate state"),
				 errdetail("The value does not start with the header written by the cartera.*_partial aggregates."),
				 errhint("Pass the result of cartera.%s_partial() to cartera.%s_merge().",
						 kind_name(kind), kind_name(kind))));
	buf.data = (char *) data;
	buf.len = len;
	buf.maxlen = len;
	buf.cursor = 4;
	version = pq_getmsgbyte(&buf);
	found = pq_getmsgbyte(&buf);
	crc = (pg_crc32c) pq_getmsgint(&buf, 4);
	if (version != PARTIAL_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("cartera partial state format %d is not supported, expected %d",
						version, PARTIAL_VERSION),
				 errhint("Compute the partial states with the same cartera version on every node.")));
	if (found != (int) kind)
	{
		const char *name = kind_name(found);

		if (name == NULL)
			corrupt(kind, "Unknown kind of state.");
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("cartera.%s_merge() cannot merge a state of cartera.%s_partial()",
						kind_name(kind), name),
				 errhint("Merge each partial state with the _merge aggregate of the same name.")));
	}
	if (payload_crc(data + PARTIAL_HEADER, len - PARTIAL_HEADER) != crc)
		corrupt(kind, "The checksum does not match: the value was changed or cut.");
	payload = (bytea *) palloc(VARHDRSZ + len - PARTIAL_HEADER);
	SET_VARSIZE(payload, VARHDRSZ + len - PARTIAL_HEADER);
	memcpy(VARDATA(payload), data + PARTIAL_HEADER, len - PARTIAL_HEADER);
	return payload;
}

/*
 * Payload checks for the states whose layout is private to their files:
 * the values the transition functions would have accepted, nothing more.
 */
static void
check_histogram(bytea *payload, PartialKind kind)
{
	StringInfoData buf;
	int			ndims = (kind == PARTIAL_BGNBD || kind == PARTIAL_BGBB) ? 3 : 2;
	int			word = ndims | (kind == PARTIAL_BGBB ? HIST_BGBB << 8 :
								kind == PARTIAL_SURVIVAL ? HIST_SURVIVAL << 8 : 0);
	int			unit;
	double		penalizer,
				total = 0;
	int64		rows,
				excluded,
				n;

	buf.data = VARDATA(payload);
	buf.len = VARSIZE(payload) - VARHDRSZ;
	buf.maxlen = buf.len;
	buf.cursor = 0;
	if (buf.len < 4 + 4 + 8 + 8 + 8 + 8)
		corrupt(kind, "The state is too short.");
	if ((int) pq_getmsgint(&buf, 4) != word)
		corrupt(kind, "Wrong number of dimensions.");
	unit = pq_getmsgint(&buf, 4);
	penalizer = pq_getmsgfloat8(&buf);
	rows = pq_getmsgint64(&buf);
	excluded = pq_getmsgint64(&buf);
	n = pq_getmsgint64(&buf);
	if (unit != 0 && unit != 1 && unit != 7)
		corrupt(kind, "Unknown time unit.");
	if (kind == PARTIAL_GAMMA_GAMMA && unit != 0)
		corrupt(kind, "A Gamma-Gamma state has no time unit.");
	if (kind == PARTIAL_BGBB && (unit != 0 || excluded != 0))
		corrupt(kind, "A BG/BB state has no time unit and excludes nobody.");
	if (!(penalizer >= 0) || isinf(penalizer))
		corrupt(kind, "Invalid penalizer.");
	if (rows < 0 || excluded < 0 || (kind == PARTIAL_BGNBD && excluded != 0))
		corrupt(kind, "Invalid customer counts.");
	if (n < 0 || n > rows || n > buf.len || (buf.len - buf.cursor) != n * (int64) sizeof(double) * (ndims + 1))
		corrupt(kind, "The number of histogram cells does not match the length.");
	for (int64 i = 0; i < n; i++)
	{
		double		v[3];
		double		w;

		for (int d = 0; d < ndims; d++)
			v[d] = pq_getmsgfloat8(&buf);
		w = pq_getmsgfloat8(&buf);
		if (!(w >= 1) || w != floor(w) || isinf(w))
			corrupt(kind, "A histogram weight is not a positive count.");
		total += w;
		if (kind == PARTIAL_BGNBD)
		{
			/* frequency >= 0, 0 <= t_x <= T, T > 0, all finite */
			if (!(v[0] >= 0) || isinf(v[0]) || !(v[1] >= 0) || !(v[1] <= v[2]) ||
				!(v[2] > 0) || isinf(v[2]))
				corrupt(kind, "A histogram cell is outside the domain of BG/NBD.");
		}
		else if (kind == PARTIAL_BGBB)
		{
			/* whole numbers 0 <= x <= t_x <= n, n >= 1, x = 0 exactly when t_x = 0 */
			if (!(v[0] >= 0 && v[0] <= v[1] && v[1] <= v[2] && v[2] >= 1 &&
				  v[2] <= BGBB_MAX_OPPORTUNITIES) ||
				v[0] != floor(v[0]) || v[1] != floor(v[1]) || v[2] != floor(v[2]) ||
				(v[0] == 0) != (v[1] == 0))
				corrupt(kind, "A histogram cell is outside the domain of BG/BB.");
		}
		else if (kind == PARTIAL_SURVIVAL)
		{
			/* churned in period t >= 1 (active 0), or active after t >= 0 periods */
			if (!(v[1] == 0 || v[1] == 1) || !(v[0] >= (v[1] == 0 ? 1 : 0)) ||
				isinf(v[0]) || v[0] != floor(v[0]))
				corrupt(kind, "A histogram cell is outside the domain of the sBG model.");
		}
		else if (!(v[0] > 0) || isinf(v[0]) || !(v[1] > 0) || isinf(v[1]))
			corrupt(kind, "A histogram cell is outside the domain of Gamma-Gamma.");
	}
	if (total != (double) rows)
		corrupt(kind, "The histogram weights do not add up to the customer count.");
}

/*
 * Two layouts are accepted (scoring.c has used both): every value as a
 * float8, or the distinct values ascending, each with its count.  Which one
 * is told by the length, then checked in full.
 */
static void
check_breakpoints(bytea *payload)
{
	StringInfoData buf;
	int			nscores;
	int64		count,
				n,
				total = 0;
	double		prev = 0;

	buf.data = VARDATA(payload);
	buf.len = VARSIZE(payload) - VARHDRSZ;
	buf.maxlen = buf.len;
	buf.cursor = 0;
	if (buf.len < 4 + 8)
		corrupt(PARTIAL_BREAKPOINTS, "The state is too short.");
	nscores = pq_getmsgint(&buf, 4);
	count = pq_getmsgint64(&buf);
	if (nscores < 2 || nscores > 9)
		corrupt(PARTIAL_BREAKPOINTS, "The number of scores is not between 2 and 9.");
	if (count < 0)
		corrupt(PARTIAL_BREAKPOINTS, "The values do not match their count or the length.");
	if (count <= buf.len / (int64) sizeof(double) &&
		buf.len - buf.cursor == count * (int64) sizeof(double))
	{
		/* every value */
		for (int64 i = 0; i < count; i++)
			if (isnan(pq_getmsgfloat8(&buf)))
				corrupt(PARTIAL_BREAKPOINTS, "A value is NaN.");
		return;
	}
	/* distinct values with counts */
	if (buf.len - buf.cursor < 8)
		corrupt(PARTIAL_BREAKPOINTS, "The values do not match their count or the length.");
	n = pq_getmsgint64(&buf);
	if (n < 0 || n > count || buf.len - buf.cursor != n * (int64) (sizeof(double) + sizeof(int64)))
		corrupt(PARTIAL_BREAKPOINTS, "The values do not match their count or the length.");
	for (int64 i = 0; i < n; i++)
	{
		double		v = pq_getmsgfloat8(&buf);
		int64		c = pq_getmsgint64(&buf);

		if (isnan(v))
			corrupt(PARTIAL_BREAKPOINTS, "A value is NaN.");
		if (i > 0 && !(v > prev))
			corrupt(PARTIAL_BREAKPOINTS, "The values are not ascending.");
		if (c <= 0 || c > count - total)
			corrupt(PARTIAL_BREAKPOINTS, "The values do not match their count or the length.");
		total += c;
		prev = v;
	}
	if (total != count)
		corrupt(PARTIAL_BREAKPOINTS, "The values do not match their count or the length.");
}

/*
 * The per-customer state's layout is read by rfm_state.c: here only its
 * length, so that a short payload gets our error, not the wire protocol's.
 * Fixed part: 2 bytes, 5 int64/float8, first_day, ndays; then the days and
 * three sums of at least 19 bytes each.
 */
static void
check_rfm_length(bytea *payload)
{
	int			len = VARSIZE(payload) - VARHDRSZ;
	int			fixed = 2 + 5 * 8 + 4 + 4;
	uint32		ndays;

	if (len < fixed)
		corrupt(PARTIAL_RFM, "The state is too short.");
	memcpy(&ndays, VARDATA(payload) + fixed - 4, 4);
	ndays = pg_ntoh32(ndays);
	if ((int64) len < (int64) fixed + 4 * (int64) ndays + 3 * 19)
		corrupt(PARTIAL_RFM, "The state is too short for its purchase days.");
}

static bool
sum_ok(const ExactSum *s)
{
	/* the fixed-point scale is at most 18 decimals (exact_sum.c) */
	return s->scale >= 0 && s->scale <= 18 &&
		(s->spill == NULL || !exact_sum_numeric_is_special(s->spill));
}

/*
 * The per-customer state is public (cartera.h): check it once deserialized.
 * rfm_state_deserialize() has already refused counts that disagree and days
 * out of order; what the finals further need is checked here.
 */
static void
check_rfm(const RfmState *s)
{
	if (TIMESTAMP_NOT_FINITE(s->as_of))
		corrupt(PARTIAL_RFM, "as_of is not finite.");
	if (!isnan(s->lifespan_years) && !(s->lifespan_years >= 0 && !isinf(s->lifespan_years)))
		corrupt(PARTIAL_RFM, "Invalid lifespan.");
	for (int i = 0; i < s->ndays; i++)
		if (DATE_NOT_FINITE(s->days[i]))
			corrupt(PARTIAL_RFM, "The purchase days are not finite and ascending.");
	if (s->purchases > 0 &&
		(s->first_day != s->days[0] || TIMESTAMP_NOT_FINITE(s->first_ts) ||
		 TIMESTAMP_NOT_FINITE(s->last_ts) || s->first_ts > s->last_ts || s->last_ts > s->as_of))
		corrupt(PARTIAL_RFM, "The first and last purchase are inconsistent.");
	if (!sum_ok(&s->gross) || !sum_ok(&s->refunds) || !sum_ok(&s->first_day_amount))
		corrupt(PARTIAL_RFM, "An amount total is invalid.");
}

/* call an aggregate support function as if the executor did, in our context */
static Datum
call_support(FunctionCallInfo outer, PGFunction fn, Datum a, bool anull, Datum b, bool bnull)
{
	LOCAL_FCINFO(inner, 2);
	Datum		result;

	InitFunctionCallInfoData(*inner, NULL, 2, InvalidOid, outer->context, NULL);
	inner->args[0].value = a;
	inner->args[0].isnull = anull;
	inner->args[1].value = b;
	inner->args[1].isnull = bnull;
	result = fn(inner);
	return inner->isnull ? (Datum) 0 : result;
}

/*
 * Transition of the *_merge aggregates: deserialize the partial state into
 * the aggregate context and combine it with what we have.  The first state
 * becomes the running one; the others are combined into it (their memory
 * stays in the aggregate context until the end: merges read a few rows).
 */
static Datum
merge_trans(FunctionCallInfo fcinfo, PartialKind kind,
			PGFunction deserialfn, PGFunction combinefn)
{
	bytea	   *payload;
	Datum		incoming;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "cartera merge transition function called in non-aggregate context");
	if (PG_ARGISNULL(1))
	{
		/* a shard without rows: nothing to add */
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	payload = open_envelope(PG_GETARG_BYTEA_PP(1), kind);
	if (kind == PARTIAL_BGNBD || kind == PARTIAL_GAMMA_GAMMA ||
		kind == PARTIAL_BGBB || kind == PARTIAL_SURVIVAL)
		check_histogram(payload, kind);
	else if (kind == PARTIAL_BREAKPOINTS)
		check_breakpoints(payload);
	else
		check_rfm_length(payload);
	incoming = call_support(fcinfo, deserialfn, PointerGetDatum(payload), false, (Datum) 0, true);
	if (kind == PARTIAL_RFM)
		check_rfm((RfmState *) DatumGetPointer(incoming));
	pfree(payload);
	if (PG_ARGISNULL(0))
		PG_RETURN_DATUM(incoming);
	/* the combine functions check that time unit, penalizer, n or as_of agree */
	PG_RETURN_DATUM(call_support(fcinfo, combinefn, PG_GETARG_DATUM(0), false, incoming, false));
}

Datum
cartera_rfm_merge_transfn(PG_FUNCTION_ARGS)
{
	return merge_trans(fcinfo, PARTIAL_RFM, cartera_rfm_deserialfn, cartera_rfm_combinefn);
}

Datum
cartera_bgnbd_fit_merge_transfn(PG_FUNCTION_ARGS)
{
	return merge_trans(fcinfo, PARTIAL_BGNBD, cartera_histogram_deserialfn,
					   cartera_histogram_combinefn);
}

Datum
cartera_gamma_gamma_fit_merge_transfn(PG_FUNCTION_ARGS)
{
	return merge_trans(fcinfo, PARTIAL_GAMMA_GAMMA, cartera_histogram_deserialfn,
					   cartera_histogram_combinefn);
}

Datum
cartera_bgbb_fit_merge_transfn(PG_FUNCTION_ARGS)
{
	return merge_trans(fcinfo, PARTIAL_BGBB, cartera_histogram_deserialfn,
					   cartera_histogram_combinefn);
}

Datum
cartera_breakpoints_merge_transfn(PG_FUNCTION_ARGS)
{
	return merge_trans(fcinfo, PARTIAL_BREAKPOINTS, cartera_breakpoints_deserialfn,
					   cartera_breakpoints_combinefn);
}

/*
 * What PostgreSQL 15's postgres_fdw will not ship to a shard: a field of a
 * composite column ((summary).frequency) and an aggregate with a text
 * constant argument (bgnbd_fit(summary, 'weeks'): its input collation does
 * not come from a remote column).  The functions below say the same things
 * in shippable form: field accessors, and the time unit as a number of days.
 */

/* bgnbd_fit_partial(summary, unit_days [, penalizer]): bgnbd_fit(summary, 'days' or 'weeks' [, penalizer]) */
Datum
cartera_bgnbd_fit_unit_days_transfn(PG_FUNCTION_ARGS)
{
	FmgrInfo   *inner = (FmgrInfo *) fcinfo->flinfo->fn_extra;
	int			nargs = PG_NARGS();
	int32		unit_days;
	Datum		result;

	LOCAL_FCINFO(call, 4);

	if (nargs < 3 || nargs > 4)
		elog(ERROR, "cartera_bgnbd_fit_unit_days_transfn called with %d arguments", nargs);
	if (inner == NULL)
	{
		/* call bgnbd_fit's transition as if declared (internal, summary, text [, float8]) */
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		Oid			types[4] = {INTERNALOID, get_fn_expr_argtype(fcinfo->flinfo, 1), TEXTOID, FLOAT8OID};
		List	   *args = NIL;

		for (int i = 0; i < nargs; i++)
		{
			Param	   *p = makeNode(Param);

			p->paramkind = PARAM_EXEC;
			p->paramtype = types[i];
			p->paramtypmod = -1;
			p->location = -1;
			args = lappend(args, p);
		}
		inner = palloc0(sizeof(FmgrInfo));
		inner->fn_addr = cartera_bgnbd_fit_transfn;
		inner->fn_oid = InvalidOid;
		inner->fn_nargs = nargs;
		inner->fn_mcxt = fcinfo->flinfo->fn_mcxt;
		inner->fn_expr = (Node *) makeFuncExpr(InvalidOid, INTERNALOID, args, InvalidOid,
											   InvalidOid, COERCE_EXPLICIT_CALL);
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = inner;
	}
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("time unit must not be null"),
				 errhint("Give the time unit in days: 7 for weeks, 1 for days.")));
	unit_days = PG_GETARG_INT32(2);
	if (unit_days != 1 && unit_days != 7)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time unit must be 1 (days) or 7 (weeks) days, not %d", unit_days)));
	InitFunctionCallInfoData(*call, inner, nargs, InvalidOid, fcinfo->context, NULL);
	for (int i = 0; i < nargs; i++)
	{
		call->args[i].value = PG_GETARG_DATUM(i);
		call->args[i].isnull = PG_ARGISNULL(i);
	}
	call->args[2].value = CStringGetTextDatum(cartera_time_unit_name(unit_days));
	result = FunctionCallInvoke(call);
	if (call->isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

static Datum
summary_field(FunctionCallInfo fcinfo, const char *name)
{
	bool		isnull;
	Datum		d = GetAttributeByName(PG_GETARG_HEAPTUPLEHEADER(0), name, &isnull);

	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(d);
}

Datum
cartera_summary_recency_days(PG_FUNCTION_ARGS)
{
	return summary_field(fcinfo, "recency_days");
}

Datum
cartera_summary_frequency(PG_FUNCTION_ARGS)
{
	return summary_field(fcinfo, "frequency");
}

Datum
cartera_summary_monetary_total(PG_FUNCTION_ARGS)
{
	return summary_field(fcinfo, "monetary_total");
}

/* the shifted-beta-geometric fit's two steps (src/sbg_sql.c) */
Datum
cartera_sbg_fit_partial_finalfn(PG_FUNCTION_ARGS)
{
	return partial_final(fcinfo, cartera_histogram_serialfn, PARTIAL_SURVIVAL);
}

Datum
cartera_sbg_fit_merge_transfn(PG_FUNCTION_ARGS)
{
	return merge_trans(fcinfo, PARTIAL_SURVIVAL, cartera_histogram_deserialfn,
					   cartera_histogram_combinefn);
}
