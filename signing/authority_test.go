package signing_test

import (
	"context"
	"encoding/asn1"
	"slices"
	"testing"

	"egov"
	"egov/signing"
	"egov/signing/pki"
)

const (
	centreBIN = "940140000385" // the employment centre
	otherBIN  = "990140004654"
)

// TestRequireAuthority signs a result with certificates of every holder
// kind the test authority issues and checks who may sign for the centre.
func TestRequireAuthority(t *testing.T) {
	ca := copyAuthority(t)
	org := func(bin string, role signing.KeyUser) pki.IssueOptions {
		return pki.IssueOptions{IIN: "800515400122", Name: "СЕЙТҚАЛИЕВА ГҮЛНАР МАРАТҚЫЗЫ", Kind: pki.KindOrg, BIN: bin, Role: role}
	}
	keys := map[string]pki.IssueOptions{
		"ceo":                org(centreBIN, signing.KeyUserCEO),
		"can-sign":           org(centreBIN, signing.KeyUserCanSign),
		"can-sign-financial": org(centreBIN, signing.KeyUserCanSignFinancial),
		"hr":                 org(centreBIN, signing.KeyUserHR),
		"employee":           org(centreBIN, signing.KeyUserEmployee),
		"other-ceo":          org(otherBIN, signing.KeyUserCEO),
		"individual":         {IIN: "800515400122", Name: "СЕЙТҚАЛИЕВА ГҮЛНАР МАРАТҚЫЗЫ", Kind: pki.KindSign},
	}
	v := fixtureVerifier(t)
	results := map[string]*signing.Result{}
	for name, opt := range keys {
		opt.NotBefore, opt.NotAfter = validFrom, validUntil
		iss, err := ca.Issue(opt)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s := &signing.Signer{Key: iss.Key, Certificate: iss.Certificate}
		res, err := v.Verify(context.Background(), mustSign(t, s, `<ServiceResult xmlns="urn:egov-gateway:result:v1"><Outcome>registered</Outcome></ServiceResult>`))
		if err != nil {
			t.Fatalf("%s: the signature itself must be valid: %v", name, err)
		}
		results[name] = res
	}
	// A certificate that names a BIN but was issued to an individual: the
	// test authority will not make one, so the identity is written here.
	results["individual-with-bin"] = &signing.Result{Signer: signing.Identity{IIN: "800515400122", BIN: centreBIN, KeyUsers: []signing.KeyUser{signing.KeyUserIndividual, signing.KeyUserCEO}}}

	tests := []struct {
		key   string
		bin   string
		roles []signing.KeyUser
		want  egov.Code
	}{
		{"ceo", centreBIN, nil, ""},
		{"can-sign", centreBIN, nil, ""},
		{"ceo", centreBIN, signing.SigningRoles(), ""},
		{"employee", centreBIN, nil, egov.CodeSignerNotAuthorised},
		{"hr", centreBIN, nil, egov.CodeSignerNotAuthorised},
		{"can-sign-financial", centreBIN, nil, egov.CodeSignerNotAuthorised},
		{"individual", centreBIN, nil, egov.CodeBINMismatch},
		{"individual-with-bin", centreBIN, nil, egov.CodeBINMismatch},
		{"other-ceo", centreBIN, nil, egov.CodeBINMismatch},
		{"ceo", otherBIN, nil, egov.CodeBINMismatch},
		{"ceo", "", nil, egov.CodeBINMismatch},
		// A policy of its own replaces the default roles.
		{"hr", centreBIN, []signing.KeyUser{signing.KeyUserHR}, ""},
		{"ceo", centreBIN, []signing.KeyUser{signing.KeyUserHR}, egov.CodeSignerNotAuthorised},
		{"can-sign-financial", centreBIN, []signing.KeyUser{signing.KeyUserCanSign, signing.KeyUserCanSignFinancial}, ""},
		// What kind of holder a certificate has is no right to sign.
		{"employee", centreBIN, []signing.KeyUser{signing.KeyUserOrganization}, egov.CodeSignerNotAuthorised},
		{"employee", centreBIN, []signing.KeyUser{signing.KeyUserIndividual}, egov.CodeSignerNotAuthorised},
	}
	for _, tt := range tests {
		err := results[tt.key].RequireAuthority(tt.bin, tt.roles)
		if got := egov.ErrorCode(err); got != tt.want {
			t.Errorf("%s for %q roles %v: got %q (%v), want %q", tt.key, tt.bin, tt.roles, got, err, tt.want)
		}
	}
}

func TestSigningRoles(t *testing.T) {
	roles := signing.SigningRoles()
	if !slices.Equal(roles, []signing.KeyUser{signing.KeyUserCEO, signing.KeyUserCanSign}) {
		t.Fatalf("default roles %v", roles)
	}
	// The OIDs of research/signing.md §2.3: first head, person with signing right.
	for i, want := range []asn1.ObjectIdentifier{{1, 2, 398, 3, 3, 4, 1, 2, 1}, {1, 2, 398, 3, 3, 4, 1, 2, 2}} {
		if oid, ok := signing.OIDOfKeyUser(roles[i]); !ok || !oid.Equal(want) {
			t.Fatalf("%s has OID %v, want %v", roles[i], oid, want)
		}
	}
	roles[0] = signing.KeyUserEmployee
	if signing.SigningRoles()[0] != signing.KeyUserCEO {
		t.Fatal("a caller changed the default roles")
	}
	for _, tt := range []struct {
		u    signing.KeyUser
		want bool
	}{
		{signing.KeyUserCEO, true}, {signing.KeyUserCanSign, true}, {signing.KeyUserCanSignFinancial, true},
		{signing.KeyUserHR, true}, {signing.KeyUserEmployee, true},
		{signing.KeyUserIndividual, false}, {signing.KeyUserOrganization, false}, {"janitor", false}, {"", false},
	} {
		if got := tt.u.IsOrganizationRole(); got != tt.want {
			t.Errorf("%q.IsOrganizationRole() = %v", tt.u, got)
		}
	}
}
