package broker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	eventingv1alpha1 "knative.dev/eventing/pkg/apis/eventing/v1alpha1"
	"knative.dev/eventing/pkg/apis/feature"
	"knative.dev/eventing/pkg/eventfilter"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/zeroflow-dev/zeroflow/internal/identity"
)

// Identity turns on sender identity, as Knative Eventing's
// authentication-oidc feature does on a cluster: the ingress takes only
// events that carry a valid token for the broker's audience, from a
// subject an EventPolicy lets send them; every delivery carries a token
// of its Trigger's identity for the subscriber's audience; and a reply is
// authorized as sent by that Trigger.
type Identity struct {
	// Verifier checks the tokens senders present.
	Verifier *identity.Verifier
	// Issuer mints the tokens deliveries carry.
	Issuer *identity.Issuer
	// DefaultMode is what applies to a broker that no EventPolicy applies
	// to: Knative's authorization-default-mode (allow-same-namespace when
	// empty, deny-all, or allow-all).
	DefaultMode feature.Flag
	// Audience is the audience of a subscriber whose Destination names
	// none (Knative takes it from the addressable's status); "" sends no
	// token.
	Audience func(namespace string, d duckv1.Destination) string
}

var (
	brokerGVK  = eventingv1.SchemeGroupVersion.WithKind("Broker")
	triggerGVK = eventingv1.SchemeGroupVersion.WithKind("Trigger")
)

// errForbidden marks an event its sender may not send.
var errForbidden = errors.New("forbidden")

// policies are the EventPolicies that apply to one broker: the subjects of
// each, with its filters built once. Knative's verifier builds the filters
// for every request (auth.SubjectAndFiltersPass), which costs allocations
// per event and races with the goroutine its any-filter starts; the
// decision here is the same: the first policy that lists the sender decides
// by its filters.
type policies []compiledPolicy

type compiledPolicy struct {
	subjects []string
	filter   eventfilter.Filter
}

// allows is Knative's SubjectAndFiltersPass over built filters.
func (ps policies) allows(ctx context.Context, subject string, ev *event.Event) bool {
	for _, p := range ps {
		if identity.SubjectMatches(subject, p.subjects) {
			return p.filter.Filter(ctx, *ev) != eventfilter.FailFilter
		}
	}
	return false
}

// planPolicies finds, for each broker, the EventPolicies that apply to it
// (spec.to empty: every broker of the policy's namespace; a Broker ref; a
// selector of Brokers by label) and resolves their senders to subjects
// (spec.from sub, or a ref to a Knative object, whose OIDC identity is
// named as Knative names it).
func planPolicies(vctx context.Context, eps []eventingv1alpha1.EventPolicy, brokers map[string]*brokerState, brokerLabels map[string]map[string]string) (map[string]policies, []error) {
	out := map[string]policies{}
	var errs []error
	for i := range eps {
		ep := eps[i].DeepCopy()
		key := ep.Namespace + "/" + ep.Name
		if ep.Namespace == "" || ep.Name == "" {
			errs = append(errs, fmt.Errorf("eventpolicy %q: metadata.name and metadata.namespace are required", key))
			continue
		}
		ep.SetDefaults(vctx)
		if fe := ep.Validate(vctx).Filter(apis.ErrorLevel); fe != nil {
			errs = append(errs, fmt.Errorf("eventpolicy %s: %w", key, fe))
			continue
		}
		if err := checkFilterValues(ep.Spec.Filters, "spec.filters"); err != nil {
			errs = append(errs, fmt.Errorf("eventpolicy %s: %w", key, err))
			continue
		}
		var subjects []string
		for j, f := range ep.Spec.From {
			switch {
			case f.Sub != nil:
				subjects = append(subjects, *f.Sub)
			case f.Ref != nil:
				ns := f.Ref.Namespace
				if ns == "" {
					ns = ep.Namespace
				}
				gv, err := schema.ParseGroupVersion(f.Ref.APIVersion)
				if err != nil {
					errs = append(errs, fmt.Errorf("eventpolicy %s: spec.from[%d].ref.apiVersion: %w", key, j, err))
					continue
				}
				subjects = append(subjects, identity.ResourceSubject(gv.WithKind(f.Ref.Kind), ns, f.Ref.Name))
			}
		}
		filters, err := materialize(ep.Spec.Filters)
		if err != nil {
			errs = append(errs, fmt.Errorf("eventpolicy %s: spec.filters: %w", key, err))
			continue
		}
		swf := compiledPolicy{subjects: subjects, filter: allFilter(filters)}
		for bkey := range brokers {
			bns, bname := splitKey(bkey)
			if bns != ep.Namespace {
				continue
			}
			applies := len(ep.Spec.To) == 0
			for j, to := range ep.Spec.To {
				switch {
				case to.Ref != nil:
					if to.Ref.Kind == brokerGVK.Kind && to.Ref.Name == bname && (to.Ref.APIVersion == "" || to.Ref.APIVersion == brokerGVK.GroupVersion().String()) {
						applies = true
					}
				case to.Selector != nil && to.Selector.LabelSelector != nil:
					if to.Selector.TypeMeta != nil && to.Selector.Kind != "" && to.Selector.Kind != brokerGVK.Kind {
						continue
					}
					sel, err := metav1.LabelSelectorAsSelector(to.Selector.LabelSelector)
					if err != nil {
						errs = append(errs, fmt.Errorf("eventpolicy %s: spec.to[%d].selector: %w", key, j, err))
						continue
					}
					if sel.Matches(labels.Set(brokerLabels[bkey])) {
						applies = true
					}
				}
			}
			if applies {
				out[bkey] = append(out[bkey], swf)
			}
		}
	}
	return out, errs
}

