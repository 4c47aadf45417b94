package oauthagent

import (
	"sync"
	"time"
)

// usedStates remembers the states this instance has accepted at /login/end, for as long as the
// -login cookie that held them could still be replayed (loginLifetime). A completion removes its
// state from the cookie it answers with, but a client that kept the old cookie could send it
// again: without this set, a state whose completion failed (a bad code, a slow token endpoint)
// could be tried once more (RFC 9700 §4.2.4: a state is used once).
//
// The set is bounded: beyond maxUsedStates the oldest are forgotten first, so a flood of
// completions costs memory once, not without end. One set serves every instance of one client
// (sharedUsedStates): a configuration reload must not forget which states were used.
type usedStates struct {
	mu    sync.Mutex
	at    map[string]time.Time
	order []string // oldest first
}

// maxUsedStates bounds the set: far more logins than an instance completes in loginLifetime.
const maxUsedStates = 10000

var (
	usedStateSetsMu sync.Mutex
	usedStateSets   = map[string]*usedStates{}
)

// sharedUsedStates returns the set of one client (key), shared by its instances.
func sharedUsedStates(key string) *usedStates {
	usedStateSetsMu.Lock()
	defer usedStateSetsMu.Unlock()
	u, ok := usedStateSets[key]
	if !ok {
		u = &usedStates{at: make(map[string]time.Time)}
		usedStateSets[key] = u
	}
	return u
}

// use marks state as used at now, and reports whether it was unused.
func (u *usedStates) use(state string, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for len(u.order) > 0 {
		oldest := u.order[0]
		if len(u.order) < maxUsedStates && now.Sub(u.at[oldest]) < loginLifetime {
			break
		}
		delete(u.at, oldest)
		u.order = u.order[1:]
	}
	if _, used := u.at[state]; used {
		return false
	}
	u.at[state] = now
	u.order = append(u.order, state)
	return true
}
