package protocol_test

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/quaver-dev/quaver/protocol"
)

// Pusher's documented test credentials, used by every worked example of
// the protocol reference (sections 4 and 6.1).
const (
	specKey    = "278d425bdf160c739803"
	specSecret = "7ad3773142a6692b25b8"
	specSocket = "1234.1234"
)

func TestChannelAuthWorkedExamples(t *testing.T) {
	tests := []struct {
		name        string
		channel     string
		channelData string
		withData    bool
		wantString  string
		wantAuth    string
	}{
		{
			name: "4.1 private", channel: "private-foobar",
			wantString: "1234.1234:private-foobar",
			wantAuth:   "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4",
		},
		{
			name: "4.2 presence", channel: "presence-foobar",
			channelData: `{"user_id":10,"user_info":{"name":"Mr. Channels"}}`, withData: true,
			wantString: `1234.1234:presence-foobar:{"user_id":10,"user_info":{"name":"Mr. Channels"}}`,
			wantAuth:   "278d425bdf160c739803:31935e7d86dba64c2a90aed31fdc61869f9b22ba9d8863bba239c03ca481bc80",
		},
		{
			name: "4.3 encrypted", channel: "private-encrypted-foobar",
			wantString: "1234.1234:private-encrypted-foobar",
			wantAuth:   "278d425bdf160c739803:e6a18892d037c5d5e76a2265df4f086ffc38631605530dfd214aa5bff495f533",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := protocol.ChannelAuthMessage(specSocket, tt.channel, tt.channelData, tt.withData)
			if msg != tt.wantString {
				t.Fatalf("string to sign = %q, want %q", msg, tt.wantString)
			}
			if got := specKey + ":" + protocol.Sign(specSecret, msg); got != tt.wantAuth {
				t.Fatalf("auth = %s, want %s", got, tt.wantAuth)
			}
			if err := protocol.VerifyAuth(specKey, specSecret, tt.wantAuth, msg); err != nil {
				t.Fatalf("VerifyAuth rejects the worked example: %v", err)
			}
		})
	}
}

func TestUserAuthWorkedExample(t *testing.T) {
	const userData = `{"id":"12345","user_info":{"name":"Mr. Channels"}}`
	msg := protocol.UserAuthMessage(specSocket, userData)
	if want := `1234.1234::user::{"id":"12345","user_info":{"name":"Mr. Channels"}}`; msg != want {
		t.Fatalf("string to sign = %q, want %q", msg, want)
	}
	const want = "278d425bdf160c739803:abe963eb4a43a3393065608e9b0a2b9a57fb808546d6cdfe9b62511684afb82f"
	if got := specKey + ":" + protocol.Sign(specSecret, msg); got != want {
		t.Fatalf("auth = %s, want %s", got, want)
	}
	if err := protocol.VerifyAuth(specKey, specSecret, want, msg); err != nil {
		t.Fatal(err)
	}
}

func TestAPISigningWorkedExamples(t *testing.T) {
	const body = `{"name":"my-event","data":"{\"message\":\"hello world\"}","channels":["my-channel"]}`
	sum := md5.Sum([]byte(body))
	if len(body) != 84 || hex.EncodeToString(sum[:]) != "15d251b35306a6da7efa515a0e971f80" {
		t.Fatalf("worked example body: %d bytes, md5 %x", len(body), sum)
	}
	tests := []struct {
		name       string
		method     string
		rawURL     string
		wantString string
		wantSig    string
	}{
		{
			name:   "POST events",
			method: "POST",
			rawURL: "/apps/123456/events?auth_key=278d425bdf160c739803&auth_timestamp=1700000000&auth_version=1.0&body_md5=15d251b35306a6da7efa515a0e971f80&auth_signature=a606fd4f686f24316e74a2344745fa44bdade94878bc822826ab19c97c2a7b19",
			wantString: "POST\n/apps/123456/events\n" +
				"auth_key=278d425bdf160c739803&auth_timestamp=1700000000&auth_version=1.0&body_md5=15d251b35306a6da7efa515a0e971f80",
			wantSig: "a606fd4f686f24316e74a2344745fa44bdade94878bc822826ab19c97c2a7b19",
		},
		{
			name:   "GET channels",
			method: "GET",
			rawURL: "/apps/123456/channels?filter_by_prefix=presence-&info=user_count&auth_key=278d425bdf160c739803&auth_timestamp=1700000000&auth_version=1.0&auth_signature=13a547c276949fba41bc65d512f0ee751f009a30cd0cd862588653613dfad085",
			wantString: "GET\n/apps/123456/channels\n" +
				"auth_key=278d425bdf160c739803&auth_timestamp=1700000000&auth_version=1.0&filter_by_prefix=presence-&info=user_count",
			wantSig: "13a547c276949fba41bc65d512f0ee751f009a30cd0cd862588653613dfad085",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.rawURL)
			if err != nil {
				t.Fatal(err)
			}
			s := protocol.APISigningString(tt.method, u.Path, u.Query())
			if s != tt.wantString {
				t.Fatalf("string to sign\n got %q\nwant %q", s, tt.wantString)
			}
			if got := protocol.Sign(specSecret, s); got != tt.wantSig {
				t.Fatalf("signature %s, want %s", got, tt.wantSig)
			}
			if !protocol.ValidSignature(specSecret, s, u.Query().Get("auth_signature")) {
				t.Fatal("ValidSignature rejects the worked example")
			}
		})
	}
}

