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
