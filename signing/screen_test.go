package signing_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"egov"
	"egov/signing"
)

// attrs writes n attributes name0="v" … with the given name prefix.
func attrs(prefix string, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, ` %s%d="v"`, prefix, i)
	}
	return b.String()
}

// elementsWith writes n sibling elements, each with per attributes.
func elementsWith(n, per int) string {
	return strings.Repeat("<e"+attrs("a", per)+"/>", n)
}

func TestScreenAttributeLimits(t *testing.T) {
	const ns = ` xmlns:p="urn:p"`
	nsDecls := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, ` xmlns:n%d="urn:n%d"`, i, i)
		}
		return b.String()
	}
	for _, tt := range []struct {
		name string
		doc  string
		lim  signing.Limits
		code egov.Code // "" means accepted
	}{
		{"16 on one element", "<r" + attrs("a", 16) + "/>", signing.Limits{}, ""},
		{"17 on one element", "<r" + attrs("a", 17) + "/>", signing.Limits{}, egov.CodeXMLTooManyAttributes},
		{"40,000 on one element", "<r" + attrs("a", 40_000) + "/>", signing.Limits{MaxBytes: 1 << 20}, egov.CodeXMLTooManyAttributes},
		{"17 on a deep element", "<r><a><b" + attrs("a", 17) + "></b></a></r>", signing.Limits{}, egov.CodeXMLTooManyAttributes},
		{"per-element limit raised", "<r" + attrs("a", 40) + "/>", signing.Limits{MaxAttributesPerElement: 40}, ""},
		{"1,000 in all", "<r>" + elementsWith(100, 10) + "</r>", signing.Limits{}, ""},
		{"1,001 in all, none over 16", "<r a=\"1\">" + elementsWith(100, 10) + "</r>", signing.Limits{}, egov.CodeXMLTooManyAttributes},
		{"2,000 in all over 200 elements", "<r>" + elementsWith(200, 10) + "</r>", signing.Limits{}, egov.CodeXMLTooManyAttributes},
		{"total limit lowered", "<r>" + elementsWith(3, 4) + "</r>", signing.Limits{MaxAttributes: 11}, egov.CodeXMLTooManyAttributes},
		{"namespaced attributes counted", "<r" + ns + attrs("p:a", 16) + "/>", signing.Limits{}, egov.CodeXMLTooManyAttributes},
		{"namespace declarations counted", "<r" + nsDecls(17) + "/>", signing.Limits{MaxNamespaces: 100}, egov.CodeXMLTooManyAttributes},
		{"32 namespace declarations", "<r" + nsDecls(16) + "><e" + nsDecls(16) + "/></r>", signing.Limits{}, ""},
		{"33 namespace declarations", "<r xmlns=\"urn:r\"" + nsDecls(16) + "><e" + nsDecls(16) + "/></r>", signing.Limits{}, egov.CodeXMLTooManyAttributes},
		{"'=' and '>' inside values are not attributes", `<r a="x=y>z" b='=>=' c="=` + strings.Repeat("=", 40) + `"/>`, signing.Limits{}, ""},
		{"'=' in text, CDATA and the declaration are not attributes",
			`<?xml version="1.0" encoding="UTF-8"?><r a="1">` + strings.Repeat("a=b ", 40) + `<![CDATA[` + strings.Repeat(`<x a="1">`, 40) + `]]></r>`, signing.Limits{MaxAttributesPerElement: 1, MaxAttributes: 1}, ""},
		{"a comment's tags are not counted, the comment is refused", `<r><!--` + strings.Repeat(`<x a="1">`, 40) + `--></r>`, signing.Limits{}, egov.CodeXMLCommentForbidden},
		{"duplicate attribute", `<r a="1" a="2"/>`, signing.Limits{}, egov.CodeXMLMalformed},
		{"duplicate namespaced attribute", `<r` + ns + ` p:a="1" p:a="2"/>`, signing.Limits{}, egov.CodeXMLMalformed},
		{"same name in two namespaces", `<r` + ns + ` xmlns:q="urn:q" p:a="1" q:a="2" a="3"/>`, signing.Limits{}, ""},
		{"duplicate among many (map)", "<r" + attrs("a", 30) + ` a7="again"/>`, signing.Limits{MaxAttributesPerElement: 64}, egov.CodeXMLMalformed},
		{"many, no duplicate (map)", "<r" + attrs("a", 60) + "/>", signing.Limits{MaxAttributesPerElement: 64}, ""},
		{"too many before duplicate", "<r" + attrs("a", 20) + ` a1="again"/>`, signing.Limits{}, egov.CodeXMLTooManyAttributes},
		{"elements over the limit", "<r>" + elementsWith(500, 0) + "</r>", signing.Limits{}, egov.CodeXMLTooDeep},
		{"too deep", strings.Repeat("<a>", 33) + strings.Repeat("</a>", 33), signing.Limits{}, egov.CodeXMLTooDeep},
		{"32 deep, self-closing innermost", strings.Repeat("<a>", 31) + "<b/>" + strings.Repeat("</a>", 31), signing.Limits{}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := signing.ParseScreened([]byte(tt.doc), tt.lim)
			if got := egov.ErrorCode(err); (tt.code == "" && err != nil) || (tt.code != "" && got != tt.code) {
				t.Fatalf("got %v, want %q", err, tt.code)
			}
		})
	}
}

// TestScreenLimitsLetTheMostExpensiveDocumentThrough checks that the
// benchmark's document is what it claims: accepted whole, and refused for
// its attributes, not its broken signature, once its root has one more.
func TestScreenLimitsLetTheMostExpensiveDocumentThrough(t *testing.T) {
	for _, namespaces := range []bool{true, false} {
		doc := expensiveDocument(t, namespaces)
		v := fixtureVerifier(t)
		if _, err := v.Verify(context.Background(), doc); err != nil {
			t.Fatalf("namespaces %v: %v", namespaces, err)
		}
		if _, err := v.Verify(context.Background(), manyAttributes(doc, 1)); egov.ErrorCode(err) != egov.CodeXMLTooManyAttributes {
			t.Fatalf("namespaces %v, one attribute more: %v", namespaces, err)
		}
	}
}
