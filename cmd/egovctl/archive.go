package main

// The evidence archive commands: export the bus's evidence chain into a
// signed archive, verify archives without Redis, trim archived links from
// Redis. The command bodies take their flags as options structs; the
// command line registers them (see the flags on each field).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"

	"egov/shep"
	"egov/signing"
)

// archiveExportOptions are the flags of
// egovctl evidence export --archive FILE --key KEY.p12 [--password P]
// [--crl FILE]... [--segment-links N] [--after PREV.zip] [--prefix P].
type archiveExportOptions struct {
	Prefix string // --prefix: the bus's key prefix
	// Out is the archive file to write (--archive, required). It appears
	// only once complete: written beside it and renamed.
	Out string
	// Key and Password open the bus operator's organisation key (--key,
	// required: e.g. DATA/pki/keys/shep-operator.p12; --password, default
	// pki.DefaultPassword for the test PKI).
	Key, Password string
	// CRLs are revocation lists in force now, stored in the archive
	// (--crl, repeatable; egovctl up writes DATA/pki/crl.pem).
	CRLs []string
	// SegmentLinks is the segment size (--segment-links, default
	// shep.DefaultSegmentLinks).
	SegmentLinks int
	// After continues after the head of this earlier archive instead of
	// the live chain's start (--after PREV.zip): daily exports while the
	// live chain still holds the days before.
	After string
	// Now is the clock of the signing time; nil: time.Now.
	Now func() time.Time
}

// evidenceExportArchive writes every live evidence chain into an archive
// set (a signed archive per chain) and prints what it wrote as JSON
// (shep.ArchiveSetSummary).
func evidenceExportArchive(ctx context.Context, rdb redis.UniversalClient, o archiveExportOptions, stdout io.Writer) error {
	if o.Out == "" || o.Key == "" {
		return fmt.Errorf("%w: --archive and --key are required", errUsage)
	}
	signer, err := signing.LoadSigner(o.Key, o.Password)
	if err != nil {
		return fmt.Errorf("--key: %w", err)
	}
	opt := shep.ArchiveOptions{Signer: signer, Now: o.Now, SegmentLinks: o.SegmentLinks}
	if opt.CRLs, err = readArchiveInputs(o.CRLs); err != nil {
		return fmt.Errorf("--crl: %w", err)
	}
	after := map[int]shep.ChainPoint{}
	if o.After != "" {
		if after, err = archiveHeads(o.After); err != nil {
			return fmt.Errorf("--after %s: %w", o.After, err)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(o.Out), "."+filepath.Base(o.Out)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, nothing is left to remove
	sum, err := shep.ExportArchiveSet(ctx, rdb, o.Prefix, tmp, opt, after)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), o.Out)
	}
	if err != nil {
		return err
	}
	return printArchiveJSON(stdout, sum)
}

// archiveVerifyOptions are the flags of
// egovctl evidence verify --archive FILE [--archive NEXT]... --trust DIR
// --bin BIN [--crl FILE]... [--allow-unknown-revocation]. No Redis.
type archiveVerifyOptions struct {
	// Archives are verified in order (--archive, repeatable, at least
	// one); each must continue where the one before it ends.
	Archives []string
	// Trust is the directory of trusted CA certificates (--trust,
	// required; DATA/pki/trust).
	Trust string
	// BIN is the bus operator's (--bin, required; the test PKI's is
	// busOperatorBIN).
	BIN string
	// CRLs are revocation lists of the verifier's own (--crl,
	// repeatable), always heard beside those an archive carries: a list in
	// force at the signing time serves an archive without one, and a newer
	// list that shows the operator's key revoked by the signing time, or
	// for key compromise at any time, refuses the archive.
	CRLs []string
	// AllowUnknownRevocation accepts a signer whose status at the signing
	// time no list tells (--allow-unknown-revocation).
	AllowUnknownRevocation bool
	// Now is the verifier's clock; nil: time.Now.
	Now func() time.Time
}

// archiveVerifyReport is what evidence verify --archive prints.
type archiveVerifyReport struct {
	Intact   bool                `json:"intact"`
	Archives []archiveFileReport `json:"archives"`
}

type archiveFileReport struct {
	File string `json:"file"`
	shep.ArchiveReport
}

