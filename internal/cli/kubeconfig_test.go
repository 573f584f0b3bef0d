package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The CLI picks the cluster as kubectl does: an explicitly set $KUBECONFIG
// wins over the dev stack's kubeconfig in ./.zeroflow (issue 17).
func TestKubeconfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, c := range []struct {
		name, flag, env string
		devStack        bool
		want            string
	}{
		{name: "nothing: ~/.kube/config through the loading rules", want: ""},
		{name: "the dev stack's when present", devStack: true, want: filepath.Join(devDataDir, "kubeconfig")},
		{name: "$KUBECONFIG over the dev stack's", env: "/other/config", devStack: true, want: ""},
		{name: "--kubeconfig over everything", flag: "/flag/config", env: "/other/config", devStack: true, want: "/flag/config"},
	} {
		t.Run(c.name, func(t *testing.T) {
			os.RemoveAll(filepath.Join(dir, devDataDir))
			if c.devStack {
				if err := os.MkdirAll(devDataDir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(devDataDir, "kubeconfig"), []byte("{}"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if got := kubeconfigPath(c.flag, c.env); got != c.want {
				t.Errorf("kubeconfigPath(%q, %q) = %q, want %q", c.flag, c.env, got, c.want)
			}
		})
	}
}

// A stack that is down is named with a hint, not a bare "connection
// refused" (issue 17).
func TestConnectionRefusedHasAHint(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing answers there now
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	doc := "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"http://" + addr + "\"}}]\n" +
		"contexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {}}]\ncurrent-context: c\n"
	if err := os.WriteFile(kc, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := Execute(context.Background(), []string{"list", "--kubeconfig", kc}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{"connection refused", addr, "Is `zeroflow dev` running?", "$KUBECONFIG"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}
