package server

import (
	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/config"
)

// appsFrom converts configured apps into apps.App values with defaults.
func appsFrom(list []config.App) []apps.App {
	out := make([]apps.App, len(list))
	for i, c := range list {
		userAuth := c.UserAuthentication == nil || *c.UserAuthentication
		out[i] = apps.App{
			ID:                    c.ID,
			Key:                   c.Key,
			Secret:                c.Secret,
			Disabled:              c.Disabled,
			AllowedOrigins:        c.AllowedOrigins,
			MaxConnections:        c.MaxConnections,
			ActivityTimeout:       c.ActivityTimeout.Duration(),
			ClientEvents:          apps.ClientEvents(c.ClientEvents),
			ClientEventRate:       c.ClientEventRate,
			MaxMessageSize:        c.MaxMessageSize,
			MaxEventSize:          c.MaxEventSize,
			MaxChannelsPerEvent:   c.MaxChannelsPerEvent,
			MaxBatchSize:          c.MaxBatchSize,
			MaxPresenceMembers:    c.MaxPresenceMembers,
			MaxPresenceMemberSize: c.MaxPresenceMemberSize,
			UserAuthentication:    userAuth,
			CacheTTL:              c.CacheTTL.Duration(),
			IngestStreams:         c.IngestStreams,
		}
		for _, r := range c.Channels {
			out[i].Channels = append(out[i].Channels, apps.ChannelRule{
				Prefix: r.Prefix, Tokens: r.Tokens, History: r.History, Replay: r.Replay,
				Retain: r.Retain.Duration(), Inbound: r.Inbound, InboundRate: r.InboundRate,
				VacatedGrace: r.VacatedGrace.Duration(), PaceTokens: r.PaceTokens, PaceChars: r.PaceChars,
			})
		}
	}
	return out
}
