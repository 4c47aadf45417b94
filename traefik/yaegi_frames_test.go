package traefik_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"
)

// frameCases are ServeHTTP bodies that differ from the first, a plain pass-through, by one
// construct each. Yaegi v0.16.1 allocates, on every call from compiled code into an interpreted
// function (genFunctionWrapper in interp/run.go), one reflect.New per slot of the function's
// frame (def.types), and cfg.go gives a slot to nearly every node that yields a value: locals,
// temporaries, constants, conversions, results of calls, whichever branch they are in. So the
// objects a request allocates measure a ServeHTTP's frame; these cases show which constructs
// cost what, and TestYaegiFrameRules holds the rules the hot paths are written by.
var frameCases = []struct{ name, body string }{
	{"pass-through", `m.next.ServeHTTP(w, r)`},
	{"a local variable", `h := r.Header; _ = h; m.next.ServeHTTP(w, r)`},
	{"a header map read", `v := r.Header["Cookie"]; _ = v; m.next.ServeHTTP(w, r)`},
	{"a string literal compared", `if r.Method == "GET" { m.next.ServeHTTP(w, r) }`},
	{"another package's constant compared", `if r.Method == http.MethodGet { m.next.ServeHTTP(w, r) }`},
	{"a negation", `if !m.flag { m.next.ServeHTTP(w, r) }`},
	{"a comparison with false", `if m.flag == false { m.next.ServeHTTP(w, r) }`},
	{"three statements in a branch that does not run", `if m.flag { a := strings.Repeat("x", 3); b := a + "y"; _ = b + "z"; return }; m.next.ServeHTTP(w, r)`},
	{"the same statements in a helper called in that branch", `if m.flag { slow(w, r); return }; m.next.ServeHTTP(w, r)`},
	{"a call to an empty interpreted function", `nothing(w, r); m.next.ServeHTTP(w, r)`},
	{"a two-result standard library call", `c, err := r.Cookie("a"); _ = c; _ = err; m.next.ServeHTTP(w, r)`},
	{"a read-locked map lookup", `m.mu.RLock(); a := m.values["k"]; m.mu.RUnlock(); _ = a; m.next.ServeHTTP(w, r)`},
	{"a deferred closure", `defer func() {}(); m.next.ServeHTTP(w, r)`},
}

// frameSource is the interpreted package: one type per case, and New returning them as handlers.
func frameSource() string {
	var b strings.Builder
	b.WriteString("package frames\n\nimport (\n\t\"net/http\"\n\t\"strings\"\n\t\"sync\"\n)\n\n")
	b.WriteString("type base struct {\n\tnext   http.Handler\n\tflag   bool\n\tmu     sync.RWMutex\n\tvalues map[string]string\n}\n\n")
	b.WriteString("func slow(w http.ResponseWriter, r *http.Request) { a := strings.Repeat(\"x\", 3); b := a + \"y\"; _ = b + \"z\" }\n\n")
	b.WriteString("func nothing(w http.ResponseWriter, r *http.Request) {}\n\n")
	for i, c := range frameCases {
		b.WriteString("type case" + string(rune('a'+i)) + " base\n\n")
		b.WriteString("func (m *case" + string(rune('a'+i)) + ") ServeHTTP(w http.ResponseWriter, r *http.Request) { " + c.body + " }\n\n")
	}
	b.WriteString("func New(next http.Handler) []http.Handler {\n\treturn []http.Handler{\n")
	for i := range frameCases {
		b.WriteString("\t\t&case" + string(rune('a'+i)) + "{next: next, values: map[string]string{\"k\": \"v\"}},\n")
	}
	b.WriteString("\t}\n}\n")
	return b.String()
}

// frameObjects returns the objects per request of each case above the pass-through's.
func frameObjects(t *testing.T) []float64 {
	t.Helper()
	i := interp.New(interp.Options{})
	if err := i.Use(stdlib.Symbols); err != nil {
		t.Fatal(err)
	}
	if _, err := i.Eval(frameSource()); err != nil {
		t.Fatal(err)
	}
	v, err := i.Eval("frames.New")
	if err != nil {
		t.Fatal(err)
	}
	handlers := v.Interface().(func(http.Handler) []http.Handler)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	w := httptest.NewRecorder()
	r := &http.Request{Method: http.MethodGet, Header: http.Header{"Cookie": {"a=1"}}}
	extra := make([]float64, len(handlers))
	for n, h := range handlers {
		extra[n] = testing.AllocsPerRun(200, func() { h.ServeHTTP(w, r) })
	}
	floor := extra[0]
	for n := range extra {
		extra[n] -= floor
	}
	return extra
}

// TestYaegiFrameRules measures what each construct of frameCases adds to an interpreted
// ServeHTTP's objects per request (docs/contributing.md's Yaegi rules quote the figures; run with -v)
// and holds the rules the hot paths follow: code in a branch that does not run still costs its
// slots, and moving it into a helper leaves one slot; a call costs the callee's frame; a
// constant of another package costs more than a literal; a negation is cheaper than a comparison
// with false; a defer is dear.
func TestYaegiFrameRules(t *testing.T) {
	extra := frameObjects(t)
	cost := map[string]float64{}
	for n, c := range frameCases {
		cost[c.name] = extra[n]
		t.Logf("%-55s %+3.0f objects per request", c.name, extra[n])
	}
	rules := []struct {
		rule  string
		holds bool
	}{
		{"code in a branch that does not run costs its slots", cost["three statements in a branch that does not run"] >= 6},
		{"the same code in a helper costs that branch one or two slots",
			cost["the same statements in a helper called in that branch"] <= 2 &&
				cost["the same statements in a helper called in that branch"] < cost["three statements in a branch that does not run"]},
		{"a call that runs costs the callee's frame", cost["a call to an empty interpreted function"] >= 3},
		{"another package's constant costs more than a literal", cost["another package's constant compared"] > cost["a string literal compared"]},
		{"a negation costs less than a comparison with false", cost["a negation"] < cost["a comparison with false"]},
		{"a deferred call costs several calls' worth (why the hot paths recover nothing)", cost["a deferred closure"] >= 8},
	}
	for _, r := range rules {
		if !r.holds {
			t.Errorf("no longer true under this Yaegi: %s (figures above); the hot paths' layout relies on it", r.rule)
		}
	}
}
