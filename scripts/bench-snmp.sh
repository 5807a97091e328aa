#!/usr/bin/env bash
# SNMP polling benchmark: simulated hosts on 127.1.x.y:1161, Nephometer's hardware pollsters
# (`nephometer-bench snmp`) and, on the same hosts, the peer: collectd's snmp plugin (Debian
# collectd-core). Prints one table; figures are medians.
#   SIZES="100 1000 10000" CYCLES=4 PEER_SIZES="100 1000 10000" [PEER=none] scripts/bench-snmp.sh
# PEER_SIZES are also the sizes of the black-hole runs (10 % of the hosts silent).
# SIMULATOR=snmpd (default): $SNMPDS real net-snmp snmpd processes on 127.0.0.1, every host address
#   mapped onto one of them by an nftables DNAT rule (root; conntrack maps the replies back, so each
#   host answers from its own address). Every host serves the same, real agent data.
# SIMULATOR=snmpsim: snmpsim (PyPI) with $RESPONDERS responder processes bound to the host addresses,
#   serving one recorded host; ~1,400 requests/s per responder, too slow for 10 000 hosts here.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH MIBS=""
SIZES=${SIZES:-"100 1000 10000"}
PEER_SIZES=${PEER_SIZES:-"100 1000 10000"}
SIMULATOR=${SIMULATOR:-snmpd}
SNMPDS=${SNMPDS:-2}
RESPONDERS=${RESPONDERS:-4}
CYCLES=${CYCLES:-4}
PEER_INTERVAL=${PEER_INTERVAL:-}   # default: 10 s up to 2000 hosts, else 60 s (a read of 10 000 hosts takes ~13 s)
PEER_CYCLES=${PEER_CYCLES:-3}
W=${BENCH_DIR:-/tmp/nephometer-bench-snmp}
SCRATCH=${SCRATCH:-.build-hw}
MAX=0; for n in $SIZES $PEER_SIZES; do ((n > MAX)) && MAX=$n; done
mkdir -p "$W"; PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for f in "$W"/snmpd/pid.*; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  [ "$SIMULATOR" = snmpd ] && nft delete table ip nephometer_bench 2>/dev/null || true
}
trap cleanup EXIT
need() { command -v "$1" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }
need snmpd snmpd; need snmpget snmp; need collectd collectd-core
[ "$SIMULATOR" = snmpd ] && need nft nftables

if [ -z "${BENCH:-}" ]; then
  scripts/release-build.sh --scratch-path "$SCRATCH" --product nephometer-bench >/dev/null
  BENCH="$SCRATCH/release/nephometer-bench"
fi

ep() { echo "127.1.$(( $1 / 250 )).$(( $1 % 250 + 1 ))"; }
if [ "$SIMULATOR" = snmpsim ]; then
# 1. snmpsim in a venv on Debian's python (it drops privileges to nobody, who cannot read pyenv's).
if [ ! -x "$W/venv/bin/snmpsim-command-responder" ]; then
  /usr/bin/python3 -m venv "$W/venv"
  "$W/venv/bin/pip" install -q snmpsim pysmi
fi

# 2. One host's data, recorded from a real snmpd (snmpsim's recorder is broken with pysnmp 7).
if [ ! -s "$W/data/public.snmprec" ]; then
  mkdir -p "$W/rec/conf" "$W/rec/persist" "$W/data"
  printf 'view all included .1\nrocommunity public 127.0.0.1 -V all\nload 12 10 5\ndisk / 10000\n' > "$W/rec/conf/snmpd.conf"
  SNMPCONFPATH="$W/rec/conf:$W/rec/persist" SNMP_PERSISTENT_DIR="$W/rec/persist" \
    snmpd -Lf "$W/rec/log" -p "$W/rec/pid" -I -smux,mteTrigger,mteTriggerConf udp:127.0.0.1:21199
  sleep 1
  for t in .1.3.6.1.2.1.1 .1.3.6.1.2.1.2 .1.3.6.1.2.1.4.3 .1.3.6.1.2.1.4.10 .1.3.6.1.2.1.4.20 .1.3.6.1.2.1.31 .1.3.6.1.4.1.2021.4 \
           .1.3.6.1.4.1.2021.9 .1.3.6.1.4.1.2021.10 .1.3.6.1.4.1.2021.11 .1.3.6.1.4.1.2021.13.15; do
    snmpbulkwalk -v2c -c public -On -Ox -Oe -Ot 127.0.0.1:21199 "$t"
  done > "$W/rec/walk.txt"
  kill "$(cat "$W/rec/pid")"
  /usr/bin/python3 - "$W/rec/walk.txt" > "$W/data/public.snmprec" <<'PY'
