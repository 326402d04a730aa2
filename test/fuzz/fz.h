/*
 * fz.h — what the fuzz harnesses need from the shim (shim.c, numeric_stub.c).
 *
 * The extension's C files are backend code.  The harnesses compile them as
 * they are, against the PostgreSQL 15 server headers, and link them with a
 * small stand-in for the backend written for this purpose: memory contexts
 * backed by one per-input arena of individually malloc'd chunks (so ASan sees
 * every overflow and use-after-free), ereport/elog that format the message
 * with vsnprintf and longjmp back to the harness on ERROR, StringInfo, the
 * pq_getmsg and pq_send functions, a tiny hash table for dynahash's API, and
 * a decimal numeric of our own (numeric_in/out/add) for exact_sum's spill.
 * Nothing here is copied from PostgreSQL; behaviour follows its documented
 * contract (error codes and messages of the functions we stand in for).
 */
#ifndef FZ_H
#define FZ_H

#include "postgres.h"

#include <setjmp.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/numeric.h"

/* the harness and the shim use the C library's printf family directly */
#undef vsnprintf
#undef snprintf
#undef vsprintf
#undef sprintf
#undef vfprintf
#undef fprintf
#undef vprintf
#undef printf
#undef qsort

/* ---- errors ---- */
typedef struct FzError
{
	int			elevel;
	int			sqlerrcode;
	char		sqlstate[6];
	char		message[2048];
	char		detail[2048];
	char		hint[2048];
	const char *filename;
	int			lineno;
	const char *funcname;
} FzError;

extern FzError fz_error;		/* the last ERROR caught */
extern sigjmp_buf *fz_catch;	/* where an ERROR jumps to; NULL = abort */
extern long fz_warnings;		/* WARNING/NOTICE reports since fz_begin */

/*
 * Per input: fz_begin(); then
 *     sigjmp_buf jb; fz_catch = &jb;
 *     if (sigsetjmp(jb, 0) == 0) { ...code that may ereport(ERROR)... }
 *     else { ...fz_error holds the error... }
 * and fz_end() frees everything palloc'd since fz_begin().
 */
extern void fz_begin(void);
extern void fz_end(void);

/* abort with a message: a finding (libFuzzer saves the input) */
extern void fz_fail(const char *fmt,...) pg_attribute_printf(1, 2) pg_attribute_noreturn();

/* true when the caught error's SQLSTATE is one of the space-separated list */
extern bool fz_error_is(const char *sqlstates);

/* ---- our decimal numeric (numeric_stub.c) ---- */
#define FZ_MAXDIG 600			/* base-10000 digits: 2400 decimal digits */

typedef enum FzNumKind
{
	FZ_FINITE,
	FZ_NAN,
	FZ_PINF,
	FZ_NINF
} FzNumKind;

typedef struct FzNum
{
	FzNumKind	kind;
	bool		neg;
	int			weight;			/* of digits[0], base 10000 */
	int			ndigits;		/* no leading or trailing zero digits */
	int			dscale;			/* decimal digits after the point shown */
	int16		digits[FZ_MAXDIG];
} FzNum;

extern void fz_num_zero(FzNum *n);
extern void fz_num_strip(FzNum *n);
extern void fz_num_add(const FzNum *a, const FzNum *b, FzNum *r);
extern int	fz_num_cmp(const FzNum *a, const FzNum *b);	/* values only */
extern void fz_num_from_int64(int64 v, FzNum *n);
/* varlena with a 4-byte header; short numeric format when allow_short and it fits */
extern Numeric fz_num_encode(const FzNum *n, bool allow_short);
/* the same bytes behind a 1-byte varlena header (a "packed" datum), when it fits */
extern Numeric fz_num_pack(Numeric num);
/* decode any stored numeric (either varlena header, either format) */
extern void fz_num_decode(Numeric num, FzNum *n);
extern char *fz_num_to_string(const FzNum *n);

/* ---- calling V1 functions ---- */
extern Datum fz_call1(PGFunction fn, Datum a, bool *isnull);
extern Datum fz_call2(PGFunction fn, Datum a, bool anull, Datum b, bool bnull, bool *isnull);
extern bytea *fz_bytea(const uint8 *data, size_t size);

/* a tiny byte reader over the fuzz input */
typedef struct FzInput
{
	const uint8 *p;
	size_t		n;
} FzInput;

static inline uint8
fz_u8(FzInput *in)
{
	uint8		v = 0;

	if (in->n > 0)
	{
		v = *in->p++;
		in->n--;
	}
	return v;
}

static inline uint16
fz_u16(FzInput *in)
{
	return (uint16) (fz_u8(in) | (fz_u8(in) << 8));
}

static inline uint64
fz_u64(FzInput *in)
{
	uint64		v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64) fz_u8(in) << (8 * i);
	return v;
}

#endif							/* FZ_H */
