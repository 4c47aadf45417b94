package phantomtoken_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/tokenhandler/traefik-token-handler/phantomtoken"
	"github.com/tokenhandler/traefik-token-handler/testsupport/fakeas"
	"github.com/tokenhandler/traefik-token-handler/testsupport/requestcases"
	"github.com/tokenhandler/traefik-token-handler/testsupport/scenarios"
	"github.com/tokenhandler/traefik-token-handler/testsupport/traefikconfig"
)

func build(raw map[string]interface{}, next http.Handler) (http.Handler, error) {
	cfg := phantomtoken.CreateConfig()
	if err := traefikconfig.Decode(raw, cfg); err != nil {
		return nil, err
	}
	return phantomtoken.New(context.Background(), next, cfg, "phantom-token@test")
}

func TestRequestMatrix(t *testing.T) {
	f := fakeas.NewIntrospector(t)
	cases := requestcases.Load(t, "../testdata/phantomtoken-cases.json", f.CaseVars(t))
	requestcases.Run(t, cases, build, requestcases.CaptureLogs)
}

func TestCacheScenarios(t *testing.T) {
	stop := requestcases.CaptureLogs()
	defer stop()
	scenarios.PhantomAll(t, build)
}
