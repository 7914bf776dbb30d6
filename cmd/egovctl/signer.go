package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"time"

	"egov/signing"
	"egov/signing/ncalayer"
	"egov/signing/pki"
)

// signerCmd runs the local signer that speaks NCALayer's protocol, with
// the key stores given, until ctx ends.
func signerCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("signer", stderr)
	listen := fs.String("listen", "127.0.0.1:13579", "address of the signer's WebSocket, on the loopback interface only (NCALayer's is 127.0.0.1:13579)")
	keys := fs.StringArray("key", nil, "a key store (PREFIX.p12, or PREFIX.crt/PREFIX.key) to sign with; repeat for a signing and an authentication key")
	password := fs.String("password", pki.DefaultPassword, "password of the key stores (the test PKI's by default)")
	origins := fs.StringArray("origin", []string{"http://127.0.0.1:8080", "http://localhost:8080"}, "a web origin whose pages may use the signer; repeat")
	plain := fs.Bool("plain", false, "serve ws:// without TLS (for programs and tests; a page of an https portal needs wss://)")
	certFile := fs.String("tls-cert", "", "TLS certificate of wss:// (default: a self-signed one for 127.0.0.1 and localhost, made at start)")
	keyFile := fs.String("tls-key", "", "its key")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	check(fs, oneOf("debug", "info", "warn", "error"), "log-level")
	check(fs, ncalayer.Loopback, "listen")
	check(fs, func(v string) error {
		if ncalayer.NormalOrigin(v) == "" {
			return fmt.Errorf("%q is not an http or https origin (scheme://host[:port])", v)
		}
		return nil
	}, "origin")
	if err := parseFlags(fs, args, "key"); err != nil {
		return err
	}
	if (*certFile == "") != (*keyFile == "") {
		return fmt.Errorf("%w: --tls-cert and --tls-key go together", errUsage)
	}
	log, err := upLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	var held []*signing.Signer
	for _, k := range *keys {
		s, err := signing.LoadSigner(k, *password)
		if err != nil {
			return fmt.Errorf("--key %s: %w", k, err)
		}
		held = append(held, s)
	}
	srv, err := ncalayer.New(ncalayer.Config{Keys: held, Origins: *origins, Log: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	// Connections taken over by the WebSocket end with ctx: Shutdown does
	// not close them.
	server := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	scheme := "ws"
	if !*plain {
		cert, err := signerCertificate(*certFile, *keyFile)
		if err != nil {
			return err
		}
		server.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, server.TLSConfig)
		scheme = "wss"
		sum := sha256.Sum256(cert.Certificate[0])
		fmt.Fprintf(stdout, "TLS certificate SHA-256 %s (a browser must trust it, as NCALayer's installer makes it trust NCALayer's)\n", hex.EncodeToString(sum[:]))
	}
	fmt.Fprintf(stdout, "signer listening on %s://%s/ (NCALayer's protocol: %s sign, %s signXml, getKeyInfo, getActiveTokens)\n",
		scheme, ln.Addr(), ncalayer.ModuleBasics, ncalayer.ModuleCommonUtils)
	for _, s := range held {
		id := signing.IdentityOf(s.Certificate)
		fmt.Fprintf(stdout, "  key %s, IIN %s, %s\n", id.CommonName, signing.MaskIIN(id.IIN), id.Purpose)
	}
	done := make(chan error, 1)
	go func() { done <- server.Serve(ln) }()
	select {
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = server.Shutdown(shut)
		log.Info("signer stopped")
		return nil
	case err := <-done:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// signerCertificate reads the TLS pair, or makes a self-signed one for
// the loopback names, valid 30 days (a browser accepts it once per start:
// give --tls-cert and --tls-key to keep one).
func signerCertificate(certFile, keyFile string) (tls.Certificate, error) {
	if certFile != "" {
		return tls.LoadX509KeyPair(certFile, keyFile)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "egovctl signer (TEST)"},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(30 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
