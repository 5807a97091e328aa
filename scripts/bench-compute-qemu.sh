# Real-QEMU compute benchmark, sourced by scripts/bench-compute.sh with MODE=qemu.
#
# One real libvirtd (QEMU driver, TCG guests that only run their BIOS) with N running domains (2 disks,
# 2 interfaces each, Nova metadata), made by `nephometer-testbed qemu-node` as the test suite makes
# them. Both agents poll the same domains through that libvirtd, one after the other, alternating
# RUNS times (Nephometer, collectd, Nephometer, ...), each publishing to a local sink:
# - Nephometer `agent --namespaces compute`, one virConnectGetAllDomainStats call per cycle for all
#   domains, to `http://` (JSON lists of 50 sample dicts);
# - collectd 5.12's virt plugin (per-domain calls) with write_http `Format "JSON"`.
# Meters: Ceilometer's default compute meters plus the four disk.device.* ones (12 + 4 x disks samples
# per domain; 18 with 2 disks and no guest balloon driver, which gives no memory.usage/available); collectd: ExtraStats "domain_state memory", block devices and interfaces on.
# After WARMUP seconds, CPU (utime+stime, /proc/PID/stat) over WINDOW seconds of the agent, of the
# libvirtd (what the agent's calls cost the daemon) and of all QEMU processes (guests and their
# monitors), per cycle; the table gives medians over the runs.
#   MODE=qemu SIZES="10" RUNS=3 WINDOW=30 scripts/bench-compute.sh
INTERVAL=${INTERVAL:-2}
WARMUP=${WARMUP:-6}
WINDOW=${WINDOW:-30}
RUNS=${RUNS:-3}
PEER_BUFFER=${PEER_BUFFER:-65536}
METERS="power.state cpu memory.available memory.usage network.incoming.bytes network.incoming.packets network.outgoing.bytes network.outgoing.packets disk.device.read.bytes disk.device.read.requests disk.device.write.bytes disk.device.write.requests"
Q_PIDS=()
q_cleanup() { for p in "${Q_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
NODE_PID=""
node_cleanup() { if [ -n "$NODE_PID" ]; then kill "$NODE_PID" 2>/dev/null || true; wait "$NODE_PID" 2>/dev/null || true; fi; }
trap 'q_cleanup; node_cleanup; cleanup' EXIT

sum_ticks() { local t=0 p; for p in "$@"; do t=$((t + $(ticks "$p"))); done; echo "$t"; }
field() { python3 -c "import json, sys; v = json.load(open(sys.argv[1]))[sys.argv[2]]; print(' '.join(map(str, v)) if isinstance(v, list) else v)" "$1" "$2"; }

: > "$W/qemu.txt"
for n in $SIZES; do
  d0="$W/qemu.$n"; rm -rf "$d0"; mkdir -p "$d0"
  # The node lives while the testbed's stdin is open (a fifo this shell holds).
  mkfifo "$d0/hold"
  "$TESTBED" qemu-node --domains "$n" --disks 2 --interfaces 2 --ready "$d0/ready.json" <"$d0/hold" >"$d0/node.log" 2>&1 &
  NODE_PID=$!
  exec 9>"$d0/hold"
  for _ in $(seq 1 600); do [ -f "$d0/ready.json" ] && break; kill -0 "$NODE_PID" 2>/dev/null || break; sleep 0.5; done
  [ -f "$d0/ready.json" ] || { echo "qemu-node did not start: $(tail -20 "$d0/node.log")" >&2; exit 1; }
  uri=$(field "$d0/ready.json" read_only_uri); lpid=$(field "$d0/ready.json" libvirtd_pid); read -r -a qpids <<<"$(field "$d0/ready.json" qemu_pids)"
  for run in $(seq 1 "$RUNS"); do
    for who in nephometer collectd; do
      d="$d0/$who.$run"; mkdir -p "$d/spool"
      port=$(free_port)
      python3 Benchmarks/peers/sample_sink.py http "$port" "$d/counts" 9>&- & Q_PIDS+=($!)
      if [ "$who" = nephometer ]; then
        printf '%s\n' 'log_level: warning' 'polling: {jitter: 0, batch_size: 50}' \
          "publisher: {spool_directory: $d/spool, telemetry_secret: bench-secret}" > "$d/nephometer.yaml"
        { echo "sources:"; echo "  - name: bench"; echo "    interval: $INTERVAL"; echo "    meters:"
          for m in $METERS; do echo "      - $m"; done; } > "$d/polling.yaml"
        printf '%s\n' 'sources: [{name: s, meters: ["*"], sinks: [k]}]' "sinks: [{name: k, publishers: [\"http://127.0.0.1:$port/v1/samples\"]}]" > "$d/pipeline.yaml"
        "$NEPHOMETER" agent --namespaces compute --config "$d/nephometer.yaml" --polling "$d/polling.yaml" \
          --pipeline "$d/pipeline.yaml" --libvirt-uri "$uri" --host bench-host 2>"$d/agent.log" 9>&- &
      else
        { collectd_head "$d" "$INTERVAL"; collectd_virt "$uri" 60 true "domain_state memory"
          printf '%s\n' 'LoadPlugin write_http' '<Plugin write_http>' '  <Node "sink">' "    URL \"http://127.0.0.1:$port/\"" \
            '    Format "JSON"' "    BufferSize $PEER_BUFFER" '  </Node>' '</Plugin>'; } > "$d/collectd.conf"
        collectd -f -C "$d/collectd.conf" >"$d/agent.log" 2>&1 9>&- &
      fi
      apid=$!; Q_PIDS+=($apid)
      sleep "$WARMUP"
      kill -0 "$apid" 2>/dev/null || { echo "$who exited: $(tail -5 "$d/agent.log")" >&2; exit 1; }
      a0=$(ticks "$apid"); l0=$(ticks "$lpid"); q0=$(sum_ticks "${qpids[@]}"); v0=$(count "$d/counts" values); r0=$(count "$d/counts" requests)
      sleep "$WINDOW"
      a1=$(ticks "$apid"); l1=$(ticks "$lpid"); q1=$(sum_ticks "${qpids[@]}"); h=$(hwm "$apid")
      sleep 1.2   # the sink writes its counts every second
      v1=$(count "$d/counts" values); r1=$(count "$d/counts" requests)
      q_cleanup; wait "${Q_PIDS[@]}" 2>/dev/null || true; Q_PIDS=()
      awk -v who="$who" -v n="$n" -v run="$run" -v hz="$HZ" -v w="$WINDOW" -v iv="$INTERVAL" -v a=$((a1 - a0)) -v l=$((l1 - l0)) \
          -v q=$((q1 - q0)) -v h="$h" -v v=$((v1 - v0)) -v r=$((r1 - r0)) 'BEGIN { c = w / iv
        printf "qemu who=%s domains=%d run=%d cpu=%.4f libvirtd_cpu=%.4f qemu_cpu=%.4f rss_mib=%.1f values=%d posts=%d\n",
               who, n, run, a / hz / c, l / hz / c, q / hz / c, h / 1024, v / c, r / c }' | tee -a "$W/qemu.txt"
    done
  done
  exec 9>&-; wait "$NODE_PID" 2>/dev/null || true; NODE_PID=""
