package bfftoken_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tokenhandler/traefik-token-handler/bfftoken"
	"github.com/tokenhandler/traefik-token-handler/internal/cookiecrypt"
	"github.com/tokenhandler/traefik-token-handler/testsupport/fuzzcheck"
	"github.com/tokenhandler/traefik-token-handler/testsupport/requestcases"
	"github.com/tokenhandler/traefik-token-handler/testsupport/traefikconfig"
)

const (
	fuzzKey      = "4e4636356d65563e4c73233847503e3b21436e6f7629724950526f4b5e2e4e50"
	fuzzPrevKey  = "7b99279ab87533d3c238db874a842a91ee26a76027f3c03c317504963d2c9926"
	fuzzOrigin   = "https://www.example.com"
	fuzzMaxInput = 8 * 1024
	// Curity's published cookies (testdata/cookie-vectors.json): an access token and a CSRF
	// token under the current key, and the access token under the previous key.
	vectorAccessToken    = "AcYBf995tTBVsLtQLvOuLUZXHm2c-XqP8t7SKmhBiQtzy5CAw4h_RF6rXyg6kHrvhb8x4WaLQC6h3mw6a3O3Q9A"
	vectorCSRF           = "AfctuC2zuBeZoQHfbopmpQyOADYU6Tp9raMEA-2EhWp4I3HtoiAtoP-H2U_PIrF7O0ZQ0nwE7VmWcl3BAY6bGlv4_EGqToyh4lOqynkSlBByxixJY-kA3bIFufJl"
	vectorCSRFPlain      = "pQguFsD6hFjnyYjaeC5KyijcWS6AvkJHiUmY7dLUsuTKsLAITLiJHVqsCdQpaGYO"
	vectorPrevKeyAccess  = "AUixxnN28w2MjVK7sMZ3GqErPlw15NwIng-V8amEv5eu43Wr1nzhif1hU2QpKbw_L55GVxD0Kz4gKVG539ywk6g"
	vectorAccessTokenRaw = "42665300-efe8-419d-be52-07b53e208f46"
)

// upstream records what reached the API.
type upstream struct {
	reached bool
	header  http.Header
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.reached = true
	u.header = r.Header.Clone()
	w.WriteHeader(http.StatusOK)
}

