package stack

import (
	"fmt"
	"strings"
)

// Chain is the dynamic configuration of a whole token handler deployment on one Traefik: the
// agent on api.example.localhost/oauth-agent (to noop@internal) and an API router on
// api.example.localhost/api through bffToken and phantomToken to an upstream. The tests that
// run the three roles together build their configuration from it.
type Chain struct {
	Issuer           string
	IntrospectionURL string
	ClientID         string // the introspection client
	ClientSecret     string
	Upstream         string
	RedirectURI      string // also the post-logout redirect
	Origin           string // the SPA's origin
	Key              string // the cookie encryption key
	PreviousKey      string // optional
	CacheSeconds     int    // 0: phantomToken's default
	RequiredScope    string // optional
	AgentAPI         string // the agent's and bffToken's agentApi; "" leaves the default (v1)
}

// YAML renders the configuration for the file provider.
func (c Chain) YAML() string {
	keys := "encryptionKey: " + c.Key
	if c.PreviousKey != "" {
		keys += "\n            previousEncryptionKeys: [" + c.PreviousKey + "]"
	}
	if c.AgentAPI != "" {
		// In both the agent's and bffToken's section, as the keys are.
		keys += "\n            agentApi: " + c.AgentAPI
	}
	var phantomExtra strings.Builder
	if c.CacheSeconds > 0 {
		fmt.Fprintf(&phantomExtra, "\n            tokenCacheSeconds: %d", c.CacheSeconds)
	}
	if c.RequiredScope != "" {
		fmt.Fprintf(&phantomExtra, "\n            requiredScopes: [%s]", c.RequiredScope)
	}
	return fmt.Sprintf(`http:
  routers:
    agent:
      rule: Host(%[1]sapi.example.localhost%[1]s) && PathPrefix(%[1]s/oauth-agent%[1]s)
      middlewares: [oauth-agent]
      service: noop@internal
    api:
      rule: Host(%[1]sapi.example.localhost%[1]s) && PathPrefix(%[1]s/api%[1]s)
      middlewares: [bff-token, phantom-token]
      service: upstream
  middlewares:
    oauth-agent:
      plugin:
        tokenhandler:
          oauthAgent:
            issuer: %[2]s
            clientId: spa-client
            clientSecret: Password1
            redirectUri: %[3]s
            postLogoutRedirectUri: %[3]s
            cookieNamePrefix: example
            %[4]s
            trustedWebOrigins: [%[5]s]
            cookieSecure: false
    bff-token:
      plugin:
        tokenhandler:
          bffToken:
            cookieNamePrefix: example
            %[4]s
            trustedWebOrigins: [%[5]s]
    phantom-token:
      plugin:
        tokenhandler:
          phantomToken:
            introspectionEndpoint: %[6]s
            clientId: %[7]s
            clientSecret: %[8]s%[9]s
  services:
    upstream:
      loadBalancer:
        servers:
          - url: %[10]s
`, "`", c.Issuer, c.RedirectURI, keys, c.Origin, c.IntrospectionURL, c.ClientID, c.ClientSecret, phantomExtra.String(), c.Upstream)
}
