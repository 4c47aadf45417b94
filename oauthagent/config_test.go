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
	rsaFile := fakeas.WritePEM(t, fakeas.NewKey(fakeas.KeyRSA2048), fakeas.PEMPKCS8)
	publicFile := fakeas.WritePEM(t, fakeas.NewKey(fakeas.KeyP256), fakeas.PEMPublic)
	smallFile := fakeas.WritePEM(t, fakeas.NewKey(fakeas.KeyRSA1024), fakeas.PEMPKCS1)
	p521File := fakeas.WritePEM(t, fakeas.NewKey(fakeas.KeyP521), fakeas.PEMSEC1)
	edFile := fakeas.WritePEM(t, fakeas.NewKey(fakeas.KeyEd25519), fakeas.PEMPKCS8)
	// pkj is private_key_jwt without the client secret, plus extra.
	pkj := func(extra map[string]interface{}) map[string]interface{} {
		m := map[string]interface{}{"clientAuthMethod": "private_key_jwt", "clientSecret": nil}
		for k, v := range extra {
			m[k] = v
		}
		return m
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
		{"an unknown client authentication", map[string]interface{}{"clientAuthMethod": "tls_client_auth"}, "clientAuthMethod: must be client_secret_basic, client_secret_post or private_key_jwt"},
		{"private_key_jwt without a key", pkj(nil), "clientPrivateKey: is required"},
		{"private_key_jwt with a secret too", map[string]interface{}{"clientAuthMethod": "private_key_jwt", "clientPrivateKeyFile": rsaFile}, "clientSecret: is not used with clientAuthMethod: private_key_jwt"},
		{"a key that is not PEM", pkj(map[string]interface{}{"clientPrivateKey": "not a key"}), "clientPrivateKey: is not a PEM private key"},
		{"a public key instead of a private one", pkj(map[string]interface{}{"clientPrivateKeyFile": publicFile}), "clientPrivateKeyFile: is not a PKCS#8, PKCS#1 or SEC 1 private key"},
		{"an RSA key that is too small", pkj(map[string]interface{}{"clientPrivateKeyFile": smallFile}), "clientPrivateKeyFile: is an RSA key of 1024 bits"},
		{"an EC key on another curve", pkj(map[string]interface{}{"clientPrivateKeyFile": p521File}), "clientPrivateKeyFile: is an EC key on a curve other than P-256 and P-384"},
		{"an Ed25519 key", pkj(map[string]interface{}{"clientPrivateKeyFile": edFile}), "clientPrivateKeyFile: is neither an RSA nor an EC key"},
		{"an unknown assertion algorithm", pkj(map[string]interface{}{"clientPrivateKeyFile": rsaFile, "clientAssertionAlg": "HS256"}), "clientAssertionAlg: must be one of RS256, PS256, ES256, ES384"},
		{"an algorithm the key cannot sign", pkj(map[string]interface{}{"clientPrivateKeyFile": rsaFile, "clientAssertionAlg": "ES256"}), "clientPrivateKeyFile: is an RSA key, which cannot sign ES256"},
		{"a key file that does not exist", pkj(map[string]interface{}{"clientPrivateKeyFile": "/nonexistent/key.pem"}), "clientPrivateKeyFile: cannot read the file: it does not exist"},
		{"an unknown PAR setting", map[string]interface{}{"pushedAuthorizationRequests": "sometimes"}, "pushedAuthorizationRequests: must be auto, always or never"},
		{"an unknown assertion audience", map[string]interface{}{"clientAssertionAudience": "everywhere"}, "clientAssertionAudience: must be endpoint, token or issuer"},
		{"a relative redirect URI", map[string]interface{}{"redirectUri": "/callback"}, "redirectUri: must be an http or https URL"},
		{"an unknown agent API", map[string]interface{}{"agentApi": "v3"}, "agentApi: must be v1 or v2"},
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
