package corpus

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"

	"egov"
	"egov/signing"
	"egov/signing/pki"
)

// Adapter fits a recorded corpus to the stack it is replayed against, so
// that the stack's answers can be compared with the recorded ones although
// it trusts another PKI and has seen other traffic (the demo, earlier
// replays):
//
//   - Signers. Every certificate that signed a recorded document whose
//     answer was decided at or after the certificate chain is replaced by
//     one the target's authority issues with the same profile: the same
//     subject (name, IIN, organisation and role), kind (signing,
//     authentication, organisation key), key size, and validity when it
//     was expired or not yet valid; one revoked at the target's authority
//     when the recorded answer was certificate-revoked. Documents refused
//     before the signer is looked at (malformed XML, shapes, algorithms,
//     key size, validity) or for a chain no stack trusts
//     (certificate-untrusted) go as recorded.
//   - Signatures. A re-signed document keeps its bytes: only its
//     SignatureValue is computed anew over the recorded SignedInfo with
//     the issued key, and its certificate replaced. So a document altered
//     after signing (signature-invalid) stays altered, and a request
//     refused as stale stays stale. Accepted requests (and replays of
//     them) get a fresh issue time and request id and a whole new
//     signature, since the portal takes a request only once and only
//     within minutes of its issue.
//   - Proofs. A registration or a login by signature gets a fresh
//     challenge of the target (the one its recorded challenge request
//     answered, else a new one), signed with the issued key of the
//     recorded signer.
//   - Identities. A recorded IIN for which the corpus opens an account (a
//     registration answered 201) or fails a password login (answered 401)
//     is mapped to a fresh IIN of the same birth date, century and sex
//     (valid check digit, random serial, new every replay), everywhere:
//     in bodies, paths, signed documents and issued certificates. These
//     are the states a target may already hold (the demo's account, an
//     earlier replay's account and login delays). Every other IIN is kept:
//     the registers of the target (persons, mobile phones) decide their
//     answers, and a fresh IIN exists in none of them.
type Adapter struct {
	Authority *pki.Authority
	Now       func() time.Time

	mu      sync.Mutex
	iins    map[string]string // recorded → fresh
	why     map[string]string // recorded IIN → why it was mapped
	kept    map[string]bool
	keys    map[string]*signing.Signer // by recorded certificate and revocation
	desc    map[*signing.Signer]string
	issued  map[string]int // description of the key → documents signed
	counts  adaptCounts
	planned bool
}

type adaptCounts struct {
	resigned, refreshed, proofs, asRecorded, keysIssued, revoked int
	waits                                                        int
	waited                                                       time.Duration
}

// waited counts a wait for the target's attempt limit.
func (ad *Adapter) waited(d time.Duration) {
	ad.mu.Lock()
	defer ad.mu.Unlock()
	ad.counts.waits++
	ad.counts.waited += d
}

// NewAdapter adapts to the stack whose test authority is a (its directory
// holds the CA key: egovctl up --data D keeps it in D/pki).
func NewAdapter(a *pki.Authority) *Adapter {
	return &Adapter{Authority: a, Now: time.Now, iins: map[string]string{}, why: map[string]string{}, kept: map[string]bool{},
		keys: map[string]*signing.Signer{}, desc: map[*signing.Signer]string{}, issued: map[string]int{}}
}

// asRecorded are the refusals decided before the signer's certificate
// is chained, or by a chain no stack trusts: their documents go as
// recorded, whoever the target trusts.
var asRecorded = map[egov.Code]bool{
	egov.CodeXMLMalformed: true, egov.CodeXMLTooLarge: true, egov.CodeXMLTooDeep: true, egov.CodeXMLDoctypeForbidden: true,
	egov.CodeXMLPIForbidden: true, egov.CodeXMLCommentForbidden: true, egov.CodeXMLTooManyAttributes: true,
	egov.CodeSignatureMissing: true, egov.CodeSignatureMultiple: true, egov.CodeSignatureMisplaced: true, egov.CodeSignatureShape: true,
	egov.CodeReferenceInvalid: true, egov.CodeAlgorithmForbidden: true, egov.CodeAlgorithmGOST: true,
	egov.CodeCertificateMalformed: true, egov.CodeKeyTooWeak: true, egov.CodeCertificateExpired: true,
	egov.CodeCertificateNotYetValid: true, egov.CodeCertificateUntrusted: true,
}

