package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/client"
	"github.com/quaver-dev/quaver/config"
	"github.com/quaver-dev/quaver/internal/jsdriver"
	"github.com/quaver-dev/quaver/internal/testserver"
	"github.com/quaver-dev/quaver/protocol"
)

// TestHeartbeat runs an app with a 1 s activity timeout and a 1 s pong
// timeout: live clients ping and get pongs and stay, a peer that stops
// answering is closed with 4201 within a few seconds.
func TestHeartbeat(t *testing.T) {
	t.Parallel()
	h := start(t,
		editTestApp(func(a *config.App) { a.ActivityTimeout = 1 }),
		func(c *config.Config) { c.PongTimeout = 1 })

	// A pusher-js client with a short activity timeout (300 ms) pings
	// whenever it has heard nothing for that long, and gets pusher:pong.
	h.connect("js", "pusher-js", args{"options": args{"activityTimeout": 300}})
	// An Echo client with the defaults takes the server's 1 s; the server
	// pings it first and it answers.
	h.connect("echo", "echo-reverb", nil)
	mark := h.d.Mark()

	// A Go client that answers the server's pusher:ping as a client must.
	var polite *client.Client
	pinged := make(chan struct{}, 16)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	polite, err := client.Dial(ctx, client.Options{URL: h.srv.WSURL, Key: testserver.AppKey, OnEvent: func(e client.Event) {
		if e.Event == protocol.EventPing {
			_ = polite.Send(protocol.EventPong, "", map[string]any{})
			select {
			case pinged <- struct{}{}:
			default:
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer polite.Close()

	// A Go client that reads but never answers: a dead peer behind a live
	// TCP connection.
	silent := h.raw(testserver.AppKey, "", nil)
	if silent.ActivityTimeout != time.Second {
		t.Fatalf("activity_timeout %v, want 1s", silent.ActivityTimeout)
	}
	began := time.Now()
	next(t, silent, "the server's pusher:ping", isEvent(protocol.EventPing, ""))
	if code := waitClosed(t, silent, 5*time.Second); code != protocol.CodePongTimeout {
		t.Errorf("close code %d, want 4201", code)
	}
	// activity timeout + pong timeout + one heartbeat tick each.
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("silent peer closed after %v, want within 5s", took)
	}

	select {
	case <-pinged:
	case <-polite.Done():
		t.Fatal("the client that answers pings was closed")
	}
	select {
	case <-polite.Done():
		code, _ := polite.CloseCode()
		t.Fatalf("the client that answers pings was closed with %d", code)
	default:
	}

	// The pusher-js and Echo clients kept pinging and getting pongs the
	// whole time, and never left the connected state.
	h.d.WaitN(3, "js gets pusher:pong for its pings", jsdriver.Message("js", protocol.EventPong, ""))
	h.d.WaitN(3, "echo gets the server's pusher:ping", jsdriver.Message("echo", protocol.EventPing, ""))
	h.d.NeverAfter(mark, "a live client is disconnected or errors", 0, func(r jsdriver.Report) bool {
		return (r.Client == "js" || r.Client == "echo") && (r.Type == "state" || r.Type == "error")
	})
	// And they still get events.
	h.subscribe("js", "after-heartbeats")
	h.trigger([]string{"after-heartbeats"}, "still-here", "yes")
	h.d.Wait("js gets an event", jsdriver.Event("js", "after-heartbeats", "still-here"))
}
