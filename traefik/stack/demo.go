package stack

import (
	"context"
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
// loopback port; the demo command passes the documented ports.
type DemoOptions struct {
	// Root is the checkout.
	Root string
	// WorkDir is Traefik's working directory, where the rendered configuration is written.
	WorkDir string
	// TraefikAddr, AuthServerAddr, APIAddr and WebHostAddr are host:port on 127.0.0.1.
	TraefikAddr, AuthServerAddr, APIAddr, WebHostAddr string
	// AccessTokenTTL is the authorization server's access token lifetime in seconds (0: its default).
	AccessTokenTTL int
	// PadTokens makes the authorization server issue access, refresh and ID tokens of at least
	// this many bytes (its test-only PAD_TOKENS mode; 0: natural sizes).
	PadTokens int
	// Echo receives every process's output, each line prefixed with its name (nil: kept only).
	Echo *os.File
}

// Demo is the running demo system.
type Demo struct {
	Options DemoOptions
	// Processes in start order: authorization server, API, web host, Traefik.
	Processes []*Process
	Traefik   *Process
}

// Documented addresses of the demo, as in traefik/traefik.yml and traefik/dynamic/.
const (
	DemoTraefikAddr    = "127.0.0.1:8080"
	DemoAuthServerAddr = "127.0.0.1:3000"
	DemoAPIAddr        = "127.0.0.1:3001"
	DemoWebHostAddr    = "127.0.0.1:3002"
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

// StartDemo builds what is missing (Traefik, the example programs, the authorization server's
// npm packages), starts the four processes and waits until each answers. On error, whatever was
// started is stopped.
func StartDemo(ctx context.Context, o DemoOptions) (*Demo, error) {
	for _, addr := range []*string{&o.TraefikAddr, &o.AuthServerAddr, &o.APIAddr, &o.WebHostAddr} {
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
		return fmt.Errorf("%s is in use: stop what listens there (another demo?) first", addr)
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
	if err := d.run(ctx, "api", api, "http://"+o.APIAddr+"/health", ""); err != nil {
		return err
	}
	web := exec.Command(filepath.Join(bin, "example-webhost"))
	web.Env = append(os.Environ(), "HOST=127.0.0.1", "PORT="+Port(o.WebHostAddr), "SPA_DIR="+filepath.Join(o.Root, "example", "spa"))
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
	// The routers exist once the web host's page and the agent answer through Traefik.
	base := "http://" + o.TraefikAddr
	if err := WaitHTTP(ctx, d.Traefik, base+"/", "www.example.localhost", time.Minute, isOK); err != nil {
		return err
	}
	if err := WaitHTTP(ctx, d.Traefik, base+"/oauth-agent/claims", "api.example.localhost", time.Minute, NotNotFound); err != nil {
		return err
	}
	if strings.Contains(d.Traefik.Output(), "Plugins are disabled") {
		return fmt.Errorf("the plugin could not be loaded by Traefik:\n%s", tail(d.Traefik.Output(), 40))
	}
	return nil
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

// renderConfig writes traefik/traefik.yml and traefik/dynamic/ into the work directory with the
// demo's documented addresses replaced by the ones in use, and returns the static file's path.
func (d *Demo) renderConfig() (string, error) {
	o := d.Options
	dynDir := filepath.Join(o.WorkDir, "dynamic")
	if err := os.MkdirAll(dynDir, 0o755); err != nil {
		return "", err
	}
	replacer := strings.NewReplacer(
		DemoTraefikAddr, o.TraefikAddr,
		"localhost:"+Port(DemoTraefikAddr), "localhost:"+Port(o.TraefikAddr),
		DemoAuthServerAddr, o.AuthServerAddr,
		DemoAPIAddr, o.APIAddr,
		DemoWebHostAddr, o.WebHostAddr,
		"directory: traefik/dynamic", "directory: "+dynDir,
	)
	files, err := filepath.Glob(filepath.Join(o.Root, "traefik", "dynamic", "*.yml"))
	if err != nil {
		return "", err
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dynDir, filepath.Base(f)), []byte(replacer.Replace(string(data))), 0o644); err != nil {
			return "", err
		}
	}
	data, err := os.ReadFile(filepath.Join(o.Root, "traefik", "traefik.yml"))
	if err != nil {
		return "", err
	}
	static := filepath.Join(o.WorkDir, "traefik.yml")
	return static, os.WriteFile(static, []byte(replacer.Replace(string(data))), 0o644)
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
