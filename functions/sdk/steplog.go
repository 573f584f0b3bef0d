package sdk

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"sync"
)

// maxStepLog bounds the full log kept for the artifact store.
const maxStepLog = 4 << 20

// logCapture keeps what a step logs: the last lines for its result, and the
// whole log (up to maxStepLog) for the artifact store.
type logCapture struct {
	mu        sync.Mutex
	lines     []string
	maxLines  int
	all       bytes.Buffer
	truncated bool
}

func newLogCapture(maxLines int) *logCapture { return &logCapture{maxLines: maxLines} }

// logger returns a logger that writes to base and to the capture.
func (c *logCapture) logger(base *slog.Logger) *slog.Logger {
	text := slog.NewTextHandler(captureWriter{c}, &slog.HandlerOptions{Level: slog.LevelDebug})
	return slog.New(tee{base.Handler(), text})
}

func (c *logCapture) tail() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...)
}

func (c *logCapture) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.all.Len()
}

func (c *logCapture) full() io.Reader {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := append([]byte(nil), c.all.Bytes()...)
	if c.truncated {
		b = append(b, "… log truncated at 4 MiB\n"...)
	}
	return bytes.NewReader(b)
}

// captureWriter receives one formatted record per Write.
type captureWriter struct{ c *logCapture }

func (w captureWriter) Write(p []byte) (int, error) {
	c := w.c
	c.mu.Lock()
	defer c.mu.Unlock()
	line := string(bytes.TrimRight(p, "\n"))
	if len(line) > 512 {
		line = line[:512] + "…"
	}
	c.lines = append(c.lines, line)
	if len(c.lines) > c.maxLines {
		c.lines = c.lines[len(c.lines)-c.maxLines:]
	}
	if c.all.Len()+len(p) <= maxStepLog {
		c.all.Write(p)
	} else {
		c.truncated = true
	}
	return len(p), nil
}

// tee is a slog.Handler that writes every record to two handlers.
type tee struct{ a, b slog.Handler }

func (t tee) Enabled(ctx context.Context, l slog.Level) bool {
	return t.a.Enabled(ctx, l) || t.b.Enabled(ctx, l)
}

func (t tee) Handle(ctx context.Context, r slog.Record) error {
	var errA error
	if t.a.Enabled(ctx, r.Level) {
		errA = t.a.Handle(ctx, r.Clone())
	}
	if t.b.Enabled(ctx, r.Level) {
		if err := t.b.Handle(ctx, r); err != nil {
			return err
		}
	}
	return errA
}

func (t tee) WithAttrs(attrs []slog.Attr) slog.Handler {
	return tee{t.a.WithAttrs(attrs), t.b.WithAttrs(attrs)}
}

func (t tee) WithGroup(name string) slog.Handler {
	return tee{t.a.WithGroup(name), t.b.WithGroup(name)}
}

// LogWriter returns a writer whose lines go into the step's log as they
// are, without a logger's time and level: the output of a command a step
// runs. Outside a step it writes to the function's logger.
func LogWriter(ctx context.Context) io.Writer {
	rt := runtimeFrom(ctx)
	if rt.capture == nil {
		return &lineLogger{logger: rt.logger}
	}
	return &rawLines{c: rt.capture}
}

// rawLines splits writes into lines for the capture.
type rawLines struct {
	mu      sync.Mutex
	c       *logCapture
	partial []byte
}

func (w *rawLines) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		_, _ = captureWriter{w.c}.Write(w.partial[:i+1])
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

// Close writes a last line that had no newline.
func (w *rawLines) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		_, _ = captureWriter{w.c}.Write(append(w.partial, '\n'))
		w.partial = nil
	}
	return nil
}

// lineLogger logs each line written to it.
type lineLogger struct {
	mu      sync.Mutex
	logger  *slog.Logger
	partial []byte
}

func (w *lineLogger) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.logger.Info(string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

// Close logs a last line that had no newline.
func (w *lineLogger) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.logger.Info(string(w.partial))
		w.partial = nil
	}
	return nil
}
