/*
 * shim.c — a minimal stand-in for the PostgreSQL backend, enough to run the
 * extension's parsers and (de)serializers in a libFuzzer process.  Written
 * for the fuzzers from PostgreSQL's documented behaviour; see fz.h.
 */
#include "fz.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/hashfn.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "nodes/memnodes.h"
#include "port/pg_bswap.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/datum.h"
#include "utils/memutils.h"

/* ---------------------------------------------------------------------
 * memory: one arena per input; every chunk is its own malloc
 * --------------------------------------------------------------------- */

typedef struct FzChunk
{
	struct FzChunk *prev;
	struct FzChunk *next;
	Size		size;
	uint64		magic;
} FzChunk;						/* 32 bytes: keeps MAXALIGN */

#define FZ_MAGIC 0x66757a7a63686e6bULL
#define FZ_MEM_LIMIT ((Size) 256 * 1024 * 1024)	/* live bytes per input */

static FzChunk fz_arena = {&fz_arena, &fz_arena, 0, 0};
static Size fz_live;
static MemoryContextData fz_context;
MemoryContext CurrentMemoryContext = &fz_context;
MemoryContext TopMemoryContext = &fz_context;
MemoryContext ErrorContext = &fz_context;
volatile sig_atomic_t InterruptPending = false;
volatile uint32 CritSectionCount = 0;
volatile uint32 InterruptHoldoffCount = 0;

FzError		fz_error;
sigjmp_buf *fz_catch;
long		fz_warnings;