// shepFaultSignatureInvalid is the bus's fault for business data whose
// signature does not verify (SCE016); its other signature faults concern
// a missing signature or the certificate.
const shepFaultSignatureInvalid = "SCE016"

// Plan reads the corpus and chooses the IINs to map. Replay calls it.
func (ad *Adapter) Plan(c *Corpus, entries []Entry) error {
	ad.mu.Lock()
	defer ad.mu.Unlock()
	if ad.planned {
		return nil
	}
	ad.planned = true
	for _, e := range entries {
		if e.Kind != KindPortal || e.Method != http.MethodPost {
			continue
		}
		var why string
		switch {
		case e.Path == "/api/v1/accounts" && e.Expect.Status == http.StatusCreated:
			why = "the corpus opens an account for it"
		case e.Path == "/api/v1/sessions" && e.Expect.Code == string(egov.CodeAuthorizationRefused):
			why = "the corpus fails a password login of it (a delay for its next)"
		default:
			continue
		}
		body, err := c.Body(e)
		if err != nil {
			return err
		}
		var in struct{ IIN string }
		if json.Unmarshal(body, &in) != nil {
			continue
		}
		if _, err := signing.ParseIIN(in.IIN); err != nil {
			continue
		}
		if _, done := ad.iins[in.IIN]; done {
			continue
		}
		fresh, err := freshIIN(in.IIN)
		if err != nil {
			return err
		}
		ad.iins[in.IIN], ad.why[in.IIN] = fresh, why
	}
	for _, e := range entries {
		body, err := c.Body(e)
		if err != nil {
			return err
		}
		for _, m := range twelveDigits.FindAll(append([]byte(e.Path+" "), body...), -1) {
			s := string(m)
			if _, mapped := ad.iins[s]; !mapped && s[6] >= '1' && s[6] <= '6' {
				if _, err := signing.ParseIIN(s); err == nil {
					ad.kept[s] = true
				}
			}
		}
	}
	return nil
}

// freshIIN draws a valid IIN of the same birth date, century and sex as
// orig, with a random serial.
func freshIIN(orig string) (string, error) {
	for range 1000 {
		n, err := rand.Int(rand.Reader, big.NewInt(10000))
		if err != nil {
			return "", err
		}
		base := fmt.Sprintf("%s%04d", orig[:7], n.Int64())
		for k := 0; k < 10; k++ {
			cand := base + string(rune('0'+k))
			if _, err := signing.ParseIIN(cand); err == nil && cand != orig {
				return cand, nil
			}
		}
	}
	return "", fmt.Errorf("no fresh IIN of the birth date of %s", signing.MaskIIN(orig))
}

// MapIIN returns the IIN the replay uses for a recorded one.
func (ad *Adapter) MapIIN(iin string) string {
	ad.mu.Lock()
	defer ad.mu.Unlock()
	if v, ok := ad.iins[iin]; ok {
		return v
	}
	return iin
}

// mapIINs replaces every mapped IIN in data (as a whole number).
func (ad *Adapter) mapIINs(data []byte) []byte {
	ad.mu.Lock()
	defer ad.mu.Unlock()
	if len(ad.iins) == 0 {
		return data
	}
	return digitRun.ReplaceAllFunc(data, func(b []byte) []byte {
		if v, ok := ad.iins[string(b)]; ok {
			return []byte(v)
		}
		return b
	})
}

var digitRun = regexp.MustCompile(`\d+`)

