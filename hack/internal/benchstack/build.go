package benchstack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BuildZeroflow builds ./cmd/zeroflow into the temp directory as name and
// returns its path. The benches run the binary, not `go run`, so that a
// run measures zeroflow and not the compiler. It runs from the module
// root, as hack/bench.sh does.
func BuildZeroflow(ctx context.Context, name string) (string, error) {
	bin := filepath.Join(os.TempDir(), name)
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/zeroflow").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build ./cmd/zeroflow: %w\n%s", err, out)
	}
	return bin, nil
}