void
fz_fail(const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "\n*** FUZZ FINDING: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

void
fz_begin(void)
{
	fz_live = 0;
	fz_warnings = 0;
	fz_catch = NULL;
	CurrentMemoryContext = &fz_context;
	memset(&fz_error, 0, sizeof(fz_error));
}

void
fz_end(void)
{
	FzChunk    *c = fz_arena.next;

	while (c != &fz_arena)
	{
		FzChunk    *next = c->next;

		c->magic = 0;
		free(c);
		c = next;
	}
	fz_arena.next = fz_arena.prev = &fz_arena;
	fz_live = 0;
	fz_catch = NULL;
}

static void *
fz_alloc(Size size, int flags)
{
	FzChunk    *c;

	if (!(flags & MCXT_ALLOC_HUGE) ? !AllocSizeIsValid(size) : !AllocHugeSizeIsValid(size))
		elog(ERROR, "invalid memory alloc request size %zu", size);
	if (size > FZ_MEM_LIMIT - fz_live)
	{
		if (flags & MCXT_ALLOC_NO_OOM)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed on request of size %zu (fuzz arena limit).", size)));
	}
	c = malloc(sizeof(FzChunk) + size);
	if (c == NULL)
		fz_fail("malloc(%zu) failed", size);
	c->size = size;
	c->magic = FZ_MAGIC;
	c->next = fz_arena.next;
	c->prev = &fz_arena;
	fz_arena.next->prev = c;
	fz_arena.next = c;
	fz_live += size;
	if (flags & MCXT_ALLOC_ZERO)
		memset(c + 1, 0, size);
	return c + 1;
}

static FzChunk *
fz_chunk_of(void *p)
{
	FzChunk    *c = ((FzChunk *) p) - 1;

	if (c->magic != FZ_MAGIC)
		fz_fail("pfree/repalloc of a pointer that palloc did not return");
	return c;
}

void
pfree(void *p)
{
	FzChunk    *c = fz_chunk_of(p);

	c->prev->next = c->next;
	c->next->prev = c->prev;
	fz_live -= c->size;
	c->magic = 0;
	free(c);
}

static void *
fz_realloc(void *p, Size size, int flags)
{
	FzChunk    *c = fz_chunk_of(p);
	void	   *n = fz_alloc(size, flags);

	memcpy(n, p, Min(size, c->size));
	pfree(p);
	return n;
}

void *MemoryContextAlloc(MemoryContext cxt, Size size) { return fz_alloc(size, 0); }
void *MemoryContextAllocZero(MemoryContext cxt, Size size) { return fz_alloc(size, MCXT_ALLOC_ZERO); }
void *MemoryContextAllocZeroAligned(MemoryContext cxt, Size size) { return fz_alloc(size, MCXT_ALLOC_ZERO); }
void *MemoryContextAllocExtended(MemoryContext cxt, Size size, int flags) { return fz_alloc(size, flags); }
void *MemoryContextAllocHuge(MemoryContext cxt, Size size) { return fz_alloc(size, MCXT_ALLOC_HUGE); }
void *palloc(Size size) { return fz_alloc(size, 0); }
void *palloc0(Size size) { return fz_alloc(size, MCXT_ALLOC_ZERO); }
void *palloc_extended(Size size, int flags) { return fz_alloc(size, flags); }
void *repalloc(void *p, Size size) { return fz_realloc(p, size, 0); }
void *repalloc_huge(void *p, Size size) { return fz_realloc(p, size, MCXT_ALLOC_HUGE); }

char *
pstrdup(const char *s)
{
	size_t		n = strlen(s);
	char	   *r = fz_alloc(n + 1, 0);

	memcpy(r, s, n + 1);
	return r;
}

char *
MemoryContextStrdup(MemoryContext cxt, const char *s)
{
	return pstrdup(s);
}

char *
psprintf(const char *fmt,...)
{
	va_list		ap;
	int			n;
	char	   *r;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		fz_fail("psprintf: bad format \"%s\"", fmt);
	r = fz_alloc(n + 1, 0);
	va_start(ap, fmt);
	vsnprintf(r, n + 1, fmt, ap);
	va_end(ap);
	return r;
}

/* ---------------------------------------------------------------------
 * ereport / elog
 * --------------------------------------------------------------------- */

static FzError fz_pending;

bool
errstart(int elevel, const char *domain)
{
	memset(&fz_pending, 0, sizeof(fz_pending));
	fz_pending.elevel = elevel;
	/* ERROR without errcode() is an internal error, as in PostgreSQL */
	fz_pending.sqlerrcode = elevel >= ERROR ? ERRCODE_INTERNAL_ERROR : 0;
	return true;				/* always format the message: catches format bugs */
}

bool
errstart_cold(int elevel, const char *domain)
{
	return errstart(elevel, domain);
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	int			c = fz_pending.sqlerrcode;

	fz_pending.filename = filename;
	fz_pending.lineno = lineno;
	fz_pending.funcname = funcname;
	for (int i = 0; i < 5; i++)
	{
		fz_pending.sqlstate[i] = PGUNSIXBIT(c);
		c >>= 6;
	}
	fz_pending.sqlstate[5] = '\0';
	if (fz_pending.message[0] == '\0')
		fz_fail("ereport without a message at %s:%d", filename, lineno);
	if (fz_pending.elevel < ERROR)
	{
		fz_warnings++;
		return;
	}
	fz_error = fz_pending;
	if (getenv("FUZZ_SHOW_ERRORS"))
		fprintf(stderr, "ERROR %s: %s (%s:%d)\n", fz_error.sqlstate, fz_error.message,
				filename, lineno);
	if (fz_catch == NULL)
		fz_fail("ERROR outside a catch: %s", fz_error.message);
	siglongjmp(*fz_catch, 1);
}

bool
fz_error_is(const char *sqlstates)
{
	const char *p = sqlstates;

	while (*p)
	{
		if (strncmp(p, fz_error.sqlstate, 5) == 0)
			return true;
		p += 5;
		while (*p == ' ')
			p++;
	}
	return false;
}

int
errcode(int sqlerrcode)
{
	fz_pending.sqlerrcode = sqlerrcode;
	return 0;
}

#define FZ_FORMAT(field) \
	do { \
		va_list ap; \
		int n; \
		va_start(ap, fmt); \
		n = vsnprintf(fz_pending.field, sizeof(fz_pending.field), fmt, ap); \
		va_end(ap); \
		if (n < 0) \
			fz_fail("bad format \"%s\"", fmt); \
	} while (0)

int errmsg(const char *fmt,...) { FZ_FORMAT(message); return 0; }
int errmsg_internal(const char *fmt,...) { FZ_FORMAT(message); return 0; }
int errdetail(const char *fmt,...) { FZ_FORMAT(detail); return 0; }
int errdetail_internal(const char *fmt,...) { FZ_FORMAT(detail); return 0; }
int errhint(const char *fmt,...) { FZ_FORMAT(hint); return 0; }

int
errmsg_plural(const char *fmt_singular, const char *fmt_plural, unsigned long n,...)
{
	va_list		ap;

	va_start(ap, n);
	vsnprintf(fz_pending.message, sizeof(fz_pending.message), n == 1 ? fmt_singular : fmt_plural, ap);
	va_end(ap);
	return 0;
}

void
ProcessInterrupts(void)
{
	InterruptPending = false;
}

/* ---------------------------------------------------------------------
 * StringInfo and the wire-format helpers (libpq/pqformat.h)
 * --------------------------------------------------------------------- */

void
initStringInfo(StringInfo str)
{
	str->maxlen = 1024;
	str->data = palloc(str->maxlen);
	resetStringInfo(str);
}

StringInfo
makeStringInfo(void)
{
	StringInfo	s = palloc(sizeof(StringInfoData));

	initStringInfo(s);
	return s;
}

void
resetStringInfo(StringInfo str)
{
	str->data[0] = '\0';
	str->len = 0;
	str->cursor = 0;
}

void
enlargeStringInfo(StringInfo str, int needed)
{
	Size		want;
	Size		newlen;

	if (needed < 0)
		elog(ERROR, "invalid string enlargement request size: %d", needed);
	want = (Size) str->len + needed + 1;
	if (want > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("out of memory"),
				 errdetail("Cannot enlarge string buffer containing %d bytes by %d more bytes.",
						   str->len, needed)));
	if (want <= (Size) str->maxlen)
		return;
	newlen = 2 * (Size) str->maxlen;
	while (newlen < want)
		newlen *= 2;
	if (newlen > MaxAllocSize)
		newlen = MaxAllocSize;
	str->data = repalloc(str->data, newlen);
	str->maxlen = (int) newlen;
}

