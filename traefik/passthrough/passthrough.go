// Package passthrough is a Traefik plugin that does nothing but call the next handler. The
// benchmarks load it beside the token handler to measure what the plugin mechanism itself costs
// (Yaegi's call into ServeHTTP and back out to next), so that the token handler's own cost can be
// told apart from it.
package passthrough

import (
	"context"
	"net/http"
)

// Config is empty: the plugin has no settings.
type Config struct{}

// CreateConfig returns the empty configuration.
func CreateConfig() *Config { return &Config{} }

type passthrough struct{ next http.Handler }

// New returns the pass-through middleware.
func New(ctx context.Context, next http.Handler, config *Config, name string) (http.Handler, error) {
	return &passthrough{next: next}, nil
}

func (p *passthrough) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.next.ServeHTTP(w, r)
}
