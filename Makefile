# The token handler's commands. `make demo` and `make test` are the README's two commands.
SHELL := /bin/bash
GO ?= go
TRAEFIK := bin/traefik
FUZZTIME ?= 10s

.PHONY: demo screenshots test test-unit test-fuzz test-traefik bench traefik clean

## demo: start the whole demo system on 127.0.0.1 (Traefik with the plugin, the authorization
## server, the API and the SPA's web host); Ctrl-C stops it.
demo: $(TRAEFIK)
	cd traefik && $(GO) run ./cmd/demo

## test: every test: unit (compiled, -race), fuzzing for a bounded time, Yaegi, config decoding,
## the real Traefik and the end-to-end runs.
test: test-unit test-fuzz test-traefik

test-unit:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

test-fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecrypt$$' -fuzztime $(FUZZTIME) ./internal/cookiecrypt
	$(GO) test -run '^$$' -fuzz '^FuzzToken$$' -fuzztime $(FUZZTIME) ./internal/bearer
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./internal/jwt
	$(GO) test -run '^$$' -fuzz '^FuzzParseJWKS$$' -fuzztime $(FUZZTIME) ./internal/jwt
	$(GO) test -run '^$$' -fuzz '^FuzzVerifySignature$$' -fuzztime $(FUZZTIME) ./internal/jwt
	$(GO) test -run '^$$' -fuzz '^FuzzRequest$$' -fuzztime $(FUZZTIME) ./bfftoken
	$(GO) test -run '^$$' -fuzz '^FuzzIntrospectionAnswer$$' -fuzztime $(FUZZTIME) ./phantomtoken
	$(GO) test -run '^$$' -fuzz '^FuzzMaxAge$$' -fuzztime $(FUZZTIME) ./phantomtoken
	$(GO) test -run '^$$' -fuzz '^FuzzLoginStart$$' -fuzztime $(FUZZTIME) ./oauthagent
	$(GO) test -run '^$$' -fuzz '^FuzzLoginEnd$$' -fuzztime $(FUZZTIME) ./oauthagent
	$(GO) test -run '^$$' -fuzz '^FuzzTokenResponse$$' -fuzztime $(FUZZTIME) ./oauthagent
	$(GO) test -run '^$$' -fuzz '^FuzzDiscovery$$' -fuzztime $(FUZZTIME) ./oauthagent
	$(GO) test -run '^$$' -fuzz '^FuzzUserInfo$$' -fuzztime $(FUZZTIME) ./oauthagent
	$(GO) test -run '^$$' -fuzz '^FuzzConfig$$' -fuzztime $(FUZZTIME) .

test-traefik: $(TRAEFIK)
	cd traefik && $(GO) vet ./... && $(GO) test -race -count=1 -timeout 30m ./...

## screenshots: rerun the end-to-end test and keep its screenshots in docs/screenshots.
screenshots: $(TRAEFIK)
	cd traefik && UPDATE_SCREENSHOTS=1 $(GO) test -count=1 -run TestEndToEndInChromium .

## bench: measure the hot paths compiled and under Yaegi, and load the real Traefik; rewrites
## docs/benchmarks.md.
bench: $(TRAEFIK)
	cd traefik && $(GO) run ./cmd/bench

## traefik: build Traefik v3.6.12 from the traefik/ module's pinned Go tool into bin/.
traefik: $(TRAEFIK)

$(TRAEFIK): traefik/go.mod traefik/go.sum
	@echo "Building Traefik from traefik/go.mod into $(TRAEFIK) (several minutes the first time)..."
	cd traefik && $(GO) build -o ../$(TRAEFIK) github.com/traefik/traefik/v3/cmd/traefik
	@touch $(TRAEFIK)

clean:
	rm -rf bin plugins-local plugins-storage
