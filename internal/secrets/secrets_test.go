package secrets

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

func TestLocal(t *testing.T) {
	dir := t.TempDir()
	write := func(p, v string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("team-a/webhook-auth/token", "from-namespaced-file\n")
	write("webhook-auth/token", "from-shared-file")
	env := map[string]string{"ZEROFLOW_SECRET_SLACK_HOOK_URL": "from-env"}
	l := Local{Dir: dir, Getenv: func(k string) string { return env[k] }}
	ctx := context.Background()
	for _, c := range []struct {
		ns   string
		ref  v1alpha1.SecretKeySelector
		want string
	}{
		{"team-a", v1alpha1.SecretKeySelector{Name: "webhook-auth", Key: "token"}, "from-namespaced-file"},
		{"team-b", v1alpha1.SecretKeySelector{Name: "webhook-auth", Key: "token"}, "from-shared-file"},
		{"team-a", v1alpha1.SecretKeySelector{Name: "slack-hook", Key: "url"}, "from-env"},
	} {
		got, err := l.Get(ctx, c.ns, c.ref)
		if err != nil || got != c.want {
			t.Errorf("Get(%s, %v) = %q, %v; want %q", c.ns, c.ref, got, err, c.want)
		}
	}
	_, err := l.Get(ctx, "team-a", v1alpha1.SecretKeySelector{Name: "missing", Key: "k"})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("missing secret: %v", err)
	}
	if _, err := l.Get(ctx, "x", v1alpha1.SecretKeySelector{Name: "../../etc", Key: "passwd"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("a name reaching outside the dir must not be read: %v", err)
	}
	if EnvName(v1alpha1.SecretKeySelector{Name: "web-hook.auth", Key: "token"}) != "ZEROFLOW_SECRET_WEB_HOOK_AUTH_TOKEN" {
		t.Error(EnvName(v1alpha1.SecretKeySelector{Name: "web-hook.auth", Key: "token"}))
	}
}
