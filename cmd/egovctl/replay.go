package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"egov/fixtures"
	"egov/internal/corpus"
	"egov/signing"
	"egov/signing/pki"
)

func replay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("replay", stderr)
	var (
		target      = fs.String("target", "http://127.0.0.1:8080", "portal base URL (portal requests go here)")
		bus         = fs.String("bus", "http://127.0.0.1:8081", "bus base URL (SOAP envelopes go here)")
		junit       = fs.String("junit", "", "write a JUnit XML report to this file")
		concurrency = fs.Int("concurrency", 1, "messages in flight at once (sessions keep their order)")
		rate        = fs.Float64("rate", 0, "at most this many messages a second (0: no cap)")
		only        = fs.String("only", "", "replay only messages whose name matches this regular expression")
		resignKey   = fs.String("resign-with", "", "refresh issue time and request id of submitted documents and sign them with this key (.p12)")
		proveKey    = fs.String("prove-with", "", "sign a fresh registration challenge with this key (.p12) for each recorded registration by signature (default: the --resign-with key)")
		password    = fs.String("password", demoPassword, "password of the --resign-with and --prove-with keys")
		dataDir     = fs.String("data", "data", "the target's data directory (egovctl up --data D; its stack.json gives --target and --bus): when it holds the test PKI, adapt the corpus to that stack, issuing keys of its test PKI (D/pki) for the recorded signers, re-signing the recorded documents and mapping to fresh IINs the citizens whose accounts or failed logins the corpus creates; replaces --resign-with and --prove-with")
	)
	fromStack(fs, "target", "portal", "bus", "bus")
	check(fs, httpURL, "target", "bus")
	check(fs, positive, "concurrency")
	check(fs, nonNegative, "rate")
	check(fs, pattern, "only")
	if err := parseArgs(fs, args, -1); err != nil {
		return err
	}
	c, err := loadCorpus(fs.Arg(0))
	if err != nil {
		return err
	}
	opt := corpus.Options{Portal: *target, Bus: *bus, Concurrency: *concurrency, Rate: *rate}
	if *only != "" {
		if opt.Only, err = regexp.Compile(*only); err != nil {
			return fmt.Errorf("%w: --only: %v", errUsage, err)
		}
	}
	// The target's PKI adapts the corpus unless keys are given by hand; a
	// --data named explicitly must hold one.
	byHand := *resignKey != "" || *proveKey != ""
	if byHand && fs.Changed("data") {
		return fmt.Errorf("%w: --data adapts every signature; give no --resign-with or --prove-with with it", errUsage)
	}
	if !byHand {
		authority, err := pki.Open(filepath.Join(*dataDir, "pki"))
		switch {
		case err == nil:
			opt.Adapt = corpus.NewAdapter(authority)
		case fs.Changed("data") || os.Getenv("EGOV_DATA") != "":
			return fmt.Errorf("--data %s: %w", *dataDir, err)
		default:
			fmt.Fprintf(stderr, "egovctl replay: no test PKI under %s: replaying the corpus as recorded (give --data of the target)\n", *dataDir)
		}
	}
	if *resignKey != "" {
		if opt.Resign, err = signing.LoadSigner(*resignKey, *password); err != nil {
			return err
		}
	}
	if *proveKey != "" {
		if opt.Prove, err = signing.LoadSigner(*proveKey, *password); err != nil {
			return err
		}
	}
	rep, err := corpus.Replay(ctx, c, opt)
	if err != nil {
		return err
	}
	if len(rep.Adapted) > 0 {
		fmt.Fprintf(stdout, "Adapted to the target (--data %s):\n", *dataDir)
		for _, line := range rep.Adapted {
			fmt.Fprintf(stdout, "  %s\n", line)
		}
		fmt.Fprintln(stdout)
	}
	rep.WriteTable(stdout)
	if *junit != "" {
		f, err := os.Create(*junit)
		if err != nil {
			return err
		}
		if err := rep.WriteJUnit(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	if rep.Differences > 0 {
		return errRefused
	}
	return nil
}

// loadCorpus reads the corpus in dir, or, with none given, the curated
// corpus built into egovctl (fixtures/envelopes), so that the replay runs
// from any directory.
func loadCorpus(dir string) (*corpus.Corpus, error) {
	if dir != "" {
		return corpus.Load(dir)
	}
	files, err := fs.Sub(fixtures.FS(), fixtures.Envelopes)
	if err != nil {
		return nil, err
	}
	return corpus.LoadFS(files, "built-in "+fixtures.Envelopes)
}
