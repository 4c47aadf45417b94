package oauthagent_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/tokenhandler/traefik-token-handler/bfftoken"
	"github.com/tokenhandler/traefik-token-handler/phantomtoken"
	"github.com/tokenhandler/traefik-token-handler/testsupport/requestcases"
	"github.com/tokenhandler/traefik-token-handler/testsupport/scenarios"
	"github.com/tokenhandler/traefik-token-handler/testsupport/traefikconfig"
)

// roles builds each role compiled, decoding its configuration as Traefik would.
func roles(role string) requestcases.Builder {
	switch role {
	case "bffToken":
		return func(raw map[string]interface{}, next http.Handler) (http.Handler, error) {
			cfg := bfftoken.CreateConfig()
			if err := traefikconfig.Decode(raw, cfg); err != nil {
				return nil, err
			}
			return bfftoken.New(context.Background(), next, cfg, "bff-token@test")
		}
	case "phantomToken":
		return func(raw map[string]interface{}, next http.Handler) (http.Handler, error) {
			cfg := phantomtoken.CreateConfig()
			if err := traefikconfig.Decode(raw, cfg); err != nil {
				return nil, err
			}
			return phantomtoken.New(context.Background(), next, cfg, "phantom-token@test")
		}
	}
	return build
}

// TestSecurityScenarios runs the checks behind docs/security.md against the compiled roles,
// stacked as a deployment stacks them (traefik/security_yaegi_test.go runs them interpreted).
func TestSecurityScenarios(t *testing.T) {
	stop := requestcases.CaptureLogs()
	defer func() {
		logs := stop()
		if t.Failed() {
			t.Log(logs)
		}
	}()
	scenarios.SecurityAll(t, roles)
}

// TestSecurityNoSecretsInLogs runs the three roles at logLevel debug through whole sessions and
// their failures and checks that no log line holds a secret of the run. It is compiled only: the
// interpreted roles write their log lines to the process's standard output, which a test cannot
// capture from inside the interpreter.
func TestSecurityNoSecretsInLogs(t *testing.T) {
	scenarios.SecretsNeverLogged(t, roles, requestcases.CaptureLogs)
}
