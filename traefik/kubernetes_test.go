package traefik_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/traefik/traefik/v3/pkg/config/dynamic"
	"github.com/traefik/traefik/v3/pkg/provider"
	"github.com/traefik/traefik/v3/pkg/provider/kubernetes/crd"
	"github.com/traefik/traefik/v3/pkg/safe"
	"gopkg.in/yaml.v3"
)

// secretURNPrefix starts the values that Traefik's CRD provider replaces by a Secret's value.
const secretURNPrefix = "urn:k8s:secret:"

// TestKubernetesExamples applies each documented Kubernetes example (the code blocks named
// kubernetes-* in README.md and docs/*.md) to a fake Kubernetes API server, runs Traefik
// v3.6.12's own CRD provider against it (client-go's informers, the traefik.io/v1alpha1 types,
// spec.plugin turned into dynamic configuration and urn:k8s:secret:<name>:<key> references
// resolved), and builds every tokenhandler middleware of the configuration it sends with the
// interpreted plugin. The plugin configuration must be the manifest's as JSON decodes it (numbers
// are float64), with each secret reference replaced by the Secret's value; without its Secret,
// Traefik drops the middleware.
func TestKubernetesExamples(t *testing.T) {
	examples := documentedExamples(t)
	var names []string
	for name := range examples {
		if strings.HasPrefix(name, "kubernetes-") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, required := range []string{"kubernetes-middleware", "kubernetes-middleware-secrets"} {
		if _, ok := examples[required]; !ok {
			t.Errorf("no example %q in README.md or docs/*.md", required)
		}
	}
	referencesSecrets := false
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			objects := parseManifests(t, examples[name])
			middlewares := 0
			for _, o := range objects {
				switch o.kind() {
				case "Middleware":
					middlewares++
					referencesSecrets = referencesSecrets || mentionsSecret(o.spec()["plugin"])
				case "Secret":
				default:
					t.Fatalf("the example holds a %s: only Middleware and Secret are served here", o.kind())
				}
			}
			conf := kubernetesConfiguration(t, objects)
			for _, o := range objects {
				if o.kind() != "Middleware" {
					continue
				}
				id := provider.Normalize(o.namespace() + "-" + o.name())
				m, ok := conf.HTTP.Middlewares[id]
				if !ok {
					t.Fatalf("the provider dropped middleware %s (see its log above: a Secret or key it references is missing?)", id)
				}
				want := withSecretValues(t, jsonTypes(t, o.spec()["plugin"]), objects, o.namespace())
				got := map[string]interface{}{}
				for alias, pc := range m.Plugin {
					got[alias] = map[string]interface{}(pc)
				}
				if !reflect.DeepEqual(got, want) {
					gotJSON, _ := json.Marshal(got)
					wantJSON, _ := json.Marshal(want)
					t.Errorf("middleware %s: the provider gives\n%s\nwant\n%s", id, gotJSON, wantJSON)
				}
			}
			if built := buildPluginMiddlewares(t, conf, "kubernetescrd"); built != middlewares {
				t.Errorf("built %d tokenhandler middlewares, want %d", built, middlewares)
			}

			var withoutSecrets []manifestObject
			for _, o := range objects {
				if o.kind() != "Secret" {
					withoutSecrets = append(withoutSecrets, o)
				}
			}
			if len(withoutSecrets) == len(objects) {
				return
			}
			conf = kubernetesConfiguration(t, withoutSecrets)
			for _, o := range withoutSecrets {
				id := provider.Normalize(o.namespace() + "-" + o.name())
				_, present := conf.HTTP.Middlewares[id]
				if wantPresent := !mentionsSecret(o.spec()["plugin"]); present != wantPresent {
					t.Errorf("without the example's Secrets, middleware %s is there: %v, want %v", id, present, wantPresent)
				}
			}
		})
	}
	if !referencesSecrets {
		t.Error("no Kubernetes example references a Secret (urn:k8s:secret:<name>:<key>)")
	}
}

// manifestObject is one YAML document of a manifest, as kubectl would send it.
type manifestObject map[string]interface{}

func (o manifestObject) kind() string { s, _ := o["kind"].(string); return s }

func (o manifestObject) metadata() map[string]interface{} {
	m, _ := o["metadata"].(map[string]interface{})
	return m
}

func (o manifestObject) name() string { s, _ := o.metadata()["name"].(string); return s }

func (o manifestObject) namespace() string { s, _ := o.metadata()["namespace"].(string); return s }

func (o manifestObject) spec() map[string]interface{} {
	m, _ := o["spec"].(map[string]interface{})
	return m
}

// parseManifests reads the YAML documents of a manifest and gives each the namespace kubectl
// would (default).
func parseManifests(t *testing.T, manifests string) []manifestObject {
	t.Helper()
	var objects []manifestObject
	decoder := yaml.NewDecoder(strings.NewReader(manifests))
	for {
		// Into a plain map: into manifestObject, yaml.v3 would make every nested mapping one too.
		var raw map[string]interface{}
		err := decoder.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if raw == nil {
			continue
		}
		o := manifestObject(raw)
		if o.metadata() == nil || o.name() == "" {
			t.Fatalf("a %s without metadata.name", o.kind())
		}
		if o.namespace() == "" {
			o.metadata()["namespace"] = "default"
		}
		objects = append(objects, o)
	}
	return objects
}

