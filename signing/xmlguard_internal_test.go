package signing

import (
	"strings"
	"testing"

	"github.com/beevik/etree"

	"egov"
)

// TestScreenElementCountsWhatTheScanMissed checks the second line: the
// counts on the tree refuse on their own, for a document scanMarkup could
// not follow.
func TestScreenElementCountsWhatTheScanMissed(t *testing.T) {
	lim := Limits{MaxAttributesPerElement: 2, MaxAttributes: 3, MaxElements: 3, MaxNamespaces: 1}.withDefaults()
	for _, tt := range []struct {
		doc  string
		code egov.Code
	}{
		{`<r a="1" b="2"><e c="3"/></r>`, ""},
		{`<r a="1" b="2" c="3"/>`, egov.CodeXMLTooManyAttributes},
		{`<r a="1" b="2"><e c="3" d="4"/></r>`, egov.CodeXMLTooManyAttributes},
		{`<r xmlns="urn:r"><e xmlns:p="urn:p"/></r>`, egov.CodeXMLTooManyAttributes},
		{`<r><e/><e/><e/></r>`, egov.CodeXMLTooDeep},
		{`<r a="1" a="2"/>`, egov.CodeXMLMalformed},
	} {
		tree := etree.NewDocument()
		tree.ReadSettings.PreserveDuplicateAttrs = true
		if err := tree.ReadFromString(tt.doc); err != nil {
			t.Fatal(err)
		}
		err := screenElement(tree.Root(), &treeCounts{}, lim)
		if got := egov.ErrorCode(err); (tt.code == "" && err != nil) || (tt.code != "" && got != tt.code) {
			t.Errorf("%s: got %v, want %q", tt.doc, err, tt.code)
		}
	}
}

// TestScanMarkupStopsWhereItCannotFollow checks that the scan hands over,
// rather than guesses, at markup it does not read: a directive, an
// unterminated comment, CDATA section, instruction or tag.
func TestScanMarkupStopsWhereItCannotFollow(t *testing.T) {
	lim := Limits{MaxAttributesPerElement: 1}.withDefaults()
	over := `<e a="1" b="2"/>`
	for _, doc := range []string{
		`<r><!ELEMENT r ANY>` + over + `</r>`,
		`<r><!--` + over,
		`<r><![CDATA[` + over,
		`<r><?pi ` + over,
		`<r a="` + over,
	} {
		if err := scanMarkup([]byte(doc), lim); err != nil {
			t.Errorf("%s: %v", doc, err)
		}
	}
	if err := scanMarkup([]byte(`<r>`+strings.Repeat(over, 2)+`</r>`), lim); egov.ErrorCode(err) != egov.CodeXMLTooManyAttributes {
		t.Errorf("followed markup: %v", err)
	}
}
