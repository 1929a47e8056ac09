# The two commands a newcomer needs: `make run` and `make test`.
GO      ?= go
BIN     ?= bin/checkout
# A count of executions, not a duration: go1.26's fuzz coordinator can fail a target with
# "context deadline exceeded" when a duration ends while a worker is busy (go.dev/issue/75804,
# fixed in Go 1.27), which happened here on a loaded machine; a count has no deadline to race.
FUZZTIME ?= 50000x
BENCHFLAGS ?=
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# go-sqlite3 compiles SQLite's full-text search (FTS5, the merchant list's search) only with this
# tag: every build, test and run needs it.
TAGS    ?= sqlite_fts5

.PHONY: run shop test build generate check-generated lint fuzz bench clean

run: ## the checkout on the built-in Banq sandbox, at http://localhost:8080
	@echo "The first build compiles SQLite (cgo) and takes a few minutes; later runs start in seconds."
	$(GO) run -tags $(TAGS) .

shop: ## the example shop beside `make run` (sandbox), at http://127.0.0.1:8090; its API key and notification endpoint are made once, into data/shop.env
	@test -f data/shop.env || { mkdir -p data && \
	  key=$$($(GO) run -tags $(TAGS) . key create example-shop -scopes orders:read,orders:write | sed -n 's/^key //p') && \
	  secret=$$($(GO) run -tags $(TAGS) . endpoint add http://127.0.0.1:8090/checkout-events -description 'the example shop' | sed -n 's/^secret //p') && \
	  test -n "$$key" && test -n "$$secret" && \
	  printf 'SHOP_API_KEY=%s\nSHOP_WEBHOOK_SECRET=%s\n' "$$key" "$$secret" > data/shop.env; }
	@set -a && . ./data/shop.env && set +a && $(GO) run -tags $(TAGS) ./examples/shop/cmd/shop

build: ## a static-ish binary with cgo (go-sqlite3), its version stamped (checkout version)
	CGO_ENABLED=1 $(GO) build -tags $(TAGS) -trimpath -ldflags "-X main.version=$(VERSION)" -o $(BIN) .

generate: ## regenerate templ components (committed)
	$(GO) tool templ generate

check-generated: ## fail when the committed *_templ.go are stale
	@$(GO) tool templ generate >/dev/null 2>&1
	@git diff --exit-code --stat -- '*_templ.go' || { echo "*_templ.go are stale: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git ls-files --others --exclude-standard -- '*_templ.go')" || { echo "untracked *_templ.go: commit them"; exit 1; }

lint: ## gofmt, go vet, staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '_templ.go$$'))" || { gofmt -l $$(git ls-files '*.go' | grep -v '_templ.go$$'); echo "gofmt needed"; exit 1; }
	$(GO) vet -tags $(TAGS) ./...
	$(GO) tool staticcheck -tags $(TAGS) ./...

fuzz: ## each fuzz target for a fixed number of executions
	$(GO) test -tags $(TAGS) -run='^$$' -fuzz='^FuzzVerifyAndParseWebhook$$' -fuzztime=$(FUZZTIME) ./banq/
	$(GO) test -tags $(TAGS) -run='^$$' -fuzz='^FuzzParseMoney$$' -fuzztime=$(FUZZTIME) ./banq/
	$(GO) test -tags $(TAGS) -run='^$$' -fuzz='^FuzzParseNewOrder$$' -fuzztime=$(FUZZTIME) ./checkout/
	$(GO) test -tags $(TAGS) -run='^$$' -fuzz='^FuzzAPIOrderBody$$' -fuzztime=$(FUZZTIME) ./handlers/
	$(GO) test -tags $(TAGS) -run='^$$' -fuzz='^FuzzCSVRow$$' -fuzztime=$(FUZZTIME) ./handlers/
	$(GO) test -tags $(TAGS) -run='^$$' -fuzz='^FuzzParseTime$$' -fuzztime=$(FUZZTIME) ./store/

test: check-generated lint ## every test, with the race detector, then the fuzzers briefly
	$(GO) test -tags $(TAGS) -race -count=1 -timeout=20m ./...
	$(MAKE) --no-print-directory fuzz

bench: ## the load benchmark against the real app and sandbox on loopback (3 to 6 minutes, a million orders seeded and a PostgreSQL cluster started; BENCHFLAGS=-list-orders=0 or -postgres=false skip those); BENCHFLAGS="-h" lists its flags
	$(GO) run -tags $(TAGS) ./cmd/bench $(BENCHFLAGS)

clean:
	rm -rf bin data
