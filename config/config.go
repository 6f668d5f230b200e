package config

import "time"

// Config is the whole server configuration.
type Config struct {
	Host string `yaml:"host"`
	Port int    `yaml:"port"`
	// Path is a prefix for every route (Reverb's REVERB_SERVER_PATH).
	Path string `yaml:"path"`
	TLS  TLS    `yaml:"tls"`
	// HTTPPath is where pusher-js's HTTP fallback transports (xhr_streaming,
	// xhr_polling) are served, below Path: its httpPath option. Empty
	// means "/pusher", pusher-js's default.
	HTTPPath string `yaml:"http_path"`
	// MaxRequestSize bounds an HTTP API request body in bytes.
	MaxRequestSize int64 `yaml:"max_request_size"`
	Debug          bool  `yaml:"debug"`
	// PprofAddr, when set, serves Go's profiler (net/http/pprof) on that
	// address, apart from the public port. Keep it on a private interface.
	PprofAddr string `yaml:"pprof_addr"`
	// PongTimeout is how long a connection that was pinged after its app's
	// activity timeout may stay silent before it is closed with 4201.
	// Zero means the connection package's default (15 s).
	PongTimeout Seconds `yaml:"pong_timeout"`

	// Public is where clients reach the server (REVERB_HOST, REVERB_PORT,
	// REVERB_SCHEME), used in the client snippet printed at start.
	Public Public `yaml:"public"`

	Apps []App `yaml:"apps"`

	// Redis, when configured, makes this node one of many that behave as one.
	Redis Redis `yaml:"redis"`

	// Compression configures permessage-deflate on WebSockets.
	Compression Compression `yaml:"compression"`

	// Outbox bounds what a connection that reads slower than its events
	// arrive may hold queued.
	Outbox Outbox `yaml:"outbox"`

	// MetricsAddr, when set, serves /metrics and /dashboard on that address
	// instead of the public port, so Prometheus scrapes from a private
	// network.
	MetricsAddr string `yaml:"metrics_addr"`

	// DevApp is set when no app was configured and the development app
	// was added.
	DevApp bool `yaml:"-"`

	// singleApp holds the app settings read from the environment
	// (QUAVER_APP_MAX_CONNECTIONS, ...) for an app that the flags or the
	// development default create.
	singleApp App
}

// TLS enables wss:// and https:// on the same port.
type TLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Outbox is the per-connection queue limit, in bytes. Past SoftLimit,
// queued token events of one stream merge into one (the slow client gets
// the same text in fewer frames); past HardLimit the connection is closed
// with 4100 and resumes its streams when it reconnects.
type Outbox struct {
	SoftLimit int `yaml:"soft_limit"`
	HardLimit int `yaml:"hard_limit"`
}

// Compression configures permessage-deflate (RFC 7692), which browsers
// offer on every WebSocket. Each message is compressed on its own, once
// per broadcast, so it costs no memory per connection.
type Compression struct {
	// Deflate negotiates permessage-deflate with clients that offer it.
	Deflate bool `yaml:"deflate"`
	// Threshold is the payload size in bytes below which frames are sent
	// uncompressed; 0 compresses every frame.
	Threshold int `yaml:"threshold"`
}

// Redis configures scaling over Redis. With neither URL nor Cluster set the
// node runs alone, in memory.
type Redis struct {
	// URL is redis://[user:password@]host:port[/db] or rediss:// for TLS.
	URL string `yaml:"url"`
	// Cluster lists seed addresses (host:port) of a Redis Cluster; fan-out
	// then uses sharded pub/sub.
	Cluster  []string `yaml:"cluster"`
	Username string   `yaml:"username"`
	Password string   `yaml:"password"`
	// Prefix starts every key and channel, so deployments can share a Redis.
	Prefix string `yaml:"prefix"`
	// NodeTimeout is how long a node may miss its heartbeats before the
	// others remove its connections from presence and counts.
	NodeTimeout Seconds `yaml:"node_timeout"`
}

// Enabled reports whether Redis scaling is configured.
func (r Redis) Enabled() bool { return r.URL != "" || len(r.Cluster) > 0 }

