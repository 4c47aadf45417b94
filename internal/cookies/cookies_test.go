package cookies_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tokenhandler/traefik-token-handler/internal/cookiecrypt"
	"github.com/tokenhandler/traefik-token-handler/internal/cookies"
)

const key = "4e4636356d65563e4c73233847503e3b21436e6f7629724950526f4b5e2e4e50"

func newJar(t *testing.T, o cookies.Options) *cookies.Jar {
	t.Helper()
	c, err := cookiecrypt.NewCipher(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.Cipher = c
	if o.Prefix == "" {
		o.Prefix = "example"
	}
	if o.AgentPath == "" {
		o.AgentPath = "/oauth-agent"
	}
	return cookies.NewJar(o)
}

// request returns a request that carries the cookies of the Set-Cookie lines that set a value,
// as a browser would send them back (all of them, whatever their Path).
func request(setCookies []string, extra ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://api.example.com/oauth-agent/refresh", nil)
	var pairs []string
	for _, line := range setCookies {
		pair := line[:strings.Index(line, ";")]
		if !strings.HasSuffix(pair, "=") {
			pairs = append(pairs, pair)
		}
	}
	pairs = append(pairs, extra...)
	r.Header.Set("Cookie", strings.Join(pairs, "; "))
	return r
}

// TestWriteAndRead writes values of several sizes with each profile and reads them back: every
// Set-Cookie stays within 4096 bytes, a value that fits is one cookie exactly as Curity writes it,
// and a larger one is a count and chunks with the cookie's attributes.
func TestWriteAndRead(t *testing.T) {
	for _, tc := range []struct {
		name       string
		options    cookies.Options
		size       int
		wantCount  int // Set-Cookie lines
		wantName   string
		wantSuffix string
	}{
		{"a small token is one Curity cookie", cookies.Options{Secure: true}, 100, 1, "example-at", "; Path=/; HttpOnly; Secure; SameSite=Strict"},
		{"a token that just fits", cookies.Options{Secure: true}, 2900, 1, "example-at", "; Path=/; HttpOnly; Secure; SameSite=Strict"},
		{"a 5 KB token is a count and two chunks", cookies.Options{Secure: true}, 5000, 3, "example-at", "; Path=/; HttpOnly; Secure; SameSite=Strict"},
		{"an 8 KB token with a Domain is a count and three chunks", cookies.Options{Domain: "example.com"}, 8000, 4, "example-at", "; Path=/; Domain=example.com; HttpOnly; SameSite=Strict"},
		{"the host profile", cookies.Options{Profile: cookies.ProfileHost, Secure: true}, 100, 1, "__Host-example-at", "; Path=/; HttpOnly; Secure; SameSite=Strict"},
		{"the host profile, chunked", cookies.Options{Profile: cookies.ProfileHost, Secure: true}, 9000, 4, "__Host-example-at", "; Path=/; HttpOnly; Secure; SameSite=Strict"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jar := newJar(t, tc.options)
			value := strings.Repeat("t", tc.size)
			h := http.Header{}
			if err := jar.Write(h, nil, jar.AccessToken, value); err != nil {
				t.Fatal(err)
			}
			lines := h.Values("Set-Cookie")
			if len(lines) != tc.wantCount {
				t.Fatalf("%d Set-Cookie lines, want %d", len(lines), tc.wantCount)
			}
			if jar.AccessToken.Name != tc.wantName || !strings.HasPrefix(lines[0], tc.wantName+"=") {
				t.Fatalf("cookie name %q, first line %.40q, want %s", jar.AccessToken.Name, lines[0], tc.wantName)
			}
			for _, line := range lines {
				if len(line) > cookies.MaxSetCookieBytes {
					t.Errorf("a Set-Cookie of %d bytes", len(line))
				}
				if !strings.HasSuffix(line, tc.wantSuffix) {
					t.Errorf("%.40q... does not end with %q", line, tc.wantSuffix)
				}
			}
			got, err := jar.Read(request(lines), jar.AccessToken)
			if err != nil || got != value {
				t.Fatalf("read back %d bytes, %v", len(got), err)
			}
		})
	}
}

