/*
 * guc.c — the cartera.* configuration parameters: language, lifecycle
 * thresholds and mode.  Bad values are refused at SET time by check hooks.
 */
#include "postgres.h"

#include "cartera.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

int			cartera_language = CARTERA_LANG_ES;
int			cartera_lifecycle_mode = CARTERA_LIFECYCLE_FIXED;
double		cartera_at_risk_factor = 2.0;
double		cartera_dormant_factor = 4.0;
Interval	cartera_at_risk_after;
Interval	cartera_dormant_after;
Interval	cartera_lost_after;
Interval	cartera_new_window;
Interval	cartera_clv_lifespan;
Interval	cartera_contact_window;
Interval	cartera_lead_idle_after;
Interval	cartera_occasion_horizon;
int			cartera_max_contacts = 3;
int			cartera_daily_capacity = 25;

/* the string variables behind the interval GUCs */
static char *at_risk_after_str;
static char *dormant_after_str;
static char *lost_after_str;
static char *new_window_str;
static char *clv_lifespan_str;
static char *contact_window_str;
static char *lead_idle_after_str;
static char *occasion_horizon_str;
static char *escalate_amber_after_str;	/* read by SQL only */
static char *model_holdout_str;	/* read by SQL only */
static char *clv_month_str;		/* read by SQL only */
static int	transaction_model;	/* read by SQL only */
static int	model_selection;	/* read by SQL only */

static const struct config_enum_entry transaction_model_options[] = {
	{"auto", 0, false},
	{"bgnbd", 1, false},
	{"pareto_nbd", 2, false},
	{"mbgnbd", 3, false},
	{NULL, 0, false}
};

static const struct config_enum_entry model_selection_options[] = {
	{"bic", 0, false},
	{"aic", 1, false},
	{"holdout", 2, false},
	{NULL, 0, false}
};

static const struct config_enum_entry language_options[] = {
	{"es", CARTERA_LANG_ES, false},
	{"en", CARTERA_LANG_EN, false},
	{NULL, 0, false}
};

static const struct config_enum_entry lifecycle_mode_options[] = {
	{"fixed", CARTERA_LIFECYCLE_FIXED, false},
	{"adaptive", CARTERA_LIFECYCLE_ADAPTIVE, false},
	{NULL, 0, false}
};

/*
 * Parse an interval without throwing (check hooks must not ereport), the way
 * interval_in() does it.
 */
static bool
parse_interval_quietly(const char *str, Interval *result)
{
	char		workbuf[256];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf;
	int			dtype = 0;
	struct pg_itm_in itm_in;
	int			dterr;

	memset(&itm_in, 0, sizeof(itm_in));
	dterr = ParseDateTime(str, workbuf, sizeof(workbuf), field, ftype,
						  MAXDATEFIELDS, &nf);
	if (dterr == 0)
		dterr = DecodeInterval(field, ftype, nf, INTERVAL_FULL_RANGE,
							   &dtype, &itm_in);
	if (dterr == DTERR_BAD_FORMAT)
	{
		char	   *copy = pstrdup(str);

		dterr = DecodeISO8601Interval(copy, &dtype, &itm_in);
		pfree(copy);
	}
	if (dterr != 0 || dtype != DTK_DELTA)
		return false;
	return itmin2interval(&itm_in, result) == 0;
}

/* cartera.clv_month: '1 month' (calendar months) or 28 to 31 days */
static bool
check_clv_month(char **newval, void **extra, GucSource source)
{
	Interval	iv;

	if (*newval == NULL || !parse_interval_quietly(*newval, &iv))
	{
		GUC_check_errdetail("\"%s\" is not an interval.", *newval ? *newval : "");
		return false;
	}
	if (iv.month == 1 && iv.day == 0 && iv.time == 0)
		return true;
	if (iv.month == 0 && iv.day >= 0 && iv.time >= 0 &&
		iv.day + (double) iv.time / USECS_PER_DAY >= 28.0 &&
		iv.day + (double) iv.time / USECS_PER_DAY <= 31.0)
		return true;
	GUC_check_errdetail("The month must be '1 month' (calendar months) or a length between 28 and 31 days, not \"%s\".", *newval);
	GUC_check_errhint("'30 days' is lifetimes' month, '30 days 10:30' the mean Gregorian month.");
	return false;
}

