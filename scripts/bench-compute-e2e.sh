# End-to-end compute benchmark, sourced by scripts/bench-compute.sh with MODE=e2e or MODE=udp.
#
# Both agents run at the same time, side by side, on the same libvirt test-driver node file (N running
# domains, 2 disks and 2 interfaces each, Nova metadata), every INTERVAL (2 s) seconds, and publish to
# a sink of the same kind each (Benchmarks/peers/sample_sink.py; its CPU is not counted):
# - e2e: Nephometer `agent --namespaces compute` with a pipeline to `http://` (JSON lists of 50 sample
#   dicts, Ceilometer's body) vs collectd 5.12's virt plugin with write_http `Format "JSON"`.
# - udp: Nephometer to `udp://` (one signed msgpack datagram per sample, Ceilometer's protocol) vs
#   collectd's network plugin (binary protocol, many values per datagram).
# Meters: Ceilometer's default compute meters without the disk ones (collectd reads no disks on the
# test driver): power.state, cpu, memory.available, memory.usage, network.{incoming,outgoing}.{bytes,
# packets} — 12 samples per domain with 2 interfaces. collectd: ExtraStats "domain_state memory" (its
# cpu total, memory, interface octets/packets/errors/dropped; vCPU times by default).
# libvirt: by default (LIBVIRTD=true) each agent talks to a libvirtd of its own that serves the test
# driver (`test+unix:///node.xml?socket=...`), as on a hypervisor, where the domains live in libvirtd and
# not in the agent: opened in-process, the test driver's copy of 1000 domains alone is ~45 MiB of the
# agent's RSS (virsh: 64 MiB peak vs 20 MiB at 10 domains). The libvirtd's CPU is reported next to its
# agent's ("+libvirtd" column): calls an agent makes cost its daemon. LIBVIRTD=false opens it in-process.
# After WARMUP seconds, CPU (utime+stime from /proc/PID/stat) over WINDOW seconds and VmHWM at its end,
# for each process, RUNS times per size; the table gives medians.
#   MODE=e2e SIZES="10 100 1000" RUNS=3 WINDOW=30 scripts/bench-compute.sh
INTERVAL=${INTERVAL:-2}
WARMUP=${WARMUP:-8}
WINDOW=${WINDOW:-30}
RUNS=${RUNS:-3}
PEER_BUFFER=${PEER_BUFFER:-65536}   # write_http BufferSize (collectd's default is 4096: more, smaller POSTs)
METERS="power.state cpu memory.available memory.usage network.incoming.bytes network.incoming.packets network.outgoing.bytes network.outgoing.packets"

