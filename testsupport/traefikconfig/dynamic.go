package traefikconfig

import (
	"fmt"

	"github.com/traefik/paerser/file"
	"github.com/traefik/paerser/parser"
)

// The slice of Traefik's dynamic configuration that holds plugin middlewares, with the same
// tags as Traefik's pkg/config/dynamic, so that paerser decodes labels and files into it exactly
// as it decodes them into Traefik's own types.
type (
	// PluginConf is one plugin's raw configuration, keyed by the plugin alias.
	PluginConf map[string]interface{}
	// Middleware is a middleware of the dynamic configuration.
	Middleware struct {
		Plugin map[string]PluginConf `json:"plugin,omitempty" toml:"plugin,omitempty" yaml:"plugin,omitempty" export:"true"`
	}
	// HTTPConfiguration is the http section of the dynamic configuration.
	HTTPConfiguration struct {
		Middlewares map[string]*Middleware `json:"middlewares,omitempty" toml:"middlewares,omitempty" yaml:"middlewares,omitempty" export:"true"`
	}
	// Configuration is the dynamic configuration.
	Configuration struct {
		HTTP *HTTPConfiguration `json:"http,omitempty" toml:"http,omitempty" yaml:"http,omitempty" export:"true"`
	}
)

// PluginsFromLabels decodes docker labels as Traefik's docker provider does and returns, per
// middleware name, the raw configuration of the plugin alias.
func PluginsFromLabels(labels map[string]string, alias string) (map[string]map[string]interface{}, error) {
	conf := &Configuration{HTTP: &HTTPConfiguration{}}
	if err := parser.Decode(labels, conf, parser.DefaultRootName, "traefik.http", "traefik.tcp", "traefik.udp", "traefik.tls.stores.default"); err != nil {
		return nil, err
	}
	return pluginsOf(conf, alias)
}

// PluginsFromFile decodes a dynamic configuration file (ext ".yml", ".yaml" or ".toml") as
// Traefik's file provider does, after its template rendering.
func PluginsFromFile(content, ext string, alias string) (map[string]map[string]interface{}, error) {
	conf := &Configuration{}
	if err := file.DecodeContent(content, ext, conf); err != nil {
		return nil, err
	}
	return pluginsOf(conf, alias)
}

func pluginsOf(conf *Configuration, alias string) (map[string]map[string]interface{}, error) {
	out := map[string]map[string]interface{}{}
	if conf.HTTP == nil {
		return out, nil
	}
	for name, mw := range conf.HTTP.Middlewares {
		if mw == nil || mw.Plugin == nil {
			continue
		}
		if len(mw.Plugin) != 1 {
			return nil, fmt.Errorf("middleware %s: a plugin middleware has exactly one plugin, got %d", name, len(mw.Plugin))
		}
		raw, ok := mw.Plugin[alias]
		if !ok {
			continue
		}
		out[name] = raw
	}
	return out, nil
}

// DecodeManifest decodes a .traefik.yml as the plugin catalog's analyzer does, so that testData
// gets the same string typing as a file provider gives.
func DecodeManifest(content string, target interface{}) error {
	return file.DecodeContent(content, ".yaml", target)
}
