package traefik_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenhandler/traefik-token-handler/traefik/stack"
)

// TestConfigDemoAgentAPI renders the demo's dynamic configuration as make demo does, for both
// authorization servers: with the v1 API (the default) it is traefik/dynamic/demo.yml byte for
// byte, and with AGENT_API=v2 it differs only by agentApi: v2 on the oauth-agent and bff-token
// middlewares, as Traefik's file provider decodes it.
func TestConfigDemoAgentAPI(t *testing.T) {
	demoYML, err := os.ReadFile(repoFile("traefik/dynamic/demo.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, authServer := range []string{stack.AuthServerOIDCProvider, stack.AuthServerHydra} {
		t.Run(authServer, func(t *testing.T) {
			v1 := renderDemo(t, stack.DemoOptions{AuthServer: authServer})
			if vDefault := renderDemo(t, stack.DemoOptions{AuthServer: authServer, AgentAPI: stack.AgentAPIV1}); vDefault != v1 {
				t.Error("AgentAPI v1 renders another configuration than the default")
			}
			if authServer == stack.AuthServerOIDCProvider && v1 != string(demoYML) {
				t.Error("the v1 demo configuration is not traefik/dynamic/demo.yml as it stands")
			}
			if strings.Contains(v1, "\n            agentApi:") {
				t.Error("the v1 demo configuration sets agentApi")
			}

			v2 := renderDemo(t, stack.DemoOptions{AuthServer: authServer, AgentAPI: stack.AgentAPIV2})
			if without := strings.ReplaceAll(v2, "            agentApi: v2\n", ""); without != v1 {
				t.Error("the v2 demo configuration differs from v1 by more than its agentApi lines")
			}
			conf := dynamicFromFile(t, v2, ".yml")
			for name, mw := range conf.HTTP.Middlewares {
				plugin, ok := mw.Plugin[alias]
				if !ok {
					continue
				}
				want := map[string]string{"oauth-agent": "oauthAgent", "bff-token": "bffToken"}[name]
				for role, settings := range plugin {
					api, _ := settings.(map[string]interface{})["agentApi"].(string)
					if role == want && api != stack.AgentAPIV2 {
						t.Errorf("middleware %s: agentApi %q, want v2", name, api)
					} else if role != want && api != "" {
						t.Errorf("middleware %s (%s): agentApi %q, want none", name, role, api)
					}
				}
			}
			r := conf.HTTP.Routers["oauth-userinfo"]
			if r == nil || strings.Join(r.Middlewares, ",") != "bff-token,oauth-userinfo-cors,oauth-userinfo-path" || r.Service != "authserver" {
				t.Errorf("the userinfo route is %+v", r)
			}
		})
	}
}

// TestDemoConfigV2Builds builds the tokenhandler middlewares of the v2 demo configurations
// (oidc-provider and Hydra) with the interpreted plugin, as Traefik does for make demo
// AGENT_API=v2.
func TestDemoConfigV2Builds(t *testing.T) {
	work := t.TempDir()
	writeGatewayKey(t, filepath.Join(work, "gateway-signing-key.pem"))
	for _, authServer := range []string{stack.AuthServerOIDCProvider, stack.AuthServerHydra} {
		conf := dynamicFromFile(t, renderDemo(t, stack.DemoOptions{AuthServer: authServer, AgentAPI: stack.AgentAPIV2, WorkDir: work}), ".yml")
		if built := buildPluginMiddlewares(t, conf, "file"); built != 3 {
			t.Errorf("%s: built %d tokenhandler middlewares, want 3", authServer, built)
		}
	}
}

// renderDemo returns the one dynamic configuration file of the demo with o, at the documented
// addresses.
func renderDemo(t *testing.T, o stack.DemoOptions) string {
	t.Helper()
	o.Root = repoRoot
	files, err := stack.DynamicConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 {
		t.Fatalf("the demo has %d dynamic configuration files, want 1", len(files))
	}
	for _, content := range files {
		return content
	}
	return ""
}

// writeGatewayKey writes a P-256 key in PKCS#8 PEM, as the Hydra demo's gateway signing key.
func writeGatewayKey(t *testing.T, path string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
