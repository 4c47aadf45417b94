package fakeas

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

var basicIntrospection = http.Header{"Authorization": {"Basic YXBpLWdhdGV3YXktY2xpZW50OlBhc3N3b3JkMQ=="}} // api-gateway-client:Password1

func introspectWith(t *testing.T, f *Introspector, form url.Values, header http.Header) (*http.Response, string) {
	t.Helper()
	return post(t, f.Server.Client(), f.URL(), form, header)
}

func TestIntrospectorPlainJSON(t *testing.T) {
	f := NewIntrospector(t)
	type answer struct {
		status      int
		contentType string
		check       func(t *testing.T, body string)
	}
	jwt := func(token string) answer {
		return answer{200, "application/jwt", func(t *testing.T, body string) {
			if body != JWTFor(token) {
				t.Errorf("body %q", body)
			}
		}}
	}
	obj := func(want func(m map[string]interface{}) bool) answer {
		return answer{200, "application/json", func(t *testing.T, body string) {
			var m map[string]interface{}
			if err := json.Unmarshal([]byte(body), &m); err != nil || !want(m) {
				t.Errorf("body %q", body)
			}
		}}
	}
	plainActive := func(token, scope string) answer {
		return obj(func(m map[string]interface{}) bool {
			want := JSONFor(token)
			return m["active"] == true && m["jwt"] == nil && m["sub"] == "demouser" && m["client_id"] == "spa-client" &&
				m["exp"] == float64(FarFutureExp) && m["iat"] == float64(IssuedAt) && m["scope"] == want["scope"] && (scope == "" || m["scope"] == scope) && len(m) == len(want)
		})
	}
	inactive := obj(func(m map[string]interface{}) bool { return len(m) == 1 && m["active"] == false })
	noContent := answer{204, "", nil}

	cases := []struct {
		token          string
		jwtMode, plain answer
	}{
		{"active-1", jwt("active-1"), plainActive("active-1", "read write")},
		{"read-1", jwt("read-1"), plainActive("read-1", "read")},
		{"noscope-1", jwt("noscope-1"), plainActive("noscope-1", "")},
		{"maxage10-1", jwt("maxage10-1"), plainActive("maxage10-1", "read write")},
		{"exp30-1", answer{200, "application/jwt", nil}, obj(func(m map[string]interface{}) bool {
			exp, _ := m["exp"].(float64)
			return m["active"] == true && exp > float64(time.Now().Unix()) && exp <= float64(time.Now().Unix()+30)
		})},
		{"inactive-1", noContent, inactive},
		{"random-" + randomString(8), noContent, inactive},
		{"json-1", plainActive("json-1", "read write"), plainActive("json-1", "read write")},
		{"jsonnoexp-1", obj(func(m map[string]interface{}) bool { _, ok := m["exp"]; return m["active"] == true && !ok }), obj(func(m map[string]interface{}) bool { _, ok := m["exp"]; return !ok })},
		{"jsonexpstring", obj(func(m map[string]interface{}) bool { return m["exp"] == "4102444800" }), obj(func(m map[string]interface{}) bool { return m["exp"] == "4102444800" })},
		{"jsonscopearray", obj(func(m map[string]interface{}) bool { s, _ := m["scope"].([]interface{}); return len(s) == 2 }), obj(func(m map[string]interface{}) bool { _, ok := m["scope"].([]interface{}); return ok })},
		{"jsonhugesub", obj(func(m map[string]interface{}) bool { s, _ := m["sub"].(string); return len(s) == 64*1024 }), obj(func(m map[string]interface{}) bool { s, _ := m["sub"].(string); return len(s) == 64*1024 })},
		{"jsonjwt-1", obj(func(m map[string]interface{}) bool { return m["jwt"] == JWTFor("jsonjwt-1") }), obj(func(m map[string]interface{}) bool { return m["jwt"] == JWTFor("jsonjwt-1") })},
		{"jsoninactive", inactive, inactive},
		{"status503", answer{503, "", nil}, answer{503, "", nil}},
	}
	for _, plain := range []bool{false, true} {
		f.SetPlainJSON(plain)
		for _, tc := range cases {
			want := tc.jwtMode
			if plain {
				want = tc.plain
			}
			t.Run(tc.token+map[bool]string{false: "/jwt", true: "/plain"}[plain], func(t *testing.T) {
				resp, body := introspectWith(t, f, url.Values{"token": {tc.token}}, basicIntrospection)
				if resp.StatusCode != want.status || (want.contentType != "" && resp.Header.Get("Content-Type") != want.contentType) {
					t.Fatalf("%d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
				}
				if want.check != nil {
					want.check(t, body)
				}
			})
		}
	}
	f.SetPlainJSON(true)
	if resp, _ := introspectWith(t, f, url.Values{"token": {"maxage10-2"}}, basicIntrospection); resp.Header.Get("Cache-Control") != "max-age=10" {
		t.Errorf("plain maxage10: Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	if got := f.Total(); got != 2*len(cases)+1 {
		t.Errorf("Total %d, want %d", got, 2*len(cases)+1)
	}
	if got := f.Calls("active-1"); got != 2 {
		t.Errorf("Calls(active-1) %d", got)
	}
}

func TestIntrospectorClientAuth(t *testing.T) {
	_, p256, p384, unregistered := testKeys()
	f := NewIntrospector(t)
	if resp, body := introspectWith(t, f, url.Values{"token": {"active-1"}}, nil); resp.StatusCode != 401 || body != "" {
		t.Errorf("no credentials: %d %q", resp.StatusCode, body)
	}

	f.SetClientAuth(PrivateKeyJWT, ClientKey{Public: p256.Public()}, ClientKey{KeyID: "k384", Public: p384.Public()})
	replayed := mustAssertion(t, p256, "", "", IntrospectionClientID, f.URL())
	n := time.Now().Unix()
	expired, _ := SignJWT("ES256", p256, "", map[string]interface{}{"iss": IntrospectionClientID, "sub": IntrospectionClientID, "aud": f.URL(), "jti": randomString(8), "exp": n - 1})
	cases := []struct {
		name      string
		assertion string
		form      func(f url.Values)
		header    http.Header
		want      int
	}{
		{"valid", mustAssertion(t, p256, "", "", IntrospectionClientID, f.URL()), nil, nil, 200},
		{"server URL as aud", mustAssertion(t, p256, "", "", IntrospectionClientID, f.Server.URL), nil, nil, 200},
		{"kid", mustAssertion(t, p384, "", "k384", IntrospectionClientID, f.URL()), nil, nil, 200},
		{"replay: first", replayed, nil, nil, 200},
		{"replay: second", replayed, nil, nil, 401},
		{"wrong kid", mustAssertion(t, p384, "", "k256", IntrospectionClientID, f.URL()), nil, nil, 401},
		{"wrong key", mustAssertion(t, unregistered, "", "", IntrospectionClientID, f.URL()), nil, nil, 401},
		{"wrong aud", mustAssertion(t, p256, "", "", IntrospectionClientID, "https://as.example/introspect"), nil, nil, 401},
		{"wrong client", mustAssertion(t, p256, "", "", "spa-client", f.URL()), nil, nil, 401},
		{"expired", expired, nil, nil, 401},
		{"secret too", mustAssertion(t, p256, "", "", IntrospectionClientID, f.URL()), func(f url.Values) { f.Set("client_secret", IntrospectionClientSecret) }, nil, 401},
		{"basic too", mustAssertion(t, p256, "", "", IntrospectionClientID, f.URL()), nil, basicIntrospection, 401},
		{"wrong type", mustAssertion(t, p256, "", "", IntrospectionClientID, f.URL()), func(f url.Values) { f.Set("client_assertion_type", "jwt") }, nil, 401},
		{"basic only", "", func(f url.Values) { f.Del("client_assertion"); f.Del("client_assertion_type") }, basicIntrospection, 401},
	}
	for _, tc := range cases {
		form := assertionForm(url.Values{"token": {"active-1"}}, tc.assertion)
		if tc.form != nil {
			tc.form(form)
		}
		resp, body := introspectWith(t, f, form, tc.header)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d %q (%s)", tc.name, resp.StatusCode, body, f.LastClientAuthError())
		}
		if tc.want == 401 && !strings.Contains(body, "invalid_client") {
			t.Errorf("%s: body %q", tc.name, body)
		}
	}
	if header, claims := f.LastClientAssertion(); header["alg"] != "ES256" || claims["iss"] != IntrospectionClientID {
		t.Errorf("LastClientAssertion %v %v", header, claims)
	}

	f.SetClientAuth(ClientSecretPost)
	form := url.Values{"token": {"active-1"}, "client_id": {IntrospectionClientID}, "client_secret": {IntrospectionClientSecret}}
	if resp, _ := introspectWith(t, f, form, nil); resp.StatusCode != 200 {
		t.Errorf("client_secret_post: %d", resp.StatusCode)
	}
	if resp, _ := introspectWith(t, f, url.Values{"token": {"active-1"}}, basicIntrospection); resp.StatusCode != 401 {
		t.Errorf("basic with client_secret_post configured: %d", resp.StatusCode)
	}
	f.SetClientAuth(ClientSecretBasic)
	if resp, _ := introspectWith(t, f, url.Values{"token": {"active-1"}}, basicIntrospection); resp.StatusCode != 200 {
		t.Errorf("basic again: %d", resp.StatusCode)
	}
}

func TestIntrospectorDelay(t *testing.T) {
	f := NewIntrospector(t)
	const n, delay = 6, 300 * time.Millisecond
	f.SetDelay(delay)
	start := time.Now()
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, f.URL(), strings.NewReader("token=random-"+randomString(8)))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(IntrospectionClientID, IntrospectionClientSecret)
			resp, err := f.Server.Client().Do(req) // no t.Fatal outside the test's goroutine
			if err != nil {
				statuses[i] = -1
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}(i)
	}
	deadline := time.Now().Add(delay)
	for f.InFlight() < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := f.InFlight(); got != n {
		t.Errorf("InFlight %d, want %d", got, n)
	}
	wg.Wait()
	if elapsed := time.Since(start); elapsed < delay {
		t.Errorf("answered after %v", elapsed)
	}
	for _, s := range statuses {
		if s != http.StatusNoContent {
			t.Errorf("statuses %v", statuses)
			break
		}
	}
	if f.MaxInFlight() != n || f.InFlight() != 0 || f.Total() != n {
		t.Errorf("MaxInFlight %d, InFlight %d, Total %d", f.MaxInFlight(), f.InFlight(), f.Total())
	}

	// A client that gives up is let go.
	f.SetDelay(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.URL(), strings.NewReader("token=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(IntrospectionClientID, IntrospectionClientSecret)
	if _, err := f.Server.Client().Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("delay past the client's deadline: %v", err)
	}
	f.SetDelay(0)
}
