#!/usr/bin/env bash
# bench.sh: run zeroflow's benchmarks BENCH_COUNT times and print the median
# of each, with ratios against the raw limits measured in the same run.
# Record the tables in docs/benchmarks.md with the machine they ran on.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${BENCH_COUNT:-5}
benchtime=${BENCH_TIME:-1s}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

echo "# machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(go version)"
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# count=$count benchtime=$benchtime"
echo

echo "## Engine: one Advance (pure, no I/O)"
go test -run '^$' -bench . -benchmem -count "$count" -benchtime "$benchtime" ./controller/engine/ | tee -a "$out" | go run ./hack/benchtable
echo

echo "## Persisting a workflow status: API server versus a raw etcd write"
go test -run '^$' -bench . -benchmem -count "$count" -benchtime "$benchtime" ./internal/kubeapi/ | tee -a "$out" | go run ./hack/benchtable
echo

echo "## Ratios"
go run ./hack/benchtable \
  -ratio StatusUpdate10000/EtcdPut800K \
  -ratio AdvanceLoop10000/StatusUpdate10000 \
  -ratio AdvanceDAG1000/StatusUpdate10000 \
  -ratio StatusUpdateWorkflowA/EtcdPutWorkflowA \
  -ratio StatusUpdateWorkflowAConcurrent/EtcdPutWorkflowA < "$out" | sed -n '/ratio/,$p'
echo

echo "## Sender identity: what the checks cost per event, against an in-process publish without them"
go test -run '^$' -bench . -benchmem -count "$count" -benchtime "$benchtime" ./internal/identity/ | tee -a "$out" | go run ./hack/benchtable
go test -run '^$' -bench 'PublishWith' -benchmem -count "$count" -benchtime "$benchtime" ./broker/ | tee -a "$out" | go run ./hack/benchtable
go run ./hack/benchtable \
  -ratio PublishWithPolicies/PublishWithoutIdentity \
  -ratio VerifyCached/PublishWithoutIdentity -ratio VerifyUncached/PublishWithoutIdentity < "$out" | sed -n '/ratio/,$p'
echo

echo "## Broker: durable ingress and end-to-end latency against the raw limits"
go run ./hack/brokerbench -runs "$count" -duration "${BROKER_BENCH_DURATION:-5s}"
echo

echo "## Events: webhook with k6, and a one-dependency sensor, against the raw limits"
go run ./hack/eventsbench -runs "$count" -duration "${EVENTS_BENCH_DURATION:-10s}" -k6 "${K6:-bin/k6-v1.8.1}"
echo

echo "## Workflows: Workflow-A on zeroflow dev under k6, against what limits it"
go run ./hack/workflowbench -runs "$count" -count "${WORKFLOW_BENCH_COUNT:-1000}" -k6 "${K6:-bin/k6-v1.8.1}"
echo

echo "## Large bodies: Workflow-A with 1 KB, 100 KB and 1 MB webhook bodies (offloaded above 64 KiB), and the artifact store's raw rate"
go run ./hack/largebench -runs "${LARGE_BENCH_RUNS:-3}" -count "${LARGE_BENCH_COUNT:-40}"
