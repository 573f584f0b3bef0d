package sdk

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// tree writes files (path → content; a path ending in / is a directory)
// under a new directory and returns it.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// read returns every file under dir (relative path → content).
func read(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		got[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestPackAndUnpack(t *testing.T) {
	none := v1alpha1.Artifact{Archive: &v1alpha1.ArchiveStrategy{None: &v1alpha1.NoneStrategy{}}}
	level := int32(9)
	best := v1alpha1.Artifact{Archive: &v1alpha1.ArchiveStrategy{Tar: &v1alpha1.TarStrategy{CompressionLevel: &level}}}
	limits := ArtifactLimits{MaxBytes: 100, MaxFiles: 4}.withDefaults()
	for _, c := range []struct {
		name    string
		files   map[string]string
		src     string // under the tree
		art     v1alpha1.Artifact
		want    map[string]string // under dest, "" the file dest itself
		wantErr string
	}{
		{name: "a file, tar+gzip by default", files: map[string]string{"out.txt": "hello"}, src: "out.txt", want: map[string]string{".": "hello"}},
		{name: "a file, compression level 9", files: map[string]string{"out.txt": "hello"}, src: "out.txt", art: best, want: map[string]string{".": "hello"}},
		{name: "a file, archive none", files: map[string]string{"out.txt": "hello"}, src: "out.txt", art: none, want: map[string]string{".": "hello"}},
		{name: "a directory", files: map[string]string{"d/a.txt": "A", "d/sub/b.txt": "B"}, src: "d",
			want: map[string]string{"a.txt": "A", "sub/b.txt": "B"}},
		{name: "an empty file", files: map[string]string{"e": ""}, src: "e", want: map[string]string{".": ""}},
		{name: "a directory with archive none", files: map[string]string{"d/a.txt": "A"}, src: "d", art: none, wantErr: "not a regular file"},
		{name: "files at the limit", files: map[string]string{"d/a": "1", "d/b": "2", "d/c": "3"}, src: "d",
			want: map[string]string{"a": "1", "b": "2", "c": "3"}},
		{name: "one file over the limit", files: map[string]string{"d/a": "1", "d/b": "2", "d/c": "3", "d/e": "4"}, src: "d", wantErr: "more than 4"},
		{name: "bytes at the limit", files: map[string]string{"d/a": strings.Repeat("x", 60), "d/b": strings.Repeat("y", 40)}, src: "d",
			want: map[string]string{"a": strings.Repeat("x", 60), "b": strings.Repeat("y", 40)}},
		{name: "a byte over the limit", files: map[string]string{"d/a": strings.Repeat("x", 60), "d/b": strings.Repeat("y", 41)}, src: "d", wantErr: "larger than the limit"},
		{name: "a byte over the limit, none", files: map[string]string{"f": strings.Repeat("x", 101)}, src: "f", art: none, wantErr: "larger than the limit"},
		{name: "missing", files: map[string]string{}, src: "nope", wantErr: "no such file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := filepath.Join(tree(t, c.files), c.src)
			var buf bytes.Buffer
			err := pack(&buf, src, c.art, limits)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("pack: %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			dest := filepath.Join(t.TempDir(), "staged", "here")
			if err := unpack(bytes.NewReader(buf.Bytes()), dest, archived(c.art), nil, limits); err != nil {
				t.Fatal(err)
			}
			got := read(t, dest)
			if info, _ := os.Stat(dest); !info.IsDir() {
				b, _ := os.ReadFile(dest)
				got = map[string]string{".": string(b)}
			}
			if len(got) != len(c.want) {
				t.Fatalf("staged %v, want %v", got, c.want)
			}
			for k, v := range c.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

// archive builds a tar+gzip of the headers given, with content for each
// regular file.
func archive(t *testing.T, entries ...tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, h := range entries {
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(h.Uname))
		}
		content := h.Uname
		h.Uname = ""
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			_, _ = tw.Write([]byte(content))
		}
	}
	_ = tw.Close()
	_ = zw.Close()
	return buf.Bytes()
}

// An archive is input from elsewhere (an http or s3 artifact): it cannot
// write outside where it is staged, link anywhere, or go over the limits.
func TestUnpackRefusesHostileArchives(t *testing.T) {
	limits := ArtifactLimits{MaxBytes: 10, MaxFiles: 3}.withDefaults()
	file := func(name, content string) tar.Header {
		return tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Uname: content}
	}
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"dot-dot":          {archive(t, file("../escape", "x")), "outside the artifact"},
		"dot-dot inside":   {archive(t, file("d/../../escape", "x")), "outside the artifact"},
		"absolute":         {archive(t, file("/etc/passwd", "x")), "outside the artifact"},
		"symlink":          {archive(t, tar.Header{Typeflag: tar.TypeSymlink, Name: "l", Linkname: "/etc/passwd"}), "not a regular file"},
		"hard link":        {archive(t, tar.Header{Typeflag: tar.TypeLink, Name: "l", Linkname: "/etc/passwd"}), "not a regular file"},
		"too many entries": {archive(t, file("d/a", "1"), file("d/b", "2"), file("d/c", "3"), file("d/d", "4")), "more than 3"},
		"too many bytes":   {archive(t, file("d/a", "123456"), file("d/b", "12345")), "larger than the limit"},
		"not gzip":         {[]byte("plain text"), "not a tar+gzip"},
	} {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			err := unpack(bytes.NewReader(c.data), filepath.Join(parent, "in"), true, nil, limits)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("unpack: %v, want %q", err, c.want)
			}
			if entries, _ := os.ReadDir(parent); len(entries) != 0 {
				t.Errorf("left %v behind", entries)
			}
		})
	}
	// At the limits it unpacks.
	dest := filepath.Join(t.TempDir(), "in")
	if err := unpack(bytes.NewReader(archive(t, file("d/a", "12345"), file("d/b", "12345"), tar.Header{Typeflag: tar.TypeDir, Name: "d/e/", Mode: 0o755})), dest, true, nil, limits); err != nil {
		t.Fatal(err)
	}
	if got := read(t, dest); got["a"] != "12345" || got["b"] != "12345" {
		t.Errorf("staged %v", got)
	}
}