// keyFor returns the key the target's authority issued for a recorded
// certificate (issuing it on first use).
func (ad *Adapter) keyFor(cert *x509.Certificate, revoked bool) (*signing.Signer, error) {
	sum := sha256.Sum256(cert.Raw)
	ref := fmt.Sprintf("%s/%v", hex.EncodeToString(sum[:8]), revoked)
	ad.mu.Lock()
	defer ad.mu.Unlock()
	if k, ok := ad.keys[ref]; ok {
		return k, nil
	}
	id := signing.IdentityOf(cert)
	if id.IIN == "" {
		return nil, fmt.Errorf("the recorded certificate %q names no valid IIN", cert.Subject.CommonName)
	}
	opt := pki.IssueOptions{IIN: id.IIN, Name: cert.Subject.CommonName, Kind: pki.KindSign}
	if v, ok := ad.iins[id.IIN]; ok {
		opt.IIN = v
	}
	if id.GivenName != "" {
		opt.Name += " " + id.GivenName
	}
	switch {
	case cert.KeyUsage&x509.KeyUsageKeyEncipherment != 0:
		opt.Kind = pki.KindAuth
	case id.BIN != "":
		opt.Kind, opt.BIN, opt.Organization = pki.KindOrg, id.BIN, id.Organization
		for _, u := range id.KeyUsers {
			if u != signing.KeyUserOrganization && u != signing.KeyUserIndividual {
				opt.Role = u
			}
		}
	}
	if pub, ok := cert.PublicKey.(*rsa.PublicKey); ok && pub.N.BitLen() < 2048 {
		opt.Bits = pub.N.BitLen()
	}
	now := ad.Now()
	if now.After(cert.NotAfter) || now.Before(cert.NotBefore) {
		opt.NotBefore, opt.NotAfter = cert.NotBefore, cert.NotAfter
	}
	iss, err := ad.Authority.Issue(opt)
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("%s (IIN %s, %s key)", cert.Subject.CommonName, signing.MaskIIN(opt.IIN), opt.Kind)
	if revoked {
		if err := ad.Authority.Revoke(iss.Certificate, now.Add(-time.Minute), 1); err != nil {
			return nil, err
		}
		what += ", revoked"
		ad.counts.revoked++
	}
	ad.counts.keysIssued++
	k := &signing.Signer{Key: iss.Key, Certificate: iss.Certificate}
	ad.keys[ref], ad.desc[k] = k, what
	ad.issued[what] += 0
	return k, nil
}

// signedBy counts a document signed with k.
func (ad *Adapter) signedBy(k *signing.Signer, counter *int) {
	ad.mu.Lock()
	defer ad.mu.Unlock()
	*counter++
	ad.issued[ad.desc[k]]++
}

func (ad *Adapter) countAsRecorded() {
	ad.mu.Lock()
	ad.counts.asRecorded++
	ad.mu.Unlock()
}

// Summary says what the adapter changed, a line each.
func (ad *Adapter) Summary() []string {
	ad.mu.Lock()
	defer ad.mu.Unlock()
	var out []string
	out = append(out, fmt.Sprintf("signers: %d keys issued by %q (%s), %d of them revoked there", ad.counts.keysIssued, ad.Authority.CA.Subject.CommonName, ad.Authority.Dir, ad.counts.revoked))
	var whats []string
	for what := range ad.issued {
		whats = append(whats, what)
	}
	sort.Strings(whats)
	for _, what := range whats {
		out = append(out, fmt.Sprintf("  %d signed by %s", ad.issued[what], what))
	}
	out = append(out, fmt.Sprintf("documents: %d re-signed in place (the recorded bytes, a new signature value and certificate), %d signed anew (accepted requests, with a fresh issue time and request id; documents a mapped IIN changed), %d registration or login proofs signed on fresh challenges, %d signed documents sent as recorded (refused before the signer is looked at, or for an untrusted chain)",
		ad.counts.resigned, ad.counts.refreshed, ad.counts.proofs, ad.counts.asRecorded))
	if ad.counts.waits > 0 {
		out = append(out, fmt.Sprintf("attempt limit: %d answers rate-limited (the recording met none) waited out, %s in all: this address's attempts were spent by other traffic before or during the replay", ad.counts.waits, ad.counts.waited))
	}
	var mapped []string
	for iin := range ad.iins {
		mapped = append(mapped, iin)
	}
	sort.Strings(mapped)
	out = append(out, fmt.Sprintf("identities: %d mapped to fresh IINs (same birth date, century and sex)", len(mapped)))
	for _, iin := range mapped {
		out = append(out, fmt.Sprintf("  %s → %s: %s", iin, ad.iins[iin], ad.why[iin]))
	}
	var kept []string
	for iin := range ad.kept {
		kept = append(kept, iin)
	}
	sort.Strings(kept)
	if len(kept) > 0 {
		out = append(out, fmt.Sprintf("  kept %s: the corpus opens no account and fails no login for them, and the target's registers (persons, mobile phones) know them as when recorded", strings.Join(kept, ", ")))
	}
	return out
}

