package soap

import (
	"encoding"
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// The strict decoder checks every element against a contract derived from
// the Go types themselves, so that the types stay the single statement of
// the wire format: a field tagged `xml:"name"` is an element that occurs
// exactly once; omitempty or a pointer makes it optional (at most once); a
// slice lets it repeat. Strings, integers and text-unmarshalled values
// (time.Time) are leaves holding text only; structs are sequences of
// unqualified child elements and nothing else.

// complexType is the content model of one struct type.
type complexType struct {
	fields []*element
	byName map[string]int
}

// element is one child element a complexType allows.
type element struct {
	name     string
	index    int          // field index in the parent struct
	required bool         // minOccurs 1
	many     bool         // maxOccurs unbounded (a slice)
	ptr      bool         // a pointer field, allocated when the element appears
	typ      reflect.Type // the value type: the field's, without pointer or slice
	content  *complexType // nil for a leaf
}

var (
	contractsMu sync.Mutex
	contracts   = map[reflect.Type]*complexType{}
)

var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

// isLeaf reports whether values of t are carried as element text.
func isLeaf(t reflect.Type) bool {
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Int, reflect.Int32, reflect.Int64:
		return true
	}
	return false
}

// contractOf returns the content model of struct type t, built once. The
// map entry is made before the fields, so that recursive types (ErrorInfo's
// subError) refer to the model being built instead of recursing forever.
func contractOf(t reflect.Type) *complexType {
	contractsMu.Lock()
	defer contractsMu.Unlock()
	return buildContract(t)
}

func buildContract(t reflect.Type) *complexType {
	if ct, ok := contracts[t]; ok {
		return ct
	}
	ct := &complexType{byName: map[string]int{}}
	contracts[t] = ct
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("xml")
		if !ok || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" || name == "-" || strings.Contains(opts, "attr") || strings.Contains(opts, "chardata") || strings.Contains(opts, "innerxml") {
			// The wire types have none of these; a new one must teach
			// the decoder what it means rather than be skipped silently.
			panic(fmt.Sprintf("soap: field %s.%s: tag %q is not supported by the strict decoder", t.Name(), f.Name, tag))
		}
		e := &element{name: name, index: i, required: !strings.Contains(opts, "omitempty")}
		ft := f.Type
		switch ft.Kind() {
		case reflect.Slice:
			e.many, e.required, ft = true, false, ft.Elem()
		case reflect.Pointer:
			e.ptr, e.required, ft = true, false, ft.Elem()
		}
		e.typ = ft
		if !isLeaf(ft) {
			if ft.Kind() != reflect.Struct {
				panic(fmt.Sprintf("soap: field %s.%s: type %s is not supported by the strict decoder", t.Name(), f.Name, ft))
			}
			e.content = buildContract(ft)
		}
		ct.byName[name] = len(ct.fields)
		ct.fields = append(ct.fields, e)
	}
	return ct
}