import sys
tags = {"INTEGER": "2", "STRING": "4", "Hex-STRING": "4x", "OID": "6", "IpAddress": "64", "Counter32": "65",
        "Gauge32": "66", "Timeticks": "67", "Counter64": "70"}
rows, cur = [], None
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line.startswith("."):
        oid, _, rest = line.partition(" = ")
        typ, _, val = rest.partition(": ")
        if not val and rest == '""': typ, val = "Hex-STRING", ""
        cur = [oid[1:], typ, val]; rows.append(cur)
    elif cur is not None:
        cur[2] += " " + line.strip()
for oid, typ, val in rows:
    if typ not in tags: continue
    if typ in ("Hex-STRING",): val = val.replace(" ", "").lower()
    if typ == "STRING": typ, val = "Hex-STRING", val.strip('"').encode().hex()
    if typ == "Timeticks": val = val.strip("()").split(")")[0]
    if typ == "OID": val = val.lstrip(".")
    print(f"{oid}|{tags[typ]}|{val}")
PY
fi

# 3. Endpoints: host i on 127.1.(i/250).(i%250+1):1161, split over $RESPONDERS processes.
mkdir -p "$W/cache" "$W/logs"; chmod -R a+rwX "$W/cache" "$W/data" "$W/logs"; chmod a+rx "$W"; chmod -R a+rX "$W/venv"
for r in $(seq 0 $((RESPONDERS - 1))); do
  : > "$W/endpoints.$r"
  for i in $(seq "$r" "$RESPONDERS" $((MAX - 1))); do echo "--agent-udpv4-endpoint=$(ep "$i"):1161" >> "$W/endpoints.$r"; done
  (cd "$W" && exec "$W/venv/bin/snmpsim-command-responder" --process-user=nobody --process-group=nogroup \
     --data-dir="$W/data" --cache-dir="$W/cache" --args-from-file="$W/endpoints.$r" \
     --logging-method=file:"$W/logs/responder.$r.log" --log-level=error) &
  PIDS+=($!)
done
  READY=$(for r in $(seq 0 $((RESPONDERS - 1))); do tail -1 "$W/endpoints.$r" | sed 's/.*=//'; done)
else
  # 1-3. $SNMPDS snmpd processes on 127.0.0.1:21161...; host i's address 127.1.(i/250).(i%250+1) is
  # DNATed to instance (i/250) / per, so the hosts are split in blocks of third octets.
  mkdir -p "$W/snmpd"
  # One socket stands for thousands of hosts: give it the receive buffer they would have together.
  sysctl -qw net.core.rmem_max=33554432 net.core.wmem_max=33554432
  printf 'view all included .1\nrocommunity public default -V all\nload 12 10 5\ndisk / 10000\n[snmp] serverRecvBuf 16777216\n[snmp] serverSendBuf 16777216\n' > "$W/snmpd/snmpd.conf"
  octets=$(( (MAX - 1) / 250 + 1 )); per=$(( (octets + SNMPDS - 1) / SNMPDS ))
  rules="table ip nephometer_bench {
  chain output {
    type nat hook output priority -100; policy accept;"
  READY=""
  for k in $(seq 0 $((SNMPDS - 1))); do
    port=$((21161 + k)); lo=$((k * per)); hi=$(((k + 1) * per - 1))
    mkdir -p "$W/snmpd/persist.$k"
    SNMP_PERSISTENT_DIR="$W/snmpd/persist.$k" snmpd -C -c "$W/snmpd/snmpd.conf" -Lf "$W/snmpd/log.$k" \
      -p "$W/snmpd/pid.$k" -I -smux,mteTrigger,mteTriggerConf "udp:127.0.0.1:$port"
    rules+="
    ip daddr 127.1.$lo.0-127.1.$hi.255 udp dport 1161 dnat to 127.0.0.1:$port"
    READY+=" 127.1.$lo.1"
  done
  rules+="
  }
}"
  nft delete table ip nephometer_bench 2>/dev/null || true
  echo "$rules" | nft -f -
