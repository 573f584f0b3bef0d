package kubeapi

import (
	"context"
	"crypto/tls"
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
	// clientTLS is what a client needs to be let in: the CA and the API
	// server's client certificate.
	clientTLS *tls.Config
}

// startEtcd starts etcd on free loopback ports chosen up front. Port 0 is not
// used because etcd advertises the configured URL, which must be the real one.
// A port taken between choosing and binding is retried with fresh ports.
//
// Both ports serve TLS and require a client certificate signed by the dev
// stack's CA: without one, any local user could read and write every object
// (workflows with their parameters and results) behind the API server's back.
func startEtcd(ctx context.Context, dataDir string, certs *pki, unsafeNoFsync bool) (*etcdServer, error) {
	clientTLS, err := certs.clientTLS(pkiEtcdClient)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range 5 {
		ports, err := freePorts(2)
		if err != nil {
			return nil, err
		}
		client := url.URL{Scheme: "https", Host: net.JoinHostPort("127.0.0.1", fmt.Sprint(ports[0]))}
		peer := url.URL{Scheme: "https", Host: net.JoinHostPort("127.0.0.1", fmt.Sprint(ports[1]))}

		cfg := embed.NewConfig()
		cfg.Name = "zeroflow"
		cfg.Dir = dataDir
		cfg.ListenClientUrls = []url.URL{client}
		cfg.AdvertiseClientUrls = []url.URL{client}
		cfg.ListenPeerUrls = []url.URL{peer}
		cfg.AdvertisePeerUrls = []url.URL{peer}
		cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
		cfg.ClientTLSInfo.CertFile = certs.certFile(pkiEtcdMember)
		cfg.ClientTLSInfo.KeyFile = certs.keyFile(pkiEtcdMember)
		cfg.ClientTLSInfo.TrustedCAFile = certs.caFile()
		cfg.ClientTLSInfo.ClientCertAuth = true
		// The peer port matters too: it takes raft messages and membership
		// requests, so it is held to the same certificates.
		cfg.PeerTLSInfo = cfg.ClientTLSInfo
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
			return &etcdServer{etcd: e, clientURL: client.String(), clientTLS: clientTLS}, nil
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
