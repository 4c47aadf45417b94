package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/tokenhandler/traefik-token-handler/testsupport/hotpath"
)

// runtimeSetting is one way of running Traefik that an operator chooses: its Go garbage
// collector settings, or api.debug.
type runtimeSetting struct {
	label string
	env   []string
	debug bool
}

var runtimeSettings = []runtimeSetting{
	{"defaults (GOGC=100)", nil, false},
	{"GOGC=200", []string{"GOGC=200"}, false},
	{"GOGC=400", []string{"GOGC=400"}, false},
	{"GOGC=off, GOMEMLIMIT=256MiB", []string{"GOGC=off", "GOMEMLIMIT=256MiB"}, false},
	{"api.debug: true (defaults otherwise)", nil, true},
}

// runtimeRuns loads two pass-through plugins and bffToken + phantomToken on one Traefik per
// setting, all started at once and loaded in interleaved rounds, so that every setting sees the
// same machine state, and reports what each setting buys and costs.
func runtimeRuns(root string, w *bytes.Buffer) error {
	setup, err := newLoadSetup("tokenhandler-bench-runtime-")
	if err != nil {
		return err
	}
	defer setup.close()
	traefiks := make([]*benchTraefik, len(runtimeSettings))
	for i, s := range runtimeSettings {
		t, err := startBenchTraefik(root, filepath.Join(setup.work, "traefik-"+strconv.Itoa(i)), setup.dynDir, s.env, s.debug)
		if err != nil {
			return err
		}
		defer t.proc.Stop()
		traefiks[i] = t
	}

	headers := setup.cookieHeaders(hotpath.ActiveToken)
	hosts := []string{"pass2.localhost", "stacked.localhost"}
	results := make([]map[string][]loadResult, len(runtimeSettings))
	for i := range results {
		results[i] = map[string][]loadResult{}
	}
	for round := 0; round < loadRounds; round++ {
		for i, s := range runtimeSettings {
			for _, host := range hosts {
				log(fmt.Sprintf("runtime round %d/%d: %s, %s", round+1, loadRounds, s.label, host))
				res, err := traefiks[i].load(host, headers)
				if err != nil {
					return err
				}
				results[i][host] = append(results[i][host], res)
			}
		}
	}

	fmt.Fprintf(w, "\n## Traefik's runtime settings: GOGC, GOMEMLIMIT and api.debug\n\n")
	fmt.Fprintf(w, "One Traefik per setting, all running at once with the same routers, loaded in %d interleaved\nrounds (`wrk -t%d -c%d -d%s` each): two pass-through plugins (the plugin mechanism's cost) and\nbffToken + phantomToken (warm cache). Medians of the rounds; peak memory is Traefik's VmHWM at the\nend of all its runs.\n\n", loadRounds, loadThreads, loadConnections, loadDuration)
	fmt.Fprintf(w, "| Traefik setting | two pass-through: requests/s | CPU µs/request | bffToken + phantomToken: requests/s | CPU µs/request | added CPU µs/request | objects/request | throughput vs two pass-through | peak resident MB |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	median := func(list []loadResult, f func(loadResult) float64) float64 { return medianOf(list, f) }
	rps := func(r loadResult) float64 { return r.rps }
	cpu := func(r loadResult) float64 { return r.cpuPerRequest }
	objects := func(r loadResult) float64 { return r.objectsPerRequest }
	var defaultAdded, defaultPass float64
	summary := make([]float64, len(runtimeSettings))
	for i, s := range runtimeSettings {
		pass, stacked := results[i]["pass2.localhost"], results[i]["stacked.localhost"]
		added := median(stacked, cpu) - median(pass, cpu)
		summary[i] = added
		if i == 0 {
			defaultAdded, defaultPass = added, median(pass, cpu)
		}
		fmt.Fprintf(w, "| %s | %.0f | %.0f | %.0f | %.0f | %+.0f | %.0f | %.2f | %.0f |\n", s.label, median(pass, rps), median(pass, cpu),
			median(stacked, rps), median(stacked, cpu), added, median(stacked, objects), median(stacked, rps)/median(pass, rps), peakRSS(traefiks[i].proc.Pid()))
	}
	debugPass := median(results[len(runtimeSettings)-1]["pass2.localhost"], cpu)
	runtimeSummary = fmt.Sprintf("GOGC=400 changes the CPU bffToken + phantomToken add per request from %+.0f µs to %+.0f µs; api.debug changes two pass-through plugins' CPU per request from %.0f µs to %.0f µs",
		defaultAdded, summary[2], defaultPass, debugPass)
	fmt.Fprintf(w, "\nIn this run: %s. The table's memory column is what the collector settings cost. api.debug makes\nTraefik record every blocking event and one in five contended locks for the whole process\n(runtime.SetBlockProfileRate(1) and SetMutexProfileFraction(5) in Traefik's pkg/api/debug.go),\nbesides serving pprof; read each row against the spread of the load runs above, which is larger\nthan most differences here on a shared two-core machine.\n", runtimeSummary)
	return nil
}

// runtimeSummary is the runtime section's one-line finding, repeated in the summary at the top.
var runtimeSummary string
