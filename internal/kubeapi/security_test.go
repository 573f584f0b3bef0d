package kubeapi_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
)

// strangerCert is a client certificate that claims the admin's name and
// group but is signed by a CA of its own, as another local user could make.
func strangerCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "zeroflow-dev", Organization: []string{"system:masters"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// serverCAs trusts the API server's CA, so that a refusal below is the
// server refusing the client, not the client refusing the server.
func serverCAs(t *testing.T) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(server.Config().CAData) {
		t.Fatal("no CA in the server's config")
	}
	return pool
}

func TestAPIServerRefusesRequestsWithoutTheStacksCredentials(t *testing.T) {
	c := dynamicClient(t, server.Config()).Resource(workflows).Namespace("default")
	doc := strings.Replace(validWorkflow, "name: valid, namespace: team-a", "name: secret-run", 1)
	if _, err := c.Create(ctx(t), object(t, doc), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	host := server.Config().Host
	if !strings.HasPrefix(host, "https://127.0.0.1:") {
		t.Fatalf("host = %s, want TLS on loopback", host)
	}

	clients := map[string]*http.Client{
		"no certificate": {Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: serverCAs(t)}}},
		"another CA's certificate with the admin's name": {Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: serverCAs(t), Certificates: []tls.Certificate{strangerCert(t)},
		}}},
	}
	paths := []string{
		"/apis/zeroflow.dev/v1alpha1/namespaces/default/workflows",
		"/apis/zeroflow.dev/v1alpha1/namespaces/default/workflows/secret-run",
		"/apis", "/version", "/readyz", "/healthz", "/openapi/v2",
	}
	for name, client := range clients {
		for _, path := range paths {
			for _, token := range []string{"", "made-up-token"} {
				req, err := http.NewRequestWithContext(ctx(t), http.MethodGet, host+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("%s, GET %s: %v", name, path, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("%s (token %q), GET %s: status %d, want 401", name, token, path, resp.StatusCode)
				}
				if strings.Contains(string(body), "secret-run") || strings.Contains(string(body), "zeroflow.dev") {
					t.Errorf("%s, GET %s: the 401 tells about the server's data: %s", name, path, body)
				}
			}
		}
	}
	// Authenticated is not enough: without RBAC, only system:masters may act.
	// The API server's etcd client certificate is of the right CA but not
	// in that group.
	pair, err := tls.LoadX509KeyPair(filepath.Join(dataDir, "pki", "apiserver-etcd-client.crt"), filepath.Join(dataDir, "pki", "apiserver-etcd-client.key"))
	if err != nil {
		t.Fatal(err)
	}
	other := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: serverCAs(t), Certificates: []tls.Certificate{pair}}}}
	resp, err := other.Get(host + paths[0])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a user of the CA outside system:masters: status %d, want 403", resp.StatusCode)
	}

	// A write without credentials is refused and does nothing.
	anon := clients["no certificate"]
	req, _ := http.NewRequestWithContext(ctx(t), http.MethodDelete, host+"/apis/zeroflow.dev/v1alpha1/namespaces/default/workflows/secret-run", nil)
	resp, err = anon.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous DELETE: status %d, want 401", resp.StatusCode)
	}
	if _, err := c.Get(ctx(t), "secret-run", metav1.GetOptions{}); err != nil {
		t.Errorf("the workflow is gone after a refused delete: %v", err)
	}
	// Plain HTTP is not served.
	plain := "http://" + strings.TrimPrefix(host, "https://") + "/version"
	if resp, err := http.Get(plain); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain http GET /version: status %d", resp.StatusCode)
		}
	}
}

