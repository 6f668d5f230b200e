package server

import "github.com/quaver-dev/quaver/config"

// defaultHTTPPath is pusher-js's default httpPath, where its HTTP fallback
// transports send their requests.
const defaultHTTPPath = "/pusher"

// fallbackPath is where the HTTP fallback transports are served, below the
// configured path prefix.
func fallbackPath(cfg config.Config) string {
	if cfg.HTTPPath == "" {
		return defaultHTTPPath
	}
	return cfg.HTTPPath
}
