/*
 * cartera.c — module magic and _PG_init for the cartera extension.
 * Everything else lives in a file named after its concept.
 */
#include "postgres.h"

#include "cartera.h"
#include "fmgr.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	cartera_define_gucs();
}
