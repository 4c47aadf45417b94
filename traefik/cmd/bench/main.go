// Command bench measures the token handler and rewrites docs/benchmarks.md: the per-request cost
// of the hot paths compiled and under Yaegi (go test -bench), the introspection calls made by
// concurrent first requests, the heap of a full cache, load runs through the real Traefik, and
// phantomToken under a flood of random tokens. Run it with `make bench` from the repository root;
// `go run ./cmd/bench -flood-only` (in traefik/) runs only the flood and prints its section, and
// -load-only the load runs and the runtime settings.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tokenhandler/traefik-token-handler/traefik/soak"
	"github.com/tokenhandler/traefik-token-handler/traefik/stack"
)

func main() {
	out := flag.String("out", "docs/benchmarks.md", "the report to write, relative to the repository root")
	count := flag.Int("count", 5, "runs of each go test benchmark (the median is reported)")
	skipLoad := flag.Bool("skip-load", false, "skip the load runs through the real Traefik")
	flag.DurationVar(&loadDuration, "load-duration", loadDuration, "duration of each wrk run")
	flag.IntVar(&loadRounds, "load-rounds", loadRounds, "rounds over the routers (the median is reported)")
	floodOnly := flag.Bool("flood-only", false, "run only the flood of random tokens through the real Traefik and print its section to standard output; nothing is written")
	loadOnly := flag.Bool("load-only", false, "run only the load runs and the runtime settings through the real Traefik and print their sections to standard output; nothing is written")
	flag.Parse()
	root := stack.RepoRoot()
	if *loadOnly {
		report := &bytes.Buffer{}
		err := loadRuns(root, report)
		if err == nil {
			err = runtimeRuns(root, report)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		fmt.Print(report.String())
		return
	}
	if *floodOnly {
		report := &bytes.Buffer{}
		if err := floodRuns(root, report); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		fmt.Print(report.String())
		return
	}
	if err := run(root, filepath.Join(root, *out), *count, *skipLoad); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(root, out string, count int, skipLoad bool) error {
	report := &bytes.Buffer{}
	started := time.Now()
	fmt.Fprintf(report, "# Benchmarks\n\nWritten by `make bench` (traefik/cmd/bench) on %s. Every number below comes from that run;\nrerun `make bench` to measure your machine.\n\n", started.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(report, "## Machine\n\n%s\n", machine())
	// The sections go into body; the summary of the targets, known only at the end, goes first.
	head := report
	report = &bytes.Buffer{}

	log("go test -bench: compiled hot paths")
	compiled, err := goBench(root, "BenchmarkHotPath|BenchmarkConcurrentFirstRequests|BenchmarkAgent", count)
	if err != nil {
		return err
	}
	log("go test -bench: the same hot paths under Yaegi")
	interpreted, err := goBench(filepath.Join(root, "traefik"), "BenchmarkHotPath|BenchmarkConcurrentFirstRequests|BenchmarkAgent", count)
	if err != nil {
		return err
	}
	log("go test -bench: heap of 100,000 cached entries")
	heap, err := goBench(filepath.Join(root, "phantomtoken"), "BenchmarkCacheHeap100k", 1)
	if err != nil {
		return err
	}
	writeHotPaths(report, compiled, interpreted)
	writeCache(report, compiled, interpreted, heap)
	writeAgent(report, compiled, interpreted)

	if !skipLoad {
		log("load runs through the real Traefik")
		if err := loadRuns(root, report); err != nil {
			return err
		}
		fmt.Fprintf(report, "\n![Throughput relative to no middleware](benchmarks.svg)\n")
		log("flood: random tokens through phantomToken, before and after")
		if err := floodRuns(root, report); err != nil {
			return err
		}
		log("runtime settings: GOGC, GOMEMLIMIT and api.debug")
		if err := runtimeRuns(root, report); err != nil {
			return err
		}
		log("soak: 1,000 sessions for 60 s")
		if err := soakRun(root, report); err != nil {
			return err
		}
	}
	writeSummary(head, interpreted)
	head.Write(report.Bytes())
	report = head
	if err := os.WriteFile(out, report.Bytes(), 0o644); err != nil {
		return err
	}
	log("wrote " + out + " in " + time.Since(started).Round(time.Second).String())
	return nil
}

// writeSummary states every target of this run (issue 14), met or by how much it was missed.
func writeSummary(w *bytes.Buffer, interpreted map[string]result) {
	bff := interpreted["BenchmarkHotPath/BFFTokenGET"].nsPerOp / 1000
	hit := interpreted["BenchmarkHotPath/PhantomTokenCacheHit"].nsPerOp / 1000
	pass := interpreted["BenchmarkHotPath/PassThrough"].nsPerOp / 1000
	fmt.Fprintf(w, "## Summary: the targets in this run\n\n")
	fmt.Fprintf(w, "- bffToken GET under Yaegi, hot-path benchmark: **%.1f µs** (target at most 5 µs: %s; the plugin floor is %.1f µs)\n", bff, atMost(bff, 5, "µs"), pass)
	fmt.Fprintf(w, "- phantomToken cache hit under Yaegi, hot-path benchmark: **%.1f µs** (target at most 4 µs: %s)\n", hit, atMost(hit, 4, "µs"))
	for _, t := range loadTargets {
		fmt.Fprintf(w, "- %s\n", t)
	}
	if runtimeSummary != "" {
		fmt.Fprintf(w, "- Runtime settings: %s (see below)\n", runtimeSummary)
	}
	fmt.Fprintf(w, `
What is left where a target is missed: the objects are Yaegi's, not the plugin's work. Each of the
two entry functions allocates its whole frame on every request, one object per slot (bffToken's
ServeHTTP has about 60 slots, phantomToken's about 35), and each standard library call allocates
its reflected arguments and results: measured one construct at a time by TestYaegiFrameRules, a
two-result call such as r.Cookie costs 15 objects, a read-locked map lookup 12, a header map read
6, a local variable 4. What the two roles must do per request (read the cookie, check the
Origin, look up two caches, write the bearer, the CORS headers and the JWT) is about a dozen such
constructs; getting to +60 objects would take an interpreter that does not allocate frames per
call. The time targets are missed by the same cost: under Yaegi a request's time follows its
objects and its reflected calls (a GET's 99 objects against the floor's 18), while the compiled
work is under a microsecond (the compiled column of the hot-path table below).

`)
}

func log(msg string) { fmt.Fprintln(os.Stderr, "bench: "+msg) }

// result is one benchmark's median figures.
type result struct {
	nsPerOp, bytesPerOp, allocsPerOp float64
	metrics                          map[string]float64
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// goBench runs go test -bench in dir and returns the median of each benchmark's runs.
func goBench(dir, pattern string, count int) (map[string]result, error) {
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", pattern, "-benchmem", "-count", strconv.Itoa(count), ".")
	cmd.Dir = dir
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go test -bench in %s: %w\n%s", dir, err, stdout.String())
	}
	runs := map[string][]map[string]float64{}
	scanner := bufio.NewScanner(&stdout)
	for scanner.Scan() {
		m := benchLine.FindStringSubmatch(scanner.Text())
		if m == nil {
			continue
		}
		fields := strings.Fields(m[2])
		values := map[string]float64{}
		for i := 0; i+1 < len(fields); i += 2 {
			if v, err := strconv.ParseFloat(fields[i], 64); err == nil {
				values[fields[i+1]] = v
			}
		}
		runs[m[1]] = append(runs[m[1]], values)
	}
	out := map[string]result{}
	for name, list := range runs {
		r := result{metrics: map[string]float64{}}
		for unit := range list[0] {
			v := median(list, unit)
			switch unit {
			case "ns/op":
				r.nsPerOp = v
			case "B/op":
				r.bytesPerOp = v
			case "allocs/op":
				r.allocsPerOp = v
			default:
				r.metrics[unit] = v
			}
		}
		out[name] = r
	}
	return out, nil
}

func median(list []map[string]float64, unit string) float64 {
	values := make([]float64, 0, len(list))
	for _, m := range list {
		values = append(values, m[unit])
	}
	sort.Float64s(values)
	return values[len(values)/2]
}

var hotPaths = []struct{ name, label string }{
	{"BenchmarkHotPath/PassThrough", "reference: a plugin that only calls next"},
	{"BenchmarkHotPath/BFFTokenGET", "bffToken, GET (Origin check, a remembered cookie)"},
	{"BenchmarkHotPath/BFFTokenGETChunked", "bffToken, GET, a 5,000-byte access token in two chunks (§6.1)"},
	{"BenchmarkHotPath/BFFTokenPOST", "bffToken, POST (plus CSRF cookie and header)"},
	{"BenchmarkHotPath/PhantomTokenCacheHit", "phantomToken, cache hit"},
	{"BenchmarkHotPath/StackedGET", "bffToken + phantomToken, GET, cache hit"},
}

func writeHotPaths(w *bytes.Buffer, compiled, interpreted map[string]result) {
	fmt.Fprintf(w, "\n## Hot paths: compiled and under Yaegi\n\n")
	fmt.Fprintf(w, "`go test -bench BenchmarkHotPath` in the root module (compiled) and in `traefik/` (the same code\ninterpreted by Yaegi v0.16.1, loaded by Traefik v3.6.12's own plugin builder). Both run the same\nbenchmark bodies (`testsupport/hotpath`): one request per iteration with fresh browser headers, a\nno-op upstream. Median of the runs.\n\n")
	fmt.Fprintf(w, "| path | compiled ns/op | compiled allocs/op | Yaegi ns/op | Yaegi allocs/op | Yaegi / compiled |\n|---|---:|---:|---:|---:|---:|\n")
	for _, p := range hotPaths {
		c, y := compiled[p.name], interpreted[p.name]
		ratio := 0.0
		if c.nsPerOp > 0 {
			ratio = y.nsPerOp / c.nsPerOp
		}
		fmt.Fprintf(w, "| %s | %.0f | %.0f | %.0f | %.0f | %.1f× |\n", p.label, c.nsPerOp, c.allocsPerOp, y.nsPerOp, y.allocsPerOp, ratio)
	}
	pass := interpreted["BenchmarkHotPath/PassThrough"].nsPerOp
	passC := compiled["BenchmarkHotPath/PassThrough"].nsPerOp
	bff := interpreted["BenchmarkHotPath/BFFTokenGET"].nsPerOp
	bffC := compiled["BenchmarkHotPath/BFFTokenGET"].nsPerOp
	hit := interpreted["BenchmarkHotPath/PhantomTokenCacheHit"].nsPerOp
	hitC := compiled["BenchmarkHotPath/PhantomTokenCacheHit"].nsPerOp
	fmt.Fprintf(w, `
The first row is the floor: a plugin that only calls the next handler costs %.1f µs under Yaegi
(its harness, a fresh header map per request, costs %.1f µs compiled). Above that floor,
bffToken's GET costs %.1f µs interpreted against %.1f µs compiled, and a phantomToken cache hit
%.1f µs against %.1f µs.

Under Yaegi the cost is set by the interpreter, not by the work: every call from Traefik into an
interpreted ServeHTTP allocates the function's whole frame, one reflect.New per slot, and nearly
every expression of the function is a slot, in the branches that do not run too; every call into
the standard library goes through reflection. So the hot paths hold only what their common case
needs (TestYaegiFrameRules in traefik/yaegi_frames_test.go measures what each construct costs):
bffToken remembers, per instance and bounded, the Authorization value of every access token
cookie that decrypted, so that a GET is one map lookup instead of cookie decoding, AES-GCM and
string building; phantomToken looks its cache up by the Authorization header as it came, without
hashing; everything else is in helpers that only the rare cases call. The allocations per request
(objects and bytes above) are checked by TestHotPathAllocationBudget.
`, pass/1000, passC/1000, (bff-pass)/1000, (bffC-passC)/1000, (hit-pass)/1000, (hitC-passC)/1000)
}

func writeCache(w *bytes.Buffer, compiled, interpreted, heap map[string]result) {
	fmt.Fprintf(w, "\n## phantomToken cache\n\n")
	c := compiled["BenchmarkConcurrentFirstRequests"].metrics["introspections/200-requests"]
	y := interpreted["BenchmarkConcurrentFirstRequests"].metrics["introspections/200-requests"]
	fmt.Fprintf(w, "| measure | compiled | Yaegi |\n|---|---:|---:|\n")
	fmt.Fprintf(w, "| introspection calls for 200 concurrent first requests with one new token | %.0f | %.0f |\n", c, y)
	for _, alg := range []string{"RS256", "ES256"} {
		r := heap["BenchmarkCacheHeap100k/"+alg]
		fmt.Fprintf(w, "| heap held by 100,000 cached entries, %s-signed JWTs of %.0f bytes (target: under 64 MB) | %.1f MB | (same data structure) |\n", alg, r.metrics["JWT-bytes"], r.metrics["MB-heap/100k"])
	}
	rs := heap["BenchmarkCacheHeap100k/RS256"].metrics
	fmt.Fprintf(w, "\nAn entry is the `Bearer <JWT>` header value, its scopes, its expiry, its map slot and its place in\nthe eviction queue: about %.0f bytes beside the header value, so the JWT's size decides. The 64 MB\ntarget is missed for both: the RS256 tokens' header values alone take about %.0f MB. Holding the JWT\ncompressed or base64-decoded would trade that memory for work on every cache hit, the hot path,\nso it was not done; the default `maxCacheEntries` of 10,000 bounds the cache at a tenth of these\nfigures.\n", rs["MB-heap/100k"]*(1<<20)/100000-rs["JWT-bytes"]-7, (rs["JWT-bytes"]+7)*100000/(1<<20))
}

func machine() string {
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
				break
			}
		}
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		fields := strings.Fields(strings.SplitN(string(data), "\n", 2)[0])
		if len(fields) >= 2 {
			if kb, err := strconv.ParseFloat(fields[1], 64); err == nil {
				mem = fmt.Sprintf(", %.0f GiB memory", kb/1024/1024)
			}
		}
	}
	kernel := ""
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(data))
	}
	return fmt.Sprintf("- %s, %d logical CPUs%s%s\n- %s, Traefik %s, Yaegi v0.16.1\n", cpu, runtime.NumCPU(), mem, kernel, runtime.Version(), stack.TraefikVersion)
}