// evidenceVerifyArchive verifies archives offline (each chain's archive of
// each set), prints one JSON report and returns errRefused (exit 1) unless
// every archive is intact and each continues the one of its chain before
// it.
func evidenceVerifyArchive(ctx context.Context, o archiveVerifyOptions, stdout io.Writer) error {
	if len(o.Archives) == 0 || o.Trust == "" || o.BIN == "" {
		return fmt.Errorf("%w: --archive, --trust and --bin are required", errUsage)
	}
	opt, err := archiveVerifyOpts(o.Trust, o.BIN, o.CRLs, o.AllowUnknownRevocation, o.Now)
	if err != nil {
		return err
	}
	out := archiveVerifyReport{Intact: true}
	last := map[int]shep.ArchiveReport{} // each chain's archive before
	for _, name := range o.Archives {
		err := eachArchive(name, func(m shep.ArchiveMember) error {
			rep, err := shep.VerifyMember(ctx, m, opt)
			if err != nil {
				return err
			}
			if prev, ok := last[m.Chain]; ok && prev.Intact {
				shep.CheckContinuity(prev, &rep)
			}
			last[m.Chain] = rep
			out.Intact = out.Intact && rep.Intact
			out.Archives = append(out.Archives, archiveFileReport{File: memberName(name, m), ArchiveReport: rep})
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := printArchiveJSON(stdout, out); err != nil {
		return err
	}
	if !out.Intact {
		return errRefused
	}
	return nil
}

// archiveTrimOptions are the flags of
// egovctl evidence trim --archive FILE --trust DIR --bin BIN [--crl FILE]...
// [--allow-unknown-revocation] [--keep-live DURATION] [--prefix P].
type archiveTrimOptions struct {
	Prefix string // --prefix
	// Archive is the archive whose links are deleted from Redis
	// (--archive, required). It is verified first, as by evidence verify.
	Archive                string
	Trust, BIN             string   // --trust, --bin (required)
	CRLs                   []string // --crl
	AllowUnknownRevocation bool     // --allow-unknown-revocation
	// KeepLive refuses an archive whose newest record is younger
	// (--keep-live, the live retention; the product's policy is 168h, 0
	// trims any archive).
	KeepLive time.Duration
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// trimRefusal is what evidence trim prints when it deletes nothing.
type trimRefusal struct {
	Trimmed bool               `json:"trimmed"`
	Reason  string             `json:"reason"`
	Archive shep.ArchiveReport `json:"archive"`
	// Done are the chains trimmed before the refusal.
	Done []shep.TrimReport `json:"done,omitempty"`
}

// evidenceTrimArchive deletes an archive's links from Redis and keeps its
// head as the live chain's anchor; it prints the shep.TrimReport, or the
// refusal with errRefused (exit 1) when the archive does not verify, does
// not begin at the live chain's start, does not match the live chain, or
// is younger than KeepLive.
func evidenceTrimArchive(ctx context.Context, rdb redis.UniversalClient, o archiveTrimOptions, stdout io.Writer) error {
	if o.Archive == "" || o.Trust == "" || o.BIN == "" {
		return fmt.Errorf("%w: --archive, --trust and --bin are required", errUsage)
	}
	if o.KeepLive < 0 {
		return fmt.Errorf("%w: --keep-live must not be negative", errUsage)
	}
	opt, err := archiveVerifyOpts(o.Trust, o.BIN, o.CRLs, o.AllowUnknownRevocation, o.Now)
	if err != nil {
		return err
	}
	var done trimReports
	err = eachArchive(o.Archive, func(m shep.ArchiveMember) error {
		topt := shep.TrimOptions{Verify: opt, KeepLive: o.KeepLive, Now: o.Now}
		if m.Name != "" {
			topt.Chain = &m.Chain
		}
		rep, ar, err := shep.TrimArchived(ctx, rdb, o.Prefix, m.R, m.Size, topt)
		for _, refusal := range []error{shep.ErrArchiveNotIntact, shep.ErrArchiveNotAtStart, shep.ErrArchiveNotLive, shep.ErrArchiveTooYoung} {
			if errors.Is(err, refusal) {
				if perr := printArchiveJSON(stdout, trimRefusal{Reason: err.Error(), Archive: ar, Done: done.Chains}); perr != nil {
					return perr
				}
				return errRefused
			}
		}
		if err != nil {
			return err
		}
		done.Records += rep.Records
		done.Chains = append(done.Chains, rep)
		return nil
	})
	if err != nil {
		return err
	}
	return printArchiveJSON(stdout, done)
}

// trimReports is what evidence trim prints: each chain's trim.
type trimReports struct {
	Records int64             `json:"records"`
	Chains  []shep.TrimReport `json:"chains"`
}

// eachArchive calls fn for each archive of the file at path: each member
// of an archive set, or the file when it is one archive.
func eachArchive(path string, fn func(shep.ArchiveMember) error) error {
	f, size, err := openArchive(path)
	if err != nil {
		return err
	}
	defer f.Close()
	members, err := shep.ArchiveMembers(f, size)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, m := range members {
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

// memberName names a member in reports: FILE#chains/N.zip.
func memberName(file string, m shep.ArchiveMember) string {
	if m.Name == "" {
		return file
	}
	return file + "#" + m.Name
}

// archiveHeads reads where each chain's archive of the file at path ends.
func archiveHeads(path string) (map[int]shep.ChainPoint, error) {
	heads := map[int]shep.ChainPoint{}
	err := eachArchive(path, func(m shep.ArchiveMember) error {
		chain, head, err := shep.ArchiveHead(m.R, m.Size)
		if err == nil && chain != m.Chain {
			err = fmt.Errorf("%s holds an archive of chain %d", m.Name, chain)
		}
		heads[chain] = head
		return err
	})
	return heads, err
}

func archiveVerifyOpts(trustDir, bin string, crlFiles []string, allowUnknown bool, now func() time.Time) (shep.ArchiveVerifyOptions, error) {
	trust, err := signing.LoadTrustDir(trustDir)
	if err != nil {
		return shep.ArchiveVerifyOptions{}, err
	}
	if _, err := signing.ParseBIN(bin); err != nil {
		return shep.ArchiveVerifyOptions{}, fmt.Errorf("%w: --bin: %v", errUsage, err)
	}
	crls, err := readArchiveInputs(crlFiles)
	if err != nil {
		return shep.ArchiveVerifyOptions{}, fmt.Errorf("--crl: %w", err)
	}
	return shep.ArchiveVerifyOptions{Trust: trust, BIN: bin, CRLs: crls, AllowUnknownRevocation: allowUnknown, Now: now}, nil
}

// openArchive opens an archive for reading in place: archives of a busy
// day hold gigabytes.
func openArchive(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}

func readArchiveInputs(paths []string) ([][]byte, error) {
	var out [][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, data)
	}
	return out, nil
}

func printArchiveJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
