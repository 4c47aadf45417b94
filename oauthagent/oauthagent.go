package oauthagent

import (
	"context"
	"errors"
	"net/http"
)

// Config is the role's configuration.
type Config struct {
	Unknown map[string]interface{} `mapstructure:",remain"`
}

// New builds the middleware.
func New(ctx context.Context, next http.Handler, cfg *Config, name string) (http.Handler, error) {
	return nil, errors.New("oauthagent: not implemented yet")
}
