// Package ncalayer is a local signer that speaks NCALayer's WebSocket
// protocol: the page of the portal asks it, as it would ask a citizen's
// NCALayer at wss://127.0.0.1:13579, to sign a request document, and gets
// the document back with its XMLDSig signature. It holds keys of the test
// PKI chosen at start and asks for nothing over the network.
//
// The protocol, as NCALayer and its clients (ncalayer-js-client) use it:
// on connect the server sends {"result":{"version":…}}; then each request
// is one JSON text frame {"module","method","args"}, answered by one
// frame. Two answer shapes exist: the module kz.gov.pki.knca.basics
// answers {"status":true,"body":{"result":…}} or {"status":false,"code",
// "message","details"}; the older kz.gov.pki.knca.commonUtils answers
// {"code":"200","responseObject":…} or {"code":"500","message":…}.
package ncalayer

import (
	"context"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coder/websocket"

	"egov/signing"
)

// Version is what the signer says it is on connect.
const Version = "1.4"

// The modules and methods it serves.
const (
	ModuleBasics      = "kz.gov.pki.knca.basics"
	ModuleCommonUtils = "kz.gov.pki.knca.commonUtils"
)

// Storage names the key store kind of NCALayer; the signer's keys are files.
const StoragePKCS12 = "PKCS12"

// The key types of commonUtils.
const (
	KeySignature      = "SIGNATURE"
	KeyAuthentication = "AUTHENTICATION"
)

// Limits of one connection. A connection may stay idle as long as the
// page is open: a client (ncalayer-js-client) does not notice a close
// between its requests, and its next request would wait forever.
const (
	maxMessage   = 4 << 20 // a frame
	maxDocuments = 20      // documents one basics.sign may ask for
	idleTimeout  = 12 * time.Hour
)

// docLimits are the portal's limits of a signed document (its MaxXML and
// the verifier's screening): what the portal would refuse is not signed.
var docLimits = signing.Limits{MaxBytes: 512 << 10}

// Config is the signer's.
type Config struct {
	// Keys are the key stores it holds, loaded at start (a citizen's
	// signing key, and his authentication key).
	Keys []*signing.Signer
	// Origins are the web origins whose pages may use it
	// ("http://127.0.0.1:8080"); a client that sends no Origin (not a
	// browser: a local program) may too.
	Origins []string
	Log     *slog.Logger
}

// NormalOrigin is an origin as browsers send it: lower case, no trailing
// slash; "" for one that is not an http or https origin.
func NormalOrigin(o string) string {
	o = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(o), "/"))
	scheme, rest, ok := strings.Cut(o, "://")
	if !ok || (scheme != "http" && scheme != "https") || rest == "" || strings.ContainsAny(rest, "/?#@ ") {
		return ""
	}
	return o
}

// Server serves the protocol on one WebSocket endpoint.
type Server struct {
	cfg Config
}

// New returns the signer; it needs at least one key.
func New(cfg Config) (*Server, error) {
	if len(cfg.Keys) == 0 {
		return nil, errors.New("ncalayer: no key to sign with")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	origins := make([]string, 0, len(cfg.Origins))
	for _, o := range cfg.Origins {
		n := NormalOrigin(o)
		if n == "" {
			return nil, fmt.Errorf("ncalayer: %q is not an http or https origin", o)
		}
		origins = append(origins, n)
	}
	cfg.Origins = origins
	return &Server{cfg: cfg}, nil
}

// ServeHTTP upgrades the connection and answers its requests one by one.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if origin := r.Header.Get("Origin"); origin != "" && !slices.Contains(s.cfg.Origins, NormalOrigin(origin)) {
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	// The origin is checked above, against the signer's own list.
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(maxMessage)
	ctx := r.Context()
	if err := s.write(ctx, c, map[string]any{"result": map[string]string{"version": Version}}); err != nil {
		return
	}
	for {
		readCtx, cancel := context.WithTimeout(ctx, idleTimeout)
		typ, data, err := c.Read(readCtx)
		cancel()
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			_ = s.write(ctx, c, commonError("not a JSON text message"))
			continue
		}
		if err := s.write(ctx, c, s.answer(data)); err != nil {
			return
		}
	}
}

func (s *Server) write(ctx context.Context, c *websocket.Conn, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.Write(wctx, websocket.MessageText, data)
}

// request is one frame of a client.
type request struct {
	Module string          `json:"module"`
	Method string          `json:"method"`
	Args   json.RawMessage `json:"args"`
}

