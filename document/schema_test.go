package document_test

import (
	"slices"
	"testing"

	"github.com/beevik/etree"

	"egov/document"
)

// xsdElement is one element of a sequence in a schema.
type xsdElement struct {
	name     string
	optional bool
}

func loadSchema(t *testing.T, file string) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromFile("../fixtures/schemas/" + file); err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

// sequenceOf is the sequence of the schema's element name (the xs:any
// left out: it is the place of the signature).
func sequenceOf(t *testing.T, schema *etree.Element, name string) []xsdElement {
	t.Helper()
	el := schema.FindElement("//xs:element[@name='" + name + "']")
	if el == nil {
		t.Fatalf("schema has no element %s", name)
	}
	var out []xsdElement
	for _, c := range el.FindElements("./xs:complexType/xs:sequence/xs:element") {
		out = append(out, xsdElement{c.SelectAttrValue("name", ""), c.SelectAttrValue("minOccurs", "1") == "0"})
	}
	return out
}

// attributesOf maps the attributes of the schema's element name to
// whether they are required.
func attributesOf(t *testing.T, schema *etree.Element, name string) map[string]bool {
	t.Helper()
	el := schema.FindElement("//xs:element[@name='" + name + "']")
	out := map[string]bool{}
	for _, a := range el.FindElements(".//xs:attribute") {
		out[a.SelectAttrValue("name", "")] = a.SelectAttrValue("use", "optional") == "required"
	}
	return out
}

func tags(els []*etree.Element) []string {
	var out []string
	for _, e := range els {
		out = append(out, e.Tag)
	}
	return out
}

func names(seq []xsdElement) []string {
	var out []string
	for _, e := range seq {
		out = append(out, e.name)
	}
	return out
}

// checkAgainst compares the children of the written element at path with
// the schema's sequence of name, and removes each child in turn: the
// reader must refuse exactly the documents that lack a required one.
func checkAgainst(t *testing.T, schema *etree.Element, written []byte, path, name string, read func(*etree.Element) error) {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(written); err != nil {
		t.Fatal(err)
	}
	el := doc.FindElement(path)
	seq := sequenceOf(t, schema, name)
	if got, want := tags(el.ChildElements()), names(seq); !slices.Equal(got, want) {
		t.Fatalf("%s: the writer writes %v, the schema says %v", name, got, want)
	}
	for i, x := range seq {
		cut := doc.Copy()
		parent := cut.FindElement(path)
		parent.RemoveChildAt(parent.ChildElements()[i].Index())
		err := read(cut.Root())
		if x.optional && err != nil {
			t.Errorf("%s without the optional %s refused: %v", name, x.name, err)
		}
		if !x.optional && err == nil {
			t.Errorf("%s without the required %s accepted", name, x.name)
		}
	}
}

// TestWritersFollowTheSchemas: each writer writes the elements its schema
// declares, in the schema's order, and each reader requires exactly what
// the schema requires.
func TestWritersFollowTheSchemas(t *testing.T) {
	request := loadSchema(t, "service-request-v1.xsd")
	readRequest := func(e *etree.Element) error { _, err := document.ReadRequest(e); return err }
	full := aFiledRequest().Document()
	checkAgainst(t, request, full, "/ServiceRequest", "ServiceRequest", readRequest)
	checkAgainst(t, request, full, "/ServiceRequest/Applicant", "Applicant", readRequest)
	checkAgainst(t, request, full, "/ServiceRequest/Filing", "Filing", readRequest)
	checkAgainst(t, request, full, "/ServiceRequest/Filing/Representative", "Representative", readRequest)
	checkAgainst(t, request, full, "/ServiceRequest/Filing/Representative/PowerOfAttorney", "PowerOfAttorney", readRequest)

	doc := parse(t, full)
	att := doc.FindElement("./Attachments/Attachment")
	for name, required := range attributesOf(t, request, "Attachment") {
		if att.SelectAttr(name) == nil {
			t.Errorf("the writer leaves out the attachment's %s", name)
			continue
		}
		att.RemoveAttr(name)
		_, err := document.ReadRequest(doc)
		if required != (err != nil) {
			t.Errorf("attachment without its %s (required %v): %v", name, required, err)
		}
		att.CreateAttr(name, parse(t, full).FindElement("./Attachments/Attachment").SelectAttrValue(name, ""))
	}
	if len(att.Attr) != len(attributesOf(t, request, "Attachment")) {
		t.Errorf("the writer writes attributes %v", att.Attr)
	}

	result := loadSchema(t, "service-result-v1.xsd")
	// Every optional element present: a refusal that also has a number and
	// a kind (the schema allows it). The ground's own presence follows the
	// outcome, which TestResultValues covers; here it is only the order.
	r := aRefusal()
	r.Number, r.Kind, r.EndGround = "JS-2026-000123", "public-works", anEnding().EndGround
	written := r.Document()
	got := tags(parse(t, written).ChildElements())
	if want := names(sequenceOf(t, result, "ServiceResult")); !slices.Equal(got, want) {
		t.Fatalf("ServiceResult: the writer writes %v, the schema says %v", got, want)
	}
	readResult := func(e *etree.Element) error { _, err := document.ReadResult(e); return err }
	checkAgainst(t, result, aRefusal().Document(), "/ServiceResult/RefusalGround", "RefusalGround", readResult)
	checkAgainst(t, result, anEnding().Document(), "/ServiceResult/EndGround", "EndGround", readResult)
	ok := aResult()
	ok.Kind = "public-works"
	noGround := ok.Document()
	for _, x := range sequenceOf(t, result, "ServiceResult") {
		if x.name == "RefusalGround" || x.name == "EndGround" {
			continue
		}
		cut := parse(t, noGround)
		cut.RemoveChild(cut.FindElement("./" + x.name))
		if err := readResult(cut); x.optional != (err == nil) {
			t.Errorf("ServiceResult without %s (optional %v): %v", x.name, x.optional, err)
		}
	}
	checkAgainst(t, result, aNotice().Document(), "/ProviderNotice", "ProviderNotice",
		func(e *etree.Element) error { _, err := document.ReadNotice(e); return err })
}
