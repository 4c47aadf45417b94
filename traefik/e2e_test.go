package traefik_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/tokenhandler/traefik-token-handler/traefik/stack"
)

// TestEndToEndInChromium starts the whole demo system (authorization server, API, web host and
// Traefik with the plugin, on free loopback ports) and drives the SPA in headless Chromium as a
// user would: a wrong password, sign-in through the real login form, user info and claims, API
// calls through bffToken and phantomToken (GET, and POST with the CSRF header), userinfo through
// the OAuth Proxy route, refresh, reload, a deep link, a second tab, sign-out in both tabs, and the
// cookies as the browser stores them.
func TestEndToEndInChromium(t *testing.T) {
	demo, tab1 := startDemoInChromium(t, stack.DemoOptions{}, chromedp.WindowSize(1100, 800))

	spa := demo.URL("www.example.localhost", "/")
	run(t, tab1, "open the SPA", chromedp.Navigate(spa))
	waitStatus(t, tab1, "signed-out")
	screenshot(t, tab1, "signed-out.png")

	run(t, tab1, "sign in", chromedp.Click("#sign-in", chromedp.ByID))
	run(t, tab1, "the login form", chromedp.WaitVisible("#username", chromedp.ByID))
	submitLogin(t, tab1, "a wrong password", "wrong-password")
	run(t, tab1, "the login error", chromedp.WaitVisible("#login-error", chromedp.ByID))
	var location string
	run(t, tab1, "still on the login page", chromedp.Location(&location))
	if !strings.HasPrefix(location, demo.URL("login.example.localhost", "/")) {
		t.Fatalf("after a wrong password the browser is at %s", location)
	}
	submitLogin(t, tab1, "the right password", "Password1")
	waitStatus(t, tab1, "signed-in")
	run(t, tab1, "back on the SPA without the code in the address bar", chromedp.Location(&location))
	if location != spa {
		t.Errorf("after sign-in the address is %s, want %s", location, spa)
	}

	name := text(t, tab1, "#user-name")
	authTime := text(t, tab1, "#auth-time")
	if name != "Demo User" || authTime == "" || strings.Contains(authTime, "unknown") {
		t.Errorf("user name %q, auth time %q", name, authTime)
	}
	getData(t, tab1)
	screenshot(t, tab1, "signed-in.png")
	postData(t, tab1)
	checkUserInfoRoute(t, tab1, demo, nil)

	run(t, tab1, "refresh the token", chromedp.Click("#refresh-token", chromedp.ByID))
	waitText(t, tab1, "#notice", "")
	if e := text(t, tab1, "#error"); e != "" {
		t.Fatalf("refresh showed the error %q", e)
	}
	getData(t, tab1)

	run(t, tab1, "reload", chromedp.Reload())
	waitStatus(t, tab1, "signed-in")
	run(t, tab1, "a deep link", chromedp.Navigate(demo.URL("www.example.localhost", "/orders/42?tab=items")))
	waitStatus(t, tab1, "signed-in")
	getData(t, tab1)

	checkCookies(t, tab1, demo, v1SessionCookies, nil)

	tab2, cancelTab2 := chromedp.NewContext(tab1)
	defer cancelTab2()
	openTab(t, tab2)
	run(t, tab2, "open a second tab", chromedp.Navigate(spa))
	waitStatus(t, tab2, "signed-in")
	getData(t, tab2)

	run(t, tab1, "sign out", chromedp.Navigate(spa))
	waitStatus(t, tab1, "signed-in")
	run(t, tab1, "sign out", chromedp.Click("#sign-out", chromedp.ByID))
	waitStatus(t, tab1, "signed-out")
	waitStatus(t, tab2, "signed-out")
	run(t, tab2, "the second tab after sign-out", chromedp.Reload())
	waitStatus(t, tab2, "signed-out")
	cookies := browserCookies(t, tab1, "cookies after sign-out",
		demo.URL("api.example.localhost", "/oauth-agent/refresh"), demo.URL("api.example.localhost", "/oauth-agent"))
	for _, c := range cookies {
		if strings.HasPrefix(c.Name, "example-") {
			t.Errorf("cookie %s is still stored after sign-out", c.Name)
		}
	}
}

// startDemoInChromium starts the demo system with o (on free ports, in a temporary work
// directory) and headless Chromium (the Debian package, or $CHROMIUM), and returns the demo and
// the browser's first tab, open. Both stop when the test ends; the processes' output is logged
// if it failed.
func startDemoInChromium(t *testing.T, o stack.DemoOptions, browserOptions ...chromedp.ExecAllocatorOption) (*stack.Demo, context.Context) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the whole stack and Chromium")
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("Chromium is needed at %s (apt-get install chromium, or set CHROMIUM): %v", chromium, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	o.Root = repoRoot
	o.WorkDir = t.TempDir()
	demo, err := stack.StartDemo(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range demo.Processes {
				t.Logf("--- %s output:\n%s", p.Name, p.Output())
			}
		}
		demo.Stop()
	})
	allocOpts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, append(allocOpts, browserOptions...)...)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	openTab(t, tab)
	return demo, tab
}

