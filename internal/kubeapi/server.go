// Package kubeapi runs a real Kubernetes API server inside the process:
// k8s.io/apiextensions-apiserver backed by an embedded etcd. It serves
// CustomResourceDefinitions and custom objects with the same schema
// validation, status subresource and optimistic concurrency as a cluster.
// Tests and `zeroflow dev` use it.
//
// It has no core API (no Namespaces, Secrets, ConfigMaps or Events): objects
// are accepted in any namespace. Of the built-in groups it serves
// coordination.k8s.io/v1 Leases (as a CRD), for leader election.
package kubeapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	noopoteltrace "go.opentelemetry.io/otel/trace/noop"
	extensionsapiserver "k8s.io/apiextensions-apiserver/pkg/apiserver"
	listers "k8s.io/apiextensions-apiserver/pkg/client/listers/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/cmd/server/options"
	generatedopenapi "k8s.io/apiextensions-apiserver/pkg/generated/openapi"
	"k8s.io/apiserver/pkg/apis/apiserver"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/apiserver/pkg/util/compatibility"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/apiserver/pkg/util/openapi"
	"k8s.io/apiserver/pkg/util/webhook"
	"k8s.io/client-go/rest"
	basecompatibility "k8s.io/component-base/compatibility"
)

// Options configures Start.
type Options struct {
	// DataDir holds etcd's data and the stack's certificates and keys; it is
	// made 0700. Empty means a temporary directory that Stop removes.
	DataDir string
	// KubeconfigPath, when set, receives a kubeconfig for kubectl, written
	// 0600: it holds the client key. Its directory must not be writable by
	// others.
	KubeconfigPath string
	// CRDs are installed and waited for before Start returns (with the
	// Lease CRD, which is always installed).
	CRDs [][]byte
	// UnsafeNoFsync skips etcd's fsync. For tests only: a crash loses data.
	UnsafeNoFsync bool
	// Addr is where the API listens. Empty: the address recorded in
	// DataDir by the last start, so that a copied kubeconfig keeps
	// working across restarts, else (none recorded, or it is taken now)
	// a free loopback port.
	Addr string
	// Logger receives the server's warnings and errors. Nil discards them.
	Logger *slog.Logger
}

// Server is a running in-process API server.
type Server struct {
	config         *rest.Config
	kubeconfigPath string
	dataDir        string
	removeDataDir  bool

	certs  *pki
	etcd   *etcdServer
	cancel context.CancelFunc
	done   chan error
}

// Start launches etcd and the API server, installs opts.CRDs and returns once
// the API answers and every CRD is Established.
func Start(ctx context.Context, opts Options) (_ *Server, err error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	routeKlog(logger)

	s := &Server{dataDir: opts.DataDir, kubeconfigPath: opts.KubeconfigPath}
	if s.dataDir == "" {
		if s.dataDir, err = os.MkdirTemp("", "zeroflow-kubeapi-"); err != nil {
			return nil, fmt.Errorf("create api server data dir: %w", err)
		}
		s.removeDataDir = true
	}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	// etcd's data and the keys are the stack's alone; MkdirAll keeps the
	// mode of a directory that already exists, so set it.
	if err := os.MkdirAll(s.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create api server data dir: %w", err)
	}
	if err := os.Chmod(s.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("restrict api server data dir: %w", err)
	}
	// Earlier versions kept a self-signed serving key here; it is not used any more.
	if err := os.RemoveAll(filepath.Join(s.dataDir, "certs")); err != nil {
		return nil, fmt.Errorf("remove old serving certificates: %w", err)
	}
	if s.certs, err = loadOrCreatePKI(filepath.Join(s.dataDir, "pki"), time.Now(), logger); err != nil {
		return nil, err
	}

	if s.etcd, err = startEtcd(ctx, filepath.Join(s.dataDir, "etcd"), s.certs, opts.UnsafeNoFsync); err != nil {
		return nil, err
	}

	listener, err := listenAPI(opts.Addr, s.dataDir, logger)
	if err != nil {
		return nil, err
	}
	server, err := newAPIServer(s.etcd.clientURL, s.certs, listener)
	if err != nil {
		_ = listener.Close()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.done = make(chan error, 1)
	go func() {
		s.done <- server.GenericAPIServer.PrepareRun().RunWithContext(runCtx)
		close(s.done)
	}()

	// Not the server's LoopbackClientConfig: its token is the server's own
	// identity, for the server alone. Clients use the admin certificate.
	s.config = adminConfig("https://"+server.GenericAPIServer.SecureServingInfo.Listener.Addr().String(), s.certs)
	if err := s.waitHealthy(ctx); err != nil {
		return nil, err
	}
	// Leases with the caller's CRDs: one wait for all of them.
	if err := InstallCRDs(ctx, s.config, append([][]byte{leaseCRD}, opts.CRDs...)...); err != nil {
		return nil, err
	}
	if s.kubeconfigPath != "" {
		if err := writeKubeconfig(s.kubeconfigPath, s.config); err != nil {
			return nil, err
		}
	}
	logger.Info("kubernetes api started", "host", s.config.Host, "dataDir", s.dataDir, "kubeconfig", s.kubeconfigPath)
	return s, nil
}

// adminConfig is a client config for host with the admin certificate.
func adminConfig(host string, certs *pki) *rest.Config {
	return &rest.Config{
		Host: host,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   certs.caPEM,
			CertData: certs.certPEM[pkiAdmin],
			KeyData:  certs.keyPEM[pkiAdmin],
		},
		// The stack's own components are the only users; client-side
		// throttling only slows tests.
		QPS: -1,
	}
}

