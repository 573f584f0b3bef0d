package httpbound

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
)

// DefaultMaxBuffered is how much of a body BufferBody takes in before it
// calls its handler (the broker's largest stored message is 64 MiB).
const DefaultMaxBuffered = 64 << 20

// memBuffered is how much of a body BufferBody keeps in memory; the rest
// goes to a temporary file.
const memBuffered = 1 << 20

// BufferBody reads a request's body before calling h, up to maxBuffered
// bytes (0: DefaultMaxBuffered). It goes in front of a handler that
// holds a scarce slot while a request runs (the dev stack's function
// runner, whose slots are Knative's concurrency targets): a body that
// trickles in then holds a connection, bounded by Listener, and not a
// slot that requests which arrived whole need. A body larger than
// maxBuffered is passed on as it streams, its first part from the
// buffer. A body cut off by BoundBody is answered 408 here.
func BufferBody(h http.Handler, maxBuffered int64) http.Handler {
	if maxBuffered <= 0 {
		maxBuffered = DefaultMaxBuffered
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			h.ServeHTTP(w, r)
			return
		}
		var mem bytes.Buffer
		n, err := io.Copy(&mem, io.LimitReader(r.Body, memBuffered))
		var file *os.File
		if err == nil && n == memBuffered {
			var more int64
			file, more, err = spool(r.Body, maxBuffered-memBuffered)
			n += more
			if file != nil {
				defer func() {
					_ = file.Close()
					_ = os.Remove(file.Name())
				}()
			}
		}
		if err != nil {
			if errors.Is(err, ErrSlowBody) || errors.Is(err, os.ErrDeadlineExceeded) {
				http.Error(w, fmt.Sprintf("%s %s: %v", r.Method, r.URL.Path, err), http.StatusRequestTimeout)
				return
			}
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				http.Error(w, fmt.Sprintf("%s %s: %v", r.Method, r.URL.Path, err), http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, fmt.Sprintf("%s %s: reading the request body: %v", r.Method, r.URL.Path, err), http.StatusBadRequest)
			return
		}
		var buffered io.Reader = &mem
		if file != nil {
			buffered = io.MultiReader(&mem, file)
		}
		rest := r.Body
		if n < maxBuffered {
			// Whole: the handler sees a body of known length.
			r.ContentLength = n
			r.Header.Set("Content-Length", strconv.FormatInt(n, 10))
			r.TransferEncoding = nil
			r.Body = io.NopCloser(buffered)
		} else {
			r.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(buffered, rest), rest}
		}
		h.ServeHTTP(w, r)
	})
}

// spool copies up to limit bytes of r into an unnamed temporary file,
// positioned at its start.
func spool(r io.Reader, limit int64) (*os.File, int64, error) {
	f, err := os.CreateTemp("", "zeroflow-body-*")
	if err != nil {
		return nil, 0, fmt.Errorf("buffer the request body: %w", err)
	}
	// Unlinked at once where the system allows it (not on Windows):
	// nothing is left behind even if the process dies.
	_ = os.Remove(f.Name())
	n, err := io.Copy(f, io.LimitReader(r, limit))
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return nil, n, err
	}
	return f, n, nil
}