func TestKubeconfigCredentialsWorkAndAreKeptPrivate(t *testing.T) {
	cfg, err := clientcmd.BuildConfigFromFlags("", server.KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BearerToken != "" || len(cfg.CertData) == 0 || len(cfg.KeyData) == 0 {
		t.Errorf("kubeconfig credentials: token %t, cert %t, key %t; want a client certificate only", cfg.BearerToken != "", len(cfg.CertData) > 0, len(cfg.KeyData) > 0)
	}
	if _, err := dynamicClient(t, cfg).Resource(workflows).Namespace("default").List(ctx(t), metav1.ListOptions{}); err != nil {
		t.Fatalf("list with the kubeconfig: %v", err)
	}

	mode := func(path string) os.FileMode {
		t.Helper()
		info, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		return info.Mode().Perm()
	}
	if m := mode(server.KubeconfigPath()); m != 0o600 {
		t.Errorf("kubeconfig mode %v, want 0600", m)
	}
	if m := mode(filepath.Dir(server.KubeconfigPath())); m&0o022 != 0 {
		t.Errorf("kubeconfig directory mode %v: writable by others", m)
	}
	if m := mode(dataDir); m != 0o700 {
		t.Errorf("data dir mode %v, want 0700", m)
	}
	pki := filepath.Join(dataDir, "pki")
	if m := mode(pki); m != 0o700 {
		t.Errorf("pki dir mode %v, want 0700", m)
	}
	entries, err := os.ReadDir(pki)
	if err != nil {
		t.Fatal(err)
	}
	keys := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".key") {
			keys++
		}
		if m := mode(filepath.Join(pki, e.Name())); m != 0o600 {
			t.Errorf("%s mode %v, want 0600", e.Name(), m)
		}
	}
	if keys < 3 {
		t.Errorf("%d key files in %s, want the etcd member's, the API server's and the admin's", keys, pki)
	}
	if _, err := os.Stat(filepath.Join(pki, "ca.key")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the CA's key is kept on disk (%v): it would let a thief mint identities", err)
	}
}

func TestEtcdRefusesClientsWithoutTheCertificate(t *testing.T) {
	good := server.EtcdClientConfig()
	endpoint := good.Endpoints[0]
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "https" || u.Hostname() != "127.0.0.1" {
		t.Fatalf("etcd at %s, want TLS on loopback", endpoint)
	}
	pool := good.TLS.RootCAs

	// The handshake itself tells why: TLS 1.3 reports the missing
	// certificate on the first read.
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{RootCAs: pool})
	if err == nil {
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "certificate required") {
		t.Errorf("TLS without a client certificate: err = %v, want the server to require one", err)
	}

	refused := map[string]clientv3.Config{
		"no certificate":         {Endpoints: []string{endpoint}, TLS: &tls.Config{RootCAs: pool}},
		"another CA certificate": {Endpoints: []string{endpoint}, TLS: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{strangerCert(t)}}},
		"plain http":             {Endpoints: []string{"http://" + u.Host}},
	}
	// Each refused client retries until its deadline; in parallel, that is
	// waited for once.
	t.Run("refused", func(t *testing.T) {
		for name, cfg := range refused {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				cfg.DialTimeout = time.Second
				cli, err := clientv3.New(cfg)
				if err != nil {
					return // refused while connecting
				}
				defer cli.Close()
				c, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				if _, err := cli.Put(c, "/stranger/key", "x"); err == nil {
					t.Error("put succeeded")
				}
				c2, cancel2 := context.WithTimeout(context.Background(), time.Second)
				defer cancel2()
				if resp, err := cli.Get(c2, "/registry/", clientv3.WithPrefix(), clientv3.WithKeysOnly()); err == nil {
					t.Errorf("read %d keys of the API's data", len(resp.Kvs))
				}
			})
		}
	})

	cli, err := clientv3.New(good)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Put(ctx(t), "/test/with-cert", "ok"); err != nil {
		t.Fatalf("put with the stack's certificate: %v", err)
	}
	resp, err := cli.Get(ctx(t), "/test/with-cert")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "ok" {
		t.Fatalf("get with the stack's certificate: %v %v", resp, err)
	}
	// Nothing the refused clients tried was written.
	resp, err = cli.Get(ctx(t), "/stranger/", clientv3.WithPrefix())
	if err != nil || len(resp.Kvs) != 0 {
		t.Errorf("refused clients wrote %v (%v)", resp, err)
	}
}
