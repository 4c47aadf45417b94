// Package soak runs many signed-in sessions against the real Traefik for a while at a fixed
// rate and measures what comes back: statuses, latency, Traefik's memory over time, and the
// introspection calls per token. The soak test asserts on it; make bench reports it.
package soak

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tokenhandler/traefik-token-handler/testsupport/fakeas"
	"github.com/tokenhandler/traefik-token-handler/traefik/stack"
)

// cookieKey is the demo's documented development key.
const cookieKey = "4e4636356d65563e4c73233847503e3b21436e6f7629724950526f4b5e2e4e50"

// Options shape a run.
type Options struct {
	Root         string
	Sessions     int           // signed-in browsers
	Rate         int           // API requests per second, all sessions together
	Duration     time.Duration // of the load
	CacheSeconds int           // phantomToken's tokenCacheSeconds
}

// Result is what a run measured.
type Result struct {
	Options
	Requests       int
	Statuses       map[int]int
	TransportErrs  int
	P50, P99       time.Duration
	AchievedRate   float64
	RSSMB          []float64 // Traefik's resident memory, one sample every 5 s
	Introspections int
	PerTokenMin    int
	PerTokenMax    int
	Tokens         int
}

// Periods is how many cache periods the load spans: at most this many introspections per token
// (one more when a period boundary falls inside the run).
func (r Result) Periods() int {
	return int(math.Ceil(r.Duration.Seconds() / float64(r.CacheSeconds)))
}

// Cleaner collects cleanups (a *testing.T does).
type Cleaner interface{ Cleanup(func()) }

// Run signs the sessions in through the agent and loads the API router.
func Run(ctx context.Context, o Options, c Cleaner) (Result, error) {
	res := Result{Options: o, Statuses: map[int]int{}}
	const redirect = "http://www.example.localhost/"
	p := fakeas.NewProvider(c, fakeas.ProviderOptions{RedirectURI: redirect})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ey") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"message":"Success response from the Business API"}`))
	}))
	c.Cleanup(upstream.Close)

	work, err := os.MkdirTemp("", "tokenhandler-soak-")
	if err != nil {
		return res, err
	}
	c.Cleanup(func() { os.RemoveAll(work) })
	dynFile, err := stack.WriteDynamic(work, stack.Chain{
		Issuer: p.Issuer(), IntrospectionURL: p.IntrospectionURL(), ClientID: fakeas.IntrospectionClientID,
		ClientSecret: fakeas.IntrospectionClientSecret, Upstream: upstream.URL, RedirectURI: redirect,
		Origin: "http://www.example.localhost", Key: cookieKey, CacheSeconds: o.CacheSeconds,
	}.YAML())
	if err != nil {
		return res, err
	}
	dynDir := filepath.Dir(dynFile)
	addr, err := stack.FreeAddr()
	if err != nil {
		return res, err
	}
	traefik, err := stack.StartTraefik(stack.TraefikOptions{Root: o.Root, WorkDir: work, Addr: addr, DynamicDir: dynDir, LogLevel: "ERROR"})
	if err != nil {
		return res, err
	}
	c.Cleanup(traefik.Stop)
	base := "http://" + addr
	if err := stack.WaitHTTP(ctx, traefik, base+"/oauth-agent/claims", "api.example.localhost", time.Minute, stack.NotNotFound); err != nil {
		return res, err
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	cookies, err := signIn(ctx, client, base, p, o.Sessions)
	if err != nil {
		return res, err
	}

	// Load at a fixed rate: a ticker hands out requests, workers send them.
	type sample struct {
		status  int
		latency time.Duration
	}
	work2 := make(chan int, o.Rate)
	samples := make(chan sample, o.Rate*int(o.Duration.Seconds()+1))
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work2 {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/data", nil)
				req.Host = "api.example.localhost"
				req.Header.Set("Origin", "http://www.example.localhost")
				req.Header.Set("Cookie", cookies[i%len(cookies)])
				started := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					samples <- sample{status: 0, latency: time.Since(started)}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				samples <- sample{status: resp.StatusCode, latency: time.Since(started)}
			}
		}()
	}
	rssDone := make(chan struct{})
	go func() {
		defer close(rssDone)
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		end := time.Now().Add(o.Duration)
		for time.Now().Before(end) {
			res.RSSMB = append(res.RSSMB, rssMB(traefik.Pid()))
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
		}
		res.RSSMB = append(res.RSSMB, rssMB(traefik.Pid()))
	}()
	started := time.Now()
	interval := time.Second / time.Duration(o.Rate)
	next := started
	for i := 0; time.Since(started) < o.Duration; i++ {
		work2 <- i
		next = next.Add(interval)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
	}
	close(work2)
	wg.Wait()
	elapsed := time.Since(started)
	<-rssDone
	close(samples)

	var latencies []time.Duration
	for s := range samples {
		res.Requests++
		if s.status == 0 {
			res.TransportErrs++
		} else {
			res.Statuses[s.status]++
		}
		latencies = append(latencies, s.latency)
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	if n := len(latencies); n > 0 {
		res.P50, res.P99 = latencies[n/2], latencies[n*99/100]
	}
	res.AchievedRate = float64(res.Requests) / elapsed.Seconds()
	res.PerTokenMin = math.MaxInt32
	for _, n := range p.IntrospectionsPerToken() {
		res.Tokens++
		res.Introspections += n
		if n < res.PerTokenMin {
			res.PerTokenMin = n
		}
		if n > res.PerTokenMax {
			res.PerTokenMax = n
		}
	}
	return res, nil
}

