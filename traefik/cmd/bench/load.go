package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tokenhandler/traefik-token-handler/internal/cookiecrypt"
	"github.com/tokenhandler/traefik-token-handler/testsupport/fakeas"
	"github.com/tokenhandler/traefik-token-handler/testsupport/hotpath"
	"github.com/tokenhandler/traefik-token-handler/traefik/stack"
)

// Load runs: wrk drives the real Traefik through routers that differ only in their middlewares,
// one after the other, in rounds, so that every router sees the same machine state.
const (
	loadConnections = 32
	loadThreads     = 2
)

// Set by flags in main.
var (
	loadDuration = 10 * time.Second
	loadRounds   = 3
)

type router struct {
	host, label string
	middlewares []string
}

var routers = []router{
	{"plain.localhost", "no middleware", nil},
	{"pass2.localhost", "two pass-through plugin middlewares (the mechanism's cost)", []string{"pass-a", "pass-b"}},
	{"bff.localhost", "bffToken", []string{"bff-token"}},
	{"stacked.localhost", "bffToken + phantomToken (warm cache)", []string{"bff-token", "phantom-token"}},
}

// loadResult is one wrk run's figures.
type loadResult struct {
	rps, p50, p99, cpuPerRequest float64 // requests/s, ms, ms, µs of Traefik CPU per request
	// objectsPerRequest and bytesPerRequest are Traefik's heap allocations per request over the
	// run (Go's own memory statistics, read from Traefik's Prometheus endpoint before and after);
	// zero when the run was not given the endpoint.
	objectsPerRequest, bytesPerRequest float64
	requests, non2xx                   int
}

