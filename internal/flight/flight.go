// Package flight makes concurrent callers that ask for the same thing share one call, in the
// manner of go-oidc's remote key set: the first caller makes the call, the others wait for its
// result. phantomToken's introspection and the agent's refresh both use it.
//
// Waiting callers block on a plain receive, not a select: Yaegi v0.16.1 shares a select
// statement's case list between the goroutines that run it, so that under concurrency one caller
// could wake on another's channel. The wait is bounded by the call's own timeout.
package flight

import "sync"

// Group is a set of calls in flight, by key. Hold it by pointer (NewGroup): under Yaegi v0.16.1,
// calling a method of a struct-valued field of another package copies the struct, and with it
// the mutex (seen by the race detector).
type Group struct {
	mu    sync.Mutex
	calls map[string]*call
}

// NewGroup returns an empty group.
func NewGroup() *Group { return &Group{calls: make(map[string]*call)} }

type call struct {
	done   chan struct{}
	result interface{}
}

// Do returns lookup's result when it has one, else the result of the call in flight for key,
// else that of calling fn, which the callers that come meanwhile share. lookup runs under the
// group's lock, so a result that fn stores where lookup finds it (a cache) is seen by every caller
// that comes after fn returns: no second call starts in between. failed is the result the
// waiting callers get if fn panics (the panic goes on in the caller that ran fn).
func (g *Group) Do(key string, lookup func() (interface{}, bool), fn func() interface{}, failed interface{}) interface{} {
	g.mu.Lock()
	if lookup != nil {
		if result, ok := lookup(); ok {
			g.mu.Unlock()
			return result
		}
	}
	if c, ok := g.calls[key]; ok {
		g.mu.Unlock()
		<-c.done
		return c.result
	}
	c := &call{done: make(chan struct{}), result: failed}
	g.calls[key] = c
	g.mu.Unlock()

	// Deferred, so that waiting callers are released even if fn panics.
	defer func() {
		g.mu.Lock()
		delete(g.calls, key)
		g.mu.Unlock()
		close(c.done)
	}()
	c.result = fn()
	return c.result
}
