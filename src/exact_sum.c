/*
 * exact_sum.c — exact sums of money amounts without numeric arithmetic per row.
 * Amounts are decoded straight from numeric's on-disk digits into a scaled integer.
 *
 * numeric_add() costs a palloc and a digit-array walk per call; an aggregate
 * over millions of purchases cannot afford that.  Money has few decimals, so
 * each amount is turned into an integer at a common decimal scale and added
 * to an int128.  Anything that does not fit exactly (more than
 * EXACT_MAX_SCALE decimals, or an int128 overflow) is added to a numeric
 * "spill" instead, so the result is always exact and never silently rounded.
 */
#include "postgres.h"
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

#include "cartera.h"
#include "common/int.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/numeric.h"

/* largest number of decimals kept on the fixed-point path */
#define EXACT_MAX_SCALE 18

/*
 * numeric's on-disk header (src/backend/utils/adt/numeric.c, stable since
 * 9.1 because pg_upgrade keeps numeric data as is).  We only read it.
 */
#define NUMERIC_SIGN_MASK	0xC000
#define NUMERIC_NEG			0x4000
#define NUMERIC_SHORT		0x8000
#define NUMERIC_SPECIAL		0xC000
#define NUMERIC_SHORT_SIGN_MASK			0x2000
#define NUMERIC_SHORT_DSCALE_MASK		0x1F80
#define NUMERIC_SHORT_DSCALE_SHIFT		7
#define NUMERIC_SHORT_WEIGHT_SIGN_MASK	0x0040
#define NUMERIC_SHORT_WEIGHT_MASK		0x003F
#define NUMERIC_DSCALE_MASK				0x3FFF
#define NBASE_DIGITS 4			/* decimal digits per numeric digit */
typedef int16 NumericDigitRaw;	/* one base-10000 digit as stored */

static inline bool
pow10_acc(int n, cartera_acc *out)
{
	cartera_acc r = 1;

	if (n < 0)
		return false;
	while (n-- > 0)
	{
		if (__builtin_mul_overflow(r, (cartera_acc) 10, &r))
			return false;
	}
	*out = r;
	return true;
}

/* multiply by 10^n, false on overflow */
static inline bool
scale_up(cartera_acc v, int n, cartera_acc *out)
{
	cartera_acc p;

	if (v == 0)
	{
		*out = 0;
		return true;
	}
	if (!pow10_acc(n, &p))
		return false;
	return !__builtin_mul_overflow(v, p, out);
}

/*
 * The weight (in base-10000 digits) of a stored numeric that is not special,
 * from its header, and where its digits start.
 */
static int
raw_numeric_weight(const char *data, uint16 header, Size *hdrsize)
{
	int			weight;

	if ((header & NUMERIC_SIGN_MASK) == NUMERIC_SHORT)
	{
		weight = (header & NUMERIC_SHORT_WEIGHT_MASK);
		if (header & NUMERIC_SHORT_WEIGHT_SIGN_MASK)
			weight |= ~NUMERIC_SHORT_WEIGHT_MASK;
		*hdrsize = sizeof(uint16);
	}
	else
	{
		int16		w;

		memcpy(&w, data + sizeof(uint16), sizeof(int16));
		weight = w;
		*hdrsize = sizeof(uint16) + sizeof(int16);
	}
	return weight;
}

/*
 * Decode a (possibly short-header) numeric into value = *ival / 10^*scale.
 * Returns false when it cannot be represented (special value, too many
 * decimals, or too large); the caller then takes the numeric path.
 */
bool
exact_sum_decode_numeric(Numeric num, cartera_acc *ival, int *scale)
{
	const char *data = VARDATA_ANY(num);
	Size		len = VARSIZE_ANY_EXHDR(num);
	uint16		header;
	int			weight;
	int			dscale;
	bool		negative;
	Size		hdrsize;
	int			ndigits;
	int			frac;			/* decimals implied by the digit positions */
	cartera_acc v = 0;

	memcpy(&header, data, sizeof(uint16));
	if ((header & NUMERIC_SIGN_MASK) == NUMERIC_SPECIAL)
		return false;
	if ((header & NUMERIC_SIGN_MASK) == NUMERIC_SHORT)
	{
		negative = (header & NUMERIC_SHORT_SIGN_MASK) != 0;
		dscale = (header & NUMERIC_SHORT_DSCALE_MASK) >> NUMERIC_SHORT_DSCALE_SHIFT;
	}
	else
	{
		negative = (header & NUMERIC_SIGN_MASK) == NUMERIC_NEG;
		dscale = header & NUMERIC_DSCALE_MASK;
	}
	weight = raw_numeric_weight(data, header, &hdrsize);
	if (dscale > EXACT_MAX_SCALE)
		return false;
	ndigits = (int) ((len - hdrsize) / sizeof(NumericDigitRaw));
	for (int i = 0; i < ndigits; i++)
	{
		NumericDigitRaw d;

		memcpy(&d, data + hdrsize + i * sizeof(NumericDigitRaw), sizeof(NumericDigitRaw));
		if (__builtin_mul_overflow(v, (cartera_acc) 10000, &v) ||
			__builtin_add_overflow(v, (cartera_acc) d, &v))
			return false;
	}
	/* v now has frac decimals; bring it to exactly dscale decimals */
	frac = (ndigits - weight - 1) * NBASE_DIGITS;
	if (ndigits == 0)
		frac = dscale;
	if (frac < dscale)
	{
		if (!scale_up(v, dscale - frac, &v))
			return false;
	}
	else if (frac > dscale)
	{
		cartera_acc p;

		/* digits past dscale are always zero in a stored numeric */
		if (!pow10_acc(frac - dscale, &p) || v % p != 0)
			return false;
		v /= p;
	}
	*ival = negative ? -v : v;
	*scale = dscale;
	return true;
}

