// Package apiserversource runs Knative ApiServerSources (Resource mode) in
// zeroflow dev: it watches the objects each names and sends, for every
// add, update and delete, the event Knative's adapter would send (type
// dev.knative.apiserver.resource.add|update|delete, the object as data,
// the kind, name and namespace as extensions, and the source's CloudEvent
// overrides) to the broker its sink names.
package apiserversource

import (
	"github.com/zeroflow-dev/zeroflow/internal/identity"

	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
)

// Publish hands an event to the broker namespace/name, as sent by sender
// (the ApiServerSource's OIDC identity, as Knative's adapter sends with it).
type Publish func(ctx context.Context, sender, namespace, broker string, ev event.Event) error

// The event types of Resource mode (Knative's).
const (
	TypeAdd    = "dev.knative.apiserver.resource.add"
	TypeUpdate = "dev.knative.apiserver.resource.update"
	TypeDelete = "dev.knative.apiserver.resource.delete"
)

// Event is the event for obj's change of kind typ, as Knative's adapter
// makes it; apiServer is the API server's URL (the event's source).
func Event(src *sourcesv1.ApiServerSource, apiServer, typ string, obj *unstructured.Unstructured, resource string) (event.Event, error) {
	ev := event.New()
	ev.SetID(uuid.NewString())
	ev.SetType(typ)
	ev.SetSource(apiServer)
	gv, _ := schema.ParseGroupVersion(obj.GetAPIVersion())
	prefix := "/apis/" + gv.String()
	if gv.Group == "" {
		prefix = "/api/" + gv.Version
	}
	subject := path.Join(prefix, resource, obj.GetName())
	if ns := obj.GetNamespace(); ns != "" {
		subject = path.Join(prefix, "namespaces", ns, resource, obj.GetName())
	}
	ev.SetSubject(subject)
	ev.SetExtension("kind", obj.GetKind())
	ev.SetExtension("name", obj.GetName())
	if ns := obj.GetNamespace(); ns != "" {
		ev.SetExtension("namespace", ns)
	}
	if o := src.Spec.CloudEventOverrides; o != nil {
		for k, v := range o.Extensions {
			ev.SetExtension(k, v)
		}
	}
	b, err := json.Marshal(obj.Object)
	if err != nil {
		return ev, fmt.Errorf("apiserversource %s/%s: encode %s: %w", src.Namespace, src.Name, obj.GetName(), err)
	}
	return ev, ev.SetData(event.ApplicationJSON, b)
}

// Run watches what every source names until ctx ends. A source it cannot
// run (not Resource mode, a sink that is not a Broker, a kind the API does
// not serve) is an error before anything runs.
func Run(ctx context.Context, sources []sourcesv1.ApiServerSource, client dynamic.Interface, mapper meta.RESTMapper, apiServer string, publish Publish, logger *slog.Logger) error {
	type watch struct {
		src      *sourcesv1.ApiServerSource
		gvr      schema.GroupVersionResource
		ns, sel  string
		brokerNS string
		broker   string
	}
	var watches []watch
	for i := range sources {
		src := &sources[i]
		if src.Spec.EventMode != "" && src.Spec.EventMode != sourcesv1.ResourceMode {
			return fmt.Errorf("apiserversource %s/%s: zeroflow dev runs Resource mode only", src.Namespace, src.Name)
		}
		ref := src.Spec.Sink.Ref
		if ref == nil || ref.Kind != "Broker" {
			return fmt.Errorf("apiserversource %s/%s: zeroflow dev sends only to a Broker ref", src.Namespace, src.Name)
		}
		brokerNS := ref.Namespace
		if brokerNS == "" {
			brokerNS = src.Namespace
		}
		ns := src.Namespace
		if s := src.Spec.NamespaceSelector; s != nil && s.MatchLabels["kubernetes.io/metadata.name"] != "" {
			ns = s.MatchLabels["kubernetes.io/metadata.name"]
		}
		for _, r := range src.Spec.Resources {
			gv, err := schema.ParseGroupVersion(r.APIVersion)
			if err != nil {
				return fmt.Errorf("apiserversource %s/%s: apiVersion %q: %w", src.Namespace, src.Name, r.APIVersion, err)
			}
			m, err := mapper.RESTMapping(schema.GroupKind{Group: gv.Group, Kind: r.Kind}, gv.Version)
			if err != nil {
				return fmt.Errorf("apiserversource %s/%s: %s %s: %w", src.Namespace, src.Name, r.APIVersion, r.Kind, err)
			}
			sel := ""
			if r.LabelSelector != nil {
				s, err := metav1.LabelSelectorAsSelector(r.LabelSelector)
				if err != nil {
					return fmt.Errorf("apiserversource %s/%s: selector: %w", src.Namespace, src.Name, err)
				}
				sel = s.String()
			}
			watches = append(watches, watch{src: src, gvr: m.Resource, ns: ns, sel: sel, brokerNS: brokerNS, broker: ref.Name})
		}
	}
	for _, w := range watches {
		inf := dynamicinformer.NewFilteredDynamicInformer(client, w.gvr, w.ns, 0, cache.Indexers{}, func(o *metav1.ListOptions) { o.LabelSelector = w.sel })
		send := func(typ string, obj any) {
			u, ok := obj.(*unstructured.Unstructured)
			if !ok {
				if d, isTomb := obj.(cache.DeletedFinalStateUnknown); isTomb {
					u, ok = d.Obj.(*unstructured.Unstructured)
				}
			}
			if !ok {
				return
			}
			ev, err := Event(w.src, apiServer, typ, u, w.gvr.Resource)
			if err == nil {
				err = publish(ctx, identity.ResourceSubject(sourcesv1.SchemeGroupVersion.WithKind("ApiServerSource"), w.src.Namespace, w.src.Name), w.brokerNS, w.broker, ev)
			}
			if err != nil {
				logger.ErrorContext(ctx, "apiserversource event not sent", "source", w.src.Namespace+"/"+w.src.Name, "object", u.GetName(), "error", err)
			}
		}
		if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { send(TypeAdd, obj) },
			UpdateFunc: func(_, obj any) { send(TypeUpdate, obj) },
			DeleteFunc: func(obj any) { send(TypeDelete, obj) },
		}); err != nil {
			return fmt.Errorf("apiserversource %s/%s: %w", w.src.Namespace, w.src.Name, err)
		}
		go inf.Informer().RunWithContext(ctx)
	}
	<-ctx.Done()
	return nil
}
