package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/internal/devrun"
)

// burstSize is how many webhooks each end-to-end run sends at once.
const burstSize = 500

// devRun is a `zeroflow dev` process on a copy of examples/log-pipeline.
type devRun struct {
	*devrun.Run
	webhook string
}

// copyExampleOnFreePort copies examples/log-pipeline with its webhook moved
// from the fixed port 12000 to a free one, so that tests pass while a
// `make run` holds 12000 on the same machine.
func copyExampleOnFreePort(t *testing.T) (dir, port string) {
	t.Helper()
	dir = t.TempDir()
	port = freePort(t)
	for _, f := range []string{"eventsource.yaml", "sensor.yaml", "workflowtemplate.yaml", "services.yaml"} {
		b, err := os.ReadFile(filepath.Join("../../examples/log-pipeline", f))
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ReplaceAll(string(b), `"12000"`, fmt.Sprintf("%q", port))
		if err := os.WriteFile(filepath.Join(dir, f), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, port
}

// startDev copies the example (with the webhook on a free port) and runs
// `zeroflow dev` on it with extra flags.
func startDev(t *testing.T, bin string, flags ...string) *devRun {
	t.Helper()
	dir, port := copyExampleOnFreePort(t)
	d := startDevOn(t, bin, dir, flags...)
	d.webhook = "http://127.0.0.1:" + port + "/workflow-a"
	return d
}

// startDevOn runs `zeroflow dev` on the manifests in dir, with extra flags,
// and waits until it is ready.
func startDevOn(t *testing.T, bin, dir string, flags ...string) *devRun {
	t.Helper()
	return &devRun{Run: devrun.Start(t, bin, dir, flags...)}
}

// burst POSTs n webhooks, 32 at a time; each is sent `copies` times as the
// same CloudEvent (same id) when copies > 1, as a sender that retries does.
func burst(t *testing.T, url string, n, copies int, during func(sent int)) {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	var next, sent atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, n*copies)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				for range copies {
					body := fmt.Sprintf(`{"batch": %d, "message": "execution %d finished", "level": "info"}`, i, i)
					req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					if copies > 1 {
						// A CloudEvent passes through the webhook with its id;
						// its data is Argo's webhook shape, so the sensor's
						// dataKey body finds the payload.
						req, _ = http.NewRequest(http.MethodPost, url, strings.NewReader(`{"header": {}, "body": `+body+`}`))
						req.Header.Set("Content-Type", "application/json")
						req.Header.Set("ce-specversion", "1.0")
						req.Header.Set("ce-id", fmt.Sprintf("burst-%d", i))
						req.Header.Set("ce-type", "webhook")
						req.Header.Set("ce-source", "workflow-a-webhook")
						req.Header.Set("ce-subject", "workflowA")
					}
					resp, err := client.Do(req)
					if err != nil {
						errs <- err
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						errs <- fmt.Errorf("webhook %d answered %d", i, resp.StatusCode)
					}
				}
				if s := int(sent.Add(1)); during != nil {
					during(s)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("webhook: %v", err)
	}
}

// waitAllSucceeded waits until want workflows exist and all have
// completed; it returns the count of Succeeded ones and every name.
func waitAllSucceeded(t *testing.T, d *devRun, want int, within time.Duration) {
	t.Helper()
	c := d.Client(t)
	deadline := time.Now().Add(within)
	var last string
	for {
		l, err := c.ListWorkflows(context.Background(), "default", metav1.ListOptions{})
		if err == nil {
			phases := map[v1alpha1.WorkflowPhase]int{}
			for _, wf := range l.Items {
				phases[wf.Status.Phase]++
			}
			last = fmt.Sprintf("%d workflows, phases %v", len(l.Items), phases)
			if len(l.Items) >= want && phases[v1alpha1.WorkflowSucceeded]+phases[v1alpha1.WorkflowFailed]+phases[v1alpha1.WorkflowError] == len(l.Items) {
				if len(l.Items) != want || phases[v1alpha1.WorkflowSucceeded] != want {
					var why []string
					for _, wf := range l.Items {
						if wf.Status.Phase != v1alpha1.WorkflowSucceeded && len(why) < 5 {
							for id, n := range wf.Status.Nodes {
								if n.Phase.FailedOrError() && n.Type == v1alpha1.NodeTypeLeaf {
									why = append(why, fmt.Sprintf("%s %s: %s", wf.Name, id, n.Message))
								}
							}
						}
					}
					var trail []string
					if len(why) > 0 {
						name, _, _ := strings.Cut(why[0], " ")
						for _, line := range strings.Split(d.Log.String(), "\n") {
							if strings.Contains(line, name) && len(trail) < 40 {
								trail = append(trail, line)
							}
						}
					}
					if path := os.Getenv("ZEROFLOW_E2E_DUMP"); path != "" {
						_ = os.WriteFile(path, []byte(d.Log.String()), 0o644)
					}
					// And what went wrong anywhere: the first warnings and errors.
					var warnings []string
					for _, line := range strings.Split(d.Log.String(), "\n") {
						if (strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") || strings.Contains(line, "delivery failed")) && len(warnings) < 30 {
							warnings = append(warnings, line)
						}
					}
					t.Fatalf("want exactly %d Succeeded workflows, got %s; failures:\n%s\nthe first one's log:\n%s\nthe first warnings and errors:\n%s", want, last, strings.Join(why, "\n"), strings.Join(trail, "\n"), strings.Join(warnings, "\n"))
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s; log tail:\n%s", within, last, d.Log.Tail(30))
		}
		time.Sleep(500 * time.Millisecond)
	}
	// Let late duplicates show themselves before the count is final.
	time.Sleep(2 * time.Second)
	l, err := c.ListWorkflows(context.Background(), "default", metav1.ListOptions{})
	if err != nil || len(l.Items) != want {
		t.Fatalf("workflows after settling: %d, %v (want %d)", len(l.Items), err, want)
	}
	// Every run's record reaches the archive.
	records := filepath.Join(d.DataDir, "artifacts", "runs", "default")
	for {
		entries, _ := os.ReadDir(records)
		if len(entries) == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d archived run records, want %d", len(entries), want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestWorkflowABurstEndToEnd is the first users' job, as they run it: the
// zeroflow binary, `zeroflow dev` on the example, and a burst of webhooks.
// Every webhook gives exactly one Succeeded Workflow-A and one archived run
// record: none lost, none duplicated, also when every webhook is sent
// twice, when the controller is killed mid-burst, and when 5% of step
// calls fail.
func TestWorkflowABurstEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)

	t.Run("burst", func(t *testing.T) {
		d := startDev(t, bin)
		burst(t, d.webhook, burstSize, 1, nil)
		waitAllSucceeded(t, d, burstSize, 3*time.Minute)
	})

	t.Run("every webhook twice", func(t *testing.T) {
		d := startDev(t, bin)
		burst(t, d.webhook, burstSize, 2, nil)
		waitAllSucceeded(t, d, burstSize, 3*time.Minute)
	})

	t.Run("5% of step calls fail", func(t *testing.T) {
		d := startDev(t, bin, "--inject-failures", "0.05")
		burst(t, d.webhook, burstSize, 1, nil)
		waitAllSucceeded(t, d, burstSize, 3*time.Minute)
		if n := injectedFailures(t, d); n == 0 {
			t.Errorf("no failure was injected")
		} else {
			t.Logf("%d step deliveries failed and were retried", n)
		}
	})

	t.Run("controller killed mid-burst", func(t *testing.T) {
		port := freePort(t)
		d := startDev(t, bin, "--controller", "http://127.0.0.1:"+port)
		startController := func() *exec.Cmd {
			cmd := exec.Command(bin, "controller", "--kubeconfig", filepath.Join(d.DataDir, "kubeconfig"), "--sink", d.BrokerURL, "--addr", "127.0.0.1:"+port, "--resync", "2s")
			cmd.Stdout, cmd.Stderr = d.Log, d.Log
			// Its identity, as the dev stack lists it for a controller of
			// its own process (a pod gets the same from render).
			idEnv, err := os.ReadFile(filepath.Join(d.DataDir, "identity", "controller.env"))
			if err != nil {
				t.Fatal(err)
			}
			cmd.Env = append(os.Environ(), strings.Fields(string(idEnv))...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			return cmd
		}
		ctrl := startController()
		var killed atomic.Bool
		var mu sync.Mutex
		burst(t, d.webhook, burstSize, 1, func(sent int) {
			if sent == burstSize/3 && killed.CompareAndSwap(false, true) {
				mu.Lock()
				defer mu.Unlock()
				_ = ctrl.Process.Signal(syscall.SIGKILL)
				_ = ctrl.Wait()
				time.Sleep(time.Second)
				ctrl = startController()
			}
		})
		defer func() {
			mu.Lock()
			defer mu.Unlock()
			_ = ctrl.Process.Signal(syscall.SIGTERM)
			_ = ctrl.Wait()
		}()
		if !killed.Load() {
			t.Fatal("the controller was not killed")
		}
		waitAllSucceeded(t, d, burstSize, 3*time.Minute)
	})
}

// injectedFailures sums zeroflow_function_injected_failures_total from the
// dev stack's /metrics.
func injectedFailures(t *testing.T, d *devRun) int {
	t.Helper()
	m := regexp.MustCompile(`metrics   (\S+)`).FindStringSubmatch(d.Banner)
	if m == nil {
		t.Fatalf("no metrics address in:\n%s", d.Banner)
	}
	resp, err := http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	total := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "zeroflow_function_injected_failures_total{") {
			var v float64
			fmt.Sscanf(line[strings.LastIndexByte(line, ' ')+1:], "%g", &v)
			total += int(v)
		}
	}
	return total
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p
}
