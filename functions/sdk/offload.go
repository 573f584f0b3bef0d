package sdk

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// Offloading keeps large values off the Kubernetes API and out of events
// (DESIGN §11): a value above the threshold is stored in the artifact store
// under a key named by its content, and carried as a v1alpha1.ValueRef.
const (
	// DefaultOffloadThreshold is the largest value carried inline.
	DefaultOffloadThreshold = 64 << 10
	// DefaultMaxOffloadedValue bounds what a reader loads back into
	// memory for one value.
	DefaultMaxOffloadedValue = 64 << 20
	// EnvOffloadThreshold overrides DefaultOffloadThreshold (bytes).
	EnvOffloadThreshold = "ZEROFLOW_OFFLOAD_THRESHOLD"
	// EnvMaxOffloadedValue overrides DefaultMaxOffloadedValue (bytes).
	EnvMaxOffloadedValue = "ZEROFLOW_MAX_OFFLOADED_VALUE"
	// offloadPrefix is where offloaded values live in the store.
	offloadPrefix = "offload/"
)

// OffloadLimits are the offload threshold and the largest value read back.
type OffloadLimits struct {
	Threshold int64
	MaxValue  int64
}

// OffloadLimitsFromEnv returns the limits the environment sets, else the
// defaults. A value that is not a positive integer is an error that names
// the variable.
func OffloadLimitsFromEnv() (OffloadLimits, error) {
	l := OffloadLimits{Threshold: DefaultOffloadThreshold, MaxValue: DefaultMaxOffloadedValue}
	for _, v := range []struct {
		name string
		into *int64
	}{{EnvOffloadThreshold, &l.Threshold}, {EnvMaxOffloadedValue, &l.MaxValue}} {
		s := os.Getenv(v.name)
		if s == "" {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return l, fmt.Errorf("$%s=%q: want a positive number of bytes", v.name, s)
		}
		*v.into = n
	}
	return l, nil
}

// OffloadKey is the key an offloaded value of namespace is stored under:
// offload/NAMESPACE/sha256/HEX. Named by content, a put of the same value is
// idempotent and a retry never reads a half-written object (puts are
// atomic, and a reader checks the digest).
func OffloadKey(namespace, digest string) string {
	return offloadPrefix + namespace + "/sha256/" + strings.TrimPrefix(digest, "sha256:")
}

// Digest is "sha256:" and the hex SHA-256 of b.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// PutValue stores value for namespace and returns its reference.
func PutValue(ctx context.Context, store ArtifactStore, namespace string, value []byte) (v1alpha1.ValueRef, error) {
	if store == nil {
		return v1alpha1.ValueRef{}, fmt.Errorf("offload a value of %d bytes: no artifact store (set $%s)", len(value), EnvArtifacts)
	}
	if namespace == "" || strings.ContainsAny(namespace, "/.") {
		return v1alpha1.ValueRef{}, fmt.Errorf("offload a value: namespace %q is not a namespace name", namespace)
	}
	ref := v1alpha1.ValueRef{Size: int64(len(value)), Digest: Digest(value)}
	ref.Key = OffloadKey(namespace, ref.Digest)
	if err := store.Put(ctx, ref.Key, bytes.NewReader(value)); err != nil {
		return v1alpha1.ValueRef{}, fmt.Errorf("offload a value of %d bytes: %w", len(value), err)
	}
	return ref, nil
}

// digestPattern is a ValueRef's digest, as the CRD's schema has it.
var digestPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// CheckValueRef says why ref cannot be namespace's offloaded value (nil
// when it can): its digest must be a SHA-256, its key that namespace's
// content key for the digest (so that a reference names nothing but a
// value of its own namespace), its size not negative.
func CheckValueRef(namespace string, ref v1alpha1.ValueRef) error {
	switch {
	case !digestPattern.MatchString(ref.Digest):
		return fmt.Errorf("digest %q is not sha256:<64 hex digits>", ref.Digest)
	case ref.Key != OffloadKey(namespace, ref.Digest):
		return fmt.Errorf("key %q is not namespace %s's key for digest %q (%s)", ref.Key, namespace, ref.Digest, OffloadKey(namespace, ref.Digest))
	case ref.Size < 0:
		return fmt.Errorf("size %d is negative", ref.Size)
	}
	return nil
}

// OffloadParameters stores each parameter value above threshold (<= 0:
// DefaultOffloadThreshold) with PutValue for namespace and replaces it by
// its ValueRef, so that a Workflow carries references, not payloads. One
// that already has a ValueRef is left as it is. With no store, a value
// above the threshold is an error that ErrNoOffloadStore matches.
func OffloadParameters(ctx context.Context, store ArtifactStore, namespace string, threshold int64, params []v1alpha1.Parameter) error {
	if threshold <= 0 {
		threshold = DefaultOffloadThreshold
	}
	for i := range params {
		p := &params[i]
		if p.Value == nil || p.ValueRef != nil || int64(len(*p.Value)) <= threshold {
			continue
		}
		if store == nil {
			return fmt.Errorf("argument %s of %d bytes is above the offload threshold of %d bytes: %w", p.Name, len(*p.Value), threshold, ErrNoOffloadStore)
		}
		ref, err := PutValue(ctx, store, namespace, []byte(*p.Value))
		if err != nil {
			return fmt.Errorf("argument %s: %w", p.Name, err)
		}
		p.Value, p.ValueRef = nil, &ref
	}
	return nil
}

// GetValue loads what ref names, for a reader in namespace: the key must be
// that namespace's offload key for the digest (so that a reference can
// name nothing else), the size at most max, and the content must match
// the digest.
func GetValue(ctx context.Context, store ArtifactReader, namespace string, ref v1alpha1.ValueRef, max int64) ([]byte, error) {
	if store == nil {
		return nil, fmt.Errorf("read offloaded value %s: no artifact store (set $%s)", ref.Key, EnvArtifacts)
	}
	if err := CheckValueRef(namespace, ref); err != nil {
		return nil, fmt.Errorf("read offloaded value: %w", err)
	}
	if ref.Size > max {
		return nil, fmt.Errorf("read offloaded value %s: %d bytes is more than the limit of %d ($%s)", ref.Key, ref.Size, max, EnvMaxOffloadedValue)
	}
	r, err := store.Get(ctx, ref.Key)
	if err != nil {
		return nil, fmt.Errorf("read offloaded value: %w", err)
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, ref.Size+1))
	if err != nil {
		return nil, fmt.Errorf("read offloaded value %s: %w", ref.Key, err)
	}
	if int64(len(b)) != ref.Size || Digest(b) != ref.Digest {
		return nil, fmt.Errorf("read offloaded value %s: got %d bytes with digest %s, want %d bytes with %s", ref.Key, len(b), Digest(b), ref.Size, ref.Digest)
	}
	return b, nil
}
