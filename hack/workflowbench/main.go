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
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/hack/internal/benchstack"
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
	ctx := context.Background()
	bin, err := benchstack.BuildZeroflow(ctx, "workflowbench-zeroflow")
	if err != nil {
		log.Fatal(err)
	}
	results := benchstack.NewResults()
	for r := range *runs {
		fmt.Fprintf(os.Stderr, "run %d/%d\n", r+1, *runs)
		one(ctx, bin, *k6, *count, *rate, *paced, *keepGo, results.Record)
	}
	if err := results.WriteTable(os.Stdout, format); err != nil {
		log.Fatal(err)
	}
}

// stack is one `zeroflow dev` process and what the bench watches of it.
type stack struct {
	*benchstack.Stack
	results *resultLog
}

func one(ctx context.Context, bin, k6 string, count, rate int, paced time.Duration, keep bool, record func(string, float64)) {
	s := start(ctx, bin, keep)
	defer s.Stop()

	// From zero: every function is cold.
	t0 := time.Now()
	name := s.postAndWait(ctx, 0)
	record("one workflow from zero, every function cold: webhook → Succeeded (ms)", ms(time.Since(t0)))
	_ = name
	t0 = time.Now()
	s.postAndWait(ctx, 1)
	record("one workflow, warm: webhook → Succeeded (ms)", ms(time.Since(t0)))
	if mean, n := s.processStartMean(); n > 0 {
		record("function process start → ready, mean over cold starts (ms)", mean)
	}

	// Paced: latency of each webhook to Running, and of each step hop.
	beforePaced := s.scrape()
	running := s.pacedLatency(ctx, rate, paced)
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
	if failed := s.failedRuns(ctx); failed > 0 {
		log.Fatalf("%d workflows did not succeed", failed)
	}
}

func start(ctx context.Context, bin string, keep bool) *stack {
	rl := &resultLog{byWorkflow: map[string]map[string]events.StepResult{}}
	rec := &http.Server{Handler: rl}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go rec.Serve(l)
	// A Trigger that copies every step result to the bench.
	trigger := fmt.Sprintf(`apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: bench-results, namespace: default}
spec:
  broker: default
  filter: {attributes: {type: %s}}
  subscriber: {uri: "http://%s"}
`, events.TypeStepResult, l.Addr())
	st, err := benchstack.Start(ctx, benchstack.Options{
		Binary:     bin,
		Name:       "workflowbench",
		ExtraFiles: map[string]string{"bench-trigger.yaml": trigger},
		HTTPClient: httpClient,
		KeepDirs:   keep,
	})
	if err != nil {
		log.Fatal(err)
	}
	return &stack{Stack: st, results: rl}
}

var httpClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func (s *stack) post(ctx context.Context, batch int) {
	body := fmt.Sprintf(`{"batch": %d, "records": [{"level": "info", "message": "step finished"}, {"level": "warn", "message": "slow"}]}`, batch)
	if err := s.Post(ctx, []byte(body)); err != nil {
		log.Fatal(err)
	}
}

// postAndWait sends one webhook and waits for its run to be archived.
func (s *stack) postAndWait(ctx context.Context, batch int) string {
	before := s.archived()
	s.post(ctx, batch)
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
	entries, _ := os.ReadDir(filepath.Join(s.DataDir, "artifacts", "runs", "default"))
	return len(entries)
}

// pacedLatency posts at rate for d, and returns for each webhook the time
// from its 200 to its workflow being seen Running (through a watch).
func (s *stack) pacedLatency(ctx context.Context, rate int, d time.Duration) []float64 {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.Client.WatchWorkflows(ctx, "default", metav1.ListOptions{})
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
			s.post(ctx, 1000+i)
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
	out, err := exec.Command(k6, "run", "--quiet", "--no-usage-report", "-e", "URL="+s.Webhook, "-e", "COUNT="+strconv.Itoa(count), "hack/k6/burst.js").CombinedOutput()
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
	resp, err := http.Get(s.MetricsURL)
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
	own := vmHWM(s.Pid())
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
		if len(fields) > 1 && fields[1] == strconv.Itoa(s.Pid()) {
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

func (s *stack) failedRuns(ctx context.Context) int {
	items, err := s.Workflows(ctx)
	if err != nil {
		log.Fatal(err)
	}
	n := 0
	for _, wf := range items {
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
