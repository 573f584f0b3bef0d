package kubeapi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// The dev stack's own credentials. A machine running `zeroflow dev` may
// have other local users: the loopback interface is open to all of them, so
// etcd and the API server accept only clients holding a certificate signed
// by this per-data-dir CA. The leaf keys live in a 0700 directory as 0600
// files, so only the user running the stack (and root) can use them. The
// CA's key is never written: the set is only ever regenerated whole, so
// nothing needs it after the leaves are signed, and a key that is not kept
// cannot be stolen to mint more identities.
const (
	pkiCA = "ca"
	// etcdMember serves etcd's client and peer ports, and dials peers.
	pkiEtcdMember = "etcd-member"
	// etcdClient is the API server's identity towards etcd.
	pkiEtcdClient = "apiserver-etcd-client"
	// apiServing is the API server's serving certificate.
	pkiAPIServing = "apiserver"
	// admin is the identity in Server.Config and the kubeconfig.
	pkiAdmin = "admin"

	// adminUser and adminGroup name the kubeconfig's user; the group is the
	// one Kubernetes treats as cluster-admin, so tools that look at it agree.
	adminUser  = "zeroflow-dev"
	adminGroup = "system:masters"

	certValidity = 2 * 365 * 24 * time.Hour
	// renewBefore regenerates the set on a start this close to expiry, so
	// that a long-lived data dir never serves an expired certificate.
	renewBefore = 30 * 24 * time.Hour
)

// pki is the loaded set of credentials, as PEM and as file paths (etcd's
// and the API server's etcd client options take files).
type pki struct {
	dir    string
	caPEM  []byte
	caPool *x509.CertPool
	// pem holds the certificate and key of each leaf, by name.
	certPEM map[string][]byte
	keyPEM  map[string][]byte
}

func (p *pki) certFile(name string) string { return filepath.Join(p.dir, name+".crt") }
func (p *pki) keyFile(name string) string  { return filepath.Join(p.dir, name+".key") }
func (p *pki) caFile() string              { return p.certFile(pkiCA) }

// clientTLS is a TLS client config that trusts the CA and presents the leaf name.
func (p *pki) clientTLS(name string) (*tls.Config, error) {
	pair, err := tls.X509KeyPair(p.certPEM[name], p.keyPEM[name])
	if err != nil {
		return nil, fmt.Errorf("load %s key pair: %w", name, err)
	}
	return &tls.Config{RootCAs: p.caPool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

type leafSpec struct {
	name   string
	cn     string
	orgs   []string
	usages []x509.ExtKeyUsage
	// serving leaves cover the loopback names the servers listen on.
	serving bool
}

func leafSpecs() []leafSpec {
	return []leafSpec{
		{name: pkiEtcdMember, cn: "zeroflow-etcd", usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, serving: true},
		{name: pkiEtcdClient, cn: "zeroflow-apiserver", usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		{name: pkiAPIServing, cn: "zeroflow-apiserver", usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, serving: true},
		{name: pkiAdmin, cn: adminUser, orgs: []string{adminGroup}, usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
	}
}

// loadOrCreatePKI keeps the credentials of an earlier start, so that a
// kubeconfig handed out before a restart still works, unless any file is
// missing, unreadable, shared with other users, expiring or not signed by
// the CA: then the whole set is generated afresh (ECDSA P-256 keys, which
// take microseconds, so a fresh set costs nothing noticeable at start).
func loadOrCreatePKI(dir string, now time.Time, logger *slog.Logger) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create pki dir: %w", err)
	}
	// MkdirAll keeps an existing directory's mode; the keys must not be listable
	// or replaceable by others.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("restrict pki dir: %w", err)
	}
	p, err := loadPKI(dir, now)
	if err == nil {
		return p, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		logger.Warn("regenerating the dev stack's certificates", "dir", dir, "reason", err)
	}
	return createPKI(dir, now)
}

func loadPKI(dir string, now time.Time) (*pki, error) {
	p := &pki{dir: dir, certPEM: map[string][]byte{}, keyPEM: map[string][]byte{}}
	var err error
	if p.caPEM, err = readPrivate(p.caFile()); err != nil {
		return nil, err
	}
	ca, err := parseCert(p.caPEM)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	if now.Add(renewBefore).After(ca.NotAfter) {
		return nil, fmt.Errorf("ca expires at %s", ca.NotAfter)
	}
	p.caPool = x509.NewCertPool()
	p.caPool.AddCert(ca)
	for _, spec := range leafSpecs() {
		certPEM, err := readPrivate(p.certFile(spec.name))
		if err != nil {
			return nil, err
		}
		keyPEM, err := readPrivate(p.keyFile(spec.name))
		if err != nil {
			return nil, err
		}
		if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
			return nil, fmt.Errorf("%s: %w", spec.name, err)
		}
		cert, err := parseCert(certPEM)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", spec.name, err)
		}
		opts := x509.VerifyOptions{Roots: p.caPool, CurrentTime: now.Add(renewBefore), KeyUsages: spec.usages}
		if spec.serving {
			opts.DNSName = "127.0.0.1"
		}
		if _, err := cert.Verify(opts); err != nil {
			return nil, fmt.Errorf("%s: %w", spec.name, err)
		}
		p.certPEM[spec.name], p.keyPEM[spec.name] = certPEM, keyPEM
	}
	return p, nil
}

