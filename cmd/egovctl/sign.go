package main

import (
	"fmt"
	"io"
	"os"

	"egov/signing"
)

func sign(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sign", stderr)
	key := fs.String("key", "", "signing key: PREFIX.p12, or PREFIX.crt/PREFIX.key")
	password := fs.String("password", "", "password of the PKCS#12 file")
	in := fs.String("in", "", "document to sign (- for stdin)")
	out := fs.String("out", "", "signed document to write (- for stdout)")
	if err := parseFlags(fs, args, "key", "in", "out"); err != nil {
		return err
	}
	signer, err := signing.LoadSigner(*key, *password)
	if err != nil {
		return err
	}
	doc, err := readInput(*in)
	if err != nil {
		return err
	}
	signed, err := signer.Sign(doc)
	if err != nil {
		return err
	}
	if *out == "-" {
		_, err = stdout.Write(signed)
		return err
	}
	if err := os.WriteFile(*out, signed, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "signed by %s (IIN %s), wrote %s\n", signer.Certificate.Subject.CommonName,
		signing.MaskIIN(signing.IdentityOf(signer.Certificate).IIN), *out)
	return nil
}

// maxInput bounds what the CLI reads; the verifier's own limit is lower.
const maxInput = 64 << 20

func readInput(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(io.LimitReader(os.Stdin, maxInput))
	}
	return os.ReadFile(path)
}
