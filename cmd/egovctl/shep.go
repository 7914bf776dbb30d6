package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/pflag"

	"egov/internal/redisconn"
	"egov/shep"
	"egov/signing/pki"
)

// redisFlags adds the flags that name a Redis and a key prefix.
func redisFlags(fs *pflag.FlagSet) (url, prefix *string) {
	url = fs.String("redis", "", "Redis URL")
	prefix = fs.String("prefix", "", "key prefix the bus runs with")
	check(fs, validRedisURL, "redis")
	return url, prefix
}

// dataFlag adds --data: the data directory of egovctl up, whose stack.json
// gives the flags fromStack names when nothing else does.
func dataFlag(fs *pflag.FlagSet) *string {
	return fs.String("data", "data", "the data directory of a running egovctl up (its stack.json)")
}

func openRedis(url string) (redis.UniversalClient, error) {
	if url == "" {
		return nil, fmt.Errorf("%w: --redis or EGOV_REDIS_URL is required (or --data of a running egovctl up)", errUsage)
	}
	rdb, err := redisconn.Open(url)
	if err != nil {
		return nil, fmt.Errorf("%w: --redis: %v", errUsage, err)
	}
	return rdb, nil
}

func evidenceVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("evidence verify", stderr)
	url, prefix := redisFlags(fs)
	dataDir := dataFlag(fs)
	fromStack(fs, "redis", "redis", "prefix", "prefix")
	archives := fs.StringArray("archive", nil, "check this archive (egovctl evidence export --archive) offline instead of the live chain; repeat for a series, oldest first")
	trust, bin, crls, allowUnknown := archiveCheckFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if len(*archives) > 0 {
		return evidenceVerifyArchive(ctx, archiveVerifyOptions{Archives: *archives, Trust: orData(*trust, *dataDir, "pki", pki.TrustDir),
			BIN: *bin, CRLs: *crls, AllowUnknownRevocation: *allowUnknown}, stdout)
	}
	rdb, err := openRedis(*url)
	if err != nil {
		return err
	}
	defer rdb.Close()
	rep, err := shep.VerifyEvidence(ctx, rdb, *prefix)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return err
	}
	if !rep.Intact {
		return errRefused
	}
	return nil
}

// archiveCheckFlags are the flags of checking an archive's signatures.
func archiveCheckFlags(fs *pflag.FlagSet) (trust, bin *string, crls *[]string, allowUnknown *bool) {
	trust = fs.String("trust", "", "with --archive: the trusted CA certificates (default: DATA/pki/trust of --data)")
	bin = fs.String("bin", busOperatorBIN, "with --archive: the BIN of the bus operator whose authorised person signs the archives")
	crls = fs.StringArray("crl", nil, "with --archive: a CRL in force at the signing time, for archives that carry none (repeatable)")
	allowUnknown = fs.Bool("allow-unknown-revocation", false, "with --archive: accept a signer whose revocation status at the signing time no list tells")
	return trust, bin, crls, allowUnknown
}

// orData is v, or else the path under the data directory.
func orData(v, dataDir string, elem ...string) string {
	if v != "" {
		return v
	}
	return filepath.Join(append([]string{dataDir}, elem...)...)
}

func evidenceExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("evidence export", stderr)
	url, prefix := redisFlags(fs)
	dataDir := dataFlag(fs)
	fromStack(fs, "redis", "redis", "prefix", "prefix")
	out := fs.String("out", "-", "file to write JSON lines to (- for stdout); see --archive for a signed archive")
	archive := fs.String("archive", "", "write a signed archive (ZIP of segments and signed manifests) to this file instead of JSON lines")
	key := fs.String("key", "", "with --archive: the bus operator's organisation key (default: DATA/pki/keys/shep-operator.p12 of --data)")
	password := fs.String("password", demoPassword, "with --archive: the key's password")
	crls := fs.StringArray("crl", nil, "with --archive: a CRL in force now, stored in the archive (repeatable; default: DATA/pki/crl.pem of --data)")
	segmentLinks := fs.Int("segment-links", shep.DefaultSegmentLinks, "with --archive: links per segment")
	after := fs.String("after", "", "with --archive: continue after the head of this earlier archive (daily exports)")
	check(fs, positive, "segment-links")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rdb, err := openRedis(*url)
	if err != nil {
		return err
	}
	defer rdb.Close()
	if *archive != "" {
		if len(*crls) == 0 {
			*crls = []string{filepath.Join(*dataDir, "pki", "crl.pem")}
		}
		return evidenceExportArchive(ctx, rdb, archiveExportOptions{Prefix: *prefix, Out: *archive,
			Key: orData(*key, *dataDir, "pki", "keys", busOperatorKey+".p12"), Password: *password, CRLs: *crls,
			SegmentLinks: *segmentLinks, After: *after}, stdout)
	}
	w := stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	n, err := shep.ExportEvidence(ctx, rdb, *prefix, w)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "exported %d records\n", n)
	return nil
}

