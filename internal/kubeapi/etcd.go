package kubeapi

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// etcdServer is a single-member etcd running inside this process.
type etcdServer struct {
	etcd      *embed.Etcd
	clientURL string
}

// startEtcd starts etcd on free loopback ports chosen up front. Port 0 is not
// used because etcd advertises the configured URL, which must be the real one.
// A port taken between choosing and binding is retried with fresh ports.
func startEtcd(ctx context.Context, dataDir string, unsafeNoFsync bool) (*etcdServer, error) {
	var lastErr error
	for range 5 {
		ports, err := freePorts(2)
		if err != nil {
			return nil, err
		}
		client := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", fmt.Sprint(ports[0]))}
		peer := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", fmt.Sprint(ports[1]))}

		cfg := embed.NewConfig()
		cfg.Name = "zeroflow"
		cfg.Dir = dataDir
		cfg.ListenClientUrls = []url.URL{client}
		cfg.AdvertiseClientUrls = []url.URL{client}
		cfg.ListenPeerUrls = []url.URL{peer}
		cfg.AdvertisePeerUrls = []url.URL{peer}
		cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
		// etcd reports its own shutdown as errors; real failures reach us through e.Err().
		cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
		cfg.UnsafeNoFsync = unsafeNoFsync
		// A restart with an existing data dir may come up on other ports;
		// etcd must not refuse to start because the stored peer URL differs.
		cfg.StrictReconfigCheck = false
		// Keep history bounded for a long-running dev stack.
		cfg.AutoCompactionMode = embed.CompactorModePeriodic
		cfg.AutoCompactionRetention = "5m"

		e, err := embed.StartEtcd(cfg)
		if err != nil {
			lastErr = err
			continue
		}
		select {
		case <-e.Server.ReadyNotify():
			return &etcdServer{etcd: e, clientURL: client.String()}, nil
		case err := <-e.Err():
			e.Close()
			lastErr = err
		case <-time.After(60 * time.Second):
			e.Close()
			return nil, fmt.Errorf("etcd in %s did not become ready within 60s", dataDir)
		case <-ctx.Done():
			e.Close()
			return nil, ctx.Err()
		}
	}
	return nil, fmt.Errorf("start embedded etcd in %s: %w", dataDir, lastErr)
}

func (s *etcdServer) close() {
	s.etcd.Close()
}

// freePorts asks the kernel for n distinct free loopback ports. The listeners
// are held until all ports are chosen so that the same port is not returned twice.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("choose a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
