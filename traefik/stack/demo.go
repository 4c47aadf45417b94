package stack

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// DemoOptions say where the demo's processes listen. The zero value of an address picks a free
// loopback port; the demo command passes the documented ports, or those of its flags.
type DemoOptions struct {
	// Root is the checkout.
	Root string
	// WorkDir is Traefik's working directory, where the rendered configuration is written.
	WorkDir string
	// AuthServer is the authorization server: AuthServerOIDCProvider (the default, also for "")
	// or AuthServerHydra.
	AuthServer string
	// AgentAPI is the token handler API of the oauth-agent and bff-token middlewares, and so of
	// the SPA: AgentAPIV1 (the default, also for "") or AgentAPIV2.
	AgentAPI string
	// TraefikAddr, AuthServerAddr, APIAddr and WebHostAddr are host:port on 127.0.0.1. With
	// Hydra, AuthServerAddr is its public API (the issuer's back channel).
	TraefikAddr, AuthServerAddr, APIAddr, WebHostAddr string
	// HydraAdminAddr and HydraLoginAddr are Hydra's admin API and its login and consent app
	// (used with AuthServerHydra only).
	HydraAdminAddr, HydraLoginAddr string
	// AccessTokenTTL is the authorization server's access token lifetime in seconds (0: its default).
	AccessTokenTTL int
	// PadTokens makes the authorization server issue access, refresh and ID tokens of at least
	// this many bytes (oidc-provider's test-only PAD_TOKENS mode; 0: natural sizes).
	PadTokens int
	// Echo receives every process's output, each line prefixed with its name (nil: kept only).
	Echo *os.File
}

// Demo is the running demo system.
type Demo struct {
	Options DemoOptions
	// Processes in start order: authorization server (with Hydra: its login app, then Hydra),
	// API, web host, Traefik.
	Processes []*Process
	Traefik   *Process
	// Hydra is the running Hydra with AuthServerHydra (nil otherwise).
	Hydra *Hydra
}

// The demo's authorization servers (DemoOptions.AuthServer, make demo AUTH_SERVER=...).
const (
	// AuthServerOIDCProvider is panva's oidc-provider in example/authserver, with its
	// Curity-style introspection that answers the phantom token as a JWT.
	AuthServerOIDCProvider = "oidc-provider"
	// AuthServerHydra is Ory Hydra (bin/hydra) with example/hydralogin: plain JSON
	// introspection, so phantomToken mints the API's JWT and the API trusts the gateway's JWKS.
	AuthServerHydra = "hydra"
)

// The token handler APIs the demo speaks (DemoOptions.AgentAPI, make demo AGENT_API=...).
const (
	// AgentAPIV1 is Curity's v1 token handler API, the plugin's default.
	AgentAPIV1 = "v1"
	// AgentAPIV2 is Curity's v2 API (agentApi: v2 on oauth-agent and bff-token): no CSRF token,
	// the token-handler-version header instead, and userinfo through the OAuth Proxy.
	AgentAPIV2 = "v2"
)

// DemoUserInfoPath is the demo's OAuth Proxy route to the authorization server's userinfo
// endpoint, on api.example.localhost.
const DemoUserInfoPath = "/oauth-userinfo"

// The Hydra demo's gateway: where phantomToken serves the public key of the JWTs it mints, and
// the signing key's file name in the work directory (a new development key at every start).
const (
	DemoGatewayJWKSPath   = "/.well-known/gateway-jwks"
	demoGatewaySigningKey = "gateway-signing-key.pem"
)

// Documented addresses of the demo, as in traefik/traefik.yml and traefik/dynamic/.
const (
	DemoTraefikAddr    = "127.0.0.1:8080"
	DemoAuthServerAddr = "127.0.0.1:3000"
	DemoAPIAddr        = "127.0.0.1:3001"
	DemoWebHostAddr    = "127.0.0.1:3002"
	// With Hydra: its admin API and its login and consent app (its public API is on
	// DemoAuthServerAddr).
	DemoHydraAdminAddr = "127.0.0.1:3003"
	DemoHydraLoginAddr = "127.0.0.1:3004"
)

