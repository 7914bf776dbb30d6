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
// request comes from outside, so size is checked before parsing; depth,
// element and attribute counts while the document is tokenized, before any
// tree is built; all of them before canonicalization, whose cost grows with
// the document.
type Limits struct {
	MaxBytes    int // whole document, default 512 KiB
	MaxDepth    int // element nesting, default 32
	MaxElements int // elements in the document, default 500 (goxmldsig's traversal budget is ~1000)
	// MaxAttributesPerElement bounds the attributes of one start tag,
	// namespace declarations included, default 16 (the corpus needs 6).
	// The round-trip check of a tag costs the square of its attributes.
	MaxAttributesPerElement int
	// MaxAttributes bounds the attributes of the whole document, namespace
	// declarations included, default 1,000 (the corpus needs 25).
	MaxAttributes int
	// MaxNamespaces bounds the namespace declarations (xmlns, xmlns:p) of
	// the whole document, default 32 (the corpus needs 4). goxmldsig copies
	// the namespaces in scope at every element it visits, so its work grows
	// with elements times declarations.
	MaxNamespaces int
}

// DefaultLimits returns the limits a zero Limits stands for.
func DefaultLimits() Limits { return Limits{}.withDefaults() }

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
	if l.MaxAttributesPerElement <= 0 {
		l.MaxAttributesPerElement = 16
	}
	if l.MaxAttributes <= 0 {
		l.MaxAttributes = 1000
	}
	if l.MaxNamespaces <= 0 {
		l.MaxNamespaces = 32
	}
	return l
}

var doctypeMarker = []byte("<!DOCTYPE")

// ParseScreened parses an unsigned document from outside (a provider's
// notice, say) through the same screen as a signed one: size, depth,
// element and attribute counts within lim, no DOCTYPE, processing
// instructions or comments, valid UTF-8, one root, a faithful round trip.
// Every refusal carries its code.
func ParseScreened(doc []byte, lim Limits) (*etree.Document, error) {
	return parseScreened(doc, lim.withDefaults())
}

