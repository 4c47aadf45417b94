package traefik_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tokenhandler/traefik-token-handler/traefik/stack"
)

// TestEndToEndV2InChromium starts the demo system with Curity's v2 token handler API (make demo
// AGENT_API=v2: agentApi: v2 on the oauth-agent and bff-token middlewares, and the SPA speaks v2)
// and drives the SPA in headless Chromium: sign-in through the real login form (/login/start,
// /login/end), the ID token's claims from /login/end, userinfo through the OAuth Proxy, GET and
// POST API calls through bffToken with the token-handler-version header, refresh, reload (/session,
// which still knows when the access token expires), a second tab, and sign-out in both tabs. At
// the HTTP level: the userinfo route answers with exactly one Access-Control-Allow-Origin, and
// bffToken v2 refuses a POST without the version header.
func TestEndToEndV2InChromium(t *testing.T) {
	const lifetime = 5 * time.Minute // oidc-provider's access tokens in the demo
	demo, tab1 := startDemoInChromium(t, stack.DemoOptions{AgentAPI: stack.AgentAPIV2}, chromedp.WindowSize(1100, 800))

	spa := demo.URL("www.example.localhost", "/")
	run(t, tab1, "open the SPA", chromedp.Navigate(spa))
	waitStatus(t, tab1, "signed-out")
	if api := text(t, tab1, "#agent-api"); api != "v2" {
		t.Fatalf("the SPA speaks the agent API %q, want v2 (from /config.json)", api)
	}

	run(t, tab1, "sign in", chromedp.Click("#sign-in", chromedp.ByID))
	submitLogin(t, tab1, "the password", "Password1")
	waitStatus(t, tab1, "signed-in")
	var location string
	run(t, tab1, "back on the SPA without the code in the address bar", chromedp.Location(&location))
	if location != spa {
		t.Errorf("after sign-in the address is %s, want %s", location, spa)
	}

	// The name and the sign-in time: userinfo through the proxy, and the ID token's auth_time
	// from /login/end's id_token_claims.
	authTime := text(t, tab1, "#auth-time")
	if name := text(t, tab1, "#user-name"); name != "Demo User" || authTime == "" || strings.Contains(authTime, "unknown") {
		t.Errorf("user name %q, auth time %q", name, authTime)
	}
	if e := text(t, tab1, "#error"); e != "" {
		t.Fatalf("the signed-in view shows the error %q", e)
	}
	// The v2 agent has no userinfo endpoint: every userinfo call the authorization server saw came
	// through the OAuth Proxy route.
	if n := strings.Count(demoProcess(t, demo, "authserver").Output(), "GET /me 200"); n == 0 {
		t.Error("the authorization server answered no userinfo call (the SPA's went elsewhere)")
	}
	checkExpiresIn(t, tab1, "after sign-in", lifetime)

	getData(t, tab1)
	postData(t, tab1)
	checkUserInfoRoute(t, tab1, demo, map[string]string{"token-handler-version": "1"})

	// bffToken v2: the version header, and nothing else, lets an unsafe method through.
	cookie := cookieHeader(t, tab1, demo)
	apiURL := "http://" + demo.Options.TraefikAddr + "/api/data"
	apiHost := "api.example.localhost:" + stack.Port(demo.Options.TraefikAddr)
	origin := strings.TrimSuffix(spa, "/")
	resp, body := send(t, http.MethodPost, apiURL, apiHost, map[string]string{"Origin": origin, "Cookie": cookie})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `"code":"unauthorized"`) {
		t.Errorf("POST /api/data without token-handler-version: %d %s, want 401 unauthorized", resp.StatusCode, body)
	}
	resp, body = send(t, http.MethodPost, apiURL, apiHost, map[string]string{"Origin": origin, "Cookie": cookie, "token-handler-version": "1"})
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Success response from the Business API") {
		t.Errorf("POST /api/data with token-handler-version: %d %s", resp.StatusCode, body)
	}

	run(t, tab1, "refresh the token", chromedp.Click("#refresh-token", chromedp.ByID))
	waitText(t, tab1, "#notice", "")
	if e := text(t, tab1, "#error"); e != "" {
		t.Fatalf("refresh showed the error %q", e)
	}
	checkExpiresIn(t, tab1, "after the refresh", lifetime)
	getData(t, tab1)

	// A reload asks /session, which still says when the access token expires.
	run(t, tab1, "reload", chromedp.Reload())
	waitStatus(t, tab1, "signed-in")
	checkExpiresIn(t, tab1, "after a reload", lifetime)
	if name := text(t, tab1, "#user-name"); name != "Demo User" {
		t.Errorf("after a reload the user name is %q", name)
	}
	run(t, tab1, "a deep link", chromedp.Navigate(demo.URL("www.example.localhost", "/orders/42?tab=items")))
	waitStatus(t, tab1, "signed-in")
	postData(t, tab1)

	checkCookies(t, tab1, demo, v2SessionCookies, []string{"example-csrf"})

	tab2, cancelTab2 := chromedp.NewContext(tab1)
	defer cancelTab2()
	openTab(t, tab2)
	run(t, tab2, "open a second tab", chromedp.Navigate(spa))
	waitStatus(t, tab2, "signed-in")
	checkExpiresIn(t, tab2, "in the second tab", lifetime)
	getData(t, tab2)

	run(t, tab1, "back to the home page", chromedp.Navigate(spa))
	waitStatus(t, tab1, "signed-in")
	run(t, tab1, "sign out", chromedp.Click("#sign-out", chromedp.ByID))
	waitStatus(t, tab1, "signed-out")
	waitStatus(t, tab2, "signed-out")
	run(t, tab1, "back on the SPA after the end-session round trip", chromedp.Location(&location))
	if !strings.HasPrefix(location, spa) {
		t.Errorf("after sign-out the address is %s, want the SPA", location)
	}
	run(t, tab2, "the second tab after sign-out", chromedp.Reload())
	waitStatus(t, tab2, "signed-out")
	if left := cookieJar(t, tab1, demo); len(left) != 0 {
		t.Errorf("cookies left after sign-out: %v", names(left))
	}
	resp, body = send(t, http.MethodGet, "http://"+demo.Options.TraefikAddr+stack.DemoUserInfoPath, apiHost,
		map[string]string{"Origin": origin, "Cookie": cookie, "token-handler-version": "1"})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("userinfo with the signed-out session's cookies: %d %s, want 401", resp.StatusCode, body)
	}
}