// Port returns the port of a host:port address.
func Port(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// URL returns the browser-facing URL of a *.localhost name through Traefik.
func (d *Demo) URL(host, path string) string {
	return "http://" + host + ":" + Port(d.Options.TraefikAddr) + path
}

// MintedIssuer is the iss of the JWTs phantomToken mints in the Hydra demo: the gateway,
// api.example.localhost through Traefik.
func (d *Demo) MintedIssuer() string { return d.URL("api.example.localhost", "") }

// StartDemo builds what is missing (Traefik, the example programs, the authorization server's
// npm packages or Hydra), starts the processes and waits until each answers. On error, whatever
// was started is stopped.
func StartDemo(ctx context.Context, o DemoOptions) (*Demo, error) {
	addrs := []*string{&o.TraefikAddr, &o.AuthServerAddr, &o.APIAddr, &o.WebHostAddr}
	switch o.AuthServer {
	case "", AuthServerOIDCProvider:
		o.AuthServer = AuthServerOIDCProvider
	case AuthServerHydra:
		if o.PadTokens > 0 {
			return nil, fmt.Errorf("PadTokens needs the %s authorization server", AuthServerOIDCProvider)
		}
		addrs = append(addrs, &o.HydraAdminAddr, &o.HydraLoginAddr)
	default:
		return nil, fmt.Errorf("unknown authorization server %q: use %s or %s", o.AuthServer, AuthServerOIDCProvider, AuthServerHydra)
	}
	switch o.AgentAPI {
	case "":
		o.AgentAPI = AgentAPIV1
	case AgentAPIV1, AgentAPIV2:
	default:
		return nil, fmt.Errorf("unknown agent API %q: use %s or %s", o.AgentAPI, AgentAPIV1, AgentAPIV2)
	}
	given := map[string]bool{}
	for _, addr := range addrs {
		if *addr == "" {
			continue
		}
		// Both would pass checkFree, and the second process would fail only once the first listens.
		if given[*addr] {
			return nil, fmt.Errorf("%s is given to two of the demo's processes", *addr)
		}
		given[*addr] = true
	}
	for _, addr := range addrs {
		if *addr == "" {
			free, err := FreeAddr()
			if err != nil {
				return nil, err
			}
			*addr = free
		} else if err := checkFree(*addr); err != nil {
			return nil, err
		}
	}
	d := &Demo{Options: o}
	if err := d.start(ctx); err != nil {
		d.Stop()
		return nil, err
	}
	return d, nil
}

func checkFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s is in use: stop what listens there (another demo?) first, or choose other ports (make demo DEMO_PORT=... and the like)", addr)
	}
	return l.Close()
}

func (d *Demo) start(ctx context.Context) error {
	o := d.Options
	bin := filepath.Join(o.Root, "bin")
	for _, program := range []string{"api", "webhost"} {
		build := exec.Command("go", "build", "-o", filepath.Join(bin, "example-"+program), "./example/"+program)
		build.Dir = o.Root
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("building example/%s: %w\n%s", program, err, out)
		}
	}
	var err error
	if o.AuthServer == AuthServerHydra {
		err = d.startHydra(ctx)
	} else {
		err = d.startOIDCProvider(ctx)
	}
	if err != nil {
		return err
	}
	web := exec.Command(filepath.Join(bin, "example-webhost"))
	web.Env = append(os.Environ(), "HOST=127.0.0.1", "PORT="+Port(o.WebHostAddr), "SPA_DIR="+filepath.Join(o.Root, "example", "spa"),
		"AGENT_API="+o.AgentAPI)
	if err := d.run(ctx, "webhost", web, "http://"+o.WebHostAddr+"/health", ""); err != nil {
		return err
	}

	static, err := d.renderConfig()
	if err != nil {
		return err
	}
	traefikBin, err := TraefikBinary(o.Root)
	if err != nil {
		return err
	}
	if err := LinkPlugin(o.WorkDir, o.Root); err != nil {
		return err
	}
	tr := exec.Command(traefikBin, "--configFile="+static)
	tr.Dir = o.WorkDir
	if err := d.run(ctx, "traefik", tr, "", ""); err != nil {
		return err
	}
	d.Traefik = d.Processes[len(d.Processes)-1]
	// The routers exist once the web host's page and the agent answer through Traefik (the v2
	// agent has no /claims: it answers 404 there).
	base := "http://" + o.TraefikAddr
	if err := WaitHTTP(ctx, d.Traefik, base+"/", "www.example.localhost", time.Minute, isOK); err != nil {
		return err
	}
	agentPath := "/oauth-agent/claims"
	if o.AgentAPI == AgentAPIV2 {
		agentPath = "/oauth-agent/session"
	}
	if err := WaitHTTP(ctx, d.Traefik, base+agentPath, "api.example.localhost", time.Minute, NotNotFound); err != nil {
		return err
	}
	if strings.Contains(d.Traefik.Output(), "Plugins are disabled") {
		return fmt.Errorf("the plugin could not be loaded by Traefik:\n%s", tail(d.Traefik.Output(), 40))
	}
	return nil
}