LIBVIRTD=${LIBVIRTD:-true}
E2E_PIDS=()
source scripts/libvirtd-test.sh   # start_libvirtd DIR
e2e_cleanup() { for p in "${E2E_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap 'e2e_cleanup; cleanup' EXIT


for n in $SIZES; do
  [ -f "$W/node.$n.xml" ] || "$TESTBED" libvirt-node --domains "$n" --disks 2 --interfaces 2 --output "$W/node.$n.xml" >/dev/null
done

kind=http; [ "$MODE" = udp ] && kind=udp
: > "$W/e2e.txt"
for n in $SIZES; do
  for run in $(seq 1 "$RUNS"); do
    d="$W/e2e.$MODE.$n.$run"; rm -rf "$d"; mkdir -p "$d/spool"
    np=$(free_port); cp=$(free_port)
    python3 Benchmarks/peers/sample_sink.py "$kind" "$np" "$d/nephometer.counts" & E2E_PIDS+=($!)
    python3 Benchmarks/peers/sample_sink.py "$kind" "$cp" "$d/collectd.counts" & E2E_PIDS+=($!)
    if [ "$kind" = http ]; then publisher="http://127.0.0.1:$np/v1/samples"; else publisher="udp://127.0.0.1:$np"; fi
    cat > "$d/nephometer.yaml" <<EOF
log_level: warning
polling: {jitter: 0, batch_size: 50}
publisher: {spool_directory: $d/spool, telemetry_secret: bench-secret}
EOF
    { echo "sources:"; echo "  - name: bench"; echo "    interval: $INTERVAL"; echo "    meters:"
      for m in $METERS; do echo "      - $m"; done; } > "$d/polling.yaml"
    cat > "$d/pipeline.yaml" <<EOF
sources: [{name: s, meters: ["*"], sinks: [k]}]
sinks: [{name: k, publishers: ["$publisher"]}]
EOF
    if [ "$kind" = http ]; then
      writer="LoadPlugin write_http
<Plugin write_http>
  <Node \"sink\">
    URL \"http://127.0.0.1:$cp/\"
    Format \"JSON\"
    BufferSize $PEER_BUFFER
  </Node>
</Plugin>"
    else
      writer="LoadPlugin network
<Plugin network>
  Server \"127.0.0.1\" \"$cp\"
</Plugin>"
    fi
    nl=""; cl=""; nuri="test://$W/node.$n.xml"; curi="$nuri"
    if [ "$LIBVIRTD" = true ]; then
      nl=$(start_libvirtd "$d/libvirtd-n"); E2E_PIDS+=($nl); nuri="test+unix://$W/node.$n.xml?socket=$d/libvirtd-n/run/libvirt-sock-ro"
      cl=$(start_libvirtd "$d/libvirtd-c"); E2E_PIDS+=($cl); curi="test+unix://$W/node.$n.xml?socket=$d/libvirtd-c/run/libvirt-sock-ro"
    fi
    { collectd_head "$d" "$INTERVAL"; collectd_virt "$curi" 60 false "domain_state memory"; echo "$writer"; } > "$d/collectd.conf"
    "$NEPHOMETER" agent --namespaces compute --config "$d/nephometer.yaml" --polling "$d/polling.yaml" \
      --pipeline "$d/pipeline.yaml" --libvirt-uri "$nuri" --host bench-host 2>"$d/nephometer.log" &
    npid=$!; E2E_PIDS+=($npid)
    collectd -f -C "$d/collectd.conf" >"$d/collectd.stdout" 2>&1 &
    cpid=$!; E2E_PIDS+=($cpid)
    sleep "$WARMUP"
    for p in $npid $cpid; do kill -0 "$p" 2>/dev/null || { echo "a peer exited: $(tail -5 "$d"/*.log)" >&2; exit 1; }; done
    lticks() { if [ -n "$1" ]; then ticks "$1"; else echo 0; fi; }
    n0=$(ticks $npid); c0=$(ticks $cpid); nl0=$(lticks "$nl"); cl0=$(lticks "$cl")
    nv0=$(count "$d/nephometer.counts" values); cv0=$(count "$d/collectd.counts" values)
    nr0=$(count "$d/nephometer.counts" requests); cr0=$(count "$d/collectd.counts" requests)
    sleep "$WINDOW"
    n1=$(ticks $npid); c1=$(ticks $cpid); nh=$(hwm $npid); ch=$(hwm $cpid); nl1=$(lticks "$nl"); cl1=$(lticks "$cl")
    sleep 1.2   # the sinks write their counts every second
    nv1=$(count "$d/nephometer.counts" values); cv1=$(count "$d/collectd.counts" values)
    nr1=$(count "$d/nephometer.counts" requests); cr1=$(count "$d/collectd.counts" requests)
    e2e_cleanup; wait 2>/dev/null || true; E2E_PIDS=()
    awk -v n="$n" -v run="$run" -v hz="$HZ" -v w="$WINDOW" -v iv="$INTERVAL" \
        -v nc=$((n1 - n0)) -v cc=$((c1 - c0)) -v nlc=$((nl1 - nl0)) -v clc=$((cl1 - cl0)) -v nh="$nh" -v ch="$ch" \
        -v nv=$((nv1 - nv0)) -v cv=$((cv1 - cv0)) -v nr=$((nr1 - nr0)) -v cr=$((cr1 - cr0)) 'BEGIN {
      cycles = w / iv
      printf "e2e domains=%d run=%d neph_cpu=%.4f collectd_cpu=%.4f ratio=%.2f neph_libvirtd_cpu=%.4f collectd_libvirtd_cpu=%.4f neph_rss_mib=%.1f collectd_rss_mib=%.1f neph_values=%d collectd_values=%d neph_messages=%d collectd_messages=%d\n",
             n, run, nc / hz / cycles, cc / hz / cycles, (cc > 0 ? nc / cc : 0), nlc / hz / cycles, clc / hz / cycles, nh / 1024, ch / 1024, nv / cycles, cv / cycles, nr / cycles, cr / cycles }' \
      | tee -a "$W/e2e.txt"
  done
done

echo
awk -v mode="$MODE" -v iv="$INTERVAL" -v w="$WINDOW" "$AWK_RESULTS"'
  { d = get($0, "domains"); if (!(d in seen)) { seen[d] = 1; order[++m] = d }
    for (f = 1; f <= 11; f++) { split("neph_libvirtd_cpu collectd_libvirtd_cpu neph_cpu collectd_cpu ratio neph_rss_mib collectd_rss_mib neph_values collectd_values neph_messages collectd_messages", keys, " "); v[d, keys[f]] = v[d, keys[f]] " " get($0, keys[f]) }
    runs[d]++ }
  END {
    printf "| domains | runs | Nephometer CPU s/cycle | collectd CPU s/cycle | ratio (median of runs) | +libvirtd: Nephometer; collectd | Nephometer peak RSS MiB | collectd peak RSS MiB | samples/cycle (Nephometer) | values/cycle (collectd) | %s/cycle (Nephometer; collectd) |\n", mode == "udp" ? "datagrams" : "POSTs"
    printf "|---|---|---|---|---|---|---|---|---|---|---|\n"
    for (i = 1; i <= m; i++) { d = order[i]
      printf "| %s | %d | %.4f | %.4f | **%.2f** | %.4f; %.4f | %.1f | %.1f | %d | %d | %d; %d |\n", d, runs[d], median(v[d, "neph_cpu"]), median(v[d, "collectd_cpu"]),
             median(v[d, "ratio"]), median(v[d, "neph_libvirtd_cpu"]) + median(v[d, "neph_cpu"]), median(v[d, "collectd_libvirtd_cpu"]) + median(v[d, "collectd_cpu"]), median(v[d, "neph_rss_mib"]), median(v[d, "collectd_rss_mib"]), median(v[d, "neph_values"]),
             median(v[d, "collectd_values"]), median(v[d, "neph_messages"]), median(v[d, "collectd_messages"]) }
    printf "\n+libvirtd: the agent CPU plus that of its own libvirtd (LIBVIRTD=true).\nBoth at once, interval %s s, CPU over a %s s window after warm-up (/proc/PID/stat), peak RSS = VmHWM.\n", iv, w
  }' "$W/e2e.txt"
echo "results in $W/e2e.txt"
