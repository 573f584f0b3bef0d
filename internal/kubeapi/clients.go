package kubeapi

import (
	"fmt"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
)

// Clients returns a dynamic client of the server and a REST mapper from its
// discovery (cached, refreshed when a kind is not found): what reaches any
// kind it serves, for the functions that act on objects and their tests.
func (s *Server) Clients() (dynamic.Interface, *restmapper.DeferredDiscoveryRESTMapper, error) {
	dyn, err := dynamic.NewForConfig(s.Config())
	if err != nil {
		return nil, nil, fmt.Errorf("dynamic client: %w", err)
	}
	disco, err := discovery.NewDiscoveryClientForConfig(s.Config())
	if err != nil {
		return nil, nil, fmt.Errorf("discovery client: %w", err)
	}
	return dyn, restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco)), nil
}
