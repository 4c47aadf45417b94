package oauthagent_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenhandler/traefik-token-handler/testsupport/fakeas"
	"github.com/tokenhandler/traefik-token-handler/testsupport/scenarios"
)

// TestConfigurationErrorsNameTheKey: configuration mistakes make New fail with an error that
// names the key.
func TestConfigurationErrorsNameTheKey(t *testing.T) {
	p := fakeas.NewProvider(t, fakeas.ProviderOptions{})
	bigFile := filepath.Join(t.TempDir(), "huge-secret")
	if err := os.WriteFile(bigFile, []byte(strings.Repeat("s", 70*1024)), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		extra   map[string]interface{}
		wantErr string
	}{
		{"an endpoint with a fragment", map[string]interface{}{"authorizationEndpoint": "https://as.example/auth#x"}, "authorizationEndpoint: must be an http or https URL without a fragment"},
		{"a javascript: endpoint", map[string]interface{}{"endSessionEndpoint": "javascript:alert(1)"}, "endSessionEndpoint: must be an http or https URL"},
		{"a timeout that would overflow", map[string]interface{}{"timeoutSeconds": "9223372036854775807"}, "timeoutSeconds: must be from 1 to 600"},
		{"a secret file over 64 KiB", map[string]interface{}{"clientSecret": nil, "clientSecretFile": bigFile}, "clientSecretFile: cannot read the file: it is larger than 64 KiB"},
		{"an empty key", map[string]interface{}{"": "x"}, `"": unknown key`},
		{"an unknown client authentication", map[string]interface{}{"clientAuthMethod": "private_key_jwt"}, "clientAuthMethod: must be client_secret_basic or client_secret_post"},
		{"a relative redirect URI", map[string]interface{}{"redirectUri": "/callback"}, "redirectUri: must be an http or https URL"},
		{"a path prefix with a query", map[string]interface{}{"pathPrefix": "/agent?x"}, "pathPrefix: must be a path"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := build(scenarios.AgentConfig(p, tc.extra), nil)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
