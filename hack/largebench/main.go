// largebench measures Workflow-A on `zeroflow dev` with webhook bodies of
// 1 KB, 100 KB and 1 MB (values above 64 KiB travel by reference through
// the artifact store), and the artifact store's raw put and get rate in
// the same run, as the limit the large bodies meet. For each size it
// prints the median over -runs runs of:
//
//   - webhook latency: POST → 200, p50 of -paced posts one after another;
//   - throughput: -count webhooks, 8 at a time; workflows Succeeded per
//     second from the first POST to the last run done.
//
// Everything runs on loopback and stops by itself.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

func main() {
	var (
		runs  = flag.Int("runs", 3, "runs; medians are reported")
		count = flag.Int("count", 40, "webhooks per size in the throughput run")
		paced = flag.Int("paced", 10, "webhooks per size in the latency run")
	)
	flag.Parse()
	bin := filepath.Join(os.TempDir(), "largebench-zeroflow")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/zeroflow").CombinedOutput(); err != nil {
		log.Fatalf("build: %v\n%s", err, out)
	}
	results := map[string][]float64{}
	var order []string
	record := func(name string, v float64) {
		if _, ok := results[name]; !ok {
			order = append(order, name)
		}
		results[name] = append(results[name], v)
	}
	for r := range *runs {
		fmt.Fprintf(os.Stderr, "run %d/%d\n", r+1, *runs)
		one(bin, *count, *paced, record)
	}
	fmt.Println("| measurement | median | runs |")
	fmt.Println("|---|---:|---|")
	for _, name := range order {
		vals := results[name]
		sorted := append([]float64(nil), vals...)
		sort.Float64s(sorted)
		var all []string
		for _, v := range vals {
			all = append(all, strconv.FormatFloat(v, 'f', 1, 64))
		}
		fmt.Printf("| %s | %.1f | %s |\n", name, sorted[len(sorted)/2], strings.Join(all, ", "))
	}
}

func one(bin string, count, paced int, record func(string, float64)) {
	s := start(bin)
	defer s.stop()
	storeRate(filepath.Join(s.dataDir, "artifacts"), record)
	for _, size := range []int{1_000, 100_000, 1_000_000} {
		label := fmt.Sprintf("%d KB", size/1000)
		body := batch(size)
		var lat []float64
		for range paced {
			t0 := time.Now()
			s.post(body)
			lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
		}
		sort.Float64s(lat)
		record("webhook POST → 200, "+label+" body, p50 (ms)", lat[len(lat)/2])
		s.waitDone(paced)
		t0 := time.Now()
		var wg sync.WaitGroup
		next := make(chan struct{}, count)
		for range count {
			next <- struct{}{}
		}
		close(next)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range next {
					s.post(body)
				}
			}()
		}
		wg.Wait()
		s.waitDone(count)
		record("Workflow-A runs Succeeded per second, "+label+" bodies", float64(count)/time.Since(t0).Seconds())
	}
}

// storeRate is the artifact store's raw put and get rate for 100 KB and
// 1 MB objects (what an offloaded value costs at the store).
func storeRate(dir string, record func(string, float64)) {
	store := sdk.DirArtifacts{Dir: dir}
	ctx := context.Background()
	for _, size := range []int{100_000, 1_000_000} {
		value := bytes.Repeat([]byte("x"), size)
		const n = 200
		t0 := time.Now()
		for i := range n {
			if err := store.Put(ctx, fmt.Sprintf("bench/%d/%d", size, i), bytes.NewReader(value)); err != nil {
				log.Fatal(err)
			}
		}
		put := time.Since(t0)
		t0 = time.Now()
		for i := range n {
			r, err := store.Get(ctx, fmt.Sprintf("bench/%d/%d", size, i))
			if err != nil {
				log.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, r)
			r.Close()
		}
		get := time.Since(t0)
		label := fmt.Sprintf("%d KB", size/1000)
		record("artifact store (directory) put, "+label+" (ops/s)", n/put.Seconds())
		record("artifact store (directory) get, "+label+" (ops/s)", n/get.Seconds())
	}
}

func batch(size int) []byte {
	var b strings.Builder
	b.WriteString(`{"records": [`)
	for i := 0; b.Len() < size-120; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"execution": %d, "message": "execution %d finished", "level": "info"}`, i, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

type stack struct {
	cmd     *exec.Cmd
	dataDir string
	webhook string
	client  *controller.Client
	done    int
}

func (s *stack) post(body []byte) {
	resp, err := http.Post(s.webhook, "application/json", bytes.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		log.Fatalf("webhook answered %d for %d bytes", resp.StatusCode, len(body))
	}
}

// waitDone waits for n more runs to complete; any that did not succeed
// stops the bench.
func (s *stack) waitDone(n int) {
	want := s.done + n
	deadline := time.Now().Add(5 * time.Minute)
	for {
		l, err := s.client.ListWorkflows(context.Background(), "default", metav1.ListOptions{})
		if err == nil {
			done := 0
			for _, wf := range l.Items {
				if wf.Status.Phase.Completed() {
					if wf.Status.Phase != v1alpha1.WorkflowSucceeded {
						log.Fatalf("workflow %s: %s %s", wf.Name, wf.Status.Phase, wf.Status.Message)
					}
					done++
				}
			}
			if done >= want {
				s.done = done
				return
			}
		}
		if time.Now().After(deadline) {
			log.Fatalf("%d of %d runs done after 5 minutes", s.done, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func start(bin string) *stack {
	dir, _ := os.MkdirTemp("", "largebench-example-")
	data, _ := os.MkdirTemp("", "largebench-data-")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	for _, f := range []string{"eventsource.yaml", "sensor.yaml", "workflowtemplate.yaml", "services.yaml"} {
		b, err := os.ReadFile(filepath.Join("examples/log-pipeline", f))
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(strings.ReplaceAll(string(b), `"12000"`, strconv.Quote(port))), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "dev", dir, "--data-dir", data, "--broker-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--idle", "30s")
	cmd.Stderr = io.Discard
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Press Ctrl-C") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(3 * time.Minute):
		log.Fatal("zeroflow dev did not start")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(data, "kubeconfig"))
	if err != nil {
		log.Fatal(err)
	}
	c, err := controller.NewClient(cfg)
	if err != nil {
		log.Fatal(err)
	}
	return &stack{cmd: cmd, dataDir: data, webhook: "http://127.0.0.1:" + port + "/workflow-a", client: c}
}

func (s *stack) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
	}
	os.RemoveAll(s.dataDir)
}