var agentPaths = []struct{ name, label string }{
	{"BenchmarkAgent/LoginEndPageLoad", "POST /login/end, a page load (decrypts two cookies)"},
	{"BenchmarkAgent/LoginEndCode", "POST /login/end with a code (token exchange, ID token validation, five cookies)"},
	{"BenchmarkAgent/Refresh", "POST /refresh (refresh grant, ID token validation, three cookies)"},
}

func writeAgent(w *bytes.Buffer, compiled, interpreted map[string]result) {
	fmt.Fprintf(w, "\n## OAuth Agent: its own cost per request\n\n")
	fmt.Fprintf(w, "`go test -bench BenchmarkAgent` against the in-process OpenID Connect provider over loopback HTTP. The\nprovider measures the time it spends handling the agent's calls; `agent µs` is the request's time\nminus that, so it is the agent's own work (parsing, crypto, cookies) plus its HTTP client's.\n\n")
	fmt.Fprintf(w, "| request | compiled agent µs | compiled allocs/op | Yaegi agent µs | Yaegi allocs/op | Yaegi / compiled |\n|---|---:|---:|---:|---:|---:|\n")
	for _, p := range agentPaths {
		c, y := compiled[p.name], interpreted[p.name]
		cs, ys := c.metrics["agent-ns/op"]/1000, y.metrics["agent-ns/op"]/1000
		ratio := 0.0
		if cs > 0 {
			ratio = ys / cs
		}
		fmt.Fprintf(w, "| %s | %.0f | %.0f | %.0f | %.0f | %.1f× |\n", p.label, cs, c.allocsPerOp, ys, y.allocsPerOp, ratio)
	}
}

