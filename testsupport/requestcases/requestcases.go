// Package requestcases runs a table of HTTP cases, kept as JSON under testdata/, against a
// middleware. The same table drives the compiled package in its own tests and the package
// interpreted by Yaegi, loaded the way Traefik loads it, in the traefik/ module's tests, so that
// both runtimes are held to exactly the same behaviour. It is used by tests only.
package requestcases

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// File is one table: shared variables, a base configuration and the cases.
type File struct {
	// Vars are substituted for {{NAME}} in every string of the cases and configurations.
	Vars map[string]string `json:"vars"`
	// BaseConfig is the role configuration every case starts from, as Traefik would deliver it.
	BaseConfig map[string]interface{} `json:"baseConfig"`
	Cases      []Case                 `json:"cases"`
}

// Case is one request and what must come of it.
type Case struct {
	Name string `json:"name"`
	// Source names the Curity test the case is ported from, or "contract" for our own.
	Source string `json:"source"`
	// Config is merged over BaseConfig; Unset removes base keys.
	Config map[string]interface{} `json:"config"`
	Unset  []string               `json:"unset"`
	// WantConfigError, when set, is a substring of the error New must return; no request is sent.
	WantConfigError string   `json:"wantConfigError"`
	Request         Request  `json:"request"`
	Status          int      `json:"status"`
	Upstream        Upstream `json:"upstream"`
	Response        Response `json:"response"`
	// Log is a substring of the log line the request must produce (checked where logs are captured).
	Log string `json:"log"`
}

// Request is the request a case sends.
type Request struct {
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	Headers map[string][]string `json:"headers"`
}

// Upstream is what the next handler must (not) receive.
type Upstream struct {
	Called  bool              `json:"called"`
	Headers map[string]string `json:"headers"`
	Absent  []string          `json:"absent"`
}

// Response is what the client must (not) receive.
type Response struct {
	Headers map[string]string `json:"headers"`
	Absent  []string          `json:"absent"`
	Body    string            `json:"body"`
}

// Load reads a table from path and substitutes its variables and the extra ones.
func Load(t testing.TB, path string, extraVars map[string]string) *File {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raw File
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	vars := map[string]string{}
	for k, v := range raw.Vars {
		vars[k] = v
	}
	for k, v := range extraVars {
		vars[k] = v
	}
	text := expand(string(data), vars)
	var f File
	if err := json.Unmarshal([]byte(text), &f); err != nil {
		t.Fatalf("%s after substitution: %v", path, err)
	}
	return &f
}

// expand replaces {{NAME}} by its variable and {{repeat N s}} by s repeated N times. Values are
// inserted into JSON strings, so they are escaped as such.
func expand(text string, vars map[string]string) string {
	var out strings.Builder
	for {
		start := strings.Index(text, "{{")
		if start < 0 {
			out.WriteString(text)
			return out.String()
		}
		end := strings.Index(text[start:], "}}")
		if end < 0 {
			out.WriteString(text)
			return out.String()
		}
		out.WriteString(text[:start])
		name := text[start+2 : start+end]
		text = text[start+end+2:]
		value, ok := vars[name]
		if fields := strings.Fields(name); len(fields) == 3 && fields[0] == "repeat" {
			n, _ := strconv.Atoi(fields[1])
			value, ok = strings.Repeat(fields[2], n), true
		}
		if !ok {
			out.WriteString("{{" + name + "}}")
			continue
		}
		quoted, _ := json.Marshal(value)
		out.Write(quoted[1 : len(quoted)-1])
	}
}

// ConfigFor returns the configuration of a case: the base, minus Unset, plus Config.
func (f *File) ConfigFor(c Case) map[string]interface{} {
	cfg := map[string]interface{}{}
	for k, v := range f.BaseConfig {
		cfg[k] = v
	}
	for _, k := range c.Unset {
		delete(cfg, k)
	}
	for k, v := range c.Config {
		cfg[k] = v
	}
	return cfg
}

// Builder builds the middleware under test from a raw configuration, as Traefik would.
type Builder func(config map[string]interface{}, next http.Handler) (http.Handler, error)

// LogCapture starts capturing log lines and returns a function that stops and returns them;
// nil where logs cannot be captured.
type LogCapture func() (stop func() string)

// Run runs every case of f as a subtest.
func Run(t *testing.T, f *File, build Builder, capture LogCapture) {
	for _, c := range f.Cases {
		c := c
		t.Run(c.Name, func(t *testing.T) { RunCase(t, f, c, build, capture) })
	}
}

