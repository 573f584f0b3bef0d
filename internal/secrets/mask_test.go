package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

func TestNonEmpty(t *testing.T) {
	dir := t.TempDir()
	for p, v := range map[string]string{"ns/good/token": "s3cret\n", "ns/empty/token": "", "ns/newline/token": "\n", "ns/blank/token": " \t\n\n"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"ZEROFLOW_SECRET_SPACES_TOKEN": "   "}
	l := Local{Dir: dir, Getenv: func(k string) string { return env[k] }}
	ctx := context.Background()
	if v, err := NonEmpty(ctx, l, "ns", v1alpha1.SecretKeySelector{Name: "good", Key: "token"}); err != nil || v != "s3cret" {
		t.Errorf("good: %q %v", v, err)
	}
	for _, name := range []string{"empty", "newline", "blank", "spaces"} {
		_, err := NonEmpty(ctx, l, "ns", v1alpha1.SecretKeySelector{Name: name, Key: "token"})
		if !errors.Is(err, ErrEmpty) || !strings.Contains(err.Error(), "secret ns/"+name+" key token") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := NonEmpty(ctx, l, "ns", v1alpha1.SecretKeySelector{Name: "missing", Key: "token"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
}

func TestHeaderMask(t *testing.T) {
	m := NewHeaderMask("x-hub-signature", "Authorization")
	want := []string{"Authorization", "Cookie", "Proxy-Authorization", "Set-Cookie", "X-Api-Key", "X-Hub-Signature"}
	if !slices.Equal(m.Names(), want) {
		t.Errorf("names %v", m.Names())
	}
	h := http.Header{"Cookie": {"a=1", "b=2"}, "X-Api-Key": {"k"}, "X-Hub-Signature": {"sha1=x"}, "X-Request-Id": {"r-1"}}
	got := m.Header(h)
	if !slices.Equal(got["Cookie"], []string{Masked, Masked}) || got.Get("X-Api-Key") != Masked || got.Get("X-Hub-Signature") != Masked {
		t.Errorf("not masked: %v", got)
	}
	if got.Get("X-Request-Id") != "r-1" || h.Get("Cookie") != "a=1" {
		t.Errorf("masked too much, or the original: %v %v", got, h)
	}
	if (HeaderMask{}).Sensitive("Authorization") {
		t.Error("the zero mask masks")
	}
}

func TestHeaderMaskEventJSON(t *testing.T) {
	m := NewHeaderMask()
	// Header names as another source may spell them, values as lists or
	// strings.
	raw := `{"specversion":"1.0","id":"1","source":"/s","type":"webhook","datacontenttype":"application/json",` +
		`"data":{"header":{"cookie":["sid=1"],"X-API-KEY":"k","Accept":["*/*"]},"body":{"cookie":"in the body stays"}}}`
	out, changed, err := m.EventJSON([]byte(raw))
	if err != nil || !changed {
		t.Fatalf("%v %v", changed, err)
	}
	var ev struct {
		Data struct {
			Header map[string]any `json:"header"`
			Body   map[string]any `json:"body"`
		} `json:"data"`
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.ID != "1" || ev.Data.Body["cookie"] != "in the body stays" {
		t.Errorf("changed what it should not: %s", out)
	}
	if c, _ := ev.Data.Header["cookie"].([]any); len(c) != 1 || c[0] != Masked || ev.Data.Header["X-API-KEY"] != Masked {
		t.Errorf("not masked: %s", out)
	}
	if a, _ := ev.Data.Header["Accept"].([]any); len(a) != 1 || a[0] != "*/*" {
		t.Errorf("Accept: %s", out)
	}
	// Masking twice changes nothing more.
	if again, changed, err := m.EventJSON(out); err != nil || changed || string(again) != string(out) {
		t.Errorf("second pass: %v %v %s", changed, err, again)
	}
	// Events without headers are left alone, byte for byte.
	for _, raw := range []string{
		`{"specversion":"1.0","id":"1","source":"/s","type":"t"}`,
		`{"specversion":"1.0","id":"1","source":"/s","type":"t","data":"text"}`,
		`{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"header":"not an object"}}`,
		`{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"header":{"Accept":["*/*"]}}}`,
	} {
		if out, changed, err := m.EventJSON([]byte(raw)); err != nil || changed || string(out) != raw {
			t.Errorf("%s: %s %v %v", raw, out, changed, err)
		}
	}
	if _, _, err := m.EventJSON([]byte(`not json`)); err == nil {
		t.Error("undecodable event accepted")
	}
}
