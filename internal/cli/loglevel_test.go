package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// loggedAt runs a command under a root with --log-level args and returns
// what a debug and a warning line left in its log.
func loggedAt(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root := &cobra.Command{Use: "zeroflow", SilenceErrors: true, SilenceUsage: true}
	addLogLevelFlag(root)
	root.AddCommand(&cobra.Command{Use: "serve", RunE: func(cmd *cobra.Command, _ []string) error {
		l := newLogger(cmd, true)
		l.Debug("a debug line")
		l.Warn("a warning")
		return nil
	}})
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"serve"}, args...))
	err := root.Execute()
	return out.String(), err
}

func TestLogLevel(t *testing.T) {
	for _, tc := range []struct {
		env, flag         string
		debug, warn, fail bool
	}{
		{flag: "", debug: false, warn: true},
		{flag: "debug", debug: true, warn: true},
		{flag: "error", debug: false, warn: false},
		{flag: "WARN", debug: false, warn: true},
		{env: "debug", debug: true, warn: true},
		{env: "debug", flag: "error", debug: false, warn: false},
		{flag: "loud", fail: true},
		{flag: "info+2", fail: true},
		{env: "loud", fail: true},
		{env: "loud", flag: "info", warn: true},
	} {
		t.Setenv(envLogLevel, tc.env)
		var args []string
		if tc.flag != "" {
			args = []string{"--log-level", tc.flag}
		}
		out, err := loggedAt(t, args...)
		if tc.fail {
			if err == nil || !strings.Contains(err.Error(), "want debug, info, warn or error") {
				t.Errorf("env %q flag %q: %v, want a refusal naming the levels", tc.env, tc.flag, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("env %q flag %q: %v", tc.env, tc.flag, err)
			continue
		}
		if got := strings.Contains(out, "a debug line"); got != tc.debug {
			t.Errorf("env %q flag %q: debug logged %v, want %v", tc.env, tc.flag, got, tc.debug)
		}
		if got := strings.Contains(out, "a warning"); got != tc.warn {
			t.Errorf("env %q flag %q: warning logged %v, want %v", tc.env, tc.flag, got, tc.warn)
		}
	}
}

// Every server command takes --log-level (it is the root's).
func TestServersTakeLogLevel(t *testing.T) {
	for _, args := range [][]string{{"dev", "--help"}, {"broker", "--help"}, {"controller", "--help"}, {"function", "webhook", "--help"}} {
		var out bytes.Buffer
		if code := Execute(t.Context(), args, &out, &out); code != 0 || !strings.Contains(out.String(), "--log-level") {
			t.Errorf("%v: exit %d, no --log-level in:\n%s", args, code, out.String())
		}
	}
}
