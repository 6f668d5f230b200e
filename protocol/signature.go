package protocol

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
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
	return macMatches(mac, signature)
}

// macMatches compares mac's sum with a lowercase hex signature in constant
// time.
func macMatches(mac hash.Hash, signature string) bool {
	var sum [sha256.Size]byte
	var want [2 * sha256.Size]byte
	hex.Encode(want[:], mac.Sum(sum[:0]))
	return hmac.Equal(want[:], []byte(signature))
}

// Signer checks HMAC-SHA256 signatures under one secret and reuses its keyed
// hashes: keying one costs two SHA-256 blocks and about 400 bytes of
// garbage, as much as checking the short message an HTTP API request signs,
// and the API checks one for every request. It is safe for concurrent use.
type Signer struct{ macs sync.Pool }

// NewSigner returns a Signer for secret.
func NewSigner(secret string) *Signer {
	s := &Signer{}
	s.macs.New = func() any { return hmac.New(sha256.New, []byte(secret)) }
	return s
}

// Valid is ValidSignature under the Signer's secret.
func (s *Signer) Valid(message []byte, signature string) bool {
	if len(signature) != hex.EncodedLen(sha256.Size) {
		return false
	}
	mac := s.macs.Get().(hash.Hash)
	defer s.macs.Put(mac)
	mac.Reset()
	mac.Write(message)
	return macMatches(mac, signature)
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

// QueryParam is one parameter of a request's query, decoded.
type QueryParam struct {
	Key, Value string
	lower      string // Key lowercased, for sorting
}

// Query is a request's query as its signature sees it: the parameters in
// the order sent. Unlike url.Values it can be parsed into and signed from
// reused memory, which keeps signature checks on the API's hot path free
// of allocations.
type Query []QueryParam

// ParseQuery appends the parameters of a raw query string to dst, decoded
// and split as url.ParseQuery splits them; the pairs it would reject (a
// semicolon, a bad escape) are left out, as url.URL.Query leaves them out.
func ParseQuery(dst Query, raw string) Query {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" || strings.Contains(pair, ";") {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, err := url.QueryUnescape(k)
		if err != nil {
			continue
		}
		v, err = url.QueryUnescape(v)
		if err != nil {
			continue
		}
		dst = append(dst, QueryParam{Key: k, Value: v})
	}
	return dst
}

// Get returns the first value of key, matched exactly, or "".
func (q Query) Get(key string) string {
	for _, p := range q {
		if p.Key == key {
			return p.Value
		}
	}
	return ""
}

// Replace sets key to value alone: every parameter whose key is key in any
// case goes, so that none can stand in for value in the signing string.
func (q Query) Replace(key, value string) Query {
	kept := q[:0]
	for _, p := range q {
		if !strings.EqualFold(p.Key, key) {
			kept = append(kept, p)
		}
	}
	clear(q[len(kept):])
	return append(kept, QueryParam{Key: key, Value: value})
}

// APISigningString is the string an HTTP API request signs:
// METHOD\nPATH\nQUERY, with the query's keys lowercased and sorted, values
// decoded, and auth_signature left out. The path must be percent-decoded.
func APISigningString(method, path string, query url.Values) string {
	keys := make([]string, 0, len(query))
	for k := range query {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	q := make(Query, 0, len(keys))
	for _, k := range keys {
		if v := query[k]; len(v) > 0 {
			q = append(q, QueryParam{Key: k, Value: v[0]})
		}
	}
	return string(AppendAPISigningString(nil, method, path, q))
}

// AppendAPISigningString appends the string a request with query q signs
// (see APISigningString) to dst. Of parameters whose keys differ only in
// case, the first in q is signed. It sorts q in place.
func AppendAPISigningString(dst []byte, method, path string, q Query) []byte {
	for i := range q {
		q[i].lower = strings.ToLower(q[i].Key)
	}
	slices.SortStableFunc(q, func(a, b QueryParam) int { return strings.Compare(a.lower, b.lower) })
	dst = append(dst, method...)
	dst = append(dst, '\n')
	dst = append(dst, path...)
	dst = append(dst, '\n')
	first := true
	for i, p := range q {
		if p.lower == "auth_signature" || (i > 0 && q[i-1].lower == p.lower) {
			continue
		}
		if !first {
			dst = append(dst, '&')
		}
		first = false
		dst = append(dst, p.lower...)
		dst = append(dst, '=')
		dst = append(dst, p.Value...)
	}
	return dst
}
