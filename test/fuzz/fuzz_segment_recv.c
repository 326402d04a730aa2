/*
 * fuzz_segment_recv — the segment type's binary input (cartera_segment_recv):
 * three bytes R, F, M in 1..9.  Checks accept/reject against that rule, the
 * error codes (08P01 short message, 22003 score out of range) and that
 * segment_send gives the three bytes back.
 */
#include "fz.h"

#include "libpq/pqformat.h"

extern Datum cartera_segment_recv(PG_FUNCTION_ARGS);
extern Datum cartera_segment_send(PG_FUNCTION_ARGS);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sigjmp_buf	jb;
	StringInfoData buf;
	bool		valid = size >= 3;

	for (size_t i = 0; i < 3 && i < size; i++)
		valid = valid && data[i] >= 1 && data[i] <= 9;
	fz_begin();
	/* what the backend hands a recv function: data[len] is a zero byte */
	buf.data = palloc(size + 1);
	memcpy(buf.data, data, size);
	buf.data[size] = '\0';
	buf.len = buf.maxlen = (int) size;
	buf.cursor = 0;
	fz_catch = &jb;
	if (sigsetjmp(jb, 0) == 0)
	{
		bool		isnull;
		Datum		d = fz_call1(cartera_segment_recv, PointerGetDatum(&buf), &isnull);
		int			v = DatumGetInt16(d);
		bytea	   *sent;

		if (!valid)
			fz_fail("segment_recv accepted invalid bytes (value %d)", v);
		if (v != data[0] * 100 + data[1] * 10 + data[2] || buf.cursor != 3)
			fz_fail("segment_recv: value %d, cursor %d", v, buf.cursor);
		sent = DatumGetByteaP(fz_call1(cartera_segment_send, d, &isnull));
		if (VARSIZE(sent) - VARHDRSZ != 3 || memcmp(VARDATA(sent), data, 3) != 0)
			fz_fail("segment_send does not give the received bytes back");
	}
	else
	{
		if (valid)
			fz_fail("segment_recv rejected valid bytes: %s", fz_error.message);
		if (!fz_error_is(size < 3 ? "08P01" : "22003"))
			fz_fail("segment_recv raised %s: %s", fz_error.sqlstate, fz_error.message);
	}
	fz_end();
	return 0;
}
