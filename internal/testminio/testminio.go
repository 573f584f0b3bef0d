// Package testminio runs a real MinIO server for tests of the S3 artifact
// store: the binary `make test` installs with go install (DESIGN.md §10).
package testminio

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// The root credentials of every test server; the S3 store reads them from
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
const (
	User     = "zeroflow"
	Password = "zeroflow-secret"
)

// Binary finds the MinIO server: $ZEROFLOW_MINIO (set by `make test`),
// else bin/minio-* of the module. The test is skipped without one.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("ZEROFLOW_MINIO"); p != "" {
		return p
	}
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("no MinIO server: `make test` installs it into bin/ (go install github.com/minio/minio)")
		}
		dir = parent
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "bin", "minio-*"))
	if len(matches) == 0 {
		t.Skip("no MinIO server: `make test` installs it into bin/ (go install github.com/minio/minio)")
	}
	return matches[len(matches)-1]
}

// Start runs a MinIO server on loopback until the test ends, with the
// buckets named, and returns its endpoint (host:port).
func Start(t testing.TB, buckets ...string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(Binary(t), "server", t.TempDir(), "--address", addr, "--console-address", "127.0.0.1:0", "--quiet")
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+User, "MINIO_ROOT_PASSWORD="+Password, "MINIO_BROWSER=off")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("MinIO not ready at %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	admin := Client(t, addr)
	for _, b := range buckets {
		if err := admin.MakeBucket(context.Background(), b, minio.MakeBucketOptions{}); err != nil {
			t.Fatalf("make bucket %s: %v", b, err)
		}
	}
	return addr
}

// Client is an S3 client of the server at addr, with the root credentials.
func Client(t testing.TB, addr string) *minio.Client {
	t.Helper()
	c, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(User, Password, "")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
