package models

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
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
	v, err := decodeExact(raw)
	if err != nil {
		return nil, fmt.Errorf("is not a JSON value")
	}
	switch v.(type) {
	case string, json.Number, bool, nil:
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
	root, err := decodeExact(payload)
	if err != nil {
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

// decodeExact decodes JSON keeping numbers as written (json.Number), so
// that they compare exactly: as float64, 29-digit integers rounded to
// one another and numbers past its range did not decode.
func decodeExact(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return v, nil
}

// equalJSON compares a decoded value with a JSON scalar: numbers by exact
// value (1 equals 1.0 and 1e0), strings, booleans and null exactly.
func equalJSON(v any, want json.RawMessage) bool {
	w, err := decodeExact(want)
	if err != nil {
		return false
	}
	if a, ok := v.(json.Number); ok {
		b, ok := w.(json.Number)
		return ok && sameNumber(a, b)
	}
	return v == w
}

// hugeExponent reports a number written with an exponent beyond ±9999.
func hugeExponent(n json.Number) bool {
	i := strings.IndexAny(string(n), "eE")
	if i < 0 {
		return false
	}
	e, err := strconv.Atoi(strings.TrimLeft(string(n[i+1:]), "+"))
	return err != nil || e > 9999 || e < -9999
}

// sameNumber compares two JSON numbers exactly, at any size.
func sameNumber(a, b json.Number) bool {
	if a == b {
		return true
	}
	if hugeExponent(a) || hugeExponent(b) {
		return false // 1e999999999 would take big.Rat gigabytes; such numbers match as written only
	}
	x, okX := new(big.Rat).SetString(string(a))
	y, okY := new(big.Rat).SetString(string(b))
	return okX && okY && x.Cmp(y) == 0
}

// ParseFilter reads a webhook's filter as the API takes it: an object
// whose keys are payload paths and whose values are what the path must
// hold: a JSON scalar to equal, or an object with exactly one of "in" (a
// list of scalars), "exists" (a boolean) or "prefix" (a string). Every key
// must match. The filters come back in path order; errors name the key
// (filter.conversation.inboxId.in[1]).
func ParseFilter(obj map[string]json.RawMessage) ([]Filter, error) {
	if len(obj) > MaxFilters {
		return nil, Invalid("filter", "has %d keys; at most %d are allowed", len(obj), MaxFilters)
	}
	paths := make([]string, 0, len(obj))
	for p := range obj {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	out := make([]Filter, 0, len(paths))
	for _, path := range paths {
		field := "filter." + path
		if err := checkPath(path); err != nil {
			return nil, Invalid("filter", "key %s", err)
		}
		f, err := parseCondition(path, obj[path])
		if err != nil {
			var v *ValidationError
			if errors.As(err, &v) {
				return nil, Invalid(field+v.Field, "%s", v.Message)
			}
			return nil, Invalid(field, "%s", err)
		}
		out = append(out, f)
	}
	return out, nil
}

// parseCondition reads one key's value; a *ValidationError's Field is the
// suffix after the key (".in[1]").
func parseCondition(path string, raw json.RawMessage) (Filter, error) {
	f := Filter{Path: path}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		if len(trimmed) > 0 && trimmed[0] == '[' {
			return f, Invalid("", `is a list: to match one of several values give {"in": [...]}`)
		}
		v, err := scalar(raw)
		if err != nil {
			return f, Invalid("", "%s", err)
		}
		f.Equals = v
		return f, nil
	}
	var op map[string]json.RawMessage
	if err := json.Unmarshal(raw, &op); err != nil {
		return f, Invalid("", "is not valid JSON")
	}
	if len(op) != 1 {
		return f, Invalid("", `give a value to equal, or an object with exactly one of "in", "exists" or "prefix"`)
	}
	for name, v := range op {
		switch name {
		case "in":
			var list []json.RawMessage
			if err := json.Unmarshal(v, &list); err != nil {
				return f, Invalid(".in", "must be a list of values")
			}
			if len(list) == 0 || len(list) > MaxFilterOneOf {
				return f, Invalid(".in", "must hold 1 to %d values", MaxFilterOneOf)
			}
			for j, item := range list {
				s, err := scalar(item)
				if err != nil {
					return f, Invalid(fmt.Sprintf(".in[%d]", j), "%s", err)
				}
				f.OneOf = append(f.OneOf, s)
			}
		case "exists":
			var b bool
			if err := json.Unmarshal(v, &b); err != nil {
				return f, Invalid(".exists", "must be true or false")
			}
			f.Exists = &b
		case "prefix":
			var p string
			if err := json.Unmarshal(v, &p); err != nil || p == "" || len(p) > MaxFilterValue {
				return f, Invalid(".prefix", "must be a string of 1 to %d characters", MaxFilterValue)
			}
			f.Prefix = &p
		default:
			return f, Invalid("."+name, `is not an operator: use "in", "exists" or "prefix"`)
		}
	}
	return f, nil
}

// FilterObject shows filters as ParseFilter reads them.
func FilterObject(fs []Filter) map[string]any {
	if len(fs) == 0 {
		return nil
	}
	out := make(map[string]any, len(fs))
	for _, f := range fs {
		switch {
		case f.Equals != nil:
			out[f.Path] = f.Equals
		case f.OneOf != nil:
			out[f.Path] = map[string]any{"in": f.OneOf}
		case f.Exists != nil:
			out[f.Path] = map[string]any{"exists": *f.Exists}
		case f.Prefix != nil:
			out[f.Path] = map[string]any{"prefix": *f.Prefix}
		}
	}
	return out
}