func evidenceTrim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("evidence trim", stderr)
	url, prefix := redisFlags(fs)
	dataDir := dataFlag(fs)
	fromStack(fs, "redis", "redis", "prefix", "prefix")
	archive := fs.String("archive", "", "the archive whose links leave Redis (verified first)")
	trust, bin, crls, allowUnknown := archiveCheckFlags(fs)
	keepLive := fs.Duration("keep-live", 168*time.Hour, "refuse an archive whose newest record is younger than this (the live retention)")
	if err := parseFlags(fs, args, "archive"); err != nil {
		return err
	}
	rdb, err := openRedis(*url)
	if err != nil {
		return err
	}
	defer rdb.Close()
	return evidenceTrimArchive(ctx, rdb, archiveTrimOptions{Prefix: *prefix, Archive: *archive,
		Trust: orData(*trust, *dataDir, "pki", pki.TrustDir), BIN: *bin, CRLs: *crls,
		AllowUnknownRevocation: *allowUnknown, KeepLive: *keepLive}, stdout)
}

func shepHashPassword(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("shep hash-password", stderr)
	password := fs.String("password", "", "a system's password for the routing file")
	if err := parseFlags(fs, args, "password"); err != nil {
		return err
	}
	h, err := shep.HashPassword(*password)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, h)
	return nil
}

// shepDeadLetters lists the messages the bus stopped delivering, with the
// reason, and hands them out again on request.
func shepDeadLetters(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("shep dead-letters", stderr)
	url, prefix := redisFlags(fs)
	routing := fs.String("routing", "", "routing table: whose queues to look at (default: the built-in one, as fixtures/shep/routing.json)")
	recipient := fs.String("recipient", "", "only this system's queue")
	redeliver := fs.String("redeliver", "", `hand this message id out again ("all": every one listed)`)
	dataFlag(fs)
	fromStack(fs, "redis", "redis", "prefix", "prefix")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	routes, err := shep.LoadRoutingOrBuiltIn(*routing)
	if err != nil {
		return err
	}
	rdb, err := openRedis(*url)
	if err != nil {
		return err
	}
	defer rdb.Close()
	var systems []string
	for id := range routes.Systems {
		if *recipient == "" || id == *recipient {
			systems = append(systems, id)
		}
	}
	sort.Strings(systems)
	found := 0
	for _, sys := range systems {
		letters, err := shep.DeadLetters(ctx, rdb, *prefix, sys)
		if err != nil {
			return err
		}
		for _, d := range letters {
			found++
			fmt.Fprintf(stdout, "%s  %s  to %s from %s  %s %s  correlation %s  reason %s", d.StoppedAt.Format(time.RFC3339), d.MessageID,
				d.Recipient, d.Info.Sender.SenderID, d.Info.ServiceID, d.Info.MessageType, d.Info.CorrelationID, d.Reason)
			if d.LastError != "" {
				fmt.Fprintf(stdout, " (last refusal: %s)", d.LastError)
			}
			fmt.Fprintln(stdout)
			if *redeliver == "all" || *redeliver == d.MessageID {
				if err := shep.Redeliver(ctx, rdb, *prefix, sys, d.MessageID); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "  handed out again\n")
			}
		}
	}
	fmt.Fprintf(stderr, "%d dead letters\n", found)
	return nil
}
