package traefik_test

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenhandler/traefik-token-handler/testsupport/fakeas"
	"github.com/tokenhandler/traefik-token-handler/traefik/stack"
)

// The gateway's minted phantom tokens: their issuer (what the API trusts for them), their
// audience (the API), and where Traefik serves their public keys.
const (
	gatewayIssuer   = "https://gateway.example.localhost"
	gatewayAudience = stack.HydraAudience
	gatewayJWKSPath = "/.well-known/gateway-jwks"
)

// hydraMintedPhantom is the phantomToken configuration that introspects at Hydra's admin API
// (plain RFC 7662 JSON) and mints the JWT with signingKey, written to a PEM file. The client is
// api-gateway-client with its secret; callers may replace the client authentication keys.
func hydraMintedPhantom(t *testing.T, h *stack.Hydra, signingKey crypto.Signer) map[string]string {
	return map[string]string{
		"introspectionEndpoint": h.IntrospectionEndpoint(),
		"clientId":              stack.HydraIntrospectionClientID,
		"clientSecret":          stack.HydraIntrospectionClientSecret,
		"signingKeyFile":        fakeas.WritePEM(t, signingKey, fakeas.PEMPKCS8),
		"mintedIssuer":          gatewayIssuer,
		"mintedAudience":        gatewayAudience,
		"jwksPath":              gatewayJWKSPath,
		"requiredScopes":        "[read]",
	}
}

// startExampleAPI builds example/api and runs it on addr, trusting tokens of issuer signed by the
// keys at jwksURI for the API's audience with the read scope.
func startExampleAPI(t *testing.T, addr, jwksURI, issuer string) *stack.Process {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "example-api")
	build := exec.Command("go", "build", "-o", bin, "./example/api")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building example/api: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(cmd.Environ(), "HOST=127.0.0.1", "PORT="+stack.Port(addr), "JWKS_URI="+jwksURI,
		"ISSUER="+issuer, "AUDIENCE="+gatewayAudience, "REQUIRED_SCOPE=read")
	p, err := stack.Start("api", cmd, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("example API output:\n%s", p.Output())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := stack.WaitHTTP(ctx, p, "http://"+addr+"/health", "", time.Minute, func(r *http.Response) bool { return r.StatusCode == http.StatusOK }); err != nil {
		t.Fatal(err)
	}
	return p
}

// jwtPart decodes the header (0) or the claims (1) of a JWT.
func jwtPart(t *testing.T, token string, part int) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("%.20q is not a JWT", token)
	}
	data, err := base64.RawURLEncoding.DecodeString(parts[part])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestHydraMintedPhantomTokens runs bffToken and phantomToken in minted mode in the real Traefik
// in front of the real example API, against Ory Hydra v2.3.0, whose introspection answers plain
// JSON: the gateway mints the JWT, serves its key as a JWKS through Traefik, and the API, which
// trusts only the gateway's issuer and keys, validates it.
func TestHydraMintedPhantomTokens(t *testing.T) {
	began := time.Now()
	h := startHydra(t)
	apiAddr, err := stack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	signingKey := fakeas.NewKey(fakeas.KeyP256)
	setup := hydraSetup{Phantom: hydraMintedPhantom(t, h, signingKey), AllowTokens: true, Upstream: "http://" + apiAddr}
	base, _ := realTraefik(t, hydraYAML(h, setup), "api.example.localhost", "/oauth-agent/claims")
	// The API's key fetcher sends no Host of its own: the JWKS router matches the path alone.
	api := startExampleAPI(t, apiAddr, base+gatewayJWKSPath, gatewayIssuer)
	t.Logf("Hydra, Traefik and the API answered after %v", time.Since(began).Round(time.Millisecond))

	// The gateway's JWKS through Traefik: the P-256 key, named by its thumbprint.
	resp, body := send(t, http.MethodGet, base+gatewayJWKSPath, "", nil)
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	thumbprint, err := fakeas.Thumbprint(signingKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(body, &jwks); err != nil || resp.StatusCode != http.StatusOK || len(jwks.Keys) != 1 ||
		jwks.Keys[0]["kid"] != thumbprint || jwks.Keys[0]["crv"] != "P-256" || jwks.Keys[0]["d"] != nil {
		t.Fatalf("GET %s: %d %s", gatewayJWKSPath, resp.StatusCode, body)
	}

	b := hydraBrowser()
	agent := base + "/oauth-agent"
	hydraSignIn(t, h, b, agent)
	introspections := hydraCalls(h, "POST", "/admin/oauth2/introspect")
	for i := 1; i <= 2; i++ {
		resp := b.Do(t, http.MethodGet, base+"/api/data", "", nil)
		if answer := resp.JSON(t); resp.Status != http.StatusOK || answer["sub"] != "demouser" || !strings.Contains(answer["scope"].(string), "read") {
			t.Fatalf("API call %d through bffToken and phantomToken: %d %s", i, resp.Status, resp.Body)
		}
	}
	// Hydra answers introspection with "Cache-Control: private, no-cache, no-store,
	// must-revalidate", which phantomToken honours: against Hydra every API call costs one
	// introspection.
	if calls := hydraCalls(h, "POST", "/admin/oauth2/introspect") - introspections; calls != 2 {
		t.Errorf("two API calls made %d introspections at Hydra, want 2 (Hydra's no-store keeps them out of the cache)", calls)
	}
	if !strings.Contains(api.Output(), "sub=demouser") {
		t.Errorf("the API's log has no request of demouser:\n%s", api.Output())
	}

	// Hydra's own access token as a bearer (allowTokens): minted the same way.
	accessToken := cookieToken(t, b, hydraCipher(t), agent, "example-at")
	resp, body = send(t, http.MethodGet, base+"/api/data", "api.example.localhost", map[string]string{"Authorization": "Bearer " + accessToken})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Hydra's access token as a bearer: %d %s", resp.StatusCode, body)
	}

	// Garbage: a bearer Hydra does not know (inactive at introspection) and a cookie bffToken
	// cannot decrypt; the token minted for demouser does not help either, as the API sees only
	// the gateway's JWT.
	for name, headers := range map[string]map[string]string{
		"a garbage bearer": {"Authorization": "Bearer ory_at_garbage"},
		"a garbage cookie": {"Cookie": "example-at=garbage", "Origin": hydraOrigin},
	} {
		resp, body := send(t, http.MethodGet, base+"/api/data", "api.example.localhost", headers)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	t.Logf("the whole test took %v", time.Since(began).Round(time.Millisecond))
}
