package main

import (
	"bytes"
	"context"
	"fmt"
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

// loadResult is one router's figures: medians over the rounds.
type loadResult struct {
	rps, p50, p99, cpuPerRequest float64 // requests/s, ms, ms, µs of Traefik CPU per request
	non2xx                       int
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

func loadRuns(root string, w *bytes.Buffer) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return fmt.Errorf("wrk is needed for the load runs (apt-get install wrk): %w", err)
	}
	upstreamAddr, stopUpstream, err := startUpstream()
	if err != nil {
		return err
	}
	defer stopUpstream()

	tc := &testingCleanup{}
	defer tc.run()
	introspection := fakeas.NewIntrospector(tc)
	cipher, _ := cookiecrypt.NewCipher(hotpath.Key, nil)
	cookie, _ := cipher.Encrypt(hotpath.ActiveToken)
	expiringCookie, _ := cipher.Encrypt("active-expiring-under-load")

	work, err := os.MkdirTemp("", "tokenhandler-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	dynFile, err := stack.WriteDynamic(work, benchDynamic("http://"+upstreamAddr, introspection.URL()))
	if err != nil {
		return err
	}
	dynDir := filepath.Dir(dynFile)
	addr, err := stack.FreeAddr()
	if err != nil {
		return err
	}
	traefik, err := stack.StartTraefik(stack.TraefikOptions{Root: root, WorkDir: work, Addr: addr, DynamicDir: dynDir, LogLevel: "ERROR",
		LocalPlugins: map[string]string{"passthrough": stack.ModulePath + "/traefik/passthrough"}})
	if err != nil {
		return err
	}
	defer traefik.Stop()
	base := "http://" + addr
	for _, r := range routers {
		if err := stack.WaitHTTP(context.Background(), traefik, base+"/api/data", r.host, time.Minute, stack.NotNotFound); err != nil {
			return err
		}
	}
	headers := []string{"-H", "Origin: " + hotpath.Origin, "-H", "Cookie: example-at=" + cookie}

	results := map[string][]loadResult{}
	for round := 0; round < loadRounds; round++ {
		for _, r := range routers {
			log(fmt.Sprintf("load round %d/%d: %s", round+1, loadRounds, r.label))
			res, err := runWrk(base, r.host, headers, traefik.Pid())
			if err != nil {
				return err
			}
			results[r.host] = append(results[r.host], res)
		}
	}

	// A cached entry that expires under load: a 2 s cache, 10 s of load with one token.
	log("load: a cache entry expiring under load")
	before := introspection.Calls("active-expiring-under-load")
	if _, err := runWrk(base, "expiring.localhost", []string{"-H", "Origin: " + hotpath.Origin, "-H", "Cookie: example-at=" + expiringCookie}, traefik.Pid()); err != nil {
		return err
	}
	expiryCalls := introspection.Calls("active-expiring-under-load") - before

	writeLoad(w, results, expiryCalls)
	return writeChart(filepath.Join(root, "docs", "benchmarks.svg"), results)
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
)

// runWrk loads one router and measures Traefik's CPU time over the run.
func runWrk(base, host string, headers []string, pid int) (loadResult, error) {
	res, _, err := wrkRun(base, host, loadConnections, headers, nil, pid)
	return res, err
}

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
	if res.rps > 0 {
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
	fmt.Fprintf(w, "`wrk -t%d -c%d -d%s` against Traefik v3.6.12 (the binary `make bench` builds), with an upstream that\nanswers a small JSON body and a fake introspection server, all on this machine. Routers differ only\nin their middlewares; they are loaded one after the other, in %d round(s), and the median is\nreported. CPU is Traefik's own (user + system, from /proc) divided by the requests served. wrk,\nthe upstream and Traefik share the machine's cores, and on a two-core VM repeated runs differ by up\nto 0.1 in the ratios below: compare routers within one run.\n\n", loadThreads, loadConnections, loadDuration, loadRounds)
	fmt.Fprintf(w, "| router | requests/s | vs no middleware | vs two pass-through | p50 ms | p99 ms | added p99 ms | Traefik CPU µs/request | non-2xx |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	plain := medianOf(results["plain.localhost"], func(r loadResult) float64 { return r.rps })
	pass2 := medianOf(results["pass2.localhost"], func(r loadResult) float64 { return r.rps })
	plainP99 := medianOf(results["plain.localhost"], func(r loadResult) float64 { return r.p99 })
	for _, r := range routers {
		list := results[r.host]
		rps := medianOf(list, func(x loadResult) float64 { return x.rps })
		p99 := medianOf(list, func(x loadResult) float64 { return x.p99 })
		non2xx := 0
		for _, x := range list {
			non2xx += x.non2xx
		}
		fmt.Fprintf(w, "| %s | %.0f | %.2f | %.2f | %.2f | %.2f | %+.2f | %.0f | %d |\n", r.label, rps, rps/plain, rps/pass2,
			medianOf(list, func(x loadResult) float64 { return x.p50 }), p99, p99-plainP99,
			medianOf(list, func(x loadResult) float64 { return x.cpuPerRequest }), non2xx)
	}
	stacked := medianOf(results["stacked.localhost"], func(r loadResult) float64 { return r.rps })
	stackedP99 := medianOf(results["stacked.localhost"], func(r loadResult) float64 { return r.p99 })
	fmt.Fprintf(w, "\nTargets for bffToken + phantomToken, this run: %s of the two-pass-through router's throughput\n(target at least 0.90), %s of the no-middleware router's (target at least 0.70), %+.2f ms\nadded p99 latency (target at most 1 ms).\n",
		verdict(stacked/pass2, 0.90), verdict(stacked/plain, 0.70), stackedP99-plainP99)
	fmt.Fprintf(w, "\nA cached entry expiring under load: with `tokenCacheSeconds: 2`, %s of load on one token made\n**%d** introspection calls: one per expiry (at most %.0f: the first request and one per 2 s period),\nnever one per waiting request.\n",
		loadDuration, expiryCalls, math.Ceil(loadDuration.Seconds()/2)+1)
}

func verdict(v, target float64) string {
	if v >= target {
		return fmt.Sprintf("**%.2f** (met)", v)
	}
	return fmt.Sprintf("**%.2f** (missed by %.2f)", v, target-v)
}

// testingCleanup lets the test fakes run outside a test: it collects their cleanups.
type testingCleanup struct{ fns []func() }

func (c *testingCleanup) Cleanup(f func()) { c.fns = append(c.fns, f) }
func (c *testingCleanup) run() {
	for i := len(c.fns) - 1; i >= 0; i-- {
		c.fns[i]()
	}
}
