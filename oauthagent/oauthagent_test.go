package oauthagent_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/tokenhandler/traefik-token-handler/oauthagent"
	"github.com/tokenhandler/traefik-token-handler/testsupport/requestcases"
	"github.com/tokenhandler/traefik-token-handler/testsupport/scenarios"
	"github.com/tokenhandler/traefik-token-handler/testsupport/traefikconfig"
)

func build(raw map[string]interface{}, next http.Handler) (http.Handler, error) {
	cfg := oauthagent.CreateConfig()
	if err := traefikconfig.Decode(raw, cfg); err != nil {
		return nil, err
	}
	return oauthagent.New(context.Background(), next, cfg, "oauth-agent@test")
}

func TestAgentScenarios(t *testing.T) {
	stop := requestcases.CaptureLogs()
	defer func() {
		logs := stop()
		if t.Failed() {
			t.Log(logs)
		}
	}()
	scenarios.AgentAll(t, build)
}

func TestAgentV2Scenarios(t *testing.T) {
	stop := requestcases.CaptureLogs()
	defer func() {
		logs := stop()
		if t.Failed() {
			t.Log(logs)
		}
	}()
	scenarios.AgentV2All(t, build)
}
