/*
 * fit_histogram.h
 *		The combinable state of every model fit aggregate (src/btyd_agg.c): a
 *		weighted histogram of distinct data tuples, filled by the transition
 *		functions, combined and serialized for parallel query and shards
 *		(src/partial_agg.c), turned into a sorted array by the final function,
 *		which hands it to the model's pure-C fit.  Each model family's SQL glue
 *		(btyd_agg.c, pareto_nbd_sql.c, bgbb_sql.c, sbg_sql.c) builds on it.
 */
#ifndef CARTERA_FIT_HISTOGRAM_H
#define CARTERA_FIT_HISTOGRAM_H

#include "fmgr.h"
#include "utils/hsearch.h"

#define HIST_MAX_DIMS 3

/*
 * What the tuples are: the deserializer checks each kind's invariants (a
 * state from a shard comes from the user).  Serialized in the bits above
 * the low byte of the dimension count, so states of 0.3.0 (kind 0) still
 * read.
 */
typedef enum HistKind
{
	HIST_HISTORY = 0,			/* (x, t_x, T) of the transaction models, or
								 * (x, m) of Gamma-Gamma */
	HIST_BGBB = 1,				/* (x, t_x, n): BG/BB, integer opportunities */
	HIST_SURVIVAL = 2			/* (t, still active 0/1): shifted-beta-geometric */
} HistKind;

typedef struct HistKey
{
	double		v[HIST_MAX_DIMS];	/* unused dimensions stay 0 */
} HistKey;

typedef struct HistEntry
{
	HistKey		key;
	double		weight;
} HistEntry;

typedef struct HistState
{
	int32		ndims;			/* 3: (x, t_x, T); 2: (x, m) */
	int32		kind;			/* HistKind */
	int32		unit_days;		/* 0 = not stated, 1 = days, 7 = weeks */
	double		penalizer;
	int64		rows;			/* customers in the histogram */
	int64		excluded;		/* gamma-gamma: repeat customers with m <= 0 */
	HTAB	   *htab;
	MemoryContext cxt;
} HistState;

/* what the SQL signature of the calling aggregate looks like */
typedef struct FitSignature
{
	bool		from_summary;	/* first argument is an rfm_summary */
	int			unit_arg;		/* text time unit, -1 when none */
	int			penalizer_arg;	/* -1 when none */
} FitSignature;

/* ndims data columns (or one rfm_summary), then an optional text unit and float8 penalizer */
extern const FitSignature *fit_signature(FunctionCallInfo fcinfo, int ndims);

/* the state, created on the first row with the call's unit and penalizer */
extern HistState *fit_state(FunctionCallInfo fcinfo, const FitSignature *sig, int ndims);

extern HistState *fit_hist_new(MemoryContext aggcontext, int ndims);
extern void fit_hist_add(HistState *s, const double *v, double weight);

/* the histogram as an array sorted by tuple (order-independent fits), palloc'd */
extern HistEntry *fit_hist_sorted(HistState *s, size_t *n);

/* (x, t_x, T) cells of a transaction-model histogram, palloc'd */
struct BtydCell;
extern struct BtydCell *fit_hist_history_cells(HistState *s, size_t *n);

extern void fit_check_penalizer(double penalizer);

/* CHECK_FOR_INTERRUPTS() for the optimiser */
extern void fit_interrupt_check(void);

#endif							/* CARTERA_FIT_HISTOGRAM_H */
