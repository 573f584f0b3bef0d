// workflowbench measures Workflow-A on `zeroflow dev`, as the first users
// run it: the zeroflow binary on a copy of examples/log-pipeline, webhooks
// in, workflows out. It prints a table of medians over -runs runs:
//
//   - webhook accepted → workflow Running, p50 and p99 (a paced run);
//   - step finished → next step started, p50 and p99 (the function's own
//     finish time to the next function's start: reply, broker, controller,
//     status write, dispatch, broker, function);
//   - workflows completed per second under a k6 burst;
//   - a workflow from zero (every function cold) and warm, and the mean
//     time for a function process to start and be ready;
//   - peak memory (the dev process and its function processes).
//
// Everything runs on loopback and stops by itself.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller"
)

func main() {
	var (
		runs   = flag.Int("runs", 3, "runs; medians are reported")
		count  = flag.Int("count", 2000, "webhooks in the k6 burst")
		rate   = flag.Int("rate", 5, "webhooks per second in the latency run (below the throughput, so that it measures latency, not a queue)")
		paced  = flag.Duration("paced", 5*time.Second, "length of the latency run")
		k6     = flag.String("k6", "bin/k6-v1.8.1", "the k6 binary")
		keepGo = flag.Bool("keep", false, "keep the temporary directories")
	)
	flag.Parse()
	bin := filepath.Join(os.TempDir(), "workflowbench-zeroflow")
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
		one(bin, *k6, *count, *rate, *paced, *keepGo, record)
	}
	fmt.Println("| measurement | median | runs |")
	fmt.Println("|---|---:|---|")
	for _, name := range order {
		vals := results[name]
		sorted := append([]float64(nil), vals...)
		sort.Float64s(sorted)
		fmt.Printf("| %s | %s | %s |\n", name, format(sorted[len(sorted)/2]), formatAll(vals))
	}
}

// stack is one `zeroflow dev` process and what the bench watches of it.
type stack struct {
	cmd        *exec.Cmd
	dataDir    string
	webhook    string
	metricsURL string
	client     *controller.Client
	results    *resultLog
}

func one(bin, k6 string, count, rate int, paced time.Duration, keep bool, record func(string, float64)) {
	s := start(bin, keep)
	defer s.stop()

	// From zero: every function is cold.
	t0 := time.Now()
	name := s.postAndWait(0)
	record("one workflow from zero, every function cold: webhook → Succeeded (ms)", ms(time.Since(t0)))
	_ = name
	t0 = time.Now()
	s.postAndWait(1)
	record("one workflow, warm: webhook → Succeeded (ms)", ms(time.Since(t0)))
	if mean, n := s.processStartMean(); n > 0 {
		record("function process start → ready, mean over cold starts (ms)", mean)
	}

	// Paced: latency of each webhook to Running, and of each step hop.
	beforePaced := s.scrape()
	running := s.pacedLatency(rate, paced)
	afterPaced := s.scrape()
	p50, p99 := percentiles(running)
	record(fmt.Sprintf("webhook accepted → workflow Running at %d/s, p50 (ms)", rate), p50)
	record(fmt.Sprintf("webhook accepted → workflow Running at %d/s, p99 (ms)", rate), p99)
	hops := s.results.stepHops()
	p50, p99 = percentiles(hops)
	record(fmt.Sprintf("step finished → next step started at %d/s, p50 (ms)", rate), p50)
	record(fmt.Sprintf("step finished → next step started at %d/s, p99 (ms)", rate), p99)
	recordControllerParts(beforePaced, afterPaced, fmt.Sprintf(" at %d/s", rate), record)

	// Burst: k6 sends count webhooks; workflows completed per second.
	before := s.archived()
	t0 = time.Now()
	beforeBurst := s.scrape()
	k6Out := s.k6Burst(k6, count)
	acceptDur := time.Since(t0)
	deadline := time.Now().Add(10 * time.Minute)
	for s.archived() < before+count {
		if time.Now().After(deadline) {
			log.Fatalf("burst: %d of %d archived after 10 minutes", s.archived()-before, count)
		}
		time.Sleep(100 * time.Millisecond)
	}
	total := time.Since(t0)
	recordControllerParts(beforeBurst, s.scrape(), " in the burst", record)
	record(fmt.Sprintf("k6 burst of %d: webhooks accepted per second", count), float64(count)/acceptDur.Seconds())
	record(fmt.Sprintf("k6 burst of %d: workflows completed per second (first webhook → last run archived)", count), float64(count)/total.Seconds())
	fmt.Fprint(os.Stderr, k6Out)
	hwm := s.peakMemory()
	record("peak memory: zeroflow dev process (MiB)", hwm[0])
	record("peak memory: function processes, summed (MiB)", hwm[1])
	if failed := s.failedRuns(); failed > 0 {
		log.Fatalf("%d workflows did not succeed", failed)
	}
}

