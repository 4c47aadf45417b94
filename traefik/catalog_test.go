package traefik_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/mitchellh/mapstructure"
	"github.com/traefik/paerser/file"
	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"

	"github.com/tokenhandler/traefik-token-handler/traefik/stack"
)

// TestCatalogAnalyzerAcceptsThePlugin does what the plugin catalog's analyzer (traefik/piceus)
// does with a release: an interpreter without the environment, the import evaluated under a 10 s
// deadline, testData decoded from .traefik.yml like a file provider's, and New called with a
// 10 s context; it must return a handler and no error, without touching the network.
func TestCatalogAnalyzerAcceptsThePlugin(t *testing.T) {
	content, err := os.ReadFile(repoFile(".traefik.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		DisplayName string                 `json:"displayName,omitempty" yaml:"displayName,omitempty"`
		Type        string                 `json:"type,omitempty" yaml:"type,omitempty"`
		Import      string                 `json:"import,omitempty" yaml:"import,omitempty"`
		BasePkg     string                 `json:"basePkg,omitempty" yaml:"basePkg,omitempty"`
		Summary     string                 `json:"summary,omitempty" yaml:"summary,omitempty"`
		TestData    map[string]interface{} `json:"testData,omitempty" yaml:"testData,omitempty"`
	}
	if err := file.DecodeContent(string(content), ".yaml", &manifest); err != nil {
		t.Fatal(err)
	}
	if manifest.Type != "middleware" || manifest.Import != stack.ModulePath || manifest.BasePkg != "tokenhandler" ||
		manifest.DisplayName == "" || manifest.Summary == "" || len(manifest.TestData) == 0 {
		t.Fatalf("manifest = %+v", manifest)
	}

	gopath := t.TempDir()
	if err := os.MkdirAll(filepath.Join(gopath, "src", "github.com", "tokenhandler"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(repoRoot, filepath.Join(gopath, "src", filepath.FromSlash(stack.ModulePath))); err != nil {
		t.Fatal(err)
	}
	i := interp.New(interp.Options{GoPath: gopath})
	if err := i.Use(stdlib.Symbols); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := i.EvalWithContext(ctx, fmt.Sprintf("import %q", manifest.Import)); err != nil {
		t.Fatal(err)
	}
	fnCreateConfig, err := i.EvalWithContext(ctx, manifest.BasePkg+".CreateConfig")
	if err != nil {
		t.Fatal(err)
	}
	fnNew, err := i.EvalWithContext(ctx, manifest.BasePkg+".New")
	if err != nil {
		t.Fatal(err)
	}
	if fnNew.Type().NumIn() != 4 || fnNew.Type().NumOut() != 2 {
		t.Fatalf("New has the signature %v", fnNew.Type())
	}
	vConfig := fnCreateConfig.Call(nil)[0]
	decoder, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook:       mapstructure.StringToSliceHookFunc(","),
		WeaklyTypedInput: true,
		Result:           vConfig.Interface(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := decoder.Decode(manifest.TestData); err != nil {
		t.Fatal(err)
	}
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	out := fnNew.Call([]reflect.Value{reflect.ValueOf(ctx), reflect.ValueOf(next), vConfig, reflect.ValueOf("test")})
	if errValue := out[1].Interface(); errValue != nil {
		t.Fatalf("New returned an error: %v", errValue)
	}
	if _, ok := out[0].Interface().(http.Handler); !ok {
		t.Fatalf("New returned %T, not an http.Handler", out[0].Interface())
	}
}
