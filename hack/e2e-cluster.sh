#!/usr/bin/env bash
# e2e-cluster.sh: Workflow-A on the cluster hack/cluster-up.sh made, under
# a k6 burst, with the counts of the local end-to-end test
# (cmd/zeroflow TestWorkflowABurstEndToEnd): COUNT webhooks give exactly
# COUNT Succeeded workflows (none lost, none twice) and COUNT run records in
# the artifact store. Not run in CI (it needs the cluster). Traffic goes
# only to 127.0.0.1, through a port-forward to Kourier.
#
#   COUNT=500 hack/e2e-cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-500}
NS=zeroflow
TIMEOUT=${TIMEOUT:-900}
K6=${K6:-bin/k6-v1.8.1}
[ -x "$K6" ] || make k6 >/dev/null

step() { echo; echo "== $*"; }

step "the example: its objects, what zeroflow render makes of them, and a MinIO"
export KO_DOCKER_REPO=${KO_DOCKER_REPO:-kind.local} KIND_CLUSTER_NAME=${KIND_CLUSTER:-zeroflow}
kubectl kustomize manifests/examples/log-pipeline | ko resolve -f - | kubectl apply -f -
kubectl wait --for condition=complete --timeout 300s job/minio-bucket -n $NS
kubectl wait --for condition=Ready --timeout 300s ksvc --all -n $NS

host=$(kubectl get ksvc workflow-a-webhook-eventsource -n $NS -o jsonpath='{.status.url}' | sed 's|^http://||')
step "port-forward Kourier; the webhook is $host"
kubectl port-forward -n kourier-system svc/kourier 18080:80 >/dev/null 2>&1 &
pf=$!
trap 'kill $pf 2>/dev/null || true' EXIT
sleep 3

succeeded() { kubectl get workflows -n $NS -l zeroflow.dev/sensor=sensor-simple -o jsonpath='{range .items[?(@.status.phase=="Succeeded")]}{.metadata.name}{"\n"}{end}' | grep -c . || true; }
total() { kubectl get workflows -n $NS -l zeroflow.dev/sensor=sensor-simple -o name | grep -c . || true; }
records() { kubectl exec -n $NS deploy/minio -- sh -c 'ls /data/zeroflow/runs/runs/'"$NS"' 2>/dev/null | wc -l'; }

before_ok=$(succeeded); before_all=$(total); before_rec=$(records)
step "k6: $COUNT webhooks in a burst (scaling from zero: kubectl get ksvc -n $NS -w)"
"$K6" run --quiet --no-usage-report -e URL=http://127.0.0.1:18080/workflow-a -e HOST="$host" -e COUNT="$COUNT" hack/k6/burst.js

step "waiting for $COUNT Succeeded workflows and $COUNT run records (up to ${TIMEOUT}s)"
deadline=$((SECONDS + TIMEOUT))
while :; do
  ok=$(( $(succeeded) - before_ok )); all=$(( $(total) - before_all )); rec=$(( $(records) - before_rec ))
  echo "  succeeded $ok, workflows $all, records $rec"
  if [ "$ok" -ge "$COUNT" ] && [ "$rec" -ge "$COUNT" ]; then break; fi
  if [ $SECONDS -ge $deadline ]; then echo "e2e-cluster: timed out" >&2; exit 1; fi
  sleep 5
done
sleep 10 # let a late duplicate show itself
ok=$(( $(succeeded) - before_ok )); all=$(( $(total) - before_all )); rec=$(( $(records) - before_rec ))
if [ "$ok" -ne "$COUNT" ] || [ "$all" -ne "$COUNT" ] || [ "$rec" -ne "$COUNT" ]; then
  echo "e2e-cluster: FAIL: $COUNT webhooks gave $ok Succeeded of $all workflows and $rec records" >&2
  exit 1
fi
echo "e2e-cluster: PASS: $COUNT webhooks, $COUNT Succeeded workflows, $COUNT run records, no duplicates"