// TestWriteTooLarge refuses a value that needs more than MaxChunks chunks, naming the key to
// raise, and adds nothing.
func TestWriteTooLarge(t *testing.T) {
	jar := newJar(t, cookies.Options{MaxChunks: 2})
	h := http.Header{}
	err := jar.Write(h, nil, jar.IDToken, strings.Repeat("t", 9000))
	if !errors.Is(err, cookies.ErrTooLarge) || !strings.Contains(err.Error(), "raise maxCookieChunks") || !strings.Contains(err.Error(), "example-id") {
		t.Fatalf("err = %v", err)
	}
	if len(h) != 0 {
		t.Fatalf("headers were added: %v", h)
	}
}

// TestStaleChunksAreCleared writes a small value over a chunked one: the cookie on its legacy
// Path and the chunks the request carries are cleared, each with its Path, and the read value is
// the new one.
func TestStaleChunksAreCleared(t *testing.T) {
	jar := newJar(t, cookies.Options{})
	big := http.Header{}
	if err := jar.Write(big, nil, jar.RefreshToken, strings.Repeat("r", 7000)); err != nil {
		t.Fatal(err)
	}
	small := http.Header{}
	if err := jar.Write(small, request(big.Values("Set-Cookie")), jar.RefreshToken, "rotated"); err != nil {
		t.Fatal(err)
	}
	lines := small.Values("Set-Cookie")
	want := []string{"example-auth=", "example-auth=; Path=/oauth-agent/refresh;", "example-auth-1=; Path=/oauth-agent;", "example-auth-2=; Path=/oauth-agent;", "example-auth-3=; Path=/oauth-agent;"}
	if len(lines) != len(want) {
		t.Fatalf("Set-Cookie %q", lines)
	}
	for i, prefix := range want {
		if !strings.HasPrefix(lines[i], prefix) || (i > 0 && !strings.Contains(lines[i], "Max-Age=0")) {
			t.Errorf("line %d = %.60q, want it to start with %q", i, lines[i], prefix)
		}
	}
	if got, err := jar.Read(request(lines[:1]), jar.RefreshToken); err != nil || got != "rotated" {
		t.Fatalf("read %q, %v", got, err)
	}
}

// TestClearSession clears the session cookies (-auth and -id on their legacy paths too) and every
// chunk name up to MaxChunks.
func TestClearSession(t *testing.T) {
	jar := newJar(t, cookies.Options{MaxChunks: 2})
	h := http.Header{}
	jar.ClearSession(h)
	var names []string
	for _, line := range h.Values("Set-Cookie") {
		if !strings.Contains(line, "=; Path=") || !strings.Contains(line, "Max-Age=0") {
			t.Errorf("not a clearing line: %q", line)
		}
		names = append(names, line[:strings.Index(line, "=")])
	}
	want := "example-auth example-auth example-at example-id example-id example-csrf example-idhint example-auth-1 example-auth-2 example-at-1 example-at-2 example-id-1 example-id-2"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("cleared %s, want %s", got, want)
	}
}

// TestReadIsBounded sends a thousand copies of a chunked cookie with a forged count: Read tries a
// few and answers with what is wrong.
func TestReadIsBounded(t *testing.T) {
	jar := newJar(t, cookies.Options{})
	var pairs []string
	for i := 0; i < 1000; i++ {
		pairs = append(pairs, "example-at=chunks-9", "example-at-1=x")
	}
	_, err := jar.Read(request(nil, pairs...), jar.AccessToken)
	if err == nil || !strings.Contains(err.Error(), "8 of its 9 chunks are missing") {
		t.Fatalf("err = %v", err)
	}
}
