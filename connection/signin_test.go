package connection

import (
	"testing"

	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/protocol"
)

func TestSignin(t *testing.T) {
	valid := func(userData string) func(c *Conn) any {
		return func(c *Conn) any { return signinData(c, userData) }
	}
	tests := []struct {
		name     string
		disabled bool
		data     func(c *Conn) any
		wantUser string // empty: the sign-in fails with 4009
	}{
		{"success", false, valid(`{"id":"u1","user_info":{"name":"Alice"}}`), "u1"},
		{"numeric id", false, valid(`{"id":12345}`), "12345"},
		{"string data", false, func(c *Conn) any {
			b := `{"auth":"` + signinData(c, `{"id":"u1"}`)["auth"].(string) + `","user_data":"{\"id\":\"u1\"}"}`
			return b
		}, "u1"},
		{"disabled", true, valid(`{"id":"u1"}`), ""},
		{"wrong signature", false, func(c *Conn) any {
			d := signinData(c, `{"id":"u1"}`)
			d["user_data"] = `{"id":"admin"}`
			return d
		}, ""},
		{"signed for another socket", false, func(c *Conn) any {
			return map[string]any{"auth": testKey + ":" + protocol.Sign(testSecret, protocol.UserAuthMessage("1.1", `{"id":"u1"}`)), "user_data": `{"id":"u1"}`}
		}, ""},
		{"wrong key", false, func(c *Conn) any {
			return map[string]any{"auth": "other:" + protocol.Sign(testSecret, protocol.UserAuthMessage(c.SocketID(), `{"id":"u1"}`)), "user_data": `{"id":"u1"}`}
		}, ""},
		{"missing auth", false, func(*Conn) any { return map[string]any{"user_data": `{"id":"u1"}`} }, ""},
		{"missing user_data", false, func(c *Conn) any { return map[string]any{"auth": signinData(c, "")["auth"]} }, ""},
		{"user_data not json", false, valid(`not json`), ""},
		{"user_data without id", false, valid(`{"user_info":{}}`), ""},
		{"empty id", false, valid(`{"id":""}`), ""},
		{"no data", false, func(*Conn) any { return nil }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(a *apps.App, _ *Options) { a.UserAuthentication = !tt.disabled })
			c, tr := h.connect(t)
			data := tt.data(c)
			send(t, c, protocol.EventSignin, "", data)
			if tt.wantUser == "" {
				expectError(t, tr, protocol.CodeUnauthorized, "")
				expectClosed(t, tr, protocol.CodeUnauthorized)
				if h.hub.Lookup(c.SocketID()) != nil {
					t.Fatal("a connection that failed to sign in is still open")
				}
				return
			}
			frames := expectEvents(t, tr, protocol.EventSigninSuccess)
			userData := `{"id":"u1","user_info":{"name":"Alice"}}`
			if m, ok := data.(map[string]any); ok {
				userData = m["user_data"].(string)
			} else {
				userData = `{"id":"u1"}`
			}
			want := string(protocol.AppendQuoted([]byte(`{"event":"pusher:signin_success","data":{"user_data":`), userData)) + `}}`
			if string(frames[0].JSON) != want {
				t.Fatalf("signin_success %s, want %s", frames[0].JSON, want)
			}
			if got := h.hub.users.list(testAppID, tt.wantUser); len(got) != 1 || got[0] != c {
				t.Fatalf("user index for %s: %v", tt.wantUser, got)
			}
			notClosed(t, c, tr)
		})
	}
}

func TestSigninAgainReplacesUser(t *testing.T) {
	h := newHarness(t)
	c, tr := h.connect(t)
	send(t, c, protocol.EventSignin, "", signinData(c, `{"id":"u1"}`))
	send(t, c, protocol.EventSignin, "", signinData(c, `{"id":"u2"}`))
	expectEvents(t, tr, protocol.EventSigninSuccess, protocol.EventSigninSuccess)
	if n := len(h.hub.users.list(testAppID, "u1")); n != 0 {
		t.Fatalf("still indexed as u1 (%d)", n)
	}
	subscribe(t, c, "#server-to-user-u1", "")
	expectSubscriptionError(t, tr, "#server-to-user-u1", "AuthError", 401)
	subscribe(t, c, "#server-to-user-u2", "")
	expect(t, tr, succeeded("#server-to-user-u2"))
	if n := h.hub.Terminate(testAppID, "u2"); n != 1 {
		t.Fatalf("Terminate(u2) closed %d", n)
	}
	expectError(t, tr, protocol.CodeUnauthorized, "")
	expectClosed(t, tr, protocol.CodeUnauthorized)
}
