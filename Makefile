# Nephometer — the two commands that matter: `make demo` and `make test`.
SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)
SWIFT ?= swift
DEMO_DIR := $(CURDIR)/demo-output

.PHONY: deps build release demo test bench clean

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

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
	$(SWIFT) build -c release
	.build/release/nephometer-bench pipeline
	.build/release/nephometer-bench udp
	.build/release/nephometer-bench http
	scripts/bench-ring.sh
	.build/release/nephometer-bench failover --trials 10
	scripts/bench-compute.sh
	scripts/bench-snmp.sh

clean:
	rm -rf .build $(DEMO_DIR)