fi
# Black holes: bound sockets on 127.2.x.y:1161 that never answer.
/usr/bin/python3 - "$MAX" <<'PY' &
import socket, sys, time
n = max(1, int(sys.argv[1]) // 10)
socks = []
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((f"127.2.{i // 250}.{i % 250 + 1}", 1161)); socks.append(s)
time.sleep(7 * 24 * 3600)
PY
PIDS+=($!)
for last in $READY; do
  for _ in $(seq 1 240); do snmpget -v2c -c public -r0 -t0.5 "$last:1161" .1.3.6.1.2.1.1.3.0 >/dev/null 2>&1 && break; sleep 0.5; done
done

urls() { # count, black-holed count
  local n=$1 b=${2:-0}
  for i in $(seq 0 $((n - b - 1))); do echo "snmp://$(ep "$i"):1161?timeout=2&retries=1"; done
  for i in $(seq 0 $((b - 1))); do echo "snmp://127.2.$(( i / 250 )).$(( i % 250 + 1 )):1161?timeout=1&retries=1"; done
}

# 4. Nephometer.
for n in $SIZES; do
  urls "$n" > "$W/urls.$n"
  "$BENCH" snmp --urls "$W/urls.$n" --cycles "$CYCLES" --window "${WINDOW:-200}" --label "nephometer" | tee -a "$W/results.txt"
done
for n in $PEER_SIZES; do
  b=$((n / 10)); urls $((n - b)) > "$W/urls.live.$n"; urls "$n" "$b" > "$W/urls.hole.$n"
  "$BENCH" snmp --urls "$W/urls.live.$n" --cycles "$CYCLES" --window "${WINDOW:-200}" --label "nephometer-live-only" | tee -a "$W/results.txt"
  "$BENCH" snmp --urls "$W/urls.hole.$n" --cycles "$CYCLES" --window "${WINDOW:-200}" --label "nephometer-10%-black-holed" | tee -a "$W/results.txt"
done

# 5. The peer: collectd's snmp plugin, same OIDs (one Data block per scalar, GETNEXT tables), same hosts.
peer() {
  local n=$1 conf="$W/collectd.$1.conf" interval=${PEER_INTERVAL:-$(( $1 > 2000 ? 60 : 10 ))}
  {
    echo "Interval $interval"; echo "ReadThreads 64"; echo "Timeout 2"
    printf 'LoadPlugin unixsock\n<Plugin unixsock>\nSocketFile "%s"\n</Plugin>\n' "$W/collectd.sock"
    echo 'LoadPlugin snmp'; echo '<Plugin snmp>'
    echo '<Data "load">
Type "load"
Table false
Values ".1.3.6.1.4.1.2021.10.1.3.1" ".1.3.6.1.4.1.2021.10.1.3.2" ".1.3.6.1.4.1.2021.10.1.3.3"
</Data>'
    for o in 11.9.0 11.11.0 11.50.0 11.51.0 11.52.0 11.53.0 11.54.0 11.55.0 11.56.0 11.57.0 11.58.0 4.3.0 4.4.0 4.5.0 4.6.0 4.14.0 4.15.0; do
      printf '<Data "ucd%s">\nType "gauge"\nTable false\nInstance "%s"\nValues ".1.3.6.1.4.1.2021.%s"\n</Data>\n' "$o" "$o" "$o"
    done
    for o in 4.3.0 4.10.0; do printf '<Data "ip%s">\nType "derive"\nTable false\nInstance "%s"\nValues ".1.3.6.1.2.1.%s"\n</Data>\n' "$o" "$o" "$o"; done
    echo '<Data "if_octets">
Type "if_octets"
Table true
Instance ".1.3.6.1.2.1.31.1.1.1.1"
Values ".1.3.6.1.2.1.31.1.1.1.6" ".1.3.6.1.2.1.31.1.1.1.10"
</Data>
<Data "if_errors">
Type "derive"
Table true
Instance ".1.3.6.1.2.1.2.2.1.2"
Values ".1.3.6.1.2.1.2.2.1.20"
</Data>
<Data "disk_size">
Type "gauge"
Table true
Instance ".1.3.6.1.4.1.2021.9.1.3"
Values ".1.3.6.1.4.1.2021.9.1.6"
</Data>
<Data "disk_used">
Type "gauge"
Table true
Instance ".1.3.6.1.4.1.2021.9.1.3"
Values ".1.3.6.1.4.1.2021.9.1.8"
</Data>
<Data "disk_octets">
Type "disk_octets"
Table true
Instance ".1.3.6.1.4.1.2021.13.15.1.1.2"
Values ".1.3.6.1.4.1.2021.13.15.1.1.12" ".1.3.6.1.4.1.2021.13.15.1.1.13"
</Data>
<Data "disk_ops">
Type "disk_ops"
Table true
Instance ".1.3.6.1.4.1.2021.13.15.1.1.2"
Values ".1.3.6.1.4.1.2021.13.15.1.1.5" ".1.3.6.1.4.1.2021.13.15.1.1.6"
</Data>'
    for i in $(seq 0 $((n - 1))); do
      printf '<Host "h%s">\nAddress "%s:1161"\nVersion 2\nCommunity "public"\nCollect "load"' "$i" "$(ep "$i")"
      for o in 11.9.0 11.11.0 11.50.0 11.51.0 11.52.0 11.53.0 11.54.0 11.55.0 11.56.0 11.57.0 11.58.0 4.3.0 4.4.0 4.5.0 4.6.0 4.14.0 4.15.0; do printf ' "ucd%s"' "$o"; done
      printf ' "ip4.3.0" "ip4.10.0" "if_octets" "if_errors" "disk_size" "disk_used" "disk_octets" "disk_ops"\n</Host>\n'
    done
    echo '</Plugin>'
  } > "$conf"
  rm -f "$W/collectd.sock"
  collectd -f -C "$conf" >"$W/collectd.$n.log" 2>&1 &
  local pid=$!
  # Its reads start at 0, interval, 2 × interval...: just before read PEER_CYCLES + 1 starts, the CPU
  # it used is that of PEER_CYCLES whole reads (the first one with its start-up).
  sleep $(( interval * PEER_CYCLES - 1 ))
  local ticks; ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  local rss; rss=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
  # Every host must have values from the last read, or the figure would flatter collectd.
  local fresh; fresh=$(/usr/bin/python3 - "$W/collectd.sock" "$interval" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
f.write("LISTVAL\n"); f.flush()
n = int(f.readline().split()[0]); now = time.time(); last = {}
for _ in range(n):
    t, ident = f.readline().split(" ", 1); h = ident.split("/")[0]; last[h] = max(last.get(h, 0), float(t))
print(sum(1 for t in last.values() if now - t < float(sys.argv[2])))
PY
)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local hz; hz=$(getconf CLK_TCK)
  echo "collectd-snmp hosts=$n cycles=$PEER_CYCLES (interval $interval s; its first read at start); hosts with values from the last read: $fresh"
  awk -v t="$ticks" -v hz="$hz" -v n="$n" -v c="$PEER_CYCLES" \
    'BEGIN { printf "  cpu_ms_per_host_cycle %.3f (cpu %.2f s over %d reads of %d hosts)\n", t / hz / n / c * 1000, t / hz, c, n }'
  echo "  peak_rss_mib $rss"
}
if [ "${PEER:-collectd}" = collectd ]; then
  for n in $PEER_SIZES; do peer "$n" | tee -a "$W/results.txt"; done
fi
echo; echo "results in $W/results.txt"