// Public is the address clients use, which differs from the listen address
// behind a proxy.
type Public struct {
	Host   string `yaml:"host"`
	Port   int    `yaml:"port"`
	Scheme string `yaml:"scheme"`
}

// App is one application as configured. Limits left at zero take the
// server defaults; see apps.App for their meaning.
type App struct {
	ID     string `yaml:"id"`
	Key    string `yaml:"key"`
	Secret string `yaml:"secret"`

	Disabled              bool     `yaml:"disabled"`
	AllowedOrigins        []string `yaml:"allowed_origins"`
	MaxConnections        int      `yaml:"max_connections"`
	ActivityTimeout       Seconds  `yaml:"activity_timeout"`
	ClientEvents          string   `yaml:"client_events"`
	ClientEventRate       int      `yaml:"client_event_rate"`
	MaxMessageSize        int      `yaml:"max_message_size"`
	MaxEventSize          int      `yaml:"max_event_size"`
	MaxChannelsPerEvent   int      `yaml:"max_channels_per_event"`
	MaxBatchSize          int      `yaml:"max_batch_size"`
	MaxPresenceMembers    int      `yaml:"max_presence_members"`
	MaxPresenceMemberSize int      `yaml:"max_presence_member_size"`
	// UserAuthentication (pusher:signin) is on unless set to false.
	UserAuthentication *bool   `yaml:"user_authentication"`
	CacheTTL           Seconds `yaml:"cache_ttl"`

	// Channels are AI streaming rules by channel name prefix.
	Channels []ChannelRule `yaml:"channels"`
	// IngestStreams are extra Redis Stream keys published to this app.
	IngestStreams []string `yaml:"ingest_streams"`
}

// ChannelRule configures the channels starting with Prefix; see
// apps.ChannelRule for the meaning of each field.
//
// PaceTokens (pace_tokens, tokens per second) and PaceChars (pace_chars,
// characters of the tokens' delta text per second) release a bursty token
// stream to subscribers at a steady cadence instead of all at once; when
// both are set, both bound. 0 (the default) leaves pacing off. They must
// not be negative and need Tokens.
type ChannelRule struct {
	Prefix       string  `yaml:"prefix"`
	Tokens       bool    `yaml:"tokens"`
	History      int     `yaml:"history"`
	Replay       bool    `yaml:"replay"`
	Retain       Seconds `yaml:"retain"`
	Inbound      bool    `yaml:"inbound"`
	InboundRate  int     `yaml:"inbound_rate"`
	VacatedGrace Seconds `yaml:"vacated_grace"`
	PaceTokens   int     `yaml:"pace_tokens"`
	PaceChars    int     `yaml:"pace_chars"`
}

// Seconds is a duration written in YAML and env as a number of seconds.
type Seconds int

// Duration converts s to a time.Duration.
func (s Seconds) Duration() time.Duration { return time.Duration(s) * time.Second }

// Defaults of the server itself.
const (
	DefaultHost           = "127.0.0.1"
	DefaultPort           = 8080
	DefaultMaxRequestSize = 1 << 20
	DefaultRedisPrefix    = "quaver"
	DefaultNodeTimeout    = 10
	// DefaultDeflateThreshold leaves short frames, where compression
	// saves little, uncompressed.
	DefaultDeflateThreshold = 512
	// The outbox limits: a client may fall 64 KiB behind before its token
	// events merge, and 1 MiB before it is cut off.
	DefaultOutboxSoftLimit = 64 << 10
	DefaultOutboxHardLimit = 1 << 20
)

// The development app served when nothing is configured. Its credentials
// are printed at start and are meant for a laptop, never for production.
const (
	DevAppID     = "quaver"
	DevAppKey    = "quaver-key"
	DevAppSecret = "quaver-secret"
)

// Default returns the configuration with nothing set.
func Default() Config {
	return Config{
		Host: DefaultHost, Port: DefaultPort, MaxRequestSize: DefaultMaxRequestSize,
		Redis:       Redis{Prefix: DefaultRedisPrefix, NodeTimeout: DefaultNodeTimeout},
		Compression: Compression{Deflate: true, Threshold: DefaultDeflateThreshold},
		Outbox:      Outbox{SoftLimit: DefaultOutboxSoftLimit, HardLimit: DefaultOutboxHardLimit},
	}
}
