package params

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// Apply applies parameters to a JSON document (sjson dest paths) and returns
// the new document. Parameters are applied in order, so a later one sees
// what an earlier one wrote; a skipped parameter changes nothing. doc itself
// is not modified.
func Apply(doc []byte, params []v1alpha1.TriggerParameter, events map[string]event.Event) ([]byte, error) {
	// sjson does not validate its input and would splice into garbage.
	if !json.Valid(doc) {
		return nil, errors.New("the document to parameterize is not valid JSON")
	}
	for i := range params {
		p := &params[i]
		v, ok, err := Resolve(p.Src, events)
		if err != nil {
			return nil, fmt.Errorf("parameters[%d]: %w", i, err)
		}
		if !ok {
			continue
		}
		if doc, err = set(doc, p, v); err != nil {
			return nil, fmt.Errorf("parameters[%d]: %w", i, err)
		}
	}
	return doc, nil
}

// Payload builds a JSON body from nothing, as Argo's http payload: each
// parameter sets its dest; a parameter with an empty dest is the whole body
// (later parameters are then ignored). A skipped parameter is skipped, where
// Argo dereferences a nil value.
func Payload(params []v1alpha1.TriggerParameter, events map[string]event.Event) ([]byte, error) {
	body := []byte("{}")
	for i := range params {
		p := &params[i]
		v, ok, err := Resolve(p.Src, events)
		if err != nil {
			return nil, fmt.Errorf("payload[%d]: %w", i, err)
		}
		if !ok {
			continue
		}
		if p.Dest == "" {
			// Argo sends the bytes as they are; a string is quoted here so
			// that the body is always JSON.
			if v.JSON {
				return []byte(v.Text), nil
			}
			b, err := json.Marshal(v.Text)
			if err != nil {
				return nil, fmt.Errorf("payload[%d]: %w", i, err)
			}
			return b, nil
		}
		if body, err = set(body, p, v); err != nil {
			return nil, fmt.Errorf("payload[%d]: %w", i, err)
		}
	}
	return body, nil
}

// set writes v at p.Dest according to p.Operation. Raw insertion needs both
// useRawData and a JSON value; append and prepend onto an existing value
// concatenate text, so their result is always a string (Argo).
func set(doc []byte, p *v1alpha1.TriggerParameter, v Value) ([]byte, error) {
	raw := p.Src.UseRawData && v.JSON
	text := v.Text
	switch p.Operation {
	case "", OpOverwrite:
	case OpAppend, OpPrepend:
		if cur := gjson.GetBytes(doc, p.Dest); cur.Exists() {
			existing := cur.Raw
			if cur.Type == gjson.String {
				existing = cur.Str
			}
			if p.Operation == OpAppend {
				text = existing + text
			} else {
				text = text + existing
			}
			raw = false
		}
	default:
		return nil, fmt.Errorf("operation %q is not one of overwrite, append, prepend", p.Operation)
	}
	var out []byte
	var err error
	if raw {
		out, err = sjson.SetRawBytes(doc, p.Dest, []byte(text))
	} else {
		out, err = sjson.SetBytes(doc, p.Dest, text)
	}
	if err != nil {
		return nil, fmt.Errorf("dest %q: %w", p.Dest, err)
	}
	return out, nil
}
