package traefik_test

import (
	"testing"

	"github.com/tokenhandler/traefik-token-handler/testsupport/requestcases"
	"github.com/tokenhandler/traefik-token-handler/testsupport/scenarios"
)

// TestSecurityScenariosUnderYaegi runs the checks behind docs/security.md through the interpreted
// plugin, the three roles stacked as a deployment stacks them. The check that no log line holds
// a secret is compiled only (oauthagent TestSecurityNoSecretsInLogs): interpreted roles log to the
// process's standard output.
func TestSecurityScenariosUnderYaegi(t *testing.T) {
	scenarios.SecurityAll(t, func(role string) requestcases.Builder { return buildInterpreted(role) })
}
