package dsl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
)

// The JSON form of a Plan (xhad check-config --json) follows the json tags of
// its types, with one difference from encoding/json: every time.Duration is
// written as a Go duration string ("500ms", "1h") instead of nanoseconds.
// The fields stay time.Duration; the types that hold durations have a
// MarshalJSON, so a Group or Resource marshalled alone prints the same way.

// MarshalJSON writes the plan with durations as Go duration strings.
func (p Plan) MarshalJSON() ([]byte, error) { return marshalWithDurations(p) }

// MarshalJSON writes the timing with durations as Go duration strings.
func (t Timing) MarshalJSON() ([]byte, error) { return marshalWithDurations(t) }

// MarshalJSON writes the policy with durations as Go duration strings.
func (f Failover) MarshalJSON() ([]byte, error) { return marshalWithDurations(f) }

// MarshalJSON writes the fencing with durations as Go duration strings.
func (f Fencing) MarshalJSON() ([]byte, error) { return marshalWithDurations(f) }

// MarshalJSON writes the group with durations as Go duration strings.
func (g Group) MarshalJSON() ([]byte, error) { return marshalWithDurations(g) }

// MarshalJSON writes the resource with durations as Go duration strings.
func (r Resource) MarshalJSON() ([]byte, error) { return marshalWithDurations(r) }

// MarshalJSON writes the spec with durations as Go duration strings.
func (x XenSpec) MarshalJSON() ([]byte, error) { return marshalWithDurations(x) }

// MarshalJSON writes the spec with durations as Go duration strings.
func (s IPSpec) MarshalJSON() ([]byte, error) { return marshalWithDurations(s) }

// MarshalJSON writes the spec with durations as Go duration strings.
func (d DatabaseSpec) MarshalJSON() ([]byte, error) { return marshalWithDurations(d) }

var durationType = reflect.TypeFor[time.Duration]()

// marshalWithDurations encodes v like encoding/json (json tags, omitempty,
// sorted map keys) but writes durations as strings. It walks structs itself,
// so it never calls the MarshalJSON methods above and cannot recurse.
func marshalWithDurations(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := encodeJSON(&buf, reflect.ValueOf(v)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func encodeJSON(buf *bytes.Buffer, v reflect.Value) error {
	if !v.IsValid() {
		buf.WriteString("null")
		return nil
	}
	if v.Type() == durationType {
		return writeJSON(buf, formatDuration(time.Duration(v.Int())))
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			buf.WriteString("null")
			return nil
		}
		return encodeJSON(buf, v.Elem())
	case reflect.Struct:
		buf.WriteByte('{')
		first := true
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" && opts == "" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fv := v.Field(i)
			if strings.Contains(","+opts+",", ",omitempty,") && isEmptyJSON(fv) {
				continue
			}
			if !first {
				buf.WriteByte(',')
			}
			first = false
			if err := writeJSON(buf, name); err != nil {
				return err
			}
			buf.WriteByte(':')
			if err := encodeJSON(buf, fv); err != nil {
				return fmt.Errorf("field %s: %w", name, err)
			}
		}
		buf.WriteByte('}')
		return nil
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			buf.WriteString("null")
			return nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return writeJSON(buf, v.Interface())
		}
		buf.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := encodeJSON(buf, v.Index(i)); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	case reflect.Map:
		if v.IsNil() {
			buf.WriteString("null")
			return nil
		}
		if v.Type().Key().Kind() != reflect.String {
			return writeJSON(buf, v.Interface())
		}
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, k.String()); err != nil {
				return err
			}
			buf.WriteByte(':')
			if err := encodeJSON(buf, v.MapIndex(k)); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
		return nil
	}
	return writeJSON(buf, v.Interface())
}

// isEmptyJSON is encoding/json's notion of empty for omitempty.
func isEmptyJSON(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

func writeJSON(buf *bytes.Buffer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	buf.Write(b)
	return nil
}
