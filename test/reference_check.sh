#!/usr/bin/env bash
# docs/reference.md names every object of the extension, and nothing else:
# tools/reference --check compares it with the catalog of a fresh CREATE
# EXTENSION cartera in a scratch database of its own (dropped at the end),
# against the cluster in $PG* (tools/run-suites); prints TAP.
exec "$(dirname "$0")/../tools/reference" --check "$@"
