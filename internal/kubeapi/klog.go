package kubeapi

import (
	"context"
	"log/slog"

	"k8s.io/klog/v2"
)

// routeKlog sends the API server's klog output to logger, keeping only
// warnings and errors: at info level the server logs every request.
//
// klog is process-global; the last Start wins.
func routeKlog(logger *slog.Logger) {
	klog.SetSlogLogger(slog.New(minLevel{Handler: logger.Handler(), level: slog.LevelWarn}))
}

// minLevel drops records below level.
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{Handler: h.Handler.WithAttrs(attrs), level: h.level}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{Handler: h.Handler.WithGroup(name), level: h.level}
}
