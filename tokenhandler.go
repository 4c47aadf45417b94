// Package tokenhandler is the Traefik plugin entry point of the token handler. One plugin offers
// three roles, and each middleware instance takes exactly one of them:
//
//	oauthAgent   - the OAuth Agent: runs the OpenID Connect code flow for an SPA and keeps the
//	               tokens in encrypted cookies (package oauthagent);
//	bffToken     - the OAuth Proxy: turns the access-token cookie into `Authorization: Bearer`
//	               on API calls, after Origin and CSRF checks (package bfftoken);
//	phantomToken - swaps an opaque access token for a JWT by introspection, with a cache
//	               (package phantomtoken).
//
// This package only dispatches; the roles live in their own packages.
package tokenhandler

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/tokenhandler/traefik-token-handler/bfftoken"
	"github.com/tokenhandler/traefik-token-handler/internal/config"
	"github.com/tokenhandler/traefik-token-handler/oauthagent"
	"github.com/tokenhandler/traefik-token-handler/phantomtoken"
)

// Config is the plugin configuration: set exactly one of the three roles.
type Config struct {
	// OAuthAgent configures the OAuth Agent role.
	OAuthAgent *oauthagent.Config
	// BFFToken configures the OAuth Proxy role.
	BFFToken *bfftoken.Config
	// PhantomToken configures the phantom token (introspection) role.
	PhantomToken *phantomtoken.Config
	// Unknown collects keys that match no role, so that New can name them.
	Unknown map[string]interface{} `mapstructure:",remain"`
}

// CreateConfig returns a configuration with no role set; Traefik fills in the one the user gives.
func CreateConfig() *Config {
	return &Config{}
}

// New builds the middleware of the one role that the configuration sets.
func New(ctx context.Context, next http.Handler, cfg *Config, name string) (http.Handler, error) {
	if cfg == nil {
		return nil, errors.New("tokenhandler: no configuration: set exactly one of oauthAgent, bffToken or phantomToken")
	}
	if len(cfg.Unknown) > 0 {
		return nil, errors.New("tokenhandler: unknown key " + strings.Join(config.SortedKeys(cfg.Unknown), ", ") +
			": set exactly one of oauthAgent, bffToken or phantomToken")
	}

	var roles []string
	if cfg.OAuthAgent != nil {
		roles = append(roles, "oauthAgent")
	}
	if cfg.BFFToken != nil {
		roles = append(roles, "bffToken")
	}
	if cfg.PhantomToken != nil {
		roles = append(roles, "phantomToken")
	}
	if len(roles) != 1 {
		if len(roles) == 0 {
			return nil, errors.New("tokenhandler: no role configured: set exactly one of oauthAgent, bffToken or phantomToken")
		}
		return nil, errors.New("tokenhandler: several roles configured (" + strings.Join(roles, ", ") +
			"): a middleware takes exactly one; define one middleware per role and stack them on the router")
	}

	switch {
	case cfg.OAuthAgent != nil:
		return oauthagent.New(ctx, next, cfg.OAuthAgent, name)
	case cfg.BFFToken != nil:
		return bfftoken.New(ctx, next, cfg.BFFToken, name)
	default:
		return phantomtoken.New(ctx, next, cfg.PhantomToken, name)
	}
}
