#!/usr/bin/env bash
# Compute polling benchmark: libvirt test-driver node files with N running domains (2 disks and 2
# interfaces each, Nova metadata), polled by Nephometer's compute pollsters (`nephometer-bench compute`,
# every compute meter, cycles back to back) and, in the same run on the same files, by the peer:
# collectd's virt plugin (Debian collectd-core; Interval 10 s, no write plugin, CPU from /proc/PID/stat
# per interval). Prints one table; figures are medians.
#   SIZES="10 100 1000" CYCLES=6 PEER_INTERVALS=6 scripts/bench-compute.sh
#   MODE=e2e RUNS=3 scripts/bench-compute.sh     # end to end: agent process + HTTP JSON vs collectd + write_http
#   MODE=udp RUNS=3 scripts/bench-compute.sh     # end to end over UDP vs collectd's network plugin
#   MODE=qemu SIZES=10 RUNS=3 scripts/bench-compute.sh  # real libvirtd + TCG domains, one bulk call (scripts/bench-compute-qemu.sh)
#
# Notes on the peer's configuration (same libvirt calls as far as the test driver allows):
# - ExtraStats "domain_state memory vcpu disk_allocation disk_capacity disk_physical": power state,
#   virDomainMemoryStats and per-vCPU times on top of its default cpu total and interface counters.
# - ReportBlockDevices false by default (PEER_BLOCK=true to turn it on): collectd 5.12 reads disks only
#   through virDomainBlockStatsFlags, which the test driver does not implement, so with it on collectd
#   reads no disk at all and spends its time formatting the errors. Off, collectd does less work than
#   Nephometer (which reads block stats and block info of every disk); so Nephometer is also measured
#   without its disk.device.* meters ("like-collectd" rows).
# - RefreshInterval (REFRESH, default 60 s, collectd's default): collectd re-reads the domain list and
#   every domain's XML then; the median interval excludes it, the mean includes it.
# - collectd 5.12 knows 11 memory-stat tags and logs "Array index out of bounds: tag_index = 11/12"
#   (libvirt 9's hugetlb stats) twice per domain and read; that logging is part of its measured CPU.
# The test driver's bulk stats carry only domain state, so Nephometer reads it domain by domain; on
# QEMU one virConnectGetAllDomainStats call replaces those per-domain calls.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
MODE=${MODE:-polling}   # polling (this file), e2e / udp (scripts/bench-compute-e2e.sh), or qemu (scripts/bench-compute-qemu.sh)
SIZES=${SIZES:-"10 100 1000"}
CYCLES=${CYCLES:-6}
PEER_INTERVAL=${PEER_INTERVAL:-10}
PEER_INTERVALS=${PEER_INTERVALS:-6}
PEER_BLOCK=${PEER_BLOCK:-false}
REFRESH=${REFRESH:-60}
SCRATCH=${SCRATCH:-.build}
W=${BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/nephometer-bench-compute.XXXXXX")}
mkdir -p "$W"
PEER_PID=""
cleanup() { if [ -n "$PEER_PID" ]; then kill "$PEER_PID" 2>/dev/null || true; fi; }
trap cleanup EXIT

command -v collectd >/dev/null && [ -f /usr/lib/collectd/virt.so ] || {
  echo "collectd with its virt plugin is not installed (Debian package collectd-core): run scripts/install-deps.sh" >&2; exit 1; }

# collectd.conf pieces shared with scripts/bench-compute-e2e.sh: the head (dir, interval) and the virt
# plugin (connection, refresh interval, block devices, extra stats).
collectd_head() {
  printf '%s\n' 'Hostname "bench"' 'FQDNLookup false' "Interval $2" "BaseDir \"$1\"" "PIDFile \"$1/collectd.pid\"" \
    'PluginDir "/usr/lib/collectd"' 'TypesDB "/usr/share/collectd/types.db"' 'LoadPlugin logfile' '<Plugin logfile>' \
    '  LogLevel warning' "  File \"$1/collectd.log\"" '</Plugin>'
}
collectd_virt() {
  printf '%s\n' 'LoadPlugin virt' '<Plugin virt>' "  Connection \"$1\"" "  RefreshInterval $2" "  ReportBlockDevices $3" \
    "  ExtraStats \"$4\"" '</Plugin>'
}

# Shared with the sourced modes: a process's CPU ticks (utime + stime, fields 14 and 15 of
# /proc/PID/stat), its peak RSS in KiB, a free loopback port, one key=value of a sink's counts file;
# and, for their tables, awk's `get(line, key)` (a key=value of a result line) and `median(list)`.
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
count() { awk -v k="$2" '{ for (i = 1; i <= NF; i++) { split($i, a, "="); if (a[1] == k) print a[2] } }' "$1" 2>/dev/null || echo 0; }
AWK_RESULTS='
  function get(line, key,   i, a, k) { k = split(line, a, " "); for (i = 1; i <= k; i++) if (index(a[i], key "=") == 1) return substr(a[i], length(key) + 2); return "" }
  function median(list,   a, k, i, j, t) { k = split(list, a, " ")
    for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
'

if [ -z "${BENCH:-}" ]; then
  scripts/release-build.sh --scratch-path "$SCRATCH" --product nephometer-bench >/dev/null
  scripts/release-build.sh --scratch-path "$SCRATCH" --product nephometer-testbed >/dev/null
  [ "$MODE" = polling ] || scripts/release-build.sh --scratch-path "$SCRATCH" --product nephometer >/dev/null
  BENCH="$SCRATCH/release/nephometer-bench"
fi
TESTBED=${TESTBED:-$(dirname "$BENCH")/nephometer-testbed}
NEPHOMETER=${NEPHOMETER:-$(dirname "$BENCH")/nephometer}
HZ=$(getconf CLK_TCK)
if [ "$MODE" = qemu ]; then
  . scripts/bench-compute-qemu.sh
  exit 0
elif [ "$MODE" != polling ]; then
  . scripts/bench-compute-e2e.sh
  exit 0
fi

# 1. Node files (the same for both).
for n in $SIZES; do
  "$TESTBED" libvirt-node --domains "$n" --disks 2 --interfaces 2 --output "$W/node.$n.xml" >/dev/null
done

# 2. Nephometer: every compute meter, and the meters collectd reads here (no disk.device.*).
: > "$W/results.txt"
for n in $SIZES; do
  for set in all like-collectd; do
    [ "$set" = like-collectd ] && [ "$PEER_BLOCK" = true ] && continue
    extra=(); [ "$set" = like-collectd ] && extra=(--without disk.device.)
    "$BENCH" compute --node "$W/node.$n.xml" --cycles "$CYCLES" --label "domains=$n meters=$set" "${extra[@]}" | tee "$W/nephometer.$n.$set.txt"
    grep '^RESULT' "$W/nephometer.$n.$set.txt" | sed "s/^RESULT nephometer/nephometer domains=$n set=$set/" >> "$W/results.txt"
  done
done

# 3. The peer: collectd's virt plugin on the same node files.
peer() {
  local n=$1 d="$W/collectd.$n"
  mkdir -p "$d"
  { collectd_head "$d" "$PEER_INTERVAL"
    collectd_virt "test://$W/node.$n.xml" "$REFRESH" "$PEER_BLOCK" "domain_state memory vcpu disk_allocation disk_capacity disk_physical"
  } > "$d/collectd.conf"
  collectd -f -C "$d/collectd.conf" >"$d/stdout.log" 2>&1 &
  PEER_PID=$!
  # collectd reads once at start and then every interval: sample half an interval after each read,
  # so each window holds one read (a read that straddles a sample point still adds up to one).
  sleep "$(awk -v i="$PEER_INTERVAL" 'BEGIN { print i / 2 }')"
  kill -0 "$PEER_PID" 2>/dev/null || { echo "collectd exited: $(tail -5 "$d/stdout.log" "$d/collectd.log")" >&2; exit 1; }
  local first prev now windows=()
  first=$(ticks "$PEER_PID"); prev=$first
  for _ in $(seq 1 "$PEER_INTERVALS"); do
    sleep "$PEER_INTERVAL"
    now=$(ticks "$PEER_PID"); windows+=($((now - prev))); prev=$now
  done
  local hwm; hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$PEER_PID/status")
  kill "$PEER_PID"; wait "$PEER_PID" 2>/dev/null || true; PEER_PID=""
  printf '%s\n' "${windows[@]}" | sort -n | awk -v hz="$HZ" -v n="$n" -v first="$first" -v hwm="$hwm" -v k="$PEER_INTERVALS" '
    { v[NR] = $1; sum += $1 }
    END {
      med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "collectd domains=%d cpu=%.4f mean_cpu=%.4f first_cpu=%.4f min_cpu=%.4f max_cpu=%.4f rss_mib=%.1f intervals=%d\n",
             n, med / hz, sum / NR / hz, first / hz, v[1] / hz, v[NR] / hz, hwm / 1024, k }'
}
for n in $SIZES; do peer "$n" | tee -a "$W/results.txt"; done

# 4. The table.
echo
awk -v block="$PEER_BLOCK" -v refresh="$REFRESH" -v ticks="$HZ" -v interval="$PEER_INTERVAL" '
  function get(line, key,   i, a, n) { n = split(line, a, " "); for (i = 1; i <= n; i++) if (index(a[i], key "=") == 1) return substr(a[i], length(key) + 2); return "" }
  function ratio(a, b) { return (b + 0 > 0) ? sprintf("%.2f", a / b) : "n/a" }
  $1 == "nephometer" { d = get($0, "domains"); rows[++count] = $0 }
  $1 == "collectd"   { peer[get($0, "domains")] = $0 }
  END {
    printf "| domains | meters | Nephometer CPU s/cycle (median) | first cycle | wall s/cycle | samples/cycle | peak RSS MiB | collectd virt CPU s/interval (median) | mean incl. refresh | first interval | collectd peak RSS MiB | CPU ratio Nephometer/collectd (median; mean) |\n"
    printf "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    for (i = 1; i <= count; i++) {
      a = rows[i]; d = get(a, "domains"); b = peer[d]; nc = get(a, "cpu")
      printf "| %s | %s (%s) | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s; %s |\n", d, get(a, "set"), get(a, "meters"), nc, get(a, "first_cpu"),
             get(a, "wall"), get(a, "samples"), get(a, "rss_mib"), get(b, "cpu"), get(b, "mean_cpu"), get(b, "first_cpu"), get(b, "rss_mib"),
             ratio(nc, get(b, "cpu")), ratio(nc, get(b, "mean_cpu"))
    }
    printf "\nNephometer: cycles back to back, CPU from getrusage (user+sys, libvirt threads and test driver included).\n"
    printf "collectd: Interval %s s, CPU from /proc/PID/stat (resolution 1/%s s; n/a = below one tick per interval),\n", interval, ticks
    printf "ReportBlockDevices %s, RefreshInterval %s s (the mean includes its domain-list refreshes).\n", block, refresh
  }' "$W/results.txt"
echo "results in $W/results.txt"
