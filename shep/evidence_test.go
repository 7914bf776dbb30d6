package shep_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"egov/shep"
)

// fillEvidence runs a little traffic: sends, a poll and a confirmation.
func fillEvidence(t *testing.T, f *fixture) {
	t.Helper()
	for i := 0; i < 5; i++ {
		send(t, f.bus, portal, svcOpen, "<D/>")
	}
	send(t, f.bus, portal, svcJobSeeker, signedDoc(t, "valid.xml"))
	for _, m := range poll(t, f.bus, labour, 3) {
		confirm(t, f.bus, labour, m)
	}
}

func evidenceStream(f *fixture) string { return f.redis.Key("shep", "{evidence}", "log") }

func TestEvidenceChainIsIntactAndPrivate(t *testing.T) {
	f := newBus(t, nil)
	fillEvidence(t, f)
	ctx := context.Background()
	rep, err := shep.VerifyEvidence(ctx, f.redis.Client, f.redis.Prefix)
	if err != nil || !rep.Intact || rep.Records != 9 || rep.Chain(0).Head != 9 {
		t.Fatalf("report %+v %v", rep, err)
	}
	var out bytes.Buffer
	n, err := shep.ExportEvidence(ctx, f.redis.Client, f.redis.Prefix, &out)
	if err != nil || n != 9 {
		t.Fatalf("export %d %v", n, err)
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var link struct {
			Record map[string]any `json:"record"`
		}
		if err := json.Unmarshal([]byte(line), &link); err != nil {
			t.Fatal(err)
		}
		rec := link.Record
		if rec["serviceId"] == svcJobSeeker && rec["body"] != nil {
			t.Fatal("a personal-data service's envelope was kept in the evidence log")
		}
		if rec["serviceId"] == svcOpen && rec["body"] == nil {
			t.Fatal("an open service's envelope was not kept")
		}
		if len(rec["envelopeSHA256"].(string)) != 64 {
			t.Fatalf("record without envelope digest: %s", line)
		}
		if strings.Contains(line, portal.Password) {
			t.Fatal("a password reached the evidence log")
		}
	}
}

func TestEvidenceTamperingIsDetected(t *testing.T) {
	tamper := map[string]func(t *testing.T, f *fixture, ids []string){
		"edit": func(t *testing.T, f *fixture, ids []string) {
			rewrite(t, f, func(recs []string) []string {
				recs[3] = strings.Replace(recs[3], `"sender":"egov-portal"`, `"sender":"intruder"`, 1)
				if !strings.Contains(recs[3], "intruder") {
					t.Fatal("edit did not apply")
				}
				return recs
			})
		},
		"delete": func(t *testing.T, f *fixture, ids []string) {
			f.redis.Client.XDel(context.Background(), evidenceStream(f), ids[3])
		},
		"reorder": func(t *testing.T, f *fixture, ids []string) {
			rewrite(t, f, func(recs []string) []string {
				recs[3], recs[4] = recs[4], recs[3]
				return recs
			})
		},
		"truncate the end": func(t *testing.T, f *fixture, ids []string) {
			f.redis.Client.XDel(context.Background(), evidenceStream(f), ids[len(ids)-1])
		},
	}
	for name, fn := range tamper {
		t.Run(name, func(t *testing.T) {
			f := newBus(t, nil)
			fillEvidence(t, f)
			msgs, err := f.redis.Client.XRange(context.Background(), evidenceStream(f), "-", "+").Result()
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, m := range msgs {
				ids = append(ids, m.ID)
			}
			fn(t, f, ids)
			all, err := shep.VerifyEvidence(context.Background(), f.redis.Client, f.redis.Prefix)
			if err != nil {
				t.Fatal(err)
			}
			rep := all.Chain(0)
			if all.Intact || rep.Intact || rep.BrokenAt == 0 || rep.Reason == "" || all.Reason != "chain 0: "+rep.Reason {
				t.Fatalf("tampering (%s) not detected: %+v", name, rep)
			}
			want := int64(4) // each of the first six sends is an entry of its own
			if name == "truncate the end" {
				want = 7 // the last entry held links 7 to 9 (one poll)
			}
			if rep.BrokenAt != want {
				t.Fatalf("broken at %d (%s), want %d", rep.BrokenAt, rep.Reason, want)
			}
		})
	}
}

