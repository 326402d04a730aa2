/*
 * numeric_stub.c — a decimal number of our own (sign, base-10000 digits,
 * weight, display scale) with the stored numeric layout PostgreSQL documents
 * for pg_upgrade compatibility (2-byte short header or 4-byte long header,
 * then int16 digits), and the backend functions exact_sum.c calls on
 * numerics: numeric_in, numeric_out, numeric_add_opt_error, int64_to_numeric.
 *
 * It is also the fuzzers' oracle: fuzz_exact_sum builds numerics with
 * fz_num_encode and sums them here, independently of exact_sum's int128 path.
 * Limit: FZ_MAXDIG base-10000 digits (PostgreSQL allows far more); a longer
 * result raises 22003 "value overflows numeric format".
 */
#include "fz.h"

#include <ctype.h>
#include <stdio.h>

#include "utils/builtins.h"

#define NBASE 10000
/* stored header bits (the layout exact_sum.c reads) */
#define ST_SIGN_MASK	0xC000
#define ST_POS			0x0000
#define ST_NEG			0x4000
#define ST_SHORT		0x8000
#define ST_SPECIAL		0xC000
#define ST_NAN			0xC000
#define ST_PINF			0xD000
#define ST_NINF			0xF000
#define ST_SHORT_SIGN	0x2000
#define ST_SHORT_DSCALE_SHIFT 7
#define ST_SHORT_DSCALE_MAX 0x3F
#define ST_SHORT_WSIGN	0x0040
#define ST_SHORT_WMASK	0x003F
#define ST_DSCALE_MASK	0x3FFF

static void
overflow(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("value overflows numeric format")));
}

void
fz_num_zero(FzNum *n)
{
	n->kind = FZ_FINITE;
	n->neg = false;
	n->weight = 0;
	n->ndigits = 0;
	n->dscale = 0;
}

/* drop leading and trailing zero digits; zero is positive with weight 0 */
void
fz_num_strip(FzNum *n)
{
	int			first = 0;

	if (n->kind != FZ_FINITE)
		return;
	while (first < n->ndigits && n->digits[first] == 0)
		first++;
	if (first > 0)
	{
		memmove(n->digits, n->digits + first, (n->ndigits - first) * sizeof(int16));
		n->ndigits -= first;
		n->weight -= first;
	}
	while (n->ndigits > 0 && n->digits[n->ndigits - 1] == 0)
		n->ndigits--;
	if (n->ndigits == 0)
	{
		n->neg = false;
		n->weight = 0;
	}
}

/* digit at base-10000 position pos (weight), 0 outside */
static int
digit_at(const FzNum *n, int pos)
{
	int			i = n->weight - pos;

	return (i >= 0 && i < n->ndigits) ? n->digits[i] : 0;
}

