#!/usr/bin/env bash
# The OpenStack benchmarks (BENCHMARKS.md): the daemons (RabbitMQ, Keystone, Gnocchi, PostgreSQL, the
# notification agent) run pinned to CPU 1, the benchmark and its Ceilometer peer pinned to CPU 0, so the
# publishers get one core each in turn and the daemons the other. (Unpinned, the kernel wakes the broker
# on the CPU of the publisher whose bytes woke it: a fast publisher then shares its core with the broker.)
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${TMPDIR:-/tmp}/nephometer-bench-openstack"
tool=scripts/openstack-env/openstack-env.py
bench=.build/release/nephometer-bench
trap 'python3 "$tool" stop --dir "$dir" >/dev/null 2>&1 || true' EXIT
taskset -c 1 python3 "$tool" start --dir "$dir" --components rabbitmq >/dev/null
taskset -c 0 "$bench" bus --env-dir "$dir" --samples "${BUS_SAMPLES:-100000}" --runs "${BUS_RUNS:-5}"
python3 "$tool" stop --dir "$dir" >/dev/null
taskset -c 1 python3 "$tool" start --dir "$dir" --components keystone,gnocchi,notification >/dev/null
taskset -c 0 "$bench" gnocchi --env-dir "$dir" --samples "${GNOCCHI_SAMPLES:-6000}" --warmup 1000 --runs "${RUNS:-3}"
