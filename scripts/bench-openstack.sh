#!/usr/bin/env bash
# The OpenStack benchmarks (BENCHMARKS.md): the daemons (RabbitMQ, Keystone, Gnocchi, PostgreSQL, the
# notification agent) start unpinned; the benchmark and its Ceilometer peer run pinned to CPU 0, so the
# publishers get one core each in turn and the daemons the other.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${TMPDIR:-/tmp}/nephometer-bench-openstack"
tool=scripts/openstack-env/openstack-env.py
bench=.build/release/nephometer-bench
trap 'python3 "$tool" stop --dir "$dir" >/dev/null 2>&1 || true' EXIT
python3 "$tool" start --dir "$dir" --components rabbitmq >/dev/null
taskset -c 0 "$bench" bus --env-dir "$dir" --samples "${BUS_SAMPLES:-100000}" --runs "${BUS_RUNS:-5}"
python3 "$tool" stop --dir "$dir" >/dev/null
python3 "$tool" start --dir "$dir" --components keystone,gnocchi,notification >/dev/null
taskset -c 0 "$bench" gnocchi --env-dir "$dir" --samples "${GNOCCHI_SAMPLES:-6000}" --warmup 1000 --runs "${RUNS:-3}"
