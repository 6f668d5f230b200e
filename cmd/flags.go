package cmd

import (
	"crypto/tls"
	"fmt"
	"os"

	"github.com/quaver-dev/quaver/config"
	"github.com/spf13/pflag"
)

// configFlags are the flags shared by every command that reads the
// configuration.
type configFlags struct {
	file, envFile            string
	host, path               string
	port                     int
	appID, appKey, appSecret string
	tlsCert, tlsKey          string
	debug                    bool
	redisURL, redisPrefix    string
	redisCluster             []string
	flags                    *pflag.FlagSet
}

func (f *configFlags) register(fs *pflag.FlagSet) {
	f.flags = fs
	fs.StringVar(&f.file, "config", "", "YAML configuration file (see testdata/quaver.example.yaml)")
	fs.StringVar(&f.envFile, "env-file", "", "read QUAVER_* and REVERB_* settings from this .env file (a Laravel .env works)")
	fs.StringVar(&f.host, "host", config.DefaultHost, "address to listen on")
	fs.IntVar(&f.port, "port", config.DefaultPort, "port to listen on")
	fs.StringVar(&f.path, "path", "", "serve every route below this path prefix")
	fs.StringVar(&f.appID, "app-id", "", "app id (single-app setup)")
	fs.StringVar(&f.appKey, "app-key", "", "app key (single-app setup)")
	fs.StringVar(&f.appSecret, "app-secret", "", "app secret (single-app setup)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate file: serve wss:// and https://")
	fs.StringVar(&f.tlsKey, "tls-key", "", "TLS private key file")
	fs.BoolVar(&f.debug, "debug", false, "log every connection and message at debug level")
	fs.StringVar(&f.redisURL, "redis-url", "", "scale out over Redis: redis://[user:password@]host:port[/db]")
	fs.StringSliceVar(&f.redisCluster, "redis-cluster", nil, "scale out over a Redis Cluster: seed addresses host:port,host:port")
	fs.StringVar(&f.redisPrefix, "redis-prefix", config.DefaultRedisPrefix, "prefix of every Redis key and channel, so deployments can share a Redis")
}

// load reads file, environment and flags, in that order of precedence, and
// validates the result.
func (f *configFlags) load() (config.Config, error) {
	cfg, err := config.Load(config.Sources{File: f.file, EnvFile: f.envFile, Env: os.Environ()})
	if err != nil {
		return cfg, err
	}
	f.overrides().Apply(&cfg)
	cfg = config.WithDevApp(cfg)
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, checkKeyPair(cfg.TLS)
}

// checkKeyPair loads the TLS certificate and key, so that config check
// rejects files the server could not serve and start fails before it
// prints its banner.
func checkKeyPair(files config.TLS) error {
	if files.Cert == "" {
		return nil
	}
	if _, err := tls.LoadX509KeyPair(files.Cert, files.Key); err != nil {
		return fmt.Errorf("invalid configuration: tls.cert, tls.key: %w", err)
	}
	return nil
}

func (f *configFlags) overrides() config.Overrides {
	var o config.Overrides
	changed := f.flags.Changed
	if changed("host") {
		o.Host = &f.host
	}
	if changed("port") {
		o.Port = &f.port
	}
	if changed("path") {
		o.Path = &f.path
	}
	if changed("tls-cert") {
		o.TLSCert = &f.tlsCert
	}
	if changed("tls-key") {
		o.TLSKey = &f.tlsKey
	}
	if changed("debug") {
		o.Debug = &f.debug
	}
	if changed("app-id") {
		o.AppID = &f.appID
	}
	if changed("app-key") {
		o.AppKey = &f.appKey
	}
	if changed("app-secret") {
		o.AppSecret = &f.appSecret
	}
	if changed("redis-url") {
		o.RedisURL = &f.redisURL
	}
	if changed("redis-cluster") {
		o.RedisCluster = &f.redisCluster
	}
	if changed("redis-prefix") {
		o.RedisPrefix = &f.redisPrefix
	}
	return o
}