// startOIDCProvider starts oidc-provider and the example API, which trusts its JWTs (the
// phantom tokens its introspection returns).
func (d *Demo) startOIDCProvider(ctx context.Context) error {
	o := d.Options
	bin := filepath.Join(o.Root, "bin")
	if err := npmInstall(filepath.Join(o.Root, "example", "authserver"), o.Echo); err != nil {
		return err
	}

	issuerHost := "http://login.example.localhost:" + Port(o.TraefikAddr)
	spa := "http://www.example.localhost:" + Port(o.TraefikAddr) + "/"
	auth := exec.Command("node", "server.mjs")
	auth.Dir = filepath.Join(o.Root, "example", "authserver")
	auth.Env = append(os.Environ(), "HOST=127.0.0.1", "PORT="+Port(o.AuthServerAddr), "ISSUER="+issuerHost,
		"SPA_REDIRECT_URI="+spa, "POST_LOGOUT_REDIRECT_URI="+spa, "API_AUDIENCE=api.example.localhost")
	if o.AccessTokenTTL > 0 {
		auth.Env = append(auth.Env, fmt.Sprintf("ACCESS_TOKEN_TTL=%d", o.AccessTokenTTL))
	}
	if o.PadTokens > 0 {
		auth.Env = append(auth.Env, fmt.Sprintf("PAD_TOKENS=%d", o.PadTokens))
	}
	if err := d.run(ctx, "authserver", auth, "http://"+o.AuthServerAddr+"/.well-known/openid-configuration", ""); err != nil {
		return err
	}

	api := exec.Command(filepath.Join(bin, "example-api"))
	api.Env = append(os.Environ(), "HOST=127.0.0.1", "PORT="+Port(o.APIAddr), "JWKS_URI=http://"+o.AuthServerAddr+"/jwks",
		"ISSUER="+issuerHost, "AUDIENCE=api.example.localhost", "REQUIRED_SCOPE=read")
	return d.run(ctx, "api", api, "http://"+o.APIAddr+"/health", "")
}

// startHydra starts Hydra (public API on AuthServerAddr, behind Traefik as
// login.example.localhost, with its login app on the same name) with the demo's clients, writes
// the gateway's signing key, and starts the example API, which trusts the gateway's minted JWTs
// and fetches their keys through Traefik.
func (d *Demo) startHydra(ctx context.Context) error {
	o := d.Options
	issuer := d.URL("login.example.localhost", "")
	spa := d.URL("www.example.localhost", "/")
	hydraOptions := HydraOptions{Root: o.Root, WorkDir: o.WorkDir, PublicAddr: o.AuthServerAddr, AdminAddr: o.HydraAdminAddr,
		LoginAddr: o.HydraLoginAddr, Issuer: issuer, LoginURL: issuer, RedirectURI: spa, Echo: o.Echo}
	if o.AccessTokenTTL > 0 {
		hydraOptions.AccessTokenTTL = time.Duration(o.AccessTokenTTL) * time.Second
	}
	h, err := StartHydra(ctx, hydraOptions)
	if err != nil {
		return err
	}
	d.Hydra = h
	d.Processes = append(d.Processes, h.Login, h.Hydra)
	if err := writeSigningKey(filepath.Join(o.WorkDir, demoGatewaySigningKey)); err != nil {
		return err
	}

	api := exec.Command(filepath.Join(o.Root, "bin", "example-api"))
	api.Env = append(os.Environ(), "HOST=127.0.0.1", "PORT="+Port(o.APIAddr), "JWKS_URI=http://"+o.TraefikAddr+DemoGatewayJWKSPath,
		"ISSUER="+d.MintedIssuer(), "AUDIENCE=api.example.localhost", "REQUIRED_SCOPE=read")
	return d.run(ctx, "api", api, "http://"+o.APIAddr+"/health", "")
}

