package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/config"
)

// write puts content in a file of a fresh temporary directory.
func write(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadChecked loads a configuration from yaml (none when empty) and env,
// adds the development app when it has none, and validates it. With
// wantErr set it checks that loading or validation failed mentioning it,
// and reports false.
func loadChecked(t *testing.T, yaml string, env []string, wantErr string) (config.Config, bool) {
	t.Helper()
	src := config.Sources{Env: env}
	if yaml != "" {
		src.File = write(t, "quaver.yaml", yaml)
	}
	cfg, err := config.Load(src)
	if err == nil {
		withApp := config.WithDevApp(cfg)
		err = withApp.Validate()
	}
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error %v, want one mentioning %q", err, wantErr)
		}
		return cfg, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return cfg, true
}

func TestExampleConfig(t *testing.T) {
	cfg, err := config.Load(config.Sources{File: filepath.Join("..", "testdata", "quaver.example.yaml")})
	if err != nil {
		t.Fatalf("the example configuration does not load: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the example configuration is invalid: %v", err)
	}
	if len(cfg.Apps) != 2 {
		t.Fatalf("%d apps, want 2", len(cfg.Apps))
	}
	a := cfg.Apps[0]
	if a.ID != "123456" || a.Key != "my-app-key" || a.Secret != "my-app-secret" ||
		a.ClientEvents != "members" || a.ActivityTimeout.Duration() != 30*time.Second ||
		a.UserAuthentication == nil || !*a.UserAuthentication || a.CacheTTL != 3600 ||
		!slices.Equal(a.AllowedOrigins, []string{"example.com", "*.example.com"}) {
		t.Fatalf("first app read as %+v", a)
	}
	if !cfg.Apps[1].Disabled {
		t.Fatal("second app should be disabled")
	}
	if cfg.Public.Host != "ws.example.com" || cfg.Public.Port != 443 || cfg.PongTimeout != 15 {
		t.Fatalf("server settings read as %+v", cfg)
	}
	if withDev := config.WithDevApp(cfg); withDev.DevApp || len(withDev.Apps) != 2 {
		t.Fatal("the development app was added to a configuration with apps")
	}
}