// signIn logs n browsers in through the agent and returns each one's Cookie header for the API.
func signIn(ctx context.Context, client *http.Client, base string, p *fakeas.Provider, n int) ([]string, error) {
	cookies := make([]string, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := signInOne(ctx, client, base, p)
			if err != nil {
				errs <- err
				return
			}
			cookies[i] = c
		}(i)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, fmt.Errorf("signing in: %w", err)
	}
	return cookies, nil
}

func signInOne(ctx context.Context, client *http.Client, base string, p *fakeas.Provider) (string, error) {
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(base)
	post := func(path, body string) (*http.Response, []byte, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+path, strings.NewReader(body))
		req.Host = "api.example.localhost"
		req.Header.Set("Origin", "http://www.example.localhost")
		req.Header.Set("Content-Type", "application/json")
		for _, c := range jar.Cookies(u) {
			req.AddCookie(c)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		jar.SetCookies(u, resp.Cookies())
		return resp, data, nil
	}
	resp, body, err := post("/oauth-agent/login/start", "")
	if err != nil {
		return "", fmt.Errorf("/login/start: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("/login/start: %s %s", resp.Status, body)
	}
	start := strings.Index(string(body), `"authorizationRequestUrl":"`)
	if start < 0 {
		return "", fmt.Errorf("/login/start answered %s", body)
	}
	authURL := strings.SplitN(string(body)[start+len(`"authorizationRequestUrl":"`):], `"`, 2)[0]
	authURL = strings.ReplaceAll(authURL, `\u0026`, "&")
	callback, err := p.Authorize(authURL)
	if err != nil {
		return "", err
	}
	resp, body, err = post("/oauth-agent/login/end", `{"pageUrl":"`+callback+`"}`)
	if err != nil {
		return "", fmt.Errorf("/login/end: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("/login/end: %s %s", resp.Status, body)
	}
	for _, c := range jar.Cookies(u) {
		if c.Name == "example-at" {
			return "example-at=" + c.Value, nil
		}
	}
	return "", fmt.Errorf("no example-at cookie after the login")
}

func rssMB(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			fields := strings.Fields(line)
			kb, _ := strconv.ParseFloat(fields[1], 64)
			return kb / 1024
		}
	}
	return 0
}
