package cli

import (
	"os"
	"path/filepath"
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
