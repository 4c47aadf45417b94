package bfftoken

import (
	"strconv"
	"strings"
	"testing"
)

// TestRememberIsBounded: past maxAuthorizations entries or maxAuthorizationBytes, the remembered
// authorizations start over, so that no stream of distinct valid cookies grows them without end.
func TestRememberIsBounded(t *testing.T) {
	m := &Middleware{authorizations: make(map[string]string)}
	for i := 0; i < 3*maxAuthorizations; i++ {
		m.remember("cookie-"+strconv.Itoa(i), "Bearer token")
		if len(m.authorizations) > maxAuthorizations {
			t.Fatalf("%d entries after %d cookies", len(m.authorizations), i+1)
		}
	}
	m = &Middleware{authorizations: make(map[string]string)}
	big := strings.Repeat("t", 4000)
	for i := 0; i < 10000; i++ {
		m.remember("cookie-"+strconv.Itoa(i)+strings.Repeat("c", 4000), "Bearer "+big)
		if m.authorizationBytes > maxAuthorizationBytes {
			t.Fatalf("%d bytes after %d cookies", m.authorizationBytes, i+1)
		}
	}
}
