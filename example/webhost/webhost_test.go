package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func testHost() *webHost {
	return &webHost{files: fstest.MapFS{
		"index.html":      {Data: []byte("<!doctype html><title>index</title>")},
		"app.js":          {Data: []byte("export {};")},
		"styles.css":      {Data: []byte("body{}")},
		"assets/logo.svg": {Data: []byte("<svg/>")},
		".secret":         {Data: []byte("hidden")},
	}}
}

func get(h http.Handler, target string, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.Host = "www.example.localhost:8080"
	for k, v := range header {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestStaticFiles(t *testing.T) {
	h := testHost()
	tests := []struct {
		path, wantBody, wantType string
		wantStatus               int
	}{
		{"/", "<!doctype html><title>index</title>", "text/html; charset=utf-8", 200},
		{"/index.html", "<!doctype html><title>index</title>", "text/html; charset=utf-8", 200},
		{"/app.js", "export {};", "text/javascript; charset=utf-8", 200},
		{"/styles.css", "body{}", "text/css; charset=utf-8", 200},
		{"/assets/logo.svg", "<svg/>", "image/svg+xml", 200},
		// Deep links: no extension, no file: the SPA's index.html.
		{"/some/deep/link", "<!doctype html><title>index</title>", "text/html; charset=utf-8", 200},
		{"/assets", "<!doctype html><title>index</title>", "text/html; charset=utf-8", 200},
		{"/app.js/more", "<!doctype html><title>index</title>", "text/html; charset=utf-8", 200},
		// A missing file with an extension is a real 404, not the SPA.
		{"/missing.js", "", "", 404},
		{"/assets/missing.png", "", "", 404},
		{"/.secret", "", "", 404},
		// Paths are cleaned before use: nothing outside the SPA directory can be named.
		{"/../../etc/passwd", "<!doctype html><title>index</title>", "text/html; charset=utf-8", 200},
		{"/../../etc/passwd.txt", "", "", 404},
	}
	for _, tt := range tests {
		rec := get(h, tt.path, nil)
		if rec.Code != tt.wantStatus {
			t.Errorf("%s: status %d, want %d", tt.path, rec.Code, tt.wantStatus)
			continue
		}
		if tt.wantStatus != 200 {
			continue
		}
		if rec.Body.String() != tt.wantBody {
			t.Errorf("%s: body %q", tt.path, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); ct != tt.wantType {
			t.Errorf("%s: Content-Type %q, want %q", tt.path, ct, tt.wantType)
		}
		if cc := rec.Header().Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("%s: Cache-Control %q", tt.path, cc)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	for _, path := range []string{"/", "/some/deep/link", "/app.js", "/config.json", "/missing.js"} {
		rec := get(testHost(), path, nil)
		h := rec.Header()
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", path, h)
		}
		csp := h.Get("Content-Security-Policy")
		// The agent, the API and the userinfo route share the API host: one origin.
		for _, want := range []string{"default-src 'none'", "script-src 'self'",
			"connect-src 'self' http://api.example.localhost:8080;", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
	}
}

func config(t *testing.T, h http.Handler, header map[string]string) map[string]string {
	t.Helper()
	rec := get(h, "/config.json", header)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, headers %v", rec.Code, rec.Header())
	}
	var c map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConfigDerivedFromHost(t *testing.T) {
	h := testHost()
	tests := []struct {
		header                           map[string]string
		wantAgent, want, wantUserInfoURL string
	}{
		{nil, "http://api.example.localhost:8080/oauth-agent", "http://api.example.localhost:8080/api",
			"http://api.example.localhost:8080/oauth-userinfo"},
		{map[string]string{"Host": "WWW.Example.com"}, "http://api.example.com/oauth-agent", "http://api.example.com/api",
			"http://api.example.com/oauth-userinfo"},
		{map[string]string{"Host": "www.example.com", "X-Forwarded-Proto": "https"},
			"https://api.example.com/oauth-agent", "https://api.example.com/api", "https://api.example.com/oauth-userinfo"},
		// Not www.: the agent and API are taken to share the web origin.
		{map[string]string{"Host": "127.0.0.1:3002"}, "http://127.0.0.1:3002/oauth-agent", "http://127.0.0.1:3002/api",
			"http://127.0.0.1:3002/oauth-userinfo"},
		// Junk in Host never reaches the answer.
		{map[string]string{"Host": `evil.com"/x`}, "http://api.example.localhost:8080/oauth-agent", "http://api.example.localhost:8080/api",
			"http://api.example.localhost:8080/oauth-userinfo"},
	}
	for _, tt := range tests {
		c := config(t, h, tt.header)
		if c["oauthAgentUrl"] != tt.wantAgent || c["apiUrl"] != tt.want || c["userInfoUrl"] != tt.wantUserInfoURL {
			t.Errorf("%v: %v", tt.header, c)
		}
		if c["agentApi"] != "v1" || len(c) != 4 {
			t.Errorf("%v: %v, want agentApi v1 and four members", tt.header, c)
		}
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	h := testHost()
	h.oauthAgentURL = "https://bff.example.com/oauth-agent"
	h.apiURL = "https://api.example.com/api"
	h.userInfoURL = "https://proxy.example.com/userinfo"
	h.agentAPI = agentAPIV2
	c := config(t, h, nil)
	if c["oauthAgentUrl"] != h.oauthAgentURL || c["apiUrl"] != h.apiURL || c["userInfoUrl"] != h.userInfoURL ||
		c["agentApi"] != "v2" {
		t.Fatalf("%v", c)
	}
	csp := get(h, "/", nil).Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "connect-src 'self' https://bff.example.com https://api.example.com https://proxy.example.com;") {
		t.Fatalf("CSP %q", csp)
	}
}

func TestOnlyGetAndHead(t *testing.T) {
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		rec := httptest.NewRecorder()
		testHost().ServeHTTP(rec, httptest.NewRequest(m, "/", nil))
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: %d", m, rec.Code)
		}
	}
	rec := httptest.NewRecorder()
	testHost().ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/app.js", nil))
	if rec.Code != 200 || rec.Body.Len() != 0 {
		t.Errorf("HEAD: %d %q", rec.Code, rec.Body)
	}
}

func TestFindSPADir(t *testing.T) {
	dir := t.TempDir()
	if _, err := findSPADir(dir); err == nil {
		t.Fatal("a directory without index.html must be refused")
	}
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := findSPADir(dir); err != nil || got != dir {
		t.Fatalf("%q, %v", got, err)
	}
	// Without SPA_DIR, from this package's folder (as go test runs), ../spa is the SPA.
	got, err := findSPADir("")
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := filepath.Abs(filepath.Join("..", "spa")); got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}

// TestTheSPA serves the real SPA directory and checks what the end-to-end tests rely on.
func TestTheSPA(t *testing.T) {
	dir, err := findSPADir("")
	if err != nil {
		t.Fatal(err)
	}
	h := &webHost{files: os.DirFS(dir)}
	index := get(h, "/some/deep/link", nil)
	if index.Code != 200 {
		t.Fatalf("status %d", index.Code)
	}
	body := index.Body.String()
	for _, want := range []string{`<title>Token Handler Demo</title>`, `<script type="module" src="/app.js">`,
		`href="/styles.css"`, `id="status"`, `id="signed-out-view"`, `id="sign-in"`, `id="signed-in-view"`,
		`id="user-name"`, `id="auth-time"`, `id="token-expiry"`, `id="get-data"`, `id="post-data"`,
		`id="refresh-token"`, `id="sign-out"`, `id="api-result"`, `id="error"`, `id="agent-api"`} {
		if !strings.Contains(body, want) {
			t.Errorf("index.html lacks %s", want)
		}
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, " style=") || strings.Contains(body, "onclick") {
		t.Error("index.html has inline code, which the CSP blocks")
	}
	for _, f := range []string{"/app.js", "/oauthAgentClient.js", "/oauthAgentClientV2.js", "/apiClient.js", "/views.js"} {
		rec := get(h, f, nil)
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/javascript") {
			t.Errorf("%s: %d %q", f, rec.Code, rec.Header().Get("Content-Type"))
		}
		if strings.Contains(rec.Body.String(), "document.cookie") {
			t.Errorf("%s reads document.cookie", f)
		}
	}
}
