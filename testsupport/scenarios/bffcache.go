package scenarios

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/tokenhandler/traefik-token-handler/internal/cookiecrypt"
	"github.com/tokenhandler/traefik-token-handler/testsupport/requestcases"
)

// BFFTokenCacheAll checks bffToken's remembered authorizations (a GET whose access token cookie
// decrypted before is served by one map lookup): every request is still checked as the first
// one was, and nothing a handler after it does, or a forged cookie, changes what is remembered.
func BFFTokenCacheAll(t *testing.T, build requestcases.Builder) {
	cipher, err := cookiecrypt.NewCipher(agentKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	cookie, _ := cipher.Encrypt("opaque-access-token-1")
	other, _ := cipher.Encrypt("opaque-access-token-2")
	config := func(extra map[string]interface{}) map[string]interface{} {
		cfg := map[string]interface{}{"cookieNamePrefix": "example", "encryptionKey": agentKey, "trustedWebOrigins": SPAOrigin}
		for k, v := range extra {
			cfg[k] = v
		}
		return cfg
	}
	// upstream records the Authorization it received and then writes into the header's slice,
	// as phantomToken does when it swaps the token for a JWT.
	type upstream struct{ got []string }
	newUpstream := func() (*upstream, http.Handler) {
		u := &upstream{}
		return u, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			values := r.Header["Authorization"]
			if len(values) > 0 {
				u.got = append(u.got, values[0])
				values[0] = "Bearer swapped-by-the-next-handler"
			} else {
				u.got = append(u.got, "")
			}
			w.WriteHeader(http.StatusOK)
		})
	}
	send := func(h http.Handler, method, origin, cookieHeader string, headers map[string]string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "https://api.example.com/api/data", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if cookieHeader != "" {
			r.Header.Set("Cookie", cookieHeader)
		}
		for k, v := range headers {
			r.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	mustBuild := func(t *testing.T, cfg map[string]interface{}, next http.Handler) http.Handler {
		t.Helper()
		h, err := build(cfg, next)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}

	t.Run("repeated GETs get the same token, whatever the next handler does with the header", func(t *testing.T) {
		u, next := newUpstream()
		h := mustBuild(t, config(nil), next)
		for i := 0; i < 3; i++ {
			for _, c := range []string{cookie, other} {
				rec := send(h, http.MethodGet, SPAOrigin, "example-at="+c, nil)
				if rec.Code != http.StatusOK || rec.Header().Get("Access-Control-Allow-Origin") != SPAOrigin ||
					rec.Header().Get("Access-Control-Allow-Credentials") != "true" || rec.Header().Get("Vary") != "Origin" {
					t.Fatalf("GET %d: %d %v", i, rec.Code, rec.Header())
				}
			}
		}
		want := []string{"Bearer opaque-access-token-1", "Bearer opaque-access-token-2"}
		for i, got := range u.got {
			if got != want[i%2] {
				t.Fatalf("request %d reached the API with %q, want %q", i, got, want[i%2])
			}
		}
	})
	t.Run("a remembered cookie still needs a trusted Origin", func(t *testing.T) {
		u, next := newUpstream()
		h := mustBuild(t, config(nil), next)
		send(h, http.MethodGet, SPAOrigin, "example-at="+cookie, nil)
		for _, origin := range []string{UntrustedOrigin, ""} {
			if rec := send(h, http.MethodGet, origin, "example-at="+cookie, nil); rec.Code != http.StatusUnauthorized ||
				rec.Header().Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("GET from %q with a remembered cookie: %d %v", origin, rec.Code, rec.Header())
			}
		}
		if len(u.got) != 1 {
			t.Fatalf("the API was called %d times", len(u.got))
		}
	})
	t.Run("a remembered cookie still needs the CSRF check on a POST", func(t *testing.T) {
		_, next := newUpstream()
		h := mustBuild(t, config(nil), next)
		send(h, http.MethodGet, SPAOrigin, "example-at="+cookie, nil)
		if rec := send(h, http.MethodPost, SPAOrigin, "example-at="+cookie, nil); rec.Code != http.StatusUnauthorized {
			t.Fatalf("POST without CSRF: %d", rec.Code)
		}
	})
	t.Run("a cookie that does not decrypt is refused every time", func(t *testing.T) {
		u, next := newUpstream()
		h := mustBuild(t, config(nil), next)
		tampered := cookie[:len(cookie)-2] + "AA"
		for i := 0; i < 3; i++ {
			if rec := send(h, http.MethodGet, SPAOrigin, "example-at="+tampered, nil); rec.Code != http.StatusUnauthorized {
				t.Fatalf("GET %d with a tampered cookie: %d", i, rec.Code)
			}
		}
		if len(u.got) != 0 {
			t.Fatal("a tampered cookie reached the API")
		}
	})
	t.Run("without CORS a remembered GET needs no Origin and gets no CORS headers", func(t *testing.T) {
		u, next := newUpstream()
		h := mustBuild(t, config(map[string]interface{}{"corsEnabled": "false"}), next)
		for i := 0; i < 2; i++ {
			rec := send(h, http.MethodGet, "", "example-at="+cookie, nil)
			if rec.Code != http.StatusOK || rec.Header().Get("Access-Control-Allow-Origin") != "" || rec.Header().Get("Vary") != "" {
				t.Fatalf("GET %d: %d %v", i, rec.Code, rec.Header())
			}
		}
		if len(u.got) != 2 || u.got[1] != "Bearer opaque-access-token-1" {
			t.Fatalf("the API got %v", u.got)
		}
	})
	t.Run("removeCookieHeaders applies to remembered GETs too", func(t *testing.T) {
		var cookieSeen, csrfSeen []string
		h := mustBuild(t, config(nil), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cookieSeen = append(cookieSeen, r.Header.Get("Cookie"))
			csrfSeen = append(csrfSeen, r.Header.Get("X-Example-Csrf"))
		}))
		for i := 0; i < 2; i++ {
			send(h, http.MethodGet, SPAOrigin, "example-at="+cookie, map[string]string{"X-Example-Csrf": "x"})
		}
		if cookieSeen[1] != "" || csrfSeen[1] != "" {
			t.Fatalf("the API got Cookie %q and CSRF %q", cookieSeen[1], csrfSeen[1])
		}
	})
	t.Run("concurrent GETs with many cookies, remembered and new, each get their own token", func(t *testing.T) {
		h := mustBuild(t, config(nil), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if got, want := r.Header.Get("Authorization"), "Bearer "+r.Header.Get("X-Want"); got != want {
				t.Errorf("the API got %q, want %q", got, want)
			}
			r.Header["Authorization"][0] = "Bearer swapped"
		}))
		cookies := make([]string, 40)
		for i := range cookies {
			cookies[i], _ = cipher.Encrypt("token-" + strconv.Itoa(i))
		}
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < 100; i++ {
					n := (g*7 + i) % len(cookies)
					if rec := send(h, http.MethodGet, SPAOrigin, "example-at="+cookies[n], map[string]string{"X-Want": "token-" + strconv.Itoa(n)}); rec.Code != http.StatusOK {
						t.Errorf("GET: %d", rec.Code)
						return
					}
				}
			}(g)
		}
		wg.Wait()
	})
	t.Run("with allowTokens a bearer request passes untouched after a remembered cookie", func(t *testing.T) {
		u, next := newUpstream()
		h := mustBuild(t, config(map[string]interface{}{"allowTokens": "true"}), next)
		send(h, http.MethodGet, SPAOrigin, "example-at="+cookie, nil)
		send(h, http.MethodGet, SPAOrigin, "example-at="+cookie, map[string]string{"Authorization": "Bearer mobile-token"})
		if len(u.got) != 2 || u.got[0] != "Bearer opaque-access-token-1" || u.got[1] != "Bearer mobile-token" {
			t.Fatalf("the API got %v", u.got)
		}
	})
}