// TestEndToEndV2AgainstHydraInChromium runs the v2 demo against Ory Hydra (make demo
// AUTH_SERVER=hydra AGENT_API=v2): sign-in, Hydra's userinfo through the OAuth Proxy, GET and POST
// API calls, a refresh (Hydra rotates the refresh token), a reload that keeps the session and the
// access token's expiry, and sign-out through Hydra's end-session endpoint.
func TestEndToEndV2AgainstHydraInChromium(t *testing.T) {
	const lifetime = time.Hour // Hydra's access tokens
	demo, tab := startDemoInChromium(t, stack.DemoOptions{AuthServer: stack.AuthServerHydra, AgentAPI: stack.AgentAPIV2})

	spa := demo.URL("www.example.localhost", "/")
	run(t, tab, "open the SPA", chromedp.Navigate(spa))
	waitStatus(t, tab, "signed-out")
	run(t, tab, "sign in", chromedp.Click("#sign-in", chromedp.ByID))
	submitLogin(t, tab, "the password", "Password1")
	waitStatus(t, tab, "signed-in")
	if name := text(t, tab, "#user-name"); name != "Demo User" {
		t.Errorf("user name %q, want Demo User", name)
	}
	if e := text(t, tab, "#error"); e != "" {
		t.Fatalf("the signed-in view shows the error %q", e)
	}
	if hydraCalls(demo.Hydra, "GET", "/userinfo") == 0 {
		t.Error("Hydra answered no userinfo call (the SPA's went elsewhere)")
	}
	checkExpiresIn(t, tab, "after sign-in", lifetime)
	getData(t, tab)
	postData(t, tab)
	checkUserInfoRoute(t, tab, demo, map[string]string{"token-handler-version": "1"})

	run(t, tab, "refresh the token", chromedp.Click("#refresh-token", chromedp.ByID))
	waitText(t, tab, "#notice", "")
	if e := text(t, tab, "#error"); e != "" {
		t.Fatalf("refresh showed the error %q", e)
	}
	postData(t, tab)
	run(t, tab, "reload", chromedp.Reload())
	waitStatus(t, tab, "signed-in")
	checkExpiresIn(t, tab, "after a reload", lifetime)
	getData(t, tab)

	run(t, tab, "sign out", chromedp.Click("#sign-out", chromedp.ByID))
	waitStatus(t, tab, "signed-out")
	run(t, tab, "reload after sign-out", chromedp.Reload())
	waitStatus(t, tab, "signed-out")
	if hydraCalls(demo.Hydra, "POST", "/oauth2/revoke") == 0 {
		t.Errorf("the sign-out revoked nothing at Hydra")
	}
}