static int
cmp_abs(const FzNum *a, const FzNum *b)
{
	int			hi,
				lo;

	if (a->ndigits == 0 || b->ndigits == 0)
		return (a->ndigits != 0) - (b->ndigits != 0);
	hi = Max(a->weight, b->weight);
	lo = Min(a->weight - a->ndigits + 1, b->weight - b->ndigits + 1);
	for (int p = hi; p >= lo; p--)
	{
		int			x = digit_at(a, p),
					y = digit_at(b, p);

		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}

int
fz_num_cmp(const FzNum *a, const FzNum *b)
{
	int			c;

	if (a->kind != FZ_FINITE || b->kind != FZ_FINITE)
		return a->kind == b->kind ? 0 : (a->kind < b->kind ? -1 : 1);	/* only equality matters */
	if (a->ndigits != 0 && b->ndigits != 0 && a->neg != b->neg)
		return a->neg ? -1 : 1;
	if (a->ndigits == 0 || b->ndigits == 0)
	{
		const FzNum *nz = a->ndigits ? a : b;

		if (nz->ndigits == 0)
			return 0;
		return (nz == a) == !nz->neg ? 1 : -1;
	}
	c = cmp_abs(a, b);
	return a->neg ? -c : c;
}

void
fz_num_add(const FzNum *a, const FzNum *b, FzNum *r)
{
	int			hi,
				lo,
				n;
	int			c;
	const FzNum *big,
			   *small;
	bool		subtract;
	int			carry = 0;
	FzNum		t;

	if (a->kind != FZ_FINITE || b->kind != FZ_FINITE)
	{
		fz_num_zero(r);
		if (a->kind == FZ_NAN || b->kind == FZ_NAN ||
			(a->kind == FZ_PINF && b->kind == FZ_NINF) ||
			(a->kind == FZ_NINF && b->kind == FZ_PINF))
			r->kind = FZ_NAN;
		else
			r->kind = a->kind != FZ_FINITE ? a->kind : b->kind;
		return;
	}
	c = cmp_abs(a, b);
	big = c >= 0 ? a : b;
	small = c >= 0 ? b : a;
	subtract = a->neg != b->neg && a->ndigits != 0 && b->ndigits != 0;
	fz_num_zero(&t);
	t.dscale = Max(a->dscale, b->dscale);
	if (big->ndigits == 0)
	{
		*r = t;
		return;
	}
	hi = big->weight + 1;
	lo = big->weight - big->ndigits + 1;
	if (small->ndigits != 0)
	{
		hi = Max(hi, small->weight + 1);
		lo = Min(lo, small->weight - small->ndigits + 1);
	}
	n = hi - lo + 1;
	if (n > FZ_MAXDIG)
		overflow();
	t.weight = hi;
	t.ndigits = n;
	t.neg = big->neg;
	for (int p = lo; p <= hi; p++)
	{
		int			d = digit_at(big, p) + (subtract ? -digit_at(small, p) : digit_at(small, p)) + carry;

		carry = 0;
		if (d < 0)
		{
			d += NBASE;
			carry = -1;
		}
		else if (d >= NBASE)
		{
			d -= NBASE;
			carry = 1;
		}
		t.digits[hi - p] = (int16) d;
	}
	if (carry != 0)
		fz_fail("fz_num_add: carry out of the top digit");
	fz_num_strip(&t);
	*r = t;
}

void
fz_num_from_int64(int64 v, FzNum *n)
{
	uint64		m = v < 0 ? -(uint64) v : (uint64) v;
	int16		tmp[8];
	int			k = 0;

	fz_num_zero(n);
	while (m != 0)
	{
		tmp[k++] = (int16) (m % NBASE);
		m /= NBASE;
	}
	n->neg = v < 0;
	n->ndigits = k;
	n->weight = k - 1;
	for (int i = 0; i < k; i++)
		n->digits[i] = tmp[k - 1 - i];
	fz_num_strip(n);
}

Numeric
fz_num_encode(const FzNum *n, bool allow_short)
{
	Size		size;
	char	   *p;
	uint16		hdr;
	struct varlena *v;

	if (n->kind != FZ_FINITE)
	{
		size = VARHDRSZ + sizeof(uint16);
		v = palloc0(size);
		SET_VARSIZE(v, size);
		hdr = n->kind == FZ_NAN ? ST_NAN : n->kind == FZ_PINF ? ST_PINF : ST_NINF;
		memcpy(VARDATA(v), &hdr, sizeof(hdr));
		return (Numeric) v;
	}
	if (allow_short && n->dscale <= ST_SHORT_DSCALE_MAX && n->weight >= -64 && n->weight <= 63)
	{
		size = VARHDRSZ + sizeof(uint16) + n->ndigits * sizeof(int16);
		v = palloc0(size);
		SET_VARSIZE(v, size);
		hdr = ST_SHORT | (n->neg ? ST_SHORT_SIGN : 0) |
			(n->dscale << ST_SHORT_DSCALE_SHIFT) |
			(n->weight < 0 ? ST_SHORT_WSIGN : 0) | (n->weight & ST_SHORT_WMASK);
		p = VARDATA(v);
		memcpy(p, &hdr, sizeof(hdr));
		p += sizeof(hdr);
	}
	else
	{
		int16		w = (int16) n->weight;

		if (n->weight > INT16_MAX || n->weight < INT16_MIN || n->dscale > ST_DSCALE_MASK)
			overflow();
		size = VARHDRSZ + 2 * sizeof(uint16) + n->ndigits * sizeof(int16);
		v = palloc0(size);
		SET_VARSIZE(v, size);
		hdr = (n->neg ? ST_NEG : ST_POS) | n->dscale;
		p = VARDATA(v);
		memcpy(p, &hdr, sizeof(hdr));
		memcpy(p + sizeof(hdr), &w, sizeof(w));
		p += 2 * sizeof(hdr);
	}
	memcpy(p, n->digits, n->ndigits * sizeof(int16));
	return (Numeric) v;
}

Numeric
fz_num_pack(Numeric num)
{
	Size		len = VARSIZE(num) - VARHDRSZ;
	char	   *v;

	if (len + VARHDRSZ_SHORT > VARATT_SHORT_MAX)
		return num;
	v = palloc(len + VARHDRSZ_SHORT);
	SET_VARSIZE_SHORT(v, len + VARHDRSZ_SHORT);
	memcpy(v + VARHDRSZ_SHORT, VARDATA(num), len);
	return (Numeric) v;
}

void
fz_num_decode(Numeric num, FzNum *n)
{
	const char *data = VARDATA_ANY(num);
	Size		len = VARSIZE_ANY_EXHDR(num);
	uint16		hdr;
	Size		hdrsize;

	fz_num_zero(n);
	if (len < sizeof(uint16))
		fz_fail("numeric of %zu bytes", len);
	memcpy(&hdr, data, sizeof(hdr));
	switch (hdr & ST_SIGN_MASK)
	{
		case ST_SPECIAL:
			n->kind = hdr == ST_NAN ? FZ_NAN : hdr == ST_PINF ? FZ_PINF : hdr == ST_NINF ? FZ_NINF : -1;
			if ((int) n->kind < 0 || len != sizeof(uint16))
				fz_fail("bad special numeric header %04x", hdr);
			return;
		case ST_SHORT:
			n->neg = (hdr & ST_SHORT_SIGN) != 0;
			n->dscale = (hdr >> ST_SHORT_DSCALE_SHIFT) & ST_SHORT_DSCALE_MAX;
			n->weight = (hdr & ST_SHORT_WMASK) | ((hdr & ST_SHORT_WSIGN) ? ~ST_SHORT_WMASK : 0);
			hdrsize = sizeof(uint16);
			break;
		default:
			{
				int16		w;

				if (len < 2 * sizeof(uint16))
					fz_fail("long numeric of %zu bytes", len);
				n->neg = (hdr & ST_SIGN_MASK) == ST_NEG;
				n->dscale = hdr & ST_DSCALE_MASK;
				memcpy(&w, data + sizeof(uint16), sizeof(w));
				n->weight = w;
				hdrsize = 2 * sizeof(uint16);
			}
	}
	if ((len - hdrsize) % sizeof(int16) != 0 || (len - hdrsize) / sizeof(int16) > FZ_MAXDIG)
		fz_fail("numeric digits of %zu bytes", len - hdrsize);
	n->ndigits = (int) ((len - hdrsize) / sizeof(int16));
	memcpy(n->digits, data + hdrsize, n->ndigits * sizeof(int16));
	for (int i = 0; i < n->ndigits; i++)
		if (n->digits[i] < 0 || n->digits[i] >= NBASE)
			fz_fail("numeric digit %d out of range", n->digits[i]);
	if (n->ndigits == 0)
		n->weight = 0;
}

char *
fz_num_to_string(const FzNum *n)
{
	StringInfoData s;

	if (n->kind == FZ_NAN)
		return pstrdup("NaN");
	if (n->kind == FZ_PINF)
		return pstrdup("Infinity");
	if (n->kind == FZ_NINF)
		return pstrdup("-Infinity");
	initStringInfo(&s);
	if (n->neg && n->ndigits > 0)
		appendStringInfoChar(&s, '-');
	if (n->weight < 0 || n->ndigits == 0)
		appendStringInfoChar(&s, '0');
	else
	{
		appendStringInfo(&s, "%d", digit_at(n, n->weight));
		for (int p = n->weight - 1; p >= 0; p--)
			appendStringInfo(&s, "%04d", digit_at(n, p));
	}
	if (n->dscale > 0)
	{
		appendStringInfoChar(&s, '.');
		for (int i = 0; i < n->dscale; i++)
		{
			int			pos = -1 - i / 4;
			int			d = digit_at(n, pos);
			static const int div[4] = {1000, 100, 10, 1};

			appendStringInfoChar(&s, '0' + (d / div[i % 4]) % 10);
		}
	}
	return s.data;
}

/* ---- the backend functions ---- */

static void
bad_syntax(const char *str)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"", "numeric", str)));
}

