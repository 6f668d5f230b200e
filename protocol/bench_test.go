package protocol

import (
	"net/url"
	"strings"
	"testing"
)

// BenchmarkNewFrame builds the JSON text of a typical API event: once per
// published event, shared by every recipient.
func BenchmarkNewFrame(b *testing.B) {
	data := `{"stream":"s-42","seq":17,"delta":" the quick brown fox \"jumps\" over é"}`
	b.ReportAllocs()
	for b.Loop() {
		NewFrame(`App\Events\TokenStreamed`, "private-chat.42", data, DataString, "")
	}
}

// BenchmarkMarshalFrame encodes a frame for other nodes and caches.
func BenchmarkMarshalFrame(b *testing.B) {
	f := NewFrame("token", "private-chat.42", `{"stream":"s-42","seq":17,"delta":"fox"}`, DataString, "")
	b.ReportAllocs()
	for b.Loop() {
		MarshalFrame(f, "123.456")
	}
}

// BenchmarkVerifyAPISignature checks the signature of an HTTP API request
// as the API does for every trigger: the raw query parsed into reused
// memory, body_md5 set, the signing string built and the HMAC checked with
// a reused key.
func BenchmarkVerifyAPISignature(b *testing.B) {
	const secret = "7ad3773142a6692b25b8"
	q := url.Values{
		"auth_key": {"278d425bdf160c739803"}, "auth_timestamp": {"1700000000"},
		"auth_version": {"1.0"}, "body_md5": {"15d251b35306a6da7efa515a0e971f80"},
	}
	q.Set("auth_signature", Sign(secret, APISigningString("POST", "/apps/123456/events", q)))
	raw := q.Encode()
	signer := NewSigner(secret)
	var query Query
	var signing []byte
	b.ReportAllocs()
	for b.Loop() {
		query = ParseQuery(query[:0], raw)
		query = query.Replace("body_md5", "15d251b35306a6da7efa515a0e971f80")
		signing = AppendAPISigningString(signing[:0], "POST", "/apps/123456/events", query)
		if !signer.Valid(signing, query.Get("auth_signature")) {
			b.Fatal("signature rejected")
		}
	}
}

// BenchmarkVerifyChannelAuth checks a presence subscription's signature.
func BenchmarkVerifyChannelAuth(b *testing.B) {
	const key, secret = "278d425bdf160c739803", "7ad3773142a6692b25b8"
	data := `{"user_id":10,"user_info":{"name":"Mr. Channels"}}`
	msg := ChannelAuthMessage("1234.1234", "presence-foobar", data, true)
	auth := key + ":" + Sign(secret, msg)
	b.ReportAllocs()
	for b.Loop() {
		if VerifyAuth(key, secret, auth, ChannelAuthMessage("1234.1234", "presence-foobar", data, true)) != nil {
			b.Fatal("auth rejected")
		}
	}
}

// BenchmarkAppendQuoted escapes a token-sized string into JSON.
func BenchmarkAppendQuoted(b *testing.B) {
	s := strings.Repeat("token ", 10) + "\"quoted\" é\n"
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendQuoted(buf[:0], s)
	}
}

// BenchmarkParseToken reads a token from an event's data, as the publisher
// does for every event on a token channel.
func BenchmarkParseToken(b *testing.B) {
	const data = `{"stream":"s-12","seq":345,"delta":" hello","requested_at":1733349912345}`
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := ParseToken(data); !ok {
			b.Fatal("not a token")
		}
	}
}
