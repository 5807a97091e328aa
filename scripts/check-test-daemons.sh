#!/usr/bin/env bash
# Run by `make test` after the suite: fails if a daemon a test started (see Tests/TestSupport/ProcessReaper.swift)
# is still running once the test processes are gone, and lists those the reaper had to stop.
set -uo pipefail
root="${TMPDIR:-/tmp}/nephometer-test-daemons"
[ -d "$root" ] || exit 0
started() { [ -r "/proc/$1/stat" ] && sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $20}'; }
# Give the watchdogs of test processes that just ended time to finish.
for _ in $(seq 1 60); do
  busy=0
  for d in "$root"/*-*/; do
    [ -d "$d" ] || continue
    owner=$(basename "$d"); pid=${owner%%-*}; st=${owner#*-}
    if [ "$(started "$pid")" != "$st" ]; then busy=1; fi
  done
  [ $busy -eq 0 ] && break
  sleep 0.5
done
left=0
for d in "$root"/*-*/; do
  [ -d "$d" ] || continue
  owner=$(basename "$d"); opid=${owner%%-*}; ost=${owner#*-}
  [ "$(started "$opid")" = "$ost" ] && continue   # a test process still running (not ours to judge)
  for f in "$d"*; do
    [ -f "$f" ] || continue
    pid=$(basename "$f"); read -r st name < "$f"
    if [ "$(started "$pid")" = "$st" ]; then
      echo "left running by the test suite: $name (pid $pid)" >&2
      left=1
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$d"
done
if [ -s "$root/reaped.log" ]; then
  echo "daemons the tests did not stop themselves (stopped by the reaper):" >&2
  cat "$root/reaped.log" >&2
  rm -f "$root/reaped.log"
fi
exit $left