// writeSigningKey writes a new P-256 development key in PKCS#8 PEM: the key phantomToken signs
// the minted JWTs with in the Hydra demo.
func writeSigningKey(path string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

func isOK(resp *http.Response) bool { return resp.StatusCode == http.StatusOK }

// run starts a process and, when readyURL is set, waits until it answers 200 there.
func (d *Demo) run(ctx context.Context, name string, cmd *exec.Cmd, readyURL, host string) error {
	p, err := Start(name, cmd, d.Options.Echo)
	if err != nil {
		return err
	}
	d.Processes = append(d.Processes, p)
	if readyURL == "" {
		return nil
	}
	return WaitHTTP(ctx, p, readyURL, host, time.Minute, isOK)
}

// renderConfig writes traefik/traefik.yml and the dynamic configuration (DynamicConfig) into the
// work directory with the demo's documented addresses replaced by the ones in use, and returns the
// static file's path.
func (d *Demo) renderConfig() (string, error) {
	o := d.Options
	// The directory is the file provider's: a file of an earlier run with the other
	// authorization server would add its routers, so it starts empty.
	dynDir := filepath.Join(o.WorkDir, "dynamic")
	if err := os.RemoveAll(dynDir); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dynDir, 0o755); err != nil {
		return "", err
	}
	files, err := DynamicConfig(o)
	if err != nil {
		return "", err
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dynDir, name), []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	data, err := os.ReadFile(filepath.Join(o.Root, "traefik", "traefik.yml"))
	if err != nil {
		return "", err
	}
	static := filepath.Join(o.WorkDir, "traefik.yml")
	return static, os.WriteFile(static, []byte(o.replacer(dynDir).Replace(string(data))), 0o644)
}

