package traefik_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tokenhandler/traefik-token-handler/testsupport/requestcases"
	"github.com/tokenhandler/traefik-token-handler/testsupport/scenarios"
)

// TestBFFTokenUnderYaegi runs the whole bffToken matrix through the interpreted plugin.
func TestBFFTokenUnderYaegi(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "cookie.key")
	if err := os.WriteFile(keyFile, []byte("4e4636356d65563e4c73233847503e3b21436e6f7629724950526f4b5e2e4e50\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := requestcases.Load(t, repoFile("testdata/bfftoken-cases.json"), map[string]string{"KEY_FILE": keyFile})
	requestcases.Run(t, f, buildInterpreted("bffToken"), nil)
}

// TestRememberedAuthorizationsUnderYaegi checks bffToken's remembered authorizations in the
// interpreted plugin.
func TestRememberedAuthorizationsUnderYaegi(t *testing.T) {
	scenarios.BFFTokenCacheAll(t, buildInterpreted("bffToken"))
}
