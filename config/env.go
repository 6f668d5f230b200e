package config

import (
	"fmt"
	"strconv"
	"strings"
)

// lookup returns the first of the names that is set, so QUAVER_* names win
// over the REVERB_* names a Laravel app already has.
func lookup(env map[string]string, names ...string) (string, string, bool) {
	for _, n := range names {
		if v, ok := env[n]; ok && v != "" {
			return n, v, true
		}
	}
	return "", "", false
}

// envSetter applies one environment setting, reporting bad values by name.
type envSetter struct {
	env      map[string]string
	problems []string
}

func (s *envSetter) str(dst *string, names ...string) {
	if _, v, ok := lookup(s.env, names...); ok {
		*dst = v
	}
}

func (s *envSetter) integer(dst *int, names ...string) {
	if n, v, ok := lookup(s.env, names...); ok {
		i, err := strconv.Atoi(v)
		if err != nil {
			s.problems = append(s.problems, fmt.Sprintf("%s: %q is not a whole number", n, v))
			return
		}
		*dst = i
	}
}

func (s *envSetter) boolean(dst *bool, names ...string) {
	if n, v, ok := lookup(s.env, names...); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			s.problems = append(s.problems, fmt.Sprintf("%s: %q is not true or false", n, v))
			return
		}
		*dst = b
	}
}

func (s *envSetter) list(dst *[]string, names ...string) {
	if _, v, ok := lookup(s.env, names...); ok {
		var out []string
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
		*dst = out
	}
}

// applyEnv reads the server settings and one app from the environment. The
// app from the environment replaces the file's app with the same id, or is
// added to the file's apps.
func applyEnv(cfg *Config, env map[string]string) error {
	s := &envSetter{env: env}
	s.str(&cfg.Host, "QUAVER_HOST", "REVERB_SERVER_HOST")
	s.integer(&cfg.Port, "QUAVER_PORT", "REVERB_SERVER_PORT")
	s.str(&cfg.Path, "QUAVER_PATH", "REVERB_SERVER_PATH")
	s.str(&cfg.HTTPPath, "QUAVER_HTTP_PATH")
	s.str(&cfg.TLS.Cert, "QUAVER_TLS_CERT")
	s.str(&cfg.TLS.Key, "QUAVER_TLS_KEY")
	var maxRequest int
	s.integer(&maxRequest, "QUAVER_MAX_REQUEST_SIZE", "REVERB_MAX_REQUEST_SIZE")
	if maxRequest != 0 {
		cfg.MaxRequestSize = int64(maxRequest)
	}
	s.boolean(&cfg.Debug, "QUAVER_DEBUG", "REVERB_DEBUG")
	s.str(&cfg.PprofAddr, "QUAVER_PPROF_ADDR")
	s.str(&cfg.Public.Host, "QUAVER_PUBLIC_HOST", "REVERB_HOST")
	s.integer(&cfg.Public.Port, "QUAVER_PUBLIC_PORT", "REVERB_PORT")
	s.str(&cfg.Public.Scheme, "QUAVER_PUBLIC_SCHEME", "REVERB_SCHEME")

	s.boolean(&cfg.Compression.Deflate, "QUAVER_COMPRESSION_DEFLATE")
	s.integer(&cfg.Compression.Threshold, "QUAVER_COMPRESSION_THRESHOLD")
	s.integer(&cfg.Outbox.SoftLimit, "QUAVER_OUTBOX_SOFT_LIMIT")
	s.integer(&cfg.Outbox.HardLimit, "QUAVER_OUTBOX_HARD_LIMIT")
	s.str(&cfg.MetricsAddr, "QUAVER_METRICS_ADDR")

	applyRedisEnv(s, &cfg.Redis)

	// The app limits of the environment describe the single app that the
	// environment, the flags or the development default provide.
	app := &cfg.singleApp
	var activity, cacheTTL int
	s.integer(&activity, "QUAVER_APP_ACTIVITY_TIMEOUT", "REVERB_APP_ACTIVITY_TIMEOUT")
	app.ActivityTimeout = Seconds(activity)
	s.integer(&app.MaxConnections, "QUAVER_APP_MAX_CONNECTIONS", "REVERB_APP_MAX_CONNECTIONS")
	s.integer(&app.MaxMessageSize, "QUAVER_APP_MAX_MESSAGE_SIZE", "REVERB_APP_MAX_MESSAGE_SIZE")
	s.integer(&app.MaxEventSize, "QUAVER_APP_MAX_EVENT_SIZE")
	s.str(&app.ClientEvents, "QUAVER_APP_CLIENT_EVENTS", "REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM")
	s.integer(&app.ClientEventRate, "QUAVER_APP_CLIENT_EVENT_RATE")
	s.integer(&app.MaxChannelsPerEvent, "QUAVER_APP_MAX_CHANNELS_PER_EVENT")
	s.integer(&app.MaxBatchSize, "QUAVER_APP_MAX_BATCH_SIZE")
	s.integer(&app.MaxPresenceMembers, "QUAVER_APP_MAX_PRESENCE_MEMBERS")
	s.integer(&app.MaxPresenceMemberSize, "QUAVER_APP_MAX_PRESENCE_MEMBER_SIZE")
	s.list(&app.AllowedOrigins, "QUAVER_APP_ALLOWED_ORIGINS", "REVERB_APP_ALLOWED_ORIGINS")
	s.integer(&cacheTTL, "QUAVER_APP_CACHE_TTL")
	app.CacheTTL = Seconds(cacheTTL)
	if _, _, ok := lookup(env, "QUAVER_APP_USER_AUTHENTICATION"); ok {
		var userAuth bool
		s.boolean(&userAuth, "QUAVER_APP_USER_AUTHENTICATION")
		app.UserAuthentication = &userAuth
	}
	envApp := *app
	s.str(&envApp.ID, "QUAVER_APP_ID", "REVERB_APP_ID")
	s.str(&envApp.Key, "QUAVER_APP_KEY", "REVERB_APP_KEY")
	s.str(&envApp.Secret, "QUAVER_APP_SECRET", "REVERB_APP_SECRET")
	if envApp.ID != "" || envApp.Key != "" || envApp.Secret != "" {
		mergeApp(cfg, envApp)
	}
	if len(s.problems) > 0 {
		return &Problems{List: s.problems}
	}
	return nil
}

