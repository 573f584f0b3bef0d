package secrets

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
)

// Masked replaces the value of a sensitive header wherever an event is
// stored or logged. It is Argo's text for the Authorization header, kept so
// that what Argo users see (and match on) is unchanged.
const Masked = "*** Masked Auth Secret ***"

// DefaultSensitiveHeaders are the request headers whose values are masked
// in every event: the ones that carry credentials in common use. A source
// adds the headers its own auth settings name (see NewHeaderMask).
func DefaultSensitiveHeaders() []string {
	return []string{"Authorization", "Cookie", "Set-Cookie", "X-Api-Key", "Proxy-Authorization"}
}

// HeaderMask masks sensitive headers. The zero value masks nothing; use
// NewHeaderMask.
type HeaderMask struct {
	// names are canonical header names (http.CanonicalHeaderKey).
	names []string
}

// NewHeaderMask masks the default sensitive headers and extra.
func NewHeaderMask(extra ...string) HeaderMask {
	var m HeaderMask
	for _, n := range append(DefaultSensitiveHeaders(), extra...) {
		if c := http.CanonicalHeaderKey(n); c != "" && !slices.Contains(m.names, c) {
			m.names = append(m.names, c)
		}
	}
	slices.Sort(m.names)
	return m
}

// Names are the headers masked, canonical and sorted.
func (m HeaderMask) Names() []string { return slices.Clone(m.names) }

// Sensitive reports whether the header name is masked, in any case.
func (m HeaderMask) Sensitive(name string) bool {
	_, ok := slices.BinarySearch(m.names, http.CanonicalHeaderKey(name))
	return ok
}

// Header returns a copy of h with each value of a sensitive header masked.
// A header that was sent stays present, so that a filter or a trigger can
// still tell that it was.
func (m HeaderMask) Header(h http.Header) http.Header {
	out := h.Clone()
	for k, v := range out {
		if m.Sensitive(k) {
			out[k] = masked(len(v))
		}
	}
	return out
}

func masked(n int) []string {
	out := make([]string, max(n, 1))
	for i := range out {
		out[i] = Masked
	}
	return out
}

// EventJSON masks an event stored in the CloudEvents JSON format: the
// sensitive entries of the "header" object of its data, the shape of Argo's
// {header, body, metadata} that every source of headers uses. Anything
// else is returned unchanged; changed says whether something was masked.
func (m HeaderMask) EventJSON(raw []byte) (out []byte, changed bool, err error) {
	var ev map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ev); err != nil {
		return raw, false, fmt.Errorf("mask headers: decode event: %w", err)
	}
	data, ok := ev["data"]
	if !ok {
		return raw, false, nil
	}
	masked, changed, err := m.DataJSON(data)
	if err != nil || !changed {
		return raw, false, err
	}
	ev["data"] = masked
	out, err = json.Marshal(ev)
	if err != nil {
		return raw, false, fmt.Errorf("mask headers: encode event: %w", err)
	}
	return out, true, nil
}

// DataJSON masks the sensitive entries of the "header" object of an event's
// data. Data that is not a JSON object with a header object is returned
// unchanged, without an error: not every event carries headers.
func (m HeaderMask) DataJSON(data []byte) (out []byte, changed bool, err error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return data, false, nil
	}
	var d map[string]json.RawMessage
	if json.Unmarshal(trimmed, &d) != nil {
		return data, false, nil
	}
	rawHeader, ok := d["header"]
	if !ok {
		return data, false, nil
	}
	var header map[string]json.RawMessage
	if json.Unmarshal(rawHeader, &header) != nil {
		return data, false, nil
	}
	for k, v := range header {
		if !m.Sensitive(k) {
			continue
		}
		var want any = Masked
		var values []string
		if json.Unmarshal(v, &values) == nil {
			want = masked(len(values))
		}
		b, err := json.Marshal(want)
		if err != nil {
			return data, false, fmt.Errorf("mask header %s: %w", k, err)
		}
		if !bytes.Equal(b, v) {
			header[k] = b
			changed = true
		}
	}
	if !changed {
		return data, false, nil
	}
	if d["header"], err = json.Marshal(header); err != nil {
		return data, false, fmt.Errorf("mask headers: encode header: %w", err)
	}
	if out, err = json.Marshal(d); err != nil {
		return data, false, fmt.Errorf("mask headers: encode data: %w", err)
	}
	return out, true, nil
}
