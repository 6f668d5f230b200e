package config

// Overrides are values given on the command line; nil fields were not
// given and leave the configuration as it is.
type Overrides struct {
	Host      *string
	Port      *int
	Path      *string
	TLSCert   *string
	TLSKey    *string
	Debug     *bool
	AppID     *string
	AppKey    *string
	AppSecret *string

	RedisURL     *string
	RedisCluster *[]string
	RedisPrefix  *string
}

// Apply sets every given override on cfg. An app given by flags replaces
// the credentials of the configured app with the same id, or of the only
// configured app when the id is not given, or is added with the app
// settings from the environment.
func (o Overrides) Apply(cfg *Config) {
	set(&cfg.Host, o.Host)
	set(&cfg.Port, o.Port)
	set(&cfg.Path, o.Path)
	set(&cfg.TLS.Cert, o.TLSCert)
	set(&cfg.TLS.Key, o.TLSKey)
	set(&cfg.Debug, o.Debug)
	set(&cfg.Redis.URL, o.RedisURL)
	set(&cfg.Redis.Cluster, o.RedisCluster)
	set(&cfg.Redis.Prefix, o.RedisPrefix)
	if o.AppID == nil && o.AppKey == nil && o.AppSecret == nil {
		return
	}
	var app *App
	switch {
	case o.AppID != nil:
		for i := range cfg.Apps {
			if cfg.Apps[i].ID == *o.AppID {
				app = &cfg.Apps[i]
			}
		}
	case len(cfg.Apps) == 1:
		app = &cfg.Apps[0]
	}
	if app == nil {
		cfg.Apps = append(cfg.Apps, cfg.singleApp)
		app = &cfg.Apps[len(cfg.Apps)-1]
	}
	set(&app.ID, o.AppID)
	set(&app.Key, o.AppKey)
	set(&app.Secret, o.AppSecret)
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
