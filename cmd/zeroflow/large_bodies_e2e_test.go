package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller"
	"github.com/zeroflow-dev/zeroflow/internal/testminio"
)

// maxPayloadSize is the example webhook's limit (examples/log-pipeline,
// raised to show batches of megabytes).
const maxPayloadSize = 17000000

// logBatch is a webhook body of about size bytes: {"records": [...]} of
// execution records, and how many records it holds.
func logBatch(size int) ([]byte, int) {
	var b strings.Builder
	b.WriteString(`{"records": [`)
	n := 0
	for b.Len() < size-120 {
		if n > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"execution": %d, "message": "execution %d finished", "level": "info", "ms": %d}`, n, n, n%997)
		n++
	}
	b.WriteString(`]}`)
	for b.Len() < size {
		b.WriteString(" ")
	}
	return []byte(b.String()), n
}

// postBody POSTs a body to the webhook and returns the status code.
func postBody(t *testing.T, url string, body []byte) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		t.Fatalf("POST %d bytes: %v", len(body), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// waitNewRun waits for a workflow not in seen to complete, and returns it.
func waitNewRun(t *testing.T, d *devRun, seen map[string]bool, within time.Duration) *v1alpha1.Workflow {
	t.Helper()
	c := d.Client(t)
	deadline := time.Now().Add(within)
	for {
		l, err := c.ListWorkflows(context.Background(), "default", metav1.ListOptions{})
		if err == nil {
			for i := range l.Items {
				wf := &l.Items[i]
				if !seen[wf.Name] && wf.Status.Phase.Completed() {
					seen[wf.Name] = true
					return wf
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new run completed within %s; log tail:\n%s", within, d.Log.Tail(40))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkRun asserts a completed Workflow-A run: Succeeded, parse counted
// every record, and the stored object is below the bound, as read back
// through the API.
func checkRun(t *testing.T, d *devRun, wf *v1alpha1.Workflow, records int) {
	t.Helper()
	if wf.Status.Phase != v1alpha1.WorkflowSucceeded {
		var why []string
		for id, n := range wf.Status.Nodes {
			if n.Phase.FailedOrError() {
				why = append(why, id+": "+n.Message)
			}
		}
		t.Fatalf("run %s: %s %q; nodes: %v; log tail:\n%s", wf.Name, wf.Status.Phase, wf.Status.Message, why, d.Log.Tail(30))
	}
	count := ""
	for id, n := range wf.Status.Nodes {
		if strings.HasSuffix(id, ".parse") && n.Outputs != nil {
			count = n.Outputs.Parameters["count"]
		}
	}
	if count != strconv.Itoa(records) {
		t.Errorf("run %s: parse counted %q records, want %d", wf.Name, count, records)
	}
	// The object as the API serves it, not as this test decoded it.
	raw, err := d.Client(t).GetWorkflow(context.Background(), wf.Namespace, wf.Name)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(raw)
	if len(b) >= controller.DefaultMaxObjectBytes {
		t.Errorf("run %s: stored Workflow is %d bytes, not below the bound of %d", wf.Name, len(b), controller.DefaultMaxObjectBytes)
	}
	t.Logf("run %s: %d records, stored Workflow %d bytes", wf.Name, records, len(b))
}

// TestLargeWebhookBodiesEndToEnd: log batches of 100 KB to 10 MB through
// the binary's Workflow-A each give a Succeeded run that counted every
// record, with the stored Workflow below the bound (values travel by
// reference); with the directory store and with a real MinIO; and a body
// just under the webhook's limit runs while one just over is refused with
// 413 and starts nothing.
func TestLargeWebhookBodiesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	sizes := []int{100_000, 600_000, 1_000_000, 5_000_000, 10_000_000}
	run := func(t *testing.T, flags ...string) {
		d := startDev(t, bin, flags...)
		seen := map[string]bool{}
		for _, size := range sizes {
			body, n := logBatch(size)
			if code := postBody(t, d.webhook, body); code != http.StatusOK {
				t.Fatalf("%d bytes: webhook answered %d; log tail:\n%s", size, code, d.Log.Tail(30))
			}
			checkRun(t, d, waitNewRun(t, d, seen, time.Minute), n)
		}
	}
	t.Run("directory store", func(t *testing.T) { run(t) })
	t.Run("minio", func(t *testing.T) {
		addr := testminio.Start(t, "zflow")
		t.Setenv("AWS_ACCESS_KEY_ID", testminio.User)
		t.Setenv("AWS_SECRET_ACCESS_KEY", testminio.Password)
		run(t, "--artifacts", "s3://zflow/dev?endpoint="+addr+"&insecure=true")
	})
	t.Run("the webhook's limit", func(t *testing.T) {
		d := startDev(t, bin)
		seen := map[string]bool{}
		over, _ := logBatch(maxPayloadSize + 100)
		if code := postBody(t, d.webhook, over); code != http.StatusRequestEntityTooLarge {
			t.Fatalf("%d bytes (over the limit): webhook answered %d, want 413", len(over), code)
		}
		under, n := logBatch(maxPayloadSize - 1000)
		if code := postBody(t, d.webhook, under); code != http.StatusOK {
			t.Fatalf("%d bytes (under the limit): webhook answered %d, want 200", len(under), code)
		}
		checkRun(t, d, waitNewRun(t, d, seen, 90*time.Second), n)
		// Nothing of the refused body ran: one run only, after settling.
		time.Sleep(2 * time.Second)
		l, err := d.Client(t).ListWorkflows(context.Background(), "default", metav1.ListOptions{})
		if err != nil || len(l.Items) != 1 {
			t.Fatalf("%d workflows (%v), want only the one under the limit", len(l.Items), err)
		}
	})
	t.Run("zeroflow get and submit -p @file", func(t *testing.T) {
		d := startDev(t, bin)
		body, n := logBatch(300_000)
		file := filepath.Join(t.TempDir(), "batch.json")
		if err := os.WriteFile(file, body, 0o600); err != nil {
			t.Fatal(err)
		}
		zf := func(args ...string) string {
			t.Helper()
			cmd := exec.Command(bin, append(args, "--kubeconfig", filepath.Join(d.DataDir, "kubeconfig"))...)
			cmd.Env = append(os.Environ(), "ZEROFLOW_ARTIFACTS="+filepath.Join(d.DataDir, "artifacts"))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("zeroflow %v: %v\n%s", args, err, out)
			}
			return string(out)
		}
		zf("submit", "--from", "workflowtemplate/wft-a-simple", "-p", "payload=@"+file)
		wf := waitNewRun(t, d, map[string]bool{}, time.Minute)
		checkRun(t, d, wf, n)
		p := wf.Spec.Arguments.Parameters
		if len(p) == 0 || p[0].ValueRef == nil {
			t.Fatalf("the submitted payload is not a valueRef: %+v", p)
		}
		if out := zf("get", wf.Name); !strings.Contains(out, fmt.Sprintf("(offloaded: %d bytes, sha256:", len(body))) {
			t.Errorf("zeroflow get does not show the offloaded payload short:\n%s", out)
		}
		if out := zf("get", wf.Name, "--show-values", "-o", "json"); !strings.Contains(out, `execution 7 finished`) {
			t.Errorf("zeroflow get --show-values does not load the payload (%d bytes of output)", len(out))
		}
		// A run that cannot go on ends in Error at once, its reason in
		// `zeroflow get`: here an artifactRepositoryRef to a ConfigMap
		// that does not exist.
		bad := filepath.Join(t.TempDir(), "bad.yaml")
		if err := os.WriteFile(bad, []byte("apiVersion: zeroflow.dev/v1alpha1\nkind: Workflow\nmetadata: {name: no-repo}\nspec:\n  workflowTemplateRef: {name: wft-a-simple}\n  artifactRepositoryRef: {configMap: nope}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		zf("submit", bad)
		start := time.Now()
		for {
			out := zf("get", "no-repo")
			if strings.Contains(out, "Error") && strings.Contains(out, "ConfigMap default/nope not found") {
				break
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("zeroflow get after 10s:\n%s", out)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
}
