package broker

import (
	"errors"
	"os"
	"syscall"
)

// reserve makes the file system set aside n bytes for f, without writing
// them (fallocate), so the probe costs no disk bandwidth. A file system that
// cannot allocate ahead gets a small real write instead.
func reserve(f *os.File, n int64) error {
	err := syscall.Fallocate(int(f.Fd()), 0, 0, n)
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		return writeProbe(f)
	}
	return err
}