Datum
numeric_in(PG_FUNCTION_ARGS)
{
	const char *str = PG_GETARG_CSTRING(0);
	const char *p = str;
	bool		neg = false;
	char		dig[FZ_MAXDIG * 4 + 8];
	int			ndig = 0;
	int			before = 0;		/* digits before the point */
	int			frac = 0;
	bool		seen_point = false;
	bool		any = false;
	long		exp = 0;
	FzNum		n;

	while (isspace((unsigned char) *p))
		p++;
	if (pg_strncasecmp(p, "NaN", 3) == 0 || pg_strncasecmp(p, "Infinity", 8) == 0 ||
		pg_strncasecmp(p, "+Infinity", 9) == 0 || pg_strncasecmp(p, "-Infinity", 9) == 0)
	{
		const char *q = p;

		fz_num_zero(&n);
		if (*q == 'N' || *q == 'n')
			n.kind = FZ_NAN, q += 3;
		else if (*q == '-')
			n.kind = FZ_NINF, q += 9;
		else
			n.kind = FZ_PINF, q += (*q == '+') ? 9 : 8;
		while (isspace((unsigned char) *q))
			q++;
		if (*q != '\0')
			bad_syntax(str);
		PG_RETURN_NUMERIC(fz_num_encode(&n, true));
	}
	if (*p == '+' || *p == '-')
		neg = (*p++ == '-');
	for (;; p++)
	{
		if (isdigit((unsigned char) *p))
		{
			any = true;
			if (ndig == 0 && *p == '0' && !seen_point)
				continue;		/* leading zeros */
			if (ndig >= (int) sizeof(dig) - 1)
				overflow();
			dig[ndig++] = *p;
			if (seen_point)
				frac++;
			else
				before++;
		}
		else if (*p == '.' && !seen_point)
			seen_point = true;
		else
			break;
	}
	if (!any)
		bad_syntax(str);
	if (*p == 'e' || *p == 'E')
	{
		bool		eneg = false;

		p++;
		if (*p == '+' || *p == '-')
			eneg = (*p++ == '-');
		if (!isdigit((unsigned char) *p))
			bad_syntax(str);
		while (isdigit((unsigned char) *p))
		{
			exp = exp * 10 + (*p++ - '0');
			if (exp > 4000)
				overflow();
		}
		if (eneg)
			exp = -exp;
	}
	while (isspace((unsigned char) *p))
		p++;
	if (*p != '\0')
		bad_syntax(str);

	/* value = 0.dig * 10^(before + exp); display scale = frac - exp */
	fz_num_zero(&n);
	n.neg = neg;
	n.dscale = (int) Max(0, frac - exp);
	{
		long		point = before + exp;	/* decimal digits before the point */
		long		top = point - 1;	/* decimal exponent of dig[0] */
		long		bottom = point - ndig;	/* of dig[ndig-1] */
		long		wtop,
					wbot;

		if (ndig == 0)
			PG_RETURN_NUMERIC(fz_num_encode(&n, true));
		wtop = top >= 0 ? top / 4 : -((-top + 3) / 4);
		wbot = bottom >= 0 ? bottom / 4 : -((-bottom + 3) / 4);
		if (wtop - wbot + 1 > FZ_MAXDIG)
			overflow();
		n.weight = (int) wtop;
		n.ndigits = (int) (wtop - wbot + 1);
		memset(n.digits, 0, n.ndigits * sizeof(int16));
		for (int i = 0; i < ndig; i++)
		{
			long		e = top - i;
			long		w = e >= 0 ? e / 4 : -((-e + 3) / 4);
			int			within = (int) (e - 4 * w);
			static const int mul[4] = {1, 10, 100, 1000};

			n.digits[wtop - w] += (dig[i] - '0') * mul[within];
		}
	}
	/* digits beyond the display scale cannot exist: dscale >= frac - exp */
	fz_num_strip(&n);
	PG_RETURN_NUMERIC(fz_num_encode(&n, true));
}

