/*
 * state_trigger.c — the INSERT statement trigger of every purchase source:
 * keeps cartera.customer_state up to date by merging the new rows into each
 * customer's stored aggregate state (customer_state.rfm_state), instead of
 * reading the customer's whole purchase history again.
 *
 * Why C: a purchase is usually one row.  The PL/pgSQL trigger paid for
 * dynamic SQL over the transition table and a plan per statement (about a
 * millisecond); here the transition table is read directly, the RFM state is
 * merged in memory and two cached plans lock and store the states.
 *
 * Steps, per statement:
 *   1. read the new rows: refuse purchases in the future, aggregate them per
 *      customer into fresh RFM states (one hash entry per customer);
 *   2. lock the customers' state rows in customer order (two writers never
 *      deadlock) and read their stored states;
 *   3. a customer whose stored state is missing or unusable (NULL after a
 *      load with triggers off, another layout, rows beyond its as_of) is
 *      recomputed from all purchase sources by cartera.recompute_state();
 *      the others get stored state + new rows, summarised and scored by the
 *      statement cartera.state_update_sql() builds (the same one
 *      recompute_state() runs), which also logs status/segment transitions;
 *   4. cartera.raise_purchase_alerts() gets the transitions (and the new
 *      purchase ids, when cross-sell rules exist).
 *
 * Trigger arguments: customer column, purchase time column, amount column
 * and, for cartera.purchase, the purchase id column (for cross-sell rules).
 */
#include "postgres.h"
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

#include "cartera.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/sequence.h"
#include "executor/executor.h"
#include "parser/parse_relation.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "storage/lmgr.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(cartera_purchase_rows_added);
PG_FUNCTION_INFO_V1(cartera_purchase_rows_deferred);

/* up to this many customers in a statement, plans are generic (see below) */
#define FEW_CUSTOMERS 64

/* deferred mode queues the purchase ids of statements this small always */
#define DEFERRED_IDS_ALWAYS_ROWS 100

/* one customer touched by the statement */
typedef struct CustomerEntry
{
	int64		customer_id;	/* hash key */
	RfmState   *fresh;			/* the statement's rows of this customer */
} CustomerEntry;

/* where the trigger's columns are, and how to read them */
typedef struct SourceColumns
{
	AttrNumber	customer;
	AttrNumber	at;
	AttrNumber	amount;
	AttrNumber	id;				/* InvalidAttrNumber: no cross-sell */
	Oid			customer_type;
	Oid			at_type;
	Oid			amount_type;
	Oid			id_type;
} SourceColumns;

/*
 * Plans kept for the session (SPI_keepplan).  The plan cache revalidates
 * them when the tables change, by parsing the same text again; but two
 * things it cannot see are fixed when they are prepared: the OID of the
 * parameter type cartera.state_transition[] and the text of the scoring
 * statement, read from cartera.state_update_sql().  DROP and CREATE
 * EXTENSION, or an ALTER EXTENSION UPDATE that replaces that function, in a
 * session that has already inserted purchases would leave them stale; so any
 * change to a type or a function marks the set for preparing again.
 */
static SPIPlanPtr rules_plan = NULL;
static SPIPlanPtr lock_plan = NULL;
static SPIPlanPtr store_plan = NULL;
static SPIPlanPtr recompute_plan = NULL;
static SPIPlanPtr alerts_plan = NULL;
static SPIPlanPtr tracked_plan = NULL;
static SPIPlanPtr deferred_source_plan = NULL;
static SPIPlanPtr deferred_rules_plan = NULL;
static bool plans_stale = false;
static bool callbacks_registered = false;

/*
 * Whether cross-sell rules exist: both modes' triggers ask (each prepares
 * its own plan: they run under different search_paths); the text needs none.
 */
static const char *const rules_sql = "SELECT EXISTS (SELECT 1 FROM cartera.cross_sell_rule r WHERE r.active)";

static Datum run_single(SPIPlanPtr plan, Datum *values, const char *nulls, bool *isnull);

/* syscache hash values of what the plans depend on (0: nothing yet) */
static uint32 transition_type_hash = 0;
static uint32 transition_array_hash = 0;
static uint32 update_sql_proc_hash = 0;

/* syscache callback: only our own type and function matter (0 = all) */
static void
mark_plans_stale(Datum arg, int cacheid, uint32 hashvalue)
{
	if (hashvalue == 0 ||
		(cacheid == TYPEOID && (hashvalue == transition_type_hash || hashvalue == transition_array_hash)) ||
		(cacheid == PROCOID && hashvalue == update_sql_proc_hash))
		plans_stale = true;
}

static void
free_plans(void)
{
	SPIPlanPtr *plans[] = {&rules_plan, &lock_plan, &store_plan, &recompute_plan, &tracked_plan,
	&deferred_rules_plan, &deferred_source_plan, &alerts_plan};

	for (size_t i = 0; i < lengthof(plans); i++)
	{
		if (*plans[i] != NULL)
			SPI_freeplan(*plans[i]);
		*plans[i] = NULL;
	}
}

