#!/usr/bin/env bash
# cluster-up.sh: a kind cluster with Knative Serving (Kourier), Eventing and
# the Kafka broker (on a single-node Strimzi Kafka), then zeroflow built and
# loaded with ko. Not run in CI: it needs Docker, kind, kubectl, ko and the
# internet. docs/deploy.md walks through it.
#
#   hack/cluster-up.sh              # Kafka broker (production-like)
#   BROKER=mt hack/cluster-up.sh    # channel-based broker (lighter)
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned versions. The Go modules zeroflow validates against are
# knative.dev/serving and knative.dev/eventing v0.50.0, i.e. Knative 1.23.
KNATIVE_VERSION=${KNATIVE_VERSION:-1.23.0}
STRIMZI_VERSION=${STRIMZI_VERSION:-0.47.0}
KIND_CLUSTER=${KIND_CLUSTER:-zeroflow}
BROKER=${BROKER:-kafka}

need() { command -v "$1" >/dev/null || { echo "cluster-up: $1 is required ($2)" >&2; exit 1; }; }
need docker "https://docs.docker.com/get-docker/"
need kind "go install sigs.k8s.io/kind@v0.29.0"
need kubectl "https://kubernetes.io/docs/tasks/tools/ (or make kubectl)"
need ko "go install github.com/google/ko@v0.19.1"

knative=https://github.com/knative/serving/releases/download/knative-v${KNATIVE_VERSION}
eventing=https://github.com/knative/eventing/releases/download/knative-v${KNATIVE_VERSION}
kourier=https://github.com/knative-extensions/net-kourier/releases/download/knative-v${KNATIVE_VERSION}
kafka_broker=https://github.com/knative-extensions/eventing-kafka-broker/releases/download/knative-v${KNATIVE_VERSION}

step() { echo; echo "== $*"; }

step "kind cluster $KIND_CLUSTER"
kind get clusters | grep -qx "$KIND_CLUSTER" || kind create cluster --name "$KIND_CLUSTER" --wait 120s
kubectl config use-context "kind-$KIND_CLUSTER"

step "Knative Serving $KNATIVE_VERSION with Kourier"
kubectl apply -f "$knative/serving-crds.yaml"
kubectl wait --for condition=established --timeout 120s crd/services.serving.knative.dev
kubectl apply -f "$knative/serving-core.yaml"
kubectl apply -f "$kourier/kourier.yaml"
kubectl patch configmap/config-network -n knative-serving --type merge \
  -p '{"data":{"ingress-class":"kourier.ingress.networking.knative.dev"}}'
kubectl apply -f "$knative/serving-default-domain.yaml"
kubectl wait --for condition=available --timeout 300s deployment --all -n knative-serving
kubectl wait --for condition=available --timeout 300s deployment --all -n kourier-system

step "Knative Eventing $KNATIVE_VERSION"
kubectl apply -f "$eventing/eventing-crds.yaml"
kubectl wait --for condition=established --timeout 120s crd/brokers.eventing.knative.dev
kubectl apply -f "$eventing/eventing-core.yaml"
# Sender identity (OIDC audience tokens) and EventPolicies: zeroflow's
# manifests ship EventPolicies, which Eventing accepts only with this on,
# and its functions check the tokens Knative delivers with.
kubectl patch configmap/config-features -n knative-eventing --type merge \
  -p '{"data":{"authentication-oidc":"enabled"}}'
if [ "$BROKER" = kafka ]; then
  step "Strimzi $STRIMZI_VERSION: a single-node Kafka (my-cluster in namespace kafka)"
  kubectl create namespace kafka --dry-run=client -o yaml | kubectl apply -f -
  kubectl apply -n kafka -f "https://github.com/strimzi/strimzi-kafka-operator/releases/download/${STRIMZI_VERSION}/strimzi-cluster-operator-${STRIMZI_VERSION}.yaml"
  kubectl wait --for condition=available --timeout 300s deployment/strimzi-cluster-operator -n kafka
  kubectl apply -n kafka -f "https://raw.githubusercontent.com/strimzi/strimzi-kafka-operator/${STRIMZI_VERSION}/examples/kafka/kafka-single-node.yaml"
  kubectl wait kafka/my-cluster --for condition=Ready --timeout 600s -n kafka
  step "Knative Kafka broker $KNATIVE_VERSION"
  kubectl apply -f "$kafka_broker/eventing-kafka-controller.yaml"
  kubectl apply -f "$kafka_broker/eventing-kafka-broker.yaml"
  install=manifests
else
  step "Knative in-memory channel and MT channel-based broker $KNATIVE_VERSION"
  kubectl apply -f "$eventing/in-memory-channel.yaml"
  kubectl apply -f "$eventing/mt-channel-broker.yaml"
  install=manifests/overlays/dev-cluster
fi
kubectl wait --for condition=available --timeout 300s deployment --all -n knative-eventing

step "zeroflow ($install), images built by ko and loaded into kind"
export KO_DOCKER_REPO=kind.local KIND_CLUSTER_NAME="$KIND_CLUSTER"
# The CRDs first, so that the objects of their kinds apply in one go.
kubectl apply -k manifests/crds
kubectl wait --for condition=established --timeout 120s \
  crd/workflows.zeroflow.dev crd/workflowtemplates.zeroflow.dev crd/cronworkflows.zeroflow.dev \
  crd/eventsources.zeroflow.dev crd/sensors.zeroflow.dev
kubectl kustomize "$install" | ko resolve -f - | kubectl apply -f -
kubectl wait --for condition=available --timeout 300s deployment/zeroflow-controller -n zeroflow

echo
echo "zeroflow is installed in namespace zeroflow. Next: hack/e2e-cluster.sh (Workflow-A under a k6 burst)."
echo "The built-in functions wait for the Secret zeroflow-artifacts; the example creates one (docs/deploy.md)."