// certificateOf returns the first certificate in a signed document's
// KeyInfo.
func certificateOf(doc []byte) (*x509.Certificate, error) {
	tree := etree.NewDocument()
	if err := tree.ReadFromBytes(doc); err != nil {
		return nil, err
	}
	for _, el := range tree.FindElements("//X509Certificate") {
		der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(el.Text()), ""))
		if err != nil {
			return nil, err
		}
		return x509.ParseCertificate(der)
	}
	return nil, errors.New("no certificate in the document")
}

// resignInPlace computes, for every signature in doc, a new
// SignatureValue over its recorded SignedInfo with key, and returns the
// replacements of the old signature values and certificates by the new
// ones. A signature value that did not verify with the recorded
// certificate is made not to verify with the new one either.
func resignInPlace(doc []byte, key *signing.Signer) ([][2]string, error) {
	tree := etree.NewDocument()
	if err := tree.ReadFromBytes(doc); err != nil {
		return nil, err
	}
	root := tree.Root()
	if root == nil {
		return nil, errors.New("no root element")
	}
	var pairs [][2]string
	newCert := base64.StdEncoding.EncodeToString(key.Certificate.Raw)
	err := etreeutils.NSFindIterate(root, dsig.Namespace, dsig.SignatureTag, func(ctx etreeutils.NSContext, sig *etree.Element) error {
		var signedInfo *etree.Element
		err := etreeutils.NSFindChildrenIterateCtx(ctx, sig, dsig.Namespace, dsig.SignedInfoTag, func(ctx etreeutils.NSContext, el *etree.Element) error {
			d, err := etreeutils.NSDetatch(ctx, el)
			signedInfo = d
			return err
		})
		if err != nil {
			return err
		}
		var value, certEl *etree.Element
		for _, c := range sig.ChildElements() {
			switch c.Tag {
			case dsig.SignatureValueTag:
				value = c
			case dsig.KeyInfoTag:
				certEl = c.FindElement(".//" + dsig.X509CertificateTag)
			}
		}
		if signedInfo == nil || value == nil || certEl == nil {
			return errors.New("a signature without SignedInfo, SignatureValue or certificate")
		}
		method := signedInfo.FindElement("./" + dsig.SignatureMethodTag)
		c14n := signedInfo.FindElement("./" + dsig.CanonicalizationMethodTag)
		if method == nil || c14n == nil {
			return errors.New("SignedInfo without its methods")
		}
		hash, ok := map[string]crypto.Hash{dsig.RSASHA256SignatureMethod: crypto.SHA256, dsig.RSASHA384SignatureMethod: crypto.SHA384,
			dsig.RSASHA512SignatureMethod: crypto.SHA512}[method.SelectAttrValue("Algorithm", "")]
		if !ok {
			return fmt.Errorf("signature method %s is not re-signed", method.SelectAttrValue("Algorithm", ""))
		}
		var canon dsig.Canonicalizer
		switch dsig.AlgorithmID(c14n.SelectAttrValue("Algorithm", "")) {
		case dsig.CanonicalXML10ExclusiveAlgorithmId:
			canon = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
		case dsig.CanonicalXML10ExclusiveWithCommentsAlgorithmId:
			canon = dsig.MakeC14N10ExclusiveWithCommentsCanonicalizerWithPrefixList("")
		case dsig.CanonicalXML11AlgorithmId:
			canon = dsig.MakeC14N11Canonicalizer()
		case dsig.CanonicalXML10RecAlgorithmId:
			canon = dsig.MakeC14N10RecCanonicalizer()
		default:
			return fmt.Errorf("canonicalization %s is not re-signed", c14n.SelectAttrValue("Algorithm", ""))
		}
		canonical, err := canon.Canonicalize(signedInfo)
		if err != nil {
			return err
		}
		h := hash.New()
		h.Write(canonical)
		digest := h.Sum(nil)
		sigValue, err := key.Key.Sign(rand.Reader, digest, hash)
		if err != nil {
			return err
		}
		// The recorded value: did it verify with the recorded certificate?
		oldValue, _ := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(value.Text()), ""))
		oldDER, _ := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(certEl.Text()), ""))
		if oldCert, err := x509.ParseCertificate(oldDER); err == nil {
			if pub, ok := oldCert.PublicKey.(*rsa.PublicKey); ok && rsa.VerifyPKCS1v15(pub, hash, digest, oldValue) != nil {
				sigValue[len(sigValue)-1] ^= 0xff
			}
		}
		pairs = append(pairs, [2]string{value.Text(), base64.StdEncoding.EncodeToString(sigValue)}, [2]string{certEl.Text(), newCert})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(pairs) == 0 {
		return nil, errors.New("no signature to re-sign")
	}
	return pairs, nil
}

