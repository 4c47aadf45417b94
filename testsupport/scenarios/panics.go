package scenarios

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tokenhandler/traefik-token-handler/testsupport/fakeas"
	"github.com/tokenhandler/traefik-token-handler/testsupport/requestcases"
)

// panickingNext stands in for any fault inside a role's request handling: it panics the way a
// nil dereference would.
var panickingNext = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
	var m map[string]int
	//lint:ignore SA5000 the assignment to a nil map is the point: it is the runtime panic a fault raises
	m["boom"]++
})

// PanicsAnswer500 checks that each role turns a panic during a request into a 500 JSON answer
// (and keeps serving), on the paths that recover: the agent's every request, bffToken's
// pass-through paths, phantomToken's paths other than a cache hit.
func PanicsAnswer500(t *testing.T, build requestcases.Builder) {
	introspection := fakeas.NewIntrospector(t)
	p := fakeas.NewProvider(t, fakeas.ProviderOptions{})
	cases := []struct {
		name   string
		config map[string]interface{}
		req    func(i int) *http.Request
	}{
		{"oauthAgent", AgentConfig(p, nil), func(int) *http.Request {
			return httptest.NewRequest(http.MethodGet, "https://api.example.com/elsewhere", nil)
		}},
		{"bffToken", map[string]interface{}{"cookieNamePrefix": "example", "encryptionKey": agentKey,
			"trustedWebOrigins": SPAOrigin, "corsEnabled": "false"}, func(int) *http.Request {
			return httptest.NewRequest(http.MethodOptions, "https://api.example.com/api/data", nil)
		}},
		{"phantomToken", map[string]interface{}{"introspectionEndpoint": introspection.URL(),
			"clientId": fakeas.IntrospectionClientID, "clientSecret": fakeas.IntrospectionClientSecret}, func(i int) *http.Request {
			// A new token each time: a cache hit is the path that does not recover.
			r := httptest.NewRequest(http.MethodGet, "https://api.example.com/api/data", nil)
			r.Header.Set("Authorization", fmt.Sprintf("Bearer active-panic-%d-%d", time.Now().UnixNano(), i))
			return r
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, err := build(map[string]interface{}{tc.name: tc.config}, panickingNext)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, tc.req(i))
				var body struct{ Code string }
				_ = json.Unmarshal(rec.Body.Bytes(), &body)
				if rec.Code != http.StatusInternalServerError || body.Code != "server_error" || rec.Header().Get("Content-Type") != "application/json" {
					t.Fatalf("request %d: %d %q %s", i, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
				}
			}
		})
	}
}
