package channels

import (
	"errors"
	"strings"
)

// Kind is a channel's access model.
type Kind uint8

const (
	Public Kind = iota
	Private
	Presence
	Encrypted
	// User is #server-to-user-{id}, reserved to connections signed in as id.
	User
)

func (k Kind) String() string {
	switch k {
	case Private:
		return "private"
	case Presence:
		return "presence"
	case Encrypted:
		return "encrypted"
	case User:
		return "user"
	default:
		return "public"
	}
}

// MaxNameLength is the longest channel name accepted, as in the Pusher SDKs.
const MaxNameLength = 200

// UserChannelPrefix starts the channel a signed-in user receives
// sendToUser events on.
const UserChannelPrefix = "#server-to-user-"

// Errors from Validate.
var (
	ErrEmptyName   = errors.New("channel name is empty")
	ErrNameTooLong = errors.New("channel name is longer than 200 characters")
	ErrNameChars   = errors.New("channel name may only contain A-Z a-z 0-9 _ - = @ , . ;")
)

// Info describes a channel from its name alone.
type Info struct {
	Kind Kind
	// Cache channels remember their last event for new subscribers.
	Cache bool
}

// Classify derives a channel's kind from its prefix, in pusher-js's order.
func Classify(name string) Info {
	switch {
	case strings.HasPrefix(name, UserChannelPrefix):
		return Info{Kind: User}
	case strings.HasPrefix(name, "private-encrypted-"):
		return Info{Kind: Encrypted, Cache: strings.HasPrefix(name, "private-encrypted-cache-")}
	case strings.HasPrefix(name, "private-"):
		return Info{Kind: Private, Cache: strings.HasPrefix(name, "private-cache-")}
	case strings.HasPrefix(name, "presence-"):
		return Info{Kind: Presence, Cache: strings.HasPrefix(name, "presence-cache-")}
	default:
		return Info{Kind: Public, Cache: strings.HasPrefix(name, "cache-")}
	}
}

// NeedsAuth reports whether subscribing requires a signature.
func (i Info) NeedsAuth() bool { return i.Kind == Private || i.Kind == Presence || i.Kind == Encrypted }

// AllowsClientEvents reports whether clients may send client-* events here:
// private and presence channels only, never encrypted ones.
func (i Info) AllowsClientEvents() bool { return i.Kind == Private || i.Kind == Presence }

// Validate checks a channel name's length and characters. User channels
// carry an arbitrary user id after their prefix, which must be non-empty and
// printable.
func Validate(name string) error {
	if name == "" {
		return ErrEmptyName
	}
	if len(name) > MaxNameLength {
		return ErrNameTooLong
	}
	if id, ok := strings.CutPrefix(name, UserChannelPrefix); ok {
		if id == "" {
			return ErrEmptyName
		}
		for i := 0; i < len(id); i++ {
			if id[i] < 0x20 || id[i] == 0x7f {
				return ErrNameChars
			}
		}
		return nil
	}
	for i := 0; i < len(name); i++ {
		if !nameChar[name[i]] {
			return ErrNameChars
		}
	}
	return nil
}

// UserID returns the user id of a #server-to-user channel.
func UserID(name string) (string, bool) {
	return strings.CutPrefix(name, UserChannelPrefix)
}

var nameChar = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "_-=@,.;" {
		t[c] = true
	}
	return t
}()