/* the array type of cartera.state_transition; remembers what to watch */
static Oid
transition_array_type(void)
{
	Oid			nsp = get_namespace_oid("cartera", false);
	Oid			typ = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
									  CStringGetDatum("state_transition"),
									  ObjectIdGetDatum(nsp));
	Oid			arr = OidIsValid(typ) ? get_array_type(typ) : InvalidOid;

	if (!OidIsValid(arr))
		elog(ERROR, "type cartera.state_transition does not exist");
	transition_type_hash = GetSysCacheHashValue1(TYPEOID, ObjectIdGetDatum(typ));
	transition_array_hash = GetSysCacheHashValue1(TYPEOID, ObjectIdGetDatum(arr));
	return arr;
}

static void
prepare_plans(void)
{
	Oid			lock_args[1] = {INT8ARRAYOID};
	Oid			store_args[4] = {INT8ARRAYOID, TIMESTAMPTZOID, INTERVALOID, BYTEAARRAYOID};
	Oid			recompute_args[2] = {INT8ARRAYOID, TIMESTAMPTZOID};
	Oid			tracked_args[4] = {OIDOID, TEXTOID, TEXTOID, TEXTOID};
	Oid			alerts_args[4];
	char	   *store_sql;
	bool		isnull;

	if (!callbacks_registered)
	{
		CacheRegisterSyscacheCallback(TYPEOID, mark_plans_stale, (Datum) 0);
		CacheRegisterSyscacheCallback(PROCOID, mark_plans_stale, (Datum) 0);
		callbacks_registered = true;
	}
	if (alerts_plan != NULL && !plans_stale)
		return;
	/* stale, or a set an error left incomplete: start over */
	free_plans();
	plans_stale = false;
	/* the statement that scores and stores states, shared with recompute_state() */
	if (SPI_execute("SELECT cartera.state_update_sql("
					"'SELECT u.customer_id, u.state, true AS complete "
					"FROM unnest($1::bigint[], $4::bytea[]) AS u(customer_id, state)', "
					"'SELECT array_agg(ROW(l.*)::cartera.state_transition) FROM logged l'), "
					"'cartera.state_update_sql(text, text)'::pg_catalog.regprocedure::pg_catalog.oid",
					true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "cartera: cannot read cartera.state_update_sql()");
	store_sql = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (store_sql == NULL)
		elog(ERROR, "cartera: cartera.state_update_sql() returned NULL");
	update_sql_proc_hash = GetSysCacheHashValue1(PROCOID,
												 SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	alerts_args[0] = alerts_args[1] = transition_array_type();
	alerts_args[2] = INT8ARRAYOID;
	alerts_args[3] = TIMESTAMPTZOID;

	/* alerts_plan last: it marks the set as complete */
	rules_plan = cartera_keep_plan(rules_sql, 0, NULL);
	lock_plan = cartera_keep_plan("SELECT s.customer_id, s.rfm_state FROM cartera.customer_state s "
						  "WHERE s.customer_id = ANY ($1) ORDER BY s.customer_id FOR UPDATE OF s",
						  1, lock_args);
	store_plan = cartera_keep_plan(store_sql, 4, store_args);
	recompute_plan = cartera_keep_plan("SELECT array_agg(ROW(t.*)::cartera.state_transition) "
							   "FROM cartera.recompute_state($1, $2) t", 2, recompute_args);
	tracked_plan = cartera_keep_plan("SELECT EXISTS (SELECT 1 FROM cartera.purchase_source p "
							 "WHERE p.source = $1::pg_catalog.regclass AND p.customer_column = $2::pg_catalog.name "
							 "AND p.at_column = $3::pg_catalog.name AND p.amount_column = $4::pg_catalog.name)",
							 4, tracked_args);
	alerts_plan = cartera_keep_plan("SELECT count(*) FROM cartera.raise_purchase_alerts("
							"array_cat($1, $2), $3, $4)", 4, alerts_args);
}

/*
 * The plans of deferred mode's trigger, prepared by it only: the registered-
 * source check names a column new in 0.4.0, and this library also serves
 * 0.3.0's SQL (immediate mode only) until ALTER EXTENSION UPDATE.  That
 * trigger runs under the session's search_path (it is not SECURITY DEFINER:
 * see cartera_purchase_rows_deferred()), so every name and operator here is
 * schema-qualified.  Freed with the others.
 */
static void
prepare_deferred_plans(void)
{
	Oid			tracked_args[4] = {OIDOID, TEXTOID, TEXTOID, TEXTOID};

	if (deferred_source_plan != NULL && deferred_rules_plan != NULL)
		return;
	if (deferred_rules_plan == NULL)
		deferred_rules_plan = cartera_keep_plan(rules_sql, 0, NULL);
	if (deferred_source_plan == NULL)
		deferred_source_plan = cartera_keep_plan("SELECT EXISTS (SELECT 1 FROM cartera.purchase_source p "
												 "WHERE p.source OPERATOR(pg_catalog.=) $1::pg_catalog.regclass "
												 "AND p.customer_column OPERATOR(pg_catalog.=) $2::pg_catalog.name "
												 "AND p.at_column OPERATOR(pg_catalog.=) $3::pg_catalog.name "
												 "AND p.amount_column OPERATOR(pg_catalog.=) $4::pg_catalog.name "
												 "AND p.mode OPERATOR(pg_catalog.=) 'deferred'::pg_catalog.text)",
												 4, tracked_args);
}

/* the owner of a function: whom a SECURITY DEFINER function runs as */
static Oid
function_owner(Oid fn_oid)
{
	HeapTuple	tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for function %u", fn_oid);
	owner = ((Form_pg_proc) GETSTRUCT(tuple))->proowner;
	ReleaseSysCache(tuple);
	return owner;
}

static AttrNumber
column_of(Relation rel, const char *name, const char *role)
{
	int			attno = SPI_fnumber(RelationGetDescr(rel), name);

	if (attno <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" (the %s) does not exist in table %s",
						name, role, RelationGetRelationName(rel)),
				 errhint("Attach purchase tables with cartera.track_purchases().")));
	return (AttrNumber) attno;
}

