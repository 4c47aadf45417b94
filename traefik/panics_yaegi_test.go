package traefik_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/tokenhandler/traefik-token-handler/testsupport/scenarios"
)

// TestPanicsAnswer500UnderYaegi: a panic inside the interpreted roles becomes a 500 JSON answer,
// and the interpreter (Traefik) keeps serving.
func TestPanicsAnswer500UnderYaegi(t *testing.T) {
	scenarios.PanicsAnswer500(t, func(raw map[string]interface{}, next http.Handler) (http.Handler, error) {
		ctor, err := builder.Build(alias, raw, "panic@file")
		if err != nil {
			return nil, err
		}
		return ctor(context.Background(), next)
	})
}
