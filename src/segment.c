/*
 * segment.c — the cartera.segment type: one RFM cell (R, F, M scores 1..9),
 * pass-by-value int2 (r*100 + f*10 + m, so integer order is R, then F, then M).
 */
#include "postgres.h"

#include <ctype.h>

#include "cartera.h"
#include "common/hashfn.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(cartera_segment_in);
PG_FUNCTION_INFO_V1(cartera_segment_out);
PG_FUNCTION_INFO_V1(cartera_segment_recv);
PG_FUNCTION_INFO_V1(cartera_segment_send);
PG_FUNCTION_INFO_V1(cartera_segment_make);
PG_FUNCTION_INFO_V1(cartera_segment_recency);
PG_FUNCTION_INFO_V1(cartera_segment_frequency);
PG_FUNCTION_INFO_V1(cartera_segment_monetary);
PG_FUNCTION_INFO_V1(cartera_segment_name);
PG_FUNCTION_INFO_V1(cartera_segment_eq);
PG_FUNCTION_INFO_V1(cartera_segment_ne);
PG_FUNCTION_INFO_V1(cartera_segment_lt);
PG_FUNCTION_INFO_V1(cartera_segment_le);
PG_FUNCTION_INFO_V1(cartera_segment_gt);
PG_FUNCTION_INFO_V1(cartera_segment_ge);
PG_FUNCTION_INFO_V1(cartera_segment_cmp);
PG_FUNCTION_INFO_V1(cartera_segment_hash);
PG_FUNCTION_INFO_V1(cartera_segment_hash_extended);

typedef int16 Segment;

#define DatumGetSegment(d)	DatumGetInt16(d)
#define SegmentGetDatum(s)	Int16GetDatum(s)
#define PG_GETARG_SEGMENT(n) DatumGetSegment(PG_GETARG_DATUM(n))
#define PG_RETURN_SEGMENT(s) return SegmentGetDatum(s)

#define SEG_R(s) ((s) / 100)
#define SEG_F(s) (((s) / 10) % 10)
#define SEG_M(s) ((s) % 10)

static const char *const score_names[] = {"recency", "frequency", "monetary"};

static void
check_score(int value, int which)
{
	if (value < 1 || value > 9)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s score must be between 1 and 9, not %d",
						score_names[which], value)));
}

Datum
cartera_segment_from_scores(int r, int f, int m)
{
	check_score(r, 0);
	check_score(f, 1);
	check_score(m, 2);
	return SegmentGetDatum((Segment) (r * 100 + f * 10 + m));
}

static void
reject_segment(const char *input, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type segment: \"%s\"", input),
			 errdetail("%s", detail),
			 errhint("Write three scores from 1 to 9 (recency, frequency, monetary) as '543', '5-4-3' or 'R5F4M3'.")));
}

/* read one score digit at *p for score `which`; advances *p */
static int
read_score(const char *input, const char **p, int which)
{
	char		c = **p;

	if (c == '0')
		reject_segment(input, psprintf("The %s score is 0; scores go from 1 to 9.",
									   score_names[which]));
	if (c < '1' || c > '9')
		reject_segment(input, psprintf("Expected a digit 1-9 for the %s score.",
									   score_names[which]));
	(*p)++;
	return c - '0';
}

/*
 * Accepted spellings (case-insensitive, surrounding spaces allowed):
 *   543      5-4-3      R5F4M3
 */
Datum
cartera_segment_in(PG_FUNCTION_ARGS)
{
	const char *input = PG_GETARG_CSTRING(0);
	const char *p = input;
	const char *end;
	int			scores[3];
	static const char letters[] = "RFM";
	bool		lettered;
	bool		dashed = false;

	while (*p && isspace((unsigned char) *p))
		p++;
	end = p + strlen(p);
	while (end > p && isspace((unsigned char) end[-1]))
		end--;
	if (p == end)
		reject_segment(input, "The input is empty.");
	if (end - p > 6)
		reject_segment(input, psprintf("The input has %d characters; a segment has at most 6 (R5F4M3).",
									   (int) (end - p)));

	lettered = (toupper((unsigned char) *p) == 'R');
	for (int i = 0; i < 3; i++)
	{
		if (lettered)
		{
			if (p >= end || toupper((unsigned char) *p) != letters[i])
				reject_segment(input, psprintf("Expected '%c' before the %s score.",
											   letters[i], score_names[i]));
			p++;
		}
		else if (i > 0 && (dashed || *p == '-'))
		{
			if (*p != '-' || (i == 2 && !dashed))
				reject_segment(input, "Use a dash between every pair of scores, or none.");
			dashed = true;
			p++;
		}
		if (p >= end)
			reject_segment(input, psprintf("The %s score is missing.", score_names[i]));
		scores[i] = read_score(input, &p, i);
	}
	if (p != end)
		reject_segment(input, psprintf("Unexpected characters after the monetary score: \"%.*s\".",
									   (int) (end - p), p));
	PG_RETURN_DATUM(cartera_segment_from_scores(scores[0], scores[1], scores[2]));
}

Datum
cartera_segment_out(PG_FUNCTION_ARGS)
{
	Segment		s = PG_GETARG_SEGMENT(0);

	PG_RETURN_CSTRING(psprintf("%d%d%d", SEG_R(s), SEG_F(s), SEG_M(s)));
}