void
exact_sum_init(ExactSum *s)
{
	s->acc = 0;
	s->scale = 0;
	s->spill = NULL;
}

static void
spill_add(ExactSum *s, Numeric num, MemoryContext mcxt)
{
	Numeric		sum;
	MemoryContext old;

	/* numeric arithmetic needs the plain 4-byte header: expand short ones */
	num = (Numeric) PG_DETOAST_DATUM(NumericGetDatum(num));
	if (s->spill == NULL)
		sum = num;
	else
		sum = numeric_add_opt_error(s->spill, num, NULL);
	old = MemoryContextSwitchTo(mcxt);
	sum = DatumGetNumeric(datumCopy(NumericGetDatum(sum), false, -1));
	MemoryContextSwitchTo(old);
	if (s->spill != NULL)
		pfree(s->spill);
	s->spill = sum;
}

/* render acc / 10^scale as numeric (display scale = scale) */
Numeric
exact_sum_acc_to_numeric(cartera_acc acc, int scale)
{
	char		buf[64];
	char	   *p = buf + sizeof(buf) - 1;
	bool		negative = acc < 0;
	int			digits = 0;

	/* the common case: no text round trip */
	/* (int64_div_fast_to_numeric multiplies by up to 1000 in int64) */
	if (acc > -INT64CONST(1000000000000000) && acc < INT64CONST(1000000000000000))
		return int64_div_fast_to_numeric((int64) acc, scale);
	*p = '\0';
	/* work with negative values so the minimum int128 needs no special case */
	if (!negative)
		acc = -acc;
	do
	{
		int			d = (int) -(acc % 10);

		acc /= 10;
		*--p = (char) ('0' + d);
		if (++digits == scale)
			*--p = '.';
	} while (acc != 0 || digits < scale);
	if (*p == '.')
		*--p = '0';
	if (negative)
		*--p = '-';
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(p),
											   ObjectIdGetDatum(InvalidOid),
											   Int32GetDatum(-1)));
}

/* bring s to a larger scale; on overflow move the fixed part to the spill */
static void
rescale(ExactSum *s, int newscale, MemoryContext mcxt)
{
	cartera_acc v;

	if (newscale <= s->scale)
		return;
	if (!scale_up(s->acc, newscale - s->scale, &v))
	{
		spill_add(s, exact_sum_acc_to_numeric(s->acc, s->scale), mcxt);
		v = 0;
	}
	s->acc = v;
	s->scale = (int16) newscale;
}

/* add v (at scale vscale <= s->scale) */
static bool
add_fixed(ExactSum *s, cartera_acc v, int vscale)
{
	cartera_acc r;

	if (vscale < s->scale && !scale_up(v, s->scale - vscale, &v))
		return false;
	if (__builtin_add_overflow(s->acc, v, &r))
		return false;
	s->acc = r;
	return true;
}

/* add v / 10^vscale (0 <= vscale <= EXACT_MAX_SCALE), as decoded above */
void
exact_sum_add_fixed(ExactSum *s, cartera_acc v, int vscale, MemoryContext mcxt)
{
	rescale(s, vscale, mcxt);
	if (!add_fixed(s, v, vscale))
		spill_add(s, exact_sum_acc_to_numeric(v, vscale), mcxt);
}

void
exact_sum_add_numeric(ExactSum *s, Numeric num, MemoryContext mcxt)
{
	cartera_acc v;
	int			vscale;

	if (exact_sum_decode_numeric(num, &v, &vscale))
	{
		rescale(s, vscale, mcxt);
		if (add_fixed(s, v, vscale))
			return;
	}
	spill_add(s, num, mcxt);
}

void
exact_sum_add_int64(ExactSum *s, int64 v, MemoryContext mcxt)
{
	if (add_fixed(s, (cartera_acc) v, 0))
		return;
	spill_add(s, int64_to_numeric(v), mcxt);
}

