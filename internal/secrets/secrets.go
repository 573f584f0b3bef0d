// Package secrets resolves the Secret keys that EventSources and Sensors
// name. `zeroflow dev` has no Secret API, so it reads them from the
// environment or from files; on a cluster a function reads its secrets the
// same way, from where Knative mounts them.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// Resolver returns the value of a secret's key.
type Resolver interface {
	Get(ctx context.Context, namespace string, ref v1alpha1.SecretKeySelector) (string, error)
}

// ErrNotFound is a secret key that is nowhere to be found.
var ErrNotFound = errors.New("secret not found")

// ErrEmpty is a secret key whose value is empty or only white space. A
// token like that would let a request with an empty credential through, so
// whoever checks a credential against a secret refuses it instead.
var ErrEmpty = errors.New("secret is empty")

// NonEmpty resolves a secret that guards something, such as a webhook's
// bearer token, failing closed: a value that is empty or only white space
// is an error naming the secret, as is one that cannot be resolved.
func NonEmpty(ctx context.Context, r Resolver, namespace string, ref v1alpha1.SecretKeySelector) (string, error) {
	v, err := r.Get(ctx, namespace, ref)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(v) == "" {
		return "", fmt.Errorf("secret %s/%s key %s: %w: write the token to it (an empty token would accept an empty credential)", namespace, ref.Name, ref.Key, ErrEmpty)
	}
	return v, nil
}

// Local resolves a key from, in order: the environment variable
// ZEROFLOW_SECRET_<NAME>_<KEY> (upper case, other characters as _), the
// file <Dir>/<namespace>/<name>/<key>, and the file <Dir>/<name>/<key>.
// One trailing newline of a file is dropped. Values are read on every call,
// so that a rotated secret takes effect at once.
type Local struct {
	// Dir holds secret files; empty reads only the environment.
	Dir string
	// Getenv reads the environment; nil is os.Getenv.
	Getenv func(string) string
}

// EnvName is the environment variable that holds a secret's key.
func EnvName(ref v1alpha1.SecretKeySelector) string {
	return "ZEROFLOW_SECRET_" + envPart(ref.Name) + "_" + envPart(ref.Key)
}

func envPart(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		default:
			return '_'
		}
	}, s)
}

// Get implements Resolver.
func (l Local) Get(_ context.Context, namespace string, ref v1alpha1.SecretKeySelector) (string, error) {
	if ref.Name == "" || ref.Key == "" {
		return "", fmt.Errorf("secret %q key %q: both a name and a key are needed", ref.Name, ref.Key)
	}
	getenv := l.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if v := getenv(EnvName(ref)); v != "" {
		return v, nil
	}
	if l.Dir != "" {
		for _, p := range []string{filepath.Join(l.Dir, namespace, ref.Name, ref.Key), filepath.Join(l.Dir, ref.Name, ref.Key)} {
			if !inside(l.Dir, p) {
				continue
			}
			b, err := os.ReadFile(p)
			if err == nil {
				return strings.TrimSuffix(string(b), "\n"), nil
			}
			if !errors.Is(err, os.ErrNotExist) {
				return "", fmt.Errorf("secret %s/%s key %s: %w", namespace, ref.Name, ref.Key, err)
			}
		}
	}
	return "", fmt.Errorf("secret %s/%s key %s: %w (set %s, or write it to %s)", namespace, ref.Name, ref.Key, ErrNotFound,
		EnvName(ref), filepath.Join(l.Dir, namespace, ref.Name, ref.Key))
}

// inside guards against names like "../x" reaching outside Dir.
func inside(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