static bool
check_positive_interval(char **newval, void **extra, GucSource source)
{
	Interval	iv;
	Interval   *copy;

	if (*newval == NULL || !parse_interval_quietly(*newval, &iv))
	{
		GUC_check_errdetail("\"%s\" is not an interval.", *newval ? *newval : "");
		GUC_check_errhint("Write it like '60 days' or '3 months'.");
		return false;
	}
	if (iv.month < 0 || iv.day < 0 || iv.time < 0 ||
		(iv.month == 0 && iv.day == 0 && iv.time == 0))
	{
		GUC_check_errdetail("The interval must be positive, not \"%s\".", *newval);
		return false;
	}
	/* GUC "extra" data is released by the GUC machinery: free() before
	 * PostgreSQL 16, guc_free() since, so allocate it the matching way */
#if PG_VERSION_NUM >= 160000
	copy = guc_malloc(LOG, sizeof(Interval));	/* PG 16+ frees it with guc_free() */
#else
	copy = malloc(sizeof(Interval));
#endif
	if (copy == NULL)
		return false;
	*copy = iv;
	*extra = copy;
	return true;
}

#define ASSIGN_INTERVAL_HOOK(name, target) \
static void \
name(const char *newval, void *extra) \
{ \
	target = *(Interval *) extra; \
}

ASSIGN_INTERVAL_HOOK(assign_at_risk_after, cartera_at_risk_after)
ASSIGN_INTERVAL_HOOK(assign_dormant_after, cartera_dormant_after)
ASSIGN_INTERVAL_HOOK(assign_lost_after, cartera_lost_after)
ASSIGN_INTERVAL_HOOK(assign_new_window, cartera_new_window)
ASSIGN_INTERVAL_HOOK(assign_clv_lifespan, cartera_clv_lifespan)
ASSIGN_INTERVAL_HOOK(assign_contact_window, cartera_contact_window)
ASSIGN_INTERVAL_HOOK(assign_lead_idle_after, cartera_lead_idle_after)
ASSIGN_INTERVAL_HOOK(assign_occasion_horizon, cartera_occasion_horizon)