// answer is the frame that answers data.
func (s *Server) answer(data []byte) any {
	var req request
	if err := json.Unmarshal(data, &req); err != nil {
		return commonError("the request is not JSON: " + err.Error())
	}
	switch req.Module + "/" + req.Method {
	case ModuleBasics + "/sign":
		return s.basicsSign(req.Args)
	case ModuleCommonUtils + "/signXml":
		return s.signXML(req.Args)
	case ModuleCommonUtils + "/getActiveTokens":
		// Hardware tokens plugged in: none; the keys are files.
		return map[string]any{"code": "200", "responseObject": []string{}}
	case ModuleCommonUtils + "/getKeyInfo":
		return s.keyInfo(req.Args)
	}
	if req.Module == ModuleBasics {
		return basicsError("UNSUPPORTED_METHOD", "method "+req.Method+" is not served", "")
	}
	return commonError("module " + req.Module + " method " + req.Method + " is not served")
}

func commonError(message string) map[string]any {
	return map[string]any{"code": "500", "message": message}
}

func basicsError(code, message, details string) map[string]any {
	return map[string]any{"status": false, "code": code, "message": message, "details": details}
}

// basicsArgs are the arguments of basics.sign.
type basicsArgs struct {
	AllowedStorages []string        `json:"allowedStorages"`
	Format          string          `json:"format"`
	Data            json.RawMessage `json:"data"`
	SigningParams   struct {
		Decode      bool `json:"decode"`
		Encapsulate bool `json:"encapsulate"`
	} `json:"signingParams"`
	SignerParams struct {
		ExtKeyUsageOIDs []string `json:"extKeyUsageOids"`
		IIN             string   `json:"iin"`
		BIN             string   `json:"bin"`
	} `json:"signerParams"`
	Locale string `json:"locale"`
}

// basicsSign signs one XML document, or several, with a signing key that
// fits the signer parameters: {"status":true,"body":{"result":[…]}}.
func (s *Server) basicsSign(raw json.RawMessage) any {
	var a basicsArgs
	if err := json.Unmarshal(raw, &a); err != nil {
		return basicsError("WRONG_PARAMETERS", "the arguments are not those of sign", err.Error())
	}
	if a.Format != "xml" {
		return basicsError("WRONG_PARAMETERS", "only the xml format is signed here", "format "+a.Format)
	}
	if len(a.AllowedStorages) > 0 && !slices.Contains(a.AllowedStorages, StoragePKCS12) {
		return basicsError("NO_STORAGE", "no allowed storage holds a key", strings.Join(a.AllowedStorages, ","))
	}
	var docs []string
	var one string
	if err := json.Unmarshal(a.Data, &one); err == nil {
		docs = []string{one}
	} else if err := json.Unmarshal(a.Data, &docs); err != nil || len(docs) == 0 || len(docs) > maxDocuments {
		return basicsError("WRONG_PARAMETERS", fmt.Sprintf("data is an XML document or a list of at most %d", maxDocuments), "")
	}
	purpose, ok := purposeOf(a.SignerParams.ExtKeyUsageOIDs)
	if !ok {
		return basicsError("NO_KEY", "no key has the extended key usages asked for", strings.Join(a.SignerParams.ExtKeyUsageOIDs, ","))
	}
	key := s.pick(purpose, a.SignerParams.IIN, a.SignerParams.BIN)
	if key == nil {
		return basicsError("NO_KEY", "no key fits the signer parameters", "iin "+signing.MaskIIN(a.SignerParams.IIN))
	}
	// NCALayer answers a list of signatures, one document or many.
	out := make([]string, 0, len(docs))
	for _, d := range docs {
		signed, err := sign(key, d)
		if err != nil {
			return basicsError("SIGN_FAILED", "the document could not be signed", err.Error())
		}
		out = append(out, signed)
	}
	s.cfg.Log.Info("signer: signed", "documents", len(out), "iin", signing.MaskIIN(signing.IdentityOf(key.Certificate).IIN))
	return map[string]any{"status": true, "body": map[string]any{"result": out}}
}

// sign signs a document the portal would take: what its screening refuses
// (a DTD, a comment, content after the root, more than its size) is not
// signed, nor one signed already.
func sign(key *signing.Signer, doc string) (string, error) {
	if _, err := signing.ParseScreened([]byte(doc), docLimits); err != nil {
		return "", err
	}
	signed, err := key.Sign([]byte(doc))
	return string(signed), err
}

// The extended key usages pages ask keys for (signerParams.extKeyUsageOids).
const (
	oidClientAuth      = "1.3.6.1.5.5.7.3.2" // an authentication key
	oidEmailProtection = "1.3.6.1.5.5.7.3.4" // a signing key
)

