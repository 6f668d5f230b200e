package channels_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/quaver-dev/quaver/channels"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name         string
		want         channels.Info
		needsAuth    bool
		clientEvents bool
	}{
		{"my-channel", channels.Info{Kind: channels.Public}, false, false},
		{"App.Models.User.1", channels.Info{Kind: channels.Public}, false, false},
		{"cache-prices", channels.Info{Kind: channels.Public, Cache: true}, false, false},
		{"cache", channels.Info{Kind: channels.Public}, false, false},
		{"private-chat.1", channels.Info{Kind: channels.Private}, true, true},
		{"private-cache-chat", channels.Info{Kind: channels.Private, Cache: true}, true, true},
		{"private-", channels.Info{Kind: channels.Private}, true, true},
		{"private", channels.Info{Kind: channels.Public}, false, false},
		{"privatechat", channels.Info{Kind: channels.Public}, false, false},
		{"private-encrypted-foobar", channels.Info{Kind: channels.Encrypted}, true, false},
		{"private-encrypted-cache-foobar", channels.Info{Kind: channels.Encrypted, Cache: true}, true, false},
		{"private-encrypted", channels.Info{Kind: channels.Private}, true, true},
		{"presence-room.1", channels.Info{Kind: channels.Presence}, true, true},
		{"presence-cache-room", channels.Info{Kind: channels.Presence, Cache: true}, true, true},
		{"presence", channels.Info{Kind: channels.Public}, false, false},
		{"#server-to-user-u1", channels.Info{Kind: channels.User}, false, false},
		{"#server-to-user-", channels.Info{Kind: channels.User}, false, false},
		{"Private-x", channels.Info{Kind: channels.Public}, false, false},
		{"public-private-x", channels.Info{Kind: channels.Public}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := channels.Classify(tt.name)
			if got != tt.want {
				t.Fatalf("Classify = %+v (%s), want %+v (%s)", got, got.Kind, tt.want, tt.want.Kind)
			}
			if got.NeedsAuth() != tt.needsAuth {
				t.Errorf("NeedsAuth = %v", got.NeedsAuth())
			}
			if got.AllowsClientEvents() != tt.clientEvents {
				t.Errorf("AllowsClientEvents = %v", got.AllowsClientEvents())
			}
		})
	}
}

func TestKindString(t *testing.T) {
	want := map[channels.Kind]string{
		channels.Public: "public", channels.Private: "private", channels.Presence: "presence",
		channels.Encrypted: "encrypted", channels.User: "user",
	}
	for k, s := range want {
		if k.String() != s {
			t.Errorf("%d.String() = %q, want %q", k, k.String(), s)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		channel string
		want    error
	}{
		{"public", "my-channel", nil},
		{"laravel private", "private-chat.1", nil},
		{"laravel presence", "presence-room.1", nil},
		{"laravel model", "App.Models.User.1", nil},
		{"private-encrypted", "private-encrypted-foobar", nil},
		{"cache variants", "presence-cache-x", nil},
		{"every allowed character", "AZaz09_-=@,.;", nil},
		{"single character", "a", nil},
		{"200 characters", strings.Repeat("a", 200), nil},
		{"201 characters", strings.Repeat("a", 201), channels.ErrNameTooLong},
		{"200 with prefix", "private-" + strings.Repeat("a", 192), nil},
		{"201 with prefix", "private-" + strings.Repeat("a", 193), channels.ErrNameTooLong},
		{"empty", "", channels.ErrEmptyName},
		{"space", "my channel", channels.ErrNameChars},
		{"slash", "a/b", channels.ErrNameChars},
		{"colon", "a:b", channels.ErrNameChars},
		{"star", "a*", channels.ErrNameChars},
		{"hash outside user channel", "#general", channels.ErrNameChars},
		{"backslash", `App\Models`, channels.ErrNameChars},
		{"unicode", "café", channels.ErrNameChars},
		{"NUL", "a\x00", channels.ErrNameChars},
		{"newline", "a\n", channels.ErrNameChars},
		{"user channel", "#server-to-user-u1", nil},
		{"user channel numeric", "#server-to-user-12345", nil},
		{"user channel with space and unicode", "#server-to-user-user 1é", nil},
		{"user channel without id", "#server-to-user-", channels.ErrEmptyName},
		{"user channel control char", "#server-to-user-a\nb", channels.ErrNameChars},
		{"user channel DEL", "#server-to-user-a\x7f", channels.ErrNameChars},
		{"user channel too long", "#server-to-user-" + strings.Repeat("1", 185), channels.ErrNameTooLong},
		{"user channel at limit", "#server-to-user-" + strings.Repeat("1", 184), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := channels.Validate(tt.channel); !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Fatalf("Validate(%q) = %v, want %v", tt.channel, err, tt.want)
			}
		})
	}
}

func TestUserID(t *testing.T) {
	// Like strings.CutPrefix, a name that is not a user channel comes back
	// whole with ok false.
	tests := []struct {
		channel string
		want    string
		ok      bool
	}{
		{"#server-to-user-u1", "u1", true},
		{"#server-to-user-", "", true},
		{"private-u1", "private-u1", false},
		{"server-to-user-u1", "server-to-user-u1", false},
	}
	for _, tt := range tests {
		t.Run(tt.channel, func(t *testing.T) {
			id, ok := channels.UserID(tt.channel)
			if id != tt.want || ok != tt.ok {
				t.Fatalf("UserID = %q, %v; want %q, %v", id, ok, tt.want, tt.ok)
			}
		})
	}
}

// referenceName is the Pusher SDK rule, written independently of Validate.
var referenceName = regexp.MustCompile(`^[A-Za-z0-9_\-=@,.;]{1,200}$`)

func FuzzValidate(f *testing.F) {
	for _, s := range []string{"my-channel", "private-chat.1", "presence-room.1", "App.Models.User.1",
		"private-encrypted-cache-x", "#server-to-user-u1", "#server-to-user-", "#server-to-user-\x01",
		"", "a b", "é", strings.Repeat("a", 200), strings.Repeat("a", 201), "#x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := channels.Validate(name)
		info := channels.Classify(name)
		if id, isUser := strings.CutPrefix(name, channels.UserChannelPrefix); isUser {
			if info.Kind != channels.User || info.Cache {
				t.Fatalf("Classify(%q) = %+v, want a user channel", name, info)
			}
			wantOK := id != "" && len(name) <= channels.MaxNameLength && !strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f })
			if (err == nil) != wantOK {
				t.Fatalf("Validate(%q) = %v, want ok=%v", name, err, wantOK)
			}
			if got, ok := channels.UserID(name); !ok || got != id {
				t.Fatalf("UserID(%q) = %q, %v", name, got, ok)
			}
			return
		}
		if wantOK := referenceName.MatchString(name); (err == nil) != wantOK {
			t.Fatalf("Validate(%q) = %v, reference says ok=%v", name, err, wantOK)
		}
		if err == nil && info.Kind == channels.User {
			t.Fatalf("%q is valid but classified as a user channel", name)
		}
		if info.Cache && !strings.Contains(name, "cache-") {
			t.Fatalf("%q classified as cache", name)
		}
	})
}
