package phantomtoken_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenhandler/traefik-token-handler/internal/jwt"
	"github.com/tokenhandler/traefik-token-handler/phantomtoken"
	"github.com/tokenhandler/traefik-token-handler/testsupport/fakeas"
	"github.com/tokenhandler/traefik-token-handler/testsupport/fuzzcheck"
	"github.com/tokenhandler/traefik-token-handler/testsupport/requestcases"
	"github.com/tokenhandler/traefik-token-handler/testsupport/traefikconfig"
)

// fuzzSecret is the introspection client's secret: distinctive, so that it is found if a log
// line ever holds it.
const fuzzSecret = "fuzz-introspection-secret-7c0b9d2e51f8"

// answer is what the fuzzed introspection endpoint sends.
type answer struct {
	status                    int
	contentType, cacheControl string
	body                      string
}

// scriptedEndpoint answers every introspection request with the current answer.
type scriptedEndpoint struct {
	mu    sync.Mutex
	a     answer
	calls int
}

func (s *scriptedEndpoint) set(a answer) {
	s.mu.Lock()
	s.a = a
	s.calls = 0
	s.mu.Unlock()
}

func (s *scriptedEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	a := s.a
	s.calls++
	s.mu.Unlock()
	if a.contentType != "" {
		w.Header()["Content-Type"] = []string{a.contentType}
	}
	if a.cacheControl != "" {
		w.Header()["Cache-Control"] = []string{a.cacheControl}
	}
	w.WriteHeader(a.status)
	_, _ = w.Write([]byte(a.body))
}

// fuzzJWT is an unsigned JWT like the ones an authorization server answers for phantom tokens.
func fuzzJWT(claims string) string {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	return enc(`{"alg":"RS256","kid":"k1","typ":"JWT"}`) + "." + enc(claims) + "." + enc("signature")
}