void
appendBinaryStringInfo(StringInfo str, const char *data, int datalen)
{
	enlargeStringInfo(str, datalen);
	memcpy(str->data + str->len, data, datalen);
	str->len += datalen;
	str->data[str->len] = '\0';
}

void
appendStringInfoString(StringInfo str, const char *s)
{
	appendBinaryStringInfo(str, s, strlen(s));
}

void
appendStringInfoChar(StringInfo str, char ch)
{
	appendBinaryStringInfo(str, &ch, 1);
}

void
appendStringInfo(StringInfo str, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		fz_fail("appendStringInfo: bad format \"%s\"", fmt);
	enlargeStringInfo(str, n);
	va_start(ap, fmt);
	vsnprintf(str->data + str->len, n + 1, fmt, ap);
	va_end(ap);
	str->len += n;
}

void
pq_begintypsend(StringInfo buf)
{
	initStringInfo(buf);
	/* room for the varlena header, filled in by pq_endtypsend */
	appendBinaryStringInfo(buf, "\0\0\0\0", VARHDRSZ);
}

bytea *
pq_endtypsend(StringInfo buf)
{
	bytea	   *result = (bytea *) buf->data;

	SET_VARSIZE(result, buf->len);
	return result;
}

void
pq_sendbytes(StringInfo buf, const char *data, int datalen)
{
	appendBinaryStringInfo(buf, data, datalen);
}

/* the string and its terminating zero byte (no encoding conversion here) */
void
pq_sendstring(StringInfo buf, const char *str)
{
	appendBinaryStringInfo(buf, str, strlen(str) + 1);
}

void
pq_sendfloat8(StringInfo buf, float8 f)
{
	union
	{
		float8		f;
		int64		i;
	}			u;

	u.f = f;
	pq_sendint64(buf, u.i);
}

static void
fz_no_data(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROTOCOL_VIOLATION),
			 errmsg("no data left in message")));
}

int
pq_getmsgbyte(StringInfo msg)
{
	if (msg->cursor >= msg->len)
		fz_no_data();
	return (unsigned char) msg->data[msg->cursor++];
}

static void
fz_getbytes(StringInfo msg, void *dst, int n)
{
	if (n < 0 || msg->cursor < 0 || n > msg->len - msg->cursor)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("insufficient data left in message")));
	memcpy(dst, msg->data + msg->cursor, n);
	msg->cursor += n;
}

