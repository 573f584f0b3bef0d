// Package manifests embeds the generated CRDs so that `zeroflow dev` and the
// tests install exactly what `kubectl apply -k manifests` would.
package manifests

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
)

//go:embed crds/zeroflow.dev_*.yaml
var crds embed.FS

// CRDs returns every CustomResourceDefinition YAML, sorted by file name.
func CRDs() ([][]byte, error) {
	names, err := fs.Glob(crds, "crds/zeroflow.dev_*.yaml")
	if err != nil {
		return nil, fmt.Errorf("list embedded crds: %w", err)
	}
	sort.Strings(names)
	docs := make([][]byte, 0, len(names))
	for _, name := range names {
		b, err := crds.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read embedded crd %s: %w", name, err)
		}
		docs = append(docs, b)
	}
	return docs, nil
}
