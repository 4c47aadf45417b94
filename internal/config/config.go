// Package config holds the checks every role's New runs on its configuration, as Traefik
// delivers it: decoded by mapstructure with weak typing, so that every value may have arrived as
// a string, unknown keys collect in a ",remain" map, and list defaults are applied here rather
// than in CreateConfig (where Traefik would merge them with the user's list).
package config

import (
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/tokenhandler/traefik-token-handler/internal/backchannel"
	"github.com/tokenhandler/traefik-token-handler/internal/cookiecrypt"
	"github.com/tokenhandler/traefik-token-handler/internal/cors"
	"github.com/tokenhandler/traefik-token-handler/internal/jwt"
	"github.com/tokenhandler/traefik-token-handler/internal/logger"
)

// MaxTimeoutSeconds bounds every timeoutSeconds: larger values are typos, and would overflow a
// duration.
const MaxTimeoutSeconds = 600

// The OAuth Agent APIs (agentApi, for the agent and bffToken): Curity's v1 API, the default, and
// its v2 API (contract §6.8).
const (
	AgentAPIV1 = "v1"
	AgentAPIV2 = "v2"
)

// AgentAPIs are the values of agentApi, the default first.
var AgentAPIs = []string{AgentAPIV1, AgentAPIV2}

// maxSecretFileBytes bounds what a ...File key reads: a key or a client secret is short, and a
// path such as /dev/zero must not stall New.
const maxSecretFileBytes = 64 * 1024

// Errors collects configuration problems so that New reports all of them at once, each naming
// the key it is about.
type Errors struct {
	role     string
	problems []string
}

// NewErrors starts a collection for one role, such as "bffToken", with a problem for each
// unknown key: the keys that mapstructure could not match to a field (its ",remain" map).
func NewErrors(role string, unknown map[string]interface{}) *Errors {
	e := &Errors{role: role}
	e.Unknown(unknown)
	return e
}

// Add records a problem with key.
func (e *Errors) Add(key string, format string, args ...interface{}) {
	e.problems = append(e.problems, key+": "+fmt.Sprintf(format, args...))
}

// AddErr records err as a problem with key, when err is not nil.
func (e *Errors) AddErr(key string, err error) {
	if err != nil {
		e.Add(key, "%s", err.Error())
	}
}

// Err returns nil when no problem was recorded, else one error listing them all.
func (e *Errors) Err() error {
	if len(e.problems) == 0 {
		return nil
	}
	return errors.New(e.role + ": invalid configuration: " + strings.Join(e.problems, "; "))
}

// Unknown records every key that mapstructure could not match to a field: a misspelt key must
// fail loudly rather than leave a setting at its default.
func (e *Errors) Unknown(remain map[string]interface{}) {
	if len(remain) == 0 {
		return
	}
	for _, k := range SortedKeys(remain) {
		if k == "" {
			k = `""`
		}
		e.Add(k, "unknown key")
	}
}

// Next returns next, or, for a caller outside Traefik that passes none, a handler that answers
// 404.
func Next(next http.Handler) http.Handler {
	if next == nil {
		return http.NotFoundHandler()
	}
	return next
}

// SortedKeys returns the keys of m in order, so that messages about them do not depend on Go's
// random map order.
func SortedKeys(m map[string]interface{}) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Required records key as missing when value is empty.
func (e *Errors) Required(key, value string) {
	if strings.TrimSpace(value) == "" {
		e.Add(key, "is required")
	}
}

// Secret returns a secret given either inline (key) or as a file path (key+"File"), with
// surrounding white space removed. Giving both is an error, because one would silently win.
func (e *Errors) Secret(key, inline, file string, required bool) string {
	inline = strings.TrimSpace(inline)
	file = strings.TrimSpace(file)
	switch {
	case inline != "" && file != "":
		e.Add(key, "give either %s or %sFile, not both", key, key)
		return ""
	case file != "":
		data, err := readSecretFile(file)
		if err != nil {
			e.Add(key+"File", "cannot read the file: %s", describeFileError(err))
			return ""
		}
		secret := strings.TrimSpace(string(data))
		if secret == "" && required {
			e.Add(key+"File", "the file is empty")
		}
		return secret
	case inline == "" && required:
		e.Add(key, "is required (or give %sFile)", key)
	}
	return inline
}

// SecretList returns a list of secrets given inline (key) and/or in a file (key+"File"), one
// per line; blank lines and lines starting with # are skipped.
func (e *Errors) SecretList(key string, inline []string, file string) []string {
	list := List(inline)
	file = strings.TrimSpace(file)
	if file == "" {
		return list
	}
	data, err := readSecretFile(file)
	if err != nil {
		e.Add(key+"File", "cannot read the file: %s", describeFileError(err))
		return list
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			list = append(list, line)
		}
	}
	return list
}

