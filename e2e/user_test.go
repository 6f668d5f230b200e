package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/client"
	"github.com/quaver-dev/quaver/internal/jsdriver"
	"github.com/quaver-dev/quaver/internal/testserver"
	"github.com/quaver-dev/quaver/protocol"
)

func userData(id, name string) args { return args{"id": id, "user_info": args{"name": name}} }

// signedIn waits until a client is signed in and subscribed to its user
// channel, the point from which sendToUser reaches it.
func (h *harness) signedIn(client, userID string) {
	h.t.Helper()
	h.d.Wait(client+" signin_success", jsdriver.Message(client, protocol.EventSigninSuccess, ""))
	h.d.Wait(client+" on its user channel", jsdriver.Message(client, "pusher_internal:subscription_succeeded", "#server-to-user-"+userID))
}

func TestSigninAndSendToUser(t *testing.T) {
	t.Parallel()
	h := start(t)
	// Alice has a pusher-js tab and an Echo tab, Bob one tab, Carol is not
	// signed in.
	h.connect("alice-js", "pusher-js", args{"userData": userData("u1", "Alice")})
	h.connect("alice-echo", "echo-reverb", args{"userData": userData("u1", "Alice")})
	h.connect("bob", "echo-pusher", args{"userData": userData("u2", "Bob")})
	h.connect("carol", "pusher-js", nil)
	for _, name := range []string{"alice-js", "alice-echo", "bob"} {
		h.d.Call("signin", args{"client": name})
	}
	h.signedIn("alice-js", "u1")
	h.signedIn("alice-echo", "u1")
	h.signedIn("bob", "u2")
	for _, name := range []string{"alice-js", "alice-echo", "bob"} {
		auth := h.d.Wait(name+" user auth request", func(r jsdriver.Report) bool {
			return r.Type == "auth" && r.Client == name && r.Kind == "user"
		})
		if auth.Status != 200 || !strings.HasPrefix(auth.Text("contentType"), "application/x-www-form-urlencoded") {
			t.Errorf("%s user auth %s", name, auth.Line)
		}
	}
	// A raw client that is not Alice cannot listen on her channel.
	raw := h.raw(testserver.AppKey, testserver.AppSecret, nil)
	if err := raw.Subscribe("#server-to-user-u1", client.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	e := next(t, raw, "subscription_error on Alice's channel", isEvent(protocol.EventSubscriptionError, "#server-to-user-u1"))
	if !strings.Contains(string(e.Data), "AuthError") {
		t.Errorf("subscription_error %s", e.Data)
	}

	h.ok("sdk.sendToUser", args{"userId": "u1", "event": "invoice-paid", "data": args{"invoice": 42}}, nil)
	for _, name := range []string{"alice-js", "alice-echo"} {
		r := h.d.Wait(name+" gets the user event", jsdriver.And(jsdriver.Type("user_event", name), func(r jsdriver.Report) bool {
			return r.Event == "invoice-paid"
		}))
		if !contains(r.Data, `"invoice":42`) {
			t.Errorf("%s user event data %s", name, r.Data)
		}
	}
	h.ok("sdk.sendToUser", args{"userId": "u2", "event": "for-bob", "data": "hi"}, nil)
	h.d.Wait("bob gets his", jsdriver.And(jsdriver.Type("user_event", "bob"), func(r jsdriver.Report) bool { return r.Event == "for-bob" }))
	h.d.Never("a user event reaches someone else", 300*time.Millisecond, func(r jsdriver.Report) bool {
		return r.Event == "invoice-paid" && (r.Client == "bob" || r.Client == "carol") ||
			r.Event == "for-bob" && r.Client != "bob"
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if e, err := raw.NextMatching(ctx, func(e client.Event) bool { return e.Event == "invoice-paid" }); err == nil {
		t.Errorf("the raw client got Alice's event: %+v", e)
	}
}

func TestSigninFailures(t *testing.T) {
	t.Parallel()
	h := start(t)
	// The Laravel app refuses the user: pusher-js reports a signin error and
	// the connection stays.
	h.connect("refused", "pusher-js", args{"userData": userData("u1", "A"), "denyUser": true})
	h.d.Call("signin", args{"client": "refused"})
	r := h.d.Wait("signin error", jsdriver.Type("signin_error", "refused"))
	if !contains(r.Error, `"status":403`) {
		t.Errorf("signin error %s", r.Error)
	}
	// A forged signature: the server closes with 4009 and the client stays
	// down.
	h.connect("forged", "echo-reverb", args{"userData": userData("u1", "A"), "badSignature": true})
	mark := h.d.Mark()
	h.d.Call("signin", args{"client": "forged"})
	h.d.WaitAfter(mark, "forged gets 4009", jsdriver.ErrorCode("forged", protocol.CodeUnauthorized))
	h.d.WaitAfter(mark, "forged disconnected", jsdriver.State("forged", "disconnected"))
	h.d.NeverAfter(mark, "forged reconnects, or refused is dropped", 1500*time.Millisecond, func(r jsdriver.Report) bool {
		return r.Type == "state" && (r.Client == "forged" && r.Current == "connecting" || r.Client == "refused")
	})
}

// TestUnusualUserIDs: user ids are whatever the Laravel app uses. The SDK
// signs terminate_connections over the raw path and node-fetch escapes it
// on the wire, so the server must verify against the decoded path.
func TestUnusualUserIDs(t *testing.T) {
	t.Parallel()
	h := start(t)
	ids := []string{"user 1é", "App.Models.User:42", "1", "zoë+test@example.com"}
	for i, id := range ids {
		name := "u" + strconv.Itoa(i)
		h.connect(name, "pusher-js", args{"userData": userData(id, "Someone")})
		h.d.Call("signin", args{"client": name})
		h.signedIn(name, id)
	}
	for i, id := range ids {
		name := "u" + strconv.Itoa(i)
		h.ok("sdk.sendToUser", args{"userId": id, "event": "hello", "data": args{"to": id}}, nil)
		r := h.d.Wait(name+" gets its user event", jsdriver.And(jsdriver.Type("user_event", name), func(r jsdriver.Report) bool { return r.Event == "hello" }))
		if !contains(r.Data, strconv.Quote(id)) && !strings.Contains(r.Line, id) {
			t.Errorf("%q: user event %s", id, r.Data)
		}
		mark := h.d.Mark()
		h.ok("sdk.terminateUserConnections", args{"userId": id}, nil)
		h.d.WaitAfter(mark, name+" terminated", jsdriver.ErrorCode(name, protocol.CodeUnauthorized))
		h.d.WaitAfter(mark, name+" disconnected", jsdriver.State(name, "disconnected"))
	}
	if n := h.d.Count(func(r jsdriver.Report) bool { return r.Type == "user_event" }); n != len(ids) {
		t.Errorf("%d user events for %d users, want one each", n, len(ids))
	}
}
