package signing

import (
	"bytes"
	"encoding/xml"
	"errors"
	"strings"
	"sync"

	"github.com/beevik/etree"
	xrv "github.com/mattermost/xml-roundtrip-validator"

	"egov"
)

// Limits bound what the verifier is willing to parse. Every byte of a
// request comes from outside, so size is checked before parsing and depth
// during it, and both before canonicalization, whose cost grows with the
// document.
type Limits struct {
	MaxBytes    int // whole document, default 512 KiB
	MaxDepth    int // element nesting, default 32
	MaxElements int // elements in the document, default 500 (goxmldsig's traversal budget is ~1000)
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 512 << 10
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = 32
	}
	if l.MaxElements <= 0 {
		l.MaxElements = 500
	}
	return l
}

var doctypeMarker = []byte("<!DOCTYPE")

// parseScreened parses the raw document and refuses what a signed request
// never needs and an attacker often uses: DOCTYPE (and so every entity
// trick), processing instructions other than the XML declaration, comments
// (invisible to exclusive canonicalization, so they let text be split
// without breaking the signature), duplicate attributes (etree would keep
// the last one), more than one root, text outside the root, encodings other
// than UTF-8, and any element that does not survive an encoding/xml round
// trip unchanged (xml-roundtrip-validator's check, applied to every element
// exactly as the tokenizer produced it).
// ParseScreened parses an unsigned document from outside (a provider's
// notice, say) through the same screen as a signed one: size, depth and
// element count within lim, no DOCTYPE, processing instructions or
// comments, valid UTF-8, one root, a faithful round trip. Every refusal
// carries its code.
func ParseScreened(doc []byte, lim Limits) (*etree.Document, error) {
	return parseScreened(doc, lim.withDefaults())
}

func parseScreened(doc []byte, lim Limits) (*etree.Document, error) {
	if len(doc) > lim.MaxBytes {
		return nil, egov.Errorf(egov.CodeXMLTooLarge, "%d bytes, limit %d", len(doc), lim.MaxBytes)
	}
	// Refused before parsing: the parser would stop at the first entity
	// reference with a less telling error.
	if bytes.Contains(doc, doctypeMarker) {
		return nil, egov.Errorf(egov.CodeXMLDoctypeForbidden, "DOCTYPE declaration")
	}
	tree := etree.NewDocument()
	tree.ReadSettings = etree.ReadSettings{PreserveDuplicateAttrs: true, MaxDepth: lim.MaxDepth}
	if err := tree.ReadFromBytes(doc); err != nil {
		if errors.Is(err, etree.ErrMaxDepth) {
			return nil, egov.Errorf(egov.CodeXMLTooDeep, "nesting deeper than %d", lim.MaxDepth)
		}
		return nil, egov.Errorf(egov.CodeXMLMalformed, "%v", err)
	}
	roots := 0
	for i, tok := range tree.Child {
		switch t := tok.(type) {
		case *etree.Element:
			roots++
		case *etree.CharData:
			if !t.IsWhitespace() {
				return nil, egov.Errorf(egov.CodeXMLMalformed, "text outside the root element")
			}
		case *etree.ProcInst:
			if i != 0 || t.Target != "xml" {
				return nil, egov.Errorf(egov.CodeXMLPIForbidden, "processing instruction %q", t.Target)
			}
			if enc := declaredEncoding(t.Inst); enc != "" && !strings.EqualFold(enc, "utf-8") {
				return nil, egov.Errorf(egov.CodeXMLMalformed, "encoding %q, only UTF-8 is accepted", enc)
			}
		default:
			if err := refuseToken(tok); err != nil {
				return nil, err
			}
		}
	}
	if roots != 1 {
		return nil, egov.Errorf(egov.CodeXMLMalformed, "%d root elements, exactly one is required", roots)
	}
	elements := 0
	if err := screenElement(tree.Root(), &elements, lim.MaxElements); err != nil {
		return nil, err
	}
	return tree, nil
}

func screenElement(el *etree.Element, count *int, max int) error {
	*count++
	if *count > max {
		return egov.Errorf(egov.CodeXMLTooDeep, "more than %d elements", max)
	}
	if err := checkAttributes(el.Attr); err != nil {
		return err
	}
	if err := roundTrips(el); err != nil {
		return err
	}
	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.Element:
			if err := screenElement(t, count, max); err != nil {
				return err
			}
		case *etree.CharData:
		default:
			if err := refuseToken(tok); err != nil {
				return err
			}
		}
	}
	return nil
}