func start(bin string, keep bool) *stack {
	dir, _ := os.MkdirTemp("", "workflowbench-example-")
	data, _ := os.MkdirTemp("", "workflowbench-data-")
	if !keep {
		defer func() {}()
	}
	port := freePort()
	rl := &resultLog{byWorkflow: map[string]map[string]events.StepResult{}}
	rec := &http.Server{Handler: rl}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go rec.Serve(l)
	for _, f := range []string{"eventsource.yaml", "sensor.yaml", "workflowtemplate.yaml", "services.yaml"} {
		b, err := os.ReadFile(filepath.Join("examples/log-pipeline", f))
		if err != nil {
			log.Fatal(err)
		}
		s := strings.ReplaceAll(string(b), `"12000"`, strconv.Quote(port))
		if err := os.WriteFile(filepath.Join(dir, f), []byte(s), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	// A Trigger that copies every step result to the bench.
	trigger := fmt.Sprintf(`apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: bench-results, namespace: default}
spec:
  broker: default
  filter: {attributes: {type: %s}}
  subscriber: {uri: "http://%s"}
`, events.TypeStepResult, l.Addr())
	if err := os.WriteFile(filepath.Join(dir, "bench-trigger.yaml"), []byte(trigger), 0o644); err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command(bin, "dev", dir, "--data-dir", data, "--broker-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--idle", "30s")
	cmd.Stderr = io.Discard
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		var seen strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			seen.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Press Ctrl-C") {
				ready <- seen.String()
			}
		}
	}()
	var banner string
	select {
	case banner = <-ready:
	case <-time.After(3 * time.Minute):
		log.Fatal("zeroflow dev did not start")
	}
	m := regexp.MustCompile(`metrics   (\S+)`).FindStringSubmatch(banner)
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(data, "kubeconfig"))
	if err != nil {
		log.Fatal(err)
	}
	c, err := controller.NewClient(cfg)
	if err != nil {
		log.Fatal(err)
	}
	return &stack{cmd: cmd, dataDir: data, webhook: "http://127.0.0.1:" + port + "/workflow-a", metricsURL: m[1], client: c, results: rl}
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

var httpClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func (s *stack) post(batch int) {
	body := fmt.Sprintf(`{"batch": %d, "records": [{"level": "info", "message": "step finished"}, {"level": "warn", "message": "slow"}]}`, batch)
	resp, err := httpClient.Post(s.webhook, "application/json", strings.NewReader(body))
	if err != nil {
		log.Fatalf("webhook: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		log.Fatalf("webhook answered %d", resp.StatusCode)
	}
}

// postAndWait sends one webhook and waits for its run to be archived.
func (s *stack) postAndWait(batch int) string {
	before := s.archived()
	s.post(batch)
	deadline := time.Now().Add(2 * time.Minute)
	for s.archived() == before {
		if time.Now().After(deadline) {
			log.Fatal("the workflow did not finish")
		}
		time.Sleep(2 * time.Millisecond)
	}
	return ""
}

func (s *stack) archived() int {
	entries, _ := os.ReadDir(filepath.Join(s.dataDir, "artifacts", "runs", "default"))
	return len(entries)
}

// pacedLatency posts at rate for d, and returns for each webhook the time
// from its 200 to its workflow being seen Running (through a watch).
func (s *stack) pacedLatency(rate int, d time.Duration) []float64 {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := s.client.WatchWorkflows(ctx, "default", metav1.ListOptions{})
	if err != nil {
		log.Fatal(err)
	}
	var mu sync.Mutex
	runningAt := map[int]time.Time{}
	go func() {
		for ev := range w.ResultChan() {
			if ev.Type != watch.Added && ev.Type != watch.Modified {
				continue
			}
			wf, ok := ev.Object.(*v1alpha1.Workflow)
			if !ok || wf.Status.Phase == "" {
				continue
			}
			b := batchOf(wf)
			now := time.Now()
			mu.Lock()
			if _, seen := runningAt[b]; !seen {
				runningAt[b] = now
			}
			mu.Unlock()
		}
	}()
	n := int(d.Seconds() * float64(rate))
	acceptedAt := make([]time.Time, n)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	for i := range n {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.post(1000 + i)
			acceptedAt[i] = time.Now()
		}()
	}
	tick.Stop()
	wg.Wait()
	deadline := time.Now().Add(time.Minute)
	for {
		mu.Lock()
		got := 0
		for i := range n {
			if _, ok := runningAt[1000+i]; ok {
				got++
			}
		}
		mu.Unlock()
		if got == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	var out []float64
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		if t, ok := runningAt[1000+i]; ok {
			// The watch can report Running before the client saw its 200.
			out = append(out, max(0, ms(t.Sub(acceptedAt[i]))))
		}
	}
	return out
}

func batchOf(wf *v1alpha1.Workflow) int {
	for _, p := range wf.Spec.Arguments.Parameters {
		if p.Name == "payload" {
			var v struct{ Batch int }
			_ = json.Unmarshal([]byte(p.ValueString()), &v)
			return v.Batch
		}
	}
	return -1
}