/* same words as the PL/pgSQL check of purchase_rows_sql() */
static void
unsupported_type(Relation rel, const char *role, const char *column)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("the %s column \"%s\" of %s.%s is no longer a table column of a type cartera reads",
					role, column, get_namespace_name(RelationGetNamespace(rel)), RelationGetRelationName(rel)),
			 errdetail("A tracked table must keep the columns given to cartera.track_purchases(), of a built-in integer, date/timestamp or numeric type."),
			 errhint("Run cartera.untrack_purchases() on it, fix the table, then cartera.track_purchases() again.")));
}

static void
read_arguments(TriggerData *td, SourceColumns *cols)
{
	Trigger    *tg = td->tg_trigger;
	Relation	rel = td->tg_relation;
	TupleDesc	desc = RelationGetDescr(rel);

	if (tg->tgnargs != 3 && tg->tgnargs != 4)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cartera.purchase_rows_added() needs 3 or 4 trigger arguments"),
				 errdetail("The customer, purchase time and amount columns, and optionally the purchase id column.")));
	cols->customer = column_of(rel, tg->tgargs[0], "customer");
	cols->at = column_of(rel, tg->tgargs[1], "purchase time");
	cols->amount = column_of(rel, tg->tgargs[2], "amount");
	cols->id = tg->tgnargs == 4 ? column_of(rel, tg->tgargs[3], "purchase id") : InvalidAttrNumber;

	cols->customer_type = TupleDescAttr(desc, cols->customer - 1)->atttypid;
	cols->at_type = TupleDescAttr(desc, cols->at - 1)->atttypid;
	cols->amount_type = TupleDescAttr(desc, cols->amount - 1)->atttypid;
	cols->id_type = cols->id != InvalidAttrNumber ? TupleDescAttr(desc, cols->id - 1)->atttypid : InvalidOid;

	if (cols->customer_type != INT8OID && cols->customer_type != INT4OID && cols->customer_type != INT2OID)
		unsupported_type(rel, "customer", tg->tgargs[0]);
	if (cols->at_type != TIMESTAMPTZOID && cols->at_type != TIMESTAMPOID && cols->at_type != DATEOID)
		unsupported_type(rel, "purchase time", tg->tgargs[1]);
	if (cols->amount_type != NUMERICOID && cols->amount_type != INT8OID && cols->amount_type != INT4OID &&
		cols->amount_type != INT2OID && cols->amount_type != FLOAT8OID && cols->amount_type != FLOAT4OID)
		unsupported_type(rel, "amount", tg->tgargs[2]);
	if (cols->id != InvalidAttrNumber && cols->id_type != INT8OID && cols->id_type != INT4OID)
		unsupported_type(rel, "purchase id", tg->tgargs[3]);
}

/*
 * A table other than cartera.purchase must be a purchase source registered
 * with the trigger's very columns.  Only the extension's owner creates these
 * triggers (track_purchases()), except during a restore, when managers may
 * (cartera.pre_restore()): a trigger they create by hand on another table,
 * or naming other columns, must not feed customer_state.  One lookup per
 * statement, for tracked tables only.
 */
static void
check_tracked(TriggerData *td, bool deferred)
{
	Relation	rel = td->tg_relation;
	Trigger    *tg = td->tg_trigger;
	Oid			purchase = get_relname_relid("purchase", get_namespace_oid("cartera", false));
	bool		registered = false;
	bool		isnull;

	if (RelationGetRelid(rel) == purchase)
		return;
	if (tg->tgnargs == 3)
	{
		Datum		args[4];

		args[0] = ObjectIdGetDatum(RelationGetRelid(rel));
		args[1] = CStringGetTextDatum(tg->tgargs[0]);
		args[2] = CStringGetTextDatum(tg->tgargs[1]);
		args[3] = CStringGetTextDatum(tg->tgargs[2]);
		registered = DatumGetBool(run_single(deferred ? deferred_source_plan : tracked_plan, args, NULL, &isnull)) && !isnull;
	}
	if (!registered)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table %s.%s is not a purchase source of cartera",
						get_namespace_name(RelationGetNamespace(rel)), RelationGetRelationName(rel)),
				 errdetail("Trigger %s calls %s with columns, or in a mode, that cartera.purchase_source does not list for this table.",
						   tg->tgname, deferred ? "cartera.purchase_rows_deferred()" : "cartera.purchase_rows_added()"),
				 errhint("Attach purchase tables with cartera.track_purchases().")));
}

