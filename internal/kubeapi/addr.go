package kubeapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// addrFile records, in the data dir, where the API listened last.
const addrFile = "api-addr"

// listenAPI opens the API's listener: on addr when it is set (an error
// when it is taken, naming it); else on the address this data dir's last
// start recorded, when it is still free; else on a free loopback port. The
// address it gets is recorded for the next start.
func listenAPI(addr, dataDir string, logger *slog.Logger) (net.Listener, error) {
	record := filepath.Join(dataDir, addrFile)
	if addr != "" {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen for the api server on %s: %w", addr, err)
		}
		return l, save(record, l.Addr().String())
	}
	if b, err := os.ReadFile(record); err == nil {
		last := strings.TrimSpace(string(b))
		l, err := net.Listen("tcp", last)
		if err == nil {
			return l, nil
		}
		logger.Warn("the api server's address of the last start is taken: a kubeconfig copied before must be copied again", "addr", last, "error", err)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read the api server's last address: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the api server: %w", err)
	}
	return l, save(record, l.Addr().String())
}

func save(path, addr string) error {
	if err := os.WriteFile(path, []byte(addr+"\n"), 0o600); err != nil {
		return fmt.Errorf("record the api server's address: %w", err)
	}
	return nil
}
