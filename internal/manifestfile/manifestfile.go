// Package manifestfile reads Kubernetes-style YAML manifests from files and
// directories: every document, with where it came from, so that errors can
// point at a file and line.
package manifestfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// Document is one YAML document of a manifest file.
type Document struct {
	// File is the path the document was read from.
	File string
	// Line is the 1-based line of the file where the document starts.
	Line int
	// Raw is the document's YAML.
	Raw []byte
	// APIVersion, Kind, Name and Namespace are read from the document.
	APIVersion, Kind, Name, Namespace string
}

// Source is "file:line" for messages.
func (d Document) Source() string { return fmt.Sprintf("%s:%d", d.File, d.Line) }

// Ref is "Kind name" for messages.
func (d Document) Ref() string {
	if d.Name == "" {
		return d.Kind
	}
	return d.Kind + " " + d.Name
}

// Load reads every .yaml and .yml file under each path (a file or a
// directory, walked recursively, in name order) and splits it into
// documents, leaving out kustomizations. Empty documents are skipped. A broken document does not stop
// the others: Load returns every good document, and an error joining one
// error per broken document.
func Load(paths ...string) ([]Document, error) {
	var files []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("read manifests: %w", err)
		}
		if !info.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read manifests in %s: %w", p, err)
		}
	}
	sort.Strings(files)
	var (
		docs []Document
		errs []error
	)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("read manifests: %w", err))
			continue
		}
		d, err := Split(f, b)
		for _, doc := range d {
			// A kustomization says how to build manifests; it is not one.
			if !strings.HasPrefix(doc.APIVersion, "kustomize.config.k8s.io/") {
				docs = append(docs, doc)
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return docs, errors.Join(errs...)
}

// Split splits the YAML of file into documents and reads their identity. A
// document that is not valid YAML, or has no kind, is an error naming its
// file and line; the other documents are still returned.
func Split(file string, data []byte) ([]Document, error) {
	var (
		docs []Document
		errs []error
	)
	r := bufio.NewReader(bytes.NewReader(data))
	var cur bytes.Buffer
	start, line := 1, 0
	flush := func() error {
		whole := cur.Bytes()
		raw := bytes.TrimSpace(whole)
		// The document's first line is its first non-blank one, so that
		// a line within Raw maps to the file's.
		lead := bytes.Count(whole[:len(whole)-len(bytes.TrimLeft(whole, " \t\r\n"))], []byte("\n"))
		if len(raw) == 0 || onlyComments(raw) {
			cur.Reset()
			return nil
		}
		doc := Document{File: file, Line: start + lead, Raw: append([]byte(nil), raw...)}
		cur.Reset()
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(raw, &meta); err != nil {
			return fmt.Errorf("%s: not valid YAML: %v", doc.Source(), err)
		}
		if meta.Kind == "" {
			return fmt.Errorf("%s: the document has no kind", doc.Source())
		}
		doc.APIVersion, doc.Kind, doc.Name, doc.Namespace = meta.APIVersion, meta.Kind, meta.Metadata.Name, meta.Metadata.Namespace
		docs = append(docs, doc)
		return nil
	}
	for {
		text, err := r.ReadString('\n')
		if len(text) > 0 {
			line++
			if strings.TrimRight(text, " \t\r\n") == "---" {
				if ferr := flush(); ferr != nil {
					errs = append(errs, ferr)
				}
				start = line + 1
			} else {
				cur.WriteString(text)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
	}
	if err := flush(); err != nil {
		errs = append(errs, err)
	}
	return docs, errors.Join(errs...)
}

func onlyComments(raw []byte) bool {
	for _, l := range bytes.Split(raw, []byte("\n")) {
		l = bytes.TrimSpace(l)
		if len(l) > 0 && l[0] != '#' {
			return false
		}
	}
	return true
}
