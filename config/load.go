package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/joho/godotenv"
	"gopkg.in/yaml.v3"
)

// Sources says where to read configuration from. Env is the process
// environment as KEY=VALUE pairs (os.Environ()).
type Sources struct {
	File    string
	EnvFile string
	Env     []string
}

// Load reads the file, then the environment (an .env file first, the
// process environment over it, as Laravel does), and adds the development
// app when no app is configured. Flags are applied afterwards by the caller
// with Overrides.Apply. Load does not validate; call Validate.
func Load(src Sources) (Config, error) {
	cfg := Default()
	if src.File != "" {
		raw, err := os.ReadFile(src.File)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return cfg, fmt.Errorf("config: %s: %w", src.File, err)
		}
	}
	env := map[string]string{}
	if src.EnvFile != "" {
		fileEnv, err := godotenv.Read(src.EnvFile)
		if err != nil {
			return cfg, fmt.Errorf("config: env file: %w", err)
		}
		env = fileEnv
	}
	for k, v := range parseEnviron(src.Env) {
		env[k] = v
	}
	if err := applyEnv(&cfg, env); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// WithDevApp adds the development app when cfg has no app.
func WithDevApp(cfg Config) Config {
	if len(cfg.Apps) == 0 {
		app := cfg.singleApp
		app.ID, app.Key, app.Secret = DevAppID, DevAppKey, DevAppSecret
		cfg.Apps = []App{app}
		cfg.DevApp = true
	}
	return cfg
}

func parseEnviron(environ []string) map[string]string {
	out := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := cutEnv(kv); ok {
			out[k] = v
		}
	}
	return out
}

func cutEnv(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], i > 0
		}
	}
	return "", "", false
}
