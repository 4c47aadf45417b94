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

// TestReadmeDocumentsEveryKey keeps the README's configuration reference complete: every field of
// every role's Config must have a row, and every row must be a field.
func TestReadmeDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile("README.md")
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
		start := strings.Index(readme, "### "+role)
		if start < 0 {
			t.Errorf("README has no section ### %s", role)
			continue
		}
		section := readme[start+4:]
		if end := strings.Index(section, "\n### "); end >= 0 {
			section = section[:end]
		}
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
				t.Errorf("%s.%s has no row in the README's configuration reference", role, name)
			}
			delete(documented, strings.ToLower(name))
		}
		for key := range documented {
			t.Errorf("the README documents %s key %s, which does not exist", role, key)
		}
	}
}
