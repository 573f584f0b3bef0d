package broker

import (
	"context"
	"fmt"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/eventfilter"
	"knative.dev/eventing/pkg/eventfilter/attributes"
	"knative.dev/eventing/pkg/eventfilter/subscriptionsapi"
)

// safeFilter is a Trigger's filter. The leaves (exact, prefix, suffix,
// cesql, and the legacy attributes) are Knative's own filters; all, any and
// not are composed here with Knative's semantics. Knative's all/any filters
// reorder their children from a background goroutine, and copy an atomic
// counter while it runs, which the race detector reports; the composition
// here has no goroutines. Knative's CESQL filter panics on some expressions
// that validation lets through (a non-boolean one panics on every event), so
// a panic counts as "does not match" and never stops delivery.
type safeFilter struct{ f eventfilter.Filter }

func (s safeFilter) Filter(ctx context.Context, e cloudevents.Event) (r eventfilter.FilterResult) {
	defer func() {
		if recover() != nil {
			r = eventfilter.FailFilter
		}
	}()
	return s.f.Filter(ctx, e)
}

// matches reports whether the trigger takes the event: only FailFilter
// drops one, as in Knative.
func (s safeFilter) matches(ctx context.Context, e cloudevents.Event) bool {
	return s.Filter(ctx, e) != eventfilter.FailFilter
}

// Cleanup releases the filter's resources.
func (s safeFilter) Cleanup() {
	defer func() { _ = recover() }()
	if s.f != nil {
		s.f.Cleanup()
	}
}

// buildFilter builds a Trigger's filter as Knative's broker does: the new
// `filters` when set (filter.attributes is then ignored), else the legacy
// attributes. The Trigger must have passed Validate and checkFilters.
func buildFilter(t *eventingv1.Trigger) (f safeFilter, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("build filter: %v", r)
		}
	}()
	switch {
	case len(t.Spec.Filters) > 0:
		all, err := materialize(t.Spec.Filters)
		if err != nil {
			return safeFilter{}, err
		}
		return safeFilter{allFilter(all)}, nil
	case t.Spec.Filter != nil:
		return safeFilter{attributes.NewAttributesFilter(t.Spec.Filter.Attributes)}, nil
	default:
		return safeFilter{subscriptionsapi.NewNoFilter()}, nil
	}
}

func materialize(filters []eventingv1.SubscriptionsAPIFilter) ([]eventfilter.Filter, error) {
	out := make([]eventfilter.Filter, 0, len(filters))
	for i, f := range filters {
		m, err := materializeOne(f)
		if err != nil {
			return nil, fmt.Errorf("filters[%d]: %w", i, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// materializeOne takes the first dialect set, in Knative's order.
func materializeOne(f eventingv1.SubscriptionsAPIFilter) (eventfilter.Filter, error) {
	switch {
	case len(f.Exact) > 0:
		return subscriptionsapi.NewExactFilter(f.Exact)
	case len(f.Prefix) > 0:
		return subscriptionsapi.NewPrefixFilter(f.Prefix)
	case len(f.Suffix) > 0:
		return subscriptionsapi.NewSuffixFilter(f.Suffix)
	case len(f.All) > 0:
		children, err := materialize(f.All)
		return allFilter(children), err
	case len(f.Any) > 0:
		children, err := materialize(f.Any)
		return anyFilter(children), err
	case f.Not != nil:
		child, err := materializeOne(*f.Not)
		return notFilter{child}, err
	case f.CESQL != "":
		return subscriptionsapi.NewCESQLFilter(f.CESQL)
	default:
		return subscriptionsapi.NewNoFilter(), nil
	}
}

// listFilter is Knative's all and any: the first child whose result is
// decisive (FailFilter for all, PassFilter for any) decides; otherwise the
// last child's result does (NoFilter when there are none).
type listFilter struct {
	children []eventfilter.Filter
	decisive eventfilter.FilterResult
}

func allFilter(children []eventfilter.Filter) listFilter {
	return listFilter{children: children, decisive: eventfilter.FailFilter}
}

func anyFilter(children []eventfilter.Filter) listFilter {
	return listFilter{children: children, decisive: eventfilter.PassFilter}
}

func (l listFilter) Filter(ctx context.Context, e cloudevents.Event) eventfilter.FilterResult {
	r := eventfilter.NoFilter
	for _, f := range l.children {
		if r = f.Filter(ctx, e); r == l.decisive {
			return r
		}
	}
	return r
}

func (l listFilter) Cleanup() {
	for _, f := range l.children {
		f.Cleanup()
	}
}

// notFilter is Knative's not: Pass and Fail swap, NoFilter stays.
type notFilter struct{ f eventfilter.Filter }

func (n notFilter) Filter(ctx context.Context, e cloudevents.Event) eventfilter.FilterResult {
	switch n.f.Filter(ctx, e) {
	case eventfilter.PassFilter:
		return eventfilter.FailFilter
	case eventfilter.FailFilter:
		return eventfilter.PassFilter
	default:
		return eventfilter.NoFilter
	}
}

func (n notFilter) Cleanup() { n.f.Cleanup() }
