package kubeapi

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPKIIsKeptAcrossStartsAndRenewedBeforeExpiry(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	logger := slog.New(slog.DiscardHandler)
	now := time.Now()
	first, err := loadOrCreatePKI(dir, now, logger)
	if err != nil {
		t.Fatal(err)
	}
	again, err := loadOrCreatePKI(dir, now.Add(time.Hour), logger)
	if err != nil {
		t.Fatal(err)
	}
	if string(again.caPEM) != string(first.caPEM) || string(again.keyPEM[pkiAdmin]) != string(first.keyPEM[pkiAdmin]) {
		t.Error("a valid set was not kept: a kubeconfig from before a restart would stop working")
	}
	renewed, err := loadOrCreatePKI(dir, now.Add(certValidity-renewBefore/2), logger)
	if err != nil {
		t.Fatal(err)
	}
	if string(renewed.caPEM) == string(first.caPEM) {
		t.Error("a set about to expire was kept")
	}
}

func TestPKIReplacesASetThatIsNotWhole(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	for name, spoil := range map[string]func(dir string) error{
		"missing leaf key": func(dir string) error { return os.Remove(filepath.Join(dir, pkiEtcdClient+".key")) },
		"leaf of another CA": func(dir string) error {
			other, err := loadOrCreatePKI(filepath.Join(filepath.Dir(dir), "other"), time.Now(), logger)
			if err != nil {
				return err
			}
			return writePrivate(filepath.Join(dir, pkiAdmin+".crt"), other.certPEM[pkiAdmin])
		},
		"key readable by the group": func(dir string) error { return os.Chmod(filepath.Join(dir, pkiAPIServing+".key"), 0o640) },
		"symlinked key": func(dir string) error {
			path := filepath.Join(dir, pkiAdmin+".key")
			if err := os.Rename(path, path+".elsewhere"); err != nil {
				return err
			}
			return os.Symlink(path+".elsewhere", path)
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "pki")
			first, err := loadOrCreatePKI(dir, time.Now(), logger)
			if err != nil {
				t.Fatal(err)
			}
			if err := spoil(dir); err != nil {
				t.Fatal(err)
			}
			if _, err := loadPKI(dir, time.Now()); err == nil {
				t.Fatal("the spoiled set loads")
			}
			next, err := loadOrCreatePKI(dir, time.Now(), logger)
			if err != nil {
				t.Fatal(err)
			}
			if string(next.caPEM) == string(first.caPEM) {
				t.Error("the CA was kept")
			}
			if _, err := loadPKI(dir, time.Now()); err != nil {
				t.Errorf("the new set does not load: %v", err)
			}
		})
	}
}

func TestKubeconfigIsNotWrittenWhereOthersCanWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	certs, err := createPKI(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfg := adminConfig("https://127.0.0.1:1", certs)
	err = writeKubeconfig(filepath.Join(dir, "kubeconfig"), cfg)
	if err == nil || !strings.Contains(err.Error(), "writable by every user") {
		t.Fatalf("err = %v, want a refusal", err)
	}
	private := filepath.Join(t.TempDir(), "new", "kubeconfig")
	if err := writeKubeconfig(private, cfg); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{private: 0o600, filepath.Dir(private): 0o700} {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s mode %v, want %v", path, info.Mode().Perm(), want)
		}
	}
}