// soakRun reports the soak: 1,000 signed-in sessions for 60 s at 400 requests/s.
func soakRun(root string, w *bytes.Buffer) error {
	c := &testingCleanup{}
	defer c.run()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := soak.Run(ctx, soak.Options{Root: root, Sessions: 1000, Rate: 400, Duration: 60 * time.Second, CacheSeconds: 20}, c)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n## Soak: 1,000 sessions for a minute\n\n")
	fmt.Fprintf(w, "1,000 browsers signed in through the agent (in Traefik, against the in-process OpenID Connect\nprovider), then %d API requests/s through bffToken + phantomToken (`tokenCacheSeconds: %d`) for %s\n(the same run as `TestSoakThroughTraefik`).\n\n", res.Rate, res.CacheSeconds, res.Duration)
	fmt.Fprintf(w, "| measure | value |\n|---|---|\n")
	fmt.Fprintf(w, "| requests (achieved rate) | %d (%.0f/s) |\n", res.Requests, res.AchievedRate)
	fmt.Fprintf(w, "| answers | %v, transport errors %d |\n", res.Statuses, res.TransportErrs)
	fmt.Fprintf(w, "| latency p50 / p99 | %.2f ms / %.2f ms |\n", float64(res.P50.Microseconds())/1000, float64(res.P99.Microseconds())/1000)
	fmt.Fprintf(w, "| Traefik resident memory, every 5 s | %s MB |\n", formatSamples(res.RSSMB))
	fmt.Fprintf(w, "| introspection calls | %d for %d tokens: %d to %d per token over %d cache periods |\n", res.Introspections, res.Tokens, res.PerTokenMin, res.PerTokenMax, res.Periods())
	return nil
}

func formatSamples(values []float64) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = fmt.Sprintf("%.0f", v)
	}
	return strings.Join(parts, ", ")
}
