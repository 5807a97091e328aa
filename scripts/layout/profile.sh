#!/usr/bin/env bash
# Writes scripts/layout/hot-functions.txt: every function the agents run, the most instructions first,
# recorded by valgrind's callgrind from a release binary (scripts/release-build.sh) in two runs:
# - the compute agent, 100 test-driver domains behind a libvirtd, every default compute meter but the
#   disk ones, to http://, udp:// (Benchmarks/peers/sample_sink.py) and file:// at once;
# - the central agent, the hardware.* meters of one snmpd, to file://.
# Each run starts, polls for WINDOW seconds of wall time (cycles are ~50 times slower under callgrind)
# and stops on SIGINT, so startup and shutdown are in the list too.
#   scripts/layout/profile.sh [BINARY]        # then rebuild: scripts/release-build.sh
# Needs valgrind, libvirtd, snmpd (scripts/install-deps.sh). Root (libvirtd in a mount namespace).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-.build/release/nephometer}
TESTBED=${TESTBED:-$(dirname "$BIN")/nephometer-testbed}
WINDOW=${WINDOW:-40}
W=$(mktemp -d "${TMPDIR:-/tmp}/nephometer-layout.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ ! -f "$W/snmpd.pid" ] || kill "$(cat "$W/snmpd.pid")" 2>/dev/null || true
  sleep 0.5; rm -rf "$W"
}
trap cleanup EXIT
source scripts/libvirtd-test.sh
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
for tool in valgrind libvirtd snmpd; do command -v "$tool" >/dev/null || { echo "$tool is missing: run scripts/install-deps.sh" >&2; exit 1; }; done

# valgrind 3.19 cannot read clang 21's DWARF 5; it needs only the symbol table.
objcopy --strip-debug "$BIN" "$W/nephometer"
callgrind() { local out=$1; shift
  valgrind -q --tool=callgrind --demangle=no --callgrind-out-file="$out" "$W/nephometer" "$@" 2>>"$W/valgrind.log" &
  local pid=$!; PIDS+=($pid); sleep "$WINDOW"; kill -INT "$pid"; wait "$pid" || true
  grep -q '^totals:' "$out" || { echo "callgrind wrote no profile to $out: $(tail -5 "$W/valgrind.log")" >&2; exit 1; }
}

# 1. Compute agent.
"$TESTBED" libvirt-node --domains 100 --disks 2 --interfaces 2 --output "$W/node.xml" >/dev/null
hp=$(free_port); up=$(free_port)
python3 Benchmarks/peers/sample_sink.py http "$hp" "$W/http.counts" & PIDS+=($!)
python3 Benchmarks/peers/sample_sink.py udp "$up" "$W/udp.counts" & PIDS+=($!)
lv=$(start_libvirtd "$W/libvirtd"); PIDS+=($lv)
mkdir -p "$W/spool"
printf 'log_level: warning\npolling: {jitter: 0, batch_size: 50}\npublisher: {spool_directory: %s/spool, telemetry_secret: s}\n' "$W" > "$W/nephometer.yaml"
cat > "$W/compute.yaml" <<EOF
sources:
  - name: compute
    interval: 2
    meters: [power.state, cpu, memory.available, memory.usage, "network.*"]
EOF
cat > "$W/pipeline.yaml" <<EOF
sources: [{name: s, meters: ["*"], sinks: [k]}]
sinks: [{name: k, publishers: ["http://127.0.0.1:$hp/v1/samples", "udp://127.0.0.1:$up", "file://$W/samples.log"]}]
EOF
callgrind "$W/compute.out" agent --namespaces compute --config "$W/nephometer.yaml" --polling "$W/compute.yaml" \
  --pipeline "$W/pipeline.yaml" --libvirt-uri "test+unix://$W/node.xml?socket=$W/libvirtd/run/libvirt-sock-ro" --host layout-host

# 2. Central agent.
sp=$(free_port); mkdir -p "$W/snmpd"
printf 'rocommunity public 127.0.0.1\nload 12 10 5\ndisk / 10000\n' > "$W/snmpd/snmpd.conf"
SNMPCONFPATH="$W/snmpd" SNMP_PERSISTENT_DIR="$W/snmpd" snmpd -Lf "$W/snmpd/log" -p "$W/snmpd.pid" -I -smux,mteTrigger,mteTriggerConf "udp:127.0.0.1:$sp"
cat > "$W/central.yaml" <<EOF
sources:
  - name: hardware
    interval: 2
    meters: ["hardware.*"]
    resources: ["snmp://127.0.0.1:$sp"]
EOF
callgrind "$W/central.out" agent --namespaces central --config "$W/nephometer.yaml" --polling "$W/central.yaml" \
  --pipeline "$W/pipeline.yaml" --host layout-host

for f in http.counts udp.counts samples.log; do [ -s "$W/$f" ] || { echo "nothing reached $f: the profile would miss publishing" >&2; exit 1; }; done

# 3. Exclusive instruction counts per function over both runs, highest first. callgrind names a function
# once per file as "fn=(id) name" (later "fn=(id)"); cost lines follow it, and the line after "calls="
# is the callee's inclusive cost, which is not counted.
python3 - "$W/compute.out" "$W/central.out" > scripts/layout/hot-functions.txt <<'PY'
import re, sys, collections
cost = collections.Counter()
for path in sys.argv[1:]:
    names, current, call = {}, None, False
    for line in open(path, errors="replace"):
        m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if m:
            kind, ident, name = m.groups()
            if name:
                names[ident] = name.split("'")[0]
            if kind == "fn":
                current = names.get(ident)
            cost[names.get(ident)] += 0
        elif line.startswith("calls="):
            call = True
        elif line[:1].isdigit() or line[:1] in "+-*":
            if call:
                call = False
            elif current:
                fields = line.split()
                if len(fields) > 1 and fields[1].isdigit():
                    cost[current] += int(fields[1])
for name, _ in cost.most_common():
    if name and not name.startswith("0x"):
        print(name)
PY
echo "scripts/layout/hot-functions.txt: $(wc -l < scripts/layout/hot-functions.txt) functions"
