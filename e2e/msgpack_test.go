package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/client"
	"github.com/quaver-dev/quaver/internal/testserver"
	"github.com/quaver-dev/quaver/protocol"
)

// TestMessagePackGoClient: the Go client in the MessagePack encoding, with
// and without deflate, on both transports, does what a JSON client does:
// signed subscriptions, API events (data exactly as published, small and
// large), client events to and from a JSON peer, pings, and errors that
// keep the connection.
func TestMessagePackGoClient(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		for _, deflate := range []bool{false, true} {
			name := tr.name
			if deflate {
				name += "+deflate"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				ts := startTransport(t, tr.tls)
				mp := ts.dial(t, client.Options{MessagePack: true, Compression: deflate})
				if !mp.MessagePack() {
					t.Fatal("the server did not agree to MessagePack")
				}
				peer := ts.dial(t, client.Options{})
				for _, c := range []*client.Client{mp, peer} {
					if _, err := c.SubscribeAndWait(context.Background(), "private-room", client.SubscribeOptions{}); err != nil {
						t.Fatal(err)
					}
				}
				for _, data := range []string{`{"text":"héllo \"quoted\"\n","n":1}`, aboveThreshold, "not JSON at all"} {
					ts.publish(t, "private-room", "update", data)
					e := next(t, mp, "the event", isEvent("update", "private-room"))
					if e.DataString() != data {
						t.Fatalf("received %.80q, want %.80q", e.DataString(), data)
					}
					// The same Event as the JSON client gets.
					if j := next(t, peer, "the event", isEvent("update", "private-room")); string(j.Data) != string(e.Data) {
						t.Fatalf("data %.80s in MessagePack, %.80s in JSON", e.Data, j.Data)
					}
				}

				// Client events cross encodings both ways, data intact.
				note := map[string]any{"typing": true, "text": strings.Repeat("ab", 400)}
				if err := mp.Trigger("private-room", "client-note", note); err != nil {
					t.Fatal(err)
				}
				e := next(t, peer, "the MessagePack client's event", isEvent("client-note", "private-room"))
				if !jsonEqual(decodeJSON(t, e.Data), note) {
					t.Fatalf("JSON peer received %.80s", e.Data)
				}
				if err := peer.Trigger("private-room", "client-reply", map[string]any{"ok": true}); err != nil {
					t.Fatal(err)
				}
				e = next(t, mp, "the JSON peer's event", isEvent("client-reply", "private-room"))
				if string(e.Data) != `{"ok":true}` {
					t.Fatalf("MessagePack client received %s", e.Data)
				}

				// A malformed message gets an error; the connection stays, and
				// JSON text is understood on a MessagePack connection too.
				if err := mp.SendBinary([]byte{0xc1}); err != nil {
					t.Fatal(err)
				}
				if code, _ := errorData(t, next(t, mp, "the error", isEvent(protocol.EventError, ""))); code != protocol.CodeReconnect {
					t.Fatalf("error code %d", code)
				}
				if err := mp.Send(protocol.EventPing, "", map[string]any{}); err != nil {
					t.Fatal(err)
				}
				next(t, mp, "pong", isEvent(protocol.EventPong, ""))
				if err := mp.SendRaw([]byte(`{"event":"pusher:ping","data":{}}`)); err != nil {
					t.Fatal(err)
				}
				next(t, mp, "pong to JSON text", isEvent(protocol.EventPong, ""))
			})
		}
	}
}

func decodeJSON(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return v
}

// TestMessagePackByQuery: format=msgpack asks for the encoding without a
// subprotocol (none is answered); every server message is then a binary
// MessagePack map, and the client may send MessagePack or JSON.
func TestMessagePackByQuery(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			ts := startTransport(t, tr.tls)
			s := dialRawSocket(t, ts.srv, ts.tlsConfig, testserver.AppKey, "&format=msgpack", nil)
			if got := s.response.Header.Get("Sec-WebSocket-Protocol"); got != "" {
				t.Fatalf("answered subprotocol %q that was not asked for", got)
			}
			established := readMsgpack(t, s)
			if string(established.Event) != protocol.EventConnectionEstablished || established.DataKind != protocol.DataString ||
				!strings.Contains(string(established.Data), `"socket_id":`) {
				t.Fatalf("first message %+v", established)
			}
			s.send(0x2, protocol.AppendMsgpack(nil, protocol.EventSubscribe, "", `{"channel":"news","auth":""}`, protocol.DataRaw, ""))
			if m := readMsgpack(t, s); string(m.Event) != protocol.EventSubscriptionSucceeded || string(m.Channel) != "news" {
				t.Fatalf("answer to a MessagePack subscribe: %+v", m)
			}
			s.send(0x1, []byte(`{"event":"pusher:subscribe","data":{"channel":"sports","auth":""}}`))
			if m := readMsgpack(t, s); string(m.Event) != protocol.EventSubscriptionSucceeded || string(m.Channel) != "sports" {
				t.Fatalf("answer to a JSON subscribe: %+v", m)
			}
			ts.publish(t, "news", "token", `{"stream":"s1","seq":1,"delta":"Hi"}`)
			m := readMsgpack(t, s)
			if string(m.Event) != "token" || m.DataKind != protocol.DataString || string(m.Data) != `{"stream":"s1","seq":1,"delta":"Hi"}` {
				t.Fatalf("event %+v", m)
			}
		})
	}
}

func readMsgpack(t *testing.T, s *rawSocket) protocol.Envelope {
	t.Helper()
	f := s.nextMessage()
	if f.opcode != 0x2 {
		t.Fatalf("opcode %d, want binary: %s", f.opcode, f.payload)
	}
	e, err := protocol.ReadMsgpack(f.payload)
	if err != nil {
		t.Fatalf("% x: %v", f.payload, err)
	}
	return e
}

// TestMessagePackRefusal: a refused handshake is told why in the encoding
// it asked for, so the Go client reports the Pusher error.
func TestMessagePackRefusal(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			ts := startTransport(t, tr.tls)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := client.Dial(ctx, client.Options{URL: ts.srv.WSURL, Key: "no-such-key", MessagePack: true, TLSConfig: ts.tlsConfig})
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code != 4001 {
				t.Fatalf("dial error %v, want the Pusher error 4001", err)
			}
			s := dialRawSocket(t, ts.srv, ts.tlsConfig, "no-such-key", "", http.Header{"Sec-WebSocket-Protocol": {protocol.SubprotocolMsgpack}})
			if got := s.response.Header.Get("Sec-WebSocket-Protocol"); got != protocol.SubprotocolMsgpack {
				t.Fatalf("subprotocol %q", got)
			}
			if m := readMsgpack(t, s); string(m.Event) != protocol.EventError || !strings.Contains(string(m.Data), "4001") {
				t.Fatalf("refusal %+v", m)
			}
			if code := s.closeCode(); code != 4001 {
				t.Fatalf("closed with %d", code)
			}
		})
	}
}