// startUpstream serves the API's stand-in on a free loopback port: a small JSON answer, as the
// example API gives.
func startUpstream() (addr string, stop func(), err error) {
	upstream := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"message":"Success response from the Business API"}`))
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	go func() { _ = upstream.Serve(l) }()
	return l.Addr().String(), func() { upstream.Close() }, nil
}

// loadSetup is what the load runs and the runtime runs share: the upstream, the fake
// introspection server, the routers' dynamic configuration and a work directory.
type loadSetup struct {
	introspection *fakeas.Introspector
	cipher        *cookiecrypt.Cipher
	work, dynDir  string
	cleanups      []func()
}

func newLoadSetup(prefix string) (*loadSetup, error) {
	if _, err := exec.LookPath("wrk"); err != nil {
		return nil, fmt.Errorf("wrk is needed for the load runs (apt-get install wrk): %w", err)
	}
	s := &loadSetup{}
	upstreamAddr, stopUpstream, err := startUpstream()
	if err != nil {
		return nil, err
	}
	s.cleanups = append(s.cleanups, stopUpstream)
	tc := &testingCleanup{}
	s.cleanups = append(s.cleanups, tc.run)
	s.introspection = fakeas.NewIntrospector(tc)
	s.cipher, _ = cookiecrypt.NewCipher(hotpath.Key, nil)
	if s.work, err = os.MkdirTemp("", prefix); err != nil {
		s.close()
		return nil, err
	}
	work := s.work
	s.cleanups = append(s.cleanups, func() { os.RemoveAll(work) })
	dynFile, err := stack.WriteDynamic(s.work, benchDynamic("http://"+upstreamAddr, s.introspection.URL()))
	if err != nil {
		s.close()
		return nil, err
	}
	s.dynDir = filepath.Dir(dynFile)
	return s, nil
}

// cookieHeaders are the request headers of a browser with an access token cookie for token.
func (s *loadSetup) cookieHeaders(token string) []string {
	cookie, _ := s.cipher.Encrypt(token)
	return []string{"-H", "Origin: " + hotpath.Origin, "-H", "Cookie: example-at=" + cookie}
}

func (s *loadSetup) close() {
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i]()
	}
}

func loadRuns(root string, w *bytes.Buffer) error {
	setup, err := newLoadSetup("tokenhandler-bench-")
	if err != nil {
		return err
	}
	defer setup.close()
	introspection := setup.introspection
	traefik, err := startBenchTraefik(root, filepath.Join(setup.work, "traefik"), setup.dynDir, nil, false)
	if err != nil {
		return err
	}
	defer traefik.proc.Stop()
	headers := setup.cookieHeaders(hotpath.ActiveToken)

	results := map[string][]loadResult{}
	for round := 0; round < loadRounds; round++ {
		for _, r := range routers {
			log(fmt.Sprintf("load round %d/%d: %s", round+1, loadRounds, r.label))
			res, err := traefik.load(r.host, headers)
			if err != nil {
				return err
			}
			results[r.host] = append(results[r.host], res)
		}
	}

	// A cached entry that expires under load: a 2 s cache, 10 s of load with one token.
	log("load: a cache entry expiring under load")
	before := introspection.Calls("active-expiring-under-load")
	if _, err := traefik.load("expiring.localhost", setup.cookieHeaders("active-expiring-under-load")); err != nil {
		return err
	}
	expiryCalls := introspection.Calls("active-expiring-under-load") - before

	writeLoad(w, results, expiryCalls)
	return writeChart(filepath.Join(root, "docs", "benchmarks.svg"), results)
}

// benchTraefik is a Traefik of the load runs, with its Prometheus endpoint for Go's memory
// statistics.
type benchTraefik struct {
	proc          *stack.Process
	base, metrics string
}

// startBenchTraefik starts Traefik on free ports in work, with the file provider on dynDir, env
// added to its environment (GOGC, GOMEMLIMIT) and, with debug, api.debug on; it returns once
// every router of the load runs answers.
func startBenchTraefik(root, work, dynDir string, env []string, debug bool) (*benchTraefik, error) {
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	addrs := make([]string, 3)
	for i := range addrs {
		addr, err := stack.FreeAddr()
		if err != nil {
			return nil, err
		}
		addrs[i] = addr
	}
	o := stack.TraefikOptions{Root: root, WorkDir: work, Addr: addrs[0], DynamicDir: dynDir, LogLevel: "ERROR", Env: env,
		MetricsAddr: addrs[1], LocalPlugins: map[string]string{"passthrough": stack.ModulePath + "/traefik/passthrough"}}
	if debug {
		o.DebugAddr = addrs[2]
	}
	proc, err := stack.StartTraefik(o)
	if err != nil {
		return nil, err
	}
	t := &benchTraefik{proc: proc, base: "http://" + addrs[0], metrics: "http://" + addrs[1] + "/metrics"}
	for _, r := range append(routers, router{host: "expiring.localhost"}) {
		if err := stack.WaitHTTP(context.Background(), proc, t.base+"/api/data", r.host, time.Minute, stack.NotNotFound); err != nil {
			proc.Stop()
			return nil, err
		}
	}
	return t, nil
}

// load runs wrk against one router with headers and measures Traefik's CPU and allocations.
func (t *benchTraefik) load(host string, headers []string) (loadResult, error) {
	mallocs, allocBytes, err := memStats(t.metrics)
	if err != nil {
		return loadResult{}, err
	}
	res, _, err := wrkRun(t.base, host, loadConnections, headers, nil, t.proc.Pid())
	if err != nil {
		return res, err
	}
	mallocsAfter, allocBytesAfter, err := memStats(t.metrics)
	if err != nil {
		return res, err
	}
	if res.requests > 0 {
		res.objectsPerRequest = (mallocsAfter - mallocs) / float64(res.requests)
		res.bytesPerRequest = (allocBytesAfter - allocBytes) / float64(res.requests)
	}
	return res, nil
}

// peakRSS is the process's peak resident memory in MB (VmHWM), 0 if unknown.
func peakRSS(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if fields := strings.Fields(line); len(fields) >= 2 && fields[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(fields[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// memStats reads Go's cumulative heap allocation counters from a Prometheus endpoint: objects
// (go_memstats_mallocs_total) and bytes (go_memstats_alloc_bytes_total).
func memStats(url string) (mallocs, allocBytes float64, err error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, 0, fmt.Errorf("reading Traefik's metrics: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, err
	}
	found := 0
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) != 2 {
			continue
		}
		switch fields[0] {
		case "go_memstats_mallocs_total":
			mallocs, _ = strconv.ParseFloat(fields[1], 64)
			found++
		case "go_memstats_alloc_bytes_total":
			allocBytes, _ = strconv.ParseFloat(fields[1], 64)
			found++
		}
	}
	if found != 2 {
		return 0, 0, fmt.Errorf("the metrics of Traefik at %s lack go_memstats_mallocs_total or go_memstats_alloc_bytes_total", url)
	}
	return mallocs, allocBytes, nil
}

func benchDynamic(upstream, introspection string) string {
	var b strings.Builder
	b.WriteString("http:\n  routers:\n")
	all := append(routers, router{"expiring.localhost", "", []string{"bff-token", "phantom-token-2s"}})
	for i, r := range all {
		fmt.Fprintf(&b, "    r%d:\n      rule: Host(`%s`)\n      service: upstream\n", i, r.host)
		if len(r.middlewares) > 0 {
			fmt.Fprintf(&b, "      middlewares: [%s]\n", strings.Join(r.middlewares, ", "))
		}
	}
	fmt.Fprintf(&b, `  middlewares:
    pass-a:
      plugin:
        passthrough: {}
    pass-b:
      plugin:
        passthrough: {}
    bff-token:
      plugin:
        tokenhandler:
          bffToken:
            cookieNamePrefix: example
            encryptionKey: %s
            trustedWebOrigins: [%s]
    phantom-token:
      plugin:
        tokenhandler:
          phantomToken:
            introspectionEndpoint: %s
            clientId: %s
            clientSecret: %s
    phantom-token-2s:
      plugin:
        tokenhandler:
          phantomToken:
            introspectionEndpoint: %s
            clientId: %s
            clientSecret: %s
            tokenCacheSeconds: 2
  services:
    upstream:
      loadBalancer:
        servers:
          - url: %s
