#!/usr/bin/env bash
# Hash ring speed: Nephometer's HashRing and tooz's, same members and keys, same machine, same run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
scripts/release-build.sh --product nephometer-bench >/dev/null
VENV="${TMPDIR:-/tmp}/nephometer-venv-tooz"
[ -x "$VENV/bin/python" ] || { /usr/bin/python3 -m venv "$VENV" && "$VENV/bin/pip" install -q tooz etcd3gw; }
echo "== Nephometer"
.build/release/nephometer-bench ring --members 1000 --keys 100000 --runs 7
echo "== tooz $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("tooz"))') (Python $("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0])'))"
"$VENV/bin/python" - <<'PY'
import statistics, time
from tooz import hashring
ids = ["%08x-0000-4000-8000-%012x" % ((i * 2654435761) % 4294967296, i) for i in range(1000)]
keys = [("11111111-0000-0000-0000-%012d" % i).encode() for i in range(100000)]
build, place = [], []
for _ in range(3):
    t = time.perf_counter(); ring = hashring.HashRing(ids); build.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    n = sum(1 for k in keys if ids[0] in ring.get_nodes(k))
    place.append((time.perf_counter() - t) * 1000)
print("  build (bulk HashRing(members)): median %.2f ms" % statistics.median(build))
print("  place 100000 keys (get_nodes): median %.1f ms, %.3f us per key" % (statistics.median(place), statistics.median(place) / 100))
t = time.perf_counter(); r = hashring.HashRing([])
for i in ids: r.add_node(i)
print("  build (Partitioner-style add_node loop): %.0f ms" % ((time.perf_counter() - t) * 1000))
PY
