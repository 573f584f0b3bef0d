package filter

import "github.com/zeroflow-dev/zeroflow/api/v1alpha1"

// contextFilter matches CloudEvent attributes exactly, as Argo does: no
// prefixes, no patterns. An empty field matches anything; id, specversion
// and time are not filtered on.
type contextFilter v1alpha1.EventContext

func (f contextFilter) match(in *input) (bool, error) {
	ev := in.ev
	ok := (f.Type == "" || f.Type == ev.Type()) &&
		(f.Subject == "" || f.Subject == ev.Subject()) &&
		(f.Source == "" || f.Source == ev.Source()) &&
		(f.DataContentType == "" || f.DataContentType == ev.DataContentType())
	return ok, nil
}
