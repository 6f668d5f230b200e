package protocol

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"sort"
	"strings"
)

// Signature errors. Their texts reach clients, so they say what is wrong
// without echoing the expected value.
var (
	ErrAuthFormat    = errors.New("invalid auth format, expected key:signature")
	ErrAuthKey       = errors.New("invalid key in auth data")
	ErrAuthSignature = errors.New("invalid signature")
)

// Sign returns the lowercase hex HMAC-SHA256 of message under secret.
func Sign(secret, message string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(message))
	return hex.EncodeToString(mac.Sum(nil))
}

// ValidSignature reports, in constant time, whether signature is the
// lowercase hex HMAC-SHA256 of message under secret. Uppercase hex is
// refused, as Reverb and Soketi refuse it: every SDK signs in lowercase.
func ValidSignature(secret, message, signature string) bool {
	if len(signature) != hex.EncodedLen(sha256.Size) {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(message))
	var want [2 * sha256.Size]byte
	hex.Encode(want[:], mac.Sum(nil))
	return hmac.Equal(want[:], []byte(signature))
}

// ChannelAuthMessage is the string signed for a private, encrypted or
// presence subscription; channelData is empty for private channels unless
// the auth endpoint chose to sign it.
func ChannelAuthMessage(socketID, channel, channelData string, withData bool) string {
	if !withData {
		return socketID + ":" + channel
	}
	return socketID + ":" + channel + ":" + channelData
}

// UserAuthMessage is the string signed for pusher:signin.
func UserAuthMessage(socketID, userData string) string {
	return socketID + "::user::" + userData
}

// VerifyAuth checks an auth value "key:signature" against the app's key and
// secret for message. It splits at the last colon: a hex signature has
// none, while an app key may.
func VerifyAuth(key, secret, auth, message string) error {
	i := strings.LastIndexByte(auth, ':')
	if i < 0 {
		return ErrAuthFormat
	}
	authKey, signature := auth[:i], auth[i+1:]
	if authKey != key {
		return ErrAuthKey
	}
	if !ValidSignature(secret, message, signature) {
		return ErrAuthSignature
	}
	return nil
}

// APISigningString is the string an HTTP API request signs:
// METHOD\nPATH\nQUERY, with the query's keys lowercased and sorted, values
// decoded, and auth_signature left out. The path must be percent-decoded.
func APISigningString(method, path string, query url.Values) string {
	keys := make([]string, 0, len(query))
	lowered := make(map[string]string, len(query))
	for k, v := range query {
		lk := strings.ToLower(k)
		if lk == "auth_signature" || len(v) == 0 {
			continue
		}
		if _, dup := lowered[lk]; !dup {
			keys = append(keys, lk)
		}
		lowered[lk] = v[0]
	}
	sort.Strings(keys)
	var b strings.Builder
	b.Grow(len(method) + len(path) + 32*len(keys))
	b.WriteString(method)
	b.WriteByte('\n')
	b.WriteString(path)
	b.WriteByte('\n')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(lowered[k])
	}
	return b.String()
}
