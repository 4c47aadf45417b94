package traefik_test

import (
	"context"
	"crypto"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenhandler/traefik-token-handler/testsupport/fakeas"
	"github.com/tokenhandler/traefik-token-handler/traefik/stack"
)

// The clients TestHydraPrivateKeyJWT registers: the agent's and the gateway's, both authenticating
// with private_key_jwt.
const (
	hydraKeyClientID        = "spa-client-pkjwt"
	hydraKeyClientKid       = "spa-client-key-1"
	hydraKeyGatewayClientID = "api-gateway-pkjwt"
	hydraKeyGatewayKid      = "api-gateway-key-1"
)

// hydraKeyClient registers client at Hydra with token_endpoint_auth_method private_key_jwt and the
// public half of key (kid, alg) as its jwks. Hydra checks an assertion's alg against
// token_endpoint_auth_signing_alg (RS256 when not set), so it is set to the key's algorithm.
func hydraKeyClient(t *testing.T, h *stack.Hydra, client map[string]any, key crypto.Signer, kid string) {
	t.Helper()
	alg := fakeas.DefaultAlg(key.Public())
	jwk, err := fakeas.JWK(key.Public(), kid, alg)
	if err != nil {
		t.Fatal(err)
	}
	client["token_endpoint_auth_method"] = "private_key_jwt"
	client["token_endpoint_auth_signing_alg"] = alg
	client["jwks"] = map[string]any{"keys": []any{jwk}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.CreateClient(ctx, client); err != nil {
		t.Fatal(err)
	}
}

// hydraErrors returns the lines of Hydra's log that report an error answer of the token or
// revocation endpoint (Hydra logs the reason of a refused client assertion there).
func hydraErrors(h *stack.Hydra) []string {
	var errs []string
	for _, line := range strings.Split(h.Hydra.Output(), "\n") {
		if strings.Contains(line, "level=error") || strings.Contains(line, "invalid_client") {
			errs = append(errs, line)
		}
	}
	return errs
}

// TestHydraPrivateKeyJWT runs the agent and phantomToken in the real Traefik against Ory Hydra
// v2.3.0 with clients that authenticate with private_key_jwt (RFC 7523): the agent with an RSA
// key for its token, refresh and revocation calls, phantomToken with a P-256 key for
// introspection.
func TestHydraPrivateKeyJWT(t *testing.T) {
	began := time.Now()
	h := startHydra(t)
	agentKey, gatewayKey := fakeas.NewKey(fakeas.KeyRSA2048), fakeas.NewKey(fakeas.KeyP256)
	hydraKeyClient(t, h, h.SPAClient(hydraKeyClientID), agentKey, hydraKeyClientKid)
	hydraKeyClient(t, h, map[string]any{"client_id": hydraKeyGatewayClientID, "client_name": "API gateway (private key)",
		"grant_types": []string{"client_credentials"}}, gatewayKey, hydraKeyGatewayKid)

	// phantomToken in minted mode (Hydra answers plain JSON) authenticating with its key. Hydra's
	// introspection is on the admin port and ignores client authentication altogether: that the
	// API call passes shows only that phantomToken sends the assertion and Hydra accepts the
	// request, not that Hydra checked it.
	phantom := hydraMintedPhantom(t, h, fakeas.NewKey(fakeas.KeyP256))
	delete(phantom, "clientSecret")
	phantom["clientId"] = hydraKeyGatewayClientID
	phantom["clientAuthMethod"] = "private_key_jwt"
	phantom["clientPrivateKeyFile"] = fakeas.WritePEM(t, gatewayKey, fakeas.PEMSEC1)
	phantom["clientKeyId"] = hydraKeyGatewayKid
	upstream := echoUpstream(t)
	base, traefik := realTraefik(t, hydraYAML(h, hydraSetup{
		ClientID: hydraKeyClientID,
		ClientAuth: map[string]string{
			"clientAuthMethod":     "private_key_jwt",
			"clientPrivateKeyFile": fakeas.WritePEM(t, agentKey, fakeas.PEMPKCS1),
			"clientKeyId":          hydraKeyClientKid,
			// Hydra (fosite) accepts only its token endpoint's URL as the aud of an assertion,
			// at every endpoint: revocation included.
			"clientAssertionAudience": "token",
		},
		Phantom:  phantom,
		Upstream: upstream.URL,
	}), "api.example.localhost", "/oauth-agent/claims")
	t.Logf("Hydra and Traefik answered after %v", time.Since(began).Round(time.Millisecond))
	agent := base + "/oauth-agent"
	cipher := hydraCipher(t)
	b := hydraBrowser()

	// Login: the code exchange authenticates with an assertion whose aud is the token endpoint.
	tokenCalls := hydraCalls(h, "POST", "/oauth2/token")
	csrf := hydraSignIn(t, h, b, agent)
	if calls := hydraCalls(h, "POST", "/oauth2/token") - tokenCalls; calls != 1 {
		t.Errorf("the login made %d calls to Hydra's token endpoint, want 1", calls)
	}
	accessToken, refreshToken := cookieToken(t, b, cipher, agent, "example-at"), cookieToken(t, b, cipher, agent, "example-auth")
	if active := introspect(t, h, accessToken); active["active"] != true || active["client_id"] != hydraKeyClientID {
		t.Fatalf("introspection of the access token: %v", active)
	}

	// The API call: bffToken, then phantomToken introspects with its assertion and mints the JWT.
	introspections := hydraCalls(h, "POST", "/admin/oauth2/introspect")
	jwt := apiToken(t, b, base)
	if claims := jwtPart(t, jwt, 1); claims["iss"] != gatewayIssuer || claims["sub"] != "demouser" || claims["aud"] != gatewayAudience || claims["client_id"] != hydraKeyClientID {
		t.Fatalf("the API received a JWT with claims %v", claims)
	}
	if header := jwtPart(t, jwt, 0); header["typ"] != "at+jwt" || header["alg"] != "ES256" {
		t.Errorf("the minted JWT's header: %v", header)
	}
	if calls := hydraCalls(h, "POST", "/admin/oauth2/introspect") - introspections; calls != 1 {
		t.Errorf("the API call made %d introspections, want 1", calls)
	}

	// Refresh: a new assertion (Hydra refuses a jti it has seen), rotated tokens.
	for i := 1; i <= 2; i++ {
		resp := b.Do(t, http.MethodPost, agent+"/refresh", "", csrf)
		if resp.Status != http.StatusNoContent {
			t.Fatalf("refresh %d: %d %s\nHydra's errors:\n%s", i, resp.Status, resp.Body, strings.Join(hydraErrors(h), "\n"))
		}
		newAccess, newRefresh := cookieToken(t, b, cipher, agent, "example-at"), cookieToken(t, b, cipher, agent, "example-auth")
		if newAccess == accessToken || newRefresh == refreshToken {
			t.Fatalf("refresh %d: the tokens did not change", i)
		}
		accessToken, refreshToken = newAccess, newRefresh
	}
	if got := jwtPart(t, apiToken(t, b, base), 1); got["sub"] != "demouser" {
		t.Fatalf("after the refreshes the API received claims %v", got)
	}

	// Logout: two revocation calls, authenticated with assertions whose aud is the token
	// endpoint (clientAssertionAudience: token); Hydra revokes both tokens.
	revocations := hydraCalls(h, "POST", "/oauth2/revoke")
	resp := b.Do(t, http.MethodPost, agent+"/logout", "", csrf)
	if resp.Status != http.StatusOK || !strings.HasPrefix(resp.JSON(t)["url"].(string), h.EndSessionEndpoint()+"?") {
		t.Fatalf("/logout: %d %s", resp.Status, resp.Body)
	}
	if calls := hydraCalls(h, "POST", "/oauth2/revoke") - revocations; calls != 2 {
		t.Errorf("logout made %d calls to Hydra's revocation endpoint, want 2", calls)
	}
	if activeAccess, activeRefresh := introspect(t, h, accessToken)["active"], introspect(t, h, refreshToken)["active"]; activeAccess != false || activeRefresh != false {
		t.Errorf("after logout: access token active %v, refresh token active %v, want both revoked\nHydra's errors:\n%s",
			activeAccess, activeRefresh, strings.Join(hydraErrors(h), "\n"))
	}
	if resp = b.Do(t, http.MethodGet, base+"/api/data", "", nil); resp.Status != http.StatusUnauthorized {
		t.Errorf("API call after logout: %d", resp.Status)
	}
	for _, secret := range []string{accessToken, refreshToken} {
		if strings.Contains(traefik.Output(), secret) {
			t.Errorf("Traefik's output contains a token")
		}
	}
	t.Logf("the whole test took %v", time.Since(began).Round(time.Millisecond))
}