void
exact_sum_add_sum(ExactSum *s, const ExactSum *other, MemoryContext mcxt)
{
	rescale(s, other->scale, mcxt);
	if (!add_fixed(s, other->acc, other->scale))
		spill_add(s, exact_sum_acc_to_numeric(other->acc, other->scale), mcxt);
	if (other->spill != NULL)
		spill_add(s, other->spill, mcxt);
}

Numeric
exact_sum_get(const ExactSum *s)
{
	Numeric		fixed = exact_sum_acc_to_numeric(s->acc, s->scale);

	if (s->spill == NULL)
		return fixed;
	return numeric_add_opt_error(fixed, s->spill, NULL);
}

bool
exact_sum_is_zero(const ExactSum *s)
{
	return s->acc == 0 && s->spill == NULL;
}

/* NaN or +-Infinity, read from the header of a possibly short varlena */
bool
exact_sum_numeric_is_special(Numeric num)
{
	uint16		header;

	memcpy(&header, VARDATA_ANY(num), sizeof(uint16));
	return (header & NUMERIC_SIGN_MASK) == NUMERIC_SPECIAL;
}

/*
 * |num| < 10^digits, on the header and the first base-10000 digit alone (no
 * decoding, no allocation).  A stored numeric has no leading zero digit, so
 * with weight w and first digit d, |num| lies in [d, d + 1) * 10000^w; and
 * 10^digits = 10^r * 10000^q with q = digits / 4, r = digits % 4.  Special
 * values (NaN, infinities) answer true: the callers refuse them on their own.
 */
bool
exact_sum_numeric_below_pow10(Numeric num, int digits)
{
	const char *data = VARDATA_ANY(num);
	Size		len = VARSIZE_ANY_EXHDR(num);
	uint16		header;
	int			weight;
	Size		hdrsize;
	NumericDigitRaw first;
	static const int pow10_small[4] = {1, 10, 100, 1000};

	Assert(digits >= 0);
	memcpy(&header, data, sizeof(uint16));
	if ((header & NUMERIC_SIGN_MASK) == NUMERIC_SPECIAL)
		return true;
	weight = raw_numeric_weight(data, header, &hdrsize);
	if (len < hdrsize + sizeof(NumericDigitRaw))
		return true;			/* no digits: zero */
	if (weight != digits / NBASE_DIGITS)
		return weight < digits / NBASE_DIGITS;
	memcpy(&first, data + hdrsize, sizeof(NumericDigitRaw));
	return first < pow10_small[digits % NBASE_DIGITS];
}

/* sign test on the header alone: no decoding, no allocation */
bool
exact_sum_is_negative_numeric(Numeric num)
{
	const char *data = VARDATA_ANY(num);
	uint16		header;

	memcpy(&header, data, sizeof(uint16));
	switch (header & NUMERIC_SIGN_MASK)
	{
		case NUMERIC_SHORT:
			return (header & NUMERIC_SHORT_SIGN_MASK) != 0;
		case NUMERIC_NEG:
			return true;
		default:
			return false;
	}
}

void
exact_sum_send(StringInfo buf, const ExactSum *s)
{
	uint64		lo = (uint64) s->acc;
	int64		hi = (int64) (s->acc >> 32 >> 32);

	pq_sendint16(buf, (uint16) s->scale);
	pq_sendint64(buf, hi);
	pq_sendint64(buf, (int64) lo);
	if (s->spill == NULL)
		pq_sendbyte(buf, 0);
	else
	{
		pq_sendbyte(buf, 1);
		pq_sendstring(buf, DatumGetCString(DirectFunctionCall1(numeric_out,
															   NumericGetDatum(s->spill))));
	}
}

void
exact_sum_recv(StringInfo buf, ExactSum *s, MemoryContext mcxt)
{
	int64		hi;
	uint64		lo;

	s->scale = (int16) pq_getmsgint(buf, 2);
	/* acc_to_numeric() renders at most EXACT_MAX_SCALE decimals */
	if (s->scale < 0 || s->scale > EXACT_MAX_SCALE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("corrupt cartera aggregate state"),
				 errdetail("Sum with %d decimals.", s->scale)));
	hi = pq_getmsgint64(buf);
	lo = (uint64) pq_getmsgint64(buf);
#ifdef HAVE_INT128
	s->acc = (cartera_acc) (((uint128) (uint64) hi << 64) | (uint128) lo);
#else
	(void) hi;
	s->acc = (cartera_acc) lo;
#endif
	s->spill = NULL;
	if (pq_getmsgbyte(buf))
	{
		const char *str = pq_getmsgstring(buf);
		MemoryContext old = MemoryContextSwitchTo(mcxt);

		s->spill = DatumGetNumeric(DirectFunctionCall3(numeric_in,
													   CStringGetDatum(str),
													   ObjectIdGetDatum(InvalidOid),
													   Int32GetDatum(-1)));
		MemoryContextSwitchTo(old);
		/* the aggregates never add NaN or infinity */
		if (exact_sum_numeric_is_special(s->spill))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("corrupt cartera aggregate state"),
					 errdetail("Sum of \"%s\".", str)));
	}
}
