#!/usr/bin/env bash
# Installs what building, the demo and the test suite need, if missing (Debian 12).
# Idempotent and non-interactive: CI runs it on every fresh clone.
set -euo pipefail

packages=(
  pkg-config libvirt-dev libvirt-clients libsnmp-dev libcurl4-openssl-dev   # build
  libvirt-daemon libvirt-daemon-driver-qemu qemu-system-x86 qemu-utils     # real libvirtd + QEMU tests
  snmpd snmp                                                                # SNMP tests
  etcd-server etcd-client                                                   # fleet tests
  collectd-core                                                             # benchmark peer
  python3 python3-venv curl                                                 # interop tests (tooz, snmpsim), HTTP probes
  time util-linux                                                           # peak memory of hostile-input cases, setsid/prlimit
  rabbitmq-server postgresql                                                # scripts/openstack-env: private broker, Gnocchi's indexer
  openssl                                                                   # scripts/openstack-env: the broker's test CA and TLS listener
  chromium prometheus                                                       # /status in a headless browser, promtool check metrics
  systemd make                                                              # systemd-analyze verify/security of the units, make install
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
fi

# Debian's packages start daemons where an init system runs; the tests start their own on free ports.
for svc in snmpd etcd collectd libvirtd prometheus prometheus-node-exporter; do
  if pidof -q "$svc" 2>/dev/null && [ -x "/etc/init.d/$svc" ]; then "/etc/init.d/$svc" stop >/dev/null 2>&1 || true; fi
done
# The system's broker and database clusters (not the private ones scripts/openstack-env starts). The
# broker is found by its process: `/etc/init.d/rabbitmq-server status` runs rabbitmqctl, which leaves a
# global `epmd -daemon` listening on every address (port 4369) behind.
if [ -x /etc/init.d/rabbitmq-server ] && pgrep -f 'beam.*-home /var/lib/rabbitmq' >/dev/null; then
  /etc/init.d/rabbitmq-server stop >/dev/null 2>&1 || true
fi
if [ -x /etc/init.d/postgresql ] && /etc/init.d/postgresql status >/dev/null 2>&1; then /etc/init.d/postgresql stop >/dev/null 2>&1 || true; fi

command -v swift >/dev/null || { echo "swift not found: install Swift 6.3 at /opt/swift (PATH=/opt/swift/usr/bin:\$PATH)" >&2; exit 1; }