func TestUnpackMode(t *testing.T) {
	mode := int32(0o755)
	dest := filepath.Join(t.TempDir(), "run.sh")
	if err := unpack(strings.NewReader("echo hi"), dest, false, &mode, ArtifactLimits{}.withDefaults()); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(dest); err != nil || info.Mode().Perm() != 0o755 {
		t.Errorf("mode %v, %v", info.Mode(), err)
	}
}

func TestSingleFile(t *testing.T) {
	limits := ArtifactLimits{MaxBytes: 5}.withDefaults()
	file := tar.Header{Typeflag: tar.TypeReg, Name: "f", Uname: "hello"}
	for name, c := range map[string]struct {
		data    []byte
		archive bool
		want    string
		wantErr string
	}{
		"plain":            {[]byte("hello"), false, "hello", ""},
		"plain over":       {[]byte("hello!"), false, "", "larger than the limit"},
		"archived":         {archive(t, file), true, "hello", ""},
		"a directory":      {archive(t, tar.Header{Typeflag: tar.TypeDir, Name: "d/"}, file), true, "", "is a directory"},
		"archived over":    {archive(t, tar.Header{Typeflag: tar.TypeReg, Name: "f", Uname: "hello!"}), true, "", "larger than the limit"},
		"not an archive":   {[]byte("hello"), true, "", "not a tar+gzip"},
		"an empty archive": {archive(t), true, "", "read the archive"},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := singleFile(bytes.NewReader(c.data), c.archive, limits)
			var b []byte
			if err == nil {
				b, err = io.ReadAll(r)
			}
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("%v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || string(b) != c.want {
				t.Errorf("%q %v, want %q", b, err, c.want)
			}
		})
	}
}

func TestCheckKey(t *testing.T) {
	for key, ok := range map[string]bool{
		"artifacts/default/wf/main/0/out.tgz": true,
		"offload/default/sha256/ab":           true,
		"logs/default/wf/main/0.log":          true,
		"results/anything.json":               true,
		"artifacts/other/wf/main/0/out.tgz":   false,
		"offload/other/sha256/ab":             false,
		"runs/other/wf.json":                  false,
		"artifacts/default/../other/x":        false,
		"/artifacts/default/x":                false,
		"":                                    false,
	} {
		if err := checkKey("default", key); (err == nil) != ok {
			t.Errorf("%q: %v, want ok=%v", key, err, ok)
		}
	}
}

func TestAllowedURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://example.com/a.tgz":     true,
		"http://127.0.0.1:8080/a":       true,
		"http://localhost/a":            true,
		"http://[::1]:80/a":             true,
		"http://example.com/a":          false,
		"http://10.0.0.1/a":             false,
		"file:///etc/passwd":            false,
		"ftp://example.com/a":           false,
		"http://127.0.0.1.evil.com/a":   false,
		"http://localhost.evil.com/a":   false,
		"gopher://127.0.0.1/a":          false,
		"HTTPS://example.com/uppercase": true,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := allowedURL(u); (err == nil) != ok {
			t.Errorf("%s: %v, want ok=%v", raw, err, ok)
		}
	}
}

func TestCappedFailsPastTheLimit(t *testing.T) {
	if b, err := io.ReadAll(newCapped(strings.NewReader("12345"), 5)); err != nil || string(b) != "12345" {
		t.Errorf("at the limit: %q %v", b, err)
	}
	if _, err := io.ReadAll(newCapped(strings.NewReader("123456"), 5)); !errors.Is(err, errTooLarge) {
		t.Errorf("past the limit: %v", err)
	}
}
