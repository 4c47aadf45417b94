package phantomtoken

import (
	"sync"
	"time"
)

// slots bounds the introspection calls in flight for one introspection setup (contract §6.7):
// a flood of new tokens must not turn into a flood of calls that slows the authorization server
// for everyone. A call beyond the bound waits for a slot, at most wait, first come first served.
//
// The wait is a plain receive on the waiter's own channel, answered either by a release or by a
// timer, not a select: Yaegi v0.16.1 shares a select statement's case list between goroutines.
type slots struct {
	max  int
	wait time.Duration

	mu      sync.Mutex
	inUse   int
	waiters []*slotWaiter // oldest first
}

// slotWaiter is one call waiting for a slot; granted receives true for a slot, false when the
// wait is over. It is buffered, so that neither the releaser nor the timer ever blocks.
type slotWaiter struct {
	granted chan bool
}

func newSlots(max int, wait time.Duration) *slots {
	return &slots{max: max, wait: wait}
}

// acquire takes a slot, waiting for one at most s.wait, and reports whether it got one.
func (s *slots) acquire() bool {
	s.mu.Lock()
	if s.inUse < s.max {
		s.inUse++
		s.mu.Unlock()
		return true
	}
	w := &slotWaiter{granted: make(chan bool, 1)}
	s.waiters = append(s.waiters, w)
	s.mu.Unlock()
	timer := time.AfterFunc(s.wait, func() { s.giveUp(w) })
	granted := <-w.granted
	timer.Stop()
	return granted
}

// giveUp ends w's wait unless a release granted it a slot first. It runs on the timer's goroutine,
// where a panic would end Traefik, so it does nothing that could panic.
func (s *slots) giveUp(w *slotWaiter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, waiting := range s.waiters {
		if waiting == w {
			s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
			w.granted <- false
			return
		}
	}
}

// release hands the slot to the oldest waiter, or frees it.
func (s *slots) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.waiters) > 0 {
		w := s.waiters[0]
		s.waiters = s.waiters[1:]
		w.granted <- true
		return
	}
	s.inUse--
}
