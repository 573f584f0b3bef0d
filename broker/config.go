package broker

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	eventingv1alpha1 "knative.dev/eventing/pkg/apis/eventing/v1alpha1"
	"knative.dev/eventing/pkg/apis/feature"
	"knative.dev/eventing/pkg/auth"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/zeroflow-dev/zeroflow/internal/identity"
)

// Config is the routing the broker serves: every Broker and Trigger. Apply
// makes the running broker match it.
type Config struct {
	Brokers  []eventingv1.Broker
	Triggers []eventingv1.Trigger
	// EventPolicies say who may send what to the brokers; they are
	// enforced when Options.Identity is set.
	EventPolicies []eventingv1alpha1.EventPolicy
}

// ClassAnnotationValue is the broker class given to Brokers that name none.
const ClassAnnotationValue = "zeroflow.dev/embedded"

// ConcurrencyAnnotation overrides Options.Concurrency for one Trigger.
const ConcurrencyAnnotation = "zeroflow.dev/concurrency"

// brokerSpec is what the broker keeps of a Broker.
type brokerSpec struct {
	delivery *eventingduckv1.DeliverySpec
}

// validationContext carries the Knative feature flags the embedded broker
// implements, so that Validate accepts delivery.timeout and retryAfterMax.
func validationContext(ctx context.Context) context.Context {
	return feature.ToContext(ctx, feature.Flags{
		feature.DeliveryTimeout:    feature.Enabled,
		feature.DeliveryRetryAfter: feature.Enabled,
		feature.OIDCAuthentication: feature.Enabled,
	})
}

// Apply validates cfg with Knative's own defaulting and validation and, when
// everything is valid, makes the broker serve exactly it: new brokers get a
// stream, new or changed triggers a consumer and workers, and what is gone is
// removed. Nothing changes when anything is invalid.
func (b *Broker) Apply(ctx context.Context, cfg Config) error {
	vctx := validationContext(ctx)
	var errs []error
	brokers := map[string]*brokerState{}
	brokerLabels := map[string]map[string]string{}
	for i := range cfg.Brokers {
		br := cfg.Brokers[i].DeepCopy()
		key := br.Namespace + "/" + br.Name
		if br.Namespace == "" || br.Name == "" {
			errs = append(errs, fmt.Errorf("broker %q: metadata.name and metadata.namespace are required", key))
			continue
		}
		if br.Annotations[eventingv1.BrokerClassAnnotationKey] == "" {
			if br.Annotations == nil {
				br.Annotations = map[string]string{}
			}
			br.Annotations[eventingv1.BrokerClassAnnotationKey] = ClassAnnotationValue
		}
		br.SetDefaults(vctx)
		if fe := br.Validate(vctx).Filter(apis.ErrorLevel); fe != nil {
			errs = append(errs, fmt.Errorf("broker %s: %w", key, fe))
			continue
		}
		if _, dup := brokers[key]; dup {
			errs = append(errs, fmt.Errorf("broker %s is declared twice", key))
			continue
		}
		brokers[key] = &brokerState{key: key, subject: subject(br.Namespace, br.Name), spec: brokerSpec{delivery: br.Spec.Delivery}, audience: auth.GetAudienceDirect(brokerGVK, br.Namespace, br.Name)}
		brokerLabels[key] = br.Labels
	}
	applying, perrs := planPolicies(vctx, cfg.EventPolicies, brokers, brokerLabels)
	errs = append(errs, perrs...)
	plans := map[string]*triggerPlan{}
	for i := range cfg.Triggers {
		p, err := b.planTrigger(ctx, vctx, cfg.Triggers[i].DeepCopy(), brokers)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := plans[p.key]; dup {
			errs = append(errs, fmt.Errorf("trigger %s is declared twice", p.key))
			p.filter.Cleanup()
			continue
		}
		plans[p.key] = p
	}
	if len(errs) > 0 {
		for _, p := range plans {
			p.filter.Cleanup()
		}
		return fmt.Errorf("apply broker config: %w", errors.Join(errs...))
	}

	for _, br := range brokers {
		namespace, name, _ := strings.Cut(br.key, "/")
		if _, err := b.store.ensureStream(ctx, namespace, name, b.opts.MaxAge); err != nil {
			return fmt.Errorf("apply broker config: %w", err)
		}
	}
	old := *b.brokers.Load()
	b.policies.Store(&applying)
	b.brokers.Store(&brokers)

	b.mu.Lock()
	defer b.mu.Unlock()
	for key, w := range b.triggers {
		if p, keep := plans[key]; keep && reflect.DeepEqual(p.fingerprint, w.plan.fingerprint) {
			p.filter.Cleanup()
			delete(plans, key)
			continue
		}
		w.stop()
		delete(b.triggers, key)
		if _, keep := plans[key]; !keep {
			if err := w.deleteConsumer(ctx); err != nil {
				b.logger.Warn("delete trigger consumer", "trigger", key, "error", err)
			}
		}
	}
	keys := make([]string, 0, len(plans))
	for key := range plans {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		w, err := b.startTrigger(ctx, plans[key])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b.triggers[key] = w
	}
	for key := range old {
		if _, keep := brokers[key]; !keep {
			namespace, name, _ := strings.Cut(key, "/")
			if err := b.store.js.DeleteStream(ctx, streamName(namespace, name)); err != nil {
				b.logger.Warn("delete broker stream", "broker", key, "error", err)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("apply broker config: %w", errors.Join(errs...))
	}
	return nil
}

// triggerPlan is a validated Trigger, ready to run.
type triggerPlan struct {
	key        string
	trigger    *eventingv1.Trigger
	broker     *brokerState
	subscriber *apis.URL
	deadLetter *apis.URL
	delivery   eventingduckv1.DeliverySpec
	filter     safeFilter
	// concurrency is how many deliveries may be in flight.
	concurrency int
	// subject is the Trigger's identity: it delivers and replies with it.
	subject string
	// fingerprint changes when anything that affects delivery changes.
	fingerprint any
}

func (b *Broker) planTrigger(ctx, vctx context.Context, t *eventingv1.Trigger, brokers map[string]*brokerState) (*triggerPlan, error) {
	key := t.Namespace + "/" + t.Name
	if t.Namespace == "" || t.Name == "" {
		return nil, fmt.Errorf("trigger %q: metadata.name and metadata.namespace are required", key)
	}
	t.SetDefaults(vctx)
	if fe := t.Validate(vctx).Filter(apis.ErrorLevel); fe != nil {
		return nil, fmt.Errorf("trigger %s: %w", key, fe)
	}
	brokerName := t.Spec.Broker
	if t.Spec.BrokerRef != nil {
		brokerName = t.Spec.BrokerRef.Name
	}
	br, ok := brokers[t.Namespace+"/"+brokerName]
	if !ok {
		return nil, fmt.Errorf("trigger %s: broker %s/%s is not declared", key, t.Namespace, brokerName)
	}
	p := &triggerPlan{key: key, trigger: t, broker: br, concurrency: b.opts.Concurrency, subject: identity.ResourceSubject(triggerGVK, t.Namespace, t.Name)}
	if v, ok := t.Annotations[ConcurrencyAnnotation]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("trigger %s: annotation %s=%q: want a positive integer", key, ConcurrencyAnnotation, v)
		}
		p.concurrency = n
	}
	if err := checkFilterValues(t.Spec.Filters, "spec.filters"); err != nil {
		return nil, fmt.Errorf("trigger %s: %w", key, err)
	}
	var err error
	if p.subscriber, err = b.resolve(ctx, t.Namespace, t.Spec.Subscriber); err != nil {
		return nil, fmt.Errorf("trigger %s: spec.subscriber: %w", key, err)
	}
	switch {
	case t.Spec.Delivery != nil:
		p.delivery = *t.Spec.Delivery
	case br.spec.delivery != nil:
		p.delivery = *br.spec.delivery
	}
	if p.delivery.DeadLetterSink != nil {
		if p.deadLetter, err = b.resolve(ctx, t.Namespace, *p.delivery.DeadLetterSink); err != nil {
			return nil, fmt.Errorf("trigger %s: delivery.deadLetterSink: %w", key, err)
		}
	}
	if p.filter, err = buildFilter(t); err != nil {
		return nil, fmt.Errorf("trigger %s: %w", key, err)
	}
	p.fingerprint = struct {
		Filter     eventingv1.TriggerFilter
		Filters    []eventingv1.SubscriptionsAPIFilter
		Subscriber string
		DeadLetter string
		Delivery   eventingduckv1.DeliverySpec
		Broker     string
		N          int
	}{derefFilter(t.Spec.Filter), t.Spec.Filters, p.subscriber.String(), urlString(p.deadLetter), p.delivery, br.key, p.concurrency}
	return p, nil
}