// TestEndToEndV2ExpiredAccessTokenInChromium lets the access token of a v2 session expire (the
// authorization server issues it for a few seconds): the SPA's API call and its userinfo call
// through the OAuth Proxy are refused, and the SPA refreshes once and retries, so the user sees
// the answers and no error; the refreshed token's access_token_expires_in is shown again.
func TestEndToEndV2ExpiredAccessTokenInChromium(t *testing.T) {
	const lifetime = 3 * time.Second
	demo, tab := startDemoInChromium(t, stack.DemoOptions{AgentAPI: stack.AgentAPIV2, AccessTokenTTL: int(lifetime.Seconds())})

	spa := demo.URL("www.example.localhost", "/")
	run(t, tab, "open the SPA", chromedp.Navigate(spa))
	waitStatus(t, tab, "signed-out")
	run(t, tab, "sign in", chromedp.Click("#sign-in", chromedp.ByID))
	submitLogin(t, tab, "the password", "Password1")
	waitStatus(t, tab, "signed-in")
	checkExpiresIn(t, tab, "after sign-in", lifetime)
	refreshes := strings.Count(demoProcess(t, demo, "authserver").Output(), "POST /token 200")

	time.Sleep(lifetime + time.Second)
	postData(t, tab)
	if e := text(t, tab, "#error"); e != "" {
		t.Fatalf("the API call with an expired access token showed the error %q", e)
	}
	checkExpiresIn(t, tab, "after the API call's refresh", lifetime)

	time.Sleep(lifetime + time.Second)
	run(t, tab, "reload", chromedp.Reload())
	waitStatus(t, tab, "signed-in")
	if name := text(t, tab, "#user-name"); name != "Demo User" {
		t.Errorf("after the access token expired, userinfo gave the name %q", name)
	}
	if e := text(t, tab, "#error"); e != "" {
		t.Fatalf("userinfo with an expired access token showed the error %q", e)
	}
	if n := strings.Count(demoProcess(t, demo, "authserver").Output(), "POST /token 200") - refreshes; n != 2 {
		t.Errorf("the authorization server answered %d token requests after sign-in, want 2 refreshes", n)
	}
}

// postData clicks "Post data" and expects the API's answer to a POST, which went through bffToken
// (with its CSRF or version header) and phantomToken and was validated by the API.
func postData(t *testing.T, ctx context.Context) {
	t.Helper()
	_ = evaluate(ctx, `document.getElementById('api-result').textContent = ''`, nil)
	run(t, ctx, "post data", chromedp.Click("#post-data", chromedp.ByID))
	waitText(t, ctx, "#api-result", "Success response from the Business API")
	if result := text(t, ctx, "#api-result"); !strings.Contains(result, "POST /data") {
		t.Errorf("the API result %q is not the POST's", result)
	}
}

