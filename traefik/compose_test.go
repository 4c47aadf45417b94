package traefik_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/traefik/traefik/v3/pkg/config/dynamic"
	"gopkg.in/yaml.v3"

	"github.com/tokenhandler/traefik-token-handler/traefik/stack"
)

// composeFile is the part of docker-compose.yml the tests read.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image   string    `yaml:"image"`
	Command yaml.Node `yaml:"command"`
	Volumes []string  `yaml:"volumes"`
	Labels  yaml.Node `yaml:"labels"`
}

// labels returns the service's labels, given as a list of "key=value" or as a map.
func (s composeService) labels(t *testing.T) map[string]string {
	t.Helper()
	labels := map[string]string{}
	switch s.Labels.Kind {
	case 0:
	case yaml.SequenceNode:
		for _, item := range s.Labels.Content {
			k, v, ok := strings.Cut(item.Value, "=")
			if item.Kind != yaml.ScalarNode || !ok {
				t.Fatalf("line %d: label %q is not key=value", item.Line, item.Value)
			}
			if _, dup := labels[k]; dup {
				t.Errorf("line %d: label %s given twice", item.Line, k)
			}
			labels[k] = v
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(s.Labels.Content); i += 2 {
			k, v := s.Labels.Content[i], s.Labels.Content[i+1]
			if v.Kind != yaml.ScalarNode {
				t.Fatalf("line %d: label %s is not a scalar", v.Line, k.Value)
			}
			labels[k.Value] = v.Value
		}
	default:
		t.Fatalf("line %d: labels are neither a list nor a map", s.Labels.Line)
	}
	return labels
}

// command returns the service's command, given as a list or as a string.
func (s composeService) command() []string {
	switch s.Command.Kind {
	case yaml.SequenceNode:
		var args []string
		for _, item := range s.Command.Content {
			args = append(args, item.Value)
		}
		return args
	case yaml.ScalarNode:
		return strings.Fields(s.Command.Value)
	}
	return nil
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile(repoFile("docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose composeFile
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatal(err)
	}
	if len(compose.Services) == 0 {
		t.Fatal("docker-compose.yml has no services")
	}
	return compose
}

// demoDynamic decodes traefik/dynamic/demo.yml as Traefik's file provider does.
func demoDynamic(t *testing.T) *dynamic.Configuration {
	t.Helper()
	data, err := os.ReadFile(repoFile("traefik/dynamic/demo.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return dynamicFromFile(t, string(data), ".yml")
}

// TestDockerComposeLabelsBuild decodes every service's labels of docker-compose.yml with Traefik's
// docker label decoder, builds each tokenhandler middleware with the interpreted plugin, and
// checks that the routing and every plugin setting are those of traefik/dynamic/demo.yml, with
// the back channel on http://authserver:3000 instead of http://127.0.0.1:3000.
func TestDockerComposeLabelsBuild(t *testing.T) {
	compose := readCompose(t)

	routers := map[string]*dynamic.Router{}
	middlewares := map[string]*dynamic.Middleware{}
	services := map[string]*dynamic.Service{}
	built := 0
	names := make([]string, 0, len(compose.Services))
	for name := range compose.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		labels := compose.Services[name].labels(t)
		if len(labels) == 0 {
			continue
		}
		// exposedbydefault=false: a container without traefik.enable=true is ignored.
		if labels["traefik.enable"] != "true" {
			t.Errorf("service %s has traefik labels but not traefik.enable=true", name)
		}
		conf := dynamicFromLabels(t, labels)
		built += buildPluginMiddlewares(t, conf, "docker")
		// Traefik merges the containers' configurations; a name defined by two containers would
		// be dropped as a conflict.
		for n, r := range conf.HTTP.Routers {
			if _, dup := routers[n]; dup {
				t.Errorf("router %s is defined by more than one service", n)
			}
			routers[n] = r
		}
		for n, m := range conf.HTTP.Middlewares {
			if _, dup := middlewares[n]; dup {
				t.Errorf("middleware %s is defined by more than one service", n)
			}
			middlewares[n] = m
		}
		for n, s := range conf.HTTP.Services {
			if _, dup := services[n]; dup {
				t.Errorf("service %s is defined by more than one compose service", n)
			}
			services[n] = s
		}
	}
	if built != 3 {
		t.Errorf("built %d tokenhandler middlewares from the labels, want 3 (oauth-agent, bff-token, phantom-token)", built)
	}

	wantRouters := map[string]struct {
		rule        string
		middlewares []string
		service     string
	}{
		"oauth-agent": {"Host(`api.example.localhost`) && PathPrefix(`/oauth-agent`)", []string{"oauth-agent"}, "noop@internal"},
		"api":         {"Host(`api.example.localhost`) && PathPrefix(`/api`)", []string{"bff-token", "phantom-token"}, "api"},
		"oauth-userinfo": {"Host(`api.example.localhost`) && Path(`/oauth-userinfo`)",
			[]string{"bff-token", "oauth-userinfo-cors", "oauth-userinfo-path"}, "authserver"},
		"web":   {"Host(`www.example.localhost`)", nil, "webhost"},
		"login": {"Host(`login.example.localhost`)", nil, "authserver"},
	}
	for name, want := range wantRouters {
		r, ok := routers[name]
		if !ok {
			t.Errorf("no router %s in the labels", name)
			continue
		}
		if r.Rule != want.rule {
			t.Errorf("router %s: rule %q, want %q", name, r.Rule, want.rule)
		}
		if !reflect.DeepEqual(r.Middlewares, want.middlewares) {
			t.Errorf("router %s: middlewares %q, want %q", name, r.Middlewares, want.middlewares)
		}
		if r.Service != want.service {
			t.Errorf("router %s: service %q, want %q", name, r.Service, want.service)
		}
	}

	demo := demoDynamic(t)

	// The routers are demo.yml's, and each compose service listens on the demo service's port.
	for name, d := range demo.HTTP.Routers {
		r, ok := routers[name]
		if !ok {
			t.Errorf("demo.yml router %s has no label counterpart", name)
			continue
		}
		if r.Rule != d.Rule || !reflect.DeepEqual(r.Middlewares, d.Middlewares) ||
			r.Service != d.Service || !reflect.DeepEqual(r.EntryPoints, d.EntryPoints) {
			t.Errorf("router %s: labels give %+v, demo.yml %+v", name, *r, *d)
		}
	}
	for name := range routers {
		if _, ok := demo.HTTP.Routers[name]; !ok {
			t.Errorf("router %s of the labels is not in demo.yml", name)
		}
	}
	for name, d := range demo.HTTP.Services {
		s, ok := services[name]
		if !ok || s.LoadBalancer == nil || len(s.LoadBalancer.Servers) != 1 {
			t.Errorf("demo.yml service %s has no single-server label counterpart", name)
			continue
		}
		u, err := url.Parse(d.LoadBalancer.Servers[0].URL)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.LoadBalancer.Servers[0].Port; got != u.Port() {
			t.Errorf("service %s: port %q in the labels, %q in demo.yml", name, got, u.Port())
		}
	}

	// Every tokenhandler setting is demo.yml's, but for the back channel's host; every other
	// middleware (Traefik's own, on the userinfo route) is demo.yml's as it is.
	for name, d := range demo.HTTP.Middlewares {
		want, ok := d.Plugin[alias]
		if !ok {
			if m, ok := middlewares[name]; !ok || !reflect.DeepEqual(m, d) {
				got, _ := json.Marshal(m)
				want, _ := json.Marshal(d)
				t.Errorf("middleware %s: labels give %s, demo.yml %s", name, got, want)
			}
			continue
		}
		m, ok := middlewares[name]
		if !ok || m.Plugin[alias] == nil {
			t.Errorf("demo.yml middleware %s has no tokenhandler label counterpart", name)
			continue
		}
		// dynamic.PluginConf is a named map type: compare plain maps.
		got := backChannelToLocal(map[string]interface{}(m.Plugin[alias]))
		if diff := pluginDiff(alias, got, map[string]interface{}(want)); len(diff) > 0 {
			t.Errorf("middleware %s differs from demo.yml:\n%s", name, strings.Join(diff, "\n"))
		}
	}
	for name := range middlewares {
		if _, ok := demo.HTTP.Middlewares[name]; !ok {
			t.Errorf("middleware %s of the labels is not in demo.yml", name)
		}
	}

	// Traefik loads the plugin from the mounted checkout.
	tr, ok := compose.Services["traefik"]
	if !ok {
		t.Fatal("no traefik service")
	}
	cmd := strings.Join(tr.command(), " ")
	for _, flag := range []string{
		"--entrypoints.web.address=:8080",
		"--providers.docker=true",
		"--providers.docker.exposedbydefault=false",
		"--experimental.localplugins." + alias + ".modulename=" + modulePath,
	} {
		if !strings.Contains(cmd, flag) {
			t.Errorf("traefik command lacks %s", flag)
		}
	}
	mount := ".:/plugins-local/src/" + modulePath + ":ro"
	found := false
	for _, v := range tr.Volumes {
		found = found || v == mount
	}
	if !found {
		t.Errorf("traefik volumes %q lack %s", tr.Volumes, mount)
	}
}

// oldestSupportedNode is the oldest Node.js release line that still gets security fixes: 20
// reached its end of life in April 2026, 22 is maintained until April 2027.
const oldestSupportedNode = 22

// TestDockerComposeImagesArePinned keeps the compose demo on what the tests run: Traefik at the
// release the traefik/ module builds (a floating tag such as v3.6 moves to releases nobody
// tested), and the authorization server on a supported LTS line of Node.js.
func TestDockerComposeImagesArePinned(t *testing.T) {
	gomod, err := os.ReadFile(repoFile("traefik/go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	required := ""
	if m := regexp.MustCompile(`(?m)^\s*github\.com/traefik/traefik/v3 (v\S+)`).FindSubmatch(gomod); m != nil {
		required = string(m[1])
	}
	if required != stack.TraefikVersion {
		t.Fatalf("traefik/go.mod requires Traefik %q, stack.TraefikVersion is %s", required, stack.TraefikVersion)
	}
	compose := readCompose(t)
	if got, want := compose.Services["traefik"].Image, "traefik:"+stack.TraefikVersion; got != want {
		t.Errorf("the traefik service runs %q, want %q", got, want)
	}
	node := compose.Services["authserver"].Image
	major, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(node, "node:"), "-alpine"))
	if err != nil || major < oldestSupportedNode || major%2 != 0 {
		t.Errorf("the authserver service runs %q, want node:<major>-alpine of an LTS line (even) from %d on", node, oldestSupportedNode)
	}
}

// backChannelToLocal rewrites the compose network's authorization server URLs to demo.yml's.
func backChannelToLocal(v interface{}) interface{} {
	switch v := v.(type) {
	case string:
		return strings.ReplaceAll(v, "http://authserver:3000", "http://127.0.0.1:3000")
	case map[string]interface{}:
		out := make(map[string]interface{}, len(v))
		for k, e := range v {
			out[k] = backChannelToLocal(e)
		}
		return out
	case []interface{}:
		out := make([]interface{}, len(v))
		for i, e := range v {
			out[i] = backChannelToLocal(e)
		}
		return out
	}
	return v
}

// pluginDiff compares a plugin configuration decoded from labels (got: every value a string,
// lists comma-separated) with one decoded from a file (want: lists typed), and lists the
// differences by key path.
func pluginDiff(path string, got, want interface{}) []string {
	switch w := want.(type) {
	case map[string]interface{}:
		g, ok := got.(map[string]interface{})
		if !ok {
			return []string{fmt.Sprintf("%s: labels give %#v, demo.yml a map", path, got)}
		}
		var diff []string
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range g {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			gv, gok := g[k]
			wv, wok := w[k]
			switch {
			case !gok:
				diff = append(diff, fmt.Sprintf("%s.%s: missing from the labels (demo.yml: %v)", path, k, wv))
			case !wok:
				diff = append(diff, fmt.Sprintf("%s.%s: not in demo.yml (labels: %v)", path, k, gv))
			default:
				diff = append(diff, pluginDiff(path+"."+k, gv, wv)...)
			}
		}
		return diff
	case []interface{}:
		var g []interface{}
		switch gv := got.(type) {
		case string:
			for _, s := range strings.Split(gv, ",") {
				g = append(g, s)
			}
		case []interface{}:
			g = gv
		default:
			return []string{fmt.Sprintf("%s: labels give %#v, demo.yml a list", path, got)}
		}
		if len(g) != len(w) {
			return []string{fmt.Sprintf("%s: labels give %v, demo.yml %v", path, g, w)}
		}
		var diff []string
		for i := range w {
			diff = append(diff, pluginDiff(fmt.Sprintf("%s[%d]", path, i), g[i], w[i])...)
		}
		return diff
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		return []string{fmt.Sprintf("%s: labels give %v, demo.yml %v", path, got, want)}
	}
	return nil
}

// TestDemoDynamicConfigBuilds decodes every file of traefik/dynamic as Traefik's file provider
// does and builds each tokenhandler middleware in it with the interpreted plugin.
func TestDemoDynamicConfigBuilds(t *testing.T) {
	dir := repoFile("traefik/dynamic")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	built := 0
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".yml" && ext != ".yaml" && ext != ".toml") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		built += buildPluginMiddlewares(t, dynamicFromFile(t, string(data), ext), "file")
	}
	if built != 3 {
		t.Errorf("built %d tokenhandler middlewares from traefik/dynamic, want 3", built)
	}
}
