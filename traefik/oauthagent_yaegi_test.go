package traefik_test

import (
	"testing"

	"github.com/tokenhandler/traefik-token-handler/testsupport/scenarios"
)

// TestOAuthAgentUnderYaegi runs every OAuth Agent scenario through the interpreted plugin.
func TestOAuthAgentUnderYaegi(t *testing.T) {
	scenarios.AgentAll(t, buildInterpreted("oauthAgent"))
}

// TestOAuthAgentV2UnderYaegi runs every scenario of the v2 API through the interpreted plugin.
func TestOAuthAgentV2UnderYaegi(t *testing.T) {
	scenarios.AgentV2All(t, buildInterpreted("oauthAgent"))
}
