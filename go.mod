module github.com/tokenhandler/traefik-token-handler

go 1.22.0

require (
	github.com/golang-jwt/jwt/v5 v5.3.0
	github.com/mitchellh/mapstructure v1.5.1-0.20231216201459-8508981c8b6c
	github.com/traefik/paerser v0.2.2
)

require (
	github.com/BurntSushi/toml v1.4.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