func (s *stack) k6Burst(k6 string, count int) string {
	out, err := exec.Command(k6, "run", "--quiet", "--no-usage-report", "-e", "URL="+s.webhook, "-e", "COUNT="+strconv.Itoa(count), "hack/k6/burst.js").CombinedOutput()
	if err != nil {
		log.Fatalf("k6: %v\n%s", err, out)
	}
	return string(out)
}

// processStartMean reads the mean start time of the function processes
// (the user's Services) from the stack's metrics.
func (s *stack) processStartMean() (float64, int) {
	m := s.scrape()
	var sum, n float64
	for _, fn := range []string{"parse", "enrich", "metrics", "store", "echo"} {
		sum += m[`zeroflow_function_start_seconds_sum{function="`+fn+`"}`]
		n += m[`zeroflow_function_start_seconds_count{function="`+fn+`"}`]
	}
	if n == 0 {
		return 0, 0
	}
	return sum / n * 1000, int(n)
}

// scrape reads the dev stack's /metrics: each sample line's name and
// labels, as written, to its value.
func (s *stack) scrape() map[string]float64 {
	out := map[string]float64{}
	resp, err := http.Get(s.metricsURL)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// controllerParts are the controller's timings, as means in ms over what
// happened between two scrapes: where the step-to-step hop goes.
var controllerParts = []struct{ name, metric string }{
	{"controller: one step result taken (wait, read, advance, write, dispatch), mean (ms)", `zeroflow_controller_advance_seconds_%s{input="StepResult"}`},
	{"controller: waiting for the workflow's lock, mean (ms)", `zeroflow_controller_lock_wait_seconds_%s`},
	{"controller: one status write to the API server, mean (ms)", `zeroflow_controller_status_write_seconds_%s`},
	{"controller: broker accepting one step.run, mean (ms)", `zeroflow_controller_send_seconds_%s`},
}

func recordControllerParts(before, after map[string]float64, suffix string, record func(string, float64)) {
	for _, p := range controllerParts {
		sum := after[fmt.Sprintf(p.metric, "sum")] - before[fmt.Sprintf(p.metric, "sum")]
		n := after[fmt.Sprintf(p.metric, "count")] - before[fmt.Sprintf(p.metric, "count")]
		if n > 0 {
			record(p.name+suffix, sum/n*1000)
		}
	}
}

// peakMemory is the VmHWM of the dev process and the sum of its children's.
func (s *stack) peakMemory() [2]float64 {
	own := vmHWM(s.cmd.Process.Pid)
	var kids float64
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(s.cmd.Process.Pid) {
			kids += vmHWM(pid)
		}
	}
	return [2]float64{own, kids}
}

func vmHWM(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func (s *stack) failedRuns() int {
	l, err := s.client.ListWorkflows(context.Background(), "default", metav1.ListOptions{})
	if err != nil {
		log.Fatal(err)
	}
	n := 0
	for _, wf := range l.Items {
		if wf.Status.Phase != v1alpha1.WorkflowSucceeded {
			n++
		}
	}
	return n
}

// resultLog keeps the step results the bench's Trigger copies to it.
type resultLog struct {
	mu         sync.Mutex
	byWorkflow map[string]map[string]events.StepResult
}

func (r *resultLog) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	ev, err := binding.ToEvent(req.Context(), cehttp.NewMessageFromHttpRequest(req))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var res events.StepResult
	if err := ev.DataAs(&res); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	wf := fmt.Sprint(ev.Extensions()[events.ExtWorkflow])
	node := fmt.Sprint(ev.Extensions()[events.ExtNode])
	r.mu.Lock()
	if r.byWorkflow[wf] == nil {
		r.byWorkflow[wf] = map[string]events.StepResult{}
	}
	r.byWorkflow[wf][node] = res
	r.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

// stepHops is, for every dependency of Workflow-A's DAG, the time from the
// upstream function's finish to the downstream function's start.
func (r *resultLog) stepHops() []float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	edges := [][2]string{{"main.parse", "main.enrich"}, {"main.parse", "main.metrics"}, {"main.store", "main.report"}}
	var out []float64
	for _, nodes := range r.byWorkflow {
		for _, e := range edges {
			a, ok1 := nodes[e[0]]
			b, ok2 := nodes[e[1]]
			if ok1 && ok2 {
				out = append(out, ms(b.StartedAt.Sub(a.FinishedAt)))
			}
		}
		// store waits for both enrich and metrics: the later one.
		en, ok1 := nodes["main.enrich"]
		me, ok2 := nodes["main.metrics"]
		st, ok3 := nodes["main.store"]
		if ok1 && ok2 && ok3 {
			last := en.FinishedAt
			if me.FinishedAt.After(last) {
				last = me.FinishedAt
			}
			out = append(out, ms(st.StartedAt.Sub(last)))
		}
	}
	return out
}

func percentiles(v []float64) (p50, p99 float64) {
	if len(v) == 0 {
		return 0, 0
	}
	sort.Float64s(v)
	return v[len(v)/2], v[min(len(v)-1, len(v)*99/100)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func freePort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p
}

func format(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

func formatAll(vs []float64) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = format(v)
	}
	return strings.Join(parts, ", ")
}
