package sdk

import (
	"context"
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
// when it is unset.
func ArtifactsFromEnv() (ArtifactStore, error) {
	v := os.Getenv(EnvArtifacts)
	switch {
	case v == "":
		return nil, nil
	case strings.HasPrefix(v, "s3://"):
		return NewS3Artifacts(v)
	default:
		return DirArtifacts{Dir: v}, nil
	}
}
