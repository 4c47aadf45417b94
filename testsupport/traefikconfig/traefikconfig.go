// Package traefikconfig decodes plugin configuration exactly as Traefik v3.6 does before it calls
// a plugin's New: mapstructure with weak typing and a hook that splits "a,b" into a list. Tests use
// it to feed raw label and file values to the compiled roles.
package traefikconfig

import (
	"github.com/mitchellh/mapstructure"
)

// Decode fills target, a pointer returned by a CreateConfig, from raw, as Traefik's
// pkg/plugins/middlewareyaegi.go does. An empty raw map leaves target as it is.
func Decode(raw map[string]interface{}, target interface{}) error {
	if len(raw) == 0 {
		return nil
	}
	decoder, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook:       mapstructure.StringToSliceHookFunc(","),
		WeaklyTypedInput: true,
		Result:           target,
	})
	if err != nil {
		return err
	}
	return decoder.Decode(raw)
}
