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
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/hack/internal/benchstack"
)

func main() {
	var (
		runs  = flag.Int("runs", 3, "runs; medians are reported")
		count = flag.Int("count", 40, "webhooks per size in the throughput run")
		paced = flag.Int("paced", 10, "webhooks per size in the latency run")
	)
	flag.Parse()
	ctx := context.Background()
	bin, err := benchstack.BuildZeroflow(ctx, "largebench-zeroflow")
	if err != nil {
		log.Fatal(err)
	}
	results := benchstack.NewResults()
	for r := range *runs {
		fmt.Fprintf(os.Stderr, "run %d/%d\n", r+1, *runs)
		one(ctx, bin, *count, *paced, results.Record)
	}
	oneDecimal := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	if err := results.WriteTable(os.Stdout, oneDecimal); err != nil {
		log.Fatal(err)
	}
}

func one(ctx context.Context, bin string, count, paced int, record func(string, float64)) {
	st, err := benchstack.Start(ctx, benchstack.Options{Binary: bin, Name: "largebench"})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Stop()
	s := &stack{Stack: st}
	storeRate(ctx, filepath.Join(s.DataDir, "artifacts"), record)
	for _, size := range []int{1_000, 100_000, 1_000_000} {
		label := fmt.Sprintf("%d KB", size/1000)
		body := batch(size)
		var lat []float64
		for range paced {
			t0 := time.Now()
			s.post(ctx, body)
			lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
		}
		sort.Float64s(lat)
		record("webhook POST → 200, "+label+" body, p50 (ms)", lat[len(lat)/2])
		s.waitDone(ctx, paced)
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
					s.post(ctx, body)
				}
			}()
		}
		wg.Wait()
		s.waitDone(ctx, count)
		record("Workflow-A runs Succeeded per second, "+label+" bodies", float64(count)/time.Since(t0).Seconds())
	}
}

// storeRate is the artifact store's raw put and get rate for 100 KB and
// 1 MB objects (what an offloaded value costs at the store).
func storeRate(ctx context.Context, dir string, record func(string, float64)) {
	store := sdk.DirArtifacts{Dir: dir}
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

// stack is the dev stack and how many of its runs the bench has seen done.
type stack struct {
	*benchstack.Stack
	done int
}

func (s *stack) post(ctx context.Context, body []byte) {
	if err := s.Post(ctx, body); err != nil {
		log.Fatal(err)
	}
}

// waitDone waits for n more runs to complete; any that did not succeed
// stops the bench.
func (s *stack) waitDone(ctx context.Context, n int) {
	want := s.done + n
	deadline := time.Now().Add(5 * time.Minute)
	for {
		items, err := s.Workflows(ctx)
		if err == nil {
			done := 0
			for _, wf := range items {
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