// jsonTypes is v as it comes out of JSON, the way the API server stores a custom resource.
func jsonTypes(t *testing.T, v interface{}) map[string]interface{} {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]interface{}
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// withSecretValues replaces every secret reference in v by the value of the Secret of namespace
// that the manifest defines.
func withSecretValues(t *testing.T, v map[string]interface{}, objects []manifestObject, namespace string) map[string]interface{} {
	t.Helper()
	var replace func(interface{}) interface{}
	replace = func(v interface{}) interface{} {
		switch v := v.(type) {
		case string:
			if !strings.HasPrefix(v, secretURNPrefix) {
				return v
			}
			name, key, _ := strings.Cut(strings.TrimPrefix(v, secretURNPrefix), ":")
			for _, o := range objects {
				if o.kind() == "Secret" && o.namespace() == namespace && o.name() == name {
					if value, ok := secretData(t, o)[key]; ok {
						return string(value)
					}
				}
			}
			t.Fatalf("%s: the example defines no such Secret and key in namespace %s", v, namespace)
		case map[string]interface{}:
			for k, e := range v {
				v[k] = replace(e)
			}
		case []interface{}:
			for i, e := range v {
				v[i] = replace(e)
			}
		}
		return v
	}
	return replace(v).(map[string]interface{})
}

// mentionsSecret reports whether v holds a secret reference.
func mentionsSecret(v interface{}) bool {
	data, _ := json.Marshal(v)
	return bytes.Contains(data, []byte(secretURNPrefix))
}

// secretData is a Secret's data as the API server stores it: stringData merged over data.
func secretData(t *testing.T, o manifestObject) map[string][]byte {
	t.Helper()
	data := map[string][]byte{}
	if encoded, ok := o["data"].(map[string]interface{}); ok {
		for k, v := range encoded {
			s, _ := v.(string)
			decoded, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				t.Fatalf("Secret %s: data.%s is not base64: %v", o.name(), k, err)
			}
			data[k] = decoded
		}
	}
	if plain, ok := o["stringData"].(map[string]interface{}); ok {
		for k, v := range plain {
			data[k] = []byte(fmt.Sprint(v))
		}
	}
	return data
}

// kubernetesConfiguration serves objects from a fake Kubernetes API on 127.0.0.1, runs Traefik's
// CRD provider against it until it sends its first configuration, and returns that.
func kubernetesConfiguration(t *testing.T, objects []manifestObject) *dynamic.Configuration {
	t.Helper()
	api := httptest.NewServer(newFakeKubernetesAPI(t, objects))
	// The provider would take these for a cluster to connect to instead of its Endpoint.
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBECONFIG", "")
	p := &crd.Provider{Endpoint: api.URL}
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	pool := safe.NewPool(context.Background())
	messages := make(chan dynamic.Message, 1)
	stopped := make(chan struct{})
	defer func() {
		// A later configuration must not block the provider while the pool waits for it.
		go func() {
			for {
				select {
				case <-messages:
				case <-stopped:
					return
				}
			}
		}()
		pool.Stop()
		close(stopped)
		api.CloseClientConnections()
		api.Close()
	}()
	if err := p.Provide(messages, pool); err != nil {
		t.Fatal(err)
	}
	select {
	case msg := <-messages:
		if msg.Configuration == nil || msg.Configuration.HTTP == nil {
			t.Fatalf("the provider sent %+v", msg)
		}
		return msg.Configuration
	case <-time.After(30 * time.Second):
		t.Fatal("the CRD provider sent no configuration in 30 s")
	}
	return nil
}

// fakeKubernetesAPI answers the list and watch requests of client-go's informers: a list gets
// the objects of its resource (in its namespace, or in all), a watch stays open without events
// until the client leaves.
type fakeKubernetesAPI struct {
	t *testing.T
	// objects by group/version and resource (plural, as in the URL path).
	objects map[string][]manifestObject
}

// kubernetesResources maps the kinds a manifest may hold to where the API serves them.
var kubernetesResources = map[string]struct{ groupVersion, resource string }{
	"Middleware": {"traefik.io/v1alpha1", "middlewares"},
	"Secret":     {"v1", "secrets"},
}

func newFakeKubernetesAPI(t *testing.T, objects []manifestObject) *fakeKubernetesAPI {
	api := &fakeKubernetesAPI{t: t, objects: map[string][]manifestObject{}}
	for i, o := range objects {
		where, ok := kubernetesResources[o.kind()]
		if !ok || o["apiVersion"] != where.groupVersion {
			t.Fatalf("%v %s is not served here", o["apiVersion"], o.kind())
		}
		stored := manifestObject{}
		for k, v := range o {
			stored[k] = v
		}
		metadata := map[string]interface{}{"resourceVersion": "1", "uid": fmt.Sprintf("uid-%d", i)}
		for k, v := range o.metadata() {
			metadata[k] = v
		}
		stored["metadata"] = metadata
		if o.kind() == "Secret" {
			stored["data"] = secretData(t, o) // []byte values marshal as base64, as the API sends them
			delete(stored, "stringData")
		}
		key := where.groupVersion + " " + where.resource
		api.objects[key] = append(api.objects[key], stored)
	}
	return api
}

func (a *fakeKubernetesAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var groupVersion string
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		groupVersion, parts = parts[1], parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		groupVersion, parts = parts[1]+"/"+parts[2], parts[3:]
	default:
		http.NotFound(w, r)
		return
	}
	namespace := ""
	if len(parts) == 3 && parts[0] == "namespaces" {
		namespace, parts = parts[1], parts[2:]
	}
	if len(parts) != 1 || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Query().Get("watch") == "true" {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		return
	}
	items := []manifestObject{}
	for _, o := range a.objects[groupVersion+" "+parts[0]] {
		if namespace == "" || o.namespace() == namespace {
			items = append(items, o)
		}
	}
	if err := json.NewEncoder(w).Encode(map[string]interface{}{
		"metadata": map[string]string{"resourceVersion": "1"},
		"items":    items,
	}); err != nil {
		a.t.Errorf("answering %s: %v", r.URL, err)
	}
}
