# egov-gateway: the two commands a newcomer needs are `make run` and `make test`.

GO        ?= go
FUZZTIME  ?= 3s
DATA      ?= data
GATEWAY   ?= http://127.0.0.1:8080

.PHONY: run demo test vet unit cluster newcomer soak fuzz-short fuzz bench build clean

## run: the whole stack in one process (bus, labour-market system, portal, OCSP, CRL); EGOV_REDIS_URL or an embedded Redis
run:
	$(GO) run ./cmd/egovctl up --data $(DATA)

## demo: a citizen's whole journey against the stack that `make run` started
demo:
	$(GO) run ./cmd/egovctl demo --gateway $(GATEWAY) --data $(DATA)

## test: everything CI runs: vet beside every test with the race detector, the same tests of the bus, portal and providers on a Redis Cluster, the newcomer's first hour, the soak, a short fuzz pass
test:
	@$(MAKE) --no-print-directory -j2 vet unit
	@$(MAKE) --no-print-directory -j2 cluster newcomer fuzz-short
	@$(MAKE) --no-print-directory soak

## newcomer: egovctl built and run from outside the repository on its embedded Redis: demo, the curated corpus replayed after it, the tools through data/stack.json, an archive checked offline
newcomer:
	./.ci/newcomer

vet:
	$(GO) vet ./...

unit:
	@if [ -n "$$EGOV_REDIS_URL" ]; then echo "make test: the tests use the Redis at $$(echo "$$EGOV_REDIS_URL" | sed 's#//[^@/]*@#//***@#') (EGOV_REDIS_URL)"; \
	elif docker info >/dev/null 2>&1; then echo "make test: EGOV_REDIS_URL is not set and a Docker engine answers: each test binary starts a redis:7.0 container"; \
	else echo "make test: EGOV_REDIS_URL is not set and no Docker engine answers: each test binary starts redis-server from PATH ($$(command -v redis-server || echo missing))"; fi
	$(GO) test -race -count=1 -p 4 ./...

# Tests the cluster pass leaves to the pass on one Redis: they bring their own servers
# (replica waits) or test timing and secrets, not where keys live.
CLUSTER_SKIP ?= ^(TestSubmissionWaitsForTheReplica|TestSendMessageWaitsForTheReplica|TestFilingWaitsForTheReplica|TestDecisionWaitsForTheReplica|TestOneTimeCodes|TestPasswordDelays|TestNotReadyWithoutRedis)$$

# Where the cluster pass notes the scripts and transactions it ran.
SCRIPT_LOG ?= $(CURDIR)/.cluster-scripts.log

## cluster: the bus's, the portal's, the providers' and the SMS gateway's tests again on a real Redis Cluster (3 masters + 3 replicas from redis-server, internal/redistest); every Lua script and transaction of the code base must have run there; a master killed under load; two stacks side by side; the soak with two of each program, killed at random
cluster:
	rm -f '$(SCRIPT_LOG)'
	EGOV_TEST_REDIS_CLUSTER=1 EGOV_TEST_SCRIPT_LOG='$(SCRIPT_LOG)' $(GO) test -count=1 -p 4 -skip '$(CLUSTER_SKIP)' ./shep ./gateway ./labour ./provider ./sms ./counter
	EGOV_TEST_SCRIPT_LOG='$(SCRIPT_LOG)' $(GO) test -count=1 -run '^TestEveryScriptRanOnTheCluster$$' -v ./internal/redistest
	EGOV_TEST_REDIS_CLUSTER=1 $(GO) test -count=1 -run '^(TestFailoverUnderLoad|TestTwoOfEachSideBySide)$$' -v ./cmd/egovctl
	EGOV_TEST_REDIS_CLUSTER=1 $(GO) test -count=1 -run '^TestSoakOnTheCluster$$' -v ./reliability

SOAK_REQUESTS ?= 20000
SOAK_RATE     ?= 100

## soak: the stack as separate processes on redis-server (append-only), SOAK_REQUESTS requests with a fault every ~8 s (SOAK_FAULT_EVERY: another mean, e.g. 2s); prints the counts
soak:
	EGOV_SOAK_REQUESTS=$(SOAK_REQUESTS) EGOV_SOAK_RATE=$(SOAK_RATE) EGOV_SOAK_SEED=$(SOAK_SEED) EGOV_SOAK_REPORT=$(SOAK_REPORT) EGOV_SOAK_FAULT_EVERY=$(SOAK_FAULT_EVERY) \
		$(GO) test ./reliability -run '^TestSoak$$' -count=1 -v -timeout 30m

# Every Fuzz target of every package, briefly (FUZZTIME each).
fuzz-short:
	@FUZZTIME=$(FUZZTIME) ./.ci/fuzz

## fuzz: every fuzz target for longer (FUZZTIME=2m each); crashers land in testdata/fuzz
fuzz:
	@FUZZTIME=2m ./.ci/fuzz

## bench: every Go benchmark and load tests against egovctl up on a private redis-server; writes BENCHMARKS.md
bench:
	./.ci/bench

build:
	$(GO) build -o bin/ ./cmd/...

clean:
	rm -rf bin
