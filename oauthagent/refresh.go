package oauthagent

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/tokenhandler/traefik-token-handler/internal/flight"
)

// refreshes makes refresh work with authorization servers that rotate refresh tokens (each is
// accepted once) when several tabs of one browser refresh at about the same time (contract §6.4):
//
//   - concurrent /refresh requests carrying the same refresh token make one token-endpoint call,
//     and all of them answer with its outcome;
//   - for reuseWindow after a successful exchange, a /refresh that carries the same (now rotated)
//     refresh token gets the tokens of that exchange, or of a later one that exchanged them in
//     turn, without calling the server again, so that the tab that lost the race is not signed
//     out and never rolls the browser back to an older token.
//
// The window also lets a stolen old -auth cookie be replayed for that long, which is why it is
// short. Keys are the SHA-256 of the refresh token, so the set never holds one; a kept result does
// hold the new tokens, as the cookies do. Failures are never kept. At most maxRefreshResults
// results are kept; beyond that a result is not kept (the next request simply calls the server).
// One set serves every instance of one setup (sharedRefreshes): Traefik rebuilds instances on
// every configuration reload, and a reload must not forget an exchange.
type refreshes struct {
	reuseWindow time.Duration
	flights     *flight.Group

	mu    sync.Mutex
	kept  map[[32]byte]*keptRefresh
	order []refreshKey // kept results, oldest first, for expiry
}

// keptRefresh is the outcome of a successful exchange, reused until expires.
type keptRefresh struct {
	tokens  tokenResponse
	expires time.Time
}

type refreshKey struct {
	key     [32]byte
	expires time.Time
}

// refreshOutcome is what an exchange gives every request that shares it.
type refreshOutcome struct {
	tokens  tokenResponse
	failure *failure
}

const (
	maxRefreshResults = 10000
	// maxRefreshHops bounds how many later exchanges a late request follows.
	maxRefreshHops = 4
)

var (
	refreshSetsMu sync.Mutex
	refreshSets   = map[string]*refreshes{}
)

// sharedRefreshes returns the set of one setup (key), shared by its instances.
func sharedRefreshes(key string, reuseWindow time.Duration) *refreshes {
	refreshSetsMu.Lock()
	defer refreshSetsMu.Unlock()
	s, ok := refreshSets[key]
	if !ok {
		s = &refreshes{reuseWindow: reuseWindow, flights: flight.NewGroup(), kept: make(map[[32]byte]*keptRefresh)}
		refreshSets[key] = s
	}
	return s
}

// exchange returns the tokens for refreshToken: those of an exchange in flight or kept for it
// (followed to the newest one kept), or else of calling exchangeNow, once however many requests
// ask at the same time.
func (s *refreshes) exchange(refreshToken string, exchangeNow func() (tokenResponse, *failure)) (tokenResponse, *failure) {
	key := sha256.Sum256([]byte(refreshToken))
	lookup := func() (interface{}, bool) {
		if k := s.keptFor(key); k != nil {
			return refreshOutcome{tokens: k.tokens}, true
		}
		return nil, false
	}
	call := func() interface{} {
		tokens, f := exchangeNow()
		if f == nil {
			s.keep(key, tokens)
		}
		return refreshOutcome{tokens: tokens, failure: f}
	}
	failed := refreshOutcome{failure: serverFailure("refresh: the token call did not complete")}
	out := s.flights.Do(string(key[:]), lookup, call, failed).(refreshOutcome)
	tokens := out.tokens
	for hops := 0; out.failure == nil && tokens.RefreshToken != "" && hops < maxRefreshHops; hops++ {
		newer := s.keptFor(sha256.Sum256([]byte(tokens.RefreshToken)))
		if newer == nil {
			break
		}
		tokens = newer.tokens
	}
	return tokens, out.failure
}

// keptFor returns the unexpired result kept for key, or nil.
func (s *refreshes) keptFor(key [32]byte) *keptRefresh {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.order) > 0 && !now.Before(s.order[0].expires) {
		if k := s.kept[s.order[0].key]; k != nil && !now.Before(k.expires) {
			delete(s.kept, s.order[0].key)
		}
		s.order = s.order[1:]
	}
	k := s.kept[key]
	if k == nil || !now.Before(k.expires) {
		return nil
	}
	return k
}

// keep remembers a successful exchange for the reuse window.
func (s *refreshes) keep(key [32]byte, tokens tokenResponse) {
	if s.reuseWindow <= 0 {
		return
	}
	expires := time.Now().Add(s.reuseWindow)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.kept) >= maxRefreshResults {
		return
	}
	s.kept[key] = &keptRefresh{tokens: tokens, expires: expires}
	s.order = append(s.order, refreshKey{key: key, expires: expires})
}
