package shep_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"egov"
	"egov/shep"
	"egov/shep/soap"
	"egov/signing"
	"egov/signing/pki"
)

const (
	centreBIN = "940140000385" // the employment centre, provider of the labour-market services
	otherBIN  = "990140004654"
)

// signedResults signs one result document with organisation certificates
// of the test authority (a copy of the committed fixtures/pki, so the bus's
// verifier trusts them and its CRL does not list them), by name.
func signedResults(t *testing.T) map[string]string {
	t.Helper()
	ca, err := pki.Clone("../fixtures/pki", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	holders := map[string]pki.IssueOptions{
		"employee":  {BIN: centreBIN, Role: signing.KeyUserEmployee},
		"ceo":       {BIN: centreBIN, Role: signing.KeyUserCEO},
		"other-ceo": {BIN: otherBIN, Role: signing.KeyUserCEO},
	}
	out := map[string]string{}
	for name, opt := range holders {
		opt.IIN, opt.Name, opt.Kind = "800515400122", "СЕЙТҚАЛИЕВА ГҮЛНАР МАРАТҚЫЗЫ", pki.KindOrg
		opt.NotBefore, opt.NotAfter = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC)
		iss, err := ca.Issue(opt)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s := &signing.Signer{Key: iss.Key, Certificate: iss.Certificate}
		doc, err := s.Sign([]byte(`<ServiceResult xmlns="urn:egov-gateway:result:v1"><Outcome>registered</Outcome><ProviderBIN>` + centreBIN + `</ProviderBIN></ServiceResult>`))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = string(doc)
	}
	return out
}

// TestResultSignerAuthority sends results of the labour-market system
// signed by different holders through the real bus: where the provider has
// a signer policy, only a holder of its BIN with an entitled role gets a
// result to the requester.
func TestResultSignerAuthority(t *testing.T) {
	results := signedResults(t)
	results["citizen"] = signedDoc(t, "valid.xml")
	policies := []struct {
		name  string
		roles []signing.KeyUser
		cases []struct{ result, detail string } // detail "" = accepted
	}{
		{"default roles", nil, []struct{ result, detail string }{
			{"employee", string(egov.CodeSignerNotAuthorised)},
			{"other-ceo", string(egov.CodeBINMismatch)},
			{"citizen", string(egov.CodeBINMismatch)},
			{"ceo", ""},
		}},
		{"employees may sign", []signing.KeyUser{signing.KeyUserEmployee}, []struct{ result, detail string }{
			{"ceo", string(egov.CodeSignerNotAuthorised)},
			{"employee", ""},
		}},
	}
	for _, p := range policies {
		t.Run(p.name, func(t *testing.T) {
			routing := func(t testing.TB) *shep.Routing {
				r := testRouting(t)
				r.Systems[labour.SenderID].Signer = &shep.SignerPolicy{BIN: centreBIN, Roles: p.roles}
				return r
			}
			clientsOn(t, routing, nil, func(t *testing.T, f *fixture, c shep.Client) {
				ctx := context.Background()
				var accepted []string
				for _, tc := range p.cases {
					corr := send(t, c, portal, svcJobSeeker, signedDoc(t, "valid.xml")).Response.CorrelationID
					got, err := c.GetMessages(ctx, shep.NewGetMessages(labour, svcJobSeeker, 1, 0))
					if err != nil || len(got.Response.Messages) != 1 {
						t.Fatalf("provider poll: %v %v", got, err)
					}
					confirm(t, c, labour, got.Response.Messages[0])
					// A notice is not a result: no signature, no policy.
					if _, err := c.SendMessage(ctx, shep.NewSendMessage(labour, svcJobSeeker, soap.TypeNotification, corr, "<Accepted/>")); err != nil {
						t.Fatalf("notification: %v", err)
					}
					_, err = c.SendMessage(ctx, shep.NewSendMessage(labour, svcJobSeeker, soap.TypeResponse, corr, results[tc.result]))
					if tc.detail == "" {
						if err != nil {
							t.Fatalf("result signed by %s refused: %v", tc.result, err)
						}
						accepted = append(accepted, results[tc.result])
						continue
					}
					var fault *soap.Fault
					if !errors.As(err, &fault) || fault.Info.ErrorCode != soap.CodeDataSignatureBad || fault.Info.ErrorData != tc.detail {
						t.Fatalf("result signed by %s: got %v (%+v), want %s with %s", tc.result, err, fault, soap.CodeDataSignatureBad, tc.detail)
					}
				}
				// Only the accepted results reach the portal.
				back, err := c.GetMessages(ctx, shep.NewGetMessages(portal, svcJobSeeker, 100, 0))
				if err != nil {
					t.Fatal(err)
				}
				var delivered []string
				for _, m := range back.Response.Messages {
					if m.MessageInfo.MessageType == soap.TypeResponse {
						delivered = append(delivered, m.MessageData.Data)
					}
				}
				if !slices.Equal(delivered, accepted) {
					t.Fatalf("the portal got %d results, want the %d accepted", len(delivered), len(accepted))
				}
			})
		})
	}
}