func TestAPISigningString(t *testing.T) {
	tests := []struct {
		name  string
		path  string
		query url.Values
		want  string
	}{
		{"keys lowercased and sorted", "/p", url.Values{"B": {"2"}, "a": {"1"}, "Auth_Key": {"k"}}, "GET\n/p\na=1&auth_key=k&b=2"},
		{"signature left out", "/p", url.Values{"auth_signature": {"x"}, "AUTH_SIGNATURE": {"y"}, "a": {"1"}}, "GET\n/p\na=1"},
		{"values not encoded", "/p", url.Values{"info": {"user_count,subscription_count"}, "q": {"a b&c"}}, "GET\n/p\ninfo=user_count,subscription_count&q=a b&c"},
		{"first value of a repeated key", "/p", url.Values{"a": {"1", "2"}}, "GET\n/p\na=1"},
		{"empty value kept", "/p", url.Values{"a": {""}}, "GET\n/p\na="},
		{"no query", "/apps/1/channels", url.Values{}, "GET\n/apps/1/channels\n"},
		{"decoded path", "/apps/1/users/user 1é/terminate_connections", url.Values{"a": {"1"}}, "GET\n/apps/1/users/user 1é/terminate_connections\na=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := protocol.APISigningString("GET", tt.path, tt.query); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSignedQuery checks the query as the API's signature check reads it:
// the first of keys that differ only in case is signed, and Replace leaves
// no other case of its key behind to stand in for the value it sets.
func TestSignedQuery(t *testing.T) {
	q := protocol.ParseQuery(nil, "b=2&A=1&a=3&auth_signature=x&Auth_Signature=y&body_md5=old&BODY_MD5=older&e=&f")
	if got, want := q.Get("a"), "3"; got != want {
		t.Fatalf("Get(a) = %q, want %q (keys match exactly)", got, want)
	}
	q = q.Replace("body_md5", "new")
	got := string(protocol.AppendAPISigningString(nil, "POST", "/p", q))
	if want := "POST\n/p\na=1&b=2&body_md5=new&e=&f="; got != want {
		t.Fatalf("signing string %q, want %q", got, want)
	}
}

// FuzzParseQuery checks ParseQuery against url.ParseQuery: the same
// parameters with the same values in the same order per key.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"a=1&b=2", "a=1&a=2", "a;b=1&c=2", "%zz=1&b=%41", "a+b=c+d", "&&=&a", "x=%", "k=v=w"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		want, _ := url.ParseQuery(raw)
		got := url.Values{}
		for _, p := range protocol.ParseQuery(nil, raw) {
			got[p.Key] = append(got[p.Key], p.Value)
		}
		if len(got) != len(want) {
			t.Fatalf("ParseQuery(%q) = %v, url.ParseQuery = %v", raw, got, want)
		}
		for k, vs := range want {
			if strings.Join(got[k], "\x00") != strings.Join(vs, "\x00") || len(got[k]) != len(vs) {
				t.Fatalf("ParseQuery(%q)[%q] = %q, url.ParseQuery has %q", raw, k, got[k], vs)
			}
		}
	})
}

