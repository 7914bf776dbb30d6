package soap

import (
	"bytes"
	"encoding"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// MaxDepth bounds the nesting of elements in an envelope, the Header's
// included. The contract itself is at most a dozen levels deep (a
// subError chain aside); the bound keeps a hostile chain of subErrors or
// header blocks from costing more than its bytes.
const MaxDepth = 32

// FormatError is an envelope that does not match the contract (SHEP code
// SCE001).
type FormatError struct {
	Reason string
	// Operation is the request operation the Body was found to carry
	// (sendMessage, …, SendMessage for sync), so that the fault can answer
	// in that operation's fault element; empty when it is not known.
	Operation string
}

func (e *FormatError) Error() string { return "soap: " + e.Reason }

func formatErr(format string, args ...any) error {
	return &FormatError{Reason: fmt.Sprintf(format, args...)}
}

// Decode reads one envelope and returns a pointer to the operation type
// its Body holds, or a *Fault. Anything else is a *FormatError: a DTD or
// other directive, a processing instruction other than the XML
// declaration, an element other than Envelope at the top, more than one
// Header, a Header after the Body, no Body or more than one, anything but
// white space and comments after the Body or after the Envelope, a Body
// with no element or with more than one, an unknown operation, and any
// element of an operation that the contract does not have, that appears
// more often than the contract allows, or that the contract requires and
// is missing; text where the contract has elements, elements where it has
// text. Decoding reads each token once and keeps no more than the values
// it returns.
func Decode(data []byte) (any, error) {
	r := &reader{d: xml.NewDecoder(bytes.NewReader(data))}
	r.d.Strict = true
	v, err := r.envelope()
	if err != nil {
		var fe *FormatError
		if !errors.As(err, &fe) {
			fe = &FormatError{Reason: err.Error()}
		}
		if fe.Operation == "" {
			fe.Operation = r.op
		}
		return nil, fe
	}
	return v, nil
}

// reader walks the token stream of one envelope.
type reader struct {
	d      *xml.Decoder
	depth  int
	tokens int    // tokens read, so that only the first may be the XML declaration
	op     string // the request operation found in the Body, for faults
}

// token returns the next token that carries meaning: comments are dropped,
// directives (DOCTYPE and so DTD entities) and processing instructions
// are refused, and nesting is counted. The end of input is io.EOF, which
// only the end of the document may meet (the xml package reports an
// unclosed element as a syntax error).
func (r *reader) token() (xml.Token, error) {
	for {
		tok, err := r.d.Token()
		if err == io.EOF {
			return nil, io.EOF
		}
		if err != nil {
			return nil, formatErr("%v", err)
		}
		r.tokens++
		switch t := tok.(type) {
		case xml.Comment:
			continue
		case xml.Directive:
			return nil, formatErr("DOCTYPE and other directives are not allowed")
		case xml.ProcInst:
			if r.tokens == 1 && t.Target == "xml" {
				continue // the XML declaration, which must come first
			}
			return nil, formatErr("processing instruction %q", t.Target)
		case xml.StartElement:
			r.depth++
			if r.depth > MaxDepth {
				return nil, formatErr("elements nested deeper than %d", MaxDepth)
			}
		case xml.EndElement:
			r.depth--
		}
		return tok, nil
	}
}

// next is token where the end of input is a format error: inside an
// element, or before the Envelope.
func (r *reader) next() (xml.Token, error) {
	tok, err := r.token()
	if err == io.EOF {
		return nil, formatErr("no SOAP envelope")
	}
	return tok, err
}

func blank(t xml.CharData) bool { return len(bytes.TrimSpace(t)) == 0 }

func isEnvelope(n xml.Name, local string) bool { return n.Space == NSEnvelope && n.Local == local }

func (r *reader) envelope() (any, error) {
	for {
		tok, err := r.next()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if !blank(t) {
				return nil, formatErr("text before the Envelope")
			}
		case xml.StartElement:
			if !isEnvelope(t.Name, "Envelope") {
				return nil, formatErr("unexpected element {%s}%s, want a SOAP 1.1 envelope", t.Name.Space, t.Name.Local)
			}
			v, err := r.envelopeContent()
			if err != nil {
				return nil, err
			}
			return v, r.trailer()
		}
	}
}