Datum
numeric_out(PG_FUNCTION_ARGS)
{
	Numeric		num = PG_GETARG_NUMERIC(0);
	FzNum		n;

	fz_num_decode(num, &n);
	PG_RETURN_CSTRING(fz_num_to_string(&n));
}

/* the real one reads the header after a 4-byte varlena header: check it is one */
static void
check_plain(Numeric num)
{
	if (!VARATT_IS_4B_U((struct varlena *) num))
		fz_fail("numeric arithmetic on a packed (1-byte header) numeric");
}

Numeric
numeric_add_opt_error(Numeric a, Numeric b, bool *have_error)
{
	FzNum		x,
				y,
				r;

	check_plain(a);
	check_plain(b);
	fz_num_decode(a, &x);
	fz_num_decode(b, &y);
	fz_num_add(&x, &y, &r);
	return fz_num_encode(&r, true);
}

Numeric
int64_to_numeric(int64 v)
{
	FzNum		n;

	fz_num_from_int64(v, &n);
	return fz_num_encode(&n, true);
}

/* val / 10^log10val2 with that many decimals, as PostgreSQL's helper */
Numeric
int64_div_fast_to_numeric(int64 val1, int log10val2)
{
	char		text[64];
	uint64		mag = val1 < 0 ? (uint64) 0 - (uint64) val1 : (uint64) val1;
	char		digits[32];
	int			nd;
	int			pos = 0;

	if (log10val2 < 0 || log10val2 > 18)
		fz_fail("int64_div_fast_to_numeric: scale out of range");
	nd = snprintf(digits, sizeof(digits), "%llu", (unsigned long long) mag);
	if (val1 < 0)
		text[pos++] = '-';
	if (nd <= log10val2)
	{
		text[pos++] = '0';
		text[pos++] = '.';
		for (int i = 0; i < log10val2 - nd; i++)
			text[pos++] = '0';
		memcpy(text + pos, digits, nd);
		pos += nd;
	}
	else
	{
		memcpy(text + pos, digits, nd - log10val2);
		pos += nd - log10val2;
		if (log10val2 > 0)
		{
			text[pos++] = '.';
			memcpy(text + pos, digits + nd - log10val2, log10val2);
			pos += log10val2;
		}
	}
	text[pos] = '\0';
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(text),
											   ObjectIdGetDatum(0), Int32GetDatum(-1)));
}
