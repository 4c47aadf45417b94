package tokenhandler_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	tokenhandler "github.com/tokenhandler/traefik-token-handler"
	"github.com/tokenhandler/traefik-token-handler/testsupport/requestcases"
	"github.com/tokenhandler/traefik-token-handler/testsupport/scenarios"
	"github.com/tokenhandler/traefik-token-handler/testsupport/traefikconfig"
)

const devKey = "4e4636356d65563e4c73233847503e3b21436e6f7629724950526f4b5e2e4e50"

// validCookie is Curity's published cookie for the opaque token 42665300-..., under devKey.
const validCookie = "AcYBf995tTBVsLtQLvOuLUZXHm2c-XqP8t7SKmhBiQtzy5CAw4h_RF6rXyg6kHrvhb8x4WaLQC6h3mw6a3O3Q9A"

func newFromRaw(t *testing.T, raw map[string]interface{}) (http.Handler, error) {
	t.Helper()
	cfg := tokenhandler.CreateConfig()
	if err := traefikconfig.Decode(raw, cfg); err != nil {
		return nil, err
	}
	return tokenhandler.New(context.Background(), http.HandlerFunc(echoAuthorization), cfg, "test@file")
}

func echoAuthorization(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Upstream-Authorization", r.Header.Get("Authorization"))
}

// checkBFFTokenWorks sends a browser-like GET with a valid cookie through h.
func checkBFFTokenWorks(t *testing.T, h http.Handler) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "http://api.example.com/api/data", nil)
	req.Header.Set("Origin", "https://www.example.com")
	req.Header.Set("Cookie", "example-at="+validCookie)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if got := rec.Header().Get("X-Upstream-Authorization"); got != "Bearer 42665300-efe8-419d-be52-07b53e208f46" {
		t.Fatalf("status %d, upstream Authorization = %q", rec.Code, got)
	}
}

func TestNewRequiresExactlyOneRole(t *testing.T) {
	bff := map[string]interface{}{"cookieNamePrefix": "example", "encryptionKey": devKey, "trustedWebOrigins": "https://www.example.com"}
	cases := []struct {
		name    string
		raw     map[string]interface{}
		wantErr string
	}{
		{"no role", map[string]interface{}{}, "no role configured: set exactly one of oauthAgent, bffToken or phantomToken"},
		{"two roles", map[string]interface{}{"bffToken": bff, "phantomToken": map[string]interface{}{"realm": "api"}}, "several roles configured (bffToken, phantomToken)"},
		{"misspelt role", map[string]interface{}{"bffTokens": bff}, "unknown key bffTokens"},
		{"role key in other casing", map[string]interface{}{"bfftoken": bff}, ""},
		{"bffToken alone", map[string]interface{}{"bffToken": bff}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, err := newFromRaw(t, tc.raw)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				checkBFFTokenWorks(t, h)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
			if h != nil {
				t.Fatal("a handler was returned with an error")
			}
		})
	}
}

// The same bffToken middleware as docker labels, YAML and TOML, decoded by paerser as Traefik's
// providers decode them; every value arrives as a string.
var bffLabels = map[string]string{
	"traefik.http.middlewares.bff.plugin.tokenhandler.bffToken.cookieNamePrefix":     "example",
	"traefik.http.middlewares.bff.plugin.tokenhandler.bffToken.encryptionKey":        devKey,
	"traefik.http.middlewares.bff.plugin.tokenhandler.bffToken.trustedWebOrigins":    "https://www.example.com,https://app.example.com",
	"traefik.http.middlewares.bff.plugin.tokenhandler.bffToken.corsEnabled":          "true",
	"traefik.http.middlewares.bff.plugin.tokenhandler.bffToken.corsMaxAge":           "600",
	"traefik.http.middlewares.bff.plugin.tokenhandler.bffToken.corsExposeHeaders[0]": "x-total",
	"traefik.http.middlewares.bff.plugin.tokenhandler.bffToken.removeCookieHeaders":  "false",
}

const bffYAML = `
http:
  middlewares:
    bff:
      plugin:
        tokenhandler:
          bffToken:
            cookieNamePrefix: example
            encryptionKey: ` + devKey + `
            trustedWebOrigins:
              - https://www.example.com
              - https://app.example.com
            corsEnabled: true
            corsMaxAge: 600
            corsExposeHeaders: [x-total]
            removeCookieHeaders: false
`

const bffTOML = `
[http.middlewares.bff.plugin.tokenhandler.bffToken]
  cookieNamePrefix = "example"
  encryptionKey = "` + devKey + `"
  trustedWebOrigins = ["https://www.example.com", "https://app.example.com"]
  corsEnabled = true
  corsMaxAge = 600
  corsExposeHeaders = ["x-total"]
  removeCookieHeaders = false
`

