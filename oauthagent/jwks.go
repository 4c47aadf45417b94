package oauthagent

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tokenhandler/traefik-token-handler/internal/jwt"
)

// keySet is the authorization server's signing keys, fetched from the JWKS URL when first needed
// and again when an ID token names a key that is not known, since a new kid is how a key rotation
// shows (OpenID Connect Core §10.1.1). Refetches are rate-limited: a kid that a fetch already did
// not find is not looked for again for minRefetchInterval, and a failed fetch is not retried for
// retryInterval, so that repeated unknown kids cannot turn the agent into a flood of JWKS
// requests. Concurrent lookups share one fetch: the fetch runs under the mutex.
type keySet struct {
	mu          sync.Mutex
	keys        []jwt.Key
	lastFetch   time.Time // last successful fetch
	missingKid  string    // the kid that the last successful fetch did not find
	lastFailure time.Time // last failed fetch
	fetch       func() ([]byte, error)
}

// errKeysUnavailable marks a failure to get the keys at all: the authorization server's fault,
// not the ID token's.
var errKeysUnavailable = errors.New("the JWKS is unavailable")

// minRefetchInterval is the shortest time between two JWKS fetches.
const minRefetchInterval = 30 * time.Second

// key returns the key for kid (any key that fits alg when kid is empty).
func (s *keySet) key(kid, alg string) (jwt.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := findKey(s.keys, kid, alg); ok {
		return k, nil
	}
	if kid == s.missingKid && time.Since(s.lastFetch) < minRefetchInterval {
		return jwt.Key{}, errors.New("no JWKS key matches the ID token's kid (looked for less than 30 s ago)")
	}
	if !s.lastFailure.IsZero() && time.Since(s.lastFailure) < retryInterval {
		return jwt.Key{}, fmt.Errorf("%w: it could not be fetched a moment ago", errKeysUnavailable)
	}
	body, err := s.fetch()
	var keys []jwt.Key
	if err == nil {
		keys, err = jwt.ParseJWKS(body)
	}
	if err != nil {
		s.lastFailure = time.Now()
		return jwt.Key{}, fmt.Errorf("%w: %w", errKeysUnavailable, err)
	}
	// One assignment per field: Yaegi v0.16.1 loses values in a multiple assignment to fields.
	s.keys = keys
	s.lastFetch = time.Now()
	s.missingKid = ""
	if k, ok := findKey(s.keys, kid, alg); ok {
		return k, nil
	}
	s.missingKid = kid
	return jwt.Key{}, errors.New("no JWKS key matches the ID token's kid")
}

func findKey(keys []jwt.Key, kid, alg string) (jwt.Key, bool) {
	for _, k := range keys {
		if (kid == "" || k.Kid == kid) && jwt.Fits(k, alg) {
			return k, true
		}
	}
	return jwt.Key{}, false
}
