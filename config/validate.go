package config

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// Problems lists everything wrong with a configuration.
type Problems struct{ List []string }

func (p *Problems) Error() string {
	return "invalid configuration:\n  - " + strings.Join(p.List, "\n  - ")
}

// Validate checks cfg and returns *Problems naming every invalid field, or nil.
func (cfg *Config) Validate() error {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }

	if cfg.Host == "" {
		add("host: must not be empty")
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		add("port: %d is not between 0 and 65535", cfg.Port)
	}
	if cfg.Path != "" && (!strings.HasPrefix(cfg.Path, "/") || strings.HasSuffix(cfg.Path, "/")) {
		add("path: %q must start with / and not end with /", cfg.Path)
	}
	if cfg.HTTPPath != "" && (!strings.HasPrefix(cfg.HTTPPath, "/") || strings.HasSuffix(cfg.HTTPPath, "/")) {
		add("http_path: %q must start with / and not end with /", cfg.HTTPPath)
	}
	if (cfg.TLS.Cert == "") != (cfg.TLS.Key == "") {
		add("tls: cert and key must be given together")
	}
	for field, file := range map[string]string{"tls.cert": cfg.TLS.Cert, "tls.key": cfg.TLS.Key} {
		if file == "" {
			continue
		}
		if _, err := os.Stat(file); err != nil {
			add("%s: %v", field, err)
		}
	}
	if cfg.MaxRequestSize < 1024 {
		add("max_request_size: %d is below 1024 bytes", cfg.MaxRequestSize)
	}
	if cfg.PongTimeout < 0 {
		add("pong_timeout: %d must not be negative", cfg.PongTimeout)
	}
	if o := cfg.Outbox; o.SoftLimit <= 0 || o.HardLimit <= 0 || o.SoftLimit > o.HardLimit {
		add("outbox: soft_limit (%d) and hard_limit (%d) must be positive, soft no larger than hard", o.SoftLimit, o.HardLimit)
	}
	if cfg.Compression.Threshold < 0 {
		add("compression.threshold: %d must not be negative", cfg.Compression.Threshold)
	}
	if cfg.Redis.URL != "" && len(cfg.Redis.Cluster) > 0 {
		add("redis: give url or cluster, not both")
	}
	if cfg.Redis.URL != "" && !strings.HasPrefix(cfg.Redis.URL, "redis://") && !strings.HasPrefix(cfg.Redis.URL, "rediss://") {
		add("redis.url: %q must start with redis:// or rediss://", cfg.Redis.URL)
	}
	if cfg.Redis.Prefix == "" || strings.ContainsAny(cfg.Redis.Prefix, "{}") {
		add("redis.prefix: %q must be non-empty and contain no braces", cfg.Redis.Prefix)
	}
	if cfg.Redis.NodeTimeout < 2 {
		add("redis.node_timeout: %d must be at least 2 seconds", cfg.Redis.NodeTimeout)
	}
	if len(cfg.Apps) == 0 {
		add("apps: at least one app is required")
	}
	ids, keys := map[string]int{}, map[string]int{}
	for i, a := range cfg.Apps {
		field := func(name string) string { return fmt.Sprintf("apps[%d].%s", i, name) }
		for name, v := range map[string]string{"id": a.ID, "key": a.Key, "secret": a.Secret} {
			if v == "" {
				add("%s: required", field(name))
			}
		}
		if j, dup := ids[a.ID]; dup && a.ID != "" {
			add("%s: %q is also the id of apps[%d]", field("id"), a.ID, j)
		}
		if j, dup := keys[a.Key]; dup && a.Key != "" {
			add("%s: %q is also the key of apps[%d]", field("key"), a.Key, j)
		}
		ids[a.ID], keys[a.Key] = i, i
		if strings.ContainsAny(a.Key, "/?#") {
			add("%s: must not contain / ? or #", field("key"))
		}
		switch a.ClientEvents {
		case "", "off", "members", "all":
		default:
			add("%s: %q must be off, members or all", field("client_events"), a.ClientEvents)
		}
		for j, r := range a.Channels {
			rf := func(name string) string { return fmt.Sprintf("apps[%d].channels[%d].%s", i, j, name) }
			if r.Prefix == "" {
				add("%s: required", rf("prefix"))
			}
			if r.History < 0 || r.Retain < 0 || r.InboundRate < 0 || r.VacatedGrace < 0 {
				add("%s: history, retain, inbound_rate and vacated_grace must not be negative", rf("prefix"))
			}
			if r.PaceTokens < 0 || r.PaceChars < 0 {
				add("%s: pace_tokens and pace_chars must not be negative", rf("prefix"))
			}
			if (r.PaceTokens > 0 || r.PaceChars > 0) && !r.Tokens {
				add("%s: pace_tokens and pace_chars need tokens: true (pacing applies to token events)", rf("prefix"))
			}
			if r.Replay && r.History == 0 {
				add("%s: replay needs history", rf("replay"))
			}
			if (r.Inbound || r.VacatedGrace > 0) && !cfg.Redis.Enabled() {
				add("%s: inbound and vacated_grace need redis (they append to Redis Streams)", rf("prefix"))
			}
		}
		if len(a.IngestStreams) > 0 && !cfg.Redis.Enabled() {
			add("%s: needs redis", field("ingest_streams"))
		}
		for name, v := range map[string]int{
			"max_connections": a.MaxConnections, "activity_timeout": int(a.ActivityTimeout),
			"client_event_rate": a.ClientEventRate, "max_message_size": a.MaxMessageSize,
			"max_event_size": a.MaxEventSize, "max_channels_per_event": a.MaxChannelsPerEvent,
			"max_batch_size": a.MaxBatchSize, "max_presence_members": a.MaxPresenceMembers,
			"max_presence_member_size": a.MaxPresenceMemberSize, "cache_ttl": int(a.CacheTTL),
		} {
			if v < 0 {
				add("%s: %d must not be negative", field(name), v)
			}
		}
	}
	if len(p) == 0 {
		return nil
	}
	slices.Sort(p)
	return &Problems{List: p}
}
