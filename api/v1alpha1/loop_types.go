package v1alpha1

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Item is one element of withItems: any JSON value.
//
// +kubebuilder:validation:Schemaless
// +kubebuilder:pruning:PreserveUnknownFields
// +kubebuilder:validation:Type=""
type Item struct {
	// Raw is the element's JSON text.
	Raw json.RawMessage `json:"-"`
}

// ItemFrom encodes v as an Item.
func ItemFrom(v any) (Item, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Item{}, fmt.Errorf("encode item: %w", err)
	}
	return Item{Raw: b}, nil
}

// MarshalJSON returns the raw JSON.
func (i Item) MarshalJSON() ([]byte, error) {
	if len(i.Raw) == 0 {
		return []byte("null"), nil
	}
	return i.Raw, nil
}

// UnmarshalJSON keeps the raw JSON.
func (i *Item) UnmarshalJSON(b []byte) error {
	i.Raw = append(i.Raw[:0], bytes.TrimSpace(b)...)
	return nil
}

// Sequence generates numbered items: start..end inclusive (descending when
// start > end), or count items from start. Each item is
// fmt.Sprintf(format, n), format defaulting to "%d".
type Sequence struct {
	// +optional
	Count *AnyString `json:"count,omitempty"`
	// +optional
	Start *AnyString `json:"start,omitempty"`
	// +optional
	End *AnyString `json:"end,omitempty"`
	// +optional
	Format string `json:"format,omitempty"`
}
