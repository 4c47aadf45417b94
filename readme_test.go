package tokenhandler_test

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/tokenhandler/traefik-token-handler/bfftoken"
	"github.com/tokenhandler/traefik-token-handler/oauthagent"
	"github.com/tokenhandler/traefik-token-handler/phantomtoken"
)

// TestReadmeDocumentsEveryKey keeps the configuration reference (docs/configuration.md, linked
// from the README) complete: every field of every role's Config must have a row, and every row
// must be a field.
func TestReadmeDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile("docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	roles := map[string]interface{}{
		"bffToken":     bfftoken.Config{},
		"phantomToken": phantomtoken.Config{},
		"oauthAgent":   oauthagent.Config{},
	}
	for role, cfg := range roles {
		start := strings.Index(readme, "\n## "+role)
		if start < 0 {
			t.Errorf("docs/configuration.md has no section ## %s", role)
			continue
		}
		section := readme[start+4:]
		if end := strings.Index(section, "\n## "); end >= 0 {
			section = section[:end]
		}
		documented := map[string]bool{}
		for _, m := range regexp.MustCompile("(?m)^\\| `([A-Za-z]+)` \\|").FindAllStringSubmatch(section, -1) {
			documented[strings.ToLower(m[1])] = true
		}
		typ := reflect.TypeOf(cfg)
		for i := 0; i < typ.NumField(); i++ {
			name := typ.Field(i).Name
			if name == "Unknown" {
				continue
			}
			if !documented[strings.ToLower(name)] {
				t.Errorf("%s.%s has no row in docs/configuration.md", role, name)
			}
			delete(documented, strings.ToLower(name))
		}
		for key := range documented {
			t.Errorf("docs/configuration.md documents %s key %s, which does not exist", role, key)
		}
	}
}

// TestReadmeFiguresAreTheBenchmarks keeps the figures the README quotes equal to those of the
// committed docs/benchmarks.md (make bench rewrites it): every number in the README's "What it
// costs" section must stand in that report.
func TestReadmeFiguresAreTheBenchmarks(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	report, err := os.ReadFile("docs/benchmarks.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	start := strings.Index(section, "\n## What it costs")
	if start < 0 {
		t.Fatal("the README has no section ## What it costs")
	}
	section = section[start+1:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	inReport := map[string]bool{}
	for _, n := range regexp.MustCompile(`\d+(?:\.\d+)?`).FindAllString(string(report), -1) {
		inReport[n] = true
	}
	figures := regexp.MustCompile(`\d+(?:\.\d+)?`).FindAllString(section, -1)
	if len(figures) < 5 {
		t.Fatalf("the README's What it costs section quotes %d figures", len(figures))
	}
	for _, n := range figures {
		if !inReport[n] {
			t.Errorf("the README quotes %s, which docs/benchmarks.md does not say: rerun make bench and update the README", n)
		}
	}
}
