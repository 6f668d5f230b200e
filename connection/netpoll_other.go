//go:build !linux

package connection

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/protocol"
)

// Poll loops are Linux-only: elsewhere every connection is served by gws's
// read loop goroutine, and these are never reached.

func newPollerIfSupported(int, time.Duration, *slog.Logger) *poller { return nil }

type poller struct{}

func (*poller) run(context.Context) {}

func (w *WebSocket) servePolled(http.ResponseWriter, *http.Request, *apps.App, *protocol.Error) {}
