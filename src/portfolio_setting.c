/*
 * portfolio_setting.c — the portfolio's own configuration.
 *
 * The settings that change what cartera stores (life-cycle thresholds, the
 * CLV lifespan, the contact policy, the language of alert messages, and
 * optionally the time zone of purchase days) must not come from whichever
 * session happens to write: an agent's SET cartera.clv_lifespan would
 * otherwise move the portfolio-wide value cut behind every agent's alerts.
 * They are rows of cartera.portfolio_setting, edited by managers, and the
 * view cartera.portfolio_settings adds the built-in defaults.
 *
 * Every maintenance entry point (the purchase triggers, recompute_state(),
 * refresh(), run_followups(), the alert functions) first calls
 * cartera.use_portfolio_settings(), which sets each of them with
 * GUC_ACTION_SAVE: the value holds until the innermost function with a SET
 * clause (all of them pin search_path) returns, and the session's own
 * values come back after it, as after a function's SET clause.  The
 * session's settings still apply to its own ad-hoc queries (lifecycle(),
 * clv() and so on), which store nothing.
 */
#include "postgres.h"

#include "cartera.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(cartera_use_portfolio_settings);
PG_FUNCTION_INFO_V1(cartera_portfolio_setting_check);

static SPIPlanPtr settings_plan = NULL;

/*
 * The settings are read once and kept for the session: every purchase
 * statement applies them up to four times (its trigger and the alert
 * functions it calls), and reading the view each time cost about 30 us.
 * The trigger of cartera.portfolio_setting invalidates the table's relcache
 * entry on every change (rows are not catalog data: nothing else would), so
 * this backend and, at commit, every other one read them again; so do DROP
 * and CREATE EXTENSION.  inval_count tells a load that an invalidation
 * arrived while it was reading (it is then not trusted).
 */
static int	nsettings = 0;
static char **setting_names = NULL;
static char **setting_values = NULL;
static MemoryContext settings_cxt = NULL;	/* holds the three above */
static bool settings_valid = false;
static Oid	settings_table = InvalidOid;
static uint64 inval_count = 0;

static void
settings_invalidated(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == settings_table || settings_table == InvalidOid)
	{
		settings_valid = false;
		inval_count++;
	}
}

