package cli

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// envLogLevel is --log-level's default, for a Deployment's env.
const envLogLevel = "ZEROFLOW_LOG_LEVEL"

// logLevel is the value of --log-level: debug, info, warn or error.
type logLevel struct{ level slog.Level }

func (l *logLevel) String() string { return strings.ToLower(l.level.String()) }

func (l *logLevel) Set(s string) error {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(s)); err != nil || !knownLevel(s) {
		return fmt.Errorf("%q: want debug, info, warn or error", s)
	}
	l.level = lv
	return nil
}

func (l *logLevel) Type() string { return "level" }

// knownLevel refuses slog's offsets ("info+2"): the flag takes the four
// names only.
func knownLevel(s string) bool {
	switch strings.ToLower(s) {
	case "debug", "info", "warn", "error":
		return true
	}
	return false
}

// addLogLevelFlag gives root --log-level, defaulting to $ZEROFLOW_LOG_LEVEL
// (else info); a bad environment value is reported when a command runs.
func addLogLevelFlag(root *cobra.Command) {
	lv := &logLevel{level: slog.LevelInfo}
	var envErr error
	if v := os.Getenv(envLogLevel); v != "" {
		if err := lv.Set(v); err != nil {
			envErr = fmt.Errorf("$%s: %w", envLogLevel, err)
		}
	}
	root.PersistentFlags().Var(lv, "log-level", "what the servers log: debug, info, warn or error (default $"+envLogLevel+", else info)")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if envErr != nil && !cmd.Flags().Changed("log-level") {
			return envErr
		}
		return nil
	}
}

// newLogger is the logger of a command's server: text for people, JSON for
// functions (their logs are collected), at --log-level.
func newLogger(cmd *cobra.Command, asJSON bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if f := cmd.Flag("log-level"); f != nil {
		if lv, ok := f.Value.(*logLevel); ok {
			opts.Level = lv.level
		}
	}
	if asJSON {
		return slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), opts))
	}
	return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), opts))
}