func TestValidSignature(t *testing.T) {
	const msg = "1234.1234:private-foobar"
	good := protocol.Sign(specSecret, msg)
	tests := []struct {
		name      string
		secret    string
		signature string
		want      bool
	}{
		{"correct", specSecret, good, true},
		{"wrong secret", "other", good, false},
		{"uppercase hex", specSecret, strings.ToUpper(good), false},
		{"one uppercase digit", specSecret, good[:63] + strings.ToUpper(good[63:]), good[63] < 'a'},
		{"one character changed", specSecret, good[:10] + flip(good[10]) + good[11:], false},
		{"too short", specSecret, good[:62], false},
		{"odd length", specSecret, good[:63], false},
		{"too long", specSecret, good + "00", false},
		{"empty", specSecret, "", false},
		{"not hex", specSecret, strings.Repeat("zz", 32), false},
		{"spaces", specSecret, " " + good[1:], false},
		{"with key prefix", specSecret, specKey + ":" + good, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := protocol.ValidSignature(tt.secret, msg, tt.signature); got != tt.want {
				t.Fatalf("ValidSignature(%q) = %v, want %v", tt.signature, got, tt.want)
			}
			// A Signer reuses its hash: check another message first, so a
			// state left over from it would show.
			s := protocol.NewSigner(tt.secret)
			s.Valid([]byte("another message"), good)
			if got := s.Valid([]byte(msg), tt.signature); got != tt.want {
				t.Fatalf("Signer.Valid(%q) = %v, want %v", tt.signature, got, tt.want)
			}
		})
	}
}

// flip returns a different lowercase hex digit.
func flip(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}

func TestVerifyAuth(t *testing.T) {
	const msg = "1234.1234:private-foobar"
	good := specKey + ":" + protocol.Sign(specSecret, msg)
	tests := []struct {
		name string
		auth string
		want error
	}{
		{"correct", good, nil},
		{"empty", "", protocol.ErrAuthFormat},
		{"no colon", strings.Replace(good, ":", "", 1), protocol.ErrAuthFormat},
		{"wrong key", "other-key" + good[len(specKey):], protocol.ErrAuthKey},
		{"empty key", good[len(specKey):], protocol.ErrAuthKey},
		{"signature for another channel", specKey + ":" + protocol.Sign(specSecret, "1234.1234:private-other"), protocol.ErrAuthSignature},
		{"signature for another socket", specKey + ":" + protocol.Sign(specSecret, "1.1:private-foobar"), protocol.ErrAuthSignature},
		{"empty signature", specKey + ":", protocol.ErrAuthSignature},
		{"trailing colon", good + ":", protocol.ErrAuthKey},
		{"key with a colon is not this key", "278d425b:df160c739803:" + protocol.Sign(specSecret, msg), protocol.ErrAuthKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := protocol.VerifyAuth(specKey, specSecret, tt.auth, msg); !errors.Is(err, tt.want) {
				t.Fatalf("VerifyAuth(%q) = %v, want %v", tt.auth, err, tt.want)
			}
		})
	}
}

func FuzzVerifyAuth(f *testing.F) {
	f.Add(specKey, specSecret, specSocket, "private-foobar", "", false, specKey+":58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4")
	f.Add(specKey, specSecret, specSocket, "presence-foobar", `{"user_id":10,"user_info":{"name":"Mr. Channels"}}`, true, specKey+":31935e7d86dba64c2a90aed31fdc61869f9b22ba9d8863bba239c03ca481bc80")
	f.Add("k", "s", "1.2", "private-a", "", false, "k:")
	f.Add("k", "", "", "", "", false, ":::")
	f.Add("a:b", "s", "1.2", "private-a", "", false, "a:b:00")
	f.Fuzz(func(t *testing.T, key, secret, socketID, channel, channelData string, withData bool, auth string) {
		msg := protocol.ChannelAuthMessage(socketID, channel, channelData, withData)
		correct := key + ":" + protocol.Sign(secret, msg)
		err := protocol.VerifyAuth(key, secret, auth, msg)
		if err == nil && auth != correct {
			t.Fatalf("accepted %q for key %q, only %q is correct", auth, key, correct)
		}
		if err != nil && !errors.Is(err, protocol.ErrAuthFormat) && !errors.Is(err, protocol.ErrAuthKey) && !errors.Is(err, protocol.ErrAuthSignature) {
			t.Fatalf("unexpected error %v", err)
		}
		if err := protocol.VerifyAuth(key, secret, correct, msg); err != nil {
			t.Fatalf("rejected the correct auth %q: %v", correct, err)
		}
		if !protocol.ValidSignature(secret, msg, protocol.Sign(secret, msg)) {
			t.Fatal("ValidSignature rejects Sign's output")
		}
		if !protocol.NewSigner(secret).Valid([]byte(msg), protocol.Sign(secret, msg)) {
			t.Fatal("Signer.Valid rejects Sign's output")
		}
	})
}

func TestVerifyAuthKeyWithColon(t *testing.T) {
	const key, msg = "app:key", "1.2:private-a"
	if err := protocol.VerifyAuth(key, "s", key+":"+protocol.Sign("s", msg), msg); err != nil {
		t.Fatalf("a key containing a colon cannot authorize: %v", err)
	}
}
