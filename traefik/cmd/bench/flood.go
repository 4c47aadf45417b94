package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tokenhandler/traefik-token-handler/testsupport/fakeas"
	"github.com/tokenhandler/traefik-token-handler/traefik/stack"
)

// The flood: wrk sends random bearer tokens through a router with phantomToken only, set up the
// old way (no negative cache, no bound on the calls in flight) and the new way (the defaults).
const (
	// floodConnections is more than the default maxConcurrentIntrospections (64), so that the
	// bound can show.
	floodConnections = 256
	// floodIntrospectionDelay stands for a real authorization server's time to answer: the fake
	// answers every call after it.
	floodIntrospectionDelay = 20 * time.Millisecond
	// floodPool is the number of tokens of the pool workload.
	floodPool = 1000
	// defaultMaxConcurrentIntrospections is phantomToken's default, for the text.
	defaultMaxConcurrentIntrospections = 64
)

type floodConfig struct {
	name, label, settings string // settings: extra phantomToken keys, YAML lines
}

var floodConfigs = []floodConfig{
	{"before", "before: `inactiveCacheSeconds: 0`, `maxConcurrentIntrospections: 10000` (the old behaviour)",
		"            inactiveCacheSeconds: 0\n            maxConcurrentIntrospections: 10000\n"},
	{"after", "after: the defaults (`inactiveCacheSeconds: 10`, `maxConcurrentIntrospections: 64`)", ""},
}

var floodWorkloads = []struct{ name, label string }{
	{"fresh", "a new random token per request"},
	{"pool", fmt.Sprintf("random tokens from a pool of %d", floodPool)},
}

type floodResult struct {
	workload, config string
	wrk              loadResult
	requests         int
	statuses         map[int]int
	socketErrors     string
	calls, maxFlight int
}

var (
	wrkRequests     = regexp.MustCompile(`(\d+) requests in`)
	wrkSocketErrors = regexp.MustCompile(`Socket errors: (.*)`)
	floodStatus     = regexp.MustCompile(`(?m)^flood-status (\d+) (\d+)$`)
)

// floodScript is wrk's Lua script: %[1]s is the workload (fresh or pool), %[2]d the pool's size,
// %[3]d a seed. Each thread counts the answers by status; done prints the sums.
const floodScript = `local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

local function hex32()
  return string.format("%%08x%%08x%%08x%%08x", math.random(0, 2147483647), math.random(0, 2147483647),
    math.random(0, 2147483647), math.random(0, 2147483647))
end

function init(args)
  mode = "%[1]s"
  pool = {}
  if mode == "pool" then
    math.randomseed(%[3]d) -- the same pool in every thread
    for i = 1, %[2]d do pool[i] = hex32() end
  end
  math.randomseed(%[3]d + id * 7919)
  seq = 0
  s401, s503, sother = 0, 0, 0
end

function request()
  local token
  if mode == "pool" then
    token = pool[math.random(#pool)]
  else
    seq = seq + 1
    token = hex32() .. "-" .. id .. "-" .. seq
  end
  wrk.headers["Authorization"] = "Bearer " .. token
  return wrk.format()
end

function response(status, headers, body)
  if status == 401 then s401 = s401 + 1
  elseif status == 503 then s503 = s503 + 1
  else sother = sother + 1 end
end

function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("s401"); b = b + t:get("s503"); c = c + t:get("sother")
  end
  io.write(string.format("flood-status 401 %%d\nflood-status 503 %%d\nflood-status 0 %%d\n", a, b, c))
end
`

