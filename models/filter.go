package models

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Limits on a webhook's payload filters.
const (
	MaxFilters       = 20
	MaxFilterPath    = 256
	MaxFilterOneOf   = 100
	MaxFilterValue   = 1024
	maxPathSegments  = 16
	filterFieldsHelp = "give exactly one of equals, oneOf, exists or prefix"
)

// Filter is one condition on an event's payload: the value at Path (dot
// separated keys from the payload's root, a number indexing an array:
// "conversation.inboxId", "message.attachments.0.type") must equal Equals,
// be one of OneOf, exist (or not), or be a string starting with Prefix.
// A webhook's filters must all hold for an event to be delivered to it.
type Filter struct {
	Path   string            `json:"path"`
	Equals json.RawMessage   `json:"equals,omitempty"`
	OneOf  []json.RawMessage `json:"oneOf,omitempty"`
	Exists *bool             `json:"exists,omitempty"`
	Prefix *string           `json:"prefix,omitempty"`
}

// NormalizeFilters validates a webhook's filters and returns them with
// their values in compact form. Nil and empty are no filters.
func NormalizeFilters(fs []Filter) ([]Filter, error) {
	if len(fs) > MaxFilters {
		return nil, Invalid("filters", "has %d filters; at most %d are allowed", len(fs), MaxFilters)
	}
	if len(fs) == 0 {
		return nil, nil
	}
	out := make([]Filter, len(fs))
	for i, f := range fs {
		field := fmt.Sprintf("filters[%d]", i)
		if err := checkPath(f.Path); err != nil {
			return nil, Invalid(field+".path", "%s", err)
		}
		n := 0
		for _, set := range []bool{f.Equals != nil, f.OneOf != nil, f.Exists != nil, f.Prefix != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			return nil, Invalid(field, "%s", filterFieldsHelp)
		}
		g := Filter{Path: f.Path, Exists: f.Exists, Prefix: f.Prefix}
		var err error
		switch {
		case f.Equals != nil:
			g.Equals, err = scalar(f.Equals)
			if err != nil {
				return nil, Invalid(field+".equals", "%s", err)
			}
		case f.OneOf != nil:
			if len(f.OneOf) == 0 || len(f.OneOf) > MaxFilterOneOf {
				return nil, Invalid(field+".oneOf", "must hold 1 to %d values", MaxFilterOneOf)
			}
			g.OneOf = make([]json.RawMessage, len(f.OneOf))
			for j, v := range f.OneOf {
				if g.OneOf[j], err = scalar(v); err != nil {
					return nil, Invalid(fmt.Sprintf("%s.oneOf[%d]", field, j), "%s", err)
				}
			}
		case f.Prefix != nil:
			if *f.Prefix == "" || len(*f.Prefix) > MaxFilterValue {
				return nil, Invalid(field+".prefix", "must be 1 to %d characters", MaxFilterValue)
			}
		}
		out[i] = g
	}
	return out, nil
}

func checkPath(p string) error {
	if p == "" {
		return fmt.Errorf("is required: dot-separated keys such as conversation.inboxId")
	}
	if len(p) > MaxFilterPath {
		return fmt.Errorf("is longer than %d characters", MaxFilterPath)
	}
	segments := strings.Split(p, ".")
	if len(segments) > maxPathSegments {
		return fmt.Errorf("has more than %d parts", maxPathSegments)
	}
	for _, s := range segments {
		if s == "" {
			return fmt.Errorf("%q has an empty part", p)
		}
	}
	return nil
}

// scalar checks that raw is one JSON string, number, boolean or null and
// returns it compact.
func scalar(raw json.RawMessage) (json.RawMessage, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("is not a JSON value")
	}
	switch v.(type) {
	case string, float64, bool, nil:
	default:
		return nil, fmt.Errorf("must be a string, number, boolean or null")
	}
	if len(raw) > MaxFilterValue {
		return nil, fmt.Errorf("is longer than %d characters", MaxFilterValue)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, fmt.Errorf("is not a JSON value")
	}
	return b.Bytes(), nil
}

// MatchFilters reports whether a payload passes every filter. A payload
// that is not a JSON object passes none that look into it.
func MatchFilters(fs []Filter, payload []byte) bool {
	if len(fs) == 0 {
		return true
	}
	var root any
	if err := json.Unmarshal(payload, &root); err != nil {
		return false
	}
	for _, f := range fs {
		if !f.matches(root) {
			return false
		}
	}
	return true
}

func (f Filter) matches(root any) bool {
	v, found := lookupPath(root, f.Path)
	switch {
	case f.Exists != nil:
		return found == *f.Exists
	case !found:
		return false
	case f.Prefix != nil:
		s, ok := v.(string)
		return ok && strings.HasPrefix(s, *f.Prefix)
	case f.Equals != nil:
		return equalJSON(v, f.Equals)
	}
	for _, want := range f.OneOf {
		if equalJSON(v, want) {
			return true
		}
	}
	return false
}

// lookupPath follows a dot-separated path through decoded JSON.
func lookupPath(v any, path string) (any, bool) {
	for _, key := range strings.Split(path, ".") {
		switch node := v.(type) {
		case map[string]any:
			next, ok := node[key]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(node) {
				return nil, false
			}
			v = node[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// equalJSON compares a decoded value with a JSON scalar: numbers by value
// (1 equals 1.0), strings, booleans and null exactly.
func equalJSON(v any, want json.RawMessage) bool {
	var w any
	if json.Unmarshal(want, &w) != nil {
		return false
	}
	return v == w
}