// RunCase runs one case.
func RunCase(t *testing.T, f *File, c Case, build Builder, capture LogCapture) {
	t.Helper()
	upstream := &recorder{}
	var stop func() string
	if capture != nil {
		stop = capture()
	}
	h, err := build(f.ConfigFor(c), upstream)
	if c.WantConfigError != "" {
		if stop != nil {
			stop()
		}
		if err == nil {
			t.Fatalf("New succeeded, want an error containing %q", c.WantConfigError)
		}
		if !strings.Contains(err.Error(), c.WantConfigError) {
			t.Fatalf("New error = %q, want it to contain %q", err, c.WantConfigError)
		}
		return
	}
	if err != nil {
		if stop != nil {
			stop()
		}
		t.Fatalf("New: %v", err)
	}

	method := c.Request.Method
	if method == "" {
		method = http.MethodGet
	}
	path := c.Request.Path
	if path == "" {
		path = "/api/data"
	}
	req := httptest.NewRequest(method, "http://api.example.com"+path, nil)
	for name, values := range c.Request.Headers {
		for _, v := range values {
			req.Header.Add(name, v)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var logs string
	if stop != nil {
		logs = stop()
	}

	if rec.Code != c.Status {
		t.Errorf("status = %d, want %d (body %q)", rec.Code, c.Status, rec.Body.String())
	}
	if upstream.called() != c.Upstream.Called {
		t.Errorf("upstream called = %v, want %v", upstream.called(), c.Upstream.Called)
	}
	got := upstream.header()
	for name, want := range c.Upstream.Headers {
		if v := strings.Join(got.Values(name), ", "); v != want {
			t.Errorf("upstream %s = %q, want %q", name, v, want)
		}
	}
	for _, name := range c.Upstream.Absent {
		if v, ok := got[http.CanonicalHeaderKey(name)]; ok {
			t.Errorf("upstream received %s: %q", name, v)
		}
	}
	for name, want := range c.Response.Headers {
		if v := strings.Join(rec.Header().Values(name), ", "); v != want {
			t.Errorf("response %s = %q, want %q", name, v, want)
		}
	}
	for _, name := range c.Response.Absent {
		if v, ok := rec.Header()[http.CanonicalHeaderKey(name)]; ok {
			t.Errorf("response has %s: %q", name, v)
		}
	}
	if c.Response.Body != "" && strings.TrimSpace(rec.Body.String()) != c.Response.Body {
		t.Errorf("body = %q, want %q", rec.Body.String(), c.Response.Body)
	}
	if c.Response.Body != "" && rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", rec.Header().Get("Content-Type"))
	}
	if capture != nil && c.Log != "" && !strings.Contains(logs, c.Log) {
		t.Errorf("log = %q, want it to contain %q", logs, c.Log)
	}
	if capture != nil {
		CheckNoSecrets(t, logs, f.Vars)
	}
}

// secretMarkers mark the variables whose values must never appear in a log.
var secretMarkers = []string{"TOKEN", "COOKIE", "KEY", "CSRF", "SECRET", "JWT"}

// CheckNoSecrets fails when a log contains the value of any variable whose name marks it as a
// secret: tokens, cookies, keys and CSRF values.
func CheckNoSecrets(t testing.TB, logs string, vars map[string]string) {
	t.Helper()
	names := make([]string, 0, len(vars))
	for name := range vars {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		value := vars[name]
		if len(value) < 8 || !isSecretName(name) {
			continue
		}
		if strings.Contains(logs, value) {
			t.Errorf("the log contains the value of %s", name)
		}
	}
}

// recorder is the upstream: it records the request it receives and answers 200.
type recorder struct {
	mu  sync.Mutex
	hit bool
	hdr http.Header
}

func (u *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	u.mu.Lock()
	u.hit = true
	u.hdr = r.Header.Clone()
	u.mu.Unlock()
	w.Header().Set("X-Upstream", "reached")
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `{"upstream":"reached"}`)
}

func (u *recorder) called() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hit
}

func (u *recorder) header() http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.hdr == nil {
		return http.Header{}
	}
	return u.hdr
}

func isSecretName(name string) bool {
	for _, marker := range secretMarkers {
		if strings.Contains(name, marker) {
			return true
		}
	}
	return false
}
