# Nephometer — the two commands that matter: `make demo` and `make test`.
SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)
SWIFT ?= swift
DEMO_DIR := $(CURDIR)/demo-output

.PHONY: deps build release demo test bench clean install

PREFIX ?= /usr/local
DESTDIR ?=
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
# Release builds: scripts/release-build.sh, the one place for their flags (scripts use it too, so that
# they share one build directory). The Swift runtime and Foundation are linked statically: the binary
# runs on a host without a Swift toolchain (it needs the C libraries of Debian's libvirt0, libsnmp40 and
# libssl3 packages). Its code is laid out so that what the agents run sits together (lld, one section
# per function, scripts/layout/README.md): ~16 MiB less resident memory at 1000 domains.
RELEASE := scripts/release-build.sh
# The binary to install; the release build by default (built when missing).
BINARY ?= .build/release/nephometer

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(RELEASE)

## demo: 20 demo instances on libvirt's test driver, three cycles, a table per cycle, samples to a file.
demo: release
	@mkdir -p $(DEMO_DIR)
	@.build/release/nephometer-testbed libvirt-node --domains 20 --disks 2 --interfaces 2 --output $(DEMO_DIR)/node.xml >/dev/null
	@rm -f $(DEMO_DIR)/samples.log*
	.build/release/nephometer agent --namespaces compute --config etc/nephometer.yaml \
	    --polling etc/demo/polling.yaml --pipeline etc/demo/pipeline.yaml \
	    --libvirt-uri test://$(DEMO_DIR)/node.xml --host demo-host --cycles 3 --print table
	@echo
	@echo "$$(wc -l < $(DEMO_DIR)/samples.log) samples written to $(DEMO_DIR)/samples.log (one JSON sample dict a line)"

## test: everything the suite needs, then the suite (unit, real libvirt test driver, end to end).
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --no-parallel; status=$$?; scripts/check-test-daemons.sh || status=1; exit $$status

## bench: release build, then every benchmark with its peer (figures in BENCHMARKS.md).
bench: deps
	$(RELEASE)
	.build/release/nephometer-bench pipeline
	.build/release/nephometer-bench udp
	.build/release/nephometer-bench http
	scripts/bench-ring.sh
	.build/release/nephometer-bench failover --trials 10 --signals KILL
	.build/release/nephometer-bench failover --trials 6 --ttl 10
	scripts/bench-openstack.sh
	scripts/bench-compute.sh
	scripts/bench-snmp.sh

## install: the binary, systemd units (compute and central agents), the sysusers entry, sample configs.
install:
	@test -x $(BINARY) || $(RELEASE)
	install -D -m 0755 $(BINARY) $(DESTDIR)$(PREFIX)/bin/nephometer
	for u in nephometer-compute nephometer-central; do \
	  sed 's|/usr/bin/nephometer|$(PREFIX)/bin/nephometer|; s|/etc/nephometer/|$(SYSCONFDIR)/nephometer/|' etc/systemd/$$u.service > $$u.service.tmp && \
	  install -D -m 0644 $$u.service.tmp $(DESTDIR)$(UNITDIR)/$$u.service && rm -f $$u.service.tmp; done
	install -D -m 0644 etc/systemd/nephometer.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/nephometer.conf
	sed 's|^  cfg_file: polling.yaml|  cfg_file: $(SYSCONFDIR)/nephometer/polling.yaml|; s|^  cfg_file: ../pipeline.yaml|  cfg_file: $(SYSCONFDIR)/nephometer/pipeline.yaml|' etc/nephometer.yaml > nephometer.yaml.tmp
	install -D -m 0640 nephometer.yaml.tmp $(DESTDIR)$(SYSCONFDIR)/nephometer/nephometer.yaml && rm -f nephometer.yaml.tmp
	install -D -m 0644 etc/polling.yaml $(DESTDIR)$(SYSCONFDIR)/nephometer/polling.yaml
	install -D -m 0644 pipeline.yaml $(DESTDIR)$(SYSCONFDIR)/nephometer/pipeline.yaml
	install -D -m 0644 etc/gnocchi_resources.yaml $(DESTDIR)$(SYSCONFDIR)/nephometer/gnocchi_resources.yaml
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/nephometer/README.md

clean:
	rm -rf .build $(DEMO_DIR)
