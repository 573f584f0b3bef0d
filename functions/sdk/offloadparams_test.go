package sdk_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// At the threshold a value stays inline; one byte more goes to the store
// and comes back whole through its reference.
func TestOffloadParametersAtTheThreshold(t *testing.T) {
	store := sdk.DirArtifacts{Dir: t.TempDir()}
	at := strings.Repeat("a", sdk.DefaultOffloadThreshold)
	over := strings.Repeat("b", sdk.DefaultOffloadThreshold+1)
	params := []v1alpha1.Parameter{
		{Name: "at", Value: v1alpha1.ParseAnyString(at)},
		{Name: "over", Value: v1alpha1.ParseAnyString(over)},
	}
	if err := sdk.OffloadParameters(context.Background(), store, "default", 0, params); err != nil {
		t.Fatal(err)
	}
	if params[0].ValueRef != nil || params[0].Value == nil || string(*params[0].Value) != at {
		t.Errorf("a value of exactly the threshold was offloaded: %+v", params[0].ValueRef)
	}
	ref := params[1].ValueRef
	if ref == nil || params[1].Value != nil {
		t.Fatalf("a value one byte over the threshold stayed inline")
	}
	if ref.Size != int64(len(over)) || ref.Key != sdk.OffloadKey("default", ref.Digest) {
		t.Errorf("ref = %+v", ref)
	}
	got, err := sdk.GetValue(context.Background(), store, "default", *ref, sdk.DefaultMaxOffloadedValue)
	if err != nil || string(got) != over {
		t.Fatalf("read back: %d bytes, %v", len(got), err)
	}
	// Another namespace cannot read it through the same reference.
	if _, err := sdk.GetValue(context.Background(), store, "other", *ref, sdk.DefaultMaxOffloadedValue); err == nil {
		t.Error("namespace other read default's value")
	}
}

// Without a store a value above the threshold is an error that says so,
// and nothing is changed.
func TestOffloadParametersWithoutAStore(t *testing.T) {
	over := strings.Repeat("c", 2*sdk.DefaultOffloadThreshold)
	params := []v1alpha1.Parameter{{Name: "big", Value: v1alpha1.ParseAnyString(over)}}
	err := sdk.OffloadParameters(context.Background(), nil, "default", 0, params)
	if !errors.Is(err, sdk.ErrNoOffloadStore) || !strings.Contains(err.Error(), "argument big") {
		t.Fatalf("err = %v, want ErrNoOffloadStore naming the argument", err)
	}
	if params[0].ValueRef != nil || string(*params[0].Value) != over {
		t.Error("the argument changed")
	}
}

// A reference whose digest is not a SHA-256 is refused before any read.
func TestCheckValueRefRefusesAMalformedDigest(t *testing.T) {
	for name, ref := range map[string]v1alpha1.ValueRef{
		"short digest":   {Key: sdk.OffloadKey("default", "sha256:abc"), Digest: "sha256:abc"},
		"upper case hex": {Key: sdk.OffloadKey("default", "sha256:"+strings.Repeat("A", 64)), Digest: "sha256:" + strings.Repeat("A", 64)},
		"negative size":  {Key: sdk.OffloadKey("default", sdk.Digest(nil)), Digest: sdk.Digest(nil), Size: -1},
	} {
		if err := sdk.CheckValueRef("default", ref); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	ok := v1alpha1.ValueRef{Key: sdk.OffloadKey("default", sdk.Digest(nil)), Digest: sdk.Digest(nil)}
	if err := sdk.CheckValueRef("default", ok); err != nil {
		t.Errorf("a good reference: %v", err)
	}
}