// replaceAll applies replacements to data; each old text must be there.
func replaceAll(data []byte, pairs [][2]string) ([]byte, error) {
	for _, p := range pairs {
		if !bytes.Contains(data, []byte(p[0])) {
			return nil, errors.New("a signature value or certificate is not found verbatim in the body")
		}
		data = bytes.ReplaceAll(data, []byte(p[0]), []byte(p[1]))
	}
	return data, nil
}

// adapt returns the body to send for e, and a note for the report.
func (ad *Adapter) adapt(ctx context.Context, r *replayer, e Entry, body []byte) ([]byte, string, error) {
	recorded := body
	body = ad.mapIINs(body)
	contentChanged := !bytes.Equal(recorded, body)
	code := egov.Code(e.Expect.Code)
	switch {
	case e.Kind == KindPortal && e.Method == http.MethodPost && strings.HasPrefix(e.Path, "/api/v1/requests"):
		if e.Expect.Status != http.StatusAccepted && asRecorded[code] {
			if bytes.Contains(body, []byte("SignatureValue")) {
				ad.countAsRecorded()
			}
			return body, "", nil
		}
		if !strings.HasPrefix(e.ContentType, "multipart/") {
			return body, "", nil // refused before any document is read
		}
		timely := e.Expect.Status == http.StatusAccepted || code == egov.CodeRequestReplayed
		full := timely || (contentChanged && code != egov.CodeSignatureInvalid)
		out, err := r.rewriteRequestPart(e.ContentType, body, func(doc []byte) ([]byte, error) {
			cert, err := certificateOf(doc)
			if err != nil {
				return nil, err
			}
			key, err := ad.keyFor(cert, code == egov.CodeCertificateRevoked)
			if err != nil {
				return nil, err
			}
			if full {
				ad.signedBy(key, &ad.counts.refreshed)
				return r.refresh(doc, key, timely)
			}
			pairs, err := resignInPlace(doc, key)
			if err != nil {
				return nil, err
			}
			ad.signedBy(key, &ad.counts.resigned)
			return replaceAll(doc, pairs)
		})
		if err != nil {
			return nil, "", fmt.Errorf("re-signing: %w", err)
		}
		return out, "", nil
	case e.Kind == KindPortal && e.Method == http.MethodPost && (e.Path == "/api/v1/accounts" || e.Path == "/api/v1/sessions/signature"):
		var reg map[string]any
		doc := body
		isJSON := e.Path == "/api/v1/accounts"
		if isJSON {
			if json.Unmarshal(body, &reg) != nil {
				return body, "", nil
			}
			s, _ := reg["signedChallenge"].(string)
			if s == "" {
				return body, "", nil
			}
			doc = []byte(s)
		}
		if asRecorded[code] {
			ad.countAsRecorded()
			return body, "", nil
		}
		cert, err := certificateOf(doc)
		if err != nil {
			return body, "sent as recorded: " + err.Error(), nil
		}
		key, err := ad.keyFor(cert, code == egov.CodeCertificateRevoked)
		if err != nil {
			return nil, "", err
		}
		challenge, err := r.challenge(ctx)
		if err != nil {
			return nil, "", fmt.Errorf("a fresh challenge: %w", err)
		}
		signed, err := key.Sign([]byte(challenge))
		if err != nil {
			return nil, "", err
		}
		ad.signedBy(key, &ad.counts.proofs)
		if !isJSON {
			return signed, "", nil
		}
		reg["signedChallenge"] = string(signed)
		out, err := json.Marshal(reg)
		return out, "", err
	case e.Kind == KindSHEP && bytes.Contains(body, []byte("SignatureValue")):
		if strings.HasPrefix(e.Expect.Code, "SCE") && e.Expect.Code != shepFaultSignatureInvalid {
			ad.countAsRecorded()
			return body, "", nil
		}
		// Each <data> of the envelope holds business data as escaped text.
		var failed error
		out := soapData.ReplaceAllFunc(body, func(m []byte) []byte {
			parts := soapData.FindSubmatch(m)
			el := etree.NewDocument()
			if err := el.ReadFromString("<data>" + string(parts[2]) + "</data>"); err != nil {
				return m
			}
			inner := []byte(el.Root().Text())
			if !bytes.Contains(inner, []byte("SignatureValue")) || failed != nil {
				return m
			}
			changed := soapChanged(recorded, parts[2])
			doc, err := ad.resignBusinessData(inner, changed && e.Expect.Code != shepFaultSignatureInvalid)
			if err != nil {
				failed = err
				return m
			}
			return append(append(append([]byte{}, parts[1]...), escapeText(doc)...), parts[3]...)
		})
		if failed != nil {
			return nil, "", fmt.Errorf("re-signing business data: %w", failed)
		}
		return out, "", nil
	}
	return body, "", nil
}

