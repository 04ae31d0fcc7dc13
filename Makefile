# Rota: `make run` starts one node with its own etcd; `make test` runs every test.
SHELL := /bin/bash
NODE_MODULES := node_modules/.installed

.PHONY: run install test build deps etcd-bin promtool-bin haproxy-bin curl-bin chromium-bin redis-bin test-tools unit integration ui cluster bench bench-cron clean lint

deps: $(NODE_MODULES)

$(NODE_MODULES): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# $(call apt-need,COMMAND,PACKAGE[,THEN]): Debian's PACKAGE when COMMAND is neither on PATH nor
# in /usr/sbin (ip, haproxy: not on a user's PATH), with sudo unless root; then THEN as root if
# given (to keep a service the package starts off).
apt-need = { command -v $(1) || [ -x /usr/sbin/$(1) ]; } >/dev/null 2>&1 || { \
  echo "installing $(2) from Debian (no $(1) on PATH)"; \
  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(2) >/dev/null \
  $(if $(3),&& { $$SUDO $(3) >/dev/null 2>&1 || true; }); }

# Debian's etcd-server (etcd 3.4) when no etcd binary is on PATH, its service kept off; etcdctl
# (etcd-client): test/integration/security-etcd.test.ts checks etcd's own auth with it.
etcd-bin:
	@$(call apt-need,etcd,etcd-server,systemctl disable --now etcd)
	@$(call apt-need,etcdctl,etcd-client)

# promtool (Debian's prometheus package) for the alert rules' checks in test/unit/monitoring.test.ts;
# the package's own Prometheus server is not wanted running here, nor its recommended node exporter.
promtool-bin:
	@command -v promtool >/dev/null 2>&1 || { \
	  echo "installing prometheus (for promtool) from Debian"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	  $$SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true; }

haproxy-bin:
	@$(call apt-need,haproxy,haproxy)

# curl: cluster/ctl polls /readyz and etcd's /health with it; the dialect tests send the
# documents' curl examples as given.
curl-bin:
	@$(call apt-need,curl,curl)

