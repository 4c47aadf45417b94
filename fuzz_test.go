package tokenhandler_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tokenhandler "github.com/tokenhandler/traefik-token-handler"
	"github.com/tokenhandler/traefik-token-handler/bfftoken"
	"github.com/tokenhandler/traefik-token-handler/oauthagent"
	"github.com/tokenhandler/traefik-token-handler/phantomtoken"
	"github.com/tokenhandler/traefik-token-handler/testsupport/fuzzcheck"
	"github.com/tokenhandler/traefik-token-handler/testsupport/traefikconfig"
)

// The fuzzed configurations' secrets: distinctive, so that an error that repeats one is found.
const (
	fuzzCfgKey    = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
	fuzzCfgSecret = "fuzz-config-client-secret-58e1d0c3"
)

// fuzzRoles are the role keys, in the order of FuzzConfig's role argument, with the Config type
// whose fields are that role's keys.
var fuzzRoles = []struct {
	key    string
	config interface{}
}{
	{"oauthAgent", oauthagent.Config{}},
	{"bffToken", bfftoken.Config{}},
	{"phantomToken", phantomtoken.Config{}},
}

// roleKeys returns the keys of a role's configuration, lower-cased (Traefik's decoding matches
// keys in any case).
func roleKeys(config interface{}) []string {
	var keys []string
	t := reflect.TypeOf(config)
	for i := 0; i < t.NumField(); i++ {
		if name := t.Field(i).Name; name != "Unknown" {
			keys = append(keys, strings.ToLower(name))
		}
	}
	return keys
}

// isSecretKey reports whether a key holds a secret (or, for a ...File key, a file with one).
func isSecretKey(key string) bool {
	key = strings.TrimSuffix(strings.ToLower(key), "file")
	return key == "clientsecret" || key == "encryptionkey" || key == "previousencryptionkeys"
}