// FuzzRequest drives the middleware's ServeHTTP with an arbitrary method, Origin, Cookie header
// and CSRF header, with CORS on (the default) and off. Whatever they are:
//
//   - the answer is 204 (a preflight), 401 with the JSON error body, or the upstream's 200;
//   - upstream is reached only with a trusted Origin (any origin when CORS is off and the method
//     reads), a CSRF header equal to a CSRF cookie that decrypts (for writes), and an access-token
//     cookie that decrypts; it then gets exactly `Authorization: Bearer <that token>` and neither
//     the Cookie nor the CSRF header;
//   - an untrusted origin never gets Access-Control-Allow-Origin;
//   - no log line holds a token, the CSRF value or a key.
func FuzzRequest(f *testing.F) {
	seeds := []struct {
		method, origin, cookie, csrf string
		corsOff                      bool
	}{
		{"GET", fuzzOrigin, "example-at=" + vectorAccessToken, "", false},
		{"POST", fuzzOrigin, "example-at=" + vectorAccessToken + "; example-csrf=" + vectorCSRF, vectorCSRFPlain, false},
		{"DELETE", fuzzOrigin, "example-csrf=" + vectorCSRF + "; example-at=" + vectorPrevKeyAccess, vectorCSRFPlain, false},
		{"GET", "", "example-at=" + vectorAccessToken, "", true},
		{"PUT", "", "example-at=" + vectorAccessToken, "", true},
		{"OPTIONS", fuzzOrigin, "", "", false},
		{"OPTIONS", "https://malicious-site.com", "", "", false},
		{"GET", "https://malicious-site.com", "example-at=" + vectorAccessToken, "", false},
		{"GET", "null", "example-at=" + vectorAccessToken, "", false},
		{"GET", fuzzOrigin + "/", "example-at=" + vectorAccessToken, "", false},
		{"GET", "HTTPS://WWW.EXAMPLE.COM", "example-at=" + vectorAccessToken, "", false},
		{"GET", fuzzOrigin, "example-at=garbage; example-at=" + vectorAccessToken, "", false},
		{"GET", fuzzOrigin, "example-at=" + vectorAccessToken + "x", "", false},
		{"GET", fuzzOrigin, "example-at=\"" + vectorAccessToken + "\"", "", false},
		{"GET", fuzzOrigin, "EXAMPLE-AT=" + vectorAccessToken, "", false},
		{"GET", fuzzOrigin, "example-at=", "", false},
		{"GET", fuzzOrigin, ";;;=;", "", false},
		{"POST", fuzzOrigin, "example-at=" + vectorAccessToken + "; example-csrf=" + vectorCSRF, vectorCSRFPlain + " ", false},
		{"POST", fuzzOrigin, "example-at=" + vectorAccessToken + "; example-csrf=" + vectorAccessToken, vectorAccessTokenRaw, false},
		{"post", fuzzOrigin, "example-at=" + vectorAccessToken, "", false},
		{"GET", fuzzOrigin, "example-at=" + strings.Repeat("A", 6000), "", false},
		{"GET", fuzzOrigin + "\x00", "example-at=\x00\xff", "\r\n", false},
		{"", "", "", "", false},
	}
	for _, s := range seeds {
		f.Add(s.method, s.origin, s.cookie, s.csrf, s.corsOff)
	}
	cipher, err := cookiecrypt.NewCipher(fuzzKey, []string{fuzzPrevKey})
	if err != nil {
		f.Fatal(err)
	}
	next := &upstream{}
	build := func(extra map[string]interface{}) http.Handler {
		raw := map[string]interface{}{
			"cookieNamePrefix":       "example",
			"encryptionKey":          fuzzKey,
			"previousEncryptionKeys": fuzzPrevKey,
			"trustedWebOrigins":      fuzzOrigin,
			"logLevel":               "debug",
		}
		for k, v := range extra {
			raw[k] = v
		}
		cfg := bfftoken.CreateConfig()
		if err := traefikconfig.Decode(raw, cfg); err != nil {
			f.Fatal(err)
		}
		h, err := bfftoken.New(context.Background(), next, cfg, "bff-token@fuzz")
		if err != nil {
			f.Fatal(err)
		}
		return h
	}
	withCORS := build(nil)
	withoutCORS := build(map[string]interface{}{"corsEnabled": "false"})

	f.Fuzz(func(t *testing.T, method, origin, cookie, csrf string, corsOff bool) {
		defer fuzzcheck.Bound(t, 10*time.Second, 8<<20)()
		method = fuzzcheck.Cap(method, 32)
		origin = fuzzcheck.Cap(origin, fuzzMaxInput)
		cookie = fuzzcheck.Cap(cookie, fuzzMaxInput)
		csrf = fuzzcheck.Cap(csrf, fuzzMaxInput)
		h := withCORS
		if corsOff {
			h = withoutCORS
		}
		r := httptest.NewRequest(http.MethodGet, "https://api.example.com/api/data", nil)
		r.Method = method
		if origin != "" {
			r.Header["Origin"] = []string{origin}
		}
		if cookie != "" {
			r.Header["Cookie"] = []string{cookie}
		}
		if csrf != "" {
			r.Header["X-Example-Csrf"] = []string{csrf}
		}
		// What the middleware should find, worked out independently from the request.
		var accessTokens, csrfTokens []string
		for _, c := range r.Cookies() {
			plain, err := cipher.Decrypt(c.Value)
			if err != nil {
				continue
			}
			switch c.Name {
			case "example-at":
				accessTokens = append(accessTokens, plain)
			case "example-csrf":
				csrfTokens = append(csrfTokens, plain)
			}
		}

		*next = upstream{}
		rec := httptest.NewRecorder()
		stop := requestcases.CaptureLogs()
		h.ServeHTTP(rec, r)
		logs := stop()
		fuzzcheck.Logs(t, logs, append(append([]string{fuzzKey, fuzzPrevKey}, accessTokens...), csrfTokens...)...)
		fuzzcheck.NoCORSForUntrusted(t, rec.Header(), origin, fuzzOrigin)

		writes := method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch || method == http.MethodDelete
		switch {
		case method == http.MethodOptions && !corsOff:
			fuzzcheck.StatusIn(t, rec, http.StatusNoContent)
			if next.reached {
				t.Fatal("a preflight went upstream")
			}
			return
		case method == http.MethodOptions:
			if !next.reached || next.header.Get("Authorization") != "" {
				t.Fatalf("OPTIONS without CORS: reached %v, Authorization %q", next.reached, next.header.Get("Authorization"))
			}
			return
		}
		if !next.reached {
			fuzzcheck.StatusIn(t, rec, http.StatusUnauthorized)
			if code := fuzzcheck.JSONError(t, rec); code != "unauthorized" {
				t.Fatalf("401 with code %q", code)
			}
			if !strings.Contains(logs, "rejected") {
				t.Fatalf("a rejection without its log line: %q", logs)
			}
			return
		}

		fuzzcheck.StatusIn(t, rec, http.StatusOK)
		if (!corsOff || writes) && origin != fuzzOrigin {
			t.Fatalf("origin %q (CORS off: %v, method %q) reached upstream", origin, corsOff, method)
		}
		if writes && (csrf == "" || !contains(csrfTokens, csrf)) {
			t.Fatalf("a %s with CSRF header %q reached upstream; the CSRF cookies decrypt to %q", method, csrf, csrfTokens)
		}
		auth := next.header.Values("Authorization")
		if len(auth) != 1 || !strings.HasPrefix(auth[0], "Bearer ") {
			t.Fatalf("upstream Authorization %q", auth)
		}
		if token := strings.TrimPrefix(auth[0], "Bearer "); token == "" || !contains(accessTokens, token) {
			t.Fatalf("upstream got a token that is not one of the access-token cookies' (%d of them)", len(accessTokens))
		}
		if next.header.Get("Cookie") != "" || next.header.Get("X-Example-Csrf") != "" {
			t.Fatal("the Cookie or CSRF header went upstream")
		}
		if !corsOff && rec.Header().Get("Access-Control-Allow-Origin") != origin {
			t.Fatalf("a trusted origin's answer lacks Access-Control-Allow-Origin")
		}
	})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