func TestEvidenceSharedByTwoBuses(t *testing.T) {
	f := newBus(t, nil)
	second, err := shep.New(f.redis.Client, testRouting(t), shep.Config{KeyPrefix: f.redis.Prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 50; i++ {
			send(t, second, portal, svcOpen, "<Two/>")
		}
	}()
	for i := 0; i < 50; i++ {
		send(t, f.bus, portal, svcOpen, "<One/>")
	}
	<-done
	rep, err := shep.VerifyEvidence(context.Background(), f.redis.Client, f.redis.Prefix)
	if err != nil || !rep.Intact || rep.Records != 100 {
		t.Fatalf("two writers: %+v %v", rep, err)
	}
}

// A chain read while a bus appends to it is checked up to the head read
// first: the links after it are the next verification's. A link past the
// head that the bus did not write is found as soon as the bus writes again.
func TestEvidenceVerifiedUpToItsHead(t *testing.T) {
	f := newBus(t, nil)
	fillEvidence(t, f)
	ctx := context.Background()
	headKey := f.redis.Key("shep", "{evidence}", "head")
	before, err := f.redis.Client.Get(ctx, headKey).Result()
	if err != nil {
		t.Fatal(err)
	}
	send(t, f.bus, portal, svcOpen, "<After/>")
	// The stream as a reader sees it when the head was read just before
	// the last append: one link more than the head names.
	if err := f.redis.Client.Set(ctx, headKey, before, 0).Err(); err != nil {
		t.Fatal(err)
	}
	rep, err := shep.VerifyEvidence(ctx, f.redis.Client, f.redis.Prefix)
	if err != nil || !rep.Intact || rep.Records != 9 || rep.Chain(0).Head != 9 {
		t.Fatalf("a link after the head read: %+v %v, want intact up to link 9", rep, err)
	}
	// Nobody but the bus moved the head back: its next link repeats the
	// number of the one past the head.
	send(t, f.bus, portal, svcOpen, "<Next/>")
	rep, err = shep.VerifyEvidence(ctx, f.redis.Client, f.redis.Prefix)
	if err != nil || rep.Intact || rep.Chain(0).BrokenAt != 10 {
		t.Fatalf("a link past the head that the bus did not write: %+v %v, want broken at 10", rep, err)
	}
}

// rewrite replaces the evidence stream with edited entries (the JSON of
// each entry's links), as someone with write access to Redis could.
func rewrite(t *testing.T, f *fixture, edit func([]string) []string) {
	t.Helper()
	ctx := context.Background()
	msgs, err := f.redis.Client.XRange(ctx, evidenceStream(f), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var entries []string
	for _, m := range msgs {
		entries = append(entries, m.Values["links"].(string))
	}
	entries = edit(entries)
	f.redis.Client.Del(ctx, evidenceStream(f))
	for i, e := range entries {
		v := []any{"seq", msgs[i].Values["seq"], "links", e}
		if err := f.redis.Client.XAdd(ctx, &redisXAdd{Stream: evidenceStream(f), ID: msgs[i].ID, Values: v}).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// Buses on different chains witness each other through cross-anchors: a
// chain cut short, rewritten or hidden behind a forged anchor after a
// cross-anchor named its head, even with its own head moved to agree (so
// that the chain alone verifies), is found. An idle bus writes no further
// round.
func TestEvidenceChainsWitnessEachOther(t *testing.T) {
	ctx := context.Background()
	// witnessed runs traffic on chains 2 and 5 and two rounds of
	// cross-anchors, the second with every chain holding a link.
	witnessed := func(t *testing.T) *fixture {
		f := newBus(t, func(c *shep.Config) { c.EvidenceChain = 2 })
		other, err := shep.New(f.redis.Client, testRouting(t), shep.Config{KeyPrefix: f.redis.Prefix, EvidenceChain: 5})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { other.Close() })
		lease := f.redis.Key("shep", "{evidence}", "crossing")
		cross := func(b *shep.Bus) bool {
			t.Helper()
			f.redis.Client.Del(ctx, lease) // a round a minute: the test does not wait a minute
			wrote, err := b.CrossAnchor(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return wrote
		}
		for i := 0; i < 4; i++ {
			send(t, f.bus, portal, svcOpen, "<Two/>")
			send(t, other, portal, svcOpen, "<Five/>")
		}
		if !cross(f.bus) {
			t.Fatal("no cross-anchors written after traffic")
		}
		if cross(other) {
			t.Fatal("a second round without traffic between")
		}
		send(t, other, portal, svcOpen, "<Five/>")
		if !cross(other) {
			t.Fatal("no round after traffic")
		}
		// Once the lease is held, no other bus writes a round.
		if wrote, err := f.bus.CrossAnchor(ctx); err != nil || wrote {
			t.Fatalf("a round while another bus holds the lease: %v %v", wrote, err)
		}
		return f
	}
	f := witnessed(t)
	rep, err := shep.VerifyEvidence(ctx, f.redis.Client, f.redis.Prefix)
	// Chains 2 and 5 hold their 4 and 5 sends, every chain a link of each
	// round; the first round names the heads of chains 2 and 5, the second
	// the head of every chain: ten heads, each found where named.
	if err != nil || !rep.Intact || rep.Records != 4+5+2*shep.EvidenceChains || len(rep.Chains) != shep.EvidenceChains || rep.CrossAnchors != 2+8 {
		t.Fatalf("two chains cross-anchored: %+v %v", rep, err)
	}

	// The tamperings, on chain 5: its entries and their links.
	type entry struct {
		id    string
		links []map[string]any
	}
	read := func(f *fixture) (stream, head, headEntry string, entries []entry) {
		stream = f.redis.Key("shep", "{evidence:5}", "log")
		head, headEntry = f.redis.Key("shep", "{evidence:5}", "head"), f.redis.Key("shep", "{evidence:5}", "headentry")
		msgs, err := f.redis.Client.XRange(ctx, stream, "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			var links []map[string]any
			if err := json.Unmarshal([]byte(m.Values["links"].(string)), &links); err != nil {
				t.Fatal(err)
			}
			entries = append(entries, entry{m.ID, links})
		}
		return stream, head, headEntry, entries
	}
	setHead := func(f *fixture, head, headEntry string, e entry) {
		last := e.links[len(e.links)-1]
		f.redis.Client.Set(ctx, head, fmt.Sprintf("%v %v", last["seq"], last["hash"]), 0)
		f.redis.Client.Set(ctx, headEntry, e.id, 0)
	}
	for _, tc := range []struct {
		name   string
		tamper func(f *fixture)
		reason string
	}{
		{"cut back to its third link, its head moved to agree", func(f *fixture) {
			stream, head, headEntry, entries := read(f)
			for _, e := range entries[3:] {
				f.redis.Client.XDel(ctx, stream, e.id)
			}
			setHead(f, head, headEntry, entries[2])
		}, "past that chain's head"},
		{"its first three links rewritten, the witnessed entries kept after them", func(f *fixture) {
			stream, head, headEntry, entries := read(f)
			f.redis.Client.Del(ctx, stream)
			prev := ""
			for i := 0; i < 3; i++ {
				rec := fmt.Sprintf(`{"time":"2026-06-01T06:00:0%dZ","direction":"in","messageId":"forged-%d"}`, i, i)
				seq := int64(i + 1)
				h := sha256.Sum256([]byte(prev + "\n" + strconv.FormatInt(seq, 10) + "\n" + rec))
				hash := hex.EncodeToString(h[:])
				links, _ := json.Marshal([]map[string]any{{"seq": seq, "prev": prev, "record": json.RawMessage(rec), "hash": hash}})
				id := fmt.Sprintf("1-%d", i+1)
				f.redis.Client.XAdd(ctx, &redisXAdd{Stream: stream, ID: id, Values: []any{"seq", seq, "links", string(links)}})
				prev = hash
				f.redis.Client.Set(ctx, head, strconv.FormatInt(seq, 10)+" "+hash, 0)
				f.redis.Client.Set(ctx, headEntry, id, 0)
			}
			for _, e := range entries[3:] {
				links, _ := json.Marshal(e.links)
				f.redis.Client.XAdd(ctx, &redisXAdd{Stream: stream, ID: e.id, Values: []any{"seq", e.links[0]["seq"], "links", string(links)}})
			}
		}, "past that chain's head"},
		{"deleted, behind a forged anchor", func(f *fixture) {
			stream, head, headEntry, _ := read(f)
			f.redis.Client.Del(ctx, stream, head, headEntry)
			f.redis.Client.HSet(ctx, f.redis.Key("shep", "{evidence:5}", "anchor"), "seq", 1000, "hash", strings.Repeat("0", 64))
		}, "behind its anchor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := witnessed(t)
			tc.tamper(f)
			rep, err := shep.VerifyEvidence(ctx, f.redis.Client, f.redis.Prefix)
			if err != nil || rep.Intact || !strings.Contains(rep.Reason, tc.reason) {
				t.Fatalf("%+v %v, want broken: %s", rep, err, tc.reason)
			}
		})
	}
}
