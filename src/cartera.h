/*
 * cartera.h — declarations shared by the C core of the cartera extension:
 * GUC variables, the exact decimal accumulator, the per-customer aggregate state.
 */
#ifndef CARTERA_H
#define CARTERA_H

#include "postgres.h"

#include "access/htup.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "utils/date.h"
#include "utils/numeric.h"

/* ---- GUCs (guc.c) ---- */
typedef enum CarteraLanguage
{
	CARTERA_LANG_ES,
	CARTERA_LANG_EN
} CarteraLanguage;

typedef enum CarteraLifecycleMode
{
	CARTERA_LIFECYCLE_FIXED,
	CARTERA_LIFECYCLE_ADAPTIVE
} CarteraLifecycleMode;

extern int	cartera_language;
extern int	cartera_lifecycle_mode;
extern double cartera_at_risk_factor;
extern double cartera_dormant_factor;
extern Interval cartera_at_risk_after;
extern Interval cartera_dormant_after;
extern Interval cartera_lost_after;
extern Interval cartera_new_window;
extern Interval cartera_clv_lifespan;
extern Interval cartera_contact_window;
extern Interval cartera_lead_idle_after;
extern Interval cartera_occasion_horizon;
extern int	cartera_max_contacts;
extern int	cartera_daily_capacity;

extern void cartera_define_gucs(void);
/* deferred_worker.c: its settings, and the workers when preloaded */
extern void cartera_deferred_worker_init(void);

/* portfolio_setting.c: the portfolio's own settings, for maintenance code */
extern void cartera_apply_portfolio_settings(void);
extern int	cartera_apply_portfolio_setting(const char *name);

/* ---- exact decimal sum (exact_sum.c) ---- */

/*
 * Fixed-point accumulator: value = acc / 10^scale, plus an optional numeric
 * "spill" that takes any addend the fixed-point path cannot hold exactly
 * (too many decimals, or an int128 overflow).  The common case (money with a
 * few decimals) never allocates.
 */
#ifdef HAVE_INT128
typedef int128 cartera_acc;
#else
typedef int64 cartera_acc;
#endif

typedef struct ExactSum
{
	cartera_acc acc;
	int16		scale;			/* decimal digits after the point in acc */
	Numeric		spill;			/* NULL, or extra addend in aggregate context */
} ExactSum;

extern void exact_sum_init(ExactSum *s);
extern void exact_sum_add_numeric(ExactSum *s, Numeric num, MemoryContext mcxt);
extern bool exact_sum_decode_numeric(Numeric num, cartera_acc *ival, int *scale);
extern void exact_sum_add_fixed(ExactSum *s, cartera_acc v, int vscale, MemoryContext mcxt);
extern Numeric exact_sum_acc_to_numeric(cartera_acc acc, int scale);
extern void exact_sum_add_int64(ExactSum *s, int64 v, MemoryContext mcxt);
extern void exact_sum_add_sum(ExactSum *s, const ExactSum *other, MemoryContext mcxt);
extern Numeric exact_sum_get(const ExactSum *s);
extern bool exact_sum_is_negative_numeric(Numeric num);
extern bool exact_sum_numeric_is_special(Numeric num);
extern bool exact_sum_numeric_below_pow10(Numeric num, int digits);

/*
 * Purchase amounts of the portfolio layer (every purchase source) must be
 * below 10^CARTERA_AMOUNT_DIGITS in absolute value (docs/data-model.md
 * "Amounts"); sql/cartera_portfolio.sql checks the same bound on UPDATE.
 */
#define CARTERA_AMOUNT_DIGITS 15
extern bool exact_sum_is_zero(const ExactSum *s);

/* serialized form (rfm_state.c serializes states through these) */
struct StringInfoData;
extern void exact_sum_send(struct StringInfoData *buf, const ExactSum *s);
extern void exact_sum_recv(struct StringInfoData *buf, ExactSum *s, MemoryContext mcxt);

/* ---- the per-customer aggregate state (rfm_state.c) ---- */

/*
 * The state is allocated on a 64-byte boundary (inside a larger chunk: never
 * pfree() a state, its memory context owns it) and everything a purchase
 * arriving in time order touches is in that first cache line: with a
 * million customers the states do not fit in any cache, so one miss per row
 * instead of two or three is most of the per-row cost.  Amounts that share
 * the scale of the first one go to fast_acc; anything else (another scale,
 * an int64 overflow, a refund) to the general accumulators in the cold
 * part.  as_of is checked against the state only when it varies between
 * rows of a query (it is normally a constant).
 */
#define RFM_INLINE_DAYS 5

