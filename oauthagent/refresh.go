package oauthagent

import (
	"crypto/sha256"
	"sync"
	"time"
)

// refreshes makes refresh work with authorization servers that rotate refresh tokens (each is
// accepted once) when several tabs of one browser refresh at about the same time (contract §6.4):
//
//   - concurrent /refresh requests carrying the same refresh token make one token-endpoint call,
//     and all of them answer with its outcome;
//   - for reuseWindow after a successful exchange, a /refresh that carries the same (now rotated)
//     refresh token gets the tokens of that exchange without calling the server again, so that
//     the tab that lost the race is not signed out.
//
// The window also lets a stolen old -auth cookie be replayed for that long, which is why it is
// short. Keys are the SHA-256 of the refresh token, so the set never holds one; a result does hold
// the new tokens, as the cookies do. Failures are never kept. At most maxRefreshResults results are
// kept; beyond that a result is not kept (the next request simply calls the server).
type refreshes struct {
	reuseWindow time.Duration

	mu    sync.Mutex
	calls map[[32]byte]*refreshCall
	order []refreshKept // kept results, oldest first, for expiry
}

// refreshCall is one exchange of a refresh token: in flight until done is closed, then its
// outcome, kept until expires when it succeeded.
type refreshCall struct {
	done    chan struct{}
	tokens  tokenResponse
	failure *failure
	expires time.Time // zero while in flight or when not kept
}

type refreshKept struct {
	key     [32]byte
	expires time.Time
}

const maxRefreshResults = 10000

func newRefreshes(reuseWindow time.Duration) *refreshes {
	return &refreshes{reuseWindow: reuseWindow, calls: make(map[[32]byte]*refreshCall)}
}

// exchange returns the outcome of exchanging refreshToken: that of a call in flight or kept for
// it, or else of calling exchangeNow, once however many requests ask at the same time.
//
// Waiting requests block on a plain receive, not a select: Yaegi v0.16.1 shares a select
// statement's case list between goroutines. The wait is bounded by the call's timeout.
func (s *refreshes) exchange(refreshToken string, exchangeNow func() (tokenResponse, *failure)) (tokenResponse, *failure) {
	key := sha256.Sum256([]byte(refreshToken))
	now := time.Now()
	s.mu.Lock()
	s.forgetExpired(now)
	if c := s.calls[key]; c != nil {
		s.mu.Unlock()
		<-c.done
		return c.tokens, c.failure
	}
	c := &refreshCall{done: make(chan struct{}), failure: serverFailure("refresh: the token call did not complete")}
	s.calls[key] = c
	s.mu.Unlock()

	// Deferred, so that waiting requests are released even if the call panics.
	defer func() {
		s.mu.Lock()
		if c.failure == nil && s.reuseWindow > 0 && len(s.order) < maxRefreshResults {
			c.expires = time.Now().Add(s.reuseWindow)
			s.order = append(s.order, refreshKept{key: key, expires: c.expires})
		} else {
			delete(s.calls, key)
		}
		s.mu.Unlock()
		close(c.done)
	}()
	tokens, f := exchangeNow()
	c.tokens = tokens
	c.failure = f
	return tokens, f
}

// forgetExpired drops the kept results whose window has passed; s.mu is held.
func (s *refreshes) forgetExpired(now time.Time) {
	for len(s.order) > 0 && !now.Before(s.order[0].expires) {
		key := s.order[0].key
		if c := s.calls[key]; c != nil && !c.expires.IsZero() && !now.Before(c.expires) {
			delete(s.calls, key)
		}
		s.order = s.order[1:]
	}
}
