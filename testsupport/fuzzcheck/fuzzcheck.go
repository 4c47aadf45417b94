// Package fuzzcheck holds what the native fuzz targets (`go test -fuzz`) share: bounds on the time
// and memory of one input (a hang becomes a crash that the fuzzer records), on input sizes, and
// the checks every role's answers and log lines must pass whatever the input.
package fuzzcheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/metrics"
	"strings"
	"testing"
	"time"
)

// Bound bounds the work of one input: it crashes the process when the input runs for longer
// than maxTime, so that a hang is reported (and its input saved by the fuzzer) instead of stalling
// the run, and it fails the input when the process allocated more than maxAlloc bytes while the
// input ran. Defer the returned function: `defer fuzzcheck.Bound(t, 10*time.Second, 32<<20)()`.
func Bound(t testing.TB, maxTime time.Duration, maxAlloc uint64) (done func()) {
	name := t.Name()
	timer := time.AfterFunc(maxTime, func() {
		// A panic in another goroutine kills the process, which is what the fuzzer needs to
		// record the input as a crasher; a t.Fatal here would be ignored.
		fmt.Fprintf(os.Stderr, "fuzzcheck: %s: one input ran for more than %s\n", name, maxTime)
		panic("fuzzcheck: input did not finish within " + maxTime.String())
	})
	start := heapAllocs()
	return func() {
		timer.Stop()
		if n := heapAllocs() - start; n > maxAlloc {
			t.Fatalf("one input allocated %d bytes, more than the bound of %d", n, maxAlloc)
		}
	}
}

// heapAllocs is the process's cumulative heap allocation, read without stopping the world.
func heapAllocs() uint64 {
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return sample[0].Value.Uint64()
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
