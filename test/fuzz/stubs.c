/*
 * stubs.c — backend functions the extension's files reference but the fuzz
 * targets never reach.  Weak, so a real definition (shim.c, a harness) wins;
 * reaching one is a finding.
 */
extern void fz_fail(const char *fmt,...) __attribute__((noreturn));

#define UNREACHED(name) \
	void name(void) __attribute__((weak)); \
	void name(void) { fz_fail("%s() is not emulated by the fuzz shim", #name); }


/* the extension's own, from src/cartera.c (not linked into any target) */
UNREACHED(cartera_make_composite)
UNREACHED(cartera_make_composite_prefix)
UNREACHED(cartera_fit_uncertainty)
UNREACHED(cartera_log_covariance_datum)

UNREACHED(numeric_scale)
UNREACHED(GetAttributeByName)
UNREACHED(numeric_round)
UNREACHED(numeric_div_opt_error)
UNREACHED(numeric_sub_opt_error)
UNREACHED(numeric_mul_opt_error)
UNREACHED(numeric_float8)
UNREACHED(float8_numeric)
UNREACHED(float8out_internal)
UNREACHED(get_fn_expr_argtype)
UNREACHED(interval_part)
UNREACHED(heap_form_tuple)
UNREACHED(get_call_result_type)
UNREACHED(HeapTupleHeaderGetDatum)
UNREACHED(GetCurrentTransactionStartTimestamp)
UNREACHED(BlessTupleDesc)
UNREACHED(type_is_rowtype)
UNREACHED(text_to_cstring)
UNREACHED(deconstruct_array)
UNREACHED(timestamptz_date)
UNREACHED(date2timestamptz_opt_overflow)
UNREACHED(DatumGetHeapTupleHeader)
UNREACHED(pg_detoast_datum_copy)
UNREACHED(cartera_numeric_float8)
UNREACHED(CreateTupleDescCopy)
UNREACHED(numeric_out_sci)
UNREACHED(numeric_is_inf)
UNREACHED(numeric_float8_no_overflow)
UNREACHED(pg_next_dst_boundary)