/* read the view into settings_cxt; SPI must be connected */
static void
load_settings(void)
{
	uint64		before = inval_count;
	int			rc;
	MemoryContext old;

	if (settings_cxt == NULL)
	{
		settings_cxt = AllocSetContextCreate(TopMemoryContext, "cartera portfolio settings",
											 ALLOCSET_SMALL_SIZES);
		CacheRegisterRelcacheCallback(settings_invalidated, (Datum) 0);
	}
	settings_valid = false;

	/*
	 * This library with the SQL of an older version (0.3.0 and before had no
	 * portfolio settings): between installing the new package and ALTER
	 * EXTENSION cartera UPDATE, purchases must keep working, with the
	 * session's settings as then.  Any relcache invalidation (the update
	 * creating the view is one) makes us look again.
	 */
	if (!OidIsValid(get_relname_relid("portfolio_settings", get_namespace_oid("cartera", false))))
	{
		MemoryContextReset(settings_cxt);
		nsettings = 0;
		settings_table = InvalidOid;
		settings_valid = (inval_count == before);
		return;
	}
	if (settings_plan == NULL)
		settings_plan = cartera_keep_plan("SELECT s.name, s.value FROM cartera.portfolio_settings s "
										  "WHERE s.value IS NOT NULL ORDER BY s.name", 0, NULL);
	rc = SPI_execute_plan(settings_plan, NULL, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "cartera: SPI_execute_plan failed: %s", SPI_result_code_string(rc));

	MemoryContextReset(settings_cxt);
	old = MemoryContextSwitchTo(settings_cxt);
	nsettings = (int) SPI_processed;
	setting_names = palloc(Max(nsettings, 1) * sizeof(char *));
	setting_values = palloc(Max(nsettings, 1) * sizeof(char *));
	for (int i = 0; i < nsettings; i++)
	{
		setting_names[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		setting_values[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
	}
	MemoryContextSwitchTo(old);
	settings_table = get_relname_relid("portfolio_setting", get_namespace_oid("cartera", false));
	settings_valid = (inval_count == before);
}

/* set one loaded setting with GUC_ACTION_SAVE unless it already has the value */
static void
apply_setting(int i)
{
	const char *current = GetConfigOption(setting_names[i], true, false);

	if (current != NULL && strcmp(current, setting_values[i]) == 0)
		return;
	(void) set_config_option(setting_names[i], setting_values[i], PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/*
 * Apply every portfolio setting at the current GUC nest level; SPI must be
 * connected.  A setting that already has the value is left alone (nothing
 * to restore); the others are set with GUC_ACTION_SAVE (see above).
 */
void
cartera_apply_portfolio_settings(void)
{
	if (!settings_valid)
		load_settings();
	for (int i = 0; i < nsettings; i++)
		apply_setting(i);
}

/* the index of a loaded setting whose value differs from the session's, or -1 */
static int
differing_setting(const char *name)
{
	if (!settings_valid)
		load_settings();
	for (int i = 0; i < nsettings; i++)
		if (strcmp(setting_names[i], name) == 0)
		{
			const char *current = GetConfigOption(name, true, false);

			return current != NULL && strcmp(current, setting_values[i]) == 0 ? -1 : i;
		}
	return -1;
}

/*
 * One portfolio setting alone (by its exact name in the view), for a caller
 * that needs only that one: the deferred purchase trigger needs the calendar
 * (TimeZone) alone, and looking up all twenty settings, then restoring the
 * GUC nest level, cost as much as its own work on a single-row INSERT.  When
 * the portfolio sets it to another value than the session's, opens a GUC
 * nest level, sets it there and returns the level (the caller ends it with
 * AtEOXact_GUC()); otherwise returns -1 and opens nothing (restoring a level
 * walks every setting).  SPI must be connected.
 */
int
cartera_apply_portfolio_setting(const char *name)
{
	int			i = differing_setting(name);
	int			level;

	if (i < 0)
		return -1;
	level = NewGUCNestLevel();
	(void) set_config_option(setting_names[i], setting_values[i], PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return level;
}

/*
 * cartera.use_portfolio_settings() RETURNS boolean: for plpgsql callers,
 * usable as the first variable initialiser of a DECLARE section (so that the
 * settings are in force before the other initialisers read them).
 */
Datum
cartera_use_portfolio_settings(PG_FUNCTION_ARGS)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "cartera: SPI_connect failed");
	cartera_apply_portfolio_settings();
	SPI_finish();
	PG_RETURN_BOOL(true);
}

/*
 * Trigger of cartera.portfolio_setting: BEFORE INSERT OR UPDATE OR DELETE
 * per row, and AFTER TRUNCATE per statement.  A value written must be one
 * the setting accepts (the same check as SET, without changing anything;
 * which names are allowed is the table's CHECK).  Every change invalidates
 * the table's relcache entry, which tells every session to read the
 * settings again (load_settings()).
 */
Datum
cartera_portfolio_setting_check(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	HeapTuple	tuple;
	TupleDesc	desc;
	char	   *name;
	char	   *value;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("cartera.portfolio_setting_check() must be called as a trigger")));
	CacheInvalidateRelcache(td->tg_relation);
	if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
		return PointerGetDatum(NULL);
	if (!TRIGGER_FIRED_BEFORE(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("cartera.portfolio_setting_check() must be a BEFORE ... FOR EACH ROW or an AFTER TRUNCATE trigger")));
	if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		return PointerGetDatum(td->tg_trigtuple);
	tuple = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	desc = RelationGetDescr(td->tg_relation);
	name = SPI_getvalue(tuple, desc, SPI_fnumber(desc, "name"));
	value = SPI_getvalue(tuple, desc, SPI_fnumber(desc, "value"));
	/* NOT NULL and the CHECK on names report those cases themselves */
	if (name != NULL && value != NULL)
		(void) set_config_option(name, value, PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, false, ERROR, false);
	return PointerGetDatum(tuple);
}