// authenticate checks a request's token for the broker's audience and
// returns its subject; code is not 0 when the request is refused.
func (b *Broker) authenticate(ctx context.Context, br *brokerState, h http.Header) (subject string, code int, reason string) {
	id := b.opts.Identity
	sub, err := id.Verifier.Verify(ctx, identity.BearerToken(h), br.audience)
	if err != nil {
		return "", http.StatusUnauthorized, fmt.Sprintf("broker %s: %v", br.key, err)
	}
	return sub, 0, ""
}

// authorize decides whether subject may send ev to br, by the EventPolicies
// that apply to it, or else by the default mode, as Knative's verifier
// does.
func (b *Broker) authorize(ctx context.Context, br *brokerState, subject string, ev *event.Event) error {
	if b.opts.Identity == nil {
		return nil
	}
	ps := *b.policies.Load()
	if applying := ps[br.key]; len(applying) > 0 {
		if applying.allows(ctx, subject, ev) {
			return nil
		}
		return fmt.Errorf("%w: broker %s: %s may not send %s events (id %s) by the EventPolicies that apply to it", errForbidden, br.key, subject, ev.Type(), ev.ID())
	}
	switch b.opts.Identity.DefaultMode {
	case feature.AuthorizationAllowAll:
		return nil
	case feature.AuthorizationDenyAll:
		return fmt.Errorf("%w: broker %s: no EventPolicy applies to it and the default mode is %s", errForbidden, br.key, feature.AuthorizationDenyAll)
	default:
		ns, _ := splitKey(br.key)
		if rest, ok := strings.CutPrefix(subject, identity.ServiceAccountSubject(ns, "")); ok && rest != "" {
			return nil
		}
		return fmt.Errorf("%w: broker %s: no EventPolicy applies to it, and %s is not of namespace %s (%s)", errForbidden, br.key, subject, ns, feature.AuthorizationAllowSameNamespace)
	}
}

// deliveryToken is the token a Trigger's delivery to d carries: the
// Trigger's identity for d's audience ("" when there is no audience or
// sender identity is off).
func (b *Broker) deliveryToken(t *eventingv1.Trigger, d duckv1.Destination) (string, error) {
	id := b.opts.Identity
	if id == nil {
		return "", nil
	}
	aud := ""
	if d.Audience != nil {
		aud = *d.Audience
	} else if id.Audience != nil {
		aud = id.Audience(t.Namespace, d)
	}
	if aud == "" {
		return "", nil
	}
	return id.Issuer.Issue(identity.ResourceSubject(triggerGVK, t.Namespace, t.Name), aud)
}

func splitKey(key string) (string, string) {
	ns, name, _ := strings.Cut(key, "/")
	return ns, name
}