// errSecretFileTooLarge is returned for a secret file over maxSecretFileBytes.
var errSecretFileTooLarge = errors.New("it is larger than 64 KiB")

// readSecretFile reads a secret file, at most maxSecretFileBytes of it.
func readSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxSecretFileBytes {
		return nil, errSecretFileTooLarge
	}
	return data, nil
}

func describeFileError(err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "it does not exist"
	case errors.Is(err, os.ErrPermission):
		return "permission denied"
	}
	return err.Error()
}

// List trims every entry and drops empty ones: "a, b," arrives as ["a", " b", ""].
func List(values []string) []string {
	out := make([]string, 0, len(values))
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// ListOr returns List(values), or def when that is empty.
func ListOr(values []string, def []string) []string {
	if list := List(values); len(list) > 0 {
		return list
	}
	return def
}

// BoolOr returns *p, or def when the key was not given.
func BoolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

// IntOr returns *p, or def when the key was not given.
func IntOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// cookieNameChars are the characters allowed in a cookie name prefix: letters, digits, '-', '_'
// and '.', a safe subset of RFC 6265 token characters that needs no quoting anywhere.
const cookieNameChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."

// maxCookieNamePrefix is the limit of Curity's C proxy, kept for interoperability.
const maxCookieNamePrefix = 64

// CookieNamePrefix checks the prefix that the cookie names and the CSRF header name derive from.
func (e *Errors) CookieNamePrefix(key, prefix string) {
	switch {
	case prefix == "":
		e.Add(key, "is required")
	case len(prefix) > maxCookieNamePrefix:
		e.Add(key, "must be at most %d characters, got %d", maxCookieNamePrefix, len(prefix))
	case strings.Trim(prefix, cookieNameChars) != "":
		e.Add(key, "may contain only letters, digits, '-', '_' and '.', got %q", prefix)
	}
}

// CookieCipher builds the cookie cipher from the encryptionKey / encryptionKeyFile and
// previousEncryptionKeys / previousEncryptionKeysFile keys, recording any problem; it returns nil
// when there is one.
func (e *Errors) CookieCipher(key, keyFile string, previous []string, previousFile string) *cookiecrypt.Cipher {
	current := e.Secret("encryptionKey", key, keyFile, true)
	older := e.SecretList("previousEncryptionKeys", previous, previousFile)
	if current == "" {
		return nil
	}
	c, err := cookiecrypt.NewCipher(current, older)
	if err != nil {
		e.AddErr("encryptionKey", err)
		return nil
	}
	return c
}

// URL checks an endpoint given under key and returns it trimmed; "" when it is not given.
func (e *Errors) URL(key, value string, required bool) string {
	value = strings.TrimSpace(value)
	switch {
	case value == "":
		if required {
			e.Add(key, "is required")
		}
	case !IsHTTPURL(value):
		e.Add(key, "must be an http or https URL without a fragment, got %q", value)
	}
	return value
}

// IsHTTPURL reports whether s is an absolute http or https URL without a fragment (a fragment
// would swallow the query a role appends, and is never sent).
func IsHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Fragment == "" && !strings.Contains(s, "#")
}

// Int returns value, or def when it is 0 (not given), recording a problem when the result is
// outside [lo, hi]: bounds keep a typo from overflowing a duration or asking for unbounded
// memory.
func (e *Errors) Int(key string, value, def, lo, hi int) int {
	if value == 0 {
		value = def
	}
	return e.Range(key, value, lo, hi)
}

// Range returns value, recording a problem when it is outside [lo, hi].
func (e *Errors) Range(key string, value, lo, hi int) int {
	if value < lo || value > hi {
		e.Add(key, "must be from %d to %d, got %d", lo, hi, value)
	}
	return value
}

// Timeout reads a timeoutSeconds key: def when not given, from 1 to MaxTimeoutSeconds.
func (e *Errors) Timeout(key string, value, def int) time.Duration {
	return time.Duration(e.Int(key, value, def, 1, MaxTimeoutSeconds)) * time.Second
}

// OneOf returns value, or allowed[0] (the default) when it is empty, recording a problem when it
// is none of allowed.
func (e *Errors) OneOf(key, value string, allowed []string) string {
	value = strings.TrimSpace(value)
	if value == "" {
		return allowed[0]
	}
	for _, a := range allowed {
		if value == a {
			return value
		}
	}
	e.Add(key, "must be %s or %s, got %q", strings.Join(allowed[:len(allowed)-1], ", "), allowed[len(allowed)-1], value)
	return value
}

// LogLevel reads the logLevel key.
func (e *Errors) LogLevel(value string) logger.Level {
	level, err := logger.ParseLevel(value)
	e.AddErr("logLevel", err)
	return level
}

