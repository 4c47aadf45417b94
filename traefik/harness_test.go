package traefik_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/traefik/traefik/v3/pkg/plugins"
)

// modulePath is the plugin's module, as Traefik's static configuration names it.
const modulePath = "github.com/tokenhandler/traefik-token-handler"

// alias is the plugin's name in every example, test and doc.
const alias = "tokenhandler"

var (
	// repoRoot is the checkout this module sits in, found before TestMain changes directory.
	repoRoot string
	// builder is Traefik's own plugin builder, loaded once for the whole test binary, as Traefik
	// loads a plugin once for the whole process.
	builder *plugins.Builder
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Dir(filepath.Dir(file))

	// Traefik reads local plugins from ./plugins-local/src/<moduleName> in its working directory,
	// so the tests run from a scratch directory where that path links to this checkout.
	work, err := os.MkdirTemp("", "tokenhandler-yaegi-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(work)
	if err := linkPlugin(work); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.Chdir(work); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	builder, err = plugins.NewBuilder(nil, nil, map[string]plugins.LocalDescriptor{
		alias:         {ModuleName: modulePath},
		"passthrough": {ModuleName: modulePath + "/traefik/passthrough"},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "loading the plugin with Traefik's builder:", err)
		return 1
	}
	return m.Run()
}

// linkPlugin makes dir/plugins-local/src/<module> point at the checkout.
func linkPlugin(dir string) error {
	link := filepath.Join(dir, "plugins-local", "src", filepath.FromSlash(modulePath))
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return err
	}
	return os.Symlink(repoRoot, link)
}

// repoFile is the absolute path of a file of the checkout.
func repoFile(rel string) string {
	return filepath.Join(repoRoot, filepath.FromSlash(rel))
}

// buildInterpreted builds a role's middleware the way Traefik does for a router: the builder
// decodes the raw configuration into the interpreted Config with Traefik's mapstructure options,
// then calls the interpreted New.
func buildInterpreted(role string) func(map[string]interface{}, http.Handler) (http.Handler, error) {
	return func(raw map[string]interface{}, next http.Handler) (http.Handler, error) {
		ctor, err := builder.Build(alias, map[string]interface{}{role: raw}, role+"@file")
		if err != nil {
			return nil, err
		}
		return ctor(context.Background(), next)
	}
}
