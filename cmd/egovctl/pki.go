package main

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"egov/signing"
	"egov/signing/pki"
)

func pkiInit(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("pki init", stderr)
	dir := fs.String("dir", "", "directory of the new authority")
	if err := parseFlags(fs, args, "dir"); err != nil {
		return err
	}
	a, err := pki.Init(*dir, pki.InitOptions{})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "root:      %s\nissuer:    %s\ntrust dir: %s\n",
		a.Root.Subject.CommonName, a.CA.Subject.CommonName, filepath.Join(*dir, pki.TrustDir))
	return nil
}

func pkiIssue(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("pki issue", stderr)
	var (
		dir       = fs.String("dir", "", "directory of the authority")
		iin       = fs.String("iin", "", "holder's IIN (12 digits, valid check digit)")
		name      = fs.String("name", "", `holder's name: "SURNAME GIVEN [PATRONYMIC]"`)
		kind      = fs.String("kind", "sign", "sign (individual signing key), auth (authentication key) or org (organisation signing key)")
		bin       = fs.String("bin", "", "organisation's BIN (org keys)")
		org       = fs.String("org", "", "organisation's name (org keys)")
		role      = fs.String("role", "", "organisation role: ceo, can-sign or employee (default ceo)")
		notBefore = fs.String("not-before", "", "start of validity (default: an hour ago)")
		notAfter  = fs.String("not-after", "", "end of validity (default: a year after the start)")
		password  = fs.String("password", pki.DefaultPassword, "password of PREFIX.p12")
		bits      = fs.Int("bits", 2048, "RSA key size")
		out       = fs.String("out", "", "PREFIX of the files written: PREFIX.p12, PREFIX.crt, PREFIX.key")
	)
	check(fs, oneOf(string(pki.KindSign), string(pki.KindAuth), string(pki.KindOrg)), "kind")
	check(fs, orgRole, "role")
	check(fs, validIIN, "iin")
	check(fs, timeValue, "not-before", "not-after")
	check(fs, positive, "bits")
	if err := parseFlags(fs, args, "dir", "iin", "name", "out"); err != nil {
		return err
	}
	opt := pki.IssueOptions{IIN: *iin, Name: *name, Kind: pki.Kind(*kind), BIN: *bin, Organization: *org,
		Role: signing.KeyUser(*role), Bits: *bits}
	var err error
	if opt.NotBefore, err = parseTimeFlag("not-before", *notBefore); err != nil {
		return err
	}
	if opt.NotAfter, err = parseTimeFlag("not-after", *notAfter); err != nil {
		return err
	}
	switch opt.Kind {
	case pki.KindSign, pki.KindAuth, pki.KindOrg:
	default:
		return fmt.Errorf("%w: --kind must be sign, auth or org", errUsage)
	}
	a, err := pki.Open(*dir)
	if err != nil {
		return err
	}
	iss, err := a.Issue(opt)
	if err != nil {
		return err
	}
	if err := a.Write(iss, *out, *password); err != nil {
		return err
	}
	id := signing.IdentityOf(iss.Certificate)
	fmt.Fprintf(stdout, "issued %s certificate %s for IIN %s, valid %s to %s\nwrote %s.p12 (password %q), %s.crt, %s.key\n",
		opt.Kind, id.Serial, signing.MaskIIN(id.IIN), id.NotBefore.Format(time.RFC3339), id.NotAfter.Format(time.RFC3339),
		*out, *password, *out, *out)
	return nil
}

func pkiRevoke(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("pki revoke", stderr)
	dir := fs.String("dir", "", "directory of the authority")
	certPath := fs.String("cert", "", "certificate to revoke (PREFIX.crt)")
	at := fs.String("at", "", "revocation time (default now)")
	reason := fs.Int("reason", 1, "RFC 5280 reason code (1 key compromise, 4 superseded, 5 cessation of operation)")
	check(fs, timeValue, "at")
	check(fs, oneOf("0", "1", "2", "3", "4", "5", "6", "8", "9", "10"), "reason")
	if err := parseFlags(fs, args, "dir", "cert"); err != nil {
		return err
	}
	when, err := parseTimeFlag("at", *at)
	if err != nil {
		return err
	}
	if when.IsZero() {
		when = time.Now()
	}
	data, err := os.ReadFile(*certPath)
	if err != nil {
		return err
	}
	certs, err := signing.ParseCertificates(data)
	if err != nil {
		return err
	}
	a, err := pki.Open(*dir)
	if err != nil {
		return err
	}
	if err := a.Revoke(certs[0], when, *reason); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "revoked %s at %s\n", signing.IdentityOf(certs[0]).Serial, when.UTC().Format(time.RFC3339))
	return nil
}

func pkiCRL(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("pki crl", stderr)
	dir := fs.String("dir", "", "directory of the authority")
	out := fs.String("out", "", "CRL file to write (PEM)")
	validity := fs.Duration("validity", 24*time.Hour, "time from thisUpdate to nextUpdate")
	check(fs, positiveDuration, "validity")
	if err := parseFlags(fs, args, "dir", "out"); err != nil {
		return err
	}
	a, err := pki.Open(*dir)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Second)
	der, err := a.CRL(now.Add(-time.Minute), now.Add(*validity))
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s, next update %s\n", *out, now.Add(*validity).Format(time.RFC3339))
	return nil
}

func pkiOCSP(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("pki ocsp", stderr)
	dir := fs.String("dir", "", "directory of the authority")
	listen := fs.String("listen", "127.0.0.1:8889", "address to serve OCSP on")
	check(fs, address, "listen")
	if err := parseFlags(fs, args, "dir"); err != nil {
		return err
	}
	a, err := pki.Open(*dir)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: &pki.Responder{Authority: a}, ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(stdout, "OCSP responder for %q on http://%s/\n", a.CA.Subject.CommonName, ln.Addr())
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// parseTimeFlag reads RFC 3339 or a plain date; "" gives the zero time.
func parseTimeFlag(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, time.DateOnly} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: --%s %q is neither RFC 3339 nor a date", errUsage, name, v)
}
