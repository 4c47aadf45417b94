package traefik_test

import (
	"context"
	"fmt"
	"image"
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
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
// 10 s context; it must return a handler and no error, without touching the network. The icon
// (iconPath), which the analyzer takes on trust, must be an image file of the repository.
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
		IconPath    string                 `json:"iconPath,omitempty" yaml:"iconPath,omitempty"`
		BannerPath  string                 `json:"bannerPath,omitempty" yaml:"bannerPath,omitempty"`
		TestData    map[string]interface{} `json:"testData,omitempty" yaml:"testData,omitempty"`
	}
	if err := file.DecodeContent(string(content), ".yaml", &manifest); err != nil {
		t.Fatal(err)
	}
	if manifest.Type != "middleware" || manifest.Import != stack.ModulePath || manifest.BasePkg != "tokenhandler" ||
		manifest.DisplayName == "" || manifest.Summary == "" || len(manifest.TestData) == 0 {
		t.Fatalf("manifest = %+v", manifest)
	}
	if manifest.IconPath == "" {
		t.Error("the manifest has no iconPath: the catalog would show the plugin without an icon")
	} else {
		checkCatalogImage(t, "iconPath", manifest.IconPath)
	}
	if manifest.BannerPath != "" {
		checkCatalogImage(t, "bannerPath", manifest.BannerPath)
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

// The most bytes an image of the manifest may have: the catalog's pages load it as it is.
const maxCatalogImageBytes = 100 << 10

// checkCatalogImage checks an image of the manifest (iconPath, bannerPath) as the catalog will
// show it. The analyzer turns a path into
// https://raw.githubusercontent.com/<owner>/<repo>/<tag>/<path> without looking at the file, and
// silently drops a URL on another host, so a wrong path is only noticed on the catalog's page.
// Stricter than the analyzer: a raw URL of this repository is refused too, because it would not
// follow the tag. SVG is refused because raw.githubusercontent.com serves it as text/plain with
// nosniff, which browsers do not show as an image.
func checkCatalogImage(t *testing.T, key, value string) {
	t.Helper()
	u, err := url.Parse(value)
	if err != nil || u.Scheme != "" || u.Host != "" || u.RawQuery != "" || u.Fragment != "" {
		t.Errorf("%s %q is not a path in the repository: the catalog shows only this repository's files at the tag", key, value)
		return
	}
	rel := strings.TrimPrefix(path.Clean(u.Path), "/")
	if rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		t.Errorf("%s %q is not a file in the repository", key, value)
		return
	}
	formats := map[string]string{".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".gif": "gif"}
	format, ok := formats[strings.ToLower(path.Ext(rel))]
	if !ok {
		t.Errorf("%s %q: want PNG (the catalog's documented format), JPEG or GIF, not %q", key, value, path.Ext(rel))
		return
	}
	f, err := os.Open(repoFile(rel))
	if err != nil {
		t.Errorf("%s: %v", key, err)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if !info.Mode().IsRegular() || info.Size() == 0 || info.Size() > maxCatalogImageBytes {
		t.Errorf("%s %q: %d bytes, want a file of 1 to %d bytes", key, value, info.Size(), maxCatalogImageBytes)
		return
	}
	config, decoded, err := image.DecodeConfig(f)
	if err != nil || decoded != format {
		t.Errorf("%s %q is not a %s image (decoded as %q: %v)", key, value, format, decoded, err)
		return
	}
	if key == "iconPath" && (config.Width != config.Height || config.Width < 64 || config.Width > 1024) {
		t.Errorf("%s %q is %dx%d pixels, want a square of 64 to 1024", key, value, config.Width, config.Height)
	}
}