func TestLoadFile(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		check   func(t *testing.T, cfg config.Config)
		wantErr []string // substrings of the error; nil for success
	}{
		{
			name: "values",
			yaml: "host: 0.0.0.0\nport: 6001\npath: /ws\nmax_request_size: 2048\napps:\n  - id: a\n    key: k\n    secret: s\n    max_connections: 5\n    user_authentication: false\n",
			check: func(t *testing.T, cfg config.Config) {
				if cfg.Host != "0.0.0.0" || cfg.Port != 6001 || cfg.Path != "/ws" || cfg.MaxRequestSize != 2048 {
					t.Fatalf("server settings %+v", cfg)
				}
				if len(cfg.Apps) != 1 || cfg.Apps[0].MaxConnections != 5 || *cfg.Apps[0].UserAuthentication {
					t.Fatalf("apps %+v", cfg.Apps)
				}
			},
		},
		{
			name: "defaults kept for what is left out",
			yaml: "apps: []\n",
			check: func(t *testing.T, cfg config.Config) {
				if cfg.Host != config.DefaultHost || cfg.Port != config.DefaultPort || cfg.MaxRequestSize != config.DefaultMaxRequestSize {
					t.Fatalf("defaults lost: %+v", cfg)
				}
			},
		},
		{
			name: "empty file",
			yaml: "",
			check: func(t *testing.T, cfg config.Config) {
				if cfg.Port != config.DefaultPort {
					t.Fatalf("port %d", cfg.Port)
				}
			},
		},
		{name: "unknown top-level field", yaml: "host: x\nprot: 8080\n", wantErr: []string{"prot"}},
		{name: "unknown app field", yaml: "apps:\n  - id: a\n    secrett: s\n", wantErr: []string{"secrett"}},
		{name: "reverb spelling is not a field", yaml: "apps:\n  - app_id: a\n", wantErr: []string{"app_id"}},
		{name: "wrong type", yaml: "port: eighty\n", wantErr: []string{"eighty"}},
		{name: "not yaml", yaml: "apps: [\n", wantErr: []string{"yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := write(t, "quaver.yaml", tt.yaml)
			cfg, err := config.Load(config.Sources{File: path})
			if tt.wantErr != nil {
				if err == nil {
					t.Fatal("loaded without error")
				}
				for _, want := range append(tt.wantErr, path) {
					if !strings.Contains(err.Error(), want) {
						t.Fatalf("error %q does not mention %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, cfg)
		})
	}
}

func TestLoadMissingFiles(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	tests := []struct {
		name string
		src  config.Sources
	}{
		{"config file", config.Sources{File: missing}},
		{"env file", config.Sources{EnvFile: missing}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := config.Load(tt.src); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("Load = %v, want a not-exist error", err)
			}
		})
	}
}

func TestEnvironment(t *testing.T) {
	const file = "host: file-host\nport: 1111\napps:\n  - id: file-app\n    key: file-key\n    secret: file-secret\n    max_connections: 7\n"
	tests := []struct {
		name  string
		file  string
		env   []string
		check func(t *testing.T, cfg config.Config)
	}{
		{
			name: "reverb names",
			env:  []string{"REVERB_SERVER_HOST=0.0.0.0", "REVERB_SERVER_PORT=6001", "REVERB_APP_ID=r-id", "REVERB_APP_KEY=r-key", "REVERB_APP_SECRET=r-secret", "REVERB_HOST=ws.example.com", "REVERB_PORT=443", "REVERB_SCHEME=https", "REVERB_SERVER_PATH=/reverb"},
			check: func(t *testing.T, cfg config.Config) {
				if cfg.Host != "0.0.0.0" || cfg.Port != 6001 || cfg.Path != "/reverb" {
					t.Fatalf("listen settings %s:%d%s", cfg.Host, cfg.Port, cfg.Path)
				}
				if cfg.Public != (config.Public{Host: "ws.example.com", Port: 443, Scheme: "https"}) {
					t.Fatalf("public %+v", cfg.Public)
				}
				wantApp(t, cfg, "r-id", "r-key", "r-secret")
			},
		},
		{
			name: "quaver names win over reverb names",
			env:  []string{"REVERB_SERVER_PORT=6001", "QUAVER_PORT=7001", "REVERB_APP_ID=r-id", "QUAVER_APP_ID=q-id", "REVERB_APP_KEY=r-key", "REVERB_APP_SECRET=r-secret", "QUAVER_APP_SECRET=q-secret"},
			check: func(t *testing.T, cfg config.Config) {
				if cfg.Port != 7001 {
					t.Fatalf("port %d, want QUAVER_PORT's 7001", cfg.Port)
				}
				wantApp(t, cfg, "q-id", "r-key", "q-secret")
			},
		},
		{
			name: "empty quaver name does not hide the reverb name",
			env:  []string{"QUAVER_PORT=", "REVERB_SERVER_PORT=6001"},
			check: func(t *testing.T, cfg config.Config) {
				if cfg.Port != 6001 {
					t.Fatalf("port %d", cfg.Port)
				}
			},
		},
		{
			name: "laravel redis settings when reverb scaling is enabled",
			env:  []string{"REVERB_SCALING_ENABLED=true", "REDIS_HOST=redis.internal", "REDIS_PORT=6380", "REDIS_PASSWORD=pw", "REDIS_DB=2"},
			check: func(t *testing.T, cfg config.Config) {
				if cfg.Redis.URL != "redis://redis.internal:6380/2" || cfg.Redis.Password != "pw" || !cfg.Redis.Enabled() {
					t.Fatalf("redis %+v", cfg.Redis)
				}
			},
		},
		{
			name: "laravel REDIS_URL, and null password meaning none",
			env:  []string{"REVERB_SCALING_ENABLED=true", "REDIS_URL=redis://cache:6379/0", "REDIS_PASSWORD=null"},
			check: func(t *testing.T, cfg config.Config) {
				if cfg.Redis.URL != "redis://cache:6379/0" || cfg.Redis.Password != "" {
					t.Fatalf("redis %+v", cfg.Redis)
				}
			},
		},
		{
			name: "laravel redis settings ignored without reverb scaling",
			env:  []string{"REDIS_HOST=redis.internal"},
			check: func(t *testing.T, cfg config.Config) {
				if cfg.Redis.Enabled() {
					t.Fatalf("redis enabled without REVERB_SCALING_ENABLED: %+v", cfg.Redis)
				}
			},
		},
		{
			name: "quaver redis settings",
			env:  []string{"QUAVER_REDIS_CLUSTER=10.0.0.1:6379, 10.0.0.2:6379", "QUAVER_REDIS_PREFIX=prod", "QUAVER_REDIS_NODE_TIMEOUT=5", "REVERB_SCALING_ENABLED=true", "REDIS_HOST=ignored"},
			check: func(t *testing.T, cfg config.Config) {
				r := cfg.Redis
				if r.URL != "" || len(r.Cluster) != 2 || r.Cluster[1] != "10.0.0.2:6379" || r.Prefix != "prod" || r.NodeTimeout != 5 {
					t.Fatalf("redis %+v", r)
				}
			},
		},
		{
			name: "app limits apply to the app the flags will define",
			env:  []string{"QUAVER_APP_MAX_CONNECTIONS=5", "QUAVER_APP_MAX_PRESENCE_MEMBERS=3"},
			check: func(t *testing.T, cfg config.Config) {
				id, key, secret := "flag-id", "flag-key", "flag-secret"
				config.Overrides{AppID: &id, AppKey: &key, AppSecret: &secret}.Apply(&cfg)
				if a := cfg.Apps[0]; a.ID != id || a.MaxConnections != 5 || a.MaxPresenceMembers != 3 {
					t.Fatalf("flag app %+v", a)
				}
			},
		},
		{
			name: "env over file",
			file: file,
			env:  []string{"QUAVER_HOST=env-host"},
			check: func(t *testing.T, cfg config.Config) {
				if cfg.Host != "env-host" || cfg.Port != 1111 {
					t.Fatalf("%s:%d, want env-host:1111", cfg.Host, cfg.Port)
				}
				wantApp(t, cfg, "file-app", "file-key", "file-secret")
			},
		},
		{
			name: "env app replaces the file app with its id",
			file: file,
			env:  []string{"REVERB_APP_ID=file-app", "REVERB_APP_KEY=env-key", "REVERB_APP_SECRET=env-secret"},
			check: func(t *testing.T, cfg config.Config) {
				wantApp(t, cfg, "file-app", "env-key", "env-secret")
			},
		},
		{
			name: "env app with another id is added",
			file: file,
			env:  []string{"REVERB_APP_ID=env-app", "REVERB_APP_KEY=env-key", "REVERB_APP_SECRET=env-secret"},
			check: func(t *testing.T, cfg config.Config) {
				if len(cfg.Apps) != 2 || cfg.Apps[0].ID != "file-app" || cfg.Apps[1].ID != "env-app" {
					t.Fatalf("apps %+v", cfg.Apps)
				}
			},
		},
		{
			name: "app limits from env",
			env: []string{"QUAVER_APP_ID=a", "QUAVER_APP_KEY=k", "QUAVER_APP_SECRET=s", "REVERB_APP_ACTIVITY_TIMEOUT=60", "REVERB_APP_MAX_CONNECTIONS=9",
				"REVERB_APP_MAX_MESSAGE_SIZE=5000", "QUAVER_APP_MAX_EVENT_SIZE=100000", "REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM=all",
				"QUAVER_APP_CLIENT_EVENT_RATE=20", "REVERB_APP_ALLOWED_ORIGINS=a.com, *.b.com,", "QUAVER_APP_CACHE_TTL=60", "QUAVER_APP_USER_AUTHENTICATION=false"},
			check: func(t *testing.T, cfg config.Config) {
				a := cfg.Apps[0]
				if a.ActivityTimeout != 60 || a.MaxConnections != 9 || a.MaxMessageSize != 5000 || a.MaxEventSize != 100000 ||
					a.ClientEvents != "all" || a.ClientEventRate != 20 || a.CacheTTL != 60 ||
					!slices.Equal(a.AllowedOrigins, []string{"a.com", "*.b.com"}) || a.UserAuthentication == nil || *a.UserAuthentication {
					t.Fatalf("app %+v", a)
				}
			},
		},
		{
			name: "user authentication left unset",
			env:  []string{"QUAVER_APP_ID=a", "QUAVER_APP_KEY=k", "QUAVER_APP_SECRET=s"},
			check: func(t *testing.T, cfg config.Config) {
				if cfg.Apps[0].UserAuthentication != nil {
					t.Fatal("user_authentication set without QUAVER_APP_USER_AUTHENTICATION")
				}
			},
		},
		{
			name: "server switches",
			env:  []string{"QUAVER_DEBUG=true", "QUAVER_MAX_REQUEST_SIZE=4096", "QUAVER_TLS_CERT=c.pem", "QUAVER_TLS_KEY=k.pem", "NOT_OURS=1", "=weird", "novalue"},
			check: func(t *testing.T, cfg config.Config) {
				if !cfg.Debug || cfg.MaxRequestSize != 4096 || cfg.TLS != (config.TLS{Cert: "c.pem", Key: "k.pem"}) {
					t.Fatalf("%+v", cfg)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := config.Sources{Env: tt.env}
			if tt.file != "" {
				src.File = write(t, "quaver.yaml", tt.file)
			}
			cfg, err := config.Load(src)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, cfg)
		})
	}
}

func wantApp(t *testing.T, cfg config.Config, id, key, secret string) {
	t.Helper()
	if len(cfg.Apps) != 1 || cfg.Apps[0].ID != id || cfg.Apps[0].Key != key || cfg.Apps[0].Secret != secret {
		t.Fatalf("apps %+v, want one app %s/%s/%s", cfg.Apps, id, key, secret)
	}
}

func TestEnvironmentBadValues(t *testing.T) {
	_, err := config.Load(config.Sources{Env: []string{
		"REVERB_SERVER_PORT=http", "QUAVER_DEBUG=maybe", "QUAVER_APP_ID=a", "QUAVER_APP_MAX_CONNECTIONS=lots",
	}})
	var problems *config.Problems
	if !errors.As(err, &problems) {
		t.Fatalf("Load = %v, want *Problems", err)
	}
	for _, want := range []string{"REVERB_SERVER_PORT", "QUAVER_DEBUG", "QUAVER_APP_MAX_CONNECTIONS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
	if len(problems.List) != 3 {
		t.Errorf("%d problems, want 3: %v", len(problems.List), problems.List)
	}
}

func TestEnvFile(t *testing.T) {
	const dotenv = `# A Laravel .env
APP_NAME=Laravel
BROADCAST_CONNECTION=reverb

REVERB_APP_ID=my-app
REVERB_APP_KEY="key-${REVERB_APP_ID}"
REVERB_APP_SECRET=s3cret # a comment
REVERB_HOST="localhost"
REVERB_PORT=8080
export REVERB_SCHEME=http
QUAVER_PUBLIC_HOST=${REVERB_HOST}
VITE_REVERB_APP_KEY="${REVERB_APP_KEY}"
QUAVER_APP_ALLOWED_ORIGINS='${NOT_EXPANDED}'
`
	path := write(t, ".env", dotenv)
	tests := []struct {
		name  string
		env   []string
		check func(t *testing.T, cfg config.Config)
	}{
		{
			name: "values and expansion",
			check: func(t *testing.T, cfg config.Config) {
				wantApp(t, cfg, "my-app", "key-my-app", "s3cret")
				if cfg.Public != (config.Public{Host: "localhost", Port: 8080, Scheme: "http"}) {
					t.Fatalf("public %+v", cfg.Public)
				}
				if got := cfg.Apps[0].AllowedOrigins; !slices.Equal(got, []string{"${NOT_EXPANDED}"}) {
					t.Fatalf("single-quoted value expanded: %v", got)
				}
			},
		},
		{
			name: "process environment over the env file",
			env:  []string{"REVERB_APP_SECRET=from-process", "REVERB_PORT=9090"},
			check: func(t *testing.T, cfg config.Config) {
				wantApp(t, cfg, "my-app", "key-my-app", "from-process")
				if cfg.Public.Port != 9090 {
					t.Fatalf("public port %d", cfg.Public.Port)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load(config.Sources{EnvFile: path, Env: tt.env})
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, cfg)
		})
	}
}

func TestOverrides(t *testing.T) {
	str := func(s string) *string { return &s }
	port, debug := 9999, true
	twoApps := []config.App{{ID: "a", Key: "ka", Secret: "sa"}, {ID: "b", Key: "kb", Secret: "sb"}}
	tests := []struct {
		name     string
		apps     []config.App
		o        config.Overrides
		wantApps []config.App
		check    func(t *testing.T, cfg config.Config)
	}{
		{
			name:     "nothing given changes nothing",
			apps:     twoApps,
			wantApps: twoApps,
			check: func(t *testing.T, cfg config.Config) {
				if cfg.Host != "env-host" || cfg.Port != 1234 || cfg.Debug {
					t.Fatalf("%+v", cfg)
				}
			},
		},
		{
			name:     "server flags over env",
			apps:     twoApps,
			o:        config.Overrides{Host: str("flag-host"), Port: &port, Path: str("/p"), TLSCert: str("c"), TLSKey: str("k"), Debug: &debug},
			wantApps: twoApps,
			check: func(t *testing.T, cfg config.Config) {
				if cfg.Host != "flag-host" || cfg.Port != 9999 || cfg.Path != "/p" || cfg.TLS.Cert != "c" || cfg.TLS.Key != "k" || !cfg.Debug {
					t.Fatalf("%+v", cfg)
				}
			},
		},
		{
			name:     "app by id",
			apps:     twoApps,
			o:        config.Overrides{AppID: str("b"), AppSecret: str("flag-secret")},
			wantApps: []config.App{twoApps[0], {ID: "b", Key: "kb", Secret: "flag-secret"}},
		},
		{
			name:     "new id adds an app",
			apps:     twoApps,
			o:        config.Overrides{AppID: str("c"), AppKey: str("kc"), AppSecret: str("sc")},
			wantApps: append(slices.Clone(twoApps), config.App{ID: "c", Key: "kc", Secret: "sc"}),
		},
		{
			name:     "without id the only app",
			apps:     twoApps[:1],
			o:        config.Overrides{AppKey: str("flag-key")},
			wantApps: []config.App{{ID: "a", Key: "flag-key", Secret: "sa"}},
		},
		{
			name:     "without id and several apps adds one",
			apps:     twoApps,
			o:        config.Overrides{AppKey: str("flag-key")},
			wantApps: append(slices.Clone(twoApps), config.App{Key: "flag-key"}),
		},
		{
			name:     "no app yet",
			o:        config.Overrides{AppID: str("x"), AppKey: str("kx"), AppSecret: str("sx")},
			wantApps: []config.App{{ID: "x", Key: "kx", Secret: "sx"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load(config.Sources{Env: []string{"QUAVER_HOST=env-host", "QUAVER_PORT=1234"}})
			if err != nil {
				t.Fatal(err)
			}
			cfg.Apps = slices.Clone(tt.apps)
			tt.o.Apply(&cfg)
			if len(cfg.Apps) != len(tt.wantApps) {
				t.Fatalf("apps %+v, want %+v", cfg.Apps, tt.wantApps)
			}
			for i := range cfg.Apps {
				got, want := cfg.Apps[i], tt.wantApps[i]
				if got.ID != want.ID || got.Key != want.Key || got.Secret != want.Secret {
					t.Fatalf("app %d = %+v, want %+v", i, got, want)
				}
			}
			if tt.check != nil {
				tt.check(t, cfg)
			}
		})
	}
}

func TestWithDevApp(t *testing.T) {
	cfg := config.WithDevApp(config.Default())
	if !cfg.DevApp || len(cfg.Apps) != 1 {
		t.Fatalf("DevApp %v, apps %+v", cfg.DevApp, cfg.Apps)
	}
	if a := cfg.Apps[0]; a.ID != config.DevAppID || a.Key != config.DevAppKey || a.Secret != config.DevAppSecret {
		t.Fatalf("dev app %+v", a)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the development configuration is invalid: %v", err)
	}
	configured := config.Default()
	configured.Apps = []config.App{{ID: "a", Key: "k", Secret: "s"}}
	if cfg := config.WithDevApp(configured); cfg.DevApp || len(cfg.Apps) != 1 || cfg.Apps[0].ID != "a" {
		t.Fatalf("dev app added to a configured app: %+v", cfg)
	}
	// Load alone never adds it; the command adds it after flags, so that
	// --app-id and friends count as configuration.
	if loaded, err := config.Load(config.Sources{}); err != nil || len(loaded.Apps) != 0 {
		t.Fatalf("Load added apps: %+v, %v", loaded.Apps, err)
	}
}

func TestValidate(t *testing.T) {
	valid := func() config.Config {
		cfg := config.Default()
		cfg.Apps = []config.App{{ID: "a", Key: "k", Secret: "s"}}
		return cfg
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tests := []struct {
		name   string
		change func(cfg *config.Config)
		want   []string // one problem each, by the field it names
	}{
		{"valid", func(*config.Config) {}, nil},
		{"empty host", func(c *config.Config) { c.Host = "" }, []string{"host:"}},
		{"port range", func(c *config.Config) { c.Port = 70000 }, []string{"port: 70000"}},
		{"negative port", func(c *config.Config) { c.Port = -1 }, []string{"port: -1"}},
		{"path without slash", func(c *config.Config) { c.Path = "ws" }, []string{`path: "ws"`}},
		{"path with trailing slash", func(c *config.Config) { c.Path = "/ws/" }, []string{`path: "/ws/"`}},
		{"tls cert alone", func(c *config.Config) { c.TLS.Cert = missing }, []string{"tls:", "tls.cert:"}},
		{"tls files missing", func(c *config.Config) { c.TLS = config.TLS{Cert: missing, Key: missing} }, []string{"tls.cert:", "tls.key:"}},
		{"small request size", func(c *config.Config) { c.MaxRequestSize = 10 }, []string{"max_request_size: 10"}},
		{"negative pong timeout", func(c *config.Config) { c.PongTimeout = -1 }, []string{"pong_timeout: -1"}},
		{"no apps", func(c *config.Config) { c.Apps = nil }, []string{"apps:"}},
		{"app missing credentials", func(c *config.Config) { c.Apps = []config.App{{}} }, []string{"apps[0].id:", "apps[0].key:", "apps[0].secret:"}},
		{"duplicate id and key", func(c *config.Config) { c.Apps = append(c.Apps, config.App{ID: "a", Key: "k", Secret: "s2"}) }, []string{"apps[1].id:", "apps[1].key:"}},
		{"key with a slash", func(c *config.Config) { c.Apps[0].Key = "a/b" }, []string{"apps[0].key:"}},
		{"client events", func(c *config.Config) { c.Apps[0].ClientEvents = "everyone" }, []string{`apps[0].client_events: "everyone"`}},
		{
			"negative limits",
			func(c *config.Config) {
				a := &c.Apps[0]
				a.MaxConnections, a.ActivityTimeout, a.ClientEventRate, a.MaxMessageSize, a.MaxEventSize = -1, -1, -1, -1, -1
				a.MaxChannelsPerEvent, a.MaxBatchSize, a.MaxPresenceMembers, a.MaxPresenceMemberSize, a.CacheTTL = -1, -1, -1, -1, -1
			},
			[]string{"apps[0].activity_timeout:", "apps[0].cache_ttl:", "apps[0].client_event_rate:", "apps[0].max_batch_size:",
				"apps[0].max_channels_per_event:", "apps[0].max_connections:", "apps[0].max_event_size:", "apps[0].max_message_size:",
				"apps[0].max_presence_member_size:", "apps[0].max_presence_members:"},
		},
		{
			"every problem at once",
			func(c *config.Config) {
				c.Host, c.Port, c.MaxRequestSize = "", 99999, 1
				c.Apps = append(c.Apps, config.App{ID: "b", Key: "k", ClientEvents: "x"})
			},
			[]string{"host:", "port:", "max_request_size:", "apps[1].key:", "apps[1].secret:", "apps[1].client_events:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid()
			tt.change(&cfg)
			err := cfg.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			var problems *config.Problems
			if !errors.As(err, &problems) {
				t.Fatalf("Validate = %v, want *Problems", err)
			}
			if len(problems.List) != len(tt.want) {
				t.Fatalf("%d problems, want %d:\n%v", len(problems.List), len(tt.want), err)
			}
			for _, want := range tt.want {
				if !slices.ContainsFunc(problems.List, func(p string) bool { return strings.HasPrefix(p, want) }) {
					t.Errorf("no problem starting with %q in:\n%v", want, err)
				}
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Error() does not list %q", want)
				}
			}
		})
	}
}
