package signing

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"

	xrv "github.com/mattermost/xml-roundtrip-validator"

	"egov"
)

// Limits bound what the verifier is willing to parse. Every byte of a
// request comes from outside, so the limits are checked before any tree is
// built and before canonicalization, whose cost grows with the document.
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

// screen reads the raw document once as a token stream and refuses what a
// signed request never needs and an attacker often uses: DOCTYPE (and so
// every entity trick), processing instructions other than the XML
// declaration, comments (they are invisible to exclusive canonicalization
// and so let text be split unsigned), duplicate attributes (etree keeps the
// last one), more than one root, and anything that does not survive an
// encoding/xml round trip unchanged (xml-roundtrip-validator).
func screen(doc []byte, lim Limits) error {
	if len(doc) > lim.MaxBytes {
		return egov.Errorf(egov.CodeXMLTooLarge, "%d bytes, limit %d", len(doc), lim.MaxBytes)
	}
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	var (
		stack    []xml.Name
		elements int
		roots    int
		first    = true
	)
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return egov.Errorf(egov.CodeXMLMalformed, "%v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			elements++
			if elements > lim.MaxElements {
				return egov.Errorf(egov.CodeXMLTooDeep, "more than %d elements", lim.MaxElements)
			}
			if len(stack) == 0 {
				roots++
				if roots > 1 {
					return egov.Errorf(egov.CodeXMLMalformed, "more than one root element")
				}
			}
			stack = append(stack, t.Name)
			if len(stack) > lim.MaxDepth {
				return egov.Errorf(egov.CodeXMLTooDeep, "nesting deeper than %d", lim.MaxDepth)
			}
			if err := checkAttributes(t.Attr); err != nil {
				return err
			}
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1] != t.Name {
				return egov.Errorf(egov.CodeXMLMalformed, "unexpected end element %s", t.Name.Local)
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 && len(bytes.TrimSpace(t)) > 0 {
				return egov.Errorf(egov.CodeXMLMalformed, "text outside the root element")
			}
		case xml.Directive:
			return egov.Errorf(egov.CodeXMLDoctypeForbidden, "directive <!%.20s…>", t)
		case xml.ProcInst:
			if !(first && t.Target == "xml") {
				return egov.Errorf(egov.CodeXMLPIForbidden, "processing instruction %q", t.Target)
			}
			if enc := declaredEncoding(t.Inst); enc != "" && !strings.EqualFold(enc, "utf-8") {
				return egov.Errorf(egov.CodeXMLMalformed, "encoding %q, only UTF-8 is accepted", enc)
			}
		case xml.Comment:
			return egov.Errorf(egov.CodeXMLCommentForbidden, "comment in the document")
		}
		first = false
		if err := xrv.CheckToken(tok); err != nil {
			return egov.Errorf(egov.CodeXMLMalformed, "round trip: %v", err)
		}
	}
	if roots == 0 {
		return egov.Errorf(egov.CodeXMLMalformed, "no root element")
	}
	if len(stack) != 0 {
		return egov.Errorf(egov.CodeXMLMalformed, "unexpected end of document")
	}
	return nil
}

func checkAttributes(attrs []xml.Attr) error {
	for i := range attrs {
		for j := i + 1; j < len(attrs); j++ {
			if attrs[i].Name == attrs[j].Name {
				return egov.Errorf(egov.CodeXMLMalformed, "duplicate attribute %s", attrs[i].Name.Local)
			}
		}
	}
	return nil
}

// declaredEncoding returns the encoding pseudo-attribute of an XML
// declaration, or "".
func declaredEncoding(inst []byte) string {
	s := string(inst)
	i := strings.Index(s, "encoding")
	if i < 0 {
		return ""
	}
	s = strings.TrimLeft(s[i+len("encoding"):], " \t\r\n=")
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
