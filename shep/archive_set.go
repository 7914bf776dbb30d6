package shep

// An archive set holds the archives of every evidence chain exported at
// once: a ZIP whose members are archives (format in archive.go), one per
// chain, named chains/N.zip and stored uncompressed, so that each is read
// in place and checked exactly as an archive on its own. Unzipped, every
// member is an archive a stranger checks alone; the set adds nothing to
// trust but their names, and a member's name must agree with the chain its
// signed index names.

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// ArchiveSetSummary says what an export of every chain wrote.
type ArchiveSetSummary struct {
	Records int64            `json:"records"`
	Chains  []ArchiveSummary `json:"chains"`
}

// ArchiveMember is one chain's archive in an archive set (or the archive
// itself, when a file holds a single archive).
type ArchiveMember struct {
	Chain int
	Name  string // chains/N.zip; "" for a single archive
	R     io.ReaderAt
	Size  int64
}

var archiveSetMember = regexp.MustCompile(`^chains/([0-9])\.zip$`)

// ExportArchiveSet exports every evidence chain that holds or held links
// (ExportArchive, with opt but its Chain and After) into an archive set
// written to w. after gives, for a chain, the head of its earlier archive
// to continue from (ArchiveMembers and ArchiveHead of the earlier set).
func ExportArchiveSet(ctx context.Context, rdb redis.UniversalClient, prefix string, w io.Writer, opt ArchiveOptions, after map[int]ChainPoint) (ArchiveSetSummary, error) {
	var sum ArchiveSetSummary
	snap, err := readChainHeads(ctx, rdb, prefix)
	if err != nil {
		return sum, err
	}
	zw := zip.NewWriter(w)
	for c := range EvidenceChains {
		if snap.heads[c] == "" {
			// No head: the chain never held a link (a trim keeps the head).
			continue
		}
		o := opt
		o.Chain, o.After = c, nil
		if p, ok := after[c]; ok {
			o.After = &p
		}
		mw, err := zw.CreateHeader(&zip.FileHeader{Name: "chains/" + strconv.Itoa(c) + ".zip", Method: zip.Store})
		if err != nil {
			return sum, err
		}
		s, err := ExportArchive(ctx, rdb, prefix, mw, o)
		if err != nil {
			return sum, fmt.Errorf("chain %d: %w", c, err)
		}
		sum.Records += s.Records
		sum.Chains = append(sum.Chains, s)
	}
	return sum, zw.Close()
}

// ArchiveMembers lists the archives a file holds: the members of an
// archive set, in chain order, or the file itself when it is one archive
// (an archive's index is at its top). Nothing is verified but the set's
// layout: each member's chain is the one its name says, to be checked
// against its signed index (VerifyArchive reports the chain).
func ArchiveMembers(r io.ReaderAt, size int64) ([]ArchiveMember, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("shep: archive: %w", err)
	}
	for _, f := range zr.File {
		if f.Name == archiveIndexName {
			chain, _, err := ArchiveHead(r, size)
			if err != nil {
				return nil, err
			}
			return []ArchiveMember{{Chain: chain, R: r, Size: size}}, nil
		}
	}
	if len(zr.File) == 0 || len(zr.File) > EvidenceChains {
		return nil, fmt.Errorf("shep: archive set: %d members, 1 to %d expected", len(zr.File), EvidenceChains)
	}
	var out []ArchiveMember
	seen := map[int]bool{}
	for _, f := range zr.File {
		m := archiveSetMember.FindStringSubmatch(f.Name)
		if m == nil {
			return nil, fmt.Errorf("shep: archive set: unexpected member %q", f.Name)
		}
		chain, _ := strconv.Atoi(m[1])
		if chain >= EvidenceChains || seen[chain] {
			return nil, fmt.Errorf("shep: archive set: member %q", f.Name)
		}
		seen[chain] = true
		if f.Method != zip.Store || f.CompressedSize64 != f.UncompressedSize64 {
			return nil, fmt.Errorf("shep: archive set: %s is compressed; members are stored", f.Name)
		}
		off, err := f.DataOffset()
		if err != nil {
			return nil, fmt.Errorf("shep: archive set: %s: %w", f.Name, err)
		}
		n := int64(f.UncompressedSize64)
		if off < 0 || n < 0 || off > size || n > size-off {
			return nil, fmt.Errorf("shep: archive set: %s lies outside the file", f.Name)
		}
		out = append(out, ArchiveMember{Chain: chain, Name: f.Name, R: io.NewSectionReader(r, off, n), Size: n})
	}
	return out, nil
}

// VerifyMember verifies one member (VerifyArchive) and that it is of the
// chain its name says.
func VerifyMember(ctx context.Context, m ArchiveMember, opt ArchiveVerifyOptions) (ArchiveReport, error) {
	rep, err := VerifyArchive(ctx, m.R, m.Size, opt)
	if err == nil && rep.Intact && m.Name != "" && rep.Chain != m.Chain {
		rep.Intact, rep.Fault = false, FaultLayout
		rep.Reason = fmt.Sprintf("%s holds an archive of chain %d", m.Name, rep.Chain)
	}
	return rep, err
}