func mergeApp(cfg *Config, app App) {
	for i := range cfg.Apps {
		if cfg.Apps[i].ID == app.ID {
			cfg.Apps[i] = app
			return
		}
	}
	cfg.Apps = append(cfg.Apps, app)
}

// applyRedisEnv reads QUAVER_REDIS_* and, when Reverb's
// REVERB_SCALING_ENABLED is true, Laravel's REDIS_URL or REDIS_HOST,
// REDIS_PORT, REDIS_USERNAME, REDIS_PASSWORD and REDIS_DB.
func applyRedisEnv(s *envSetter, r *Redis) {
	s.str(&r.URL, "QUAVER_REDIS_URL")
	s.list(&r.Cluster, "QUAVER_REDIS_CLUSTER")
	s.str(&r.Prefix, "QUAVER_REDIS_PREFIX")
	s.str(&r.Username, "QUAVER_REDIS_USERNAME")
	s.str(&r.Password, "QUAVER_REDIS_PASSWORD")
	var timeout int
	s.integer(&timeout, "QUAVER_REDIS_NODE_TIMEOUT")
	if timeout != 0 {
		r.NodeTimeout = Seconds(timeout)
	}
	var scaling bool
	s.boolean(&scaling, "REVERB_SCALING_ENABLED")
	if !scaling || r.Enabled() {
		return
	}
	if _, v, ok := lookup(s.env, "REDIS_URL"); ok {
		r.URL = v
	} else {
		host, port, db := "127.0.0.1", "6379", "0"
		s.str(&host, "REDIS_HOST")
		s.str(&port, "REDIS_PORT")
		s.str(&db, "REDIS_DB")
		r.URL = "redis://" + host + ":" + port + "/" + db
	}
	if r.Username == "" {
		s.str(&r.Username, "REDIS_USERNAME")
	}
	if r.Password == "" {
		if _, v, ok := lookup(s.env, "REDIS_PASSWORD"); ok && v != "null" {
			r.Password = v
		}
	}
}
