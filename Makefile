# seckill: see README.md. `make run` and `make test` are the two commands a
# new machine needs.
SHELL := /bin/bash
GO ?= go
GOBIN := $(shell $(GO) env GOPATH)/bin
SWAG := $(GOBIN)/swag
SWAG_VERSION := v1.16.6
STATICCHECK := $(GOBIN)/staticcheck
STATICCHECK_VERSION := v0.8.2
JAEGER := $(GOBIN)/all-in-one
JAEGER_VERSION := v1.35.0
SERVICES := product activity order
BINARIES := $(SERVICES) seckill-migrate

.PHONY: all build run run-ha demo test test-ha ha-packages contract compose-check test-reliability fuzz test-short test-reliability bench bench-ha run demo migrate swag swag-check lint fmt tidy tools postgres clean

all: build

## build: compile every command into bin/
build:
	@mkdir -p bin
	$(GO) build -o bin/ ./cmd/...

## test: vet plus every test with the race detector, against a throwaway PostgreSQL
test: postgres
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m ./...

## test-short: the tests without the race detector (faster while editing)
test-short: postgres
	$(GO) test -count=1 ./...

## run: the whole stack on this machine, no Docker (Ctrl-C stops it)
run: postgres build
	bin/seckill-dev

## run-ha: the HA stack on this machine, no Docker: etcd, three Patroni-managed PostgreSQL nodes with synchronous
## replication, HAProxy, two activity instances behind it (Ctrl-C stops it and removes the cluster)
run-ha: ha-packages build
	bin/seckill-dev -ha

## test-ha: the failover and rolling-restart tests on real etcd, Patroni, PostgreSQL and HAProxy, with their figures
test-ha: ha-packages
	$(GO) test -tags ha -count=1 -v -timeout 30m -run '^TestHA_' ./internal/reliability/ 2>&1 | \
		grep --line-buffered -E '^(=== RUN|--- |PASS|FAIL|ok )|_test.go:[0-9]+:'; test "$${PIPESTATUS[0]}" -eq 0

## ha-packages: install etcd, Patroni and HAProxy (Debian's packages) when missing
HA_PACKAGES := etcd-server patroni haproxy
ha-packages: postgres
	@if command -v etcd >/dev/null && command -v patroni >/dev/null && command -v haproxy >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(HA_PACKAGES) >/dev/null; \
	else echo "the HA stack needs: sudo apt-get install -y $(HA_PACKAGES)" >&2; exit 1; fi

## demo: the stack plus a short seeded sale
demo: postgres build
	bin/seckill-dev -demo

## bench: database baseline (Go and pgbench), bare-handler ceiling, wrk, the sold-out and winning phases in one run; writes BENCHMARKS.md
bench: postgres build
	$(GO) test -run '^$$' -bench . -benchtime 1s ./internal/seckill/ ./internal/activity/
	bin/seckill-bench-suite

## bench-ha: make bench's winning phase on the single server and on the HA cluster in turn (through HAProxy, and one
## activity instance straight on the leader); prints the rates and their ratio, writes its section of BENCHMARKS.md
bench-ha: ha-packages build
	bin/seckill-bench-suite -ha

## test-reliability: the crash, outage and shutdown tests alone, with their reports
test-reliability: postgres
	$(GO) test -count=1 -v -timeout 20m ./internal/reliability/

## fuzz: run every fuzz target (each func FuzzX in a _test.go file) for FUZZTIME; seed corpora live in testdata/fuzz
FUZZTIME ?= 10s
# Minimizing each new interesting input may take 60s by default, which would
# stall a short run: keep it brief.
FUZZMINIMIZETIME ?= 1s
# go test -fuzz sometimes ends a run with "context deadline exceeded" and no
# failing input, when a worker is still busy as the time runs out (a known
# hiccup of the fuzzing engine, not a finding): such a run is repeated once.
# A run that found an input is never repeated.
fuzz:
	@set -eo pipefail; log=$$(mktemp); trap 'rm -f $$log' EXIT; \
	for f in $$(grep -rl --include='*_test.go' '^func Fuzz' internal cmd | sort); do \
		for fn in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "== $$fn ./$$(dirname $$f) ($(FUZZTIME))"; \
			run() { $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) ./$$(dirname $$f) 2>&1 | tee $$log; }; \
			if ! run; then \
				if grep -q 'context deadline exceeded' $$log && ! grep -q 'Failing input written' $$log; then \
					echo "(the fuzzing engine timed out without a failing input: running $$fn again)"; run; \
				else exit 1; fi; \
			fi; \
		done; \
	done

## migrate: apply every service's migrations to DATABASE_URL
migrate:
	$(GO) run ./cmd/seckill-migrate

