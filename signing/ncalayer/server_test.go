package ncalayer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"egov/document"
	"egov/signing"
	"egov/signing/ncalayer"
	"egov/signing/pki"
)

const citizenIIN = "791028302728" // fixtures/pki/keys/citizen.p12 and citizen-auth.p12

var issued = time.Now().Truncate(time.Second)

func key(t *testing.T, name string) *signing.Signer {
	t.Helper()
	s, err := signing.LoadSigner(filepath.Join("../../fixtures/pki/keys", name+".p12"), pki.DefaultPassword)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// start serves a signer with the citizen's signing and authentication
// keys, for pages of http://127.0.0.1:8080.
func start(t *testing.T) *httptest.Server {
	t.Helper()
	srv, err := ncalayer.New(ncalayer.Config{Keys: []*signing.Signer{key(t, "citizen"), key(t, "citizen-auth")},
		Origins: []string{"http://127.0.0.1:8080"}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts
}

// requestXML is a request document of the portal, unsigned.
func requestXML(t *testing.T) string {
	t.Helper()
	r := &document.Request{RequestID: "0b6a4c9e-1f2d-4e8a-9b3c-5d7e9f1a2b3c", ServiceCode: "job-seeker-registration", Region: "almaty-city",
		IssuedAt: issued, Applicant: document.Applicant{IIN: citizenIIN, Surname: "ЖАҚСЫЛЫҚОВ", GivenName: "АЙДОС"},
		Form: map[string]string{"education": "higher"}}
	return string(r.Document())
}

// verify checks doc as the portal does, that it is the request document
// requestXML made, and returns who signed it.
func verify(t *testing.T, doc string) *signing.Result {
	t.Helper()
	trust, err := signing.LoadTrustDir("../../fixtures/pki/trust")
	if err != nil {
		t.Fatal(err)
	}
	crl := &signing.CRLSet{Sources: []string{"../../fixtures/pki/crl.pem"}, Trust: trust}
	if err := crl.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	v := &signing.Verifier{Trust: trust, Revocation: &signing.Revocation{CRL: crl}, AllowAuthKeys: true}
	res, err := v.Verify(context.Background(), []byte(doc))
	if err != nil {
		t.Fatalf("the signed document does not verify: %v", err)
	}
	got, err := document.ReadRequest(res.Element)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Document()) != requestXML(t) {
		t.Fatalf("signed another document than the one sent:\n%s", got.Document())
	}
	return res
}

// session is one client connection: the version frame, then requests.
type session struct {
	t *testing.T
	c *websocket.Conn
}

func dial(t *testing.T, url string, header http.Header) (*session, string) {
	t.Helper()
	c, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(url, "http"), &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	s := &session{t: t, c: c}
	var hello struct {
		Result struct{ Version string } `json:"result"`
	}
	s.read(&hello)
	return s, hello.Result.Version
}

func (s *session) read(out any) {
	s.t.Helper()
	_, data, err := s.c.Read(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		s.t.Fatalf("%v: %s", err, data)
	}
}

func (s *session) call(req any, out any) {
	s.t.Helper()
	data, _ := json.Marshal(req)
	if err := s.c.Write(context.Background(), websocket.MessageText, data); err != nil {
		s.t.Fatal(err)
	}
	s.read(out)
}

type basicsAnswer struct {
	Status  bool   `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Body    struct {
		Result json.RawMessage `json:"result"`
	} `json:"body"`
}

type commonAnswer struct {
	Code           string          `json:"code"`
	Message        string          `json:"message"`
	ResponseObject json.RawMessage `json:"responseObject"`
}

func TestProtocol(t *testing.T) {
	ts := start(t)
	s, version := dial(t, ts.URL, nil)
	if version != ncalayer.Version {
		t.Fatalf("version %q", version)
	}
	doc := requestXML(t)

	// basics.sign: the portal's request document, signed with the key of
	// the IIN the page asks for.
	var b basicsAnswer
	s.call(map[string]any{"module": ncalayer.ModuleBasics, "method": "sign", "args": map[string]any{
		"allowedStorages": []string{"PKCS12"}, "format": "xml", "data": doc, "signingParams": map[string]any{},
		"signerParams": map[string]any{"iin": citizenIIN}, "locale": "kk"}}, &b)
	var result []string // NCALayer answers a list, one document or many
	if !b.Status || json.Unmarshal(b.Body.Result, &result) != nil || len(result) != 1 {
		t.Fatalf("basics.sign: %+v", b)
	}
	signed := result[0]
	if res := verify(t, signed); res.Signer.IIN != citizenIIN || signing.IdentityOf(res.Certificate).Purpose != signing.PurposeSign {
		t.Fatalf("signed by %+v", res.Signer)
	}
	// The authentication key, where the page asks for its usage.
	s.call(map[string]any{"module": ncalayer.ModuleBasics, "method": "sign", "args": map[string]any{"format": "xml", "data": doc,
		"signerParams": map[string]any{"extKeyUsageOids": []string{"1.3.6.1.5.5.7.3.2"}}}}, &b)
	if !b.Status || json.Unmarshal(b.Body.Result, &result) != nil || signing.IdentityOf(verify(t, result[0]).Certificate).Purpose != signing.PurposeAuth {
		t.Fatalf("basics.sign for authentication: %+v", b)
	}
	many := make([]string, 21)
	for i := range many {
		many[i] = doc
	}
	tests := []struct {
		name, details string
		args          map[string]any
		code          string
	}{
		{"another IIN's key", "", map[string]any{"format": "xml", "data": doc, "signerParams": map[string]any{"iin": "900101300811"}}, "NO_KEY"},
		{"a usage no key has", "", map[string]any{"format": "xml", "data": doc, "signerParams": map[string]any{"extKeyUsageOids": []string{"1.3.6.1.5.5.7.3.1"}}}, "NO_KEY"},
		{"both usages at once", "", map[string]any{"format": "xml", "data": doc, "signerParams": map[string]any{"extKeyUsageOids": []string{"1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.4"}}}, "NO_KEY"},
		{"CMS", "", map[string]any{"format": "cms", "data": doc}, "WRONG_PARAMETERS"},
		{"21 documents", "", map[string]any{"format": "xml", "data": many}, "WRONG_PARAMETERS"},
		{"a hardware token only", "", map[string]any{"allowedStorages": []string{"AKKaztokenStore"}, "format": "xml", "data": doc}, "NO_STORAGE"},
		{"not XML", "", map[string]any{"format": "xml", "data": "not xml"}, "SIGN_FAILED"},
		{"signed already", "already signed", map[string]any{"format": "xml", "data": signed}, "SIGN_FAILED"},
		{"content after the root", "", map[string]any{"format": "xml", "data": doc + "<b>evil</b>"}, "SIGN_FAILED"},
		{"a comment", "", map[string]any{"format": "xml", "data": strings.Replace(doc, "<Form>", "<Form><!-- x -->", 1)}, "SIGN_FAILED"},
		{"larger than the portal takes", "", map[string]any{"format": "xml", "data": "<a>" + strings.Repeat("x", 600<<10) + "</a>"}, "SIGN_FAILED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b struct {
				basicsAnswer
				Details string `json:"details"`
			}
			s.call(map[string]any{"module": ncalayer.ModuleBasics, "method": "sign", "args": tt.args}, &b)
			if b.Status || b.Code != tt.code || !strings.Contains(strings.ToLower(b.Details), tt.details) {
				t.Fatalf("%+v, want %s", b, tt.code)
			}
		})
	}

	// commonUtils.signXml with the authentication key; getKeyInfo;
	// getActiveTokens; what is not served.
	var c commonAnswer
	s.call(map[string]any{"module": ncalayer.ModuleCommonUtils, "method": "signXml", "args": []string{"PKCS12", "AUTHENTICATION", doc, "", ""}}, &c)
	var authSigned string
	if c.Code != "200" || json.Unmarshal(c.ResponseObject, &authSigned) != nil {
		t.Fatalf("signXml: %+v", c)
	}
	if res := verify(t, authSigned); signing.IdentityOf(res.Certificate).Purpose != signing.PurposeAuth {
		t.Fatal("signXml AUTHENTICATION did not use the authentication key")
	}
	s.call(map[string]any{"module": ncalayer.ModuleCommonUtils, "method": "getKeyInfo", "args": []string{"PKCS12"}}, &c)
	var info struct{ SubjectCn, SubjectDn, Pem string }
	if c.Code != "200" || json.Unmarshal(c.ResponseObject, &info) != nil || !strings.Contains(info.SubjectDn, citizenIIN) || !strings.HasPrefix(info.Pem, "-----BEGIN CERTIFICATE") {
		t.Fatalf("getKeyInfo: %+v", c)
	}
	for _, req := range []map[string]any{
		{"module": ncalayer.ModuleCommonUtils, "method": "signXml", "args": []string{"PKCS12", "SIGNATURE", doc + "trailing", "", ""}},
		{"module": ncalayer.ModuleCommonUtils, "method": "signXml", "args": []string{"PKCS12", "SIGNATURE", doc, "/a", ""}},
		{"module": ncalayer.ModuleCommonUtils, "method": "signXml", "args": []string{"AKKaztokenStore", "SIGNATURE", doc, "", ""}},
		{"module": "kz.digiflow.mobile.extensions", "method": "getVersion"},
		{"module": ncalayer.ModuleCommonUtils, "method": "createCAdESFromBase64", "args": []string{"PKCS12", "aGk=", "SIGNATURE"}},
	} {
		c = commonAnswer{}
		s.call(req, &c)
		if c.Code != "500" || c.Message == "" {
			t.Fatalf("%v: %+v", req, c)
		}
	}
	if err := s.c.Write(context.Background(), websocket.MessageText, []byte("{")); err != nil {
		t.Fatal(err)
	}
	c = commonAnswer{}
	s.read(&c)
	if c.Code != "500" {
		t.Fatalf("a broken frame: %+v", c)
	}
}

// A page of another origin is refused before anything is said; a page of
// an allowed origin is served.
func TestOrigins(t *testing.T) {
	ts := start(t)
	_, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(ts.URL, "http"),
		&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://evil.example"}}})
	if err == nil {
		t.Fatal("a page of another origin was served")
	}
	for _, origin := range []string{"http://127.0.0.1:8080", "HTTP://127.0.0.1:8080"} {
		if _, v := dial(t, ts.URL, http.Header{"Origin": {origin}}); v != ncalayer.Version {
			t.Fatalf("the portal's page (%s) was not served", origin)
		}
	}
	if _, err := ncalayer.New(ncalayer.Config{Keys: []*signing.Signer{key(t, "citizen")}, Origins: []string{"127.0.0.1:8080"}}); err == nil {
		t.Fatal("an origin without its scheme was taken")
	}
}

func TestLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:13579": true, "[::1]:13579": true, "localhost:13579": true, "0.0.0.0:13579": false, "10.0.0.5:13579": false, ":13579": false} {
		if err := ncalayer.Loopback(addr); (err == nil) != ok {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

// ncalayer-js-client itself (node) as the client: connect, key info,
// basics.sign and commonUtils.signXml, a refusal for another IIN.
func TestWithNCALayerJSClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed on this machine: the protocol test with ncalayer-js-client needs it")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed")
	}
	dir := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json", "sign.js"} {
		data, err := os.ReadFile(filepath.Join("jsclient", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	install := exec.Command(npm, "ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error")
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm ci: %v\n%s", err, out)
	}
	// The pages use the same client, vendored: byte for byte the file of
	// the package the lock pins, with the package's licence beside it.
	for _, f := range [][2]string{{"ncalayer-client.js", "ncalayer-client.js"}, {"LICENSE", "ncalayer-client.LICENSE"}} {
		pkg, err := os.ReadFile(filepath.Join(dir, "node_modules", "ncalayer-js-client", f[0]))
		if err != nil {
			t.Fatal(err)
		}
		vendored, err := os.ReadFile(filepath.Join("..", "..", "web", "static", "vendor", f[1]))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pkg, vendored) {
			t.Errorf("web/static/vendor/%s is not the package's %s", f[1], f[0])
		}
	}
	ts := start(t)
	docPath := filepath.Join(dir, "request.xml")
	if err := os.WriteFile(docPath, []byte(requestXML(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	run := exec.Command(node, "sign.js", "ws"+strings.TrimPrefix(ts.URL, "http"), docPath, citizenIIN)
	run.Dir = dir
	var stderr bytes.Buffer
	run.Stderr = &stderr
	out, err := run.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var got struct {
		Version     string   `json:"version"`
		Tokens      []string `json:"tokens"`
		KeyInfo     struct{ SubjectDn string }
		Basics      []string `json:"basics"`
		CommonUtils string   `json:"commonUtils"`
		OtherIIN    string   `json:"otherIIN"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.Version != ncalayer.Version || got.Tokens == nil || !strings.Contains(got.KeyInfo.SubjectDn, citizenIIN) || !strings.Contains(got.OtherIIN, "NO_KEY") {
		t.Fatalf("%+v", got)
	}
	if len(got.Basics) != 1 {
		t.Fatalf("basics.sign gave %d signatures", len(got.Basics))
	}
	for _, doc := range []string{got.Basics[0], got.CommonUtils} {
		if res := verify(t, doc); res.Signer.IIN != citizenIIN {
			t.Fatalf("signed by %+v", res.Signer)
		}
	}
}