// TestSignerPolicyOnlyWhereSignaturesAreChecked: a service whose signature
// the bus does not check carries results of any signer, and a requester's
// signed request is not held to the provider's policy.
func TestSignerPolicyOnlyWhereSignaturesAreChecked(t *testing.T) {
	employee := signedResults(t)["employee"]
	routing := func(t testing.TB) *shep.Routing {
		r := testRouting(t)
		r.Systems[labour.SenderID].Signer = &shep.SignerPolicy{BIN: centreBIN}
		// The portal's own policy must not judge the citizen's request.
		r.Systems[portal.SenderID].Signer = &shep.SignerPolicy{BIN: otherBIN}
		return r
	}
	clientsOn(t, routing, nil, func(t *testing.T, f *fixture, c shep.Client) {
		ctx := context.Background()
		send(t, c, portal, svcJobSeeker, signedDoc(t, "valid.xml"))
		corr := send(t, c, portal, svcOpen, "<D/>").Response.CorrelationID
		got, err := c.GetMessages(ctx, shep.NewGetMessages(labour, svcOpen, 10, 0))
		if err != nil || len(got.Response.Messages) != 2 {
			t.Fatalf("provider poll: %v %v", got, err)
		}
		for _, m := range got.Response.Messages {
			confirm(t, c, labour, m)
		}
		if _, err := c.SendMessage(ctx, shep.NewSendMessage(labour, svcOpen, soap.TypeResponse, corr, employee)); err != nil {
			t.Fatalf("result on a service without a signature check: %v", err)
		}
	})
}

func TestRoutingSignerPolicy(t *testing.T) {
	tests := []struct {
		name   string
		policy *shep.SignerPolicy
		skip   bool
		want   string // part of the error; "" = valid
	}{
		{"no policy", nil, false, ""},
		{"default roles", &shep.SignerPolicy{BIN: centreBIN}, false, ""},
		{"every organisation role", &shep.SignerPolicy{BIN: centreBIN, Roles: []signing.KeyUser{"ceo", "can-sign", "can-sign-financial", "hr", "employee"}}, false, ""},
		{"BIN with a wrong check digit", &shep.SignerPolicy{BIN: "940140000386"}, false, "signer"},
		{"no BIN", &shep.SignerPolicy{}, false, "signer"},
		{"unknown role", &shep.SignerPolicy{BIN: centreBIN, Roles: []signing.KeyUser{"director"}}, false, `unknown role "director"`},
		{"a holder kind is not a role", &shep.SignerPolicy{BIN: centreBIN, Roles: []signing.KeyUser{signing.KeyUserOrganization}}, false, `unknown role "organization"`},
		{"policy that would never apply", &shep.SignerPolicy{BIN: centreBIN}, true, "skipSignatureCheck"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRouting(t)
			r.Systems[labour.SenderID].Signer = tt.policy
			r.Systems[labour.SenderID].SkipSignatureCheck = tt.skip
			err := r.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error about %q", err, tt.want)
			}
		})
	}
}