static int64
integer_value(Datum d, Oid type)
{
	switch (type)
	{
		case INT2OID:
			return DatumGetInt16(d);
		case INT4OID:
			return DatumGetInt32(d);
		default:
			return DatumGetInt64(d);
	}
}

/* the value as ::timestamptz would give it (session TimeZone) */
static TimestampTz
timestamptz_value(Datum d, Oid type)
{
	switch (type)
	{
		case DATEOID:
			return DatumGetTimestampTz(DirectFunctionCall1(date_timestamptz, d));
		case TIMESTAMPOID:
			return DatumGetTimestampTz(DirectFunctionCall1(timestamp_timestamptz, d));
		default:
			return DatumGetTimestampTz(d);
	}
}

/* the value as ::numeric would give it; short varlena headers kept as is */
static Numeric
numeric_value(Datum d, Oid type)
{
	switch (type)
	{
		case INT2OID:
			return DatumGetNumeric(DirectFunctionCall1(int2_numeric, d));
		case INT4OID:
			return DatumGetNumeric(DirectFunctionCall1(int4_numeric, d));
		case INT8OID:
			return DatumGetNumeric(DirectFunctionCall1(int8_numeric, d));
		case FLOAT4OID:
			return DatumGetNumeric(DirectFunctionCall1(float4_numeric, d));
		case FLOAT8OID:
			return DatumGetNumeric(DirectFunctionCall1(float8_numeric, d));
		default:
			return (Numeric) PG_DETOAST_DATUM_PACKED(d);
	}
}

static void
refuse_future(Relation rel, const char *column, TimestampTz latest, TimestampTz now)
{
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("purchase date %s is in the future", timestamptz_to_str(latest)),
			 errdetail("Table %s.%s, column %s; the server time is %s.",
					   get_namespace_name(RelationGetNamespace(rel)), RelationGetRelationName(rel),
					   quote_identifier(column), timestamptz_to_str(now)),
			 errhint("Record purchases when they happen; planned orders are not purchases yet.")));
}

/*
 * An amount the portfolio cannot handle (|amount| >= 10^15): refused when it
 * is recorded, with a message about the amount, rather than later by the
 * float8 conversions of the scores with one about an internal field.  Long
 * values are shown in scientific notation (9.99e131071 has 131072 digits).
 */
static void
refuse_amount(Relation rel, const char *column, Numeric amount)
{
	/* numeric_out_sci() wants the 4-byte varlena header: no packed datum */
	Numeric		full = DatumGetNumeric(NumericGetDatum(amount));
	char	   *shown = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(full)));

	if (strlen(shown) > 24)
		shown = numeric_out_sci(full, 2);
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("purchase amount %s is out of range", shown),
			 errdetail("Purchase amounts must be greater than -1e%d and less than 1e%d (table %s.%s, column %s).",
					   CARTERA_AMOUNT_DIGITS, CARTERA_AMOUNT_DIGITS,
					   get_namespace_name(RelationGetNamespace(rel)), RelationGetRelationName(rel),
					   quote_identifier(column)),
			 errhint("Check the amount's unit and decimal separator.")));
}

