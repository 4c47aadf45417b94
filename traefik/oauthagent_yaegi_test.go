package traefik_test

import (
	"testing"

	"github.com/tokenhandler/traefik-token-handler/testsupport/scenarios"
)

// TestOAuthAgentUnderYaegi runs every OAuth Agent scenario through the interpreted plugin.
func TestOAuthAgentUnderYaegi(t *testing.T) {
	scenarios.AgentAll(t, buildInterpreted("oauthAgent"))
}
