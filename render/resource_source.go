package render

import (
	"maps"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/selection"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// DefaultSourceServiceAccount watches objects for resource events that
// name no service account; grant it get, list and watch on them.
const DefaultSourceServiceAccount = "zeroflow-eventsource"

// ResourceSources renders an EventSource's resource events: an
// ApiServerSource each, in Resource mode (the event's data is the object),
// into the broker with the zfeventsource and zfevent extensions sensors
// route on.
func ResourceSources(es *v1alpha1.EventSource) Objects {
	var out Objects
	for _, event := range slices.Sorted(maps.Keys(es.Spec.Resource)) {
		r := es.Spec.Resource[event]
		apiVersion := r.Version
		if r.Group != "" {
			apiVersion = r.Group + "/" + r.Version
		}
		sa := r.ServiceAccountName
		if sa == "" {
			sa = DefaultSourceServiceAccount
		}
		src := sourcesv1.ApiServerSource{
			TypeMeta: metav1.TypeMeta{APIVersion: sourcesv1.SchemeGroupVersion.String(), Kind: "ApiServerSource"},
			ObjectMeta: metav1.ObjectMeta{Name: childName(es.Name, "resource", event), Namespace: es.Namespace,
				Labels: withPartOf(map[string]string{LabelEventSource: es.Name, LabelComponent: "eventsource"})},
			Spec: sourcesv1.ApiServerSourceSpec{
				EventMode:          sourcesv1.ResourceMode,
				ServiceAccountName: sa,
				Resources:          []sourcesv1.APIVersionKindSelector{{APIVersion: apiVersion, Kind: r.Kind, LabelSelector: LabelSelector(r.Filter)}},
				SourceSpec: duckv1.SourceSpec{
					Sink:                brokerDestination(es.Spec.BrokerName()),
					CloudEventOverrides: &duckv1.CloudEventOverrides{Extensions: map[string]string{events.ExtEventSource: es.Name, events.ExtEvent: event}},
				},
			},
		}
		if r.Namespace != "" && r.Namespace != es.Namespace {
			src.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": r.Namespace}}
		}
		out.ApiServerSources = append(out.ApiServerSources, src)
	}
	return out
}

// LabelSelector is the label selector of Argo's label filters (nil when
// there are none).
func LabelSelector(f *v1alpha1.ResourceFilter) *metav1.LabelSelector {
	if f == nil || len(f.Labels) == 0 {
		return nil
	}
	sel := &metav1.LabelSelector{}
	for _, l := range f.Labels {
		op := metav1.LabelSelectorOpIn
		values := []string{l.Value}
		switch selection.Operator(l.Operation) {
		case selection.NotEquals, selection.NotIn:
			op = metav1.LabelSelectorOpNotIn
		case selection.Exists:
			op, values = metav1.LabelSelectorOpExists, nil
		case selection.DoesNotExist:
			op, values = metav1.LabelSelectorOpDoesNotExist, nil
		}
		if (l.Operation == "in" || l.Operation == "notin") && l.Value != "" {
			values = strings.Split(strings.Trim(l.Value, "()"), ",")
			for i := range values {
				values[i] = strings.TrimSpace(values[i])
			}
		}
		sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{Key: l.Key, Operator: op, Values: values})
	}
	return sel
}