// Config returns a client config with full rights on the server.
func (s *Server) Config() *rest.Config { return rest.CopyConfig(s.config) }

// EtcdClientConfig is a client config for the embedded etcd, with the
// client certificate it requires, for benchmarks that compare the API server
// with a raw etcd write and for tests of etcd's access control.
func (s *Server) EtcdClientConfig() clientv3.Config {
	return clientv3.Config{
		Endpoints:   []string{s.etcd.clientURL},
		TLS:         s.etcd.clientTLS.Clone(),
		DialTimeout: 5 * time.Second,
	}
}

// EtcdURL is the client URL of the embedded etcd. It serves only clients
// with the certificate in EtcdClientConfig.
func (s *Server) EtcdURL() string { return s.etcd.clientURL }

// KubeconfigPath is where the kubeconfig was written, or "".
func (s *Server) KubeconfigPath() string { return s.kubeconfigPath }

// Stop shuts the API server down, then etcd, and removes a temporary data dir.
// It is safe to call more than once.
func (s *Server) Stop() error {
	var errs []error
	if s.cancel != nil {
		s.cancel()
		s.cancel = nil
		if err, ok := <-s.done; ok && err != nil {
			errs = append(errs, fmt.Errorf("api server shutdown: %w", err))
		}
	}
	if s.etcd != nil {
		s.etcd.close()
		s.etcd = nil
	}
	if s.removeDataDir {
		if err := os.RemoveAll(s.dataDir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", s.dataDir, err))
		}
		s.removeDataDir = false
	}
	return errors.Join(errs...)
}