unsigned int
pq_getmsgint(StringInfo msg, int b)
{
	uint8		v[4];
	unsigned int r = 0;

	if (b != 1 && b != 2 && b != 4)
		elog(ERROR, "unsupported integer size %d", b);
	fz_getbytes(msg, v, b);
	for (int i = 0; i < b; i++)
		r = (r << 8) | v[i];	/* network byte order */
	return r;
}

int64
pq_getmsgint64(StringInfo msg)
{
	uint8		v[8];
	uint64		r = 0;

	fz_getbytes(msg, v, 8);
	for (int i = 0; i < 8; i++)
		r = (r << 8) | v[i];
	return (int64) r;
}

float8
pq_getmsgfloat8(StringInfo msg)
{
	union
	{
		float8		f;
		int64		i;
	}			u;

	u.i = pq_getmsgint64(msg);
	return u.f;
}

const char *
pq_getmsgbytes(StringInfo msg, int datalen)
{
	const char *r;

	if (datalen < 0 || datalen > msg->len - msg->cursor)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("insufficient data left in message")));
	r = msg->data + msg->cursor;
	msg->cursor += datalen;
	return r;
}

void
pq_copymsgbytes(StringInfo msg, char *buf, int datalen)
{
	fz_getbytes(msg, buf, datalen);
}

const char *
pq_getmsgstring(StringInfo msg)
{
	const char *s = msg->data + msg->cursor;
	const char *end = memchr(s, '\0', msg->len - msg->cursor);

	if (msg->cursor >= msg->len || end == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("invalid string in message")));
	msg->cursor += (int) (end - s) + 1;
	return s;
}

void
pq_getmsgend(StringInfo msg)
{
	if (msg->cursor != msg->len)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("invalid message format")));
}

/* ---------------------------------------------------------------------
 * fmgr
 * --------------------------------------------------------------------- */

static Datum
fz_call(PGFunction fn, int nargs, const Datum *args, const bool *nulls, bool *isnull)
{
	LOCAL_FCINFO(fcinfo, 8);
	FmgrInfo	flinfo;
	Datum		r;

	memset(&flinfo, 0, sizeof(flinfo));
	flinfo.fn_nargs = nargs;
	flinfo.fn_mcxt = CurrentMemoryContext;
	InitFunctionCallInfoData(*fcinfo, &flinfo, nargs, InvalidOid, NULL, NULL);
	for (int i = 0; i < nargs; i++)
	{
		fcinfo->args[i].value = args[i];
		fcinfo->args[i].isnull = nulls ? nulls[i] : false;
	}
	r = fn(fcinfo);
	*isnull = fcinfo->isnull;
	return r;
}

Datum
fz_call1(PGFunction fn, Datum a, bool *isnull)
{
	return fz_call(fn, 1, &a, NULL, isnull);
}

Datum
fz_call2(PGFunction fn, Datum a, bool anull, Datum b, bool bnull, bool *isnull)
{
	Datum		args[2] = {a, b};
	bool		nulls[2] = {anull, bnull};

	return fz_call(fn, 2, args, nulls, isnull);
}

static Datum
fz_direct(PGFunction fn, int nargs, const Datum *args)
{
	bool		isnull;
	Datum		r = fz_call(fn, nargs, args, NULL, &isnull);

	if (isnull)
		elog(ERROR, "function %p returned NULL", (void *) fn);
	return r;
}

Datum
DirectFunctionCall1Coll(PGFunction func, Oid collation, Datum arg1)
{
	return fz_direct(func, 1, &arg1);
}

Datum
DirectFunctionCall2Coll(PGFunction func, Oid collation, Datum arg1, Datum arg2)
{
	Datum		a[2] = {arg1, arg2};

	return fz_direct(func, 2, a);
}

Datum
DirectFunctionCall3Coll(PGFunction func, Oid collation, Datum arg1, Datum arg2, Datum arg3)
{
	Datum		a[3] = {arg1, arg2, arg3};

	return fz_direct(func, 3, a);
}

/* every call runs "as an aggregate", in the per-input arena */
int
AggCheckCallContext(FunctionCallInfo fcinfo, MemoryContext *aggcontext)
{
	if (aggcontext)
		*aggcontext = CurrentMemoryContext;
	return AGG_CONTEXT_AGGREGATE;
}

