package flight

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentCallersShareOneCall: 50 callers of one key while the call is in flight make one
// call and all get its result; a lookup that has the answer makes no call.
func TestConcurrentCallersShareOneCall(t *testing.T) {
	g := NewGroup()
	var calls, stored int32
	release := make(chan struct{})
	started := make(chan struct{})
	var wg sync.WaitGroup
	results := make([]interface{}, 50)
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// As a cache does: the call stores its answer where lookup finds it, so a caller
			// that comes after the call ended gets it without a call.
			lookup := func() (interface{}, bool) { return "answer", atomic.LoadInt32(&stored) == 1 }
			results[i] = g.Do("k", lookup, func() interface{} {
				if atomic.AddInt32(&calls, 1) == 1 {
					close(started)
				}
				<-release
				atomic.StoreInt32(&stored, 1)
				return "answer"
			}, "failed")
		}(i)
	}
	<-started
	close(release)
	wg.Wait()
	if calls != 1 {
		t.Fatalf("%d calls, want 1", calls)
	}
	for i, r := range results {
		if r != "answer" {
			t.Fatalf("caller %d got %v", i, r)
		}
	}

	if r := g.Do("k", func() (interface{}, bool) { return "cached", true }, func() interface{} { t.Fatal("called"); return nil }, "failed"); r != "cached" {
		t.Fatalf("with a lookup answer: %v", r)
	}

}