// parseScreened parses the raw document and refuses what a signed request
// never needs and an attacker often uses: more nesting, elements or
// attributes than lim allows (counted while tokenizing, before a tree is
// built), DOCTYPE (and so every entity trick), processing instructions
// other than the XML declaration, comments (invisible to exclusive
// canonicalization, so they let text be split without breaking the
// signature), duplicate attributes (etree would keep both), more than one
// root, text outside the root, encodings other than UTF-8, and any element
// that does not survive an encoding/xml round trip unchanged
// (xml-roundtrip-validator's check, applied to every element exactly as the
// tokenizer produced it).
func parseScreened(doc []byte, lim Limits) (*etree.Document, error) {
	if len(doc) > lim.MaxBytes {
		return nil, egov.Errorf(egov.CodeXMLTooLarge, "%d bytes, limit %d", len(doc), lim.MaxBytes)
	}
	// Refused before parsing: the parser would stop at the first entity
	// reference with a less telling error.
	if bytes.Contains(doc, doctypeMarker) {
		return nil, egov.Errorf(egov.CodeXMLDoctypeForbidden, "DOCTYPE declaration")
	}
	if err := scanMarkup(doc, lim); err != nil {
		return nil, err
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
	if err := screenElement(tree.Root(), &treeCounts{}, lim); err != nil {
		return nil, err
	}
	return tree, nil
}

// scanMarkup refuses, before a tree is built, a document that nests
// deeper than MaxDepth, has more than MaxElements elements, more than
// MaxAttributesPerElement attributes on a tag or more than MaxAttributes in
// all. It reads the bytes once and allocates nothing: text is skipped to
// the next '<' at memchr speed, comments, CDATA sections and processing
// instructions to their end marks, and a start tag is read byte by byte,
// its attributes counted by their '=' outside quoted values, which is
// exact for every tag encoding/xml accepts (names cannot hold '=' or
// quotes, values must be quoted). A tag with too many attributes is
// refused at the first attribute over the limit, so a tag of 40,000
// attributes costs no more to refuse than one of 17.
//
// It is a fast first line, not the only one: at a directive (a DOCTYPE is
// refused before, any other is refused once parsed) or at markup it cannot
// follow it stops and leaves the rest to the parser and to screenElement,
// which counts the same things on the tree. A document that fools it costs
// one linear parse, never more.
func scanMarkup(doc []byte, lim Limits) error {
	depth, elements, attributes := 0, 0, 0
	for i := 0; ; {
		lt := bytes.IndexByte(doc[i:], '<')
		if lt < 0 {
			return nil
		}
		i += lt + 1
		rest := doc[i:]
		switch {
		case bytes.HasPrefix(rest, commentStart):
			end := bytes.Index(rest[len(commentStart):], commentEnd)
			if end < 0 {
				return nil
			}
			i += len(commentStart) + end + len(commentEnd)
		case bytes.HasPrefix(rest, cdataStart):
			end := bytes.Index(rest[len(cdataStart):], cdataEnd)
			if end < 0 {
				return nil
			}
			i += len(cdataStart) + end + len(cdataEnd)
		case bytes.HasPrefix(rest, piStart):
			end := bytes.Index(rest[len(piStart):], piEnd)
			if end < 0 {
				return nil
			}
			i += len(piStart) + end + len(piEnd)
		case len(rest) > 0 && rest[0] == '!':
			return nil
		case len(rest) > 0 && rest[0] == '/':
			end := bytes.IndexByte(rest, '>')
			if end < 0 {
				return nil
			}
			depth--
			i += end + 1
		default:
			depth++
			if depth > lim.MaxDepth {
				return egov.Errorf(egov.CodeXMLTooDeep, "nesting deeper than %d", lim.MaxDepth)
			}
			elements++
			if elements > lim.MaxElements {
				return egov.Errorf(egov.CodeXMLTooDeep, "more than %d elements", lim.MaxElements)
			}
			n, empty, ok := 0, false, false
			var quote byte
			var prev byte // last byte outside a quoted value
			for ; i < len(doc); i++ {
				c := doc[i]
				if quote != 0 {
					if c == quote {
						quote = 0
					}
					continue
				}
				if c == '>' {
					empty, ok = prev == '/', true
					i++
					break
				}
				switch c {
				case '"', '\'':
					quote = c
				case '=':
					n++
					if n > lim.MaxAttributesPerElement {
						return egov.Errorf(egov.CodeXMLTooManyAttributes, "more than %d attributes on one element", lim.MaxAttributesPerElement)
					}
					if attributes+n > lim.MaxAttributes {
						return egov.Errorf(egov.CodeXMLTooManyAttributes, "more than %d attributes in the document", lim.MaxAttributes)
					}
				}
				prev = c
			}
			if !ok {
				return nil
			}
			attributes += n
			if empty {
				depth--
			}
		}
	}
}

var (
	commentStart, commentEnd = []byte("!--"), []byte("-->")
	cdataStart, cdataEnd     = []byte("![CDATA["), []byte("]]>")
	piStart, piEnd           = []byte("?"), []byte("?>")
)

// treeCounts is what screenElement has seen so far.
type treeCounts struct {
	elements, attributes, namespaces int
}

// screenElement checks el and its descendants once each: the counts
// scanMarkup made on the bytes, again on the tree (so they hold even for a
// document the scan could not follow), namespace declarations, duplicate
// attributes, the round trip, and no comments, directives or instructions.
func screenElement(el *etree.Element, seen *treeCounts, lim Limits) error {
	seen.elements++
	if seen.elements > lim.MaxElements {
		return egov.Errorf(egov.CodeXMLTooDeep, "more than %d elements", lim.MaxElements)
	}
	if len(el.Attr) > lim.MaxAttributesPerElement {
		return egov.Errorf(egov.CodeXMLTooManyAttributes, "%d attributes on <%s>, limit %d", len(el.Attr), el.Tag, lim.MaxAttributesPerElement)
	}
	seen.attributes += len(el.Attr)
	if seen.attributes > lim.MaxAttributes {
		return egov.Errorf(egov.CodeXMLTooManyAttributes, "more than %d attributes in the document", lim.MaxAttributes)
	}
	for _, a := range el.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			seen.namespaces++
		}
	}
	if seen.namespaces > lim.MaxNamespaces {
		return egov.Errorf(egov.CodeXMLTooManyAttributes, "more than %d namespace declarations in the document", lim.MaxNamespaces)
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
			if err := screenElement(t, seen, lim); err != nil {
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

// smallAttributeSet is the number of attributes up to which duplicates
// are found by comparing every pair (at most 120 comparisons, cheaper than
// a map); above it a map keeps the check linear whatever the limit is set
// to.
const smallAttributeSet = 16

// checkAttributes refuses a tag that names an attribute twice (etree
// keeps both, and a reader would see one of them). Names are compared as
// written, prefix and local part, as etree keeps them.
func checkAttributes(attrs []etree.Attr) error {
	if len(attrs) <= smallAttributeSet {
		for i := range attrs {
			for j := i + 1; j < len(attrs); j++ {
				if attrs[i].Space == attrs[j].Space && attrs[i].Key == attrs[j].Key {
					return duplicateAttribute(attrs[i])
				}
			}
		}
		return nil
	}
	seen := make(map[xml.Name]struct{}, len(attrs))
	for _, a := range attrs {
		name := xml.Name{Space: a.Space, Local: a.Key}
		if _, dup := seen[name]; dup {
			return duplicateAttribute(a)
		}
		seen[name] = struct{}{}
	}
	return nil
}

func duplicateAttribute(a etree.Attr) error {
	return egov.Errorf(egov.CodeXMLMalformed, "duplicate attribute %s", a.FullKey())
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
