# The token handler's commands. `make demo` and `make test` are the README's two commands.
SHELL := /bin/bash
GO ?= go
TRAEFIK := bin/traefik
HYDRA := bin/hydra
FUZZTIME ?= 10s
# staticcheck is pinned so that a new release's new checks cannot fail `make test` on their own;
# 2026.2.2 (module version v0.8.2) supports go1.26. -mod=mod applies to fetching staticcheck only
# (the root module is vendored, and GOFLAGS=-mod=vendor refuses pkg@version); staticcheck itself
# loads the packages with the caller's settings.
STATICCHECK_VERSION := v0.8.2
STATICCHECK = $(GO) run -mod=mod honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

.PHONY: demo screenshots test test-unit test-fuzz test-traefik bench traefik hydra clean

## demo: start the whole demo system on 127.0.0.1 (Traefik with the plugin, the authorization
## server, the API and the SPA's web host); Ctrl-C stops it. AUTH_SERVER=hydra runs it against
## Ory Hydra (built into bin/ first) instead of oidc-provider. AGENT_API=v2 runs it with Curity's
## v2 token handler API (agentApi: v2 on the oauth-agent and bff-token middlewares, and the SPA
## speaks v2) instead of v1; the two variables combine.
## The ports, when one is taken: DEMO_PORT is Traefik's, the one the browser uses (the URLs become
## http://www.example.localhost:<DEMO_PORT>/ and so on, the redirect URIs and the issuer follow);
## DEMO_AUTH_SERVER_PORT (Hydra's public API with AUTH_SERVER=hydra), DEMO_API_PORT,
## DEMO_WEBHOST_PORT, DEMO_HYDRA_ADMIN_PORT and DEMO_HYDRA_LOGIN_PORT are the back ends'.
AUTH_SERVER ?= oidc-provider
AGENT_API ?= v1
DEMO_PORT ?= 8080
DEMO_AUTH_SERVER_PORT ?= 3000
DEMO_API_PORT ?= 3001
DEMO_WEBHOST_PORT ?= 3002
DEMO_HYDRA_ADMIN_PORT ?= 3003
DEMO_HYDRA_LOGIN_PORT ?= 3004
demo: $(TRAEFIK) $(if $(filter hydra,$(AUTH_SERVER)),$(HYDRA))
	cd traefik && $(GO) run ./cmd/demo -auth-server '$(AUTH_SERVER)' -agent-api '$(AGENT_API)' \
		-port '$(DEMO_PORT)' -auth-server-port '$(DEMO_AUTH_SERVER_PORT)' -api-port '$(DEMO_API_PORT)' \
		-webhost-port '$(DEMO_WEBHOST_PORT)' -hydra-admin-port '$(DEMO_HYDRA_ADMIN_PORT)' \
		-hydra-login-port '$(DEMO_HYDRA_LOGIN_PORT)'

## test: every test: unit (compiled, -race), fuzzing for a bounded time, Yaegi, config decoding,
## the real Traefik and the end-to-end runs.
test: test-unit test-fuzz test-traefik

test-unit:
	$(GO) vet ./...
	$(STATICCHECK) ./...
	$(GO) test -race -count=1 ./...

# fuzz runs one fuzz target for FUZZTIME. A run that fails is run once more: go1.26's fuzzing
# coordinator can end a time-limited run with a bare "context deadline exceeded" (go.dev/issue/75804),
# while a real failure writes its input under testdata/fuzz and so fails again.
fuzz = $(GO) test -run '^$$' -fuzz '^$(1)$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s $(2) || \
	$(GO) test -run '^$$' -fuzz '^$(1)$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s $(2)

test-fuzz:
	$(call fuzz,FuzzDecrypt,./internal/cookiecrypt)
	$(call fuzz,FuzzToken,./internal/bearer)
	$(call fuzz,FuzzParse,./internal/jwt)
	$(call fuzz,FuzzParseJWKS,./internal/jwt)
	$(call fuzz,FuzzVerifySignature,./internal/jwt)
	$(call fuzz,FuzzRequest,./bfftoken)
	$(call fuzz,FuzzIntrospectionAnswer,./phantomtoken)
	$(call fuzz,FuzzMaxAge,./phantomtoken)
	$(call fuzz,FuzzLoginStart,./oauthagent)
	$(call fuzz,FuzzLoginEnd,./oauthagent)
	$(call fuzz,FuzzV2,./oauthagent)
	$(call fuzz,FuzzTokenResponse,./oauthagent)
	$(call fuzz,FuzzDiscovery,./oauthagent)
	$(call fuzz,FuzzUserInfo,./oauthagent)
	$(call fuzz,FuzzConfig,.)

test-traefik: $(TRAEFIK) $(HYDRA)
	cd traefik && $(GO) vet ./... && $(STATICCHECK) ./... && $(GO) test -race -count=1 -timeout 30m ./...

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

## hydra: build Ory Hydra v2.3.0 (the second authorization server of the tests) from the hydra/
## module's pinned Go tool into bin/. cgo and the sqlite tags are what DSN=memory needs.
hydra: $(HYDRA)

$(HYDRA): hydra/go.mod hydra/go.sum
	@echo "Building Ory Hydra from hydra/go.mod into $(HYDRA) (about three minutes the first time)..."
	cd hydra && CGO_ENABLED=1 $(GO) build -tags sqlite,sqlite_omit_load_extension -o ../$(HYDRA) github.com/ory/hydra/v2
	@touch $(HYDRA)

clean:
	rm -rf bin plugins-local plugins-storage
