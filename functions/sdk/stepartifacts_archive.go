package sdk

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// ArtifactLimits bound what one artifact may hold, so that a step (or
// what an http artifact's server sends) cannot fill the disk or the
// memory of the function that stages it.
type ArtifactLimits struct {
	// MaxBytes is the most bytes of one artifact: of its files unpacked,
	// and of what is downloaded for it.
	MaxBytes int64
	// MaxFiles is the most entries (files and directories) of one
	// archived artifact.
	MaxFiles int
	// HTTPTimeout bounds the download of one http artifact.
	HTTPTimeout time.Duration
}

// The default artifact limits (docs/workflows.md, "Artifacts").
const (
	DefaultArtifactMaxBytes    = 1 << 30
	DefaultArtifactMaxFiles    = 10000
	DefaultArtifactHTTPTimeout = 5 * time.Minute
)

// withDefaults fills the limits left zero.
func (l ArtifactLimits) withDefaults() ArtifactLimits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultArtifactMaxBytes
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultArtifactMaxFiles
	}
	if l.HTTPTimeout <= 0 {
		l.HTTPTimeout = DefaultArtifactHTTPTimeout
	}
	return l
}

// archived reports whether an artifact is stored as tar+gzip: Argo's
// default, unless archive.none is set.
func archived(a v1alpha1.Artifact) bool { return a.Archive == nil || a.Archive.None == nil }

// compressionLevel is the gzip level archive.tar asks for, default 6 as in
// Argo (and gzip's own default).
func compressionLevel(a v1alpha1.Artifact) int {
	if a.Archive != nil && a.Archive.Tar != nil && a.Archive.Tar.CompressionLevel != nil {
		return int(*a.Archive.Tar.CompressionLevel)
	}
	return gzip.DefaultCompression
}

// errTooLarge is what a reader past its limit fails with.
var errTooLarge = errors.New("artifact is larger than the limit")

// capped reads at most max bytes and fails, instead of stopping quietly,
// when there are more: a truncated artifact must not pass for a whole one.
type capped struct {
	r    io.Reader
	left int64
	max  int64
}

func newCapped(r io.Reader, max int64) *capped { return &capped{r: r, left: max, max: max} }

func (c *capped) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, fmt.Errorf("%w of %d bytes", errTooLarge, c.max)
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n - int(-c.left), fmt.Errorf("%w of %d bytes", errTooLarge, c.max)
	}
	return n, err
}

// pack writes the file or directory at src to w as the artifact a asks:
// tar+gzip (the default), whose one top-level entry is src's base name as
// in Argo, or, with archive.none, the single file as it is.
func pack(w io.Writer, src string, a v1alpha1.Artifact, limits ArtifactLimits) error {
	info, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if !archived(a) {
		if !info.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file: archive none stores one file; use archive tar for a directory", src)
		}
		if info.Size() > limits.MaxBytes {
			return fmt.Errorf("%s: %w of %d bytes", src, errTooLarge, limits.MaxBytes)
		}
		f, err := os.Open(src)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, newCapped(f, limits.MaxBytes))
		return err
	}
	zw, err := gzip.NewWriterLevel(w, compressionLevel(a))
	if err != nil {
		return fmt.Errorf("archive tar: %w", err)
	}
	tw := tar.NewWriter(zw)
	var files int
	var total int64
	root := filepath.Base(src)
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if files++; files > limits.MaxFiles {
			return fmt.Errorf("%s has more than %d files and directories, the limit", src, limits.MaxFiles)
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		name := path.Join(root, filepath.ToSlash(rel))
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case info.IsDir():
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: int64(info.Mode().Perm()), ModTime: info.ModTime()})
		case info.Mode().IsRegular():
			if total += info.Size(); total > limits.MaxBytes {
				return fmt.Errorf("%s: %w of %d bytes", src, errTooLarge, limits.MaxBytes)
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: info.Size(), Mode: int64(info.Mode().Perm()), ModTime: info.ModTime()}); err != nil {
				return err
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			// The header promised Size bytes: a file that grew meanwhile
			// is cut there, one that shrank fails the copy.
			_, err = io.CopyN(tw, f, info.Size())
			return err
		default:
			// A symbolic link could name anything on the function's
			// host; only what the step itself wrote is an artifact.
			return fmt.Errorf("%s is a %s: an artifact holds regular files and directories only", p, info.Mode().Type())
		}
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("archive tar: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("archive tar: %w", err)
	}
	return nil
}

// unpack writes what r holds at dest: with isArchive, the tar+gzip's
// entries (its one top-level entry becomes dest, as in Argo, else dest is
// a directory of them), else a single file. mode, when set, is the
// permission of every file. Only regular files and directories are
// unpacked, none outside dest, within the limits.
func unpack(r io.Reader, dest string, isArchive bool, mode *int32, limits ArtifactLimits) error {
	perm := func(m fs.FileMode) fs.FileMode {
		if mode != nil {
			return fs.FileMode(*mode) & fs.ModePerm
		}
		return m & fs.ModePerm
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	if !isArchive {
		return writeFile(dest, newCapped(r, limits.MaxBytes), perm(0o644))
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("not a tar+gzip archive (set archive: {none: {}} for a file stored as it is): %w", err)
	}
	defer zr.Close()
	tmp, err := os.MkdirTemp(filepath.Dir(dest), ".unpack-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	tr := tar.NewReader(zr)
	var files int
	left := limits.MaxBytes
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read the archive: %w", err)
		}
		if files++; files > limits.MaxFiles {
			return fmt.Errorf("the archive has more than %d entries, the limit", limits.MaxFiles)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if path.IsAbs(h.Name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("the archive's entry %q is outside the artifact", h.Name)
		}
		if name == "." {
			continue
		}
		target := filepath.Join(tmp, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if left -= h.Size; left < 0 {
				return fmt.Errorf("the archive's files: %w of %d bytes", errTooLarge, limits.MaxBytes)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := writeFile(target, tr, perm(fs.FileMode(h.Mode))); err != nil {
				return err
			}
		default:
			return fmt.Errorf("the archive's entry %q is not a regular file or directory (type %q)", h.Name, h.Typeflag)
		}
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	from := tmp
	if len(entries) == 1 {
		from = filepath.Join(tmp, entries[0].Name())
	} else if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.Rename(from, dest); err != nil {
		return fmt.Errorf("stage at %s: %w", dest, err)
	}
	return nil
}

// writeFile creates path with r's content.
func writeFile(path string, r io.Reader, perm fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	// OpenFile's perm is cut by the umask; mode is what the artifact asks.
	return os.Chmod(path, perm)
}

// singleFile returns the content of an artifact that is one file: what r
// holds, or with isArchive the archive's only entry when it is a file.
func singleFile(r io.Reader, isArchive bool, limits ArtifactLimits) (io.Reader, error) {
	if !isArchive {
		return newCapped(r, limits.MaxBytes), nil
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("not a tar+gzip archive: %w", err)
	}
	tr := tar.NewReader(zr)
	h, err := tr.Next()
	if err != nil {
		return nil, fmt.Errorf("read the archive: %w", err)
	}
	if h.Typeflag != tar.TypeReg {
		return nil, fmt.Errorf("the artifact is a directory (%s): unpack it with StageArtifact", h.Name)
	}
	return newCapped(tr, limits.MaxBytes), nil
}
