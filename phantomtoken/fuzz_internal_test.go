package phantomtoken

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/tokenhandler/traefik-token-handler/testsupport/fuzzcheck"
)

// FuzzMaxAge feeds arbitrary Cache-Control values (as the introspection endpoint sends them) to
// parseMaxAge and newEntry: no panic; a duration is found only where the value names max-age,
// no-store or no-cache, and lies between 0 and 2^31 seconds; and an entry is never cached for
// longer than the configured time, whatever the header says.
func FuzzMaxAge(f *testing.F) {
	for _, seed := range []string{
		"", "max-age=10", "MAX-AGE=10", "max-age=\"10\"", "max-age=0", "max-age=-1", "max-age=",
		"max-age", "max-age=ten", "max-age=1e3", "max-age=+5", "max-age=0x10", "max-age= 10",
		"max-age=99999999999999999999", "max-age=9223372036854775807", "max-age=2147483649",
		"no-store", "No-Cache", "private, max-age=10", "max-age=10, no-store", "no-cache=\"set-cookie\"",
		"max-age=10, max-age=20", "=,=,=", ",,,", " \t max-age=5 \t ", "max-age=5;x", "max\x00age=5",
		"max-age=\u0661\u0662", strings.Repeat("public, ", 500) + "max-age=7",
	} {
		f.Add(seed)
	}
	const configured = 300 * time.Second
	now := time.Unix(1_800_000_000, 0)
	m := &Middleware{cache: newCache(10), cacheTTL: configured}
	m.cache.now = func() time.Time { return now }
	token := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"u","scope":"read","exp":4102444800}`)) + ".c2ln"

	f.Fuzz(func(t *testing.T, cacheControl string) {
		defer fuzzcheck.Bound(t, 10*time.Second, 8<<20)()
		if len(cacheControl) > 8*1024 {
			cacheControl = cacheControl[:8*1024]
		}
		d, ok := parseMaxAge(cacheControl)
		if !ok && d != 0 {
			t.Fatalf("%q: %v without ok", cacheControl, d)
		}
		if d < 0 || d > (1<<31)*time.Second {
			t.Fatalf("%q: max-age %v is out of range", cacheControl, d)
		}
		lower := strings.ToLower(cacheControl)
		if ok && !strings.Contains(lower, "max-age") && !strings.Contains(lower, "no-store") && !strings.Contains(lower, "no-cache") {
			t.Fatalf("%q names no max-age, no-store or no-cache, yet gives %v", cacheControl, d)
		}
		e, problem := m.newEntry(token, cacheControl)
		if problem != "" || e == nil {
			t.Fatalf("newEntry: %s", problem)
		}
		lifetime := e.expires.Sub(now)
		if lifetime < 0 || lifetime > configured {
			t.Fatalf("%q: cached for %v, configured %v", cacheControl, lifetime, configured)
		}
		if ok && lifetime != minDuration(d, configured) {
			t.Fatalf("%q: cached for %v, want min(%v, %v)", cacheControl, lifetime, d, configured)
		}
		if !ok && lifetime != configured {
			t.Fatalf("%q: malformed or absent, yet cached for %v instead of %v", cacheControl, lifetime, configured)
		}
	})
}

func minDuration(a, b time.Duration) time.Duration {
	if a < b {
		return a
	}
	return b
}
