/*
 * cartera.c — module magic, _PG_init, and the small helpers every concept's
 * file shares.  Everything else lives in a file named after its concept.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "cartera.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "catalog/pg_type.h"
#include "utils/array.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	/* first: cartera_define_gucs() reserves the cartera. prefix, which drops
	 * the values postgresql.conf gave settings not yet defined */
	cartera_deferred_worker_init();
	cartera_define_gucs();
}

/*
 * A row of the calling function's declared composite result type.  The
 * blessed row type is looked up once per query and kept in fn_extra (a
 * final function runs once per group: get_call_result_type() each time was
 * a visible share of rfm() GROUP BY), so a caller must not use fn_extra for
 * anything else.
 */
static Datum
make_composite(FunctionCallInfo fcinfo, Datum *values, bool *nulls, int natts, bool prefix_ok)
{
	TupleDesc	tupdesc = (TupleDesc) fcinfo->flinfo->fn_extra;

	if (tupdesc == NULL)
	{
		MemoryContext old;

		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		if (tupdesc->natts != natts && !(prefix_ok && tupdesc->natts < natts))
			elog(ERROR, "result type has %d attributes, expected %d", tupdesc->natts, natts);
		old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		tupdesc = BlessTupleDesc(CreateTupleDescCopy(tupdesc));
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = tupdesc;
	}
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

Datum
cartera_make_composite(FunctionCallInfo fcinfo, Datum *values, bool *nulls, int natts)
{
	return make_composite(fcinfo, values, nulls, natts, false);
}

/*
 * The same for a type that gained attributes at the end in a later version:
 * until ALTER EXTENSION UPDATE the library meets the older, shorter type
 * and fills only its attributes.
 */
Datum
cartera_make_composite_prefix(FunctionCallInfo fcinfo, Datum *values, bool *nulls, int natts)
{
	return make_composite(fcinfo, values, nulls, natts, true);
}

void
cartera_fit_uncertainty(Datum *values, bool *nulls, int first, int nparams,
						const double *se, double loglik, int64 customers)
{
	for (int i = 0; i < nparams; i++)
	{
		nulls[first + i] = !isfinite(se[i]);
		values[first + i] = Float8GetDatum(isfinite(se[i]) ? se[i] : 0.0);
	}
	/* AIC = 2k - 2 LL, BIC = k ln(customers) - 2 LL */
	nulls[first + nparams] = nulls[first + nparams + 1] = !isfinite(loglik) || customers <= 0;
	values[first + nparams] = Float8GetDatum(2.0 * nparams - 2.0 * loglik);
	values[first + nparams + 1] = Float8GetDatum(nparams * log((double) customers) - 2.0 * loglik);
}

/*
 * A plan kept for the session (SPI_keepplan); SPI must be connected.  The
 * plan cache revalidates it when what it reads changes.
 */
SPIPlanPtr
cartera_keep_plan(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "cartera: SPI_prepare failed (%s): %s",
			 SPI_result_code_string(SPI_result), sql);
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "cartera: SPI_keepplan failed");
	return plan;
}

/*
 * The covariance of ln(params) as a float8[n*n] by rows (the fits'
 * log_covariance column); *isnull when it is not finite.
 */
Datum
cartera_log_covariance_datum(const double cov[][4], int n, bool *isnull)
{
	Datum		elems[16];

	*isnull = false;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
		{
			if (!isfinite(cov[i][j]))
			{
				*isnull = true;
				return (Datum) 0;
			}
			elems[n * i + j] = Float8GetDatum(cov[i][j]);
		}
	return PointerGetDatum(construct_array(elems, n * n, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