static int
int64_cmp(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

static Datum
int64_array(int64 *values, int n)
{
	Datum	   *elems = palloc(Max(n, 1) * sizeof(Datum));

	for (int i = 0; i < n; i++)
		elems[i] = Int64GetDatum(values[i]);
	return PointerGetDatum(construct_array(elems, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* run a kept plan that returns one row with one column; *isnull if no row */
static Datum
run_single(SPIPlanPtr plan, Datum *values, const char *nulls, bool *isnull)
{
	int			rc = SPI_execute_plan(plan, values, nulls, false, 1);

	if (rc != SPI_OK_SELECT)
		elog(ERROR, "cartera: SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
	{
		*isnull = true;
		return (Datum) 0;
	}
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, isnull);
}

/* the new rows of a statement, per customer; the ids of cross-sell purchases */
typedef struct NewRows
{
	HTAB	   *customers;		/* CustomerEntry by customer id */
	int64	   *ids;			/* purchase ids (want_ids only) */
	int64	   *id_customers;	/* the customer of each id */
	int			nids;
} NewRows;

/*
 * Step 1 of both modes: read the statement's new rows, refuse amounts out of
 * range and purchases in the future (start: when the trigger began), and
 * aggregate them per customer into fresh states (as_of DT_NOEND: set by the
 * caller).  Purchase ids are collected when want_ids.
 */
static void
collect_new_rows(TriggerData *td, SourceColumns *cols, bool want_ids, TimestampTz start,
				 MemoryContext stmt_cxt, NewRows *out)
{
	MemoryContext row_cxt = AllocSetContextCreate(stmt_cxt, "cartera purchase row", ALLOCSET_SMALL_SIZES);
	HASHCTL		hctl;
	TupleTableSlot *slot;
	Tuplestorestate *rows = td->tg_newtable;
	TimestampTz latest = DT_NOBEGIN;
	int			maxids = 0;
	bool		isnull;

	MemSet(&hctl, 0, sizeof(hctl));
	hctl.keysize = sizeof(int64);
	hctl.entrysize = sizeof(CustomerEntry);
	hctl.hcxt = stmt_cxt;
	out->customers = hash_create("cartera customers of a purchase statement", 64, &hctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	out->ids = out->id_customers = NULL;
	out->nids = 0;
	slot = MakeSingleTupleTableSlot(RelationGetDescr(td->tg_relation), &TTSOpsMinimalTuple);
	{
		/* our own read pointer: other triggers may read the same table */
		int			ptr = tuplestore_alloc_read_pointer(rows, 0);

		tuplestore_select_read_pointer(rows, ptr);
		tuplestore_rescan(rows);
	}
	while (tuplestore_gettupleslot(rows, true, false, slot))
	{
		Datum		d;
		int64		customer;
		bool		found;
		CustomerEntry *entry;

		CHECK_FOR_INTERRUPTS();
		d = slot_getattr(slot, cols->customer, &isnull);
		if (isnull)
			continue;
		customer = integer_value(d, cols->customer_type);
		entry = hash_search(out->customers, &customer, HASH_ENTER, &found);
		if (!found)
			entry->fresh = rfm_state_create(DT_NOEND, stmt_cxt);

		if (want_ids)
		{
			d = slot_getattr(slot, cols->id, &isnull);
			if (!isnull)
			{
				if (out->nids == maxids)
				{
					maxids = Max(16, maxids * 2);
					out->ids = out->ids == NULL ? palloc(maxids * sizeof(int64))
						: repalloc(out->ids, maxids * sizeof(int64));
					out->id_customers = out->id_customers == NULL ? palloc(maxids * sizeof(int64))
						: repalloc(out->id_customers, maxids * sizeof(int64));
				}
				out->id_customers[out->nids] = customer;
				out->ids[out->nids++] = integer_value(d, cols->id_type);
			}
		}

		d = slot_getattr(slot, cols->at, &isnull);
		if (!isnull)
		{
			Datum		amount;
			bool		amount_null;
			TimestampTz ts;

			MemoryContextSwitchTo(row_cxt);
			ts = timestamptz_value(d, cols->at_type);
			if (ts > latest)
				latest = ts;
			amount = slot_getattr(slot, cols->amount, &amount_null);
			/* NULL amounts are skipped, as by cartera.rfm() */
			if (!amount_null)
			{
				Numeric		n = numeric_value(amount, cols->amount_type);

				if (!exact_sum_numeric_below_pow10(n, CARTERA_AMOUNT_DIGITS))
					refuse_amount(td->tg_relation, td->tg_trigger->tgargs[2], n);
				rfm_state_add_purchase(entry->fresh, ts, n, stmt_cxt);
			}
			MemoryContextSwitchTo(stmt_cxt);
			MemoryContextReset(row_cxt);
		}
	}
	ExecDropSingleTupleTableSlot(slot);
	MemoryContextDelete(row_cxt);
	if (latest > start)
		refuse_future(td->tg_relation, td->tg_trigger->tgargs[1], latest, start);
}

/* the checks both trigger functions make of how they are called */
static void
check_trigger_call(FunctionCallInfo fcinfo, const char *name)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s must be called as a trigger", name)));
	if (!TRIGGER_FIRED_AFTER(td->tg_event) || !TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(td->tg_event) || td->tg_newtable == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s must be an AFTER INSERT ... FOR EACH STATEMENT trigger with REFERENCING NEW TABLE", name)));
}

Datum
cartera_purchase_rows_added(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	SourceColumns cols;
	MemoryContext stmt_cxt;
	MemoryContext old_cxt;
	NewRows		new_rows;
	HTAB	   *customers;
	TimestampTz start = GetCurrentTimestamp();
	TimestampTz as_of;
	bool		want_ids = false;
	int64	   *ids;
	int			nids;
	int64	   *keys;
	int			nkeys;
	HASH_SEQ_STATUS seq;
	CustomerEntry *entry;
	int64	   *fast_ids;
	Datum	   *fast_states;
	int			nfast = 0;
	int64	   *slow_ids;
	int			nslow = 0;
	Datum		transitions[2] = {(Datum) 0, (Datum) 0};
	bool		transitions_null[2] = {true, true};
	bool		isnull;
	int			guc_level;

	check_trigger_call(fcinfo, "cartera.purchase_rows_added()");
	read_arguments(td, &cols);

	stmt_cxt = AllocSetContextCreate(CurrentMemoryContext, "cartera purchase trigger",
									 ALLOCSET_DEFAULT_SIZES);
	old_cxt = MemoryContextSwitchTo(stmt_cxt);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "cartera: SPI_connect failed");
	prepare_plans();
	check_tracked(td, false);

	/*
	 * What is stored follows the portfolio's settings (cartera.portfolio_
	 * setting), not this session's: they are set here, before the purchase
	 * days are taken, and restored with everything else set below when the
	 * trigger returns (AtEOXact_GUC), or by the abort on error.
	 */
	guc_level = NewGUCNestLevel();
	cartera_apply_portfolio_settings();

	if (cols.id != InvalidAttrNumber)
		want_ids = DatumGetBool(run_single(rules_plan, NULL, NULL, &isnull)) && !isnull;

	/* 1. the new rows, aggregated per customer (as_of set once locked) */
	collect_new_rows(td, &cols, want_ids, start, stmt_cxt, &new_rows);
	customers = new_rows.customers;
	ids = new_rows.ids;
	nids = new_rows.nids;

	nkeys = hash_get_num_entries(customers);
	if (nkeys == 0)
		goto done;
	keys = palloc(Max(nkeys, 1) * sizeof(int64));
	nkeys = 0;
	hash_seq_init(&seq, customers);
	while ((entry = hash_seq_search(&seq)) != NULL)
		keys[nkeys++] = entry->customer_id;
	qsort(keys, nkeys, sizeof(int64), int64_cmp);

	/*
	 * Plans, ours and those of the alert functions we call: a statement of a
	 * few customers runs generic plans (re-planning them for every purchase
	 * cost more than running them); a bulk load gets plans made for its
	 * array sizes (a generic plan assumes ten elements and may join them by
	 * nested loops).  Restored when the trigger returns, and on error.
	 */
	(void) set_config_option("plan_cache_mode",
							 nkeys <= FEW_CUSTOMERS ? "force_generic_plan" : "force_custom_plan",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);

	/*
	 * 2. lock the state rows in customer order, read the stored states.  The
	 * table lock the UPDATE needs is taken first: holding only FOR UPDATE's
	 * weaker one would let refresh() take its SHARE ROW EXCLUSIVE lock in
	 * between, and each would then wait for the other.
	 */
	LockRelationOid(get_relname_relid("customer_state", get_namespace_oid("cartera", false)),
					RowExclusiveLock);
	fast_ids = palloc(Max(nkeys, 1) * sizeof(int64));
	fast_states = palloc(Max(nkeys, 1) * sizeof(Datum));
	slow_ids = palloc(Max(nkeys, 1) * sizeof(int64));
	{
		Datum		arg = int64_array(keys, nkeys);
		uint64		locked;
		uint64		j = 0;
		int			rc = SPI_execute_plan(lock_plan, &arg, NULL, false, 0);

		if (rc != SPI_OK_SELECT)
			elog(ERROR, "cartera: SPI_execute_plan failed: %s", SPI_result_code_string(rc));
		locked = SPI_processed;

		/* now: later than every purchase committed before our locks */
		as_of = GetCurrentTimestamp();

		for (int i = 0; i < nkeys; i++)
		{
			int64		customer = keys[i];
			bytea	   *stored = NULL;
			RfmState   *state;

			CHECK_FOR_INTERRUPTS();
			/* both lists are in customer order */
			if (j < locked &&
				DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[j], SPI_tuptable->tupdesc, 1, &isnull)) == customer)
			{
				Datum		d = SPI_getbinval(SPI_tuptable->vals[j], SPI_tuptable->tupdesc, 2, &isnull);

				if (!isnull)
					stored = DatumGetByteaPP(d);
				j++;
			}
			if (stored == NULL || !rfm_state_format_current(stored))
			{
				/* no row (a source without registry) or no usable state */
				slow_ids[nslow++] = customer;
				continue;
			}
			state = rfm_state_deserialize(stored, stmt_cxt);
			if (state->purchases > 0 && state->last_ts > as_of)
			{
				/* a clock step backwards: let the full recomputation decide */
				slow_ids[nslow++] = customer;
				continue;
			}
			entry = hash_search(customers, &customer, HASH_FIND, NULL);
			state->as_of = as_of;
			entry->fresh->as_of = as_of;
			rfm_state_combine(state, entry->fresh, stmt_cxt);
			fast_ids[nfast] = customer;
			fast_states[nfast] = PointerGetDatum(rfm_state_serialize(state));
			nfast++;
		}
	}

	/* 3. store merged states; recompute the others */
	if (nfast > 0)
	{
		Datum		args[4];

		args[0] = int64_array(fast_ids, nfast);
		args[1] = TimestampTzGetDatum(as_of);
		args[2] = IntervalPGetDatum(&cartera_clv_lifespan);
		args[3] = PointerGetDatum(construct_array(fast_states, nfast, BYTEAOID, -1, false, TYPALIGN_INT));
		transitions[0] = run_single(store_plan, args, NULL, &transitions_null[0]);
	}
	if (nslow > 0)
	{
		Datum		args[2];

		args[0] = int64_array(slow_ids, nslow);
		args[1] = TimestampTzGetDatum(as_of);
		transitions[1] = run_single(recompute_plan, args, NULL, &transitions_null[1]);
	}

	/* 4. alerts: only when something changed or cross-sell rules may apply */
	if (!transitions_null[0] || !transitions_null[1] || nids > 0)
	{
		Datum		args[4];
		char		nulls[4] = {' ', ' ', ' ', ' '};
		int			rc;

		args[0] = transitions[0];
		args[1] = transitions[1];
		args[2] = nids > 0 ? int64_array(ids, nids) : (Datum) 0;
		args[3] = TimestampTzGetDatum(as_of);
		if (transitions_null[0])
			nulls[0] = 'n';
		if (transitions_null[1])
			nulls[1] = 'n';
		if (nids == 0)
			nulls[2] = 'n';
		rc = SPI_execute_plan(alerts_plan, args, nulls, false, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "cartera: SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	}

done:
	AtEOXact_GUC(true, guc_level);
	SPI_finish();
	MemoryContextSwitchTo(old_cxt);
	MemoryContextDelete(stmt_cxt);
	return PointerGetDatum(NULL);
}

/*
 * Write the queue rows of a statement into cartera.deferred_change directly:
 * heap insert and index entries, as an INSERT without triggers would (the
 * table has none; the owner writes it, so neither privileges nor row-level
 * security apply).  A single-row purchase is the hot path of deferred mode,
 * and planning-free SPI still paid an executor start-up per purchase: about
 * a tenth of a plain INSERT's throughput (docs/deferred.md).
 */
typedef struct IdPair
{
	int64		customer;
	int64		id;
} IdPair;

static int
id_pair_cmp(const void *a, const void *b)
{
	const IdPair *x = (const IdPair *) a;
	const IdPair *y = (const IdPair *) b;

	if (x->customer != y->customer)
		return (x->customer > y->customer) - (x->customer < y->customer);
	return (x->id > y->id) - (x->id < y->id);
}

static void
queue_rows(Oid source, int n, const int64 *customers, const Datum *states,
		   const NewRows *new_rows, TimestampTz queued_at)
{
	Oid			nsp = get_namespace_oid("cartera", false);
	Oid			relid = get_relname_relid("deferred_change", nsp);
	Oid			seqid = get_relname_relid("deferred_change_change_id_seq", nsp);
	Relation	rel;
	TupleDesc	desc;
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
	AttrNumber	a_id,
				a_customer,
				a_state,
				a_recompute,
				a_ids,
				a_source,
				a_queued;
	CommandId	cid = GetCurrentCommandId(true);
	IdPair	   *pairs;
	int64	   *ids;

	if (!OidIsValid(relid) || !OidIsValid(seqid))
		elog(ERROR, "cartera: table cartera.deferred_change or its id sequence does not exist");
	rel = table_open(relid, RowExclusiveLock);
	desc = RelationGetDescr(rel);
	a_id = attnameAttNum(rel, "change_id", false);
	a_customer = attnameAttNum(rel, "customer_id", false);
	a_state = attnameAttNum(rel, "state", false);
	a_recompute = attnameAttNum(rel, "recompute", false);
	a_ids = attnameAttNum(rel, "purchase_ids", false);
	a_source = attnameAttNum(rel, "source", false);
	a_queued = attnameAttNum(rel, "queued_at", false);

	estate = CreateExecutorState();
	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, rel, 1, NULL, 0);
	ExecOpenIndices(rri, false);
	slot = table_slot_create(rel, NULL);

	/* the purchase ids by customer, to find each customer's by bisection */
	pairs = palloc(Max(new_rows->nids, 1) * sizeof(IdPair));
	for (int k = 0; k < new_rows->nids; k++)
	{
		pairs[k].customer = new_rows->id_customers[k];
		pairs[k].id = new_rows->ids[k];
	}
	qsort(pairs, new_rows->nids, sizeof(IdPair), id_pair_cmp);
	ids = palloc(Max(new_rows->nids, 1) * sizeof(int64));

	for (int i = 0; i < n; i++)
	{
		int			nids = 0;
		int			lo = 0,
					hi = new_rows->nids;

		CHECK_FOR_INTERRUPTS();
		while (lo < hi)
		{
			int			mid = lo + (hi - lo) / 2;

			if (pairs[mid].customer < customers[i])
				lo = mid + 1;
			else
				hi = mid;
		}
		for (int k = lo; k < new_rows->nids && pairs[k].customer == customers[i]; k++)
			ids[nids++] = pairs[k].id;

		ExecClearTuple(slot);
		memset(slot->tts_isnull, true, desc->natts * sizeof(bool));
		slot->tts_values[a_id - 1] = Int64GetDatum(nextval_internal(seqid, false));
		slot->tts_isnull[a_id - 1] = false;
		slot->tts_values[a_customer - 1] = Int64GetDatum(customers[i]);
		slot->tts_isnull[a_customer - 1] = false;
		slot->tts_values[a_state - 1] = states[i];
		slot->tts_isnull[a_state - 1] = false;
		slot->tts_values[a_recompute - 1] = BoolGetDatum(false);
		slot->tts_isnull[a_recompute - 1] = false;
		if (nids > 0)
		{
			slot->tts_values[a_ids - 1] = int64_array(ids, nids);
			slot->tts_isnull[a_ids - 1] = false;
		}
		slot->tts_values[a_source - 1] = ObjectIdGetDatum(source);
		slot->tts_isnull[a_source - 1] = false;
		slot->tts_values[a_queued - 1] = TimestampTzGetDatum(queued_at);
		slot->tts_isnull[a_queued - 1] = false;
		ExecStoreVirtualTuple(slot);

		table_tuple_insert(rel, slot, cid, 0, NULL);
#if PG_VERSION_NUM >= 160000
		(void) ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL, false);
#else
		(void) ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL);
#endif
		ResetPerTupleExprContext(estate);
	}
	ExecDropSingleTupleTableSlot(slot);
	ExecCloseIndices(rri);
	FreeExecutorState(estate);
	table_close(rel, NoLock);
}

/*
 * The INSERT statement trigger of a purchase source in deferred mode
 * (cartera.set_purchase_mode()): the same checks at the door and the same
 * per-customer states as above, but instead of locking, scoring and
 * storing them, one row per customer goes to cartera.deferred_change, in
 * the purchase's own transaction (so a committed purchase is always queued,
 * and a rolled-back one never is).  No lock on customer_state, no alert
 * rule, no NOTIFY here: the background worker or cartera.catch_up() merge
 * the queue into the states (sql/cartera_deferred.sql).
 *
 * The function is not SECURITY DEFINER: it takes its owner's identity
 * itself, as PostgreSQL's foreign-key triggers do (SECURITY_LOCAL_USERID_
 * CHANGE; an error restores the caller's with the (sub)transaction's
 * abort).  SECURITY DEFINER's SET search_path opened a GUC nest level on
 * every purchase and restored it after: an eighth of this trigger's time on
 * a single-row INSERT.  Its queries are schema-qualified to the operator
 * instead (prepare_deferred_plans()).
 */
Datum
cartera_purchase_rows_deferred(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	SourceColumns cols;
	MemoryContext stmt_cxt;
	MemoryContext old_cxt;
	NewRows		new_rows;
	TimestampTz start = GetCurrentTimestamp();
	HASH_SEQ_STATUS seq;
	CustomerEntry *entry;
	int			nkeys;
	int64	   *keys;
	Datum	   *states;
	int			n = 0;
	int			guc_level;
	bool		want_ids = false;
	Oid			caller;
	int			caller_context;

	check_trigger_call(fcinfo, "cartera.purchase_rows_deferred()");
	read_arguments(td, &cols);

	GetUserIdAndSecContext(&caller, &caller_context);
	SetUserIdAndSecContext(function_owner(fcinfo->flinfo->fn_oid),
						   caller_context | SECURITY_LOCAL_USERID_CHANGE);
	stmt_cxt = AllocSetContextCreate(CurrentMemoryContext, "cartera deferred purchase trigger",
									 ALLOCSET_DEFAULT_SIZES);
	old_cxt = MemoryContextSwitchTo(stmt_cxt);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "cartera: SPI_connect failed");
	prepare_deferred_plans();
	check_tracked(td, true);

	/*
	 * Purchase days in the portfolio's calendar, as in immediate mode: the
	 * only portfolio setting a queued state depends on (the others are the
	 * applier's).  A GUC nest level only when it changes anything: restoring
	 * one walks every setting.
	 */
	guc_level = cartera_apply_portfolio_setting("TimeZone");

	/*
	 * The new purchase ids, for the cross-sell rules.  A small statement
	 * queues them without asking whether there are rules (the query cost a
	 * single-row INSERT a quarter of this trigger's time, the ids nothing);
	 * a bulk load queues them only when there are rules (it would otherwise
	 * sort and store a million ids).
	 */
	if (cols.id != InvalidAttrNumber)
	{
		bool		isnull;

		want_ids = tuplestore_tuple_count(td->tg_newtable) <= DEFERRED_IDS_ALWAYS_ROWS ||
			(DatumGetBool(run_single(deferred_rules_plan, NULL, NULL, &isnull)) && !isnull);
	}
	collect_new_rows(td, &cols, want_ids, start, stmt_cxt, &new_rows);
	nkeys = hash_get_num_entries(new_rows.customers);
	if (nkeys > 0)
	{
		keys = palloc(nkeys * sizeof(int64));
		states = palloc(nkeys * sizeof(Datum));
		hash_seq_init(&seq, new_rows.customers);
		while ((entry = hash_seq_search(&seq)) != NULL)
		{
			/* stamped with the statement's time; the applier takes them at its own */
			entry->fresh->as_of = start;
			keys[n] = entry->customer_id;
			states[n] = PointerGetDatum(rfm_state_serialize(entry->fresh));
			n++;
		}
		queue_rows(RelationGetRelid(td->tg_relation), n, keys, states, &new_rows, GetCurrentTimestamp());
	}

	if (guc_level >= 0)
		AtEOXact_GUC(true, guc_level);
	SPI_finish();
	MemoryContextSwitchTo(old_cxt);
	MemoryContextDelete(stmt_cxt);
	SetUserIdAndSecContext(caller, caller_context);
	return PointerGetDatum(NULL);
}