// readPrivate reads a file that only its owner may read or write: a key
// that others could read may have been copied and is not used again.
func readPrivate(path string) ([]byte, error) {
	info, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s has mode %v, want 0600", path, perm)
	}
	return os.ReadFile(path)
}

func parseCert(certPEM []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

func createPKI(dir string, now time.Time) (*pki, error) {
	p := &pki{dir: dir, certPEM: map[string][]byte{}, keyPEM: map[string][]byte{}}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ca key: %w", err)
	}
	caTemplate := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "zeroflow-dev-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, _, err := sign(caTemplate, nil, caKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create ca: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("create ca: %w", err)
	}
	p.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	p.caPool = x509.NewCertPool()
	p.caPool.AddCert(ca)

	for _, spec := range leafSpecs() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate %s key: %w", spec.name, err)
		}
		template := &x509.Certificate{
			Subject:     pkix.Name{CommonName: spec.cn, Organization: spec.orgs},
			NotBefore:   now.Add(-time.Hour),
			NotAfter:    now.Add(certValidity),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: spec.usages,
		}
		if spec.serving {
			template.DNSNames = []string{"localhost"}
			template.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		}
		der, keyPEM, err := sign(template, ca, key, caKey)
		if err != nil {
			return nil, fmt.Errorf("create %s certificate: %w", spec.name, err)
		}
		p.certPEM[spec.name] = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		p.keyPEM[spec.name] = keyPEM
	}

	// Leaves first and the CA last: a start interrupted half way leaves a
	// set that loadPKI rejects (leaves not signed by the old CA, or no CA),
	// never a mix that it would accept.
	for _, spec := range leafSpecs() {
		if err := writePrivate(p.certFile(spec.name), p.certPEM[spec.name]); err != nil {
			return nil, err
		}
		if err := writePrivate(p.keyFile(spec.name), p.keyPEM[spec.name]); err != nil {
			return nil, err
		}
	}
	if err := writePrivate(p.caFile(), p.caPEM); err != nil {
		return nil, err
	}
	return p, nil
}

// sign creates the certificate for key, signed by parent (self-signed when
// parent is nil), and returns it as DER with key as PEM.
func sign(template, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) ([]byte, []byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	template.SerialNumber = serial
	if parent == nil {
		parent = template
	}
	der, err := x509.CreateCertificate(rand.Reader, template, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return der, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

// writePrivate writes data to path as a 0600 file, through a temporary file
// and a rename: the file never exists with other permissions or half
// written, and a symlink planted at path is replaced, not followed.
func writePrivate(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	// CreateTemp makes 0600 files; say so rather than rely on it.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