// envelopeContent reads what SOAP 1.1 allows in an Envelope: at most one
// Header, first, then exactly one Body, then nothing.
func (r *reader) envelopeContent() (any, error) {
	var header, body bool
	var v any
	for {
		tok, err := r.next()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if !blank(t) {
				return nil, formatErr("text inside Envelope")
			}
		case xml.StartElement:
			switch {
			case body && isEnvelope(t.Name, "Body"):
				return nil, formatErr("two Bodies in one Envelope")
			case body:
				return nil, formatErr("content after the Body: {%s}%s", t.Name.Space, t.Name.Local)
			case isEnvelope(t.Name, "Header"):
				if header {
					return nil, formatErr("two Headers in one Envelope")
				}
				header = true
				if err := r.skip(); err != nil {
					return nil, err
				}
			case isEnvelope(t.Name, "Body"):
				body = true
				if v, err = r.body(); err != nil {
					return nil, err
				}
			default:
				return nil, formatErr("unexpected element {%s}%s in Envelope, want Header or Body", t.Name.Space, t.Name.Local)
			}
		case xml.EndElement:
			if !body {
				return nil, formatErr("Envelope without Body")
			}
			return v, nil
		}
	}
}

// skip passes over the Header's blocks (the transport signature is not
// checked by the simulated bus), still bounded in depth and still refusing
// directives and processing instructions.
func (r *reader) skip() error {
	for depth := 1; depth > 0; {
		tok, err := r.next()
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		}
	}
	return nil
}

// trailer accepts only white space and comments after the Envelope.
func (r *reader) trailer() error {
	for {
		tok, err := r.token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if !blank(t) {
				return formatErr("text after the Envelope")
			}
		case xml.StartElement:
			return formatErr("content after the Envelope: {%s}%s", t.Name.Space, t.Name.Local)
		}
	}
}

// body reads exactly one operation element or Fault.
func (r *reader) body() (any, error) {
	var v any
	for {
		tok, err := r.next()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if !blank(t) {
				return nil, formatErr("text inside Body")
			}
		case xml.StartElement:
			if v != nil {
				return nil, formatErr("Body holds more than one element: %s after %s", t.Name.Local, OperationName(v))
			}
			if isEnvelope(t.Name, "Fault") {
				v, err = r.fault()
			} else {
				v, err = r.operation(t)
			}
			if err != nil {
				return nil, err
			}
		case xml.EndElement:
			if v == nil {
				return nil, formatErr("empty Body")
			}
			return v, nil
		}
	}
}

func (r *reader) operation(start xml.StartElement) (any, error) {
	for _, op := range operations {
		if op.ns == start.Name.Space && op.local == start.Name.Local {
			if op.faultName != "" {
				r.op = op.local
			}
			v := reflect.New(op.typ)
			if err := r.complex(v.Elem(), contractOf(op.typ), op.local); err != nil {
				return nil, err
			}
			return v.Interface(), nil
		}
	}
	return nil, formatErr("unknown operation {%s}%s", start.Name.Space, start.Name.Local)
}

// complex reads the children of an element of content model ct into v,
// checking each against the model and, at the end, that none required is
// missing. Attributes are not part of the contract and are ignored
// (namespace declarations, xsi:nil, xsi:type).
func (r *reader) complex(v reflect.Value, ct *complexType, parent string) error {
	counts := make([]int, len(ct.fields))
	for {
		tok, err := r.next()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if !blank(t) {
				return formatErr("text inside <%s>, which holds elements only", parent)
			}
		case xml.StartElement:
			if t.Name.Space != "" {
				return formatErr("<%s> in <%s> is in namespace %s; the contract's child elements are unqualified", t.Name.Local, parent, t.Name.Space)
			}
			i, ok := ct.byName[t.Name.Local]
			if !ok {
				return formatErr("<%s> has no element <%s>", parent, t.Name.Local)
			}
			e := ct.fields[i]
			if counts[i] > 0 && !e.many {
				return formatErr("<%s> appears more than once in <%s>", e.name, parent)
			}
			counts[i]++
			fv := v.Field(e.index)
			switch {
			case e.many:
				fv.Set(reflect.Append(fv, reflect.Zero(e.typ)))
				fv = fv.Index(fv.Len() - 1)
			case e.ptr:
				p := reflect.New(e.typ)
				fv.Set(p)
				fv = p.Elem()
			}
			if e.content != nil {
				err = r.complex(fv, e.content, e.name)
			} else {
				err = r.leaf(fv, e.name)
			}
			if err != nil {
				return err
			}
		case xml.EndElement:
			for i, e := range ct.fields {
				if e.required && counts[i] == 0 {
					return formatErr("<%s> lacks <%s>", parent, e.name)
				}
			}
			return nil
		}
	}
}