void
cartera_define_gucs(void)
{
	DefineCustomEnumVariable("cartera.language",
							 "Language of segment names and messages (es or en).",
							 NULL,
							 &cartera_language,
							 CARTERA_LANG_ES,
							 language_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);

	DefineCustomEnumVariable("cartera.lifecycle_mode",
							 "How at_risk and dormant are decided: fixed thresholds, or adaptive to each customer's mean purchase gap.",
							 NULL,
							 &cartera_lifecycle_mode,
							 CARTERA_LIFECYCLE_FIXED,
							 lifecycle_mode_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);

	DefineCustomStringVariable("cartera.at_risk_after",
							   "Time without purchases after which a customer is at risk.",
							   NULL,
							   &at_risk_after_str,
							   "60 days",
							   PGC_USERSET, 0,
							   check_positive_interval, assign_at_risk_after, NULL);

	DefineCustomStringVariable("cartera.dormant_after",
							   "Time without purchases after which a customer is dormant.",
							   NULL,
							   &dormant_after_str,
							   "120 days",
							   PGC_USERSET, 0,
							   check_positive_interval, assign_dormant_after, NULL);

	DefineCustomStringVariable("cartera.lost_after",
							   "Time without purchases after which a customer is lost.",
							   NULL,
							   &lost_after_str,
							   "365 days",
							   PGC_USERSET, 0,
							   check_positive_interval, assign_lost_after, NULL);

	DefineCustomStringVariable("cartera.new_window",
							   "A customer whose first purchase is this recent is new.",
							   NULL,
							   &new_window_str,
							   "30 days",
							   PGC_USERSET, 0,
							   check_positive_interval, assign_new_window, NULL);

	DefineCustomStringVariable("cartera.clv_lifespan",
							   "Relationship lifespan used for the formula CLV kept in customer_state.",
							   NULL,
							   &clv_lifespan_str,
							   "3 years",
							   PGC_USERSET, 0,
							   check_positive_interval, assign_clv_lifespan, NULL);

	/* the contact policy and the daily job; the SQL layer reads these with
	 * current_setting('cartera.*', true) and the same defaults */
	DefineCustomIntVariable("cartera.max_contacts",
							"Most contact alerts raised for one customer within cartera.contact_window.",
							"Complaint and other service alerts are never capped.",
							&cartera_max_contacts,
							3, 0, 1000,
							PGC_USERSET, 0, NULL, NULL, NULL);

	DefineCustomStringVariable("cartera.contact_window",
							   "Window over which cartera.max_contacts is counted.",
							   NULL,
							   &contact_window_str,
							   "30 days",
							   PGC_USERSET, 0,
							   check_positive_interval, assign_contact_window, NULL);

	DefineCustomStringVariable("cartera.lead_idle_after",
							   "A lead with no purchase and no interaction for this long raises an idle-lead alert.",
							   NULL,
							   &lead_idle_after_str,
							   "14 days",
							   PGC_USERSET, 0,
							   check_positive_interval, assign_lead_idle_after, NULL);

	DefineCustomStringVariable("cartera.occasion_horizon",
							   "Birthdays and occasions this close raise a green alert.",
							   NULL,
							   &occasion_horizon_str,
							   "7 days",
							   PGC_USERSET, 0,
							   check_positive_interval, assign_occasion_horizon, NULL);

	/* follow-ups (0.4.0): the SQL layer reads these with current_setting() */
	DefineCustomIntVariable("cartera.daily_capacity",
							"Alerts an agent can work in a day: the daily job queues that many, the rest waits as backlog.",
							"cartera.agent.daily_capacity overrides it per agent.",
							&cartera_daily_capacity,
							25, 0, 100000,
							PGC_USERSET, 0, NULL, NULL, NULL);

	DefineCustomStringVariable("cartera.escalate_amber_after",
							   "An amber alert overdue by this long turns red.",
							   "Queued work only: a queued red alert past its due date is escalated to the agent's manager; the backlog is not.",
							   &escalate_amber_after_str,
							   "3 days",
							   PGC_USERSET, 0,
							   check_positive_interval, NULL, NULL);

	/* the portfolio's transaction model (0.4.0): read by refresh() */
	DefineCustomEnumVariable("cartera.transaction_model",
							 "Transaction model refresh() fills customer_state from: auto, bgnbd, pareto_nbd or mbgnbd.",
							 "auto chooses between Pareto/NBD and MBG/NBD by cartera.model_selection; BG/NBD (P(alive) = 1 for every one-time buyer) only when named.",
							 &transaction_model,
							 0, transaction_model_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);

	DefineCustomEnumVariable("cartera.model_selection",
							 "How refresh() chooses the transaction model when cartera.transaction_model is auto: bic, aic or holdout.",
							 "holdout refits each model on the purchases before as_of minus cartera.model_holdout and keeps the lowest error on the holdout.",
							 &model_selection,
							 0, model_selection_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);

	DefineCustomStringVariable("cartera.model_holdout",
							   "Holdout period of cartera.model_selection = holdout (also recorded in cartera.model_history).",
							   NULL,
							   &model_holdout_str,
							   "26 weeks",
							   PGC_USERSET, 0,
							   check_positive_interval, NULL, NULL);

	DefineCustomStringVariable("cartera.clv_month",
							   "The month of customer_state.clv_predicted_12m: '1 month' (calendar months from as_of) or a length of 28 to 31 days.",
							   "'30 days' reproduces lifetimes' customer_lifetime_value.",
							   &clv_month_str,
							   "1 month",
							   PGC_USERSET, 0,
							   check_clv_month, NULL, NULL);

	DefineCustomRealVariable("cartera.at_risk_factor",
							 "Adaptive mode: at risk when the time since the last purchase exceeds this many mean gaps.",
							 NULL,
							 &cartera_at_risk_factor,
							 2.0, 1.0, 100.0,
							 PGC_USERSET, 0, NULL, NULL, NULL);

	DefineCustomRealVariable("cartera.dormant_factor",
							 "Adaptive mode: dormant when the time since the last purchase exceeds this many mean gaps.",
							 NULL,
							 &cartera_dormant_factor,
							 4.0, 1.0, 100.0,
							 PGC_USERSET, 0, NULL, NULL, NULL);

	MarkGUCPrefixReserved("cartera");
}
