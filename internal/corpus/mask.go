package corpus

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"regexp"
	"sync"

	"egov/signing"
)

// Masker replaces personal data consistently: the same IIN, name or phone
// number becomes the same stand-in everywhere in a corpus, so that the
// corpus still tells which requests belong together. Certificates are
// blanked (they name their holder). A masked signed document no longer
// verifies, and passwords are blanked too: a masked corpus is for reading
// and sharing; replaying it needs --resign-with and fresh logins.
type Masker struct {
	key []byte

	mu   sync.Mutex
	seen map[string]string
	n    int
}

// NewMasker returns a masker with a random key: stand-ins cannot be traced
// back across corpora.
func NewMasker() *Masker {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &Masker{key: key, seen: map[string]string{}}
}

var (
	twelveDigits = regexp.MustCompile(`\d{12}`)
	phoneNumber  = regexp.MustCompile(`\+7\d{10}`)
	// Name elements, as XML or as XML escaped inside a SOAP envelope.
	nameElement = regexp.MustCompile(`(<|&lt;)(Surname|GivenName|Patronymic)(>|&gt;)([^<&]*)(<|&lt;)/`)
	// Certificates as XML, escaped inside a SOAP envelope, or inside a JSON
	// string (a signed registration challenge: \u003c, \n).
	certElement = regexp.MustCompile(`(X509Certificate(>|&gt;|\\u003e))(?:[A-Za-z0-9+/=\s]|\\[nr])+((<|&lt;|\\u003c)/)`)
	// The text of a message to the SMS gateway (escaped inside the SOAP
	// envelope of SMS_SEND): it may hold a one-time code.
	smsText = regexp.MustCompile(`((?:<|&lt;)Text(?:>|&gt;))[^<&]*((?:<|&lt;)/Text)`)
	// Passwords of citizens (JSON) and of systems (SOAP), and one-time
	// codes at registration.
	jsonPassword = regexp.MustCompile(`("(?:password|code)"\s*:\s*")[^"]*(")`)
	soapPassword = regexp.MustCompile(`(<password>)[^<]*(</password>)`)
)

// Mask returns data with personal data replaced.
func (m *Masker) Mask(data []byte) []byte {
	data = certElement.ReplaceAll(data, []byte("${1}MASKED${3}"))
	data = jsonPassword.ReplaceAll(data, []byte("${1}MASKED${2}"))
	data = soapPassword.ReplaceAll(data, []byte("${1}MASKED${2}"))
	data = smsText.ReplaceAll(data, []byte("${1}MASKED${2}"))
	data = nameElement.ReplaceAllFunc(data, func(b []byte) []byte {
		parts := nameElement.FindSubmatch(b)
		stand := m.standIn("name:"+string(parts[4]), func(i int) string { return fmt.Sprintf("МАСКА-%d", i) })
		return []byte(string(parts[1]) + string(parts[2]) + string(parts[3]) + stand + string(parts[5]) + "/")
	})
	data = twelveDigits.ReplaceAllFunc(data, func(b []byte) []byte {
		s := string(b)
		if c := s[6]; c < '1' || c > '6' {
			return b // not a person's IIN (BINs and other numbers stay)
		}
		if _, err := signing.ParseIIN(s); err != nil {
			return b
		}
		return []byte(m.standIn("iin:"+s, func(int) string { return m.fakeIIN(s) }))
	})
	return phoneNumber.ReplaceAllFunc(data, func(b []byte) []byte {
		return []byte(m.standIn("phone:"+string(b), func(i int) string { return fmt.Sprintf("+7000%07d", i) }))
	})
}

func (m *Masker) standIn(key string, make func(int) string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.seen[key]; ok {
		return v
	}
	m.n++
	v := make(m.n)
	m.seen[key] = v
	return v
}

// fakeIIN makes a valid IIN of the same century and sex, with a birth date
// and serial drawn from a keyed hash of the original.
func (m *Masker) fakeIIN(orig string) string {
	mac := hmac.New(sha256.New, m.key)
	mac.Write([]byte(orig))
	h := mac.Sum(nil)
	for i := 0; ; i++ {
		x := binary.BigEndian.Uint64(h[:8]) + uint64(i)
		yy, mm, dd := x%100, 1+(x/100)%12, 1+(x/1200)%28
		serial := (x / 33600) % 10000
		base := fmt.Sprintf("%02d%02d%02d%c%04d", yy, mm, dd, orig[6], serial)
		for k := 0; k < 10; k++ {
			cand := base + string(rune('0'+k))
			if _, err := signing.ParseIIN(cand); err == nil {
				return cand
			}
		}
	}
}