// checkExpiresIn reads the access token's remaining lifetime the SPA shows, as the agent's
// access_token_expires_in gave it: a number of seconds, at most the token's lifetime.
func checkExpiresIn(t *testing.T, ctx context.Context, when string, lifetime time.Duration) {
	t.Helper()
	var raw string
	if err := evaluate(ctx, `document.getElementById('token-expiry').dataset.expiresIn ?? ''`, &raw); err != nil {
		t.Fatal(err)
	}
	seconds, err := strconv.Atoi(raw)
	if err != nil || seconds <= 0 || seconds > int(lifetime.Seconds()) {
		t.Errorf("%s: the SPA shows access_token_expires_in %q, want a number of seconds up to %d", when, raw, int(lifetime.Seconds()))
	}
}

// checkUserInfoRoute calls the demo's OAuth Proxy route to userinfo with the browser's cookies,
// as the SPA's fetch would (Origin, headers): the answer is the user's, and it carries exactly one
// Access-Control-Allow-Origin, the SPA's, although bffToken and the authorization server each add
// one; so do the preflight and a rejection, which bffToken answers alone.
func checkUserInfoRoute(t *testing.T, ctx context.Context, demo *stack.Demo, headers map[string]string) {
	t.Helper()
	origin := strings.TrimSuffix(demo.URL("www.example.localhost", "/"), "/")
	userInfo := "http://" + demo.Options.TraefikAddr + stack.DemoUserInfoPath
	host := "api.example.localhost:" + stack.Port(demo.Options.TraefikAddr)
	oneOrigin := func(what string, resp *http.Response) {
		t.Helper()
		if got := resp.Header.Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != origin {
			t.Errorf("%s: Access-Control-Allow-Origin %q, want exactly [%s]", what, got, origin)
		}
		if got := resp.Header.Values("Access-Control-Allow-Credentials"); len(got) != 1 || got[0] != "true" {
			t.Errorf("%s: Access-Control-Allow-Credentials %q, want exactly [true]", what, got)
		}
	}

	request := map[string]string{"Origin": origin, "Accept": "application/json", "Cookie": cookieHeader(t, ctx, demo)}
	for k, v := range headers {
		request[k] = v
	}
	resp, body := send(t, http.MethodGet, userInfo, host, request)
	var claims map[string]any
	if err := json.Unmarshal(body, &claims); err != nil || resp.StatusCode != http.StatusOK || claims["sub"] != "demouser" {
		t.Fatalf("GET %s: %d %s", stack.DemoUserInfoPath, resp.StatusCode, body)
	}
	oneOrigin("userinfo", resp)

	preflight := map[string]string{"Origin": origin, "Access-Control-Request-Method": "GET"}
	if len(headers) > 0 {
		var requested []string
		for k := range headers {
			requested = append(requested, strings.ToLower(k))
		}
		preflight["Access-Control-Request-Headers"] = strings.Join(requested, ",")
	}
	resp, body = send(t, http.MethodOptions, userInfo, host, preflight)
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("the userinfo preflight: %d %s", resp.StatusCode, body)
	}
	oneOrigin("the userinfo preflight", resp)

	resp, body = send(t, http.MethodGet, userInfo, host, map[string]string{"Origin": origin, "Accept": "application/json"})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `"code":"unauthorized"`) {
		t.Errorf("userinfo without cookies: %d %s, want bffToken's 401", resp.StatusCode, body)
	}
	oneOrigin("userinfo without cookies", resp)
}

// cookieHeader returns the Cookie header the browser sends to the API host's /api path.
func cookieHeader(t *testing.T, ctx context.Context, demo *stack.Demo) string {
	t.Helper()
	var pairs []string
	for _, c := range browserCookies(t, ctx, "read the cookie store", demo.URL("api.example.localhost", stack.DemoUserInfoPath)) {
		pairs = append(pairs, c.Name+"="+c.Value)
	}
	return strings.Join(pairs, "; ")
}
