package params

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/tidwall/gjson"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// Resolve returns a parameter source's value from the events; ok is false
// when the parameter is to be skipped (its dependency did not fire and it
// has no default value).
//
// Precedence, as in Argo Events: data selectors over context selectors,
// template over key, key over src.value. A dependency that did not fire is
// normal under "||" conditions, so it is not an error.
func Resolve(src *v1alpha1.TriggerParameterSource, events map[string]event.Event) (value Value, ok bool, err error) {
	if src == nil {
		return Value{}, false, errors.New("parameter has no src")
	}
	ev, fired := events[src.DependencyName]
	if !fired {
		if src.Value != nil {
			return Value{Text: *src.Value}, true, nil
		}
		return Value{}, false, nil
	}
	sel, selected := selectorOf(src)
	if !selected {
		// Without a selector, value is a literal and otherwise the whole
		// event is the value.
		if src.Value != nil {
			return Value{Text: *src.Value}, true, nil
		}
		whole, err := wholeEvent(ev)
		if err != nil {
			return Value{}, false, fmt.Errorf("dependency %s: encoding the event: %w", src.DependencyName, err)
		}
		return Value{Text: string(whole), JSON: true}, true, nil
	}
	v, err := sel.resolve(ev)
	if err == nil {
		return v, true, nil
	}
	if src.Value != nil {
		return Value{Text: *src.Value}, true, nil
	}
	return Value{}, false, fmt.Errorf("dependency %s: %w", src.DependencyName, err)
}

// selector is the key and template of one side of the event, with their
// field names for messages.
type selector struct {
	data                    bool
	key, template           string
	keyField, templateField string
}

// selectorOf picks the side of the event the source reads. Any data selector
// makes both key and template come from the data fields, ignoring the
// context ones (Argo: "the dataKey takes the precedence").
func selectorOf(src *v1alpha1.TriggerParameterSource) (selector, bool) {
	switch {
	case src.DataKey != "" || src.DataTemplate != "":
		return selector{data: true, key: src.DataKey, template: src.DataTemplate, keyField: "dataKey", templateField: "dataTemplate"}, true
	case src.ContextKey != "" || src.ContextTemplate != "":
		return selector{key: src.ContextKey, template: src.ContextTemplate, keyField: "contextKey", templateField: "contextTemplate"}, true
	}
	return selector{}, false
}

// resolve runs the template, then the key, on the chosen document. The
// caller falls back to src.value on error.
func (s selector) resolve(ev event.Event) (Value, error) {
	var doc []byte
	var err error
	if s.data {
		doc, err = dataDocument(ev)
	} else {
		doc, err = json.Marshal(contextOf(ev))
	}
	if err != nil {
		return Value{}, err
	}
	var tmplErr error
	if s.template != "" {
		out, err := runTemplate(s.template, doc)
		switch {
		case err != nil:
			tmplErr = fmt.Errorf("%s: %w", s.templateField, err)
		case out == "" || out == noValue:
			tmplErr = fmt.Errorf("%s produced no value", s.templateField)
		default:
			return Value{Text: out}, nil
		}
	}
	if s.key == "" {
		return Value{}, tmplErr
	}
	r := gjson.GetBytes(doc, s.key)
	if !r.Exists() {
		keyErr := fmt.Errorf("%s %q not found in the event", s.keyField, s.key)
		if tmplErr != nil {
			return Value{}, fmt.Errorf("%w; %w", tmplErr, keyErr)
		}
		return Value{}, keyErr
	}
	return keyValue(r), nil
}

// keyValue turns a gjson result into a Value: strings unquoted, everything
// else as its JSON text so that useRawData can insert it unchanged (a large
// integer keeps its digits).
func keyValue(r gjson.Result) Value {
	switch r.Type {
	case gjson.String:
		return Value{Text: r.Str}
	case gjson.Null:
		return Value{Text: "null", JSON: true}
	default:
		return Value{Text: r.Raw, JSON: true}
	}
}