typedef struct RfmState
{
	/* ---- first cache line ---- */
	int64		fast_acc;		/* sum of amounts >= 0 at scale fast_scale */
	int64		purchases;		/* rows with amount >= 0 (or no amount) */
	TimestampTz first_ts;		/* first / last purchase instant */
	TimestampTz last_ts;
	DateADT    *days;			/* purchase days; points at inline_days first */
	DateADT		first_day;		/* day of first_ts, in the session TimeZone */
	DateADT		last_added;		/* days[ndays - 1] when ndays > 0 */
	int32		ndays;			/* entries used in days[] (may hold dups) */
	int32		maxdays;		/* capacity of days[] */
	int8		fast_scale;		/* -1 until the first amount (at most 18) */
	bool		adoptable;		/* made by the deserializer in aggcontext */
	bool		days_sorted;	/* days[] is sorted and duplicate-free */
	bool		has_amounts;	/* fed by an aggregate with an amount column */
	DateADT		inline_days[RFM_INLINE_DAYS];	/* the first in the first line */
	/* ---- cold part ---- */
	TimestampTz as_of;			/* rows after this instant are ignored */
	double		lifespan_years; /* clv() only; NaN when not given */
	ExactSum	gross;			/* sum of amounts >= 0 not in fast_acc */
	ExactSum	first_day_amount;	/* sum of amounts >= 0 on first_day */
	ExactSum	refunds;		/* sum of amounts < 0 */
} RfmState;

/* gross amount (all amounts >= 0) of a state */
extern void rfm_state_gross(const RfmState *state, ExactSum *out);
extern void rfm_state_compact(RfmState *state);
extern bytea *rfm_state_serialize(RfmState *state);
extern RfmState *rfm_state_deserialize(bytea *bytes, MemoryContext mcxt);
extern bool rfm_state_format_current(bytea *bytes);
extern RfmState *rfm_state_create(TimestampTz as_of, MemoryContext mcxt);
extern void rfm_state_add_purchase(RfmState *state, TimestampTz ts, Numeric amount, MemoryContext mcxt);
extern void rfm_state_combine(RfmState *dst, RfmState *src, MemoryContext mcxt);

/* ---- derived per-customer facts shared by the finals (rfm.c) ---- */

typedef struct RfmFacts
{
	bool		has_purchase;
	int64		purchases;
	int32		purchase_days;
	DateADT		as_of_day;
	DateADT		first_day;
	DateADT		last_day;
	DateADT		prev_day;		/* purchase day before last_day, or NOBEGIN */
	TimestampTz first_ts;
	TimestampTz last_ts;
	TimestampTz as_of;
} RfmFacts;

extern RfmState *rfm_state_from_arg(FunctionCallInfo fcinfo);
extern void rfm_facts_from_state(RfmState *state, RfmFacts *facts);
extern DateADT cartera_timestamptz_day(TimestampTz ts);
extern bool cartera_summary_history(HeapTupleHeader s, int unit_days, double *x, double *t_x, double *T);
extern double cartera_summary_repeat_spend(HeapTupleHeader s);
extern double cartera_numeric_float8(Numeric num, const char *what);

/* ---- lifecycle (lifecycle.c) ---- */
extern const char *lifecycle_classify(const RfmFacts *f);

/* ---- segment type (segment.c) ---- */
extern Datum cartera_segment_from_scores(int r, int f, int m);

/* ---- predictive CLV (btyd_agg.c, btyd_predict.c) ---- */
/*
 * cartera.bgnbd_params: r, alpha, a, b, log_likelihood, customers,
 * iterations, converged, time_unit; since 0.4.0 se_r, se_alpha, se_a, se_b,
 * aic, bic.  cartera.gamma_gamma_params: p, q, gamma, log_likelihood,
 * customers, iterations, converged; since 0.4.0 se_p, se_q, se_gamma, aic, bic.
 */
#define BGNBD_NATTS 16			/* ... and log_covariance (the transaction models) */

/* the transaction models on the (x, t_x, T) histogram; pareto_nbd_params
 * and mbgnbd_params have bgnbd_params' layout (their own parameter names) */
typedef enum TransactionModel
{
	MODEL_BGNBD = 0,
	MODEL_PARETO_NBD = 1,
	MODEL_MBGNBD = 2
} TransactionModel;
#define GG_NATTS 12

/*
 * The uncertainty columns every fit's result ends with (since 0.4.0): one
 * standard error per parameter, then AIC and BIC, into values/nulls from
 * index first.  NaN standard errors (no positive definite Hessian) and an
 * infinite log-likelihood become NULL.
 */
extern void cartera_fit_uncertainty(Datum *values, bool *nulls, int first, int nparams,
									const double *se, double loglik, int64 customers);
extern int	cartera_time_unit_days(const char *unit);
extern const char *cartera_time_unit_name(int unit_days);

/* ---- helpers ---- */
extern Numeric cartera_numeric_div_round(Numeric num, Numeric den, int extra_scale);
extern int	cartera_numeric_dscale(Numeric num);
extern Datum cartera_make_composite(FunctionCallInfo fcinfo, Datum *values, bool *nulls, int natts);
extern Datum cartera_make_composite_prefix(FunctionCallInfo fcinfo, Datum *values, bool *nulls, int natts);
extern Datum cartera_log_covariance_datum(const double cov[][4], int n, bool *isnull);

/* cartera.c: a SPI plan kept for the session (SPI connected) */
struct _SPI_plan;
extern struct _SPI_plan *cartera_keep_plan(const char *sql, int nargs, Oid *argtypes);

#endif							/* CARTERA_H */