// submitLogin fills the login form (#username, #password, #login: oidc-provider's and
// example/hydralogin's) with demouser and password, and submits it.
func submitLogin(t *testing.T, tab context.Context, what, password string) {
	t.Helper()
	run(t, tab, what,
		chromedp.WaitVisible("#password", chromedp.ByID),
		chromedp.Evaluate(`document.getElementById('username').value = ''; document.getElementById('password').value = ''`, nil),
		chromedp.SendKeys("#username", "demouser", chromedp.ByID),
		chromedp.SendKeys("#password", password, chromedp.ByID),
		chromedp.Click("#login", chromedp.ByID))
}

// openTab starts the browser or tab of ctx. It runs on ctx itself: a step's shorter-lived context
// would close the tab when it ends.
func openTab(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
}

func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action) {
	t.Helper()
	step, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(step, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// evaluate runs a script in the page; during a navigation it may fail, which callers retry.
func evaluate(ctx context.Context, script string, out interface{}) error {
	step, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return chromedp.Run(step, chromedp.Evaluate(script, out))
}

// waitStatus waits until the SPA's #status says want, polling through navigations.
func waitStatus(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got, lastErr string
	for time.Now().Before(deadline) {
		var s string
		if err := evaluate(ctx, `(document.getElementById('status') || {}).textContent || ''`, &s); err != nil {
			lastErr = err.Error()
		} else if got = s; got == want {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	var errText string
	_ = evaluate(ctx, `(document.getElementById('error') || {}).textContent || ''`, &errText)
	t.Fatalf("the SPA's status is %q, want %q (last error %q, SPA error %q)", got, want, lastErr, errText)
}

// text returns an element's text.
func text(t *testing.T, ctx context.Context, selector string) string {
	t.Helper()
	var s string
	if err := evaluate(ctx, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ''`, selector), &s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(s)
}

// waitText waits until an element's text contains want (any text when want is empty).
func waitText(t *testing.T, ctx context.Context, selector, want string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if s := text(t, ctx, selector); s != "" && strings.Contains(s, want) {
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never contained %q; #error is %q", selector, want, text(t, ctx, "#error"))
	return ""
}

// getData clicks "Get data" and expects the API's answer, which went through bffToken and
// phantomToken and was validated by the API.
func getData(t *testing.T, ctx context.Context) {
	t.Helper()
	_ = evaluate(ctx, `document.getElementById('api-result').textContent = ''`, nil)
	run(t, ctx, "get data", chromedp.Click("#get-data", chromedp.ByID))
	waitText(t, ctx, "#api-result", "Success response from the Business API")
}

// browserCookies reads the cookies the browser would send to urls.
func browserCookies(t *testing.T, ctx context.Context, what string, urls ...string) []*network.Cookie {
	t.Helper()
	var cookies []*network.Cookie
	run(t, ctx, what, chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().WithURLs(urls).Do(ctx)
		return err
	}))
	return cookies
}

// v1SessionCookies and v2SessionCookies are the cookies of a signed-in session: v2 has no CSRF
// token, so no -csrf cookie.
var (
	v1SessionCookies = []string{"example-at", "example-csrf", "example-auth", "example-id"}
	v2SessionCookies = []string{"example-at", "example-auth", "example-id"}
)

// checkCookies reads the browser's cookie store: it holds each of want and none of unwanted,
// every token handler cookie is HttpOnly, Secure and SameSite=Strict, and JavaScript sees none of
// them.
func checkCookies(t *testing.T, ctx context.Context, demo *stack.Demo, want, unwanted []string) {
	t.Helper()
	cookies := browserCookies(t, ctx, "read the cookie store",
		demo.URL("api.example.localhost", "/oauth-agent"),
		demo.URL("api.example.localhost", "/oauth-agent/refresh"),
		demo.URL("api.example.localhost", "/oauth-agent/claims"),
		demo.URL("api.example.localhost", "/oauth-agent/logout"),
		demo.URL("api.example.localhost", "/api"))
	seen := map[string]bool{}
	for _, c := range cookies {
		if !strings.HasPrefix(c.Name, "example-") {
			continue
		}
		seen[c.Name] = true
		if !c.HTTPOnly || !c.Secure || c.SameSite != network.CookieSameSiteStrict {
			t.Errorf("cookie %s: HttpOnly %v, Secure %v, SameSite %q", c.Name, c.HTTPOnly, c.Secure, c.SameSite)
		}
	}
	for _, name := range want {
		if !seen[name] {
			t.Errorf("the browser has no %s cookie (it has %v)", name, seen)
		}
	}
	for _, name := range unwanted {
		if seen[name] {
			t.Errorf("the browser has a %s cookie, which this session must not have", name)
		}
	}
	var visible string
	if err := evaluate(ctx, `document.cookie`, &visible); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(visible, "example-") {
		t.Errorf("JavaScript can read token handler cookies: %q", visible)
	}
}

// screenshot saves the page as docs/screenshots/<name> when UPDATE_SCREENSHOTS is set (make
// screenshots), and otherwise into the test's temporary directory.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	var png []byte
	run(t, ctx, "screenshot "+name, chromedp.CaptureScreenshot(&png))
	dir := t.TempDir()
	if os.Getenv("UPDATE_SCREENSHOTS") != "" {
		dir = repoFile("docs/screenshots")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