func refuseToken(tok etree.Token) error {
	switch t := tok.(type) {
	case *etree.Comment:
		return egov.Errorf(egov.CodeXMLCommentForbidden, "comment in the document")
	case *etree.Directive:
		return egov.Errorf(egov.CodeXMLDoctypeForbidden, "directive <!%.20s…>", t.Data)
	case *etree.ProcInst:
		return egov.Errorf(egov.CodeXMLPIForbidden, "processing instruction %q", t.Target)
	}
	return nil
}

func checkAttributes(attrs []etree.Attr) error {
	for i := range attrs {
		for j := i + 1; j < len(attrs); j++ {
			if attrs[i].Space == attrs[j].Space && attrs[i].Key == attrs[j].Key {
				return egov.Errorf(egov.CodeXMLMalformed, "duplicate attribute %s", attrs[i].Key)
			}
		}
	}
	return nil
}

// roundTrips runs the round-trip check on the element's start and end tags
// as the tokenizer produced them (etree keeps prefixes and attributes
// unresolved, as xml.Decoder.RawToken returns them). Text round-trips by
// construction once decoded, and comments, directives and instructions are
// refused outright, so tags are where a mutation can hide. The check's
// answer depends only on the tag, so answers are remembered: a steady
// stream of requests of the same shape pays for each distinct tag once.
func roundTrips(el *etree.Element) error {
	start := xml.StartElement{Name: xml.Name{Space: el.Space, Local: el.Tag}}
	if len(el.Attr) > 0 {
		start.Attr = make([]xml.Attr, len(el.Attr))
		for i, a := range el.Attr {
			start.Attr[i] = xml.Attr{Name: xml.Name{Space: a.Space, Local: a.Key}, Value: a.Value}
		}
	}
	if err := roundTripCache.check(start); err != nil {
		return egov.Errorf(egov.CodeXMLMalformed, "round trip: %v", err)
	}
	if err := roundTripCache.check(start.End()); err != nil {
		return egov.Errorf(egov.CodeXMLMalformed, "round trip: %v", err)
	}
	return nil
}

// tagCache remembers which tags passed the round-trip check. Only passes
// are kept; it is bounded and starts over when full.
type tagCache struct {
	mu sync.RWMutex
	ok map[string]struct{}
}

const maxTagCache = 8192

var roundTripCache tagCache

func (c *tagCache) check(tok xml.Token) error {
	key := tokenKey(tok)
	c.mu.RLock()
	_, hit := c.ok[key]
	c.mu.RUnlock()
	if hit {
		return nil
	}
	if err := xrv.CheckToken(tok); err != nil {
		return err
	}
	c.mu.Lock()
	if c.ok == nil || len(c.ok) >= maxTagCache {
		c.ok = make(map[string]struct{})
	}
	c.ok[key] = struct{}{}
	c.mu.Unlock()
	return nil
}

// tokenKey identifies a tag completely. NUL cannot occur in XML names or
// values, so it separates the parts unambiguously.
func tokenKey(tok xml.Token) string {
	var b strings.Builder
	switch t := tok.(type) {
	case xml.StartElement:
		b.WriteString("s\x00")
		b.WriteString(t.Name.Space)
		b.WriteByte(0)
		b.WriteString(t.Name.Local)
		for _, a := range t.Attr {
			b.WriteByte(0)
			b.WriteString(a.Name.Space)
			b.WriteByte(0)
			b.WriteString(a.Name.Local)
			b.WriteByte(0)
			b.WriteString(a.Value)
		}
	case xml.EndElement:
		b.WriteString("e\x00")
		b.WriteString(t.Name.Space)
		b.WriteByte(0)
		b.WriteString(t.Name.Local)
	}
	return b.String()
}

// declaredEncoding returns the encoding pseudo-attribute of an XML
// declaration, or "".
func declaredEncoding(inst string) string {
	i := strings.Index(inst, "encoding")
	if i < 0 {
		return ""
	}
	s := strings.TrimLeft(inst[i+len("encoding"):], " \t\r\n=")
	if s == "" {
		return ""
	}
	q := s[0]
	if q != '"' && q != '\'' {
		return ""
	}
	end := strings.IndexByte(s[1:], q)
	if end < 0 {
		return ""
	}
	return s[1 : 1+end]
}
