package controller

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// TokenKeySize is the size of a generated step-token key.
const TokenKeySize = 32

// A step token binds a step.result to the step.run it answers. It is an
// HMAC of the attempt's dispatch id, so that every send of the same
// attempt (a broker's redelivery, another instance with the same key) carries the
// same token, and nobody without the key can make one. The controller
// stores only a hash of it in the node record: a status is readable by
// anyone who may get the Workflow, and a hash proves nothing to them.

// stepToken is the token of the attempt whose dispatch id is id.
func stepToken(key []byte, id string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// tokenHash is what the node record keeps of a token: 128 bits of its
// SHA-256 are plenty against a second preimage and keep the record small.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// tokenMatches reports, in constant time, whether token is the one that
// hashes to hash.
func tokenMatches(token, hash string) bool {
	if token == "" || hash == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(tokenHash(token)), []byte(hash)) == 1
}

// NewTokenKey returns a random step-token key.
func NewTokenKey() ([]byte, error) {
	key := make([]byte, TokenKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate the step-token key: %w", err)
	}
	return key, nil
}

// ReadTokenKey reads a step-token key file: the key is the file's content
// with surrounding white space trimmed (so that a Secret made with
// `kubectl create secret generic --from-file` or `openssl rand -base64 32 >
// key` both work). A key shorter than 16 bytes is refused: it would be
// guessable.
func ReadTokenKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the step-token key: %w", err)
	}
	key := []byte(strings.TrimSpace(string(b)))
	if len(key) < 16 {
		return nil, fmt.Errorf("step-token key %s: %d bytes, want at least 16 (e.g. openssl rand -base64 32)", path, len(key))
	}
	return key, nil
}

// LoadOrCreateTokenKey reads the key file at path, creating it (mode 0600,
// a random key) when it does not exist, so that a stack restarted on the
// same data directory accepts the results of the steps it dispatched
// before.
func LoadOrCreateTokenKey(path string) ([]byte, error) {
	key, err := ReadTokenKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	raw, err := NewTokenKey()
	if err != nil {
		return nil, err
	}
	text := base64.RawURLEncoding.EncodeToString(raw)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create the step-token key: %w", err)
	}
	// Written aside and linked into place: of two stacks starting at once
	// on one directory, one links its key and the other reads it, never a
	// half-written file.
	f, err := os.CreateTemp(filepath.Dir(path), ".token-key-*")
	if err != nil {
		return nil, fmt.Errorf("create the step-token key: %w", err)
	}
	defer os.Remove(f.Name())
	_, werr := f.WriteString(text + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("write the step-token key %s: %w", path, werr)
	}
	if err := os.Link(f.Name(), path); errors.Is(err, fs.ErrExist) {
		return ReadTokenKey(path)
	} else if err != nil {
		return nil, fmt.Errorf("create the step-token key %s: %w", path, err)
	}
	return []byte(text), nil
}