// TestRoutingFileSignerPolicies: the committed routing table holds each
// provider's system to its own organisation's BIN (the employment centre's
// for the labour market, the Karaganda department's for АРМ РШЭП) and the
// default roles, and the policy's JSON spelling loads.
func TestRoutingFileSignerPolicies(t *testing.T) {
	r, err := shep.LoadRouting("../fixtures/shep/routing.json")
	if err != nil {
		t.Fatal(err)
	}
	for id, bin := range map[string]string{"ais-rynok-truda": centreBIN, "arm-rshep": "070540000713"} {
		p := r.Systems[id].Signer
		if p == nil || p.BIN != bin || !slices.Equal(p.Roles, signing.SigningRoles()) {
			t.Errorf("%s: signer policy %+v", id, p)
		}
	}
	// Roles may be omitted; a misspelt key is refused like any other.
	dir := t.TempDir()
	for _, tt := range []struct {
		signer string
		ok     bool
	}{
		{`{"bin": "940140000385"}`, true},
		{`{"bin": "940140000385", "role": ["ceo"]}`, false},
		{`{"bin": "940140000385", "roles": ["boss"]}`, false},
	} {
		var raw map[string]any
		data, _ := os.ReadFile("../fixtures/shep/routing.json")
		if err := json.Unmarshal(data, &raw); err != nil {
			t.Fatal(err)
		}
		var signer any
		if err := json.Unmarshal([]byte(tt.signer), &signer); err != nil {
			t.Fatal(err)
		}
		raw["systems"].(map[string]any)["ais-rynok-truda"].(map[string]any)["signer"] = signer
		out, _ := json.Marshal(raw)
		path := filepath.Join(dir, "routing.json")
		if err := os.WriteFile(path, out, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := shep.LoadRouting(path)
		if (err == nil) != tt.ok {
			t.Fatalf("signer %s: %v", tt.signer, err)
		}
		if tt.ok && len(r.Systems["ais-rynok-truda"].Signer.Roles) != 0 {
			t.Fatalf("signer %s: roles %v", tt.signer, r.Systems["ais-rynok-truda"].Signer.Roles)
		}
	}
}

// TestNoticesOfTheSenderCarryItsAuthority: a request of a service whose
// documents are the sender's own (SignedBySender, a provider's notice to
// the portal) is held to the sender's signer policy like a result; the
// portal gets only the one its authorised person signed.
func TestNoticesOfTheSenderCarryItsAuthority(t *testing.T) {
	const svcNotice = "egov-portal.registration-ended"
	signed := signedResults(t)
	routing := func(t testing.TB) *shep.Routing {
		r := testRouting(t)
		r.Services[svcNotice] = &shep.Service{Recipient: portal.SenderID, Channel: "async", CheckSignature: true, SignedBySender: true, PersonalData: true}
		r.Systems[labour.SenderID].Send = append(r.Systems[labour.SenderID].Send, svcNotice)
		r.Systems[labour.SenderID].Signer = &shep.SignerPolicy{BIN: centreBIN, Roles: []signing.KeyUser{signing.KeyUserCEO}}
		return r
	}
	clientsOn(t, routing, nil, func(t *testing.T, f *fixture, c shep.Client) {
		ctx := context.Background()
		for _, tc := range []struct{ signer, detail string }{
			{"employee", string(egov.CodeSignerNotAuthorised)},
			{"other-ceo", string(egov.CodeBINMismatch)},
			{"ceo", ""},
		} {
			_, err := c.SendMessage(ctx, shep.NewSendMessage(labour, svcNotice, soap.TypeRequest, "", signed[tc.signer]))
			var fault *soap.Fault
			switch {
			case tc.detail == "" && err != nil:
				t.Fatalf("notice signed by %s refused: %v", tc.signer, err)
			case tc.detail != "" && (!errors.As(err, &fault) || fault.Info.ErrorCode != soap.CodeDataSignatureBad || fault.Info.ErrorData != tc.detail):
				t.Fatalf("notice signed by %s: got %v, want %s with %s", tc.signer, err, soap.CodeDataSignatureBad, tc.detail)
			}
		}
		got, err := c.GetMessages(ctx, shep.NewGetMessages(portal, svcNotice, 10, 0))
		if err != nil || len(got.Response.Messages) != 1 || got.Response.Messages[0].MessageData.Data != signed["ceo"] {
			t.Fatalf("the portal got %v (%v), want the one notice its provider's head signed", got, err)
		}
	})
}
