package bearer_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tokenhandler/traefik-token-handler/internal/bearer"
	"github.com/tokenhandler/traefik-token-handler/testsupport/fuzzcheck"
)

// b64tokenChars are RFC 6750's b64token characters before the '=' padding, written out here
// independently of the parser's own list.
const b64tokenChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"

// FuzzToken feeds arbitrary Authorization headers (none, one or two of them) to Token and
// Present. Neither may panic; an accepted token is non-empty, at most MaxTokenLength bytes, made
// of b64token characters with '=' only at its end, is exactly what follows the case-insensitive
// "Bearer" and a space or tab, trimmed, and reads back the same from "Bearer <token>"; a refused
// header yields no token and one of the package's errors.
func FuzzToken(f *testing.F) {
	for _, seed := range []struct {
		header, second string
		count          uint8
	}{
		{"Bearer abc", "", 1},
		{"bearer 42665300-efe8-419d-be52-07b53e208f46", "", 1},
		{"BEARER\tabc.def.ghi==", "", 1},
		{"Bearer   spaced   ", "", 1},
		{"Bearer", "", 1},
		{"Bearer ", "", 1},
		{"Bearerabc", "", 1},
		{"Basic dXNlcjpwYXNz", "", 1},
		{"Bearer a b", "", 1},
		{"Bearer a=b", "", 1},
		{"Bearer ==", "", 1},
		{"Bearer \x00", "", 1},
		{"Bearer tok\r\nX-Injected: 1", "", 1},
		{"Bearer tökén", "", 1},
		{"", "", 1},
		{"", "", 0},
		{"Bearer a", "Bearer b", 2},
		{"Bearer " + strings.Repeat("A", bearer.MaxTokenLength), "", 1},
		{"Bearer " + strings.Repeat("A", bearer.MaxTokenLength+1), "", 1},
	} {
		f.Add(seed.header, seed.second, seed.count)
	}
	f.Fuzz(func(t *testing.T, header, second string, count uint8) {
		defer fuzzcheck.Bound(t, 10*time.Second, 8<<20)()
		if len(header) > 2*bearer.MaxTokenLength {
			header = header[:2*bearer.MaxTokenLength]
		}
		var values []string
		switch count % 3 {
		case 1:
			values = []string{header}
		case 2:
			values = []string{header, second}
		}
		token, err := bearer.Token(values)
		switch {
		case len(values) == 0:
			if err != bearer.ErrMissing {
				t.Fatalf("no header: err %v, want ErrMissing", err)
			}
		case len(values) > 1:
			if err != bearer.ErrSeveralAuth {
				t.Fatalf("two headers: err %v, want ErrSeveralAuth", err)
			}
		}
		present := len(values) > 0 && bearer.Present(values[0])
		if err != nil {
			if token != "" {
				t.Fatalf("a token came back with the error %v", err)
			}
			switch err {
			case bearer.ErrMissing, bearer.ErrNotBearer, bearer.ErrEmpty, bearer.ErrMalformed, bearer.ErrTooLong, bearer.ErrSeveralAuth:
			default:
				t.Fatalf("unexpected error %v", err)
			}
			if len(values) == 1 && present {
				t.Fatalf("Present accepts %q, which Token refuses (%v)", header, err)
			}
			return
		}
		if !present {
			t.Fatalf("Token accepts %q, which Present refuses", header)
		}
		if token == "" || len(token) > bearer.MaxTokenLength {
			t.Fatalf("accepted token of %d bytes", len(token))
		}
		if rest := strings.TrimRight(strings.TrimLeft(token, b64tokenChars), "="); rest != "" {
			t.Fatalf("accepted token %q has characters a b64token cannot have", token)
		}
		if strings.Trim(token, "=") == "" {
			t.Fatalf("accepted token %q is only padding", token)
		}
		if len(header) < 7 || !strings.EqualFold(header[:6], "bearer") || (header[6] != ' ' && header[6] != '\t') {
			t.Fatalf("accepted %q, which does not start with the Bearer scheme and a space", header)
		}
		if got := strings.Trim(header[6:], " \t"); got != token {
			t.Fatalf("token %q is not the trimmed rest %q of the header", token, got)
		}
		again, err := bearer.Token([]string{"Bearer " + token})
		if err != nil || again != token {
			t.Fatalf("Bearer %q reads back as %q, %v", token, again, err)
		}
	})
}
