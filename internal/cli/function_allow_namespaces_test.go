package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/internal/identity"
	"github.com/zeroflow-dev/zeroflow/internal/kubeapi"
	"github.com/zeroflow-dev/zeroflow/manifests"
)

func TestParseAllowNamespaces(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" , ", nil},
		{"team-b", []string{"team-b"}},
		{" team-b, team-c ,team-b,", []string{"team-b", "team-c"}},
		{"*", []string{"*"}},
		{"team-b,*", []string{"team-b", "*"}},
	} {
		got, err := parseAllowNamespaces(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parseAllowNamespaces(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	// A typo must not silently narrow (or widen) what the admin meant.
	for _, bad := range []string{"Team_B", "team-b,a/b", "**", "-x"} {
		if got, err := parseAllowNamespaces(bad); err == nil || !strings.Contains(err.Error(), "--allow-namespaces") {
			t.Errorf("parseAllowNamespaces(%q) = %q, %v; want an error naming the flag", bad, got, err)
		}
	}
}

// Both functions that act on objects take the flag and its environment
// default, and refuse to start on a wrong entry before reading anything else.
func TestFunctionsTakeAllowNamespaces(t *testing.T) {
	t.Setenv(envAllowNamespaces, "team-env")
	for _, fn := range []string{"resource", "sensor"} {
		code, out := run("function", fn, "--help")
		if code != 0 || !strings.Contains(out, "--allow-namespaces") || !strings.Contains(out, `"team-env"`) || !strings.Contains(out, "cluster-admin") {
			t.Errorf("function %s --help: exit %d, want --allow-namespaces defaulting to $%s:\n%s", fn, code, envAllowNamespaces, out)
		}
		code, out = run("function", fn, "--allow-namespaces", "Bad_NS", "--kubeconfig", "/nonexistent")
		if code == 0 || !strings.Contains(out, `--allow-namespaces: "Bad_NS"`) {
			t.Errorf("function %s --allow-namespaces Bad_NS: exit %d:\n%s", fn, code, out)
		}
	}
	// Functions that act on no objects have no boundary to widen.
	for _, fn := range []string{"exec", "http", "archive"} {
		if _, out := run("function", fn, "--help"); strings.Contains(out, "--allow-namespaces") {
			t.Errorf("function %s takes --allow-namespaces, but acts on no objects", fn)
		}
	}
}

// The flag reaches the resource function: `zeroflow function resource`
// against the in-process API server, with --allow-namespaces=team-b, lets a
// workflow of team-a create a Workflow in team-b but still not in team-c.
func TestFunctionResourceAllowNamespacesReachesTheFunction(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	crds, err := manifests.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	api, err := kubeapi.Start(ctx, kubeapi.Options{KubeconfigPath: kubeconfig, CRDs: crds, UnsafeNoFsync: true})
	if err != nil {
		t.Fatalf("start the API server: %v", err)
	}
	defer api.Stop()
	dyn, err := dynamic.NewForConfig(api.Config())
	if err != nil {
		t.Fatal(err)
	}
	workflows := dyn.Resource(v1alpha1.SchemeGroupVersion.WithResource("workflows"))

	t.Setenv(sdk.EnvArtifacts, filepath.Join(dir, "artifacts"))
	// No sender identity here: this test is about the namespace boundary.
	t.Setenv(identity.EnvAudience, "")
	t.Setenv(envAllowNamespaces, "")
	addr := freeAddr(t)
	var out syncBuffer
	done := make(chan int, 1)
	fnCtx, stopFn := context.WithCancel(ctx)
	go func() {
		done <- Execute(fnCtx, []string{"function", "resource", "--kubeconfig", kubeconfig, "--addr", addr, "--sink", "http://127.0.0.1:1", "--allow-namespaces", "team-b"}, &out, &out)
	}()
	defer func() {
		stopFn()
		if code := <-done; code != 0 {
			t.Errorf("function resource exited %d:\n%s", code, out.String())
		}
	}()
	waitReady(t, addr, done, &out)

	child := func(name, ns string) string {
		return fmt.Sprintf(`{"apiVersion": "zeroflow.dev/v1alpha1", "kind": "Workflow", "metadata": {"name": %q, "namespace": %q},
			"spec": {"entrypoint": "main", "templates": [{"name": "main", "suspend": {}}]}}`, name, ns)
	}
	if res := postStep(t, addr, "team-a", child("allowed", "team-b")); res.Phase != v1alpha1.NodeSucceeded {
		t.Fatalf("create in the allowed team-b: %s %s", res.Phase, res.Message)
	}
	if _, err := workflows.Namespace("team-b").Get(ctx, "allowed", metav1.GetOptions{}); err != nil {
		t.Errorf("the Workflow is not in team-b: %v", err)
	}
	// The refusal names the flag exactly as this command spells it.
	res := postStep(t, addr, "team-a", child("intruder", "team-c"))
	if res.Phase != v1alpha1.NodeFailed || !strings.Contains(res.Message, "--allow-namespaces=team-c") {
		t.Errorf("create in team-c: %s %q, want Failed naming --allow-namespaces=team-c", res.Phase, res.Message)
	}
	if _, err := workflows.Namespace("team-c").Get(ctx, "intruder", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a step of team-a created a Workflow in team-c (get: %v)", err)
	}
}

// postStep sends one step.run of a workflow in ns creating manifest, as the
// broker delivers it (binary mode), and returns the result in the reply.
func postStep(t *testing.T, addr, ns, manifest string) events.StepResult {
	t.Helper()
	body, err := json.Marshal(events.StepRun{Workflow: "parent", Namespace: ns, UID: "u1", NodeID: "main.make", Template: v1alpha1.Template{
		Name:     "make",
		Resource: &v1alpha1.ResourceTemplate{Action: "create", Manifest: manifest},
	}})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"Content-Type":   "application/json",
		"Ce-Specversion": "1.0",
		// One id per manifest: a step function runs a step.run id once.
		"Ce-Id":     fmt.Sprintf("u1/main.make-%08x/0", crc32.ChecksumIEEE([]byte(manifest))),
		"Ce-Type":   events.TypeStepRun,
		"Ce-Source": "/zeroflow/controller",
	} {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res events.StepResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		t.Fatalf("reply (status %d, type %q): %v", resp.StatusCode, resp.Header.Get("Ce-Type"), err)
	}
	return res
}

// freeAddr is a loopback address nothing listens on just now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// waitReady waits for the function's readiness endpoint, failing early if
// the command exits.
func waitReady(t *testing.T, addr string, done <-chan int, out *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case code := <-done:
			t.Fatalf("the function exited %d before serving:\n%s", code, out.String())
		default:
		}
		if resp, err := http.Get("http://" + addr + "/health/readiness"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the function did not get ready on %s:\n%s", addr, out.String())
}

// syncBuffer is a bytes.Buffer the command and the test may use at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
