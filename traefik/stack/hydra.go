package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// HydraVersion is the Ory Hydra release the hydra/ module pins as a Go tool.
const HydraVersion = "v2.3.0"

// The OAuth2 clients StartHydra creates.
const (
	// HydraClientID is the agent's confidential client: code flow (PKCE is enforced for every
	// client), refresh tokens, client_secret_basic.
	HydraClientID     = "spa-client"
	HydraClientSecret = "Password1"
	// HydraClientScope is what the agent must request: Hydra issues a refresh token only when
	// offline_access is granted.
	HydraClientScope = "openid offline_access profile read"
	// HydraIntrospectionClientID is the API gateway's client. Hydra's introspection endpoint is on
	// the admin port and authenticates nobody: the client exists for client_credentials and for
	// configurations that send credentials anyway.
	HydraIntrospectionClientID     = "api-gateway-client"
	HydraIntrospectionClientSecret = "Password1"
	// HydraAudience is the API's audience, which spa-client may request with audience=...
	HydraAudience = "api.example.localhost"
)

// HydraOptions say how to run Hydra and its login and consent app. Zero addresses pick free
// loopback ports.
type HydraOptions struct {
	// Root is the checkout: bin/hydra and example/hydralogin are found (or built) there.
	Root string
	// WorkDir receives Hydra's configuration file.
	WorkDir string
	// PublicAddr, AdminAddr and LoginAddr are host:port on 127.0.0.1: Hydra's public API (the
	// issuer), its admin API (clients, introspection, challenges) and the login and consent app.
	PublicAddr, AdminAddr, LoginAddr string
	// Issuer is Hydra's issuer and so the URL of its public endpoints, as browsers and ID tokens
	// see it (default http://PublicAddr). Back-channel callers that cannot resolve it use
	// PublicURL.
	Issuer string
	// LoginURL is the login and consent app as browsers reach it (default http://LoginAddr).
	LoginURL string
	// RedirectURI is spa-client's redirect URI; PostLogoutRedirectURI its post-logout redirect
	// URI (default RedirectURI).
	RedirectURI, PostLogoutRedirectURI string
	// AccessTokenTTL is the access token lifetime (0: Hydra's one hour).
	AccessTokenTTL time.Duration
	// Echo receives every process's output, each line prefixed with its name (nil: kept only).
	Echo *os.File
}

// Hydra is a running Hydra with its login and consent app and its clients.
type Hydra struct {
	Options HydraOptions
	// Issuer is the issuer (the iss of its tokens, the base of its browser-facing endpoints).
	Issuer string
	// PublicURL and AdminURL are Hydra's two ports as back-channel callers reach them.
	PublicURL, AdminURL string
	// Hydra and Login are the processes: Hydra and the login and consent app.
	Hydra, Login *Process
}

// The endpoints, as discovery lists them (on the issuer) except the introspection endpoint,
// which is not in Hydra's discovery and is served on the admin port only.
func (h *Hydra) AuthorizationEndpoint() string { return h.Issuer + "/oauth2/auth" }
func (h *Hydra) TokenEndpoint() string         { return h.Issuer + "/oauth2/token" }
func (h *Hydra) UserInfoEndpoint() string      { return h.Issuer + "/userinfo" }
func (h *Hydra) JWKSURI() string               { return h.Issuer + "/.well-known/jwks.json" }
func (h *Hydra) RevocationEndpoint() string    { return h.Issuer + "/oauth2/revoke" }
func (h *Hydra) EndSessionEndpoint() string    { return h.Issuer + "/oauth2/sessions/logout" }
func (h *Hydra) IntrospectionEndpoint() string { return h.AdminURL + "/admin/oauth2/introspect" }

// HydraBinary returns bin/hydra, building it from the hydra/ module's pinned tool first if it is
// missing (about three minutes the first time on two cores; `make hydra` does the same).
func HydraBinary(root string) (string, error) {
	bin := filepath.Join(root, "bin", "hydra")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	cmd := exec.Command("go", "build", "-tags", "sqlite,sqlite_omit_load_extension", "-o", bin, "github.com/ory/hydra/v2")
	cmd.Dir = filepath.Join(root, "hydra")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	fmt.Fprintf(os.Stderr, "building Ory Hydra %s into %s (the first build takes several minutes)\n", HydraVersion, bin)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building Hydra: %w", err)
	}
	return bin, nil
}

// StartHydra starts the login and consent app and Hydra (in memory, development mode: plain
// HTTP), waits until both answer, and creates the clients. On error, whatever was started is
// stopped.
func StartHydra(ctx context.Context, o HydraOptions) (*Hydra, error) {
	for _, addr := range []*string{&o.PublicAddr, &o.AdminAddr, &o.LoginAddr} {
		if *addr == "" {
			free, err := FreeAddr()
			if err != nil {
				return nil, err
			}
			*addr = free
		}
	}
	if o.Issuer == "" {
		o.Issuer = "http://" + o.PublicAddr
	}
	if o.LoginURL == "" {
		o.LoginURL = "http://" + o.LoginAddr
	}
	if o.PostLogoutRedirectURI == "" {
		o.PostLogoutRedirectURI = o.RedirectURI
	}
	h := &Hydra{Options: o, Issuer: strings.TrimRight(o.Issuer, "/"), PublicURL: "http://" + o.PublicAddr, AdminURL: "http://" + o.AdminAddr}
	if err := h.start(ctx); err != nil {
		h.Stop()
		return nil, err
	}
	return h, nil
}

