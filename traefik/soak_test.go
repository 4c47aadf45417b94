package traefik_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/tokenhandler/traefik-token-handler/traefik/soak"
)

// TestSoakThroughTraefik: 1,000 signed-in sessions call the API through bffToken + phantomToken
// for 60 s (SOAK_DURATION) at a fixed rate against the real Traefik. Every answer is 200,
// Traefik's memory stays flat, and each token is introspected once per cache period.
func TestSoakThroughTraefik(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of load")
	}
	duration := 60 * time.Second
	if d, err := time.ParseDuration(os.Getenv("SOAK_DURATION")); err == nil {
		duration = d
	}
	ctx, cancel := context.WithTimeout(context.Background(), duration+3*time.Minute)
	defer cancel()
	res, err := soak.Run(ctx, soak.Options{Root: repoRoot, Sessions: 1000, Rate: 400, Duration: duration, CacheSeconds: 20}, t)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d requests at %.0f/s: statuses %v, transport errors %d, p50 %v, p99 %v; RSS %v MB; %d introspections of %d tokens (%d to %d each, %d periods)",
		res.Requests, res.AchievedRate, res.Statuses, res.TransportErrs, res.P50, res.P99, res.RSSMB, res.Introspections, res.Tokens, res.PerTokenMin, res.PerTokenMax, res.Periods())
	if res.TransportErrs != 0 || res.Statuses[200] != res.Requests {
		t.Errorf("not every request got 200: %v, %d transport errors", res.Statuses, res.TransportErrs)
	}
	if res.Tokens != 1000 {
		t.Errorf("%d tokens were introspected, want the 1000 sessions' tokens", res.Tokens)
	}
	if res.PerTokenMin < 1 || res.PerTokenMax > res.Periods()+1 {
		t.Errorf("introspections per token from %d to %d, want at most one per cache period (%d periods)", res.PerTokenMin, res.PerTokenMax, res.Periods())
	}
	// Flat memory: after the first samples (warm-up, the cache filling), Traefik's resident
	// memory grows by no more than 20%.
	if n := len(res.RSSMB); n >= 3 {
		warm, last := res.RSSMB[1], res.RSSMB[n-1]
		if last > warm*1.2+5 {
			t.Errorf("Traefik's memory grew from %.0f MB to %.0f MB under steady load", warm, last)
		}
	}
}
