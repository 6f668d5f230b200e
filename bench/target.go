package bench

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/quaver-dev/quaver/client"
)

// Target is the server (or nodes) under test and the app to use.
type Target struct {
	// Nodes are base URLs (http:// or https://); subscribers are spread
	// over them and events are published through the first.
	Nodes  []string
	AppID  string
	Key    string
	Secret string
	// AllowRemote permits non-loopback targets; load tests otherwise stay
	// on this machine.
	AllowRemote bool
}

// Validate checks the target and that it is on loopback unless allowed.
func (t Target) Validate() error {
	if len(t.Nodes) == 0 {
		return errors.New("bench: no target URL")
	}
	if t.AppID == "" || t.Key == "" || t.Secret == "" {
		return errors.New("bench: app id, key and secret are required")
	}
	for _, n := range t.Nodes {
		u, err := url.Parse(n)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("bench: %q is not an http:// or https:// URL", n)
		}
		if !t.AllowRemote && !isLoopback(u.Hostname()) {
			return fmt.Errorf("bench: %s is not a loopback address; pass --allow-remote to load a remote server", u.Hostname())
		}
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// wsURL turns a node's http(s) base URL into its ws(s) one.
func wsURL(node string) string {
	if rest, ok := strings.CutPrefix(node, "https://"); ok {
		return "wss://" + rest
	}
	return "ws://" + strings.TrimPrefix(node, "http://")
}

// api returns the signing settings for node i's HTTP API; publishers open
// their own client.APIConn with it.
func (t Target) api(i int) *client.API {
	return &client.API{BaseURL: t.Nodes[i], AppID: t.AppID, Key: t.Key, Secret: t.Secret}
}
