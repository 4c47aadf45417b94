package traefik_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/traefik/paerser/file"
	"github.com/traefik/traefik/v3/pkg/config/dynamic"
	"github.com/traefik/traefik/v3/pkg/config/label"
)

// dynamicFromFile decodes a dynamic configuration file as Traefik's file provider does.
func dynamicFromFile(t *testing.T, content, ext string) *dynamic.Configuration {
	t.Helper()
	conf := &dynamic.Configuration{HTTP: &dynamic.HTTPConfiguration{}}
	if err := file.DecodeContent(content, ext, conf); err != nil {
		t.Fatal(err)
	}
	return conf
}

// dynamicFromLabels decodes docker labels as Traefik's docker provider does.
func dynamicFromLabels(t *testing.T, labels map[string]string) *dynamic.Configuration {
	t.Helper()
	conf, err := label.DecodeConfiguration(labels)
	if err != nil {
		t.Fatal(err)
	}
	return conf
}

// buildPluginMiddlewares builds every tokenhandler middleware of conf with the interpreted plugin,
// as Traefik does for a router, and returns how many it built.
func buildPluginMiddlewares(t *testing.T, conf *dynamic.Configuration, provider string) int {
	t.Helper()
	built := 0
	for name, mw := range conf.HTTP.Middlewares {
		raw, ok := mw.Plugin[alias]
		if !ok {
			continue
		}
		ctor, err := builder.Build(alias, raw, name+"@"+provider)
		if err != nil {
			t.Errorf("middleware %s: %v", name, err)
			continue
		}
		h, err := ctor(context.Background(), http.NotFoundHandler())
		if err != nil || h == nil {
			t.Errorf("middleware %s: New: %v", name, err)
			continue
		}
		built++
	}
	return built
}

// documentedExamples returns the code blocks of README.md and docs/*.md whose first line is
// "# example: <name>", by name, with the secret file paths pointed at files that exist.
func documentedExamples(t *testing.T) map[string]string {
	t.Helper()
	docs, err := filepath.Glob(repoFile("docs/*.md"))
	if err != nil {
		t.Fatal(err)
	}
	secrets := t.TempDir()
	for name, content := range map[string]string{
		"cookie-encryption-key":          "4e4636356d65563e4c73233847503e3b21436e6f7629724950526f4b5e2e4e50\n",
		"introspection-client-secret":    "Password1\n",
		"oauth-agent-client-secret":      "Password1\n",
		"previous-cookie-encryption-key": "7b99279ab87533d3c238db874a842a91ee26a76027f3c03c317504963d2c9926\n",
	} {
		if err := os.WriteFile(filepath.Join(secrets, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	examples, where := map[string]string{}, map[string]string{}
	for _, doc := range append([]string{repoFile("README.md")}, docs...) {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(doc, repoRoot+string(filepath.Separator))
		for _, b := range regexp.MustCompile("(?s)```[a-z]*\n# example: ([a-z0-9-]+)\n(.*?)```").FindAllStringSubmatch(string(data), -1) {
			if other, dup := where[b[1]]; dup {
				t.Errorf("example %q is in %s and in %s: the tests would check only one", b[1], other, name)
			}
			where[b[1]] = name
			examples[b[1]] = strings.ReplaceAll(b[2], "/run/secrets/", secrets+"/")
		}
	}
	return examples
}

// labelsOf reads `- "key=value"` lines of a compose labels list.
func labelsOf(block string) map[string]string {
	labels := map[string]string{}
	for _, line := range strings.Split(block, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, `- "`) {
			continue
		}
		kv := strings.TrimSuffix(strings.TrimPrefix(line, `- "`), `"`)
		if k, v, ok := strings.Cut(kv, "="); ok {
			labels[k] = v
		}
	}
	return labels
}

// TestReadmeExamplesBuild decodes every documented example the way Traefik would (file provider
// or docker labels) and builds each plugin middleware in it with the interpreted plugin. The
// Kubernetes examples (kubernetes-*) go through Traefik's CRD provider in
// TestKubernetesExamples.
func TestReadmeExamplesBuild(t *testing.T) {
	examples := documentedExamples(t)
	want := map[string]int{"bff-token-minimal": 1, "stacked-yaml": 2, "stacked-labels": 2}
	for name, count := range want {
		block, ok := examples[name]
		if !ok {
			t.Errorf("no example %q in README.md or docs/*.md", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			var conf *dynamic.Configuration
			if strings.HasSuffix(name, "-labels") {
				conf = dynamicFromLabels(t, labelsOf(block))
			} else {
				conf = dynamicFromFile(t, block, ".yml")
			}
			if got := buildPluginMiddlewares(t, conf, "readme"); got != count {
				t.Fatalf("built %d middlewares, want %d", got, count)
			}
		})
	}
	for name := range examples {
		if _, ok := want[name]; !ok && !strings.HasPrefix(name, "kubernetes-") {
			t.Errorf("example %q is not checked by this test: add it to want", name)
		}
	}
}
