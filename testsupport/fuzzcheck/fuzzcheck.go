// Package fuzzcheck holds what the native fuzz targets (`go test -fuzz`) share: a watchdog that
// turns an input that hangs into a crash the fuzzer records, a bound on input sizes, and the
// checks every role's answers and log lines must pass whatever the input.
package fuzzcheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// Watchdog crashes the process when the input under test takes longer than limit, so that a hang
// is reported (and its input saved by the fuzzer) instead of stalling the run. Defer the returned
// function: `defer fuzzcheck.Watchdog(t, 10*time.Second)()`.
func Watchdog(t testing.TB, limit time.Duration) (stop func()) {
	name := t.Name()
	timer := time.AfterFunc(limit, func() {
		// A panic in another goroutine kills the process, which is what the fuzzer needs to
		// record the input as a crasher; a t.Fatal here would be ignored.
		fmt.Fprintf(os.Stderr, "fuzzcheck: %s: one input ran for more than %s\n", name, limit)
		panic("fuzzcheck: input did not finish within " + limit.String())
	})
	return func() { timer.Stop() }
}

// Cap truncates s to at most n bytes, bounding the work and memory of one input.
func Cap(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Status maps a fuzzed integer onto an HTTP status that a server can send, 100 to 599.
func Status(v int) int {
	if v >= 100 && v <= 599 {
		return v
	}
	if v < 0 {
		v = -(v + 1) // never overflows
	}
	return 100 + v%500
}

// WellFormedHeaderValue reports whether a server that sets s as a header value sends a response
// that Go's client reads: Go's server turns CR and LF into spaces, but another control character
// makes the client refuse the whole response (so that, for example, a 204 with such a header is a
// transport error, not a 204).
func WellFormedHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; (b < ' ' && b != '\t' && b != '\r' && b != '\n') || b == 0x7f {
			return false
		}
	}
	return true
}

// ErrorBody is the JSON body of every error answer of the three roles.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// JSONError checks that rec is an error answer of the roles: application/json, a body that is
// exactly {"code","message"}, both non-empty. It returns the code.
func JSONError(t testing.TB, rec *httptest.ResponseRecorder) string {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("status %d: Content-Type %q, want application/json; body %q", rec.Code, ct, rec.Body.Bytes())
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &members); err != nil {
		t.Fatalf("status %d: the body is not a JSON object: %q", rec.Code, rec.Body.Bytes())
	}
	if len(members) != 2 || members["code"] == nil || members["message"] == nil {
		t.Fatalf("status %d: the body is not {\"code\",\"message\"}: %q", rec.Code, rec.Body.Bytes())
	}
	var body ErrorBody
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Code == "" || body.Message == "" {
		t.Fatalf("status %d: code or message missing or not strings: %q", rec.Code, rec.Body.Bytes())
	}
	return body.Code
}

// StatusIn fails unless rec's status is one of allowed.
func StatusIn(t testing.TB, rec *httptest.ResponseRecorder, allowed ...int) {
	t.Helper()
	for _, s := range allowed {
		if rec.Code == s {
			return
		}
	}
	t.Fatalf("status %d is not one of %v; headers %v; body %q", rec.Code, allowed, rec.Header(), rec.Body.Bytes())
}

// NoCORSForUntrusted fails when an answer to an origin other than trusted allows that origin.
func NoCORSForUntrusted(t testing.TB, h http.Header, origin, trusted string) {
	t.Helper()
	got := h.Values("Access-Control-Allow-Origin")
	if origin != trusted && len(got) > 0 {
		t.Fatalf("origin %q is not trusted but got Access-Control-Allow-Origin %q", origin, got)
	}
	if origin == trusted && len(got) > 1 {
		t.Fatalf("Access-Control-Allow-Origin given %d times", len(got))
	}
}

// Logs checks the log lines of one input: no recovered panic (a fault that the roles' recovery
// hid behind a 500 answer), and none of the secrets (empty ones are skipped).
func Logs(t testing.TB, logs string, secrets ...string) {
	t.Helper()
	if strings.Contains(logs, "recovered from a panic") {
		t.Fatalf("a panic was recovered while serving the input:\n%s", logs)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Fatalf("a secret (%d bytes) appears in the log lines:\n%s", len(s), logs)
		}
	}
}
