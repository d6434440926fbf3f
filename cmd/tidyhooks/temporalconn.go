package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
)

// temporalFileVars name files the Temporal client reads; each must be
// readable before a process starts.
var temporalFileVars = []string{
	"TEMPORAL_CONFIG_FILE", "TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
}

// getenvLookup reads the Temporal SDK's variables through getenv, as the
// rest of the configuration is read; an empty variable is unset.
type getenvLookup func(string) string

func (g getenvLookup) LookupEnv(key string) (string, bool) {
	v := g(key)
	return v, v != ""
}

// Environ is the process's environment: the SDK reads TEMPORAL_GRPC_META_*
// headers from it.
func (g getenvLookup) Environ() []string { return os.Environ() }

// temporalClientOptions is how api and worker reach Temporal: through the
// Temporal SDK's environment configuration (envconfig), so that an operator
// configures them as the Temporal CLI: the TOML file it reads
// (TEMPORAL_CONFIG_FILE, by default ~/.config/temporalio/temporal.toml),
// its profile (TEMPORAL_PROFILE), and TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
// TEMPORAL_API_KEY, TEMPORAL_TLS* and TEMPORAL_GRPC_META_* over it. What
// neither sets is c's address and namespace. A file that cannot be read is
// named by its variable.
func temporalClientOptions(c Config, getenv func(string) string) (client.Options, error) {
	var errs []error
	for _, name := range []string{"TEMPORAL_CODEC_ENDPOINT", "TEMPORAL_CODEC_AUTH"} {
		if getenv(name) != "" {
			errs = append(errs, fmt.Errorf("%s: a remote payload codec is not supported (workers would call it on every replay)", name))
		}
	}
	for _, name := range temporalFileVars {
		path := getenv(name)
		if path == "" {
			continue
		}
		if _, err := os.ReadFile(path); err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			errs = append(errs, fmt.Errorf("%s=%q: cannot be read: %v", name, path, err))
		}
	}
	if len(errs) > 0 {
		return client.Options{}, errors.Join(errs...)
	}
	opts, err := envconfig.LoadClientOptions(envconfig.LoadClientOptionsRequest{EnvLookup: getenvLookup(getenv)})
	if err != nil {
		if getenv("TEMPORAL_TLS_CLIENT_CERT_PATH") != "" || getenv("TEMPORAL_TLS_CLIENT_KEY_PATH") != "" {
			return client.Options{}, fmt.Errorf("TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH: %w", err)
		}
		return client.Options{}, fmt.Errorf("the Temporal client configuration (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE, TEMPORAL_*): %w", err)
	}
	if opts.HostPort == "" {
		opts.HostPort = c.TemporalAddress
	}
	if opts.Namespace == "" {
		opts.Namespace = c.TemporalNamespace
	}
	return opts, nil
}
