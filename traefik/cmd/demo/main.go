// Command demo starts the whole demo system on loopback (the README's first command, make demo):
// the authorization server, the example API, the SPA's web host and Traefik with the token
// handler plugin, and stops them all on Ctrl-C.
//
// The authorization server is oidc-provider, or Ory Hydra with -auth-server hydra (make demo
// AUTH_SERVER=hydra); the flag's default is $AUTH_SERVER, else oidc-provider. The token handler
// API is Curity's v1, or its v2 with -agent-api v2 (make demo AGENT_API=v2): agentApi: v2 on the
// oauth-agent and bff-token middlewares, and the SPA speaks v2; the flag's default is
// $AGENT_API, else v1.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/tokenhandler/traefik-token-handler/traefik/stack"
)

func main() {
	authServer := os.Getenv("AUTH_SERVER")
	if authServer == "" {
		authServer = stack.AuthServerOIDCProvider
	}
	flag.StringVar(&authServer, "auth-server", authServer,
		"the authorization server: "+stack.AuthServerOIDCProvider+" or "+stack.AuthServerHydra+" (default $AUTH_SERVER, else "+stack.AuthServerOIDCProvider+")")
	agentAPI := os.Getenv("AGENT_API")
	if agentAPI == "" {
		agentAPI = stack.AgentAPIV1
	}
	flag.StringVar(&agentAPI, "agent-api", agentAPI,
		"the token handler API of the agent, the OAuth Proxy and the SPA: "+stack.AgentAPIV1+" or "+stack.AgentAPIV2+" (default $AGENT_API, else "+stack.AgentAPIV1+")")
	flag.Parse()
	if authServer != stack.AuthServerOIDCProvider && authServer != stack.AuthServerHydra {
		fmt.Fprintf(os.Stderr, "demo: unknown authorization server %q: use %s or %s\n", authServer, stack.AuthServerOIDCProvider, stack.AuthServerHydra)
		os.Exit(2)
	}
	if agentAPI != stack.AgentAPIV1 && agentAPI != stack.AgentAPIV2 {
		fmt.Fprintf(os.Stderr, "demo: unknown agent API %q: use %s or %s\n", agentAPI, stack.AgentAPIV1, stack.AgentAPIV2)
		os.Exit(2)
	}
	root := stack.RepoRoot()
	work := filepath.Join(root, "tmp", "demo")
	if err := os.MkdirAll(work, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	o := stack.DemoOptions{
		Root:           root,
		WorkDir:        work,
		AuthServer:     authServer,
		AgentAPI:       agentAPI,
		TraefikAddr:    stack.DemoTraefikAddr,
		AuthServerAddr: stack.DemoAuthServerAddr,
		APIAddr:        stack.DemoAPIAddr,
		WebHostAddr:    stack.DemoWebHostAddr,
		Echo:           os.Stdout,
	}
	if authServer == stack.AuthServerHydra {
		o.HydraAdminAddr, o.HydraLoginAddr = stack.DemoHydraAdminAddr, stack.DemoHydraLoginAddr
		fmt.Println("Starting the demo against Ory Hydra: Hydra and its login app, API, web host and Traefik (the first run builds Traefik and Hydra)...")
	} else {
		fmt.Println("Starting the demo: authorization server, API, web host and Traefik (the first run builds Traefik and installs npm packages)...")
	}
	demo, err := stack.StartDemo(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	fmt.Printf(`
The demo is running.

  Open      http://www.example.localhost:8080/   (Chromium, Chrome, Firefox or Edge: *.localhost needs no /etc/hosts entry)
  Sign in   demouser / Password1

  Agent     http://api.example.localhost:8080/oauth-agent   (token handler API %s)
  API       http://api.example.localhost:8080/api/data
  Userinfo  http://api.example.localhost:8080%s   (through the OAuth Proxy)
  Login     http://login.example.localhost:8080/.well-known/openid-configuration   (%s)
%s
Press Ctrl-C to stop every process.
`, agentAPI, stack.DemoUserInfoPath, authServer, hydraNote(authServer))
	<-ctx.Done()
	fmt.Println("\nStopping...")
	demo.Stop()
}

// hydraNote is what the Hydra demo adds to the banner: where the gateway's keys are.
func hydraNote(authServer string) string {
	if authServer != stack.AuthServerHydra {
		return ""
	}
	return "  Keys      http://api.example.localhost:8080" + stack.DemoGatewayJWKSPath +
		"   (phantomToken mints the API's JWTs: Hydra introspects to plain JSON)\n"
}
