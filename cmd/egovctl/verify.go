package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"egov"
	"egov/signing"
)

// verifyReport is the one JSON object verify prints.
type verifyReport struct {
	Valid    bool              `json:"valid"`
	Code     egov.Code         `json:"code,omitempty"`
	Message  string            `json:"message"`
	Messages *egov.Message     `json:"messages,omitempty"`
	Detail   string            `json:"detail,omitempty"`
	Signer   *signing.Identity `json:"signer,omitempty"`
	Evidence *signing.Evidence `json:"evidence,omitempty"`
}

func verify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify", stderr)
	var (
		trustDir     = fs.String("trust", "", "directory of trusted CA certificates (PEM or DER)")
		crl          = fs.String("crl", "", "CRL file or URL (fallback after OCSP)")
		ocspURL      = fs.String("ocsp", "", "OCSP responder URL (asked first)")
		iin          = fs.String("iin", "", "IIN the signer's certificate must carry")
		bin          = fs.String("bin", "", "BIN the signer's certificate must carry")
		at           = fs.String("at", "", "verify as of this time (default now)")
		in           = fs.String("in", "", "signed document (- for stdin)")
		allowUnknown = fs.Bool("allow-unknown-revocation", false, "accept when no revocation source can answer (default: refuse)")
		allowAuth    = fs.Bool("allow-auth-key", false, "accept authentication keys (login challenges)")
	)
	check(fs, validIIN, "iin")
	check(fs, timeValue, "at")
	if err := parseFlags(fs, args, "trust", "in"); err != nil {
		return err
	}
	when, err := parseTimeFlag("at", *at)
	if err != nil {
		return err
	}
	trust, err := signing.LoadTrustDir(*trustDir)
	if err != nil {
		return err
	}
	rev := &signing.Revocation{AllowUnknown: *allowUnknown}
	if *ocspURL != "" {
		rev.OCSP = &signing.OCSPClient{URL: *ocspURL}
	}
	if *crl != "" {
		rev.CRL = &signing.CRLSet{Sources: []string{*crl}, Trust: trust}
		if err := rev.CRL.Refresh(ctx); err != nil {
			if _, statErr := os.Stat(*crl); !strings.Contains(*crl, "://") && errors.Is(statErr, os.ErrNotExist) {
				return fmt.Errorf("--crl: %w", statErr) // could not run: exit 3, not a refusal
			}
			fmt.Fprintln(stderr, "egovctl: warning:", err)
		}
	}
	v := &signing.Verifier{Trust: trust, Revocation: rev, AllowAuthKeys: *allowAuth}
	if !when.IsZero() {
		v.Now = func() time.Time { return when }
	}
	doc, err := readInput(*in)
	if err != nil {
		return err
	}
	res, err := v.Verify(ctx, doc)
	if err == nil && *iin != "" {
		err = res.RequireIIN(*iin)
	}
	if err == nil && *bin != "" {
		err = res.RequireBIN(*bin)
	}
	report := verifyReport{Valid: err == nil}
	if err != nil {
		code := egov.ErrorCode(err)
		msg := code.Message()
		report.Code, report.Message, report.Messages, report.Detail = code, msg.EN, &msg, err.Error()
	} else {
		report.Message = "signature confirmed"
		report.Signer, report.Evidence = &res.Signer, &res.Evidence
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if encErr := enc.Encode(report); encErr != nil {
		return encErr
	}
	if err != nil {
		return errRefused
	}
	return nil
}
