// Command demo starts the whole demo system on loopback (the README's first command, make demo):
// the authorization server, the example API, the SPA's web host and Traefik with the token
// handler plugin, and stops them all on Ctrl-C.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/tokenhandler/traefik-token-handler/traefik/stack"
)

func main() {
	root := stack.RepoRoot()
	work := filepath.Join(root, "tmp", "demo")
	if err := os.MkdirAll(work, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Println("Starting the demo: authorization server, API, web host and Traefik (the first run builds Traefik and installs npm packages)...")
	demo, err := stack.StartDemo(ctx, stack.DemoOptions{
		Root:           root,
		WorkDir:        work,
		TraefikAddr:    stack.DemoTraefikAddr,
		AuthServerAddr: stack.DemoAuthServerAddr,
		APIAddr:        stack.DemoAPIAddr,
		WebHostAddr:    stack.DemoWebHostAddr,
		Echo:           os.Stdout,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	fmt.Printf(`
The demo is running.

  Open      http://www.example.localhost:8080/   (Chromium, Chrome, Firefox or Edge: *.localhost needs no /etc/hosts entry)
  Sign in   demouser / Password1

  Agent     http://api.example.localhost:8080/oauth-agent
  API       http://api.example.localhost:8080/api/data
  Login     http://login.example.localhost:8080/.well-known/openid-configuration

Press Ctrl-C to stop every process.
`)
	<-ctx.Done()
	fmt.Println("\nStopping...")
	demo.Stop()
}