// DynamicConfig returns the demo's dynamic configuration files by name: those of
// traefik/dynamic/ for oidc-provider, demoHydraYAML for Hydra, with the documented addresses
// replaced by the options' (addresses left empty keep theirs) and, with AgentAPIV2, agentApi: v2
// on the oauth-agent and bff-token middlewares. With the documented (or empty) addresses, no
// WorkDir and AgentAPIV1 (or "") they are the files as they stand.
func DynamicConfig(o DemoOptions) (map[string]string, error) {
	replacer := o.replacer(filepath.Join(o.WorkDir, "dynamic"))
	sources := map[string]string{}
	if o.AuthServer == AuthServerHydra {
		sources["demo-hydra.yml"] = demoHydraYAML
	} else {
		files, err := filepath.Glob(filepath.Join(o.Root, "traefik", "dynamic", "*.yml"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			sources[filepath.Base(f)] = string(data)
		}
	}
	rendered := make(map[string]string, len(sources))
	for name, content := range sources {
		content = replacer.Replace(content)
		if o.AgentAPI == AgentAPIV2 {
			var err error
			if content, err = withAgentAPI(content, AgentAPIV2); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
		rendered[name] = content
	}
	return rendered, nil
}

// withAgentAPI sets agentApi on the oauthAgent and bffToken roles of a dynamic configuration
// whose plugin settings are indented as the demo's are; each role must be there exactly once, so
// that a reworded file cannot leave a middleware at the v1 default unnoticed.
func withAgentAPI(content, api string) (string, error) {
	for _, role := range []string{"oauthAgent", "bffToken"} {
		key := "\n          " + role + ":\n"
		if n := strings.Count(content, key); n != 1 {
			return "", fmt.Errorf("%d %s middlewares where agentApi is to be set, want 1", n, role)
		}
		content = strings.Replace(content, key, key+"            agentApi: "+api+"\n", 1)
	}
	return content, nil
}

// replacer replaces the documented addresses of the demo's configuration files by the options'
// (an empty address keeps the documented one), the signing key's file name by its path in the
// work directory, and the file provider's directory by dynDir.
func (o DemoOptions) replacer(dynDir string) *strings.Replacer {
	pairs := []string{}
	for _, addr := range [][2]string{
		{DemoTraefikAddr, o.TraefikAddr},
		{"localhost:" + Port(DemoTraefikAddr), "localhost:" + Port(o.TraefikAddr)},
		{DemoAuthServerAddr, o.AuthServerAddr},
		{DemoAPIAddr, o.APIAddr},
		{DemoWebHostAddr, o.WebHostAddr},
		{DemoHydraAdminAddr, o.HydraAdminAddr},
		{DemoHydraLoginAddr, o.HydraLoginAddr},
	} {
		if addr[1] != "" && addr[1] != "localhost:" {
			pairs = append(pairs, addr[0], addr[1])
		}
	}
	pairs = append(pairs,
		"signingKeyFile: "+demoGatewaySigningKey, "signingKeyFile: "+filepath.Join(o.WorkDir, demoGatewaySigningKey),
		"directory: traefik/dynamic", "directory: "+dynDir,
	)
	return strings.NewReplacer(pairs...)
}

// npmInstall runs npm ci when the authorization server's packages are missing or older than the
// lockfile.
func npmInstall(dir string, echo *os.File) error {
	lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return err
	}
	if installed, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err == nil && !installed.ModTime().Before(lock.ModTime()) {
		return nil
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if echo != nil {
		_, _ = echo.Write(out)
	}
	if err != nil {
		return fmt.Errorf("npm ci in %s: %w\n%s", dir, err, out)
	}
	return nil
}

// Stop stops every process, the last started first.
func (d *Demo) Stop() {
	for i := len(d.Processes) - 1; i >= 0; i-- {
		d.Processes[i].Stop()
	}
}

// demoHydraYAML is the Hydra demo's dynamic configuration, with the documented addresses that
// renderConfig replaces like those of traefik/dynamic/demo.yml. It is not a file of
// traefik/dynamic, which the file provider of traefik/traefik.yml loads as a whole: its routers
// would clash with demo.yml's. Rules quote with double quotes, which Traefik accepts as it does
// backticks.
const demoHydraYAML = `# Dynamic configuration of the demo against Ory Hydra (make demo AUTH_SERVER=hydra), written by
# traefik/stack into the work directory instead of traefik/dynamic/demo.yml: the same
# request flow as demo.yml, with Hydra as the authorization server and phantomToken in minted
# mode, because Hydra's introspection answers plain RFC 7662 JSON only.
#
#   www.example.localhost                          -> web host (the SPA's files)
#   api.example.localhost/oauth-agent              -> [oauth-agent] -> noop@internal
#   api.example.localhost/api                      -> [bff-token, phantom-token] -> example API
#   api.example.localhost/oauth-userinfo           -> [bff-token, oauth-userinfo-cors,
#                                                     oauth-userinfo-path] -> Hydra's /userinfo
#   /.well-known/gateway-jwks (any host)           -> [phantom-token] (the gateway's JWKS)
#   login.example.localhost/login|consent|logout   -> Hydra's login and consent app
#   login.example.localhost                        -> Hydra's public API (the issuer)
#
# oauth-userinfo is the OAuth Proxy in front of userinfo, as in demo.yml (which says why
# oauth-userinfo-cors is there: Hydra adds no CORS headers of its own unless its CORS is enabled,
# and then the middleware still leaves one Access-Control-Allow-Origin).
# Browser-facing URLs (issuer, authorization and end-session endpoints, the login app) use the
# *.localhost names through Traefik on port 8080; back-channel URLs go straight to 127.0.0.1:
# Hydra's public API on 3000 (token, userinfo, JWKS, revocation) and its admin API on 3003
# (introspection, which authenticates nobody: never expose the admin port). The example API
# fetches the gateway's JWKS through Traefik on 127.0.0.1:8080, which the Path-only router allows.
#
# The encryption key, client secret and the signing key (a new one written into the demo's work
# directory at every start) are development values: never use them outside this demo.
http:
  routers:
    oauth-agent:
      rule: Host("api.example.localhost") && PathPrefix("/oauth-agent")
      entryPoints: [web]
      middlewares: [oauth-agent]
      service: noop@internal
    api:
      rule: Host("api.example.localhost") && PathPrefix("/api")
      entryPoints: [web]
      middlewares: [bff-token, phantom-token]
      service: api
    oauth-userinfo:
      rule: Host("api.example.localhost") && Path("/oauth-userinfo")
      entryPoints: [web]
      middlewares: [bff-token, oauth-userinfo-cors, oauth-userinfo-path]
      service: authserver
    gateway-jwks:
      rule: Path("/.well-known/gateway-jwks")
      entryPoints: [web]
      middlewares: [phantom-token]
      service: noop@internal
    web:
      rule: Host("www.example.localhost")
      entryPoints: [web]
      service: webhost
    login-app:
      rule: Host("login.example.localhost") && (Path("/login") || Path("/consent") || Path("/logout"))
      entryPoints: [web]
      service: hydralogin
    login:
      rule: Host("login.example.localhost")
      entryPoints: [web]
      service: authserver

  middlewares:
    oauth-agent:
      plugin:
        tokenhandler:
          oauthAgent:
            issuer: http://login.example.localhost:8080
            authorizationEndpoint: http://login.example.localhost:8080/oauth2/auth
            endSessionEndpoint: http://login.example.localhost:8080/oauth2/sessions/logout
            tokenEndpoint: http://127.0.0.1:3000/oauth2/token
            userInfoEndpoint: http://127.0.0.1:3000/userinfo
            jwksUri: http://127.0.0.1:3000/.well-known/jwks.json
            revocationEndpoint: http://127.0.0.1:3000/oauth2/revoke
            clientId: spa-client
            clientSecret: Password1
            redirectUri: http://www.example.localhost:8080/
            postLogoutRedirectUri: http://www.example.localhost:8080/
            scope: openid offline_access profile read
            cookieNamePrefix: example
            encryptionKey: 4e4636356d65563e4c73233847503e3b21436e6f7629724950526f4b5e2e4e50
            trustedWebOrigins:
              - http://www.example.localhost:8080
    bff-token:
      plugin:
        tokenhandler:
          bffToken:
            cookieNamePrefix: example
            encryptionKey: 4e4636356d65563e4c73233847503e3b21436e6f7629724950526f4b5e2e4e50
            trustedWebOrigins:
              - http://www.example.localhost:8080
    phantom-token:
      plugin:
        tokenhandler:
          phantomToken:
            introspectionEndpoint: http://127.0.0.1:3003/admin/oauth2/introspect
            clientId: api-gateway-client
            clientSecret: Password1
            signingKeyFile: gateway-signing-key.pem
            mintedIssuer: http://api.example.localhost:8080
            mintedAudience: api.example.localhost
            jwksPath: /.well-known/gateway-jwks
            requiredScopes: [read]
    oauth-userinfo-cors:
      headers:
        accessControlAllowOriginList:
          - http://www.example.localhost:8080
        accessControlAllowCredentials: true
    oauth-userinfo-path:
      replacePath:
        path: /userinfo

  services:
    api:
      loadBalancer:
        servers:
          - url: http://127.0.0.1:3001
    webhost:
      loadBalancer:
        servers:
          - url: http://127.0.0.1:3002
    authserver:
      loadBalancer:
        servers:
          - url: http://127.0.0.1:3000
    hydralogin:
      loadBalancer:
        servers:
          - url: http://127.0.0.1:3004
`
