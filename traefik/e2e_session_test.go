package traefik_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tokenhandler/traefik-token-handler/internal/cookiecrypt"
	"github.com/tokenhandler/traefik-token-handler/traefik/stack"
)

// demoKey and the demo client are the documented development values of traefik/dynamic/demo.yml.
const (
	demoKey          = "4e4636356d65563e4c73233847503e3b21436e6f7629724950526f4b5e2e4e50"
	demoClientID     = "spa-client"
	demoClientSecret = "Password1"
)

// TestEndToEndSessionsInChromium drives the demo SPA in Chromium against an authorization server
// that rotates refresh tokens, revokes at logout and, in its test-only mode, issues tokens of 5 KB
// (contract §6.1, §6.4, §6.5): the login works with chunked cookies, the API answers through
// bffToken and phantomToken, two tabs that refresh at the same moment both keep working, logout
// clears every cookie, and the refresh token of the session is then refused by the authorization
// server (revoked).
func TestEndToEndSessionsInChromium(t *testing.T) {
	demo, tab1 := startDemoInChromium(t, stack.DemoOptions{PadTokens: 5000})

	spa := demo.URL("www.example.localhost", "/")
	run(t, tab1, "open the SPA", chromedp.Navigate(spa))
	waitStatus(t, tab1, "signed-out")
	run(t, tab1, "sign in", chromedp.Click("#sign-in", chromedp.ByID))
	submitLogin(t, tab1, "the password", "Password1")
	waitStatus(t, tab1, "signed-in")
	getData(t, tab1)

	// The tokens are over 4 KB: the browser holds them as chunks, none of which is too large.
	jar := cookieJar(t, tab1, demo)
	for _, name := range []string{"example-at", "example-at-1", "example-at-2", "example-auth", "example-auth-1", "example-id", "example-id-1"} {
		if jar[name] == "" {
			t.Fatalf("the browser holds no %s cookie (it holds %v)", name, names(jar))
		}
	}
	for name, value := range jar {
		if len(name)+len(value) > 4096 {
			t.Errorf("cookie %s holds %d bytes", name, len(name)+len(value))
		}
	}
	if n := len(chunkedCookie(t, jar, "example-at")); n < 5000 {
		t.Fatalf("the access token in the cookies has %d bytes, want the padded 5000", n)
	}

	// phantomToken's introspection of a malformed or JWT-shaped token: the demo authorization
	// server answers inactive (204 to Accept: application/jwt), which phantomToken turns into 401,
	// not a 400, which it would rightly turn into 502 and an error line.
	for _, token := range []string{"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "not a token"} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+demo.Options.AuthServerAddr+"/token/introspection",
			strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/jwt")
		req.SetBasicAuth("api-gateway-client", "Password1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("introspection of %q: %d, want 204 (inactive)", token, resp.StatusCode)
		}
	}

	// A second tab; both refresh at the same moment against the rotating server.
	tab2, cancelTab2 := chromedp.NewContext(tab1)
	defer cancelTab2()
	openTab(t, tab2)
	run(t, tab2, "open a second tab", chromedp.Navigate(spa))
	waitStatus(t, tab2, "signed-in")
	var wg sync.WaitGroup
	for _, tab := range []context.Context{tab1, tab2} {
		wg.Add(1)
		go func(tab context.Context) {
			defer wg.Done()
			_ = evaluate(tab, `document.getElementById('refresh-token').click()`, nil)
		}(tab)
	}
	wg.Wait()
	for i, tab := range []context.Context{tab1, tab2} {
		waitText(t, tab, "#notice", "")
		if e := text(t, tab, "#error"); e != "" {
			t.Fatalf("tab %d: the refresh showed the error %q", i+1, e)
		}
		waitStatus(t, tab, "signed-in")
		getData(t, tab)
	}
	refreshToken := chunkedCookie(t, cookieJar(t, tab1, demo), "example-auth")

	run(t, tab1, "sign out", chromedp.Click("#sign-out", chromedp.ByID))
	waitStatus(t, tab1, "signed-out")
	if left := cookieJar(t, tab1, demo); len(left) != 0 {
		t.Errorf("cookies left after sign-out: %v", names(left))
	}

	// The authorization server refuses the session's refresh token: logout revoked it.
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	req, _ := http.NewRequest(http.MethodPost, "http://"+demo.Options.AuthServerAddr+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(demoClientID, demoClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("the refresh token after logout: the authorization server answered %d, want 400 (revoked)", resp.StatusCode)
	}
}

// cookieJar returns the token handler cookies the browser holds for the agent and the API.
func cookieJar(t *testing.T, ctx context.Context, demo *stack.Demo) map[string]string {
	t.Helper()
	jar := map[string]string{}
	for _, c := range browserCookies(t, ctx, "read the cookie store",
		demo.URL("api.example.localhost", "/oauth-agent"), demo.URL("api.example.localhost", "/api")) {
		if strings.HasPrefix(c.Name, "example-") {
			jar[c.Name] = c.Value
		}
	}
	return jar
}

// chunkedCookie decrypts a cookie of the jar with the demo's key, reassembling its chunks.
func chunkedCookie(t *testing.T, jar map[string]string, name string) string {
	t.Helper()
	value := jar[name]
	if n, err := strconv.Atoi(strings.TrimPrefix(value, "chunks-")); err == nil {
		value = ""
		for i := 1; i <= n; i++ {
			value += jar[name+"-"+strconv.Itoa(i)]
		}
	}
	cipher, err := cookiecrypt.NewCipher(demoKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := cipher.Decrypt(value)
	if err != nil {
		t.Fatalf("the %s cookie: %v", name, err)
	}
	return plain
}

func names(jar map[string]string) []string {
	var list []string
	for name := range jar {
		list = append(list, name)
	}
	return list
}