// purposeOf is the kind of key the usages ask for; false when they ask
// for both or for one no key of the test PKI has.
func purposeOf(oids []string) (signing.KeyPurpose, bool) {
	purpose := signing.PurposeSign
	asked := map[signing.KeyPurpose]bool{}
	for _, o := range oids {
		switch {
		case o == oidClientAuth:
			purpose, asked[signing.PurposeAuth] = signing.PurposeAuth, true
		case o == oidEmailProtection:
			asked[signing.PurposeSign] = true
		case strings.HasPrefix(o, "1.2.398.3.3.4."): // NCA's user kinds (individual, organisation, …): the key's certificate says
		default:
			return "", false
		}
	}
	return purpose, len(asked) <= 1
}

// signXML is commonUtils.signXml(storage, keyType, xml, tbsXPath,
// parentXPath): the whole document, enveloped, as the portal verifies it.
func (s *Server) signXML(raw json.RawMessage) any {
	var args []string
	if err := json.Unmarshal(raw, &args); err != nil || len(args) < 3 {
		return commonError("signXml takes storage, key type, XML, and two XPaths")
	}
	if args[0] != StoragePKCS12 {
		return commonError("no key in storage " + args[0])
	}
	if len(args) > 3 && (args[3] != "" || (len(args) > 4 && args[4] != "")) {
		return commonError("only the whole document is signed (no tbsElementXPath, no signatureParentElementXPath)")
	}
	purpose := signing.PurposeSign
	if args[1] == KeyAuthentication {
		purpose = signing.PurposeAuth
	}
	key := s.pick(purpose, "", "")
	if key == nil {
		return commonError("no " + args[1] + " key")
	}
	signed, err := sign(key, args[2])
	if err != nil {
		return commonError("the document could not be signed: " + err.Error())
	}
	return map[string]any{"code": "200", "responseObject": signed}
}

// keyInfo describes the first signing key, as getKeyInfo does.
func (s *Server) keyInfo(raw json.RawMessage) any {
	var args []string
	if err := json.Unmarshal(raw, &args); err != nil || len(args) != 1 {
		return commonError("getKeyInfo takes the storage")
	}
	if args[0] != StoragePKCS12 {
		return commonError("no key in storage " + args[0])
	}
	key := s.pick(signing.PurposeSign, "", "")
	if key == nil {
		key = s.cfg.Keys[0]
	}
	cert := key.Certificate
	return map[string]any{"code": "200", "responseObject": map[string]any{
		"alias":         fmt.Sprintf("%x", cert.SubjectKeyId),
		"keyId":         fmt.Sprintf("%x", cert.SubjectKeyId),
		"algorithm":     cert.PublicKeyAlgorithm.String(),
		"subjectCn":     cert.Subject.CommonName,
		"subjectDn":     distinguishedName(cert.Subject),
		"issuerCn":      cert.Issuer.CommonName,
		"issuerDn":      distinguishedName(cert.Issuer),
		"serialNumber":  cert.SerialNumber.Text(16),
		"certNotBefore": fmt.Sprint(cert.NotBefore.UnixMilli()),
		"certNotAfter":  fmt.Sprint(cert.NotAfter.UnixMilli()),
		"pem":           string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})),
	}}
}

// dnNames are the attribute names NCALayer writes a DN with.
var dnNames = map[string]string{"2.5.4.3": "CN", "2.5.4.4": "SURNAME", "2.5.4.5": "SERIALNUMBER", "2.5.4.6": "C", "2.5.4.7": "L",
	"2.5.4.8": "S", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.42": "G", "1.2.840.113549.1.9.1": "E"}

// distinguishedName writes a name as NCALayer does, its attributes by name
// and in order ("CN=…,SURNAME=…,SERIALNUMBER=IIN…,C=KZ,G=…"), where Go
// would write surname and given name as hexadecimal.
func distinguishedName(n pkix.Name) string {
	parts := make([]string, 0, len(n.Names))
	for _, a := range n.Names {
		name, ok := dnNames[a.Type.String()]
		if !ok {
			name = a.Type.String()
		}
		parts = append(parts, name+"="+fmt.Sprint(a.Value))
	}
	return strings.Join(parts, ",")
}

// pick is the first key of the purpose whose certificate names iin and
// bin where they are asked for.
func (s *Server) pick(purpose signing.KeyPurpose, iin, bin string) *signing.Signer {
	for _, k := range s.cfg.Keys {
		id := signing.IdentityOf(k.Certificate)
		if id.Purpose == purpose && (iin == "" || id.IIN == iin) && (bin == "" || id.BIN == bin) {
			return k
		}
	}
	return nil
}

// Loopback refuses an address that is not on the loopback interface: the
// signer serves the citizen's own browser, nobody else.
func Loopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s is not a loopback address: the signer serves only this machine", addr)
	}
	return nil
}