# What the unit, integration and cluster tests call besides node: etcd and etcdctl, curl,
# openssl (test/support/security.ts makes a throwaway CA and certificates), ip from iproute2
# (test/support/netns.ts: the partition test's network namespaces, when root) and flock from
# util-linux (test/cluster/daemon.test.ts proves "never two copies" with a lock per replica;
# util-linux is essential on Debian, so this only guards a trimmed image), and podman, runc and
# busybox-static (test/integration/container.test.ts runs a busybox image imported from a tarball,
# never pulled; runc for hosts with hybrid cgroups, which crun refuses). The browser test adds
# chromium; no test calls haproxy (make cluster and the benchmarks do).
test-tools: etcd-bin curl-bin
	@$(call apt-need,openssl,openssl)
	@$(call apt-need,podman,podman)
	@$(call apt-need,runc,runc)
	@ldd "$$(command -v busybox)" 2>&1 | grep -q 'not a dynamic executable' || { \
	  echo "installing busybox-static from Debian (no statically linked busybox on PATH)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq busybox-static >/dev/null; }
	@$(call apt-need,ip,iproute2)
	@$(call apt-need,flock,util-linux)

# Debian's chromium for the dashboard's browser test (test/ui), driven by playwright-core; never
# a browser downloaded by a test tool.
chromium-bin:
	@$(call apt-need,chromium,chromium)

build: deps
	npx tsc -p tsconfig.json

# One node on 127.0.0.1:7400 with an embedded etcd member under ./data. Ctrl-C stops both.
run: etcd-bin build
	node dist/src/cli.js serve $(ARGS)

# `rota` on the PATH: a link in $(PREFIX)/bin to this checkout's built CLI (root, or PREFIX=~/.local).
PREFIX ?= /usr/local
install: build
	mkdir -p $(PREFIX)/bin
	chmod +x dist/src/cli.js
	ln -sf $(CURDIR)/dist/src/cli.js $(PREFIX)/bin/rota
	@echo "rota -> $(CURDIR)/dist/src/cli.js (rota --help)"

# Unit and integration tests in parallel; the cluster tests (3 etcd members + 3 node processes
# each, faults injected) one file at a time, so two clusters do not fight over 2 cores; the
# dashboard in headless Chromium (test/ui: one node, ~30 s; three behind HAProxy, ~25 s) in that
# serial step too.
# test/run runs both suites and closes with the totals ("N passed, N failed") that CI reads.
test: test-tools promtool-bin chromium-bin haproxy-bin build
	test/run

# The lint gate alone (test/run runs it first; eslint.config.js has the rules).
lint: deps
	npx eslint --max-warnings 0 src test bench

# The dashboard's browser test alone; it rewrites the screenshots in docs/ui/ (make test writes
# them to a scratch folder).
ui: etcd-bin chromium-bin haproxy-bin build
	ROTA_UI_SCREENSHOTS=docs npx mocha --no-config --timeout 120000 --exit 'dist/test/ui/**/*.test.js'

unit: promtool-bin build
	npx mocha --no-config --exit 'dist/test/unit/**/*.test.js'

integration: test-tools build
	npx mocha --no-config --timeout 60000 --exit 'dist/test/integration/**/*.test.js'

# Three etcd members, three nodes and HAProxy on 127.0.0.1 (API on :7410): cluster/README.md.
# cluster/ctl status|stop N|start N|kill N|down|... after that.
cluster: etcd-bin haproxy-bin curl-bin build
	cluster/ctl up

# redis-server for the BullMQ peer in `make bench` (the bench starts and stops its own instance).
redis-bin:
	@$(call apt-need,redis-server,redis-server,systemctl disable --now redis-server)

# Benchmarks (docs/benchmarks.md). Quick by default: 100 and 500 firings/s for 15 s each on a
# local 3-node cluster, etcd's ceiling on the same etcd, then BullMQ on the same workload.
# Full: make bench BENCH_ARGS=--full   (100..4000 firings/s, 60 s each); --every for spread phases.
BENCH_ARGS ?=
PEER_ARGS ?=
BENCH_OUT ?= bench/results
# $(call bench-run,PROGRAM,ARGS): dist/bench/PROGRAM.js ARGS, its JSON in $(BENCH_OUT)/PROGRAM.json.
bench-run = mkdir -p $(BENCH_OUT) && node dist/bench/$(1).js $(2) --json $(BENCH_OUT)/$(1).json
bench: etcd-bin redis-bin build
	@mkdir -p $(BENCH_OUT)
	node dist/bench/cluster-load.js $(BENCH_ARGS) --json $(BENCH_OUT)/cluster.json
	node dist/bench/peer-bullmq.js $(BENCH_ARGS) $(PEER_ARGS) --rota $(BENCH_OUT)/cluster.json --json $(BENCH_OUT)/peer.json
	node dist/bench/failover.js $(FAILOVER_ARGS) --json $(BENCH_OUT)/failover.json
	node dist/bench/scale.js $(SCALE_ARGS) --json $(BENCH_OUT)/scale.json

# Failover under load (leader SIGKILL, worker SIGKILL, graceful stop, rolling restart; --tasks 100; the BullMQ
# worker-kill row with FAILOVER_ARGS=--peer) and scale (task definitions behind HAProxy: RSS, API
# latency, new leader's time to schedule; quick --counts 2000, full SCALE_ARGS="--counts
# 10000,100000"), each on its own; make bench runs both.
FAILOVER_ARGS ?=
SCALE_ARGS ?=
bench: haproxy-bin
.PHONY: bench-failover bench-scale
bench-failover: etcd-bin redis-bin build
	$(call bench-run,failover,$(FAILOVER_ARGS))
# Soak (not in make bench: an hour by default): SOAK_ARGS="--rate 300 --minutes 60 --kill-every 5".
SOAK_ARGS ?=
.PHONY: bench-soak
bench-soak: etcd-bin build
	$(call bench-run,soak,$(SOAK_ARGS))
bench-scale: etcd-bin haproxy-bin build
	$(call bench-run,scale,$(SCALE_ARGS))
# What a leader's heap holds with many task definitions (issue 14): HEAP_ARGS="--tasks 100000".
HEAP_ARGS ?=
.PHONY: bench-heap
bench-heap: etcd-bin build
	$(call bench-run,leader-heap,$(HEAP_ARGS))
# The operator's reads (task list by id/name/next firing, history, upcoming, slots) with many
# task definitions (issue 21): LIST_ARGS="--tasks 100000 --repeat 5".
LIST_ARGS ?=
.PHONY: bench-list
bench-list: etcd-bin build
	$(call bench-run,list-scale,$(LIST_ARGS))
# etcd's write ceiling with 1..S independent clusters at once (the storage side of docs/scaling.md).
SHARD_ARGS ?=
.PHONY: bench-shards
bench-shards: etcd-bin build
	$(call bench-run,shards,$(SHARD_ARGS))

# The schedule math per call (nextCronFire, missedFirings): CPU only, ~7 s; CRON_ARGS="--ms 2000".
CRON_ARGS ?=
bench-cron: build
	node dist/bench/cron-speed.js $(CRON_ARGS)

clean:
	rm -rf dist
