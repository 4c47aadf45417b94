package bfftoken_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/tokenhandler/traefik-token-handler/bfftoken"
	"github.com/tokenhandler/traefik-token-handler/testsupport/requestcases"
	"github.com/tokenhandler/traefik-token-handler/testsupport/traefikconfig"
)

const casesFile = "../testdata/bfftoken-cases.json"

// keyFileVars writes the 4e46 key to a file, with the trailing newline an editor leaves, for the
// cases that read the key from encryptionKeyFile.
func keyFileVars(t *testing.T) map[string]string {
	path := filepath.Join(t.TempDir(), "cookie.key")
	key := "4e4636356d65563e4c73233847503e3b21436e6f7629724950526f4b5e2e4e50\n"
	if err := os.WriteFile(path, []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"KEY_FILE": path}
}

func build(raw map[string]interface{}, next http.Handler) (http.Handler, error) {
	cfg := bfftoken.CreateConfig()
	if err := traefikconfig.Decode(raw, cfg); err != nil {
		return nil, err
	}
	return bfftoken.New(context.Background(), next, cfg, "bff-token@test")
}

func TestRequestMatrix(t *testing.T) {
	f := requestcases.Load(t, casesFile, keyFileVars(t))
	requestcases.Run(t, f, build, requestcases.CaptureLogs)
}
