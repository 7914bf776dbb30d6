// Package document is the one home of the documents that cross a system
// boundary: the citizen's request (ServiceRequest), the provider's signed
// result (ServiceResult) and the provider's unsigned notice
// (ProviderNotice). Each has one Go type, one strict reader and one writer,
// shared by the portal, the labour-market system, the load generator and
// the tests; fixtures/schemas holds the XSD of each version.
//
// The readers take an *etree.Element: for a signed document, the element
// signing.Verifier returned, never the bytes that arrived. They are
// namespace-aware, read the elements in the schema's order and refuse
// anything the schema does not know, with an egov.Error code. The writers
// produce the unsigned XML the readers accept; signing is the caller's.
package document

import (
	"strings"

	"github.com/beevik/etree"
)

// signatureNamespace is XMLDSig's: the schemas allow one enveloped
// ds:Signature as the root's last child.
const signatureNamespace = "http://www.w3.org/2000/09/xmldsig#"

// sequence hands out an element's children in the order the schema
// declares them; fail makes the refusal of the document kind being read.
type sequence struct {
	ns   string
	kids []*etree.Element
	fail func(format string, args ...any) error
}

func newSequence(el *etree.Element, ns string, fail func(string, ...any) error) *sequence {
	return &sequence{ns: ns, kids: el.ChildElements(), fail: fail}
}

// optional returns the next child if it is name in the namespace, else nil.
func (s *sequence) optional(name string) *etree.Element {
	if len(s.kids) > 0 && s.kids[0].Tag == name && s.kids[0].NamespaceURI() == s.ns {
		el := s.kids[0]
		s.kids = s.kids[1:]
		return el
	}
	return nil
}

// required returns the next child, which must be name.
func (s *sequence) required(name string) (*etree.Element, error) {
	if el := s.optional(name); el != nil {
		return el, nil
	}
	return nil, s.fail("%s expected", name)
}

// requiredText is the trimmed text of the next child, which must be name.
func (s *sequence) requiredText(name string) (string, error) {
	el, err := s.required(name)
	if err != nil {
		return "", err
	}
	return textOnly(el, s.fail)
}

// optionalText is the trimmed text of the next child if it is name, else "".
func (s *sequence) optionalText(name string) (string, error) {
	el := s.optional(name)
	if el == nil {
		return "", nil
	}
	return textOnly(el, s.fail)
}

// end refuses any child left over.
func (s *sequence) end() error {
	if len(s.kids) > 0 {
		return s.fail("unexpected element %s", s.kids[0].Tag)
	}
	return nil
}

// endOfRoot is end for a root, where the schemas allow one enveloped
// ds:Signature last: a document parsed without the verifier still has it
// (the verifier's element no longer does).
func (s *sequence) endOfRoot() error {
	if len(s.kids) == 1 && s.kids[0].Tag == "Signature" && s.kids[0].NamespaceURI() == signatureNamespace {
		s.kids = nil
	}
	return s.end()
}

// textOnly is an element's trimmed text; an element with children or
// attributes (namespace declarations aside) is refused, since no text
// element of the schemas has either.
func textOnly(el *etree.Element, fail func(string, ...any) error) (string, error) {
	if len(el.ChildElements()) > 0 {
		return "", fail("%s must hold text only", el.Tag)
	}
	for _, a := range el.Attr {
		if !isNamespaceDeclaration(a) {
			return "", fail("%s: unknown attribute %s", el.Tag, a.FullKey())
		}
	}
	return strings.TrimSpace(el.Text()), nil
}

func isNamespaceDeclaration(a etree.Attr) bool {
	return a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns")
}

// rootAttributes refuses attributes of a root other than namespace
// declarations and version, and returns the version ("1" when absent, as
// the schemas' fixed value says).
func rootAttributes(root *etree.Element, fail func(string, ...any) error) (string, error) {
	version := "1"
	for _, a := range root.Attr {
		switch {
		case isNamespaceDeclaration(a):
		case a.Space == "" && a.Key == "version":
			version = a.Value
		default:
			return "", fail("unknown attribute %s on %s", a.FullKey(), root.Tag)
		}
	}
	return version, nil
}

// writer builds a document's XML. It escapes what would not survive a
// parser unchanged (markup characters, and in attributes the whitespace a
// parser normalises), so that reading what it wrote gives the same values.
type writer struct{ b strings.Builder }

func (w *writer) raw(s string) { w.b.WriteString(s) }

// element writes <tag>value</tag> on a line of its own at depth.
func (w *writer) element(depth int, tag, value string) {
	w.indent(depth)
	w.b.WriteString("<" + tag + ">")
	w.escape(value, false)
	w.b.WriteString("</" + tag + ">\n")
}

// attr writes ` key="value"`.
func (w *writer) attr(key, value string) {
	w.b.WriteString(" " + key + `="`)
	w.escape(value, true)
	w.b.WriteString(`"`)
}

func (w *writer) indent(depth int) { w.b.WriteString(strings.Repeat("  ", depth)) }

func (w *writer) escape(s string, attr bool) {
	for _, r := range s {
		switch {
		case r == '&':
			w.b.WriteString("&amp;")
		case r == '<':
			w.b.WriteString("&lt;")
		case r == '>':
			w.b.WriteString("&gt;")
		case r == '\r':
			w.b.WriteString("&#xD;") // a parser turns a literal CR into LF
		case attr && r == '"':
			w.b.WriteString("&quot;")
		case attr && r == '\n':
			w.b.WriteString("&#xA;")
		case attr && r == '\t':
			w.b.WriteString("&#x9;")
		default:
			w.b.WriteRune(r)
		}
	}
}

func (w *writer) bytes() []byte { return []byte(w.b.String()) }

const xmlDeclaration = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
