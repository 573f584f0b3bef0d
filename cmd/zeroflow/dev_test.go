package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/zeroflow-dev/zeroflow/internal/devrun"
)

// buildBinary builds the zeroflow command once for the test.
func buildBinary(t *testing.T) string { return devrun.Build(t) }

// TestDevServesTheExampleAndStopsOnInterrupt runs `zeroflow dev` as a user
// would: a real process, its kubeconfig, and Ctrl-C.
func TestDevServesTheExampleAndStopsOnInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	dataDir := t.TempDir()
	dir, _ := copyExampleOnFreePort(t)
	cmd := exec.Command(bin, "dev", dir, "--data-dir", dataDir, "--broker-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	ready := make(chan string, 1)
	exited := make(chan string, 1)
	go func() {
		var seen strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			seen.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Press Ctrl-C to stop.") {
				ready <- seen.String()
			}
		}
		// Its output ended: the process is gone, so do not wait longer.
		exited <- seen.String()
	}()
	var out string
	select {
	case out = <-ready:
	case seen := <-exited:
		t.Fatalf("zeroflow dev exited before it was ready:\n%s", seen)
	case <-time.After(90 * time.Second):
		t.Fatal("zeroflow dev did not become ready within 90s")
	}
	for _, want := range []string{"loaded   WorkflowTemplate default/wft-a-simple", "export KUBECONFIG=", "broker   default/default at http://127.0.0.1:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dataDir, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	gvr := schema.GroupVersionResource{Group: "zeroflow.dev", Version: "v1alpha1", Resource: "workflowtemplates"}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wft, err := client.Resource(gvr).Namespace("default").Get(ctx, "wft-a-simple", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get the example's template through the kubeconfig: %v", err)
	}
	if entry, _, _ := unstructured.NestedString(wft.Object, "spec", "entrypoint"); entry != "main" {
		t.Errorf("entrypoint = %q", entry)
	}

	// kubectl itself, built from the pinned k8s.io/kubectl, reads the kubeconfig.
	kubectl := filepath.Join(t.TempDir(), "kubectl")
	if out, err := exec.Command("go", "build", "-o", kubectl, "../../hack/kubectl").CombinedOutput(); err != nil {
		t.Fatalf("build kubectl: %v\n%s", err, out)
	}
	got, err := exec.Command(kubectl, "--kubeconfig", filepath.Join(dataDir, "kubeconfig"), "get", "wft").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl get wft: %v\n%s", err, got)
	}
	if !strings.Contains(string(got), "ENTRYPOINT") || !strings.Contains(string(got), "wft-a-simple   main") {
		t.Errorf("kubectl get wft printed:\n%s", got)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("zeroflow dev exited with %v after Ctrl-C", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("zeroflow dev did not stop within 30s of Ctrl-C")
	}
}

func TestDevRefusesInvalidManifests(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	out, err := exec.Command(bin, "dev", "../../internal/cli/testdata/lint/bad", "--data-dir", t.TempDir(), "--broker-addr", "127.0.0.1:0").CombinedOutput()
	if err == nil {
		t.Fatalf("dev started on invalid manifests:\n%s", out)
	}
	if !strings.Contains(string(out), "invalid manifests") || !strings.Contains(string(out), "dependency cycle") {
		t.Errorf("output:\n%s", out)
	}
}
