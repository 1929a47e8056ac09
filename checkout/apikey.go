package checkout

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// API key scopes.
const (
	ScopeOrdersRead     = "orders:read"
	ScopeOrdersWrite    = "orders:write"
	ScopeEndpointsWrite = "endpoints:write" // keep the notification endpoints, secrets included
)

// Scopes lists every scope, in the order the key page shows them.
var Scopes = []string{ScopeOrdersRead, ScopeOrdersWrite, ScopeEndpointsWrite}

// APIKey is a key a shop's software signs its API requests with. Only a hash of the key is
// kept: the key itself is shown once, when it is made.
type APIKey struct {
	ID         int64
	Prefix     string // the key's first characters, shown to tell keys apart
	Hash       string // hex SHA-256 of the whole key
	Name       string
	Scopes     []string
	CreatedBy  int64
	CreatedAt  time.Time
	LastUsedAt time.Time
	RevokedAt  time.Time
}

// Can reports whether the key grants scope.
func (k APIKey) Can(scope string) bool { return slices.Contains(k.Scopes, scope) }

// Revoked reports whether the key no longer opens anything.
func (k APIKey) Revoked() bool { return !k.RevokedAt.IsZero() }

// An API key reads ck_<8 characters>_<26 characters>: the first part is the prefix (stored and
// shown), the whole is the secret. The random part is 130 bits from crypto/rand, so a plain
// SHA-256 is a fit hash (there is no password to guess by brute force).
const (
	keyTag       = "ck_"
	keyPrefixLen = len(keyTag) + 8
	keyLen       = keyPrefixLen + 1 + 26
)

// MaxKeyName bounds an API key's name.
const MaxKeyName = 100

// NewAPIKey makes a key named name with scopes; it returns the key to show once and the record
// to store. It returns an EInvalid *Error naming the field when the name or scopes are wrong.
func NewAPIKey(name string, scopes []string) (string, APIKey, error) {
	fields := map[string]string{}
	name = strings.TrimSpace(name)
	switch l := len([]rune(name)); {
	case l == 0:
		fields["name"] = "Name the key after what uses it, like \"web shop\"."
	case l > MaxKeyName:
		fields["name"] = "Keep the name under 100 characters."
	}
	var kept []string
	for _, s := range Scopes {
		if slices.Contains(scopes, s) {
			kept = append(kept, s)
		}
	}
	if len(kept) == 0 || len(kept) != len(compactScopes(scopes)) {
		fields["scopes"] = "Choose what the key may do: read orders, create and cancel them, keep notification endpoints."
	}
	if len(fields) > 0 {
		return "", APIKey{}, &Error{Code: EInvalid, Message: "Please correct the highlighted fields.", Fields: fields}
	}
	key := keyTag + strings.ToLower(rand.Text()[:8]) + "_" + rand.Text()
	return key, APIKey{Prefix: key[:keyPrefixLen], Hash: hashKey(key), Name: name, Scopes: kept}, nil
}

func compactScopes(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// APIKeyPrefix returns the prefix of a presented key, and false when it cannot be a key.
func APIKeyPrefix(key string) (string, bool) {
	if len(key) != keyLen || !strings.HasPrefix(key, keyTag) || key[keyPrefixLen] != '_' {
		return "", false
	}
	return key[:keyPrefixLen], true
}

// Matches reports whether key is this record's key.
func (k APIKey) Matches(key string) bool {
	return subtle.ConstantTimeCompare([]byte(hashKey(key)), []byte(k.Hash)) == 1
}

func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// IdempotentAnswer is the answer kept for an Idempotency-Key: a repeat of the request gets it
// again. Status is 0 while the first request is still being answered.
type IdempotentAnswer struct {
	Key         string
	RequestHash string
	Status      int
	Body        []byte
	CreatedAt   time.Time
}
