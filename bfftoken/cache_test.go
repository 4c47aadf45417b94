package bfftoken_test

import (
	"testing"

	"github.com/tokenhandler/traefik-token-handler/testsupport/scenarios"
)

func TestRememberedAuthorizations(t *testing.T) {
	scenarios.BFFTokenCacheAll(t, build)
}
