package kubeapi

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

const kubeconfigContext = "zeroflow-dev"

// writeKubeconfig writes a kubeconfig that kubectl can use against cfg. The
// file holds the admin client key, so it is written 0600, and into a
// directory that others cannot write: there, another user could replace
// the file (pointing kubectl at a server of theirs) or plant a link.
func writeKubeconfig(path string, cfg *rest.Config) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters[kubeconfigContext] = &clientcmdapi.Cluster{
		Server:                   cfg.Host,
		CertificateAuthorityData: cfg.CAData,
		TLSServerName:            cfg.ServerName,
	}
	kc.AuthInfos[kubeconfigContext] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData,
		ClientKeyData:         cfg.KeyData,
		Token:                 cfg.BearerToken,
	}
	kc.Contexts[kubeconfigContext] = &clientcmdapi.Context{
		Cluster:   kubeconfigContext,
		AuthInfo:  kubeconfigContext,
		Namespace: "default",
	}
	kc.CurrentContext = kubeconfigContext
	data, err := clientcmd.Write(*kc)
	if err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	if info.Mode().Perm()&0o002 != 0 {
		return fmt.Errorf("write kubeconfig %s: directory %s is writable by every user (mode %v); choose a private directory", path, dir, info.Mode().Perm())
	}
	if err := writePrivate(path, data); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}