// runTemplate executes a template on {"Input": doc}. doc is decoded with
// float64 numbers, as Argo's gjson Value() does, so that templates behave
// alike (a large integer prints in exponent form).
func runTemplate(text string, doc []byte) (string, error) {
	t, err := parseTemplate(text)
	if err != nil {
		return "", err
	}
	var input any
	if err := json.Unmarshal(doc, &input); err != nil {
		return "", fmt.Errorf("decoding the document: %w", err)
	}
	out := newBoundedWriter()
	if err := t.Execute(out, map[string]any{"Input": input}); err != nil {
		return "", err
	}
	return out.String(), nil
}

// eventContext is the event's context as Argo exposes it to contextKey and
// contextTemplate and in the whole-event value; the keys are Argo's.
type eventContext struct {
	ID              string `json:"id,omitempty"`
	Source          string `json:"source,omitempty"`
	SpecVersion     string `json:"specversion,omitempty"`
	Type            string `json:"type,omitempty"`
	DataContentType string `json:"datacontenttype,omitempty"`
	Subject         string `json:"subject,omitempty"`
	Time            string `json:"time,omitempty"`
}

func contextOf(ev event.Event) eventContext {
	c := eventContext{
		ID:              ev.ID(),
		Source:          ev.Source(),
		SpecVersion:     ev.SpecVersion(),
		Type:            ev.Type(),
		DataContentType: ev.DataContentType(),
		Subject:         ev.Subject(),
	}
	// UTC RFC 3339 with nanoseconds, as the CloudEvents SDK writes time on
	// the wire, so that the value does not depend on the local zone.
	if t := ev.Time(); !t.IsZero() {
		c.Time = t.UTC().Format(time.RFC3339Nano)
	}
	return c
}

// wholeEvent is {"context": {...}, "data": ...}. Argo always base64s the
// data; JSON data is embedded instead, so that a receiver can read it
// without decoding it twice. Other data stays base64 in a string, and no
// data is null.
func wholeEvent(ev event.Event) ([]byte, error) {
	var data any = ev.Data()
	if ev.Data() != nil {
		if doc, ok := jsonData(ev); ok {
			data = json.RawMessage(doc)
		}
	}
	return json.Marshal(struct {
		Context eventContext `json:"context"`
		Data    any          `json:"data"`
	}{contextOf(ev), data})
}

// jsonData returns the data when it is JSON: it is valid JSON and its
// content type is JSON or absent.
func jsonData(ev event.Event) ([]byte, bool) {
	mt := mediaType(ev.DataContentType())
	data := ev.Data()
	if (isJSONType(mt) || mt == "") && json.Valid(data) {
		return data, true
	}
	return nil, false
}

// dataDocument returns the data as a JSON document for keys and templates.
// Argo accepts only application/json and application/yaml; other JSON types
// (text/json, +json) and untyped JSON are accepted too, since their data is
// just as usable.
func dataDocument(ev event.Event) ([]byte, error) {
	ct := ev.DataContentType()
	mt := mediaType(ct)
	data := ev.Data()
	switch {
	case isJSONType(mt):
		if !json.Valid(data) {
			return nil, fmt.Errorf("data of type %q is not valid JSON", ct)
		}
		return data, nil
	case isYAMLType(mt):
		doc, err := yaml.YAMLToJSON(data)
		if err != nil {
			return nil, fmt.Errorf("data of type %q is not valid YAML: %w", ct, err)
		}
		return doc, nil
	case mt == "" && json.Valid(data):
		return data, nil
	}
	return nil, fmt.Errorf("data of type %q is not JSON", ct)
}

// mediaType is the lower-case media type without parameters such as
// charset. An unparsable type is kept as written (before any ';'), so that
// the error names it.
func mediaType(ct string) string {
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		return mt
	}
	mt, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

func isJSONType(mt string) bool {
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

func isYAMLType(mt string) bool {
	switch mt {
	case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml":
		return true
	}
	return strings.HasSuffix(mt, "+yaml")
}