struct varlena *
pg_detoast_datum(struct varlena *datum)
{
	if (VARATT_IS_EXTERNAL(datum) || VARATT_IS_COMPRESSED(datum))
		fz_fail("toasted datum in a fuzz input");
	if (VARATT_IS_SHORT(datum))
	{
		Size		len = VARSIZE_SHORT(datum) - VARHDRSZ_SHORT;
		struct varlena *r = palloc(len + VARHDRSZ);

		SET_VARSIZE(r, len + VARHDRSZ);
		memcpy(VARDATA(r), VARDATA_SHORT(datum), len);
		return r;
	}
	return datum;
}

struct varlena *
pg_detoast_datum_packed(struct varlena *datum)
{
	if (VARATT_IS_EXTERNAL(datum) || VARATT_IS_COMPRESSED(datum))
		fz_fail("toasted datum in a fuzz input");
	return datum;
}

bytea *
fz_bytea(const uint8 *data, size_t size)
{
	bytea	   *b = palloc(size + VARHDRSZ);

	SET_VARSIZE(b, size + VARHDRSZ);
	memcpy(VARDATA(b), data, size);
	return b;
}

/* ---------------------------------------------------------------------
 * dynahash's API over a small open-addressing table (insertion order kept)
 * --------------------------------------------------------------------- */

struct HTAB
{
	Size		keysize;
	Size		entrysize;
	long		nentries;
	long		capacity;		/* of entries[] */
	char	  **entries;
	long		nslots;			/* power of 2, > 2 * nentries */
	long	   *slots;			/* index into entries[] + 1, 0 = empty */
};