// floodRuns starts Traefik with one router per workload and configuration, each with its own fake
// introspection server (so that its counters are that run's), runs wrk on each and writes the
// section.
func floodRuns(root string, w *bytes.Buffer) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return fmt.Errorf("wrk is needed for the flood (apt-get install wrk): %w", err)
	}
	upstreamAddr, stopUpstream, err := startUpstream()
	if err != nil {
		return err
	}
	defer stopUpstream()

	tc := &testingCleanup{}
	defer tc.run()
	fakes := map[string]*fakeas.Introspector{}
	var dyn strings.Builder
	dyn.WriteString("http:\n  routers:\n")
	var mws strings.Builder
	for _, wl := range floodWorkloads {
		for _, c := range floodConfigs {
			key := wl.name + "-" + c.name
			f := fakeas.NewIntrospector(tc)
			f.SetDelay(floodIntrospectionDelay)
			fakes[key] = f
			fmt.Fprintf(&dyn, "    flood-%s:\n      rule: Host(`flood-%s.localhost`)\n      service: upstream\n      middlewares: [flood-%s]\n", key, key, key)
			fmt.Fprintf(&mws, "    flood-%s:\n      plugin:\n        tokenhandler:\n          phantomToken:\n            introspectionEndpoint: %s\n            clientId: %s\n            clientSecret: %s\n            logLevel: warn\n%s",
				key, f.URL(), fakeas.IntrospectionClientID, fakeas.IntrospectionClientSecret, c.settings)
		}
	}
	dyn.WriteString("  middlewares:\n")
	dyn.WriteString(mws.String())
	fmt.Fprintf(&dyn, "  services:\n    upstream:\n      loadBalancer:\n        servers:\n          - url: http://%s\n", upstreamAddr)

	work, err := os.MkdirTemp("", "tokenhandler-flood-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	dynFile, err := stack.WriteDynamic(work, dyn.String())
	if err != nil {
		return err
	}
	addr, err := stack.FreeAddr()
	if err != nil {
		return err
	}
	traefik, err := stack.StartTraefik(stack.TraefikOptions{Root: root, WorkDir: work, Addr: addr, DynamicDir: filepath.Dir(dynFile), LogLevel: "ERROR"})
	if err != nil {
		return err
	}
	defer traefik.Stop()
	base := "http://" + addr
	for key := range fakes {
		if err := stack.WaitHTTP(context.Background(), traefik, base+"/api/data", "flood-"+key+".localhost", time.Minute, stack.NotNotFound); err != nil {
			return err
		}
	}

	var results []floodResult
	seed := time.Now().UnixNano() % 1000000
	for _, wl := range floodWorkloads {
		for _, c := range floodConfigs {
			key := wl.name + "-" + c.name
			log("flood: " + wl.label + ", " + c.name)
			script := filepath.Join(work, key+".lua")
			if err := os.WriteFile(script, []byte(fmt.Sprintf(floodScript, wl.name, floodPool, seed)), 0o644); err != nil {
				return err
			}
			seed++
			res, out, err := wrkRun(base, "flood-"+key+".localhost", floodConnections, []string{"-s", script}, nil, traefik.Pid())
			if err != nil {
				return err
			}
			r := floodResult{workload: wl.label, config: c.label, wrk: res, statuses: map[int]int{},
				calls: fakes[key].Total(), maxFlight: fakes[key].MaxInFlight()}
			if m := wrkRequests.FindSubmatch(out); m != nil {
				r.requests, _ = strconv.Atoi(string(m[1]))
			}
			if m := wrkSocketErrors.FindSubmatch(out); m != nil {
				r.socketErrors = strings.TrimSpace(string(m[1]))
			}
			for _, m := range floodStatus.FindAllSubmatch(out, -1) {
				status, _ := strconv.Atoi(string(m[1]))
				n, _ := strconv.Atoi(string(m[2]))
				if n > 0 {
					r.statuses[status] = n
				}
			}
			results = append(results, r)
		}
	}
	writeFlood(w, results)
	return nil
}

func writeFlood(w *bytes.Buffer, results []floodResult) {
	fmt.Fprintf(w, "\n## phantomToken under a flood of random tokens\n\n")
	fmt.Fprintf(w, "`wrk -t%d -c%d -d%s` through the real Traefik against a router with phantomToken only, in front of\nthe same upstream, each request with a random bearer token that the fake introspection server\ncalls inactive (204). The fake answers every call after %d ms, standing in for a real server's\ntime, and counts the calls and the most in flight at once (each router has its own fake).\nRejections are not logged (`logLevel: warn`). One run per line; `answers` counts wrk's responses\nby status (a wrk timeout is a request unanswered after 2 s); calls per request can exceed 1 by\nthe calls still in flight when wrk stopped.\n\n",
		loadThreads, floodConnections, loadDuration, floodIntrospectionDelay.Milliseconds())
	fmt.Fprintf(w, "| tokens | phantomToken | requests/s | introspection calls | calls per request | most calls in flight | p99 ms | answers |\n|---|---|---:|---:|---:|---:|---:|---|\n")
	for _, r := range results {
		perRequest := 0.0
		if r.requests > 0 {
			perRequest = float64(r.calls) / float64(r.requests)
		}
		fmt.Fprintf(w, "| %s | %s | %.0f | %d | %.3f | %d | %.2f | %s |\n", r.workload, r.config, r.wrk.rps, r.calls, perRequest, r.maxFlight, r.wrk.p99, answers(r))
	}
	find := func(workload, config string) floodResult {
		for _, r := range results {
			if strings.HasPrefix(r.workload, workload) && strings.HasPrefix(r.config, config) {
				return r
			}
		}
		return floodResult{}
	}
	freshBefore := find("a new", "before")
	poolBefore, poolAfter := find("random tokens from", "before"), find("random tokens from", "after")
	fmt.Fprintf(w, "\nThe old behaviour costs the authorization server one introspection per random token (%d calls\nin %s, up to %d at once); with the defaults a token never seen before still costs a call, but\nnever more than %d at once (the others queue for a slot: hence, for new tokens, the lower\nthroughput, and the higher p99; cache hits never wait), and a token tried again within\n`inactiveCacheSeconds` costs none: the pool of %d tokens made %d calls instead of %d (fewer than\none per request even before, as concurrent misses for one token share one call).\n",
		freshBefore.calls, loadDuration, freshBefore.maxFlight, defaultMaxConcurrentIntrospections, floodPool, poolAfter.calls, poolBefore.calls)
}

func answers(r floodResult) string {
	var parts []string
	for _, s := range []int{401, 503, 0} {
		if n, ok := r.statuses[s]; ok {
			name := strconv.Itoa(s)
			if s == 0 {
				name = "other"
			}
			parts = append(parts, fmt.Sprintf("%s: %d", name, n))
		}
	}
	if r.socketErrors != "" {
		parts = append(parts, "socket errors: "+r.socketErrors)
	}
	return strings.Join(parts, ", ")
}
