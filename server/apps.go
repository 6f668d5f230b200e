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
		}
	}
	return out
}
