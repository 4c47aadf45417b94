package phantomtoken

import (
	"sync"
	"testing"
	"time"
)

// TestSlotsBoundTheCallsInFlight holds the only slot with a call that does not end: a second
// miss waits for the slot and answers unavailable when the wait is over, without a call; once
// the first call ends, a miss gets the slot again.
func TestSlotsBoundTheCallsInFlight(t *testing.T) {
	c := newCache(10)
	c.slots = newSlots(1, 50*time.Millisecond)
	release := make(chan struct{})
	started := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.resolve(keyOf("first"), hashedKey("first"), func() result {
			close(started)
			<-release
			return result{outcome: inactive}
		})
	}()
	<-started
	calls := 0
	second := c.resolve(keyOf("second"), hashedKey("second"), func() result { calls++; return result{outcome: inactive} })
	if second.outcome != unavailable || calls != 0 {
		t.Fatalf("a miss beyond the bound: outcome %v after %d calls, want unavailable without a call", second.outcome, calls)
	}
	close(release)
	wg.Wait()
	third := c.resolve(keyOf("third"), hashedKey("third"), func() result { calls++; return result{outcome: inactive} })
	if third.outcome != inactive || calls != 1 {
		t.Fatalf("after the slot was freed: outcome %v after %d calls, want inactive after 1", third.outcome, calls)
	}
}

// TestSlotsHandTheSlotToTheOldestWaiter frees a slot while a miss waits for it: the waiter gets
// it and makes its call.
func TestSlotsHandTheSlotToTheOldestWaiter(t *testing.T) {
	s := newSlots(1, 5*time.Second)
	if !s.acquire() {
		t.Fatal("the first acquire waited")
	}
	got := make(chan bool)
	go func() { got <- s.acquire() }()
	for {
		s.mu.Lock()
		waiting := len(s.waiters)
		s.mu.Unlock()
		if waiting == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	s.release()
	if !<-got {
		t.Fatal("the waiter did not get the freed slot")
	}
	s.release()
	if s.inUse != 0 || len(s.waiters) != 0 {
		t.Fatalf("in use %d, waiting %d after both released", s.inUse, len(s.waiters))
	}
}
