/*
 * fuzz_exact_sum — differential test of exact_sum.c: the numeric decoder
 * (numeric_decode_fixed reads stored numerics straight from their digits),
 * the int128 fixed-point accumulator, its spill to numeric, merging two sums
 * and the send/recv round trip, against an independent decimal sum
 * (numeric_stub.c's FzNum).
 *
 * The fuzz bytes are a program: each step builds a valid stored numeric
 * (any sign, up to 10 base-10000 digits, weight -12..12, display scale 0..40,
 * short or long header, 4-byte or packed 1-byte varlena header) or an int64,
 * adds it to one of two sums, merges them, or round-trips one through
 * exact_sum_send/recv.  At the end each sum must equal the oracle's exactly,
 * with the oracle's display scale (the largest of its addends').
 */
#include "fz.h"

#include "cartera.h"
#include "libpq/pqformat.h"
#include "utils/memutils.h"

typedef struct Sum
{
	ExactSum	s;
	FzNum		oracle;
	bool		touched;
} Sum;

static FzNum tmp;

/* a valid stored numeric from the input, and its value in *n */
static Numeric
make_numeric(FzInput *in, FzNum *n)
{
	uint8		flags = fz_u8(in);
	int			ndig = fz_u8(in) % 11;
	int			dscale;
	int			wb = fz_u8(in);
	Numeric		num;
	uint8		ds = fz_u8(in);

	fz_num_zero(n);
	n->neg = flags & 1;
	n->weight = (int) (wb % 25) - 12;
	/* display scale: mostly money-like, sometimes long */
	dscale = (ds & 0x80) ? ds % 41 : ds % 5;
	n->dscale = dscale;
	n->ndigits = ndig;
	for (int i = 0; i < ndig; i++)
	{
		uint16		d = fz_u16(in);

		/* favour the extremes: 0, 9999 and powers of ten */
		switch (d >> 14)
		{
			case 0:
				d = (d & 1) ? 9999 : 0;
				break;
			case 1:
				d = (uint16) (1 + (d % 4 == 0 ? 0 : d % 4 == 1 ? 9 : d % 4 == 2 ? 99 : 999));
				break;
			default:
				d = d % 10000;
		}
		n->digits[i] = (int16) d;
	}
	/* digits past the display scale are zero in a stored numeric */
	for (int i = 0; i < ndig; i++)
	{
		int			pos = n->weight - i;	/* base-10000 position */
		int			last_dec = -4 * pos;

		if (pos >= 0)
			continue;
		/* this digit holds decimals last_dec-3 .. last_dec (1-based after the point) */
		if (last_dec - 3 > dscale)
			n->digits[i] = 0;
		else if (last_dec > dscale)
		{
			int			keep = dscale - (last_dec - 4);	/* 1..3 leading decimals kept */
			static const int div[4] = {10000, 1000, 100, 10};

			n->digits[i] = (int16) (n->digits[i] / div[keep] * div[keep]);
		}
	}
	fz_num_strip(n);
	num = fz_num_encode(n, (flags & 2) != 0);
	if (flags & 4)
		num = fz_num_pack(num);
	return num;
}

static void
check_sum(const Sum *sum, const char *what)
{
	FzNum		got;
	Numeric		r = exact_sum_get(&sum->s);

	fz_num_decode(r, &got);
	if (fz_num_cmp(&got, &sum->oracle) != 0 || (sum->touched && got.dscale != sum->oracle.dscale))
		fz_fail("%s: exact_sum gives %s, the oracle %s", what,
				fz_num_to_string(&got), fz_num_to_string(&sum->oracle));
	if (exact_sum_is_zero(&sum->s) && sum->oracle.ndigits != 0)
		fz_fail("%s: exact_sum_is_zero on %s", what, fz_num_to_string(&sum->oracle));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sigjmp_buf	jb;
	FzInput		in = {data, size};
	static Sum	sums[2];
	volatile int steps = 0;

	fz_begin();
	for (int i = 0; i < 2; i++)
	{
		exact_sum_init(&sums[i].s);
		fz_num_zero(&sums[i].oracle);
		sums[i].touched = false;
	}
	fz_catch = &jb;
	if (sigsetjmp(jb, 0) != 0)
	{
		/* the oracle is limited to FZ_MAXDIG digits; nothing else may fail */
		if (!fz_error_is("22003"))
			fz_fail("exact_sum raised %s: %s", fz_error.sqlstate, fz_error.message);
		fz_end();
		return 0;
	}
	while (in.n > 0 && steps++ < 64)
	{
		uint8		op = fz_u8(&in);
		Sum		   *a = &sums[op & 1];
		Sum		   *b = &sums[!(op & 1)];

		switch ((op >> 1) % 6)
		{
			case 0:
			case 1:
			case 2:
				{
					Numeric		num = make_numeric(&in, &tmp);

					if (exact_sum_numeric_is_special(num))
						fz_fail("a finite numeric reads as special");
					if (exact_sum_is_negative_numeric(num) != (tmp.neg && tmp.ndigits > 0))
						fz_fail("sign of %s read wrong", fz_num_to_string(&tmp));
					exact_sum_add_numeric(&a->s, num, CurrentMemoryContext);
					fz_num_add(&a->oracle, &tmp, &a->oracle);
					a->touched = true;
					break;
				}
			case 3:
				{
					int64		v = (int64) fz_u64(&in);

					exact_sum_add_int64(&a->s, v, CurrentMemoryContext);
					fz_num_from_int64(v, &tmp);
					fz_num_add(&a->oracle, &tmp, &a->oracle);
					a->touched = true;
					break;
				}
			case 4:
				exact_sum_add_sum(&a->s, &b->s, CurrentMemoryContext);
				fz_num_add(&a->oracle, &b->oracle, &a->oracle);
				a->touched |= b->touched;
				break;
			case 5:
				{
					StringInfoData buf;
					ExactSum	copy;

					initStringInfo(&buf);
					exact_sum_send(&buf, &a->s);
					exact_sum_recv(&buf, &copy, CurrentMemoryContext);
					if (buf.cursor != buf.len)
						fz_fail("exact_sum_recv left %d bytes", buf.len - buf.cursor);
					a->s = copy;
					break;
				}
		}
		/* a special value is never added (the aggregates refuse it), only recognised */
		if ((op & 0xF0) == 0xF0)
		{
			FzNum		sp;
			Numeric		num;

			fz_num_zero(&sp);
			sp.kind = FZ_NAN + op % 3;
			num = fz_num_encode(&sp, true);
			if (op & 8)
				num = fz_num_pack(num);
			if (!exact_sum_numeric_is_special(num))
				fz_fail("special numeric %s not recognised", fz_num_to_string(&sp));
		}
	}
	check_sum(&sums[0], "sum 0");
	check_sum(&sums[1], "sum 1");
	fz_end();
	return 0;
}
