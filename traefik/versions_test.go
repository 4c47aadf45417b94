package traefik_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTraefikBuiltWithItsOwnDependencies checks that this module, which pins Traefik as a Go
// tool and also holds the test dependencies, selects exactly the versions of Traefik v3.6.12's
// direct requirements: bin/traefik must be the Traefik users run, not one with libraries
// upgraded by our test dependencies. (Indirect requirements can differ legitimately: Traefik's
// go.mod prunes the graph differently.)
func TestTraefikBuiltWithItsOwnDependencies(t *testing.T) {
	goList := func(args ...string) ([]byte, error) {
		cmd := exec.Command("go", append([]string{"list", "-m"}, args...)...)
		cmd.Dir = filepath.Join(repoRoot, "traefik") // TestMain moved to a scratch directory
		return cmd.Output()
	}
	out, err := goList("-f", "{{.Dir}}", "github.com/traefik/traefik/v3")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	out, err = goList("-f", "{{.Path}} {{.Version}}", "all")
	if err != nil {
		t.Fatal(err)
	}
	selected := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if path, version, ok := strings.Cut(line, " "); ok {
			selected[path] = version
		}
	}
	requires, replaced := parseRequires(string(data))
	if len(requires) < 50 {
		t.Fatalf("read only %d requirements from Traefik's go.mod", len(requires))
	}
	for path, version := range requires {
		if replaced[path] {
			continue
		}
		if got := selected[path]; got != version {
			t.Errorf("%s: selected %s, Traefik v3.6.12 requires %s", path, got, version)
		}
	}
}

// parseRequires reads the direct requirements and the replaced paths of a go.mod (enough of the
// syntax for Traefik's, which uses blocks).
func parseRequires(gomod string) (map[string]string, map[string]bool) {
	requires, replaced := map[string]string{}, map[string]bool{}
	block := ""
	for _, line := range strings.Split(gomod, "\n") {
		if strings.Contains(line, "// indirect") {
			continue
		}
		line = strings.TrimSpace(strings.SplitN(line, "//", 2)[0])
		switch {
		case line == ")":
			block = ""
		case strings.HasSuffix(line, "("):
			block = strings.TrimSpace(strings.TrimSuffix(line, "("))
		case block == "require" || strings.HasPrefix(line, "require "):
			fields := strings.Fields(strings.TrimPrefix(line, "require "))
			if len(fields) == 2 {
				requires[fields[0]] = fields[1]
			}
		case block == "replace" || strings.HasPrefix(line, "replace "):
			if fields := strings.Fields(strings.TrimPrefix(line, "replace ")); len(fields) > 0 {
				replaced[fields[0]] = true
			}
		}
	}
	return requires, replaced
}