static uint32
fz_hash_bytes(const void *k, Size n)
{
	const uint8 *p = k;
	uint32		h = 2166136261u;

	for (Size i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

HTAB *
hash_create(const char *tabname, long nelem, const HASHCTL *info, int flags)
{
	HTAB	   *h = palloc0(sizeof(HTAB));

	if (!(flags & HASH_ELEM) || !(flags & HASH_BLOBS))
		fz_fail("hash_create: only HASH_ELEM | HASH_BLOBS tables are emulated");
	h->keysize = info->keysize;
	h->entrysize = info->entrysize;
	h->nslots = 16;
	h->slots = palloc0(h->nslots * sizeof(long));
	return h;
}

static long *
fz_slot(HTAB *h, const void *key)
{
	long		i = fz_hash_bytes(key, h->keysize) & (h->nslots - 1);

	for (;;)
	{
		long	   *s = &h->slots[i];

		if (*s == 0 || memcmp(h->entries[*s - 1], key, h->keysize) == 0)
			return s;
		i = (i + 1) & (h->nslots - 1);
	}
}

void *
hash_search(HTAB *h, const void *key, HASHACTION action, bool *found)
{
	long	   *s = fz_slot(h, key);
	char	   *e;

	if (*s != 0)
	{
		if (found)
			*found = true;
		if (action == HASH_REMOVE)
			fz_fail("hash_search: HASH_REMOVE is not emulated");
		return h->entries[*s - 1];
	}
	if (found)
		*found = false;
	if (action == HASH_FIND || action == HASH_REMOVE)
		return NULL;
	if (h->nentries == h->capacity)
	{
		h->capacity = Max(16, h->capacity * 2);
		h->entries = h->entries ? repalloc_huge(h->entries, h->capacity * sizeof(char *))
			: palloc_extended(h->capacity * sizeof(char *), MCXT_ALLOC_HUGE);
	}
	e = palloc0(h->entrysize);
	memcpy(e, key, h->keysize);
	h->entries[h->nentries++] = e;
	*s = h->nentries;
	if (h->nentries * 2 >= h->nslots)
	{
		h->nslots *= 2;
		pfree(h->slots);
		h->slots = palloc_extended(h->nslots * sizeof(long), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
		for (long i = 0; i < h->nentries; i++)
			*fz_slot(h, h->entries[i]) = i + 1;
	}
	return e;
}

long
hash_get_num_entries(HTAB *h)
{
	return h->nentries;
}

void
hash_seq_init(HASH_SEQ_STATUS *status, HTAB *h)
{
	status->hashp = h;
	status->curBucket = 0;
	status->curEntry = NULL;
}

void *
hash_seq_search(HASH_SEQ_STATUS *status)
{
	HTAB	   *h = status->hashp;

	if ((long) status->curBucket >= h->nentries)
		return NULL;
	return h->entries[status->curBucket++];
}

void
hash_seq_term(HASH_SEQ_STATUS *status)
{
}

/* ---------------------------------------------------------------------
 * small helpers the code calls
 * --------------------------------------------------------------------- */

int
pg_strcasecmp(const char *s1, const char *s2)
{
	for (;; s1++, s2++)
	{
		unsigned char a = (unsigned char) *s1;
		unsigned char b = (unsigned char) *s2;

		if (a >= 'A' && a <= 'Z')
			a += 'a' - 'A';
		if (b >= 'A' && b <= 'Z')
			b += 'a' - 'A';
		if (a != b)
			return (int) a - (int) b;
		if (a == 0)
			return 0;
	}
}

/* the result array of breakpoints(): every element is read (ASan checks them) */
ArrayType *
construct_array(Datum *elems, int nelems, Oid elmtype, int elmlen, bool elmbyval, char elmalign)
{
	Size		size;
	ArrayType  *a;

	if (nelems < 0)
		fz_fail("construct_array with %d elements", nelems);
	size = ARR_OVERHEAD_NONULLS(1) + (Size) nelems * elmlen;
	a = palloc0(size);
	SET_VARSIZE(a, size);
	a->ndim = 1;
	a->elemtype = elmtype;
	ARR_DIMS(a)[0] = nelems;
	ARR_LBOUND(a)[0] = 1;
	for (int i = 0; i < nelems; i++)
		memcpy(ARR_DATA_PTR(a) + (Size) i * elmlen, &elems[i], elmlen);
	return a;
}

int
pg_strncasecmp(const char *s1, const char *s2, size_t n)
{
	for (; n > 0; n--, s1++, s2++)
	{
		unsigned char a = (unsigned char) *s1;
		unsigned char b = (unsigned char) *s2;

		if (a >= 'A' && a <= 'Z')
			a += 'a' - 'A';
		if (b >= 'A' && b <= 'Z')
			b += 'a' - 'A';
		if (a != b)
			return (int) a - (int) b;
		if (a == 0)
			return 0;
	}
	return 0;
}

/* port.h sends the extension's printf family to PostgreSQL's own snprintf.c */
int pg_vsnprintf(char *str, size_t count, const char *fmt, va_list args) { return vsnprintf(str, count, fmt, args); }
int pg_vsprintf(char *str, const char *fmt, va_list args) { return vsprintf(str, fmt, args); }
int pg_vfprintf(FILE *stream, const char *fmt, va_list args) { return vfprintf(stream, fmt, args); }

int
pg_snprintf(char *str, size_t count, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(str, count, fmt, ap);
	va_end(ap);
	return n;
}

int
pg_sprintf(char *str, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsprintf(str, fmt, ap);
	va_end(ap);
	return n;
}

int
pg_fprintf(FILE *stream, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vfprintf(stream, fmt, ap);
	va_end(ap);
	return n;
}

int
pg_printf(const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

/* GUC of guc.c, not linked into the fuzzers */
int			cartera_language = 0;

text *
cstring_to_text(const char *s)
{
	size_t		n = strlen(s);
	text	   *t = palloc(n + VARHDRSZ);

	SET_VARSIZE(t, n + VARHDRSZ);
	memcpy(VARDATA(t), s, n);
	return t;
}

uint32
hash_bytes_uint32(uint32 k)
{
	return fz_hash_bytes(&k, sizeof(k));
}

uint64
hash_bytes_uint32_extended(uint32 k, uint64 seed)
{
	return fz_hash_bytes(&k, sizeof(k)) ^ seed;
}

void
pg_qsort(void *base, size_t nel, size_t elsize, int (*cmp) (const void *, const void *))
{
	qsort(base, nel, elsize, cmp);
}

Datum
datumCopy(Datum value, bool typByVal, int typLen)
{
	Size		size;
	void	   *r;

	if (typByVal)
		return value;
	if (typLen != -1)
		fz_fail("datumCopy: only varlena copies are emulated");
	size = VARSIZE_ANY(DatumGetPointer(value));
	r = palloc(size);
	memcpy(r, DatumGetPointer(value), size);
	return PointerGetDatum(r);
}