// leaf reads the text of a leaf element into v. An element inside a leaf
// is refused rather than dropped: in <data> it would silently lose the
// business document, which travels as escaped text.
func (r *reader) leaf(v reflect.Value, name string) error {
	var text []byte
	for {
		tok, err := r.next()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.CharData:
			text = append(text, t...)
		case xml.StartElement:
			return formatErr("<%s> holds element <%s>; it carries text only", name, t.Name.Local)
		case xml.EndElement:
			return setText(v, text, name)
		}
	}
}

func setText(v reflect.Value, text []byte, name string) error {
	if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		if err := u.UnmarshalText(text); err != nil {
			return formatErr("<%s>: %v", name, err)
		}
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(string(text))
	case reflect.Int, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(string(text)), 10, v.Type().Bits())
		if err != nil {
			return formatErr("<%s>: %q is not an integer", name, text)
		}
		v.SetInt(n)
	default:
		return formatErr("<%s>: no decoding for %s", name, v.Type()) // excluded by contractOf
	}
	return nil
}

// fault reads a SOAP 1.1 Fault: faultcode, faultstring and detail once
// each, faultactor at most once, and in detail exactly one SHEP fault
// element holding ErrorInfo.
func (r *reader) fault() (any, error) {
	f := &Fault{}
	var code, discard string
	seen := map[string]bool{}
	for {
		tok, err := r.next()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if !blank(t) {
				return nil, formatErr("text inside Fault")
			}
		case xml.StartElement:
			name := t.Name.Local
			if t.Name.Space != "" {
				return nil, formatErr("<%s> in Fault is in namespace %s; SOAP 1.1 fault parts are unqualified", name, t.Name.Space)
			}
			if seen[name] {
				return nil, formatErr("<%s> appears more than once in Fault", name)
			}
			seen[name] = true
			switch name {
			case "faultcode":
				err = r.leaf(reflect.ValueOf(&code).Elem(), name)
			case "faultstring", "faultactor":
				err = r.leaf(reflect.ValueOf(&discard).Elem(), name)
			case "detail":
				err = r.faultDetail(f)
			default:
				return nil, formatErr("Fault has no element <%s>", name)
			}
			if err != nil {
				return nil, err
			}
		case xml.EndElement:
			for _, name := range []string{"faultcode", "faultstring", "detail"} {
				if !seen[name] {
					return nil, formatErr("Fault lacks <%s>", name)
				}
			}
			f.Client = strings.HasSuffix(code, ":Client") || code == "Client"
			return f, nil
		}
	}
}

func (r *reader) faultDetail(f *Fault) error {
	found := false
	for {
		tok, err := r.next()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if !blank(t) {
				return formatErr("text inside detail")
			}
		case xml.StartElement:
			if found {
				return formatErr("fault detail holds more than one element")
			}
			found = true
			op, ok := faultOperation(t.Name)
			if !ok {
				return formatErr("fault detail {%s}%s is not a SHEP fault element", t.Name.Space, t.Name.Local)
			}
			f.Operation = op
			if err := r.complex(reflect.ValueOf(&f.Info).Elem(), contractOf(reflect.TypeFor[ErrorInfo]()), t.Name.Local); err != nil {
				return err
			}
		case xml.EndElement:
			if !found {
				return formatErr("fault without ErrorInfo detail")
			}
			return nil
		}
	}
}

// faultOperation names the operation whose fault element n is.
func faultOperation(n xml.Name) (string, bool) {
	for _, op := range operations {
		if op.faultName != "" && op.faultName == n.Local && op.ns == n.Space {
			return op.local, true
		}
	}
	return "", false
}
