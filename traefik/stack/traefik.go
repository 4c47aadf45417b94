// Package stack starts the processes of the demo system on loopback: Traefik with the plugin in
// local mode, the authorization server, the example API and the SPA's web host. The demo command
// and the end-to-end tests use it, so that the tests run the system exactly as users run it.
package stack

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ModulePath is the plugin's module, as Traefik's static configuration names it.
const ModulePath = "github.com/tokenhandler/traefik-token-handler"

// TraefikVersion is the Traefik release the traefik/ module pins as a Go tool.
const TraefikVersion = "v3.6.12"

// RepoRoot is the checkout this package is built from.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// TraefikBinary returns bin/traefik, building it from the traefik/ module's pinned tool first if
// it is missing (about six minutes the first time on two cores).
func TraefikBinary(root string) (string, error) {
	bin := filepath.Join(root, "bin", "traefik")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	cmd := exec.Command("go", "build", "-o", bin, "github.com/traefik/traefik/v3/cmd/traefik")
	cmd.Dir = filepath.Join(root, "traefik")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	fmt.Fprintf(os.Stderr, "building Traefik %s into %s (the first build takes several minutes)\n", TraefikVersion, bin)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building Traefik: %w", err)
	}
	return bin, nil
}

// LinkPlugin makes dir/plugins-local/src/<module> point at the checkout root, which is where
// Traefik's local plugin mode looks for the plugin, relative to its working directory.
func LinkPlugin(dir, root string) error {
	link := filepath.Join(dir, "plugins-local", "src", filepath.FromSlash(ModulePath))
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return err
	}
	if target, err := os.Readlink(link); err == nil && target == root {
		return nil
	}
	_ = os.Remove(link)
	return os.Symlink(root, link)
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// TraefikOptions say how to run Traefik.
type TraefikOptions struct {
	// Root is the checkout; its plugin is loaded in local mode.
	Root string
	// WorkDir is Traefik's working directory, where plugins-local/ is linked.
	WorkDir string
	// Addr is the web entry point's address, such as 127.0.0.1:8080.
	Addr string
	// DynamicDir is the file provider's directory.
	DynamicDir string
	// LogLevel is Traefik's log level (default INFO).
	LogLevel string
	// Env is added to Traefik's environment, for {{ env "X" }} in dynamic files.
	Env []string
	// Stdout receives Traefik's output besides the captured log, if set.
	Stdout *os.File
	// LocalPlugins are more local plugins to load, alias to module path (under this checkout).
	LocalPlugins map[string]string
	// DebugAddr, when set, serves Traefik's API with its debug endpoints (/debug/pprof/...) there.
	DebugAddr string
	// MetricsAddr, when set, serves Prometheus metrics there (at /metrics) with every per-request
	// label off, so that only Go's and the process's own statistics are kept: the memory
	// statistics the benchmarks read between rounds, at no cost per request.
	MetricsAddr string
}

// Process is a started process whose output is kept for inspection.
type Process struct {
	Name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

// Pid is the process's id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Output returns everything the process printed so far.
func (p *Process) Output() string { return p.out.String() }

// Stop ends the process: SIGTERM, then SIGKILL after five seconds.
func (p *Process) Stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Start runs a command in its own process group, keeping its output.
func Start(name string, cmd *exec.Cmd, echo *os.File) (*Process, error) {
	p := &Process{Name: name, cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	if echo != nil {
		cmd.Stdout = multi(p.out, echo, name)
	} else {
		cmd.Stdout = p.out
	}
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// StartTraefik writes a static configuration for local plugin mode and starts Traefik.
func StartTraefik(o TraefikOptions) (*Process, error) {
	bin, err := TraefikBinary(o.Root)
	if err != nil {
		return nil, err
	}
	if err := LinkPlugin(o.WorkDir, o.Root); err != nil {
		return nil, err
	}
	level := o.LogLevel
	if level == "" {
		level = "INFO"
	}
	plugins := "    tokenhandler:\n      moduleName: " + ModulePath + "\n"
	for alias, module := range o.LocalPlugins {
		plugins += "    " + alias + ":\n      moduleName: " + module + "\n"
	}
	// Extra entry points, then the top-level sections that use them.
	entryPoints, sections := "", ""
	if o.DebugAddr != "" {
		entryPoints += fmt.Sprintf("  traefik:\n    address: %q\n", o.DebugAddr)
		sections += "api:\n  insecure: true\n  debug: true\n"
	}
	if o.MetricsAddr != "" {
		entryPoints += fmt.Sprintf("  metrics:\n    address: %q\n", o.MetricsAddr)
		sections += "metrics:\n  prometheus:\n    entryPoint: metrics\n" +
			"    addEntryPointsLabels: false\n    addRoutersLabels: false\n    addServicesLabels: false\n"
	}
	static := fmt.Sprintf(`# written by traefik/stack for one run
entryPoints:
  web:
    address: %q
`+entryPoints+sections+`providers:
  file:
    directory: %q
    watch: true
experimental:
  localPlugins:
%slog:
  level: %s
`, o.Addr, o.DynamicDir, plugins, level)
	staticFile := filepath.Join(o.WorkDir, "traefik-static.yml")
	if err := os.WriteFile(staticFile, []byte(static), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--configFile="+staticFile)
	cmd.Dir = o.WorkDir
	cmd.Env = append(os.Environ(), o.Env...)
	return Start("traefik", cmd, o.Stdout)
}

// WaitHTTP polls url with the given Host header until ready says the answer is good, the
// process exits, or the timeout passes.
func WaitHTTP(ctx context.Context, p *Process, url, host string, timeout time.Duration, ready func(*http.Response) bool) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var last string
	for time.Now().Before(deadline) {
		if p != nil {
			if exited, err := p.Exited(); exited {
				return fmt.Errorf("%s exited (%v) before %s answered:\n%s", p.Name, err, url, tail(p.Output(), 40))
			}
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if host != "" {
			req.Host = host
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if ready(resp) {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	out := ""
	if p != nil {
		out = "\n" + tail(p.Output(), 40)
	}
	return fmt.Errorf("%s (Host %s) not ready after %v, last answer: %s%s", url, host, timeout, last, out)
}

// NotNotFound is a readiness check for a router: Traefik answers 404 until it has the route.
func NotNotFound(resp *http.Response) bool { return resp.StatusCode != http.StatusNotFound }

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type prefixWriter struct {
	keep   *syncBuffer
	echo   *os.File
	prefix string
}

func multi(keep *syncBuffer, echo *os.File, name string) *prefixWriter {
	return &prefixWriter{keep: keep, echo: echo, prefix: "[" + name + "] "}
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	_, _ = w.keep.Write(p)
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if line != "" {
			_, _ = w.echo.WriteString(w.prefix + line)
		}
	}
	return len(p), nil
}

// WriteDynamic writes content as the only file of workDir/dynamic, the file provider's directory
// for one Traefik run, and returns the file's path (its directory is TraefikOptions.DynamicDir).
func WriteDynamic(workDir, content string) (string, error) {
	dir := filepath.Join(workDir, "dynamic")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	file := filepath.Join(dir, "dynamic.yml")
	return file, os.WriteFile(file, []byte(content), 0o644)
}