/* binary form: three bytes R, F, M */
Datum
cartera_segment_send(PG_FUNCTION_ARGS)
{
	Segment		s = PG_GETARG_SEGMENT(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbyte(&buf, SEG_R(s));
	pq_sendbyte(&buf, SEG_F(s));
	pq_sendbyte(&buf, SEG_M(s));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

Datum
cartera_segment_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			r = pq_getmsgbyte(buf);
	int			f = pq_getmsgbyte(buf);
	int			m = pq_getmsgbyte(buf);

	PG_RETURN_DATUM(cartera_segment_from_scores(r, f, m));
}

Datum
cartera_segment_make(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(cartera_segment_from_scores(PG_GETARG_INT32(0),
												PG_GETARG_INT32(1),
												PG_GETARG_INT32(2)));
}

Datum
cartera_segment_recency(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(SEG_R(PG_GETARG_SEGMENT(0)));
}

Datum
cartera_segment_frequency(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(SEG_F(PG_GETARG_SEGMENT(0)));
}

Datum
cartera_segment_monetary(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(SEG_M(PG_GETARG_SEGMENT(0)));
}

/* ---- named segments ---- */

typedef enum NamedSegment
{
	NS_CHAMPIONS,
	NS_LOYAL,
	NS_POTENTIAL_LOYALIST,
	NS_NEW,
	NS_PROMISING,
	NS_NEED_ATTENTION,
	NS_ABOUT_TO_SLEEP,
	NS_AT_RISK,
	NS_CANT_LOSE,
	NS_HIBERNATING
} NamedSegment;

static const char *const named_en[] = {
	"Champions", "Loyal", "Potential Loyalist", "New", "Promising",
	"Need Attention", "About to Sleep", "At Risk", "Can't Lose Them", "Hibernating"
};

static const char *const named_es[] = {
	"Campeones", "Leales", "Leales potenciales", "Nuevos", "Prometedores",
	"Requieren atención", "A punto de dormir", "En riesgo", "No se pueden perder", "Hibernando"
};

/* the R x F grid of SPEC.md; rows R = 1..5, columns F = 1..5 */
static const NamedSegment named_grid[5][5] = {
	/* R1 */ {NS_HIBERNATING, NS_HIBERNATING, NS_AT_RISK, NS_AT_RISK, NS_CANT_LOSE},
	/* R2 */ {NS_HIBERNATING, NS_HIBERNATING, NS_AT_RISK, NS_AT_RISK, NS_CANT_LOSE},
	/* R3 */ {NS_ABOUT_TO_SLEEP, NS_ABOUT_TO_SLEEP, NS_NEED_ATTENTION, NS_LOYAL, NS_LOYAL},
	/* R4 */ {NS_PROMISING, NS_POTENTIAL_LOYALIST, NS_POTENTIAL_LOYALIST, NS_LOYAL, NS_LOYAL},
	/* R5 */ {NS_NEW, NS_POTENTIAL_LOYALIST, NS_POTENTIAL_LOYALIST, NS_CHAMPIONS, NS_CHAMPIONS},
};

/* a 1..9 score to 1..5, used when the cell comes from a finer scale */
static int
to_five_bins(int score)
{
	return (score - 1) * 5 / 9 + 1;
}

Datum
cartera_segment_name(PG_FUNCTION_ARGS)
{
	Segment		s = PG_GETARG_SEGMENT(0);
	int			r = SEG_R(s);
	int			f = SEG_F(s);
	NamedSegment ns;

	if (r > 5 || f > 5)
	{
		r = to_five_bins(r);
		f = to_five_bins(f);
	}
	ns = named_grid[r - 1][f - 1];
	PG_RETURN_TEXT_P(cstring_to_text(cartera_language == CARTERA_LANG_EN ?
									 named_en[ns] : named_es[ns]));
}

/* ---- comparison and hashing ---- */

#define SEGMENT_CMP_FN(name, op) \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	PG_RETURN_BOOL(PG_GETARG_SEGMENT(0) op PG_GETARG_SEGMENT(1)); \
}

SEGMENT_CMP_FN(cartera_segment_eq, ==)
SEGMENT_CMP_FN(cartera_segment_ne, !=)
SEGMENT_CMP_FN(cartera_segment_lt, <)
SEGMENT_CMP_FN(cartera_segment_le, <=)
SEGMENT_CMP_FN(cartera_segment_gt, >)
SEGMENT_CMP_FN(cartera_segment_ge, >=)

Datum
cartera_segment_cmp(PG_FUNCTION_ARGS)
{
	Segment		a = PG_GETARG_SEGMENT(0);
	Segment		b = PG_GETARG_SEGMENT(1);

	PG_RETURN_INT32((a > b) - (a < b));
}

Datum
cartera_segment_hash(PG_FUNCTION_ARGS)
{
	return hash_uint32((uint32) PG_GETARG_SEGMENT(0));
}

Datum
cartera_segment_hash_extended(PG_FUNCTION_ARGS)
{
	return hash_uint32_extended((uint32) PG_GETARG_SEGMENT(0), PG_GETARG_INT64(1));
}