func TestBFFTokenFromLabelsAndFiles(t *testing.T) {
	sources := map[string]func() (map[string]map[string]interface{}, error){
		"docker labels": func() (map[string]map[string]interface{}, error) {
			return traefikconfig.PluginsFromLabels(bffLabels, "tokenhandler")
		},
		"YAML file": func() (map[string]map[string]interface{}, error) {
			return traefikconfig.PluginsFromFile(bffYAML, ".yml", "tokenhandler")
		},
		"TOML file": func() (map[string]map[string]interface{}, error) {
			return traefikconfig.PluginsFromFile(bffTOML, ".toml", "tokenhandler")
		},
	}
	for name, decode := range sources {
		t.Run(name, func(t *testing.T) {
			plugins, err := decode()
			if err != nil {
				t.Fatal(err)
			}
			raw, ok := plugins["bff"]
			if !ok {
				t.Fatalf("no bff middleware in %v", plugins)
			}
			cfg := tokenhandler.CreateConfig()
			if err := traefikconfig.Decode(raw, cfg); err != nil {
				t.Fatal(err)
			}
			b := cfg.BFFToken
			if b == nil {
				t.Fatal("bffToken not decoded")
			}
			if len(b.TrustedWebOrigins) != 2 || b.TrustedWebOrigins[1] != "https://app.example.com" {
				t.Errorf("trustedWebOrigins = %q", b.TrustedWebOrigins)
			}
			if b.CorsMaxAge == nil || *b.CorsMaxAge != 600 {
				t.Errorf("corsMaxAge = %v", b.CorsMaxAge)
			}
			if b.RemoveCookieHeaders == nil || *b.RemoveCookieHeaders {
				t.Errorf("removeCookieHeaders = %v, want false", b.RemoveCookieHeaders)
			}
			if len(b.CorsExposeHeaders) != 1 || b.CorsExposeHeaders[0] != "x-total" {
				t.Errorf("corsExposeHeaders = %q", b.CorsExposeHeaders)
			}
			h, err := tokenhandler.New(context.Background(), http.HandlerFunc(echoAuthorization), cfg, "bff@"+name)
			if err != nil {
				t.Fatal(err)
			}
			checkBFFTokenWorks(t, h)
		})
	}
}

func TestMisspeltLabelIsNamed(t *testing.T) {
	labels := map[string]string{}
	for k, v := range bffLabels {
		labels[k] = v
	}
	labels["traefik.http.middlewares.bff.plugin.tokenhandler.bffToken.trustedWebOrigin"] = "https://x.example.com"
	plugins, err := traefikconfig.PluginsFromLabels(labels, "tokenhandler")
	if err != nil {
		t.Fatal(err)
	}
	_, err = newFromRaw(t, plugins["bff"])
	if err == nil || !strings.Contains(err.Error(), "trustedWebOrigin: unknown key") {
		t.Fatalf("error = %v, want it to name trustedWebOrigin", err)
	}
}

// TestManifestTestDataBuildsOffline does what the plugin catalog does with .traefik.yml: decode
// testData like a file provider would and call New, which must succeed without the network.
func TestManifestTestDataBuildsOffline(t *testing.T) {
	content, err := os.ReadFile(".traefik.yml")
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		DisplayName string                 `yaml:"displayName"`
		Type        string                 `yaml:"type"`
		Import      string                 `yaml:"import"`
		BasePkg     string                 `yaml:"basePkg"`
		Summary     string                 `yaml:"summary"`
		TestData    map[string]interface{} `yaml:"testData"`
	}
	if err := traefikconfig.DecodeManifest(string(content), &manifest); err != nil {
		t.Fatal(err)
	}
	if manifest.Type != "middleware" || manifest.Import != "github.com/tokenhandler/traefik-token-handler" ||
		manifest.BasePkg != "tokenhandler" || manifest.DisplayName == "" || manifest.Summary == "" {
		t.Fatalf("manifest = %+v", manifest)
	}
	h, err := newFromRaw(t, manifest.TestData)
	if err != nil {
		t.Fatal(err)
	}
	checkBFFTokenWorks(t, h)
}

func TestPanicsAnswer500(t *testing.T) {
	stop := requestcases.CaptureLogs()
	logs := ""
	defer func() {
		if logs = stop(); !strings.Contains(logs, "recovered from a panic serving") {
			t.Errorf("no log line for the recovered panics: %q", logs)
		}
	}()
	scenarios.PanicsAnswer500(t, func(raw map[string]interface{}, next http.Handler) (http.Handler, error) {
		cfg := tokenhandler.CreateConfig()
		if err := traefikconfig.Decode(raw, cfg); err != nil {
			return nil, err
		}
		return tokenhandler.New(context.Background(), next, cfg, "panic@test")
	})
}