func (h *Hydra) start(ctx context.Context) error {
	o := h.Options
	bin, err := HydraBinary(o.Root)
	if err != nil {
		return err
	}
	login := filepath.Join(o.Root, "bin", "example-hydralogin")
	build := exec.Command("go", "build", "-o", login, "./example/hydralogin")
	build.Dir = o.Root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building example/hydralogin: %w\n%s", err, out)
	}

	cmd := exec.Command(login)
	cmd.Env = append(os.Environ(), "HOST=127.0.0.1", "PORT="+Port(o.LoginAddr), "HYDRA_ADMIN_URL="+h.AdminURL)
	if h.Login, err = Start("hydralogin", cmd, o.Echo); err != nil {
		return err
	}
	if err := WaitHTTP(ctx, h.Login, "http://"+o.LoginAddr+"/health", "", time.Minute, isOK); err != nil {
		return err
	}

	config := filepath.Join(o.WorkDir, "hydra.yml")
	if err := os.WriteFile(config, []byte(h.config()), 0o600); err != nil {
		return err
	}
	cmd = exec.Command(bin, "serve", "all", "--dev", "--config", config)
	cmd.Dir = o.WorkDir
	if h.Hydra, err = Start("hydra", cmd, o.Echo); err != nil {
		return err
	}
	if err := WaitHTTP(ctx, h.Hydra, h.AdminURL+"/health/ready", "", time.Minute, isOK); err != nil {
		return err
	}
	if err := WaitHTTP(ctx, h.Hydra, h.PublicURL+"/.well-known/openid-configuration", "", time.Minute, isOK); err != nil {
		return err
	}
	return h.createClients(ctx)
}

// config is Hydra's configuration: in memory, the login app's URLs, strict refresh token
// rotation (Hydra always rotates; a grace period of 0 makes a used refresh token fail at once,
// and reusing one revokes the whole chain) and PKCE for every client.
func (h *Hydra) config() string {
	o := h.Options
	ttl := ""
	if o.AccessTokenTTL > 0 {
		ttl = fmt.Sprintf("ttl:\n  access_token: %s\n", o.AccessTokenTTL)
	}
	return fmt.Sprintf(`# written by traefik/stack for one run
dsn: memory
serve:
  public:
    host: 127.0.0.1
    port: %s
  admin:
    host: 127.0.0.1
    port: %s
urls:
  self:
    issuer: %s
  login: %s/login
  consent: %s/consent
  logout: %s/logout
secrets:
  system:
    - token-handler-test-system-secret-not-for-production
oauth2:
  pkce:
    enforced: true
  grant:
    refresh_token:
      rotation_grace_period: 0s
sqa:
  opt_out: true
log:
  level: info
%s`, Port(o.PublicAddr), Port(o.AdminAddr), h.Issuer, o.LoginURL, o.LoginURL, o.LoginURL, ttl)
}

func (h *Hydra) createClients(ctx context.Context) error {
	spa := h.SPAClient(HydraClientID)
	spa["client_secret"] = HydraClientSecret
	spa["token_endpoint_auth_method"] = "client_secret_basic"
	gateway := map[string]any{
		"client_id":                  HydraIntrospectionClientID,
		"client_secret":              HydraIntrospectionClientSecret,
		"client_name":                "API gateway",
		"grant_types":                []string{"client_credentials"},
		"token_endpoint_auth_method": "client_secret_basic",
	}
	for _, client := range []map[string]any{spa, gateway} {
		if err := h.CreateClient(ctx, client); err != nil {
			return err
		}
	}
	return nil
}

// SPAClient returns the registration of an agent's client with the given id, as spa-client is
// registered but without client authentication (token_endpoint_auth_method and its secret or
// keys are the caller's): code flow, refresh tokens, HydraClientScope, HydraAudience, and the
// options' redirect URIs.
func (h *Hydra) SPAClient(clientID string) map[string]any {
	return map[string]any{
		"client_id":                 clientID,
		"client_name":               "Token handler demo SPA",
		"grant_types":               []string{"authorization_code", "refresh_token"},
		"response_types":            []string{"code"},
		"scope":                     HydraClientScope,
		"audience":                  []string{HydraAudience},
		"redirect_uris":             []string{h.Options.RedirectURI},
		"post_logout_redirect_uris": []string{h.Options.PostLogoutRedirectURI},
	}
}

// CreateClient registers an OAuth2 client through Hydra's admin API (POST /admin/clients), for
// example one with token_endpoint_auth_method private_key_jwt and its public keys in "jwks".
func (h *Hydra) CreateClient(ctx context.Context, client map[string]any) error {
	body, err := json.Marshal(client)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.AdminURL+"/admin/clients", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("creating the Hydra client %s: %w", client["client_id"], err)
	}
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("creating the Hydra client %s: %s %s", client["client_id"], resp.Status, answer)
	}
	return nil
}

// Stop stops Hydra, then the login app.
func (h *Hydra) Stop() {
	h.Hydra.Stop()
	h.Login.Stop()
}