`, hotpath.Key, hotpath.Origin, introspection, fakeas.IntrospectionClientID, fakeas.IntrospectionClientSecret,
		introspection, fakeas.IntrospectionClientID, fakeas.IntrospectionClientSecret, upstream)
	return b.String()
}

var (
	wrkRPS     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkPercent = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	wrkNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	wrkTotal   = regexp.MustCompile(`(\d+) requests in`)
)

// wrkRun is runWrk with a number of connections, arguments before the URL (headers, a script)
// and arguments after it (the script's); it also returns wrk's output.
func wrkRun(base, host string, connections int, extra, scriptArgs []string, pid int) (loadResult, []byte, error) {
	args := []string{"-t", strconv.Itoa(loadThreads), "-c", strconv.Itoa(connections), "-d", loadDuration.String(), "--latency", "-H", "Host: " + host}
	args = append(args, extra...)
	args = append(args, base+"/api/data")
	if len(scriptArgs) > 0 {
		args = append(append(args, "--"), scriptArgs...)
	}
	cpuBefore := cpuSeconds(pid)
	out, err := exec.Command("wrk", args...).CombinedOutput()
	cpuAfter := cpuSeconds(pid)
	if err != nil {
		return loadResult{}, out, fmt.Errorf("wrk: %w\n%s", err, out)
	}
	var res loadResult
	if m := wrkRPS.FindSubmatch(out); m != nil {
		res.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	for _, m := range wrkPercent.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(m[2]), 64)
		switch string(m[3]) {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		if string(m[1]) == "50" {
			res.p50 = v
		} else {
			res.p99 = v
		}
	}
	if m := wrkNon2xx.FindSubmatch(out); m != nil {
		res.non2xx, _ = strconv.Atoi(string(m[1]))
	}
	if m := wrkTotal.FindSubmatch(out); m != nil {
		res.requests, _ = strconv.Atoi(string(m[1]))
	}
	if res.requests > 0 {
		res.cpuPerRequest = (cpuAfter - cpuBefore) / float64(res.requests) * 1e6
	} else if res.rps > 0 {
		res.cpuPerRequest = (cpuAfter - cpuBefore) / (res.rps * loadDuration.Seconds()) * 1e6
	}
	return res, out, nil
}

// cpuSeconds is a process's user+system CPU time, from /proc/<pid>/stat.
func cpuSeconds(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // clock ticks (USER_HZ is 100 on Linux)
}

func medianOf(list []loadResult, f func(loadResult) float64) float64 {
	values := make([]float64, len(list))
	for i, r := range list {
		values[i] = f(r)
	}
	sort.Float64s(values)
	return values[len(values)/2]
}

func writeLoad(w *bytes.Buffer, results map[string][]loadResult, expiryCalls int) {
	fmt.Fprintf(w, "\n## Load through the real Traefik\n\n")
	fmt.Fprintf(w, "`wrk -t%d -c%d -d%s` against Traefik v3.6.12 (the binary `make bench` builds), with an upstream that\nanswers a small JSON body and a fake introspection server, all on this machine. Routers differ only\nin their middlewares; they are loaded one after the other, in %d interleaved rounds, and the median\nof the rounds is reported. CPU is Traefik's own (user + system, from /proc) divided by the requests\nserved; objects and bytes are Traefik's heap allocations per request, from Go's memory statistics\n(Traefik's Prometheus endpoint, with every per-request label off) read before and after each run.\nwrk, the upstream and Traefik share the machine's cores. The spread is (highest - lowest) /\nmedian of the rounds' throughput: compare routers within one run, and read a difference smaller\nthan the spread as noise.\n\n", loadThreads, loadConnections, loadDuration, loadRounds)
	fmt.Fprintf(w, "| router | requests/s | spread | vs no middleware | vs two pass-through | p50 ms | p99 ms | Traefik CPU µs/request | objects/request | bytes/request | non-2xx |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	rps := func(host string) float64 { return medianOf(results[host], func(r loadResult) float64 { return r.rps }) }
	plain, pass2 := rps("plain.localhost"), rps("pass2.localhost")
	for _, r := range routers {
		list := results[r.host]
		non2xx := 0
		for _, x := range list {
			non2xx += x.non2xx
		}
		fmt.Fprintf(w, "| %s | %.0f | %s | %.2f | %.2f | %.2f | %.2f | %.0f | %.0f | %.0f | %d |\n", r.label, rps(r.host), spread(list), rps(r.host)/plain, rps(r.host)/pass2,
			medianOf(list, func(x loadResult) float64 { return x.p50 }), medianOf(list, func(x loadResult) float64 { return x.p99 }),
			medianOf(list, func(x loadResult) float64 { return x.cpuPerRequest }),
			medianOf(list, func(x loadResult) float64 { return x.objectsPerRequest }),
			medianOf(list, func(x loadResult) float64 { return x.bytesPerRequest }), non2xx)
	}
	stacked := results["stacked.localhost"]
	pass := results["pass2.localhost"]
	addedCPU := medianOf(stacked, func(x loadResult) float64 { return x.cpuPerRequest }) - medianOf(pass, func(x loadResult) float64 { return x.cpuPerRequest })
	addedObjects := medianOf(stacked, func(x loadResult) float64 { return x.objectsPerRequest }) - medianOf(pass, func(x loadResult) float64 { return x.objectsPerRequest })
	loadTargets = []string{
		fmt.Sprintf("Traefik CPU per request of bffToken + phantomToken over two pass-through plugins: **%+.0f µs** (target at most +30 µs: %s)", addedCPU, atMost(addedCPU, 30, "µs")),
		fmt.Sprintf("their throughput against two pass-through plugins': **%.2f** (target at least 0.80: %s)", rps("stacked.localhost")/pass2, atLeast(rps("stacked.localhost")/pass2, 0.80)),
		fmt.Sprintf("objects per request above two pass-through plugins: **%+.0f** (target at most 60: %s)", addedObjects, atMost(addedObjects, 60, "objects")),
	}
	fmt.Fprintf(w, "\nTargets, this run:\n\n")
	for _, t := range loadTargets {
		fmt.Fprintf(w, "- %s\n", t)
	}
	fmt.Fprintf(w, "\nA cached entry expiring under load: with `tokenCacheSeconds: 2`, %s of load on one token made\n**%d** introspection calls: one per expiry (at most %.0f: the first request and one per 2 s period),\nnever one per waiting request.\n",
		loadDuration, expiryCalls, math.Ceil(loadDuration.Seconds()/2)+1)
}

// loadTargets are the load runs' target lines, repeated in the summary at the top.
var loadTargets []string

// spread is (highest - lowest) / median of the runs' throughput, as a percentage.
func spread(list []loadResult) string {
	if len(list) < 2 {
		return "n/a"
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range list {
		lo, hi = math.Min(lo, r.rps), math.Max(hi, r.rps)
	}
	return fmt.Sprintf("%.0f%%", (hi-lo)/medianOf(list, func(r loadResult) float64 { return r.rps })*100)
}

func atMost(v, target float64, unit string) string {
	if v <= target {
		return "met"
	}
	return fmt.Sprintf("missed by %.0f %s", v-target, unit)
}

func atLeast(v, target float64) string {
	if v >= target {
		return "met"
	}
	return fmt.Sprintf("missed by %.2f", target-v)
}

// testingCleanup lets the test fakes run outside a test: it collects their cleanups.
type testingCleanup struct{ fns []func() }

func (c *testingCleanup) Cleanup(f func()) { c.fns = append(c.fns, f) }
func (c *testingCleanup) run() {
	for i := len(c.fns) - 1; i >= 0; i-- {
		c.fns[i]()
	}
}
