package phantomtoken

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/tokenhandler/traefik-token-handler/internal/flight"
)

// Cache keys are strings. Active results are keyed by the Authorization header value that
// carries the token ("Bearer <token>", activeKey), so that a cache hit is one map lookup with the
// header as it came, with no hashing: the entry holds the JWT, which is worth as much as the
// token (the contract allows either). Inactive results, which anyone can make the cache hold by
// sending random tokens of any size, are keyed by the token's SHA-256 (hashedKey).

// activeKey is the key of a token's active result.
func activeKey(token string) string { return "Bearer " + token }

// hashedKey is the key of a token's inactive result: 32 bytes, whatever the token's size.
func hashedKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return string(sum[:])
}

// entry is a cached active introspection result.
type entry struct {
	authorization string // "Bearer <JWT>", the upstream header value, built once
	// scopes is the JWT's scope claim as " a b c ", so that checking a scope is one compiled
	// strings.Contains of " a ", and an entry holds one small string rather than a map.
	scopes  string
	expires time.Time
	seq     uint64 // insertion number, to tell a current entry from a replaced one
}

// queued records an insertion, oldest first, for eviction and expiry sweeping.
type queued struct {
	key string
	seq uint64
}

// cache holds active results, at most max of them, each until its own expiry. Entries are
// evicted oldest first: every TTL is at most tokenCacheSeconds, so the oldest insertion is also
// the first to expire, and sweeping the queue's head on each insertion keeps expired entries
// from lingering without any background goroutine (a panic there would kill Traefik).
//
// Concurrent misses for one token share one introspection call (a flight), in the manner of
// go-oidc's remote key set: the first caller does the call, the others wait for its answer.
type cache struct {
	mu      sync.RWMutex
	entries map[string]*entry
	queue   []queued
	seq     uint64
	max     int

	flights *flight.Group

	// inactive, when not nil, remembers tokens the server called inactive, for inactiveTTL, in
	// a bounded set of its own (contract §6.7): a flood of random tokens then neither evicts
	// active entries nor costs more than one call per token, and a client that keeps sending an
	// expired token costs one call per period. Only their expiry is used.
	inactive    *cache
	inactiveTTL time.Duration
	// slots, when not nil, bounds the calls in flight (maxConcurrentIntrospections).
	slots *slots

	now func() time.Time
}

func newCache(max int) *cache {
	return &cache{
		entries: make(map[string]*entry),
		flights: flight.NewGroup(),
		max:     max,
		now:     time.Now,
	}
}

// get returns the unexpired entry for key, or nil.
func (c *cache) get(key string) *entry {
	c.mu.RLock()
	e := c.entries[key]
	c.mu.RUnlock()
	if e == nil {
		return nil
	}
	if c.now().Before(e.expires) {
		return e
	}
	c.mu.Lock()
	if c.entries[key] == e {
		delete(c.entries, key)
	}
	c.mu.Unlock()
	return nil
}

// put stores e under key, first removing expired entries from the head of the queue and, when
// the cache is full, the oldest ones.
func (c *cache) put(key string, e *entry) {
	if c.max <= 0 {
		return
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.queue) > 0 {
		head := c.queue[0]
		current := c.entries[head.key]
		if current == nil || current.seq != head.seq {
			c.queue = c.queue[1:] // replaced or already deleted
			continue
		}
		if len(c.entries) < c.max && now.Before(current.expires) {
			break
		}
		delete(c.entries, head.key)
		c.queue = c.queue[1:]
	}
	c.seq++
	e.seq = c.seq
	c.entries[key] = e
	// The head is dropped by reslicing; when append outgrows the capacity left, it copies only
	// the live part, so the backing array does not grow without bound.
	c.queue = append(c.queue, queued{key: key, seq: e.seq})
}

// len returns the number of entries, for tests and measurements.
func (c *cache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// resolve returns the cached entry for key (activeKey) or the inactive result remembered for
// inactiveKey (hashedKey) or, on a miss, the result of introspect, calling it once however many
// requests miss on the token at the same time (internal/flight, keyed by the short hash). A result is cached
// before the waiting requests are released, so that no request that arrives later starts a
// second call.
func (c *cache) resolve(key, inactiveKey string, introspect func() result) result {
	lookup := func() (interface{}, bool) {
		if e := c.get(key); e != nil {
			return result{outcome: active, entry: e}, true
		}
		if c.inactive != nil && c.inactive.get(inactiveKey) != nil {
			return result{outcome: inactive, problem: "the token is not active (remembered from an introspection less than inactiveCacheSeconds ago)"}, true
		}
		return nil, false
	}
	call := func() interface{} { return c.call(key, inactiveKey, introspect) }
	incomplete := result{outcome: failed, problem: "the introspection call did not complete"}
	return c.flights.Do(string(inactiveKey), lookup, call, incomplete).(result)
}

// call makes the introspection call, within the bound on calls in flight, and caches what it
// concluded: an active result until its expiry, an inactive one for inactiveTTL.
func (c *cache) call(key, inactiveKey string, introspect func() result) result {
	if c.slots != nil {
		if !c.slots.acquire() {
			return result{outcome: unavailable, problem: "maxConcurrentIntrospections calls to the introspection endpoint are in flight, and none ended within timeoutSeconds"}
		}
		defer c.slots.release()
	}
	res := introspect()
	switch {
	case res.outcome == active && res.entry.expires.After(c.now()):
		c.put(key, res.entry)
	case res.outcome == inactive && c.inactive != nil:
		c.inactive.put(inactiveKey, &entry{expires: c.now().Add(c.inactiveTTL)})
	}
	return res
}
