/*
 * fuzz_exact_sum_recv — exact_sum_recv() on arbitrary bytes: the serialized
 * sum inside every rfm/lifecycle/clv partial aggregate state.  It must raise
 * a clean error or give a sum that exact_sum_get() can render and that
 * survives send -> recv unchanged.
 */
#include "fz.h"

#include "cartera.h"
#include "libpq/pqformat.h"
#include "utils/memutils.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sigjmp_buf	jb;
	StringInfoData buf;

	fz_begin();
	buf.data = palloc(size + 1);
	memcpy(buf.data, data, size);
	buf.data[size] = '\0';
	buf.len = buf.maxlen = (int) size;
	buf.cursor = 0;
	fz_catch = &jb;
	if (sigsetjmp(jb, 0) == 0)
	{
		ExactSum	s,
					again;
		StringInfoData out;
		FzNum		v1,
					v2;

		exact_sum_recv(&buf, &s, CurrentMemoryContext);
		fz_num_decode(exact_sum_get(&s), &v1);
		(void) exact_sum_is_zero(&s);
		initStringInfo(&out);
		exact_sum_send(&out, &s);
		exact_sum_recv(&out, &again, CurrentMemoryContext);
		fz_num_decode(exact_sum_get(&again), &v2);
		if (fz_num_cmp(&v1, &v2) != 0)
			fz_fail("exact_sum send/recv changed %s into %s",
					fz_num_to_string(&v1), fz_num_to_string(&v2));
	}
	else if (!fz_error_is("08P01 22P03 22P02 22003"))
		fz_fail("exact_sum_recv raised %s: %s", fz_error.sqlstate, fz_error.message);
	fz_end();
	return 0;
}
