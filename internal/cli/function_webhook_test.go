package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `zeroflow function webhook` refuses to start when an authSecret is
// empty or only white space, naming the secret, before it serves anything
// (the webhook package's tests show that a good token starts and serves).
func TestFunctionWebhookRefusesAnEmptySecret(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "es.yaml")
	if err := os.WriteFile(spec, []byte(`apiVersion: zeroflow.dev/v1alpha1
kind: EventSource
metadata: {name: guarded, namespace: team-a}
spec:
  webhook:
    push: {port: "12000", endpoint: /push, method: POST, authSecret: {name: hook-auth, key: token}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(dir, "secrets", "team-a", "hook-auth", "token")
	if err := os.MkdirAll(filepath.Dir(secretFile), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, token := range []string{"", "  \n"} {
		if err := os.WriteFile(secretFile, []byte(token), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out := run("function", "webhook", "--eventsource", spec, "--secrets-dir", filepath.Join(dir, "secrets"), "--addr", "127.0.0.1:0", "--sink", "http://127.0.0.1:1")
		if code == 0 || !strings.Contains(out, "secret team-a/hook-auth key token") || !strings.Contains(out, "secret is empty") {
			t.Errorf("token %q: exit %d:\n%s", token, code, out)
		}
	}
}
