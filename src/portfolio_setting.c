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
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/guc.h"

PG_FUNCTION_INFO_V1(cartera_use_portfolio_settings);
PG_FUNCTION_INFO_V1(cartera_portfolio_setting_check);

static SPIPlanPtr settings_plan = NULL;

/*
 * Apply every portfolio setting at the current GUC nest level; SPI must be
 * connected.  A failed prepare leaves no plan behind, so the next call tries
 * again (the view may not exist yet during an upgrade).
 */
void
cartera_apply_portfolio_settings(void)
{
	int			rc;

	if (settings_plan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare("SELECT s.name, s.value FROM cartera.portfolio_settings s "
									   "WHERE s.value IS NOT NULL ORDER BY s.name",
									   0, NULL);

		if (plan == NULL)
			elog(ERROR, "cartera: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "cartera: SPI_keepplan failed");
		settings_plan = plan;
	}
	rc = SPI_execute_plan(settings_plan, NULL, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "cartera: SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		char	   *value = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);

		/* SAVE: restored when the calling function returns (see above) */
		(void) set_config_option(name, value, PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	}
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
 * BEFORE INSERT OR UPDATE row trigger of cartera.portfolio_setting: the
 * value must be one the setting accepts (the same check as SET, without
 * changing anything).  Which names are allowed is the table's CHECK.
 */
Datum
cartera_portfolio_setting_check(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	HeapTuple	tuple;
	TupleDesc	desc;
	char	   *name;
	char	   *value;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || TRIGGER_FIRED_BY_DELETE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("cartera.portfolio_setting_check() must be a BEFORE INSERT OR UPDATE ... FOR EACH ROW trigger")));
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
