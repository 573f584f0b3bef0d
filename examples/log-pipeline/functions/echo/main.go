// echo answers every request with its body, and logs it: it stands for the
// HTTPBin that Workflow-A's report step posts to in the seed.
package main

import (
	"io"
	"log/slog"
	"net/http"

	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

func main() { sdk.MainHTTP(http.HandlerFunc(Handle)) }

// Handle echoes the request body.
func Handle(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	slog.Info("report received", "path", r.URL.Path, "body", string(b))
	w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
	_, _ = w.Write(b)
}