// TrustedWebOrigins checks the trustedWebOrigins key and returns the origins as a set and, when
// CORS is enabled, the CORS policy for them built from o (whose TrustedOrigins it sets).
func (e *Errors) TrustedWebOrigins(list []string, corsEnabled bool, o cors.Options) (map[string]bool, *cors.Policy) {
	o.TrustedOrigins = List(list)
	origins, err := cors.ParseOrigins(o.TrustedOrigins)
	if err != nil {
		e.AddErr("trustedWebOrigins", err)
		return nil, nil
	}
	if !corsEnabled {
		return origins, nil
	}
	policy, err := cors.NewPolicy(o)
	e.AddErr("corsMaxAge", err) // the origins are fine, so only the max age can be wrong
	return origins, policy
}

// ClientCredentials are the configured keys of a client's authentication at the authorization
// server.
type ClientCredentials struct {
	ClientID                   string
	Method                     string // clientAuthMethod
	Secret, SecretFile         string // clientSecret, clientSecretFile
	PrivateKey, PrivateKeyFile string // clientPrivateKey, clientPrivateKeyFile
	KeyID                      string // clientKeyId
	AssertionAlg               string // clientAssertionAlg
}

// ClientAuth checks a client's authentication keys and returns the authentication, and the
// secret material (the client secret or the private key's PEM) to tell setups apart; nil when
// there is a problem. With private_key_jwt no secret is needed or sent, and one given is refused
// rather than ignored.
func (e *Errors) ClientAuth(c ClientCredentials) (*backchannel.ClientAuth, string) {
	e.Required("clientId", c.ClientID)
	method := e.OneOf("clientAuthMethod", c.Method, backchannel.ClientAuthMethods)
	if method != backchannel.PrivateKeyJWT {
		if strings.TrimSpace(c.PrivateKey+c.PrivateKeyFile) != "" {
			e.Add("clientPrivateKey", "is used only with clientAuthMethod: private_key_jwt")
		}
		secret := e.Secret("clientSecret", c.Secret, c.SecretFile, true)
		return backchannel.NewClientAuth(method, c.ClientID, secret), secret
	}
	if strings.TrimSpace(c.Secret+c.SecretFile) != "" {
		e.Add("clientSecret", "is not used with clientAuthMethod: private_key_jwt: remove it")
	}
	key, pemText := e.SigningKey(SigningKeyKeys{Key: "clientPrivateKey", Alg: "clientAssertionAlg"},
		c.PrivateKey, c.PrivateKeyFile, c.AssertionAlg, c.KeyID, true)
	if key == nil {
		return nil, ""
	}
	return backchannel.NewPrivateKeyAuth(c.ClientID, key), pemText
}

// SigningKeyKeys name the keys of a signing key setting: Key (and Key+"File") for the PEM, Alg
// for its algorithm.
type SigningKeyKeys struct{ Key, Alg string }

// SigningKey reads a PEM private key given inline or as a file, for signing with alg ("" for
// the key's default) under kid, and returns it with its PEM text; nil when it is not given (a
// problem if required) or unusable. Errors name the key and never hold the key.
func (e *Errors) SigningKey(keys SigningKeyKeys, inline, file, alg, kid string, required bool) (*jwt.SigningKey, string) {
	alg = strings.TrimSpace(alg)
	if alg != "" && !contains(jwt.SigningAlgorithms, alg) {
		e.Add(keys.Alg, "must be one of %s, got %q", strings.Join(jwt.SigningAlgorithms, ", "), alg)
		alg = ""
	}
	pemText := e.Secret(keys.Key, inline, file, required)
	if pemText == "" {
		return nil, ""
	}
	key, err := jwt.ParseSigningKey([]byte(pemText), alg, strings.TrimSpace(kid))
	if err != nil {
		name := keys.Key
		if strings.TrimSpace(file) != "" {
			name += "File"
		}
		e.Add(name, "%s", err.Error())
		return nil, ""
	}
	return key, pemText
}

// PEMList reads PEM blocks given inline (one PEM text per entry) and/or in a file (any number
// of blocks, one after the other), returning each block's PEM text.
func (e *Errors) PEMList(key string, inline []string, file string) []string {
	var texts []string
	for _, text := range inline {
		if text = strings.TrimSpace(text); text != "" {
			texts = append(texts, text)
		}
	}
	if file = strings.TrimSpace(file); file == "" {
		return texts
	}
	data, err := readSecretFile(file)
	if err != nil {
		e.Add(key+"File", "cannot read the file: %s", describeFileError(err))
		return texts
	}
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			break
		}
		texts = append(texts, string(pem.EncodeToMemory(block)))
		data = rest
	}
	if len(strings.TrimSpace(string(data))) > 0 {
		e.Add(key+"File", "holds something other than PEM blocks")
	}
	return texts
}

func contains(list []string, s string) bool {
	for _, item := range list {
		if item == s {
			return true
		}
	}
	return false
}