func (b *Broker) resolve(ctx context.Context, namespace string, d duckv1.Destination) (*apis.URL, error) {
	if d.Ref == nil {
		if d.URI == nil || !d.URI.URL().IsAbs() {
			return nil, errors.New("needs an absolute uri (or a ref the broker can resolve)")
		}
		if d.URI.Scheme != "http" && d.URI.Scheme != "https" {
			return nil, fmt.Errorf("uri %s: the scheme must be http or https", d.URI)
		}
		return d.URI, nil
	}
	if b.opts.Resolve == nil {
		return nil, fmt.Errorf("cannot resolve ref %s %s: this broker resolves only absolute uris", d.Ref.Kind, d.Ref.Name)
	}
	return b.opts.Resolve(ctx, namespace, d)
}

func derefFilter(f *eventingv1.TriggerFilter) eventingv1.TriggerFilter {
	if f == nil {
		return eventingv1.TriggerFilter{}
	}
	return *f
}

func urlString(u *apis.URL) string {
	if u == nil {
		return ""
	}
	return u.String()
}

// checkFilterValues rejects exact, prefix and suffix filters with an empty
// value. Knative's validation lets them through and its broker then skips the
// filter, so the trigger would match every event: here that is an error.
func checkFilterValues(filters []eventingv1.SubscriptionsAPIFilter, path string) error {
	for i, f := range filters {
		p := fmt.Sprintf("%s[%d]", path, i)
		for dialect, m := range map[string]map[string]string{"exact": f.Exact, "prefix": f.Prefix, "suffix": f.Suffix} {
			for attr, v := range m {
				if v == "" {
					return fmt.Errorf("%s.%s[%s]: empty value: Knative would skip this filter and match every event", p, dialect, attr)
				}
			}
		}
		// An empty filter object accepts everything (Knative's API says
		// so), but an all or any written with an empty list is a mistake.
		if f.All != nil && len(f.All) == 0 {
			return fmt.Errorf("%s.all: empty list: give it at least one filter", p)
		}
		if f.Any != nil && len(f.Any) == 0 {
			return fmt.Errorf("%s.any: empty list: give it at least one filter", p)
		}
		if err := checkFilterValues(f.All, p+".all"); err != nil {
			return err
		}
		if err := checkFilterValues(f.Any, p+".any"); err != nil {
			return err
		}
		if f.Not != nil {
			if err := checkFilterValues([]eventingv1.SubscriptionsAPIFilter{*f.Not}, p+".not"); err != nil {
				return err
			}
		}
	}
	return nil
}
