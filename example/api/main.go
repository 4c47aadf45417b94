// Command api is the demo's business API. It sits behind Traefik's bff-token and phantom-token
// middlewares, so every request it sees carries "Authorization: Bearer <JWT>", and it trusts
// nothing else: it validates the JWT against the authorization server's JWKS before answering.
//
// Environment (defaults in brackets): HOST [127.0.0.1], PORT [3001],
// JWKS_URI [http://127.0.0.1:3000/jwks], ISSUER [http://login.example.localhost:8080],
// AUDIENCE [api.example.localhost], REQUIRED_SCOPE [read].
//
// Routes: GET and POST /api/data (each needs a valid token with the required scope; POST is what
// Curity's example SPAs call, and its body is ignored), GET /health.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

const (
	jwksTimeout = 5 * time.Second
	clockLeeway = 10 * time.Second
)

func main() {
	log.SetFlags(log.LstdFlags | log.LUTC)
	log.SetPrefix("api: ")

	v := &validator{
		keys:          newKeySet(env("JWKS_URI", "http://127.0.0.1:3000/jwks"), jwksTimeout),
		issuer:        env("ISSUER", "http://login.example.localhost:8080"),
		audience:      env("AUDIENCE", "api.example.localhost"),
		requiredScope: env("REQUIRED_SCOPE", "read"),
		leeway:        clockLeeway,
		now:           time.Now,
	}
	addr := net.JoinHostPort(env("HOST", "127.0.0.1"), env("PORT", "3001"))
	srv := &http.Server{
		Addr:              addr,
		Handler:           newHandler(v),
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

	log.Printf("listening on http://%s (issuer %s, audience %s, scope %q, JWKS %s)",
		addr, v.issuer, v.audience, v.requiredScope, v.keys.uri)
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

func newHandler(v *validator) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	data := func(w http.ResponseWriter, r *http.Request) {
		claims, aerr := v.validate(r.Context(), r.Header.Get("Authorization"))
		if aerr != nil {
			writeAuthError(w, aerr)
			return
		}
		annotate(w, "sub="+claims.Subject)
		writeJSON(w, http.StatusOK, map[string]string{
			"message": "Success response from the Business API",
			"sub":     claims.Subject,
			"scope":   claims.Scope.String(),
			"time":    time.Now().UTC().Format(time.RFC3339),
		})
	}
	mux.HandleFunc("GET /api/data", data)
	mux.HandleFunc("POST /api/data", data)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"code": "not_found", "message": "No such resource"})
	})
	return logRequests(mux)
}

// writeAuthError answers a failed authorization as RFC 6750 §3 describes: a WWW-Authenticate
// challenge, with an error code only when a token was presented.
func writeAuthError(w http.ResponseWriter, e *authError) {
	annotate(w, "reason="+e.Error())
	if e.status == http.StatusUnauthorized || e.status == http.StatusForbidden {
		challenge := `Bearer realm="api"`
		if e.bearerError != "" {
			challenge += fmt.Sprintf(`, error=%q, error_description=%q`, e.bearerError, e.message)
		}
		w.Header().Set("WWW-Authenticate", challenge)
	}
	writeJSON(w, e.status, map[string]string{"code": e.code, "message": e.message})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// logWriter records the status and a note for the request's log line.
type logWriter struct {
	http.ResponseWriter
	status int
	note   string
}

func (lw *logWriter) WriteHeader(status int) {
	lw.status = status
	lw.ResponseWriter.WriteHeader(status)
}

// annotate adds a note (the subject, or why the request failed; never the token) to the log line.
func annotate(w http.ResponseWriter, note string) {
	if lw, ok := w.(*logWriter); ok {
		lw.note = note
	}
}

// logRequests writes one line per request.
func logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		lw := &logWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(lw, r)
		log.Printf("%s %s %d %s %s", r.Method, r.URL.Path, lw.status,
			time.Since(start).Round(time.Microsecond), lw.note)
	})
}
