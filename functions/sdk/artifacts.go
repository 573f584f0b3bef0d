package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ArtifactStore keeps step artifacts and logs.
type ArtifactStore interface {
	Put(ctx context.Context, key string, r io.Reader) error
}

// ArtifactReader reads what an ArtifactStore kept. Get of a key that is
// not there fails with an error that ErrArtifactNotFound matches.
type ArtifactReader interface {
	Get(ctx context.Context, key string) (io.ReadCloser, error)
}

// ErrArtifactNotFound is what Get fails with for a missing key.
var ErrArtifactNotFound = errors.New("artifact not found")

// DirArtifacts is an ArtifactStore in a local directory (`zeroflow dev`).
type DirArtifacts struct{ Dir string }

// Put writes key under Dir, atomically (a temporary file renamed into place).
func (d DirArtifacts) Put(_ context.Context, key string, r io.Reader) error {
	clean := filepath.Clean("/" + key)
	if strings.Contains(key, "..") {
		return fmt.Errorf("artifact key %q has a \"..\" in it", key)
	}
	path := filepath.Join(d.Dir, clean)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("put artifact %s: %w", key, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".put-*")
	if err != nil {
		return fmt.Errorf("put artifact %s: %w", key, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return fmt.Errorf("put artifact %s: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("put artifact %s: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("put artifact %s: %w", key, err)
	}
	return nil
}

// Get opens key.
func (d DirArtifacts) Get(_ context.Context, key string) (io.ReadCloser, error) {
	if strings.Contains(key, "..") {
		return nil, fmt.Errorf("artifact key %q has a \"..\" in it", key)
	}
	f, err := os.Open(filepath.Join(d.Dir, filepath.Clean("/"+key)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("get artifact %s: %w", key, ErrArtifactNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get artifact %s: %w", key, err)
	}
	return f, nil
}

// EnvArtifacts is the environment variable that names a function's
// artifact store: a local directory (what `zeroflow dev` sets by default),
// or s3://BUCKET[/PREFIX]?endpoint=HOST:PORT (see NewS3Artifacts).
const EnvArtifacts = "ZEROFLOW_ARTIFACTS"

// ArtifactsFromEnv returns the store $ZEROFLOW_ARTIFACTS names, or nil
// when it names none.
func ArtifactsFromEnv() (ArtifactStore, error) {
	store, err := OpenArtifacts(os.Getenv(EnvArtifacts))
	if store == nil || err != nil {
		return nil, err
	}
	return store, nil
}

// Artifacts is a store that can be read back (both stores here can).
type Artifacts interface {
	ArtifactStore
	ArtifactReader
}

// OpenArtifacts opens the store a location names: an s3:// URL (see
// NewS3Artifacts) or a local directory. "" names none (nil, nil).
func OpenArtifacts(location string) (Artifacts, error) {
	switch {
	case location == "":
		return nil, nil
	case strings.HasPrefix(location, "s3://"):
		return NewS3Artifacts(location)
	default:
		return DirArtifacts{Dir: location}, nil
	}
}