// FuzzConfig decodes a valid configuration of one role with one or two keys set to fuzzed string
// values (as Traefik delivers labels and files: every value a string), the way Traefik does, and
// builds the middleware with New. role picks oauthAgent, bffToken, phantomToken, or the plugin's
// top level beside a valid bffToken. A ...File key gets the path of a file holding the value.
// Whatever the keys and values:
//
//   - neither decoding nor New panics;
//   - New returns a handler or an error, never both or neither, and an error names a key (one
//     of the role's, or a fuzzed one), and never repeats a secret given to it;
//   - New makes no network connection (the configured endpoints are a listener that counts).
func FuzzConfig(f *testing.F) {
	seeds := []struct {
		role         uint8
		key1, value1 string
		key2, value2 string
	}{
		{1, "cookieNamePrefix", "example", "", ""},
		{1, "cookieNamePrefix", "", "", ""},
		{1, "cookieNamePrefix", "ex ample;", "", ""},
		{1, "cookieNamePrefix", strings.Repeat("x", 65), "", ""},
		{1, "encryptionKey", "", "", ""},
		{1, "encryptionKey", "zz" + fuzzCfgKey[2:], "", ""},
		{1, "encryptionKey", fuzzCfgKey + "00", "", ""},
		{1, "encryptionKeyFile", fuzzCfgKey + "\n", "encryptionKey", ""},
		{1, "encryptionKeyFile", "", "encryptionKey", ""},
		{1, "encryptionKeyFile", "\n\n", "encryptionKey", ""},
		{1, "previousEncryptionKeys", fuzzCfgKey + "," + fuzzCfgKey, "", ""},
		{1, "previousEncryptionKeys", ",,,", "", ""},
		{1, "previousEncryptionKeysFile", "# comment\n" + fuzzCfgKey + "\n\nnot-a-key\n", "", ""},
		{1, "trustedWebOrigins", "https://a.example,https://b.example:8443/", "", ""},
		{1, "trustedWebOrigins", "null", "", ""},
		{1, "trustedWebOrigins", "*", "", ""},
		{1, "trustedWebOrigins", "https://a.example/path", "", ""},
		{1, "trustedWebOrigins", "https://user@a.example", "", ""},
		{1, "trustedWebOrigins", "", "", ""},
		{1, "corsEnabled", "maybe", "", ""},
		{1, "corsEnabled", "0", "removeCookieHeaders", "FALSE"},
		{1, "corsMaxAge", "-1", "", ""},
		{1, "corsMaxAge", "99999999999999999999", "", ""},
		{1, "corsAllowMethods", "GET,,POST", "corsExposeHeaders", "x-a, x-b"},
		{1, "allowTokens", "yes", "", ""},
		{1, "logLevel", "TRACE", "", ""},
		{1, "LOGLEVEL", "debug", "logLevel", "error"},
		{1, "cookienameprefix", "other", "", ""},
		{1, "unknownKey", "x", "", ""},
		{1, "", "", "", ""},
		{1, "cookieNamePrefix.sub", "x", "", ""},
		{0, "issuer", "", "", ""},
		{0, "issuer", "ftp://login.example.com", "", ""},
		{0, "issuer", "http://[::1", "", ""},
		{0, "tokenEndpoint", "javascript:alert(1)", "jwksUri", "http://127.0.0.1:1/jwks"},
		{0, "clientAuthMethod", "private_key_jwt", "", ""},
		{0, "clientSecret", "", "clientSecretFile", fuzzCfgSecret},
		{0, "redirectUri", "/relative", "postLogoutRedirectUri", "https://www.example.com/"},
		{0, "pathPrefix", "/oauth agent", "", ""},
		{0, "pathPrefix", "/", "cookieBasePath", "/a;b"},
		{0, "cookieDomain", "example.com; Secure", "", ""},
		{0, "cookieSecure", "false", "corsEnabled", "false"},
		{0, "scope", "  openid\tprofile  ", "", ""},
		{0, "timeoutSeconds", "-5", "", ""},
		{0, "timeoutSeconds", "1.5", "", ""},
		{0, "timeoutSeconds", "9223372036854775807", "", ""},
		{2, "introspectionEndpoint", "", "", ""},
		{2, "introspectionEndpoint", "unix:///var/run/x.sock", "", ""},
		{2, "tokenCacheSeconds", "0", "maxCacheEntries", "-1"},
		{2, "tokenCacheSeconds", "-1", "", ""},
		{2, "requiredScopes", "read, write,,", "", ""},
		{2, "realm", "a\"b", "", ""},
		{2, "realm", "\u00e9\u0000", "", ""},
		{2, "insecureSkipVerify", "true", "timeoutSeconds", "0"},
		{2, "clientId", "", "clientSecret", ""},
		{3, "phantomToken", "x", "", ""},
		{3, "bffTokens", "x", "", ""},
		{3, "bfftoken", "", "", ""},
		{3, "oauthAgent", "", "", ""},
		{255, "\xff\x00", "\xff\x00", "\u202e", "\u202e"},
	}
	for _, s := range seeds {
		f.Add(s.role, s.key1, s.value1, s.key2, s.value2)
	}

	// Every endpoint of the base configurations is this listener: New must never connect to it.
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { listener.Close() })
	var connections atomic.Int64
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			connections.Add(1)
			conn.Close()
		}
	}()
	endpoint := "http://" + listener.Addr().String()
	base := func(role int) map[string]interface{} {
		switch role {
		case 0:
			return map[string]interface{}{
				"issuer": endpoint, "clientId": "spa-client", "clientSecret": fuzzCfgSecret,
				"redirectUri": "https://www.example.com/", "cookieNamePrefix": "example",
				"encryptionKey": fuzzCfgKey, "trustedWebOrigins": "https://www.example.com", "timeoutSeconds": "1",
			}
		case 2:
			return map[string]interface{}{
				"introspectionEndpoint": endpoint + "/introspect", "clientId": "api-gateway-client",
				"clientSecret": fuzzCfgSecret, "timeoutSeconds": "1",
			}
		}
		return map[string]interface{}{
			"cookieNamePrefix": "example", "encryptionKey": fuzzCfgKey, "trustedWebOrigins": "https://www.example.com",
		}
	}
	dir := f.TempDir()
	var files int

	f.Fuzz(func(t *testing.T, role uint8, key1, value1, key2, value2 string) {
		defer fuzzcheck.Bound(t, 10*time.Second, 16<<20)()
		pairs := [][2]string{
			{fuzzcheck.Cap(key1, 256), fuzzcheck.Cap(value1, 4096)},
			{fuzzcheck.Cap(key2, 256), fuzzcheck.Cap(value2, 4096)},
		}
		r := int(role) % 4
		roleIndex := r
		if r == 3 {
			roleIndex = 1 // the top level, beside a valid bffToken
		}
		cfg := base(roleIndex)
		top := map[string]interface{}{fuzzRoles[roleIndex].key: cfg}
		var secrets []string
		names := []string{}
		for _, p := range pairs {
			key, value := p[0], p[1]
			if key == "" && value == "" {
				continue
			}
			if key != "" {
				names = append(names, strings.ToLower(key))
			} else {
				names = append(names, ": unknown key") // "bffToken: invalid configuration: : unknown key"
			}
			if strings.HasSuffix(strings.ToLower(key), "file") && value != "" {
				files++
				path := filepath.Join(dir, "value-"+strconv.Itoa(files))
				if err := os.WriteFile(path, []byte(value), 0o600); err != nil {
					t.Fatal(err)
				}
				if isSecretKey(key) {
					secrets = append(secrets, strings.TrimSpace(value))
				}
				value = path
			} else if isSecretKey(key) {
				secrets = append(secrets, strings.TrimSpace(value))
			}
			if r == 3 {
				top[key] = value
			} else {
				cfg[key] = value
			}
		}
		if r == 3 {
			for _, role := range fuzzRoles {
				names = append(names, strings.ToLower(role.key))
			}
		} else {
			names = append(names, roleKeys(fuzzRoles[roleIndex].config)...)
		}

		config := tokenhandler.CreateConfig()
		var h http.Handler
		err := traefikconfig.Decode(top, config)
		if err == nil {
			h, err = tokenhandler.New(context.Background(), http.NotFoundHandler(), config, "fuzz@file")
			if (h == nil) == (err == nil) {
				t.Fatalf("New returned handler %v and error %v", h != nil, err)
			}
		}
		if n := connections.Load(); n > 0 {
			t.Fatalf("New made %d network connections", n)
		}
		if err == nil {
			return
		}
		text := strings.ToLower(err.Error())
		named := false
		for _, name := range names {
			if strings.Contains(text, name) {
				named = true
				break
			}
		}
		if !named {
			t.Fatalf("the error names no key: %v", err)
		}
		for _, s := range secrets {
			if len(s) >= 16 && strings.Contains(err.Error(), s) {
				t.Fatalf("the error repeats a secret: %v", err)
			}
		}
	})
}
