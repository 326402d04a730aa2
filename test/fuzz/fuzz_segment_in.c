/*
 * fuzz_segment_in — the segment type's text input (cartera_segment_in),
 * differentially: an independent recognizer of the documented spellings
 * ('543', '5-4-3', 'R5F4M3', any case, surrounding spaces) must agree on
 * accept/reject and value; accepted values must survive segment_out -> in;
 * rejections must be 22P02 with the input quoted and a DETAIL.
 */
#include "fz.h"

#include <ctype.h>

extern Datum cartera_segment_in(PG_FUNCTION_ARGS);
extern Datum cartera_segment_out(PG_FUNCTION_ARGS);

/* the oracle: -1 when the spelling is not one of the accepted ones */
static int
oracle(const char *s)
{
	const char *b = s;
	const char *e = s + strlen(s);
	char		t[8];
	size_t		n;

	while (*b && isspace((unsigned char) *b))
		b++;
	while (e > b && isspace((unsigned char) e[-1]))
		e--;
	n = e - b;
	if (n != 3 && n != 5 && n != 6)
		return -1;
	for (size_t i = 0; i < n; i++)
		t[i] = (char) toupper((unsigned char) b[i]);
#define SC(c) ((c) >= '1' && (c) <= '9')
	if (n == 3 && SC(t[0]) && SC(t[1]) && SC(t[2]))
		return (t[0] - '0') * 100 + (t[1] - '0') * 10 + (t[2] - '0');
	if (n == 5 && SC(t[0]) && t[1] == '-' && SC(t[2]) && t[3] == '-' && SC(t[4]))
		return (t[0] - '0') * 100 + (t[2] - '0') * 10 + (t[4] - '0');
	if (n == 6 && t[0] == 'R' && SC(t[1]) && t[2] == 'F' && SC(t[3]) && t[4] == 'M' && SC(t[5]))
		return (t[1] - '0') * 100 + (t[3] - '0') * 10 + (t[5] - '0');
	return -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sigjmp_buf	jb;
	char	   *str;
	int			expect;
	volatile int got = -1;

	fz_begin();
	/* a cstring: up to the first zero byte */
	str = palloc(size + 1);
	memcpy(str, data, size);
	str[size] = '\0';
	expect = oracle(str);
	fz_catch = &jb;
	if (sigsetjmp(jb, 0) == 0)
	{
		bool		isnull;
		Datum		d = fz_call1(cartera_segment_in, CStringGetDatum(str), &isnull);
		char	   *out;
		int			again;

		got = DatumGetInt16(d);
		out = DatumGetCString(fz_call1(cartera_segment_out, d, &isnull));
		again = DatumGetInt16(fz_call1(cartera_segment_in, CStringGetDatum(out), &isnull));
		if (again != got || strlen(out) != 3)
			fz_fail("segment_out(%d) = \"%s\" reads back as %d", got, out, again);
	}
	else
	{
		if (!fz_error_is("22P02"))
			fz_fail("segment_in(\"%s\") raised %s: %s", str, fz_error.sqlstate, fz_error.message);
		if (strstr(fz_error.message, str) == NULL || fz_error.detail[0] == '\0')
			fz_fail("segment_in(\"%s\"): message without the input or without a detail: %s",
					str, fz_error.message);
	}
	if (got != expect)
		fz_fail("segment_in(\"%s\") gave %d, the documented grammar says %d", str, got, expect);
	fz_end();
	return 0;
}
