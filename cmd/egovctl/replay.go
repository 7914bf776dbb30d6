package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"

	"egov/internal/corpus"
	"egov/signing"
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
	)
	dataFlag(fs)
	fromStack(fs, "target", "portal", "bus", "bus")
	check(fs, httpURL, "target", "bus")
	check(fs, positive, "concurrency")
	check(fs, nonNegative, "rate")
	check(fs, pattern, "only")
	if err := parseArgs(fs, args, 1); err != nil {
		return err
	}
	dir := fs.Arg(0)
	c, err := corpus.Load(dir)
	if err != nil {
		return err
	}
	opt := corpus.Options{Portal: *target, Bus: *bus, Concurrency: *concurrency, Rate: *rate}
	if *only != "" {
		if opt.Only, err = regexp.Compile(*only); err != nil {
			return fmt.Errorf("%w: --only: %v", errUsage, err)
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
