// Command webhost serves the demo SPA's static files and its runtime configuration.
//
// Environment (defaults in brackets): HOST [127.0.0.1], PORT [3002], SPA_DIR [the first of
// example/spa, ../spa and spa, relative to the working directory, that holds an index.html],
// OAUTH_AGENT_URL, API_URL and USER_INFO_URL [derived per request, see below], AGENT_API [v1]:
// the OAuth Agent API the SPA speaks, v1 or v2 (Curity's v2 token handler API, as the agent's
// agentApi: v2 answers it).
//
// Routes:
//   - GET /config.json: {"oauthAgentUrl": ..., "apiUrl": ..., "userInfoUrl": ..., "agentApi": ...}.
//     Unless set in the environment, the URLs are derived from the request's Host by replacing a
//     leading "www." with "api.": a page served from http://www.example.localhost:8080 gets
//     http://api.example.localhost:8080/oauth-agent, http://api.example.localhost:8080/api and
//     http://api.example.localhost:8080/oauth-userinfo (the demo's OAuth Proxy route to the
//     authorization server's userinfo endpoint, which v2 SPAs call instead of the agent).
//   - GET /health: 200.
//   - anything else: a file from SPA_DIR; a path without a file extension that names no file
//     serves index.html, so that the SPA's deep links survive a reload.
//
// Every response carries a Content-Security-Policy that allows scripts and styles from this origin
// only and fetch calls to this origin and the OAuth Agent's, API's and userinfo URL's origins.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	log.SetFlags(log.LstdFlags | log.LUTC)
	log.SetPrefix("webhost: ")

	dir, err := findSPADir(os.Getenv("SPA_DIR"))
	if err != nil {
		log.Fatal(err)
	}
	agentAPI := env("AGENT_API", agentAPIV1)
	if agentAPI != agentAPIV1 && agentAPI != agentAPIV2 {
		log.Fatalf("AGENT_API is %q: use %s or %s", agentAPI, agentAPIV1, agentAPIV2)
	}
	h := &webHost{
		files:         os.DirFS(dir),
		oauthAgentURL: os.Getenv("OAUTH_AGENT_URL"),
		apiURL:        os.Getenv("API_URL"),
		userInfoURL:   os.Getenv("USER_INFO_URL"),
		agentAPI:      agentAPI,
	}
	addr := net.JoinHostPort(env("HOST", "127.0.0.1"), env("PORT", "3002"))
	srv := &http.Server{
		Addr:              addr,
		Handler:           logRequests(h),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      20 * time.Second,
		IdleTimeout:       60 * time.Second,
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()

	log.Printf("serving %s on http://%s (OAuth Agent API %s)", dir, addr, agentAPI)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// findSPADir returns the SPA directory: SPA_DIR when set, else the first candidate relative to
// the working directory that holds an index.html, so that the program runs the same from the
// repository root (make demo), from its own folder (go run .) and from example/.
func findSPADir(fromEnv string) (string, error) {
	candidates := []string{filepath.Join("example", "spa"), filepath.Join("..", "spa"), "spa"}
	if fromEnv != "" {
		candidates = []string{fromEnv}
	}
	for _, dir := range candidates {
		if st, err := os.Stat(filepath.Join(dir, "index.html")); err == nil && st.Mode().IsRegular() {
			return filepath.Abs(dir)
		}
	}
	return "", fmt.Errorf("no index.html in %v; set SPA_DIR to the SPA's directory", candidates)
}

// statusWriter records the status for the log line.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (sw *statusWriter) WriteHeader(status int) {
	sw.status = status
	sw.ResponseWriter.WriteHeader(status)
}

func logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		log.Printf("%s %s %d %s", r.Method, r.URL.Path, sw.status, time.Since(start).Round(time.Microsecond))
	})
}
