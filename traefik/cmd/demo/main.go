// Command demo starts the whole demo system on loopback (the README's first command, make demo):
// the authorization server, the example API, the SPA's web host and Traefik with the token
// handler plugin, and stops them all on Ctrl-C.
//
// The authorization server is oidc-provider, or Ory Hydra with -auth-server hydra (make demo
// AUTH_SERVER=hydra); the flag's default is $AUTH_SERVER, else oidc-provider. The token handler
// API is Curity's v1, or its v2 with -agent-api v2 (make demo AGENT_API=v2): agentApi: v2 on the
// oauth-agent and bff-token middlewares, and the SPA speaks v2; the flag's default is
// $AGENT_API, else v1.
//
// Every process listens on 127.0.0.1, by default on the documented ports: Traefik on 8080, the
// authorization server on 3000 (with Hydra: its public API; its admin API on 3003 and its login
// app on 3004), the API on 3001 and the web host on 3002. -port, -auth-server-port, -api-port,
// -webhost-port, -hydra-admin-port and -hydra-login-port change them (make demo DEMO_PORT=...
// and the like); the browser-facing URLs, the SPA's redirect URIs and the authorization server's
// issuer follow -port.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
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
	traefikPort := portFlag("port", stack.DemoTraefikAddr, "Traefik's port, the one the browser uses (make demo DEMO_PORT)")
	authServerPort := portFlag("auth-server-port", stack.DemoAuthServerAddr,
		"the authorization server's port; with Hydra, its public API's (make demo DEMO_AUTH_SERVER_PORT)")
	apiPort := portFlag("api-port", stack.DemoAPIAddr, "the example API's port (make demo DEMO_API_PORT)")
	webHostPort := portFlag("webhost-port", stack.DemoWebHostAddr, "the SPA's web host's port (make demo DEMO_WEBHOST_PORT)")
	hydraAdminPort := portFlag("hydra-admin-port", stack.DemoHydraAdminAddr, "Hydra's admin API's port (make demo DEMO_HYDRA_ADMIN_PORT)")
	hydraLoginPort := portFlag("hydra-login-port", stack.DemoHydraLoginAddr,
		"the port of Hydra's login and consent app (make demo DEMO_HYDRA_LOGIN_PORT)")
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
		TraefikAddr:    loopback(*traefikPort),
		AuthServerAddr: loopback(*authServerPort),
		APIAddr:        loopback(*apiPort),
		WebHostAddr:    loopback(*webHostPort),
		Echo:           os.Stdout,
	}
	if authServer == stack.AuthServerHydra {
		o.HydraAdminAddr, o.HydraLoginAddr = loopback(*hydraAdminPort), loopback(*hydraLoginPort)
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

  Open      %s   (Chromium, Chrome, Firefox or Edge: *.localhost needs no /etc/hosts entry)
  Sign in   demouser / Password1

  Agent     %s   (token handler API %s)
  API       %s
  Userinfo  %s   (through the OAuth Proxy)
  Login     %s   (%s)
%s%s
Press Ctrl-C to stop every process.
`, demo.URL("www.example.localhost", "/"), demo.URL("api.example.localhost", "/oauth-agent"), agentAPI,
		demo.URL("api.example.localhost", "/api/data"), demo.URL("api.example.localhost", stack.DemoUserInfoPath),
		demo.URL("login.example.localhost", "/.well-known/openid-configuration"), authServer, hydraNote(demo), portsNote(o))
	<-ctx.Done()
	fmt.Println("\nStopping...")
	demo.Stop()
}

// portFlag defines a port flag whose default is the port of a documented address.
func portFlag(name, documentedAddr, usage string) *int {
	port, _ := strconv.Atoi(stack.Port(documentedAddr))
	return flag.Int(name, port, usage)
}

// loopback is the 127.0.0.1 address of a port flag's value; a value that is no port exits, so
// that the demo does not start some processes before one fails to listen.
func loopback(port int) string {
	if port < 1 || port > 65535 {
		fmt.Fprintf(os.Stderr, "demo: %d is not a TCP port\n", port)
		os.Exit(2)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// hydraNote is what the Hydra demo adds to the banner: where the gateway's keys are.
func hydraNote(demo *stack.Demo) string {
	if demo.Options.AuthServer != stack.AuthServerHydra {
		return ""
	}
	return "  Keys      " + demo.URL("api.example.localhost", stack.DemoGatewayJWKSPath) +
		"   (phantomToken mints the API's JWTs: Hydra introspects to plain JSON)\n"
}

// portsNote says which ports the processes listen on, and how to change them when one is taken.
func portsNote(o stack.DemoOptions) string {
	backEnds := "authorization server " + stack.Port(o.AuthServerAddr)
	if o.AuthServer == stack.AuthServerHydra {
		backEnds = "Hydra " + stack.Port(o.AuthServerAddr) + " (admin " + stack.Port(o.HydraAdminAddr) +
			"), login app " + stack.Port(o.HydraLoginAddr)
	}
	return "  Ports     Traefik " + stack.Port(o.TraefikAddr) + "; on 127.0.0.1 too: " + backEnds +
		", API " + stack.Port(o.APIAddr) + ", web host " + stack.Port(o.WebHostAddr) + "\n" +
		"            (make demo DEMO_PORT=... and the other DEMO_*_PORT variables change them: see the Makefile)\n"
}
