package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/quaver-dev/quaver/httpapi"
)

func trigger(body string) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request { return signed(t, mainApp, "POST", "/events", nil, body) }
}

func triggerSmall(body string) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		return signed(t, signer("small", "small-key", "small-secret", now), "POST", "/events", nil, body)
	}
}

func batch(body string) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request { return signed(t, mainApp, "POST", "/batch_events", nil, body) }
}

func channelList(n int) string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%q", fmt.Sprintf("ch-%d", i))
	}
	return strings.Join(names, ",")
}

func batchOf(n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"channel":"my-channel","name":"e%d","data":"x"}`, i)
	}
	return `{"batch":[` + strings.Join(items, ",") + `]}`
}

func TestEventsGolden(t *testing.T) {
	runGolden(t, []apiCase{
		{
			name:       "channels array",
			request:    trigger(`{"name":"my-event","data":"{\"id\":1}","channels":["my-channel","private-chat.1"]}`),
			wantStatus: 200,
			check: func(t *testing.T, e *env) {
				for _, id := range []string{"1.1", "1.2"} {
					if got := e.subs[id].received(); len(got) != 1 || got[0] != `{"event":"my-event","channel":"my-channel","data":"{\"id\":1}"}` {
						t.Fatalf("%s received %q", id, got)
					}
				}
				if got := e.subs["2.1"].received(); len(got) != 1 || got[0] != `{"event":"my-event","channel":"private-chat.1","data":"{\"id\":1}"}` {
					t.Fatalf("private-chat.1 received %q", got)
				}
			},
		},
		{
			name:       "single channel",
			request:    trigger(`{"name":"my-event","data":"raw string","channel":"my-channel"}`),
			wantStatus: 200,
			check: func(t *testing.T, e *env) {
				received(t, e, `{"event":"my-event","channel":"my-channel","data":"raw string"}`, "1.1", "1.2")
			},
		},
		{
			name:       "socket_id excluded",
			request:    trigger(`{"name":"my-event","data":"x","channels":["my-channel"],"socket_id":"1.2"}`),
			wantStatus: 200,
			check: func(t *testing.T, e *env) {
				received(t, e, `{"event":"my-event","channel":"my-channel","data":"x"}`, "1.1")
			},
		},
		{
			name:       "laravel event name",
			request:    trigger(`{"name":"App\\Events\\OrderShipped","data":"{\"order\":1}","channels":["private-chat.1"]}`),
			wantStatus: 200,
			check: func(t *testing.T, e *env) {
				received(t, e, `{"event":"App\\Events\\OrderShipped","channel":"private-chat.1","data":"{\"order\":1}"}`, "2.1")
			},
		},
		{
			name:       "user channel",
			request:    trigger(`{"name":"notice","data":"hi","channels":["#server-to-user-u1"]}`),
			wantStatus: 200,
			check:      nothingReceived,
		},
		{
			name:       "info",
			request:    trigger(`{"name":"e","data":"x","channels":["presence-room","my-channel","empty-channel"],"info":"user_count,subscription_count"}`),
			wantStatus: 200,
		},
		{
			name:       "info user_count only",
			request:    trigger(`{"name":"e","data":"x","channels":["presence-room","my-channel"],"info":"user_count"}`),
			wantStatus: 200,
		},
		{name: "data at the app limit", request: triggerSmall(`{"name":"e","data":"0123456789abcdef","channel":"my-channel"}`), wantStatus: 200},
		{name: "data over the app limit", request: triggerSmall(`{"name":"e","data":"0123456789abcdefg","channel":"my-channel"}`), wantStatus: 413},
		{name: "data over the default limit", configure: func(o *httpapi.Options) { o.MaxRequestSize = 1 << 20 }, request: trigger(`{"name":"e","data":"` + strings.Repeat("a", 10*1024+1) + `","channel":"my-channel"}`), wantStatus: 413},
		{name: "body over the request limit", request: trigger(`{"name":"e","data":"` + strings.Repeat("a", requestLimit) + `","channel":"my-channel"}`), wantStatus: 413, check: nothingReceived},
		{name: "malformed body", request: trigger(`{"name":"e",`), wantStatus: 400},
		{name: "body is an array", request: trigger(`[{"name":"e"}]`), wantStatus: 400},
		{name: "empty body", request: trigger(``), wantStatus: 400},
		{name: "missing name", request: trigger(`{"data":"x","channels":["my-channel"]}`), wantStatus: 400, check: nothingReceived},
		{name: "name too long", request: trigger(`{"name":"` + strings.Repeat("e", 201) + `","data":"x","channels":["my-channel"]}`), wantStatus: 400},
		{name: "name of 200 characters", request: trigger(`{"name":"` + strings.Repeat("e", 200) + `","data":"x","channels":["my-channel"]}`), wantStatus: 200},
		{name: "reserved name", request: trigger(`{"name":"pusher:subscribe","data":"x","channels":["my-channel"]}`), wantStatus: 400, check: nothingReceived},
		{name: "internal name", request: trigger(`{"name":"pusher_internal:member_added","data":"x","channels":["presence-room"]}`), wantStatus: 400},
		{name: "missing channels", request: trigger(`{"name":"e","data":"x"}`), wantStatus: 400},
		{name: "empty channels", request: trigger(`{"name":"e","data":"x","channels":[]}`), wantStatus: 400},
		{name: "100 channels", request: trigger(`{"name":"e","data":"x","channels":[` + channelList(100) + `]}`), wantStatus: 200},
		{name: "101 channels", request: trigger(`{"name":"e","data":"x","channels":[` + channelList(101) + `]}`), wantStatus: 400},
		{name: "over the app channel limit", request: triggerSmall(`{"name":"e","data":"x","channels":["a","b","c"]}`), wantStatus: 400},
		{name: "channels and channel together over the limit", request: triggerSmall(`{"name":"e","data":"x","channels":["a","b"],"channel":"c"}`), wantStatus: 400},
		{name: "bad channel name", request: trigger(`{"name":"e","data":"x","channels":["my-channel","bad channel"]}`), wantStatus: 400, check: nothingReceived},
		{name: "channel name too long", request: trigger(`{"name":"e","data":"x","channels":["` + strings.Repeat("c", 201) + `"]}`), wantStatus: 400},
		{name: "object data", request: trigger(`{"name":"e","data":{"id":1},"channels":["my-channel"]}`), wantStatus: 400, check: nothingReceived},
		{name: "number data", request: trigger(`{"name":"e","data":42,"channels":["my-channel"]}`), wantStatus: 400},
		{name: "null data", request: trigger(`{"name":"e","data":null,"channels":["my-channel"]}`), wantStatus: 400},
		{name: "missing data", request: trigger(`{"name":"e","channels":["my-channel"]}`), wantStatus: 400},
		{name: "bad socket_id", request: trigger(`{"name":"e","data":"x","channels":["my-channel"],"socket_id":"abc"}`), wantStatus: 400, check: nothingReceived},
		{name: "socket_id with a third part", request: trigger(`{"name":"e","data":"x","channels":["my-channel"],"socket_id":"1.2.3"}`), wantStatus: 400},
		{name: "channels not strings", request: trigger(`{"name":"e","data":"x","channels":[1]}`), wantStatus: 400},
		{name: "name not a string", request: trigger(`{"name":1,"data":"x","channels":["my-channel"]}`), wantStatus: 400, check: nothingReceived},
		{name: "channels not an array", request: trigger(`{"name":"e","data":"x","channels":"my-channel"}`), wantStatus: 400},
		{name: "bad escape", request: trigger(`{"name":"e","data":"\x","channel":"my-channel"}`), wantStatus: 400, check: nothingReceived},
		{
			name:       "null fields read as absent",
			request:    trigger(`{"name":"e","data":"x","channel":"my-channel","channels":null,"socket_id":null,"info":null}`),
			wantStatus: 200,
			check: func(t *testing.T, e *env) {
				received(t, e, `{"event":"e","channel":"my-channel","data":"x"}`, "1.1", "1.2")
			},
		},
		{
			name:       "the last of repeated keys counts",
			request:    trigger(`{"name":"first","data":1,"channel":"my-channel","name":"e","data":"x"}`),
			wantStatus: 200,
			check: func(t *testing.T, e *env) {
				received(t, e, `{"event":"e","channel":"my-channel","data":"x"}`, "1.1", "1.2")
			},
		},
		{
			name:       "escapes decoded once",
			request:    trigger(`{"name":"e","data":"a\"b\\c\nd \u00e9 \ud83d\ude00 \/","channel":"my-channel"}`),
			wantStatus: 200,
			check: func(t *testing.T, e *env) {
				received(t, e, `{"event":"e","channel":"my-channel","data":"a\"b\\c\nd é 😀 /"}`, "1.1", "1.2")
			},
		},
	})
}

func TestBatchGolden(t *testing.T) {
	smallBatch := func(body string) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			return signed(t, signer("small", "small-key", "small-secret", now), "POST", "/batch_events", nil, body)
		}
	}
	runGolden(t, []apiCase{
		{
			name:       "two events",
			request:    batch(`{"batch":[{"channel":"my-channel","name":"e1","data":"{\"x\":1}"},{"channel":"private-chat.1","name":"e2","data":"y","socket_id":"2.1"}]}`),
			wantStatus: 200,
			check: func(t *testing.T, e *env) {
				received(t, e, `{"event":"e1","channel":"my-channel","data":"{\"x\":1}"}`, "1.1", "1.2")
			},
		},
		{
			name:       "info",
			request:    batch(`{"batch":[{"channel":"my-channel","name":"e1","data":"x"},{"channel":"presence-room","name":"e2","data":"y","info":"user_count"},{"channel":"my-channel","name":"e3","data":"z","info":"subscription_count,user_count"}]}`),
			wantStatus: 200,
		},
		{name: "ten events", request: batch(batchOf(10)), wantStatus: 200},
		{name: "eleven events", request: batch(batchOf(11)), wantStatus: 400, check: nothingReceived},
		{name: "over the app batch limit", request: smallBatch(batchOf(3)), wantStatus: 400},
		{name: "empty batch", request: batch(`{"batch":[]}`), wantStatus: 400},
		{name: "missing batch", request: batch(`{}`), wantStatus: 400},
		{name: "malformed body", request: batch(`{"batch":`), wantStatus: 400},
		{name: "batch not an array", request: batch(`{"batch":{"channel":"a"}}`), wantStatus: 400},
		{name: "item with channels", request: batch(`{"batch":[{"channels":["my-channel"],"name":"e","data":"x"}]}`), wantStatus: 400},
		{
			name:       "bad item publishes nothing",
			request:    batch(`{"batch":[{"channel":"my-channel","name":"e1","data":"x"},{"channel":"my-channel","name":"e2","data":{"x":1}}]}`),
			wantStatus: 400,
			check:      nothingReceived,
		},
		{name: "item data too large", request: smallBatch(`{"batch":[{"channel":"my-channel","name":"e","data":"0123456789abcdefg"}]}`), wantStatus: 413, check: nothingReceived},
		{name: "item bad socket_id", request: batch(`{"batch":[{"channel":"my-channel","name":"e","data":"x","socket_id":"x.1"}]}`), wantStatus: 400},
		{name: "item missing channel", request: batch(`{"batch":[{"name":"e","data":"x"}]}`), wantStatus: 400},
		{name: "item not an object", request: batch(`{"batch":[{"channel":"my-channel","name":"e","data":"x"},"e"]}`), wantStatus: 400, check: nothingReceived},
		{name: "null batch", request: batch(`{"batch":null}`), wantStatus: 400},
	})
}
