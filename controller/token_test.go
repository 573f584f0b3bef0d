package controller_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/zeroflow-dev/zeroflow/controller"
)

// The dev stack's key is made once, private to its user, and the same on
// every start; a short key is refused rather than used.
func TestTheTokenKeyFileIsMadeOncePrivately(t *testing.T) {
	path := filepath.Join(t.TempDir(), "identity", "controller-token.key")
	first, err := controller.LoadOrCreateTokenKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	again, err := controller.LoadOrCreateTokenKey(path)
	if err != nil || !bytes.Equal(first, again) || len(first) < 32 {
		t.Errorf("second load: %q, %v; want the first key %q", again, err, first)
	}
	short := filepath.Join(t.TempDir(), "short")
	if err := os.WriteFile(short, []byte("  secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := controller.ReadTokenKey(short); err == nil {
		t.Errorf("a 6-byte key was accepted")
	}
	if _, err := controller.LoadOrCreateTokenKey(short); err == nil {
		t.Errorf("an existing short key was accepted")
	}
}

func TestCrossNamespacePairs(t *testing.T) {
	got, err := controller.ParseNamespacePairs([]string{"*", "a=b,c=*"})
	want := []controller.NamespacePair{{From: "*", To: "*"}, {From: "a", To: "b"}, {From: "c", To: "*"}}
	if err != nil || len(got) != len(want) {
		t.Fatalf("got %v, %v", got, err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("pair %d: %v, want %v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"a", "=b", "a="} {
		if _, err := controller.ParseNamespacePairs([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