// FuzzIntrospectionAnswer drives the middleware's ServeHTTP against an introspection endpoint
// that answers a fuzzed status, Content-Type, Cache-Control and body, with a new token for every
// input (so that no answer comes from the cache of another). Whatever the answer:
//
//   - the middleware answers 200 (upstream), 401, 403, 502 or 503, each error with its JSON body;
//     204 introspection is 401, 503 is 503, any other status but 200 is 502;
//   - 200 sends exactly `Authorization: Bearer <JWT>` upstream, a three-part compact JWT of
//     base64url characters that Parse reads, taken from the answer;
//   - the same token asked again (from the cache, or introspected again) gets the same answer;
//   - no log line holds the token, the JWT or the client secret, and no panic was recovered.
func FuzzIntrospectionAnswer(f *testing.F) {
	active := fuzzJWT(`{"sub":"demouser","scope":"read write","exp":4102444800}`)
	seeds := []answer{
		{200, "application/jwt", "", active},
		{200, "application/jwt", "max-age=10", active},
		{200, "application/jwt", "no-store", active},
		{200, "application/jwt", "max-age=ten, private, =", active},
		{200, "application/jwt", "max-age=-1, max-age=99999999999999999999", active},
		{200, "application/jwt", "MAX-AGE=\"5\"", active},
		{200, "application/jwt; charset=utf-8", "", "  " + active + "\n"},
		{200, "application/json", "", `{"active":true,"jwt":"` + active + `"}`},
		{200, "application/json", "", `{"active":false}`},
		{200, "application/json", "", `{"active":"true","jwt":"` + active + `"}`},
		{200, "application/json", "", `{"active":true}`},
		{200, "application/json", "", `{"active":true,"jwt":"a.b.c"}`},
		{200, "application/json", "", `{"active":tru`},
		{200, "", "", `{"active":true,"jwt":"` + active + `","active":false}`},
		{200, "text/html", "", "<html>busy</html>"},
		{200, "application/token-introspection+jwt", "", active},
		{200, "application/jwt", "", fuzzJWT(`{"sub":"u","scope":"write"}`)},
		{200, "application/jwt", "", fuzzJWT(`{"sub":"u","scope":["read",1,"write"],"exp":1}`)},
		{200, "application/jwt", "", fuzzJWT(`{"sub":"u","scope":"read","exp":"soon"}`)},
		{200, "application/jwt", "", fuzzJWT(`[]`)},
		{200, "application/jwt", "", "e30.e30.e30"},
		{200, "application/jwt", "", "e30.e30.AAAA\r\nX-Injected"},
		{200, "application/jwt", "", active[:len(active)-4] + "\r\n" + active[len(active)-4:]},
		{200, "application/json", "", `{"active":true,"jwt":"` + active + `\r\nX-Injected"}`},
		{200, "application/jwt", "", active + "." + active},
		{200, "application/jwt", "", strings.Repeat("e30.", 2000)},
		{200, "application/jwt\x00", "\x00", "\xff\xfe"},
		{200, "", "", ""},
		{204, "", "", ""},
		{401, "application/json", "", `{"error":"invalid_client"}`},
		{403, "", "", ""},
		{302, "", "", ""},
		{500, "text/plain", "", "oops"},
		{503, "", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.status, s.contentType, s.cacheControl, s.body)
	}

	endpoint := &scriptedEndpoint{}
	server := httptest.NewServer(endpoint)
	f.Cleanup(server.Close)
	next := &recordingNext{}
	raw := map[string]interface{}{
		"introspectionEndpoint": server.URL + "/introspect",
		"clientId":              fakeas.IntrospectionClientID,
		"clientSecret":          fuzzSecret,
		"requiredScopes":        "read",
		"maxCacheEntries":       "500",
		"timeoutSeconds":        "2",
		"logLevel":              "debug",
	}
	cfg := phantomtoken.CreateConfig()
	if err := traefikconfig.Decode(raw, cfg); err != nil {
		f.Fatal(err)
	}
	h, err := phantomtoken.New(context.Background(), next, cfg, "phantom-token@fuzz")
	if err != nil {
		f.Fatal(err)
	}
	// Tokens from a counter, unique per process: fuzzing runs several processes against caches of
	// their own, and each input needs a token no earlier input has introspected.
	var counter int
	prefix := fmt.Sprintf("fuzz-%d-%d-", os.Getpid(), time.Now().UnixNano())

	f.Fuzz(func(t *testing.T, status int, contentType, cacheControl, body string) {
		defer fuzzcheck.Bound(t, 15*time.Second, 32<<20)()
		a := answer{
			status:       fuzzcheck.Status(status),
			contentType:  fuzzcheck.Cap(contentType, 1024),
			cacheControl: fuzzcheck.Cap(cacheControl, 1024),
			body:         fuzzcheck.Cap(body, 16*1024),
		}
		if a.status < 200 {
			a.status += 100 // informational answers are not final; the server would send 200
		}
		endpoint.set(a)
		counter++
		token := fmt.Sprintf("%s%d", prefix, counter)

		var first *httptest.ResponseRecorder
		var firstUpstream string
		for round := 0; round < 2; round++ {
			r := httptest.NewRequest(http.MethodGet, "https://api.example.com/api/data", nil)
			r.Header["Authorization"] = []string{"Bearer " + token}
			*next = recordingNext{}
			rec := httptest.NewRecorder()
			stop := requestcases.CaptureLogs()
			h.ServeHTTP(rec, r)
			logs := stop()
			fuzzcheck.Logs(t, logs, token, fuzzSecret)

			fuzzcheck.StatusIn(t, rec, http.StatusOK, http.StatusUnauthorized, http.StatusForbidden, http.StatusBadGateway, http.StatusServiceUnavailable)
			switch {
			case !fuzzcheck.WellFormedHeaderValue(a.contentType) || !fuzzcheck.WellFormedHeaderValue(a.cacheControl):
				// The client refuses the whole answer: any of the statuses above.
			case a.status == http.StatusNoContent:
				fuzzcheck.StatusIn(t, rec, http.StatusUnauthorized)
			case a.status == http.StatusServiceUnavailable:
				fuzzcheck.StatusIn(t, rec, http.StatusServiceUnavailable)
			case a.status != http.StatusOK:
				fuzzcheck.StatusIn(t, rec, http.StatusBadGateway)
			}
			upstream := ""
			if rec.Code == http.StatusOK {
				if !next.reached {
					t.Fatal("200 without reaching upstream")
				}
				auth := next.header.Values("Authorization")
				if len(auth) != 1 || !strings.HasPrefix(auth[0], "Bearer ") {
					t.Fatalf("upstream Authorization %q", auth)
				}
				upstream = strings.TrimPrefix(auth[0], "Bearer ")
				checkJWT(t, upstream, a.body)
				if len(upstream) >= 16 && strings.Contains(logs, upstream) {
					t.Fatal("the JWT appears in the log lines")
				}
			} else {
				if next.reached {
					t.Fatalf("status %d, yet upstream was reached", rec.Code)
				}
				code := fuzzcheck.JSONError(t, rec)
				want := map[int]string{401: "unauthorized", 403: "forbidden", 502: "server_error", 503: "server_error"}[rec.Code]
				if code != want {
					t.Fatalf("status %d with code %q, want %q", rec.Code, code, want)
				}
				if challenge := rec.Header().Get("WWW-Authenticate"); (rec.Code == 401 || rec.Code == 403) != (challenge != "") {
					t.Fatalf("status %d with WWW-Authenticate %q", rec.Code, challenge)
				}
			}
			if round == 0 {
				first, firstUpstream = rec, upstream
				continue
			}
			if rec.Code != first.Code || upstream != firstUpstream {
				t.Fatalf("the same token answered %d, then %d", first.Code, rec.Code)
			}
		}
	})
}

// checkJWT checks what went upstream: a compact JWT of base64url characters that Parse reads,
// which the introspection answer held.
func checkJWT(t *testing.T, token, body string) {
	t.Helper()
	if strings.Count(token, ".") != 2 || strings.Trim(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=") != "" {
		t.Fatalf("upstream got %q, which is not a compact JWT", token)
	}
	if _, err := jwt.Parse(token); err != nil {
		t.Fatalf("upstream got %q, which Parse refuses: %v", token, err)
	}
	var member struct {
		JWT string `json:"jwt"`
	}
	if token != strings.TrimSpace(body) && (json.Unmarshal([]byte(body), &member) != nil || member.JWT != token) {
		t.Fatalf("upstream got %q, which is neither the answer nor its jwt member", token)
	}
}

type recordingNext struct {
	reached bool
	header  http.Header
}

func (n *recordingNext) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n.reached = true
	n.header = r.Header.Clone()
	w.WriteHeader(http.StatusOK)
}
