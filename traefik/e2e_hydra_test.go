package traefik_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tokenhandler/traefik-token-handler/traefik/stack"
)

// TestEndToEndAgainstHydraInChromium starts the demo system against Ory Hydra v2.3.0 (as make
// demo AUTH_SERVER=hydra does: Hydra and its login app behind Traefik as login.example.localhost,
// phantomToken in minted mode, the example API trusting only the gateway's JWKS) and drives the
// SPA in headless Chromium: sign-in through the login app's form, the API through bffToken and
// phantomToken (the gateway's JWT, validated by the API), Hydra's userinfo through the OAuth Proxy
// route, refresh (Hydra rotates the refresh token), and sign-out through Hydra's end-session
// endpoint.
func TestEndToEndAgainstHydraInChromium(t *testing.T) {
	began := time.Now()
	demo, tab := startDemoInChromium(t, stack.DemoOptions{AuthServer: stack.AuthServerHydra})
	t.Logf("Hydra, its login app, the API, the web host, Traefik and Chromium answered after %v", time.Since(began).Round(time.Millisecond))

	// The gateway's JWKS through the Path-only router, as the API fetches it.
	resp, body := send(t, http.MethodGet, "http://"+demo.Options.TraefikAddr+stack.DemoGatewayJWKSPath, "", nil)
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &jwks); err != nil || resp.StatusCode != http.StatusOK || len(jwks.Keys) != 1 ||
		jwks.Keys[0]["crv"] != "P-256" || jwks.Keys[0]["d"] != nil {
		t.Fatalf("GET %s: %d %s", stack.DemoGatewayJWKSPath, resp.StatusCode, body)
	}

	spa := demo.URL("www.example.localhost", "/")
	run(t, tab, "open the SPA", chromedp.Navigate(spa))
	waitStatus(t, tab, "signed-out")

	// example/hydralogin's form has the ids of oidc-provider's: #username, #password, #login.
	run(t, tab, "sign in", chromedp.Click("#sign-in", chromedp.ByID))
	run(t, tab, "Hydra's login form", chromedp.WaitVisible("#username", chromedp.ByID))
	var location string
	run(t, tab, "the login form's address", chromedp.Location(&location))
	if !strings.HasPrefix(location, demo.URL("login.example.localhost", "/login?login_challenge=")) {
		t.Fatalf("the login form is at %s, want the login app through Traefik", location)
	}
	submitLogin(t, tab, "a wrong password", "wrong-password")
	run(t, tab, "the login error", chromedp.WaitVisible("#login-error", chromedp.ByID))
	submitLogin(t, tab, "the right password", "Password1")
	waitStatus(t, tab, "signed-in")
	run(t, tab, "back on the SPA", chromedp.Location(&location))
	if location != spa {
		t.Errorf("after sign-in the address is %s, want %s", location, spa)
	}
	if name := text(t, tab, "#user-name"); name != "Demo User" {
		t.Errorf("user name %q, want Demo User (Hydra's userinfo through the agent)", name)
	}

	introspections := hydraCalls(demo.Hydra, "POST", "/admin/oauth2/introspect")
	getData(t, tab)
	if hydraCalls(demo.Hydra, "POST", "/admin/oauth2/introspect") == introspections {
		t.Errorf("the API call made no introspection at Hydra")
	}
	if api := demoProcess(t, demo, "api"); !strings.Contains(api.Output(), "sub=demouser") {
		t.Errorf("the API's log has no request of demouser (it validated no minted JWT):\n%s", api.Output())
	}
	checkUserInfoRoute(t, tab, demo, nil)

	run(t, tab, "refresh the token", chromedp.Click("#refresh-token", chromedp.ByID))
	waitText(t, tab, "#notice", "")
	if e := text(t, tab, "#error"); e != "" {
		t.Fatalf("refresh showed the error %q", e)
	}
	getData(t, tab)
	checkCookies(t, tab, demo, v1SessionCookies, nil)

	run(t, tab, "sign out", chromedp.Click("#sign-out", chromedp.ByID))
	waitStatus(t, tab, "signed-out")
	run(t, tab, "reload after sign-out", chromedp.Reload())
	waitStatus(t, tab, "signed-out")
	if hydraCalls(demo.Hydra, "POST", "/oauth2/revoke") == 0 {
		t.Errorf("the sign-out revoked nothing at Hydra")
	}
	t.Logf("the whole test took %v", time.Since(began).Round(time.Millisecond))
}

// demoProcess returns the demo's process of that name.
func demoProcess(t *testing.T, demo *stack.Demo, name string) *stack.Process {
	t.Helper()
	for _, p := range demo.Processes {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("the demo has no %s process", name)
	return nil
}