func newAPIServer(etcdURL string, certs *pki, listener net.Listener) (*extensionsapiserver.CustomResourceDefinitions, error) {
	o := options.NewCustomResourceDefinitionsServerOptions(io.Discard, io.Discard)

	// A registry of our own, so that several servers can run in one process
	// (tests) without sharing mutable feature-gate state.
	featureGate := utilfeature.DefaultMutableFeatureGate.DeepCopy()
	effectiveVersion := compatibility.DefaultBuildEffectiveVersion()
	registry := basecompatibility.NewComponentGlobalsRegistry()
	if err := registry.Register(basecompatibility.DefaultKubeComponent, effectiveVersion, featureGate); err != nil {
		return nil, fmt.Errorf("register api server component: %w", err)
	}
	if err := registry.Set(); err != nil {
		return nil, fmt.Errorf("set api server component versions: %w", err)
	}
	o.ServerRunOptions.ComponentGlobalsRegistry = registry

	o.RecommendedOptions.SecureServing.Listener = listener
	o.RecommendedOptions.SecureServing.BindPort = listener.Addr().(*net.TCPAddr).Port
	serving, err := dynamiccertificates.NewStaticCertKeyContent("zeroflow dev serving certificate", certs.certPEM[pkiAPIServing], certs.keyPEM[pkiAPIServing])
	if err != nil {
		return nil, fmt.Errorf("load api server serving certificate: %w", err)
	}
	o.RecommendedOptions.SecureServing.ServerCert.CertDirectory = ""
	o.RecommendedOptions.SecureServing.ServerCert.PairName = ""
	o.RecommendedOptions.SecureServing.ServerCert.GeneratedCert = serving
	etcd := &o.RecommendedOptions.Etcd.StorageConfig.Transport
	etcd.ServerList = []string{etcdURL}
	etcd.CertFile, etcd.KeyFile, etcd.TrustedCAFile = certs.certFile(pkiEtcdClient), certs.keyFile(pkiEtcdClient), certs.caFile()

	// There is no kube-apiserver to delegate to, and delegated authentication
	// always lets anonymous requests through (to be refused later, with a 403
	// that still tells a stranger the server is there and what it serves at
	// the always-allowed paths). Authentication is set up below instead:
	// client certificates of the stack's CA only, anonymous off.
	o.RecommendedOptions.Authentication = nil
	// Authorization is all or nothing, there is no RBAC in dev: the
	// delegating authorizer without a kubeconfig allows the group
	// system:masters (the kubeconfig's user, and the server's own loopback
	// token) everything, and denies the rest.
	o.RecommendedOptions.Authorization.RemoteKubeConfigFileOptional = true
	// These need the core API, which this server does not have.
	o.RecommendedOptions.CoreAPI = nil
	o.RecommendedOptions.Admission = nil
	o.RecommendedOptions.Features.EnablePriorityAndFairness = false

	if err := o.Complete(); err != nil {
		return nil, fmt.Errorf("complete api server options: %w", err)
	}
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("validate api server options: %w", err)
	}

	serverConfig := genericapiserver.NewRecommendedConfig(extensionsapiserver.Codecs)
	if err := o.ServerRunOptions.ApplyTo(&serverConfig.Config); err != nil {
		return nil, fmt.Errorf("apply server run options: %w", err)
	}
	if err := o.RecommendedOptions.ApplyTo(serverConfig); err != nil {
		return nil, fmt.Errorf("apply recommended options: %w", err)
	}
	if err := authenticateClientCerts(serverConfig, certs.caPEM); err != nil {
		return nil, err
	}
	if err := o.APIEnablement.ApplyTo(&serverConfig.Config, extensionsapiserver.DefaultAPIResourceConfigSource(), extensionsapiserver.Scheme); err != nil {
		return nil, fmt.Errorf("apply api enablement: %w", err)
	}
	definitions := openapi.GetOpenAPIDefinitionsWithoutDisabledFeatures(generatedopenapi.GetOpenAPIDefinitions)
	namer := openapinamer.NewDefinitionNamer(extensionsapiserver.Scheme)
	serverConfig.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(definitions, namer)
	serverConfig.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(definitions, namer)

	// The server's own CRD lister, once it exists, lists the groups at /apis.
	var crdLister listers.CustomResourceDefinitionLister
	serverConfig.BuildHandlerChainFunc = func(api http.Handler, c *genericapiserver.Config) http.Handler {
		return genericapiserver.DefaultBuildHandlerChain(groupListHandler{next: api, crds: func() listers.CustomResourceDefinitionLister { return crdLister }}, c)
	}

	config := &extensionsapiserver.Config{
		GenericConfig: serverConfig,
		ExtraConfig: extensionsapiserver.ExtraConfig{
			CRDRESTOptionsGetter: options.NewCRDRESTOptionsGetter(*o.RecommendedOptions.Etcd, serverConfig.ResourceTransformers, serverConfig.StorageObjectCountTracker),
			ServiceResolver:      noServices{},
			AuthResolverWrapper:  webhook.NewDefaultAuthenticationInfoResolverWrapper(nil, nil, serverConfig.LoopbackClientConfig, noopoteltrace.NewTracerProvider()),
		},
	}
	server, err := config.Complete().New(genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, fmt.Errorf("create api server: %w", err)
	}
	crdLister = server.Informers.Apiextensions().V1().CustomResourceDefinitions().Lister()
	return server, nil
}

// authenticateClientCerts makes the server accept only client certificates
// signed by the stack's CA; a request without one gets 401. (The server's
// loopback token is added to this by the generic server itself.)
func authenticateClientCerts(c *genericapiserver.RecommendedConfig, caPEM []byte) error {
	ca, err := dynamiccertificates.NewStaticCAContent("zeroflow dev ca", caPEM)
	if err != nil {
		return fmt.Errorf("load client ca: %w", err)
	}
	// Asks TLS clients for a certificate; the authenticator verifies it.
	if err := c.Authentication.ApplyClientCert(ca, c.SecureServing); err != nil {
		return fmt.Errorf("request client certificates: %w", err)
	}
	authn, _, err := authenticatorfactory.DelegatingAuthenticatorConfig{
		Anonymous:                          &apiserver.AnonymousAuthConfig{Enabled: false},
		ClientCertificateCAContentProvider: ca,
	}.New()
	if err != nil {
		return fmt.Errorf("client certificate authenticator: %w", err)
	}
	c.Authentication.Authenticator = authn
	return nil
}

func (s *Server) waitHealthy(ctx context.Context) error {
	client, err := rest.HTTPClientFor(s.config)
	if err != nil {
		return fmt.Errorf("api server client: %w", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-s.done:
			return fmt.Errorf("api server exited while starting: %w", err)
		default:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.config.Host+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("api server at %s not ready within 60s", s.config.Host)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// noServices resolves no Service: conversion webhooks, which need one, are
// not supported in-process.
type noServices struct{}

func (noServices) ResolveEndpoint(namespace, name string, port int32) (*url.URL, error) {
	return nil, fmt.Errorf("service %s/%s:%d: the in-process api server has no services", namespace, name, port)
}
