package traefik_test

import (
	"testing"

	"github.com/tokenhandler/traefik-token-handler/testsupport/fakeas"
	"github.com/tokenhandler/traefik-token-handler/testsupport/requestcases"
	"github.com/tokenhandler/traefik-token-handler/testsupport/scenarios"
)

// TestPhantomTokenUnderYaegi runs the whole phantomToken matrix through the interpreted plugin.
func TestPhantomTokenUnderYaegi(t *testing.T) {
	f := fakeas.NewIntrospector(t)
	cases := requestcases.Load(t, repoFile("testdata/phantomtoken-cases.json"), f.CaseVars(t))
	requestcases.Run(t, cases, buildInterpreted("phantomToken"), nil)
}

// TestPhantomTokenCacheUnderYaegi runs the cache scenarios, 200 concurrent first requests
// included, through the interpreted plugin.
func TestPhantomTokenCacheUnderYaegi(t *testing.T) {
	scenarios.PhantomAll(t, buildInterpreted("phantomToken"))
}
