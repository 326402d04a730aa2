# cartera — PGXS build.  Warnings are made fatal in CI (.ci/run passes
# PG_CFLAGS), not here, so a newer compiler never breaks a user's build.

EXTENSION = cartera
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big = cartera
OBJS = src/cartera.o src/guc.o src/exact_sum.o src/rfm_state.o src/rfm.o \
       src/lifecycle.o src/clv.o src/scoring.o src/segment.o \
       src/optimize.o src/quadrature.o src/interval.o src/btyd.o src/pareto_nbd.o src/mbgnbd.o src/hyp2f1.o \
       src/btyd_agg.o src/btyd_predict.o \
       src/state_trigger.o src/deferred_worker.o src/partial_agg.o src/portfolio_setting.o \
       src/bgbb.o src/bgbb_sql.o src/sbg.o src/sbg_sql.o

# The scripts we edit: sql/cartera.sql (the C core's objects) and the
# portfolio layer (PORTFOLIO_SQL below).  The install script of the current
# version is all of them together.  Released scripts are frozen files:
# sql/cartera--0.1.0.sql, sql/cartera--0.2.0.sql and the upgrades
# sql/cartera--A--B.sql; the upgrade to the current version is written by
# hand (CREATE OR REPLACE of what changed since the last release).
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA = $(filter-out $(DATA_built), $(wildcard sql/$(EXTENSION)--*.sql))

# Every other sql/NAME.sql is a regression test with expected/NAME.out;
# "setup" (CREATE EXTENSION) runs first.
TESTS = $(filter-out setup, $(sort $(patsubst sql/%.sql,%,$(filter-out sql/$(EXTENSION)%, $(wildcard sql/*.sql)))))
REGRESS = setup $(TESTS)
REGRESS_OPTS = --inputdir=. --load-extension=plpgsql

# Isolation specs live in test/specs/, their expected output in test/expected/.
ISOLATION := $(patsubst test/specs/%.spec,%,$(wildcard test/specs/*.spec))
ISOLATION_OPTS = --inputdir=test --load-extension=cartera

EXTRA_CLEAN = results regression.diffs regression.out output_iso

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# the portfolio layer (since 0.2.0), in dependency order
PORTFOLIO_SQL = sql/$(EXTENSION)_portfolio.sql sql/$(EXTENSION)_model_choice.sql sql/$(EXTENSION)_alerts.sql \
                sql/$(EXTENSION)_followups.sql sql/$(EXTENSION)_deferred.sql sql/$(EXTENSION)_shards.sql sql/$(EXTENSION)_views.sql sql/$(EXTENSION)_security.sql

sql/$(EXTENSION)--$(EXTVERSION).sql: sql/$(EXTENSION).sql sql/$(EXTENSION)_models.sql $(PORTFOLIO_SQL)
	cat $^ > $@