var soapData = regexp.MustCompile(`(?s)(<data>)(.*?)(</data>)`)

// soapChanged says whether the escaped business data (as sent) differs
// from what the recorded envelope held.
func soapChanged(recorded, sent []byte) bool { return !bytes.Contains(recorded, sent) }

// resignBusinessData signs SHEP business data with the issued key of its
// recorded signer: anew when the mapping changed a document that was
// validly signed, else in place.
func (ad *Adapter) resignBusinessData(inner []byte, anew bool) ([]byte, error) {
	cert, err := certificateOf(inner)
	if err != nil {
		return nil, err
	}
	key, err := ad.keyFor(cert, false)
	if err != nil {
		return nil, err
	}
	if anew {
		tree := etree.NewDocument()
		if err := tree.ReadFromBytes(inner); err != nil {
			return nil, err
		}
		for _, c := range tree.Root().ChildElements() {
			if c.Tag == dsig.SignatureTag {
				tree.Root().RemoveChild(c)
			}
		}
		unsigned, err := tree.WriteToBytes()
		if err != nil {
			return nil, err
		}
		ad.signedBy(key, &ad.counts.refreshed)
		return key.Sign(unsigned)
	}
	pairs, err := resignInPlace(inner, key)
	if err != nil {
		return nil, err
	}
	ad.signedBy(key, &ad.counts.resigned)
	return replaceAll(inner, pairs)
}

// escapeText escapes XML for the text of an element, a carriage return
// as a character reference so that it survives the parser.
func escapeText(doc []byte) []byte {
	var b bytes.Buffer
	for _, c := range doc {
		switch c {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '\r':
			b.WriteString("&#xD;")
		default:
			b.WriteByte(c)
		}
	}
	return b.Bytes()
}
