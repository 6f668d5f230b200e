package apps

import (
	"net/url"
	"path"
	"strings"
	"time"
)

// ClientEvents says who may send client events (client-*) on an app.
type ClientEvents string

const (
	// ClientEventsOff refuses every client event with 4301.
	ClientEventsOff ClientEvents = "off"
	// ClientEventsMembers accepts client events only from sockets subscribed
	// to the channel (Reverb's default).
	ClientEventsMembers ClientEvents = "members"
	// ClientEventsAll accepts client events on private and presence channels
	// without checking that the sender is subscribed.
	ClientEventsAll ClientEvents = "all"
)

// App is one application: its credentials and the limits its clients and
// backends live within. A zero limit means the default in Defaults; a
// negative one means unlimited where that makes sense (MaxConnections).
type App struct {
	ID     string
	Key    string
	Secret string
	// Disabled refuses connections (4003) and API calls (403) while keeping
	// the app's configuration.
	Disabled bool

	// AllowedOrigins are host patterns ("*", "example.com", "*.example.com")
	// matched against the Origin header of WebSocket handshakes.
	AllowedOrigins []string

	// MaxConnections caps concurrent connections; 0 means unlimited.
	MaxConnections int

	// ActivityTimeout is advertised to clients; a silent connection is
	// pinged after it and closed with 4201 if it stays silent.
	ActivityTimeout time.Duration

	ClientEvents ClientEvents
	// ClientEventRate is the number of client events a connection may send
	// per second (burst of the same size); excess gets 4301.
	ClientEventRate int

	// MaxMessageSize bounds one inbound WebSocket message in bytes.
	MaxMessageSize int
	// MaxEventSize bounds an event's data in bytes (HTTP API and client
	// events); larger is 413 on the API and 4301 on the socket.
	MaxEventSize int
	// MaxChannelsPerEvent bounds the channels of one HTTP trigger.
	MaxChannelsPerEvent int
	// MaxBatchSize bounds the events of one batch trigger.
	MaxBatchSize int
	// MaxPresenceMembers bounds the distinct users of a presence channel.
	MaxPresenceMembers int
	// MaxPresenceMemberSize bounds a member's user_info in bytes.
	MaxPresenceMemberSize int

	// UserAuthentication enables pusher:signin and #server-to-user channels.
	UserAuthentication bool

	// CacheTTL is how long a cache channel remembers its last event.
	CacheTTL time.Duration

	// Channels are the AI streaming rules, by channel name prefix.
	Channels []ChannelRule
	// IngestStreams are extra Redis Stream keys whose entries are
	// published to this app's channels, besides the default
	// {prefix}:ingest:{app id}.
	IngestStreams []string
}

// Defaults fills zero fields with the defaults of Pusher and Reverb.
func (a *App) Defaults() {
	if a.ActivityTimeout == 0 {
		a.ActivityTimeout = 30 * time.Second
	}
	if a.ClientEvents == "" {
		a.ClientEvents = ClientEventsMembers
	}
	if a.ClientEventRate == 0 {
		a.ClientEventRate = 10
	}
	if a.MaxMessageSize == 0 {
		a.MaxMessageSize = 10_000
	}
	if a.MaxEventSize == 0 {
		a.MaxEventSize = 10 * 1024
	}
	if a.MaxChannelsPerEvent == 0 {
		a.MaxChannelsPerEvent = 100
	}
	if a.MaxBatchSize == 0 {
		a.MaxBatchSize = 10
	}
	if a.MaxPresenceMembers == 0 {
		a.MaxPresenceMembers = 100
	}
	if a.MaxPresenceMemberSize == 0 {
		a.MaxPresenceMemberSize = 2 * 1024
	}
	if a.CacheTTL == 0 {
		a.CacheTTL = time.Hour
	}
	if len(a.AllowedOrigins) == 0 {
		a.AllowedOrigins = []string{"*"}
	}
	for i := range a.Channels {
		a.Channels[i].defaults()
	}
}

// OriginAllowed reports whether a handshake's Origin header may connect.
// Requests without an Origin (server-side clients) are allowed; browsers
// always send one.
func (a *App) OriginAllowed(origin string) bool {
	if origin == "" {
		return true
	}
	host := origin
	if u, err := url.Parse(origin); err == nil && u.Host != "" {
		host = u.Hostname()
	}
	host = strings.ToLower(host)
	for _, pattern := range a.AllowedOrigins {
		pattern = strings.ToLower(pattern)
		if pattern == "*" || pattern == host {
			return true
		}
		if u, err := url.Parse(pattern); err == nil && u.Host != "" {
			pattern = u.Hostname()
		}
		if ok, _ := path.Match(pattern, host); ok {
			return true
		}
	}
	return false
}