## swag: regenerate the Swagger docs in api/<service>/ (swag, then seckill-apidoc closes the schemas and checks
## that every operation has an id, a tag and examples)
SWAG_DIRS := internal/platform/app,internal/platform/httpx,internal/platform/money
swag: $(SWAG)
	$(SWAG) fmt -d $$(ls -d $(addprefix internal/,$(SERVICES)) internal/platform/app 2>/dev/null | paste -sd,)
	$(SWAG) init -q -g run.go -d internal/product,$(SWAG_DIRS) --instanceName product -o api/product --packageName productdocs --outputTypes json
	$(SWAG) init -q -g run.go -d internal/activity,$(SWAG_DIRS),internal/seckill --instanceName activity -o api/activity --packageName activitydocs --outputTypes json
	$(SWAG) init -q -g run.go -d internal/order,$(SWAG_DIRS) --instanceName order -o api/order --packageName orderdocs --outputTypes json
	$(GO) run ./cmd/seckill-apidoc $(foreach s,$(SERVICES),api/$(s)/$(s)_swagger.json)

## contract: swagger-cli, Spectral and Dredd (pinned in .ci/package-lock.json) on the documents the running stack
## serves, on ports 18503-18505 so that make run's are left alone
contract: postgres
	bash .ci/contract.sh

## swag-check: fail when the committed Swagger docs are stale
swag-check: swag
	@git diff --exit-code -- api/ || { echo "api/ docs are stale: run make swag and commit" >&2; exit 1; }

## compose-check: docker-compose.yml and docker-compose.ha.yml as Debian's docker-compose 1.29 reads them: refused
## without each required setting, naming it, and read with them, alone or with .env_template (the Compose v2
## parser, compose-go, reads both in deployments' tests)
COMPOSE_TOKENS := ADMIN_TOKEN=compose-check-admin-token SERVICE_TOKEN=compose-check-service-token
COMPOSE_HA_PASSWORDS := PG_SUPERUSER_PASSWORD=compose-check-superuser PG_REPLICATION_PASSWORD=compose-check-replication \
	SECKILL_DB_PASSWORD=compose-check-seckill
# compose-refuses FILE,VARS,SETTINGS: docker-compose refuses FILE given SETTINGS less any one of VARS, and names it.
# 1.29's refusal quotes the unexpanded $${NAME:?...} of the missing one's neighbours too: what names the missing one
# is its own message, after a colon. .env_template leaves every required setting empty, and keeps a local .env out.
define compose-refuses
for v in $(2); do \
	if env $(3) env -u $$v docker-compose -f $(1) --env-file .env_template config -q 2>&1 | grep -q ": set $$v in "; \
	then echo "$(1) refuses to run without $$v: ok"; \
	else echo "$(1) runs without $$v, or does not say it is missing" >&2; exit 1; fi; \
done
endef
compose-check:
	@$(call compose-refuses,docker-compose.yml,ADMIN_TOKEN SERVICE_TOKEN,$(COMPOSE_TOKENS))
	$(COMPOSE_TOKENS) docker-compose -f docker-compose.yml config -q
	$(COMPOSE_TOKENS) docker-compose -f docker-compose.yml --env-file .env_template config -q
	@$(call compose-refuses,docker-compose.ha.yml,ADMIN_TOKEN SERVICE_TOKEN PG_SUPERUSER_PASSWORD PG_REPLICATION_PASSWORD \
		SECKILL_DB_PASSWORD,$(COMPOSE_TOKENS) $(COMPOSE_HA_PASSWORDS))
	$(COMPOSE_TOKENS) $(COMPOSE_HA_PASSWORDS) docker-compose -f docker-compose.ha.yml config -q
	$(COMPOSE_TOKENS) $(COMPOSE_HA_PASSWORDS) docker-compose -f docker-compose.ha.yml --env-file .env_template config -q

## lint: formatting, vet and staticcheck (pinned; installed on first use)
lint: $(STATICCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

## fmt: format the code
fmt:
	gofmt -w $$(git ls-files '*.go')

## tidy: tidy go.mod
tidy:
	$(GO) mod tidy

## tools: install swag, staticcheck and the Jaeger all-in-one binary
tools: $(SWAG) $(STATICCHECK) $(JAEGER)

$(SWAG):
	$(GO) install github.com/swaggo/swag/cmd/swag@$(SWAG_VERSION)

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(JAEGER):
	GOFLAGS=-buildvcs=false $(GO) install github.com/jaegertracing/jaeger/cmd/all-in-one@$(JAEGER_VERSION)

## postgres: install the PostgreSQL server binaries when missing
postgres:
	@if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	else echo "PostgreSQL server binaries are missing: sudo apt-get install -y postgresql" >&2; exit 1; fi

clean:
	rm -rf bin
