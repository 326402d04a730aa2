/*
 * deferred_worker.c — the background worker that applies the deferred
 * maintenance queue (cartera.deferred_change) of a database.
 *
 * A purchase source in deferred mode only queues its new rows' per-customer
 * states (state_trigger.c); the states, the transition log, the alerts and
 * their NOTIFY are brought up to date by cartera.apply_deferred()
 * (sql/cartera_deferred.sql), one batch of customers per transaction.  This
 * worker calls it in a loop, as soon as work is queued (it polls every
 * cartera.deferred_naptime at most) and without pause while there is more,
 * in the batch size apply_deferred() returns for the next batch (bigger
 * while the queue is behind).
 * Everything that decides what is applied is in that SQL function, which
 * cartera.catch_up() also calls: the worker adds no semantics, so a database
 * without it (cartera not in shared_preload_libraries) gets the same states
 * from catch_up() run by pg_cron.
 *
 * One worker per database named in cartera.deferred_databases, registered
 * at server start (shared_preload_libraries); the postmaster starts it again
 * after cartera.deferred_restart seconds if it dies, is killed, or the
 * server restarts after a crash.  Nothing is lost on the way: a batch
 * removes its queue rows in the transaction that applies them.
 */
#include "postgres.h"

#include "cartera.h"
#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/varlena.h"

PGDLLEXPORT void cartera_deferred_worker_main(Datum main_arg);

static char *deferred_databases = NULL;
static char *deferred_role = NULL;
static int	deferred_batch_size = 1000;
static int	deferred_naptime = 200;
static int	deferred_restart = 5;

/*
 * The settings.  Those of the workers' number and identity exist only
 * when cartera is preloaded and change only at server start (the workers are
 * registered then); the batch size and the pause are read again on SIGHUP
 * (pg_reload_conf()).
 */
static void
define_worker_gucs(void)
{
	DefineCustomIntVariable("cartera.deferred_batch_size",
							"Customers the deferred worker and cartera.catch_up() apply per transaction (per batch).",
							NULL, &deferred_batch_size, 1000, 1, 1000000, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("cartera.deferred_naptime",
							"Longest pause of the deferred worker between looks at an empty queue.",
							"The worker applies queued purchases at most this long after they commit (plus the time to apply them).",
							&deferred_naptime, 200, 10, 60000, PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	/* PostgreSQL accepts these only from shared_preload_libraries */
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomStringVariable("cartera.deferred_databases",
							   "Databases whose deferred purchase queue a cartera background worker applies (comma-separated).",
							   "Needs cartera in shared_preload_libraries; one worker per database.  Empty: no worker (call cartera.catch_up(), e.g. from pg_cron).",
							   &deferred_databases, "", PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("cartera.deferred_role",
							   "Role the deferred workers connect as (empty: the bootstrap superuser).",
							   NULL, &deferred_role, "", PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("cartera.deferred_restart",
							"Seconds before the postmaster starts a deferred worker again after it stopped with an error or was killed.",
							NULL, &deferred_restart, 5, 1, 3600, PGC_POSTMASTER, GUC_UNIT_S, NULL, NULL, NULL);
}

/* called by _PG_init: the settings always, the workers when preloaded */
void
cartera_deferred_worker_init(void)
{
	char	   *list;
	List	   *names;
	ListCell   *lc;

	define_worker_gucs();
	if (!process_shared_preload_libraries_in_progress)
		return;

	list = pstrdup(deferred_databases);
	if (!SplitIdentifierString(list, ',', &names))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid list syntax in parameter \"cartera.deferred_databases\"")));
	foreach(lc, names)
	{
		const char *db = (const char *) lfirst(lc);
		BackgroundWorker worker;

		if (strlen(db) >= BGW_EXTRALEN)
			ereport(ERROR,
					(errcode(ERRCODE_NAME_TOO_LONG),
					 errmsg("database name \"%s\" in cartera.deferred_databases is too long", db)));
		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
		worker.bgw_restart_time = deferred_restart;
		snprintf(worker.bgw_library_name, BGW_MAXLEN, "cartera");
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "cartera_deferred_worker_main");
		snprintf(worker.bgw_name, BGW_MAXLEN, "cartera deferred worker %s", db);
		snprintf(worker.bgw_type, BGW_MAXLEN, "cartera deferred worker");
		strlcpy(worker.bgw_extra, db, BGW_EXTRALEN);
		RegisterBackgroundWorker(&worker);
	}
}

/*
 * One transaction: apply a batch of up to max_customers customers if
 * cartera (0.4.0 or later) is installed.  Returns the queue rows applied,
 * or -1 when there is nothing to work with, and sets *next_batch to the
 * size apply_deferred() gives for the next batch.
 */
static int64
apply_one_batch(int max_customers, int *next_batch)
{
	int64		applied = -1;
	int			rc;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "cartera: SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "cartera.apply_deferred()");

	rc = SPI_execute("SELECT pg_catalog.to_regprocedure('cartera.apply_deferred(integer, text)') IS NOT NULL",
					 true, 1);
	if (rc == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;
		bool		installed = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

		if (installed)
		{
			Oid			argtypes[1] = {INT4OID};
			Datum		args[1];
			Datum		next;

			args[0] = Int32GetDatum(max_customers);
			PopActiveSnapshot();
			PushActiveSnapshot(GetTransactionSnapshot());
			rc = SPI_execute_with_args("SELECT changes, next_batch FROM cartera.apply_deferred($1, 'worker')",
									   1, argtypes, args, NULL, false, 1);
			if (rc != SPI_OK_SELECT || SPI_processed != 1)
				elog(ERROR, "cartera: cartera.apply_deferred() failed: %s", SPI_result_code_string(rc));
			applied = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			if (isnull)
				applied = 0;
			next = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
			if (!isnull)
				*next_batch = DatumGetInt32(next);
		}
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return applied;
}

void
cartera_deferred_worker_main(Datum main_arg)
{
	char		dbname[BGW_EXTRALEN];
	int			batch = deferred_batch_size;
	int			next_batch;

	strlcpy(dbname, MyBgworkerEntry->bgw_extra, sizeof(dbname));
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(dbname, deferred_role[0] != '\0' ? deferred_role : NULL, 0);
	pgstat_report_appname("cartera deferred worker");
	elog(LOG, "cartera deferred worker started for database \"%s\"", dbname);

	for (;;)
	{
		int64		applied;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		next_batch = deferred_batch_size;
		applied = apply_one_batch(batch, &next_batch);
		/* bigger while the queue is behind, the setting otherwise */
		batch = next_batch >= 1 ? next_batch : deferred_batch_size;
		if (applied > 0)
			continue;			/* more may be waiting: no pause */

		/* an empty queue, or cartera not installed (yet): look again later */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 applied < 0 ? Max(deferred_naptime, 5000) : deferred_naptime,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
