package phantomtoken

import (
	"fmt"
	"testing"
	"time"
)

// fakeClock is a settable clock for TTL tests.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestCache(max int) (*cache, *fakeClock) {
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	c := newCache(max)
	c.now = clock.now
	return c, clock
}

func keyOf(s string) string { return activeKey(s) }

func TestEntryLifetimeIsTheShortestOfConfigMaxAgeAndExpiry(t *testing.T) {
	c, clock := newTestCache(10)
	now := clock.t.Unix()
	jwtWithExp := func(exp int64) string {
		return unsignedTestJWT(fmt.Sprintf(`{"sub":"u","scope":"read","exp":%d}`, exp))
	}
	cases := []struct {
		name         string
		configured   time.Duration
		cacheControl string
		jwt          string
		want         time.Duration
	}{
		{"configured time when nothing is shorter", 300 * time.Second, "", jwtWithExp(now + 3600), 300 * time.Second},
		{"max-age shorter than configured", 300 * time.Second, "max-age=10", jwtWithExp(now + 3600), 10 * time.Second},
		{"max-age longer than configured", 5 * time.Second, "public, max-age=10", jwtWithExp(now + 3600), 5 * time.Second},
		{"expiry sooner than both", 300 * time.Second, "max-age=100", jwtWithExp(now + 30), 30 * time.Second},
		{"expiry in the past", 300 * time.Second, "", jwtWithExp(now - 1), -1 * time.Second},
		{"no exp claim", 300 * time.Second, "", unsignedTestJWT(`{"sub":"u"}`), 300 * time.Second},
		{"malformed max-age ignored", 300 * time.Second, "max-age=ten", jwtWithExp(now + 3600), 300 * time.Second},
		{"negative max-age ignored", 300 * time.Second, "max-age=-5", jwtWithExp(now + 3600), 300 * time.Second},
		{"no-store", 300 * time.Second, "no-store", jwtWithExp(now + 3600), 0},
		{"max-age 0", 300 * time.Second, "max-age=0", jwtWithExp(now + 3600), 0},
		{"MAX-AGE in capitals", 300 * time.Second, "MAX-AGE=7", jwtWithExp(now + 3600), 7 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := &Middleware{cache: c, cacheTTL: tc.configured}
			e, problem := m.newEntry(tc.jwt, tc.cacheControl)
			if problem != "" {
				t.Fatal(problem)
			}
			if got := e.expires.Sub(clock.t); got != tc.want {
				t.Fatalf("lifetime = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEntryExpiresExactlyAtItsTime(t *testing.T) {
	c, clock := newTestCache(10)
	key := keyOf("a")
	c.put(key, &entry{authorization: "Bearer a", expires: clock.t.Add(10 * time.Second)})
	clock.advance(10*time.Second - time.Nanosecond)
	if c.get(key) == nil {
		t.Fatal("entry missing one nanosecond before its expiry")
	}
	clock.advance(time.Nanosecond)
	if c.get(key) != nil {
		t.Fatal("entry served at its expiry")
	}
	if c.len() != 0 {
		t.Fatal("expired entry still held after a lookup")
	}
}

func TestCacheEvictsOldestAtTheBound(t *testing.T) {
	c, clock := newTestCache(3)
	for i := 0; i < 5; i++ {
		c.put(keyOf(fmt.Sprint(i)), &entry{expires: clock.t.Add(time.Hour)})
		clock.advance(time.Second)
	}
	if n := c.len(); n != 3 {
		t.Fatalf("len = %d, want 3", n)
	}
	for i, want := range []bool{false, false, true, true, true} {
		if got := c.get(keyOf(fmt.Sprint(i))) != nil; got != want {
			t.Errorf("entry %d present = %v, want %v", i, got, want)
		}
	}
}

func TestExpiredEntriesDoNotLinger(t *testing.T) {
	c, clock := newTestCache(100)
	c.put(keyOf("short"), &entry{expires: clock.t.Add(time.Second)})
	c.put(keyOf("long"), &entry{expires: clock.t.Add(time.Hour)})
	clock.advance(2 * time.Second)
	c.put(keyOf("new"), &entry{expires: clock.t.Add(time.Hour)})
	if n := c.len(); n != 2 {
		t.Fatalf("len = %d after an insertion past the first expiry, want 2", n)
	}
}

func TestReplacedEntriesKeepTheCountRight(t *testing.T) {
	c, clock := newTestCache(2)
	for i := 0; i < 10; i++ {
		c.put(keyOf("same"), &entry{authorization: fmt.Sprint(i), expires: clock.t.Add(time.Hour)})
	}
	c.put(keyOf("other"), &entry{expires: clock.t.Add(time.Hour)})
	if n := c.len(); n != 2 {
		t.Fatalf("len = %d, want 2", n)
	}
	if e := c.get(keyOf("same")); e == nil || e.authorization != "9" {
		t.Fatalf("the latest value of a replaced key was lost: %+v", e)
	}
	if len(c.queue) > 2 {
		t.Fatalf("queue holds %d items for 2 entries after eviction passes", len(c.queue))
	}
}

func TestCacheOfSizeZeroStoresNothing(t *testing.T) {
	c, clock := newTestCache(0)
	c.put(keyOf("a"), &entry{expires: clock.t.Add(time.Hour)})
	if c.len() != 0 {
		t.Fatal("a cache of size 0 stored an entry")
	}
}

func unsignedTestJWT(payload string) string {
	return "eyJhbGciOiJSUzI1NiJ9." + b64(payload) + ".c2ln"
}
