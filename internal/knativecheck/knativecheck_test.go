package knativecheck_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/zeroflow-dev/zeroflow/internal/knativecheck"
)

// Each kind passes when valid and fails, naming the problem, when not: the
// check can fail.
func TestObjects(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		// wantErr is a piece of the error; "" means valid.
		wantErr string
	}{
		{"trigger", trigger("zfsensor: s", "subscriber: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: f}}"), ""},
		{"trigger with a relative uri on a ref", trigger("zfsensor: s", "subscriber: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: f}, uri: /dep}"), ""},
		{"trigger: bad filter key", trigger("Bad_Key: s", "subscriber: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: f}}"), "Bad_Key"},
		{"trigger: missing subscriber", trigger("zfsensor: s", ""), "subscriber"},
		{"trigger: subscriber in another namespace", trigger("zfsensor: s", "subscriber: {ref: {apiVersion: v1, kind: Service, name: f, namespace: other}}"), "namespace"},
		{"service", service(`autoscaling.knative.dev/min-scale: "0"`), ""},
		{"service: bad scale annotation", service(`autoscaling.knative.dev/min-scale: "-1"`), "min-scale"},
		{"service: scale annotation not a number", service(`autoscaling.knative.dev/max-scale: "lots"`), "max-scale"},
		{"pingsource", ping("*/5 * * * *"), ""},
		{"pingsource: bad schedule", ping("every five minutes"), "schedule"},
		{"sinkbinding", sinkBinding("Service"), ""},
		{"sinkbinding: no subject kind", sinkBinding(""), "kind"},
		{"configmap", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: spec, namespace: default}\ndata: {spec.yaml: x}\n", ""},
		{"configmap: bad key", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: spec, namespace: default}\ndata: {\"a b\": x}\n", "a b"},
		{"configmap: bad name", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Spec_1, namespace: default}\ndata: {k: x}\n", "metadata.name"},
		{"broker", "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: default, namespace: default, annotations: {eventing.knative.dev/broker.class: MTChannelBasedBroker}}\nspec: {delivery: {retry: 3, backoffPolicy: exponential, backoffDelay: PT0.2S}}\n", ""},
		{"broker: bad backoff delay", "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: default, namespace: default, annotations: {eventing.knative.dev/broker.class: MTChannelBasedBroker}}\nspec: {delivery: {retry: 3, backoffDelay: soon}}\n", "backoffDelay"},
		{"apiserversource", apiServerSource("Resource"), ""},
		{"apiserversource: bad mode", apiServerSource("Everything"), "mode"},
		{"eventpolicy", eventPolicy("- sub: system:serviceaccount:default:zeroflow-controller", "- exact: {type: dev.zeroflow.step.run}"), ""},
		{"eventpolicy from a ref", eventPolicy("- ref: {apiVersion: eventing.knative.dev/v1, kind: Trigger, name: t}", "- not: {prefix: {type: dev.zeroflow.}}"), ""},
		{"eventpolicy: from neither ref nor sub", eventPolicy("- {}", ""), "expected exactly one, got neither: spec.from[0].ref, spec.from[0].sub"},
		{"eventpolicy: a * not at the end", eventPolicy("- sub: system:serviceaccount:*:zeroflow-controller", ""), "'*' is only allowed as suffix"},
		{"eventpolicy: two dialects in one filter", eventPolicy("- sub: x", "- {exact: {type: a}, prefix: {type: b}}"), "multiple dialects"},
		{"eventpolicy: bad filter attribute", eventPolicy("- sub: x", "- exact: {Not_An_Attribute: a}"), "Not_An_Attribute"},
		{"role", role("{apiGroups: [zeroflow.dev], resources: [cronworkflows], verbs: [create, delete]}"), ""},
		{"role: impersonate one ServiceAccount", role("{apiGroups: [\"\"], resources: [serviceaccounts], resourceNames: [scaler], verbs: [impersonate]}"), ""},
		{"role: any verb", role("{apiGroups: [zeroflow.dev], resources: [cronworkflows], verbs: [\"*\"]}"), "named verbs only"},
		{"role: any resource", role("{apiGroups: [zeroflow.dev], resources: [\"*\"], verbs: [get]}"), "named resources only"},
		{"role: any group", role("{apiGroups: [\"*\"], resources: [cronworkflows], verbs: [get]}"), "named API groups only"},
		{"role: impersonate anyone", role("{apiGroups: [\"\"], resources: [serviceaccounts], verbs: [impersonate]}"), "named objects only"},
		{"rolebinding", roleBinding("Role", "zeroflow-sensor"), ""},
		{"rolebinding: cluster-admin", roleBinding("ClusterRole", "cluster-admin"), "never binds cluster-admin"},
		{"networkpolicy", networkPolicy("{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: knative-serving}}}"), ""},
		{"networkpolicy: a peer with no selector", networkPolicy("{}"), "podSelector, namespaceSelector or ipBlock"},
		{"networkpolicy: bad selector", networkPolicy("{namespaceSelector: {matchExpressions: [{key: a, operator: Sometimes}]}}"), "Sometimes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj, err := knativecheck.Decode([]byte(tc.doc))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			err = knativecheck.Object(context.Background(), obj)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("valid object rejected: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Errorf("invalid object accepted (want an error about %q)", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("error %q does not mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestDecodeRejectsUnknownKindsAndFields(t *testing.T) {
	if _, err := knativecheck.Decode([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n")); !errors.Is(err, knativecheck.ErrUnknownKind) {
		t.Errorf("Pod: %v", err)
	}
	if _, err := knativecheck.Decode([]byte(trigger("zfsensor: s", "subscriber: {uri: http://x}\n  subscribr: {}"))); err == nil || !strings.Contains(err.Error(), "subscribr") {
		t.Errorf("unknown field: %v", err)
	}
}

func trigger(attr, subscriber string) string {
	return "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: t, namespace: default}\nspec:\n  broker: default\n  filter: {attributes: {" + attr + "}}\n  " + subscriber + "\n"
}

func service(annotation string) string {
	return `apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: fn, namespace: default}
spec:
  template:
    metadata:
      annotations: {` + annotation + `}
    spec:
      containers:
      - image: ko://github.com/zeroflow-dev/zeroflow/cmd/zeroflow
        args: [function, exec]
`
}

func ping(schedule string) string {
	return `apiVersion: sources.knative.dev/v1
kind: PingSource
metadata: {name: nightly, namespace: default}
spec:
  schedule: "` + schedule + `"
  sink: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}}
`
}

func sinkBinding(kind string) string {
	return `apiVersion: sources.knative.dev/v1
kind: SinkBinding
metadata: {name: fn, namespace: default}
spec:
  subject: {apiVersion: serving.knative.dev/v1, kind: "` + kind + `", name: fn}
  sink: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}}
`
}

func apiServerSource(mode string) string {
	return `apiVersion: sources.knative.dev/v1
kind: ApiServerSource
metadata: {name: pods, namespace: default}
spec:
  mode: ` + mode + `
  serviceAccountName: zeroflow-source
  resources: [{apiVersion: v1, kind: Pod}]
  sink: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}}
`
}

func eventPolicy(from, filters string) string {
	doc := `apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: p, namespace: default}
spec:
  to: [{ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}}]
  from:
  ` + from + "\n"
	if filters != "" {
		doc += "  filters:\n  " + filters + "\n"
	}
	return doc
}

func networkPolicy(peer string) string {
	return `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: functions, namespace: default}
spec:
  podSelector: {matchLabels: {app.kubernetes.io/part-of: zeroflow}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - ` + peer + "\n"
}

func role(rule string) string {
	return "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r, namespace: default}\nrules:\n- " + rule + "\n"
}

func roleBinding(kind, name string) string {
	return "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: b, namespace: default}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: " + kind + ", name: " + name + "}\nsubjects: [{kind: ServiceAccount, name: zeroflow-sensor, namespace: default}]\n"
}