done

echo
awk -v iv="$INTERVAL" -v w="$WINDOW" "$AWK_RESULTS"'
  { n = get($0, "domains"); who = get($0, "who"); if (!(n in seen)) { seen[n] = 1; order[++m] = n }
    split("cpu libvirtd_cpu qemu_cpu rss_mib values posts", keys, " ")
    for (f = 1; f <= 6; f++) v[n, who, keys[f]] = v[n, who, keys[f]] " " get($0, keys[f])
    if (who == "nephometer") runs[n]++ }
  END {
    printf "| domains | runs | Nephometer CPU s/cycle | collectd CPU s/cycle | ratio | + libvirtd: Nephometer; collectd | ratio with libvirtd | QEMU processes s/cycle (N; c) | peak RSS MiB (N; c) | samples/cycle (N); values/cycle (c) | POSTs/cycle (N; c) |\n"
    printf "|---|---|---|---|---|---|---|---|---|---|---|\n"
    for (i = 1; i <= m; i++) { n = order[i]
      nc = median(v[n, "nephometer", "cpu"]); cc = median(v[n, "collectd", "cpu"])
      nl = median(v[n, "nephometer", "libvirtd_cpu"]); cl = median(v[n, "collectd", "libvirtd_cpu"])
      printf "| %s | %d | %.4f | %.4f | **%.2f** | %.4f; %.4f | **%.2f** | %.3f; %.3f | %.1f; %.1f | %d; %d | %d; %d |\n", n, runs[n], nc, cc, (cc > 0 ? nc / cc : 0),
             nc + nl, cc + cl, (cc + cl > 0 ? (nc + nl) / (cc + cl) : 0), median(v[n, "nephometer", "qemu_cpu"]), median(v[n, "collectd", "qemu_cpu"]),
             median(v[n, "nephometer", "rss_mib"]), median(v[n, "collectd", "rss_mib"]), median(v[n, "nephometer", "values"]), median(v[n, "collectd", "values"]),
             median(v[n, "nephometer", "posts"]), median(v[n, "collectd", "posts"]) }
    printf "\nOne real libvirtd with TCG domains; the agents one after the other (alternating), interval %s s, CPU over %s s after warm-up.\n", iv, w
  }' "$W/qemu.txt"
echo "results in $W/qemu.txt"
