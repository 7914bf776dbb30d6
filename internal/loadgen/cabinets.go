package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/sync/errgroup"
)

// Result is a result or refusal found in a cabinet, with the server's
// times of acceptance and of filing.
type Result struct {
	RequestID           string
	Kind                string // result or refusal
	AcceptedAt, FiledAt time.Time
}

// cabinetsAtOnce bounds the cabinets read side by side: enough to keep
// the portal busy on two cores, few enough not to crowd out the work the
// reader is waiting for.
const cabinetsAtOnce = 8

// CollectResults waits until each of the requests in want has a result or
// a refusal in its citizen's cabinet, or until stall passes without a new
// one, and returns
// every result and refusal the cabinets hold (a cabinet may hold results of
// earlier runs too: only the ids in want are waited for). Times come from
// the server: acceptance (the "accepted" message) and filing of the result.
//
// While it waits it reads only what each cabinet gained since its last
// look, so that a long wait over large cabinets costs the portal little;
// the answer comes from one whole read at the end, which also counts a
// message filed out of its place in the order.
//
// The wait is for progress, not for a fixed time: a slow machine still
// working through a backlog is waited for, a stack that stopped answering
// is not. progress, when not nil, hears how many are still pending after
// each look.
func CollectResults(ctx context.Context, client *http.Client, base string, people []*Citizen, want []string, stall time.Duration, progress func(pending int)) ([]Result, error) {
	deadline := time.Now().Add(stall)
	pending := make(map[string]bool, len(want))
	for _, id := range want {
		pending[id] = true
	}
	readers := newCabinetReaders(client, base, people)
	for len(pending) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		// A failed look is tried again on the next pass, but a refusal
		// (a session the portal no longer knows) will not pass.
		if err := eachCabinet(readers, func(r *cabinetReader) error { return r.read(ctx, true) }); errors.As(err, new(*refusedError)) {
			return nil, err
		}
		before := len(pending)
		for _, r := range readers {
			for _, res := range r.results[r.counted:] {
				delete(pending, res.RequestID)
			}
			r.counted = len(r.results)
		}
		if len(pending) < before {
			deadline = time.Now().Add(stall)
		}
		if progress != nil {
			progress(len(pending))
		}
		if len(pending) > 0 {
			pause(ctx, time.Second)
		}
	}

	readers = newCabinetReaders(client, base, people)
	var err error
	for try := 0; try < 3 && ctx.Err() == nil; try++ {
		if try > 0 {
			pause(ctx, time.Second)
		}
		if err = eachCabinet(readers, func(r *cabinetReader) error { return r.read(ctx, false) }); err == nil {
			break
		}
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	var all []Result
	for _, r := range readers {
		for _, res := range r.results {
			res.AcceptedAt = r.accepted[res.RequestID]
			all = append(all, res)
		}
	}
	return all, nil
}

// cabinetReader remembers what it has read of one citizen's cabinet.
type cabinetReader struct {
	client   *http.Client
	base     string
	citizen  *Citizen
	seen     map[string]bool // message ids
	accepted map[string]time.Time
	results  []Result
	counted  int  // results already taken off the pending set
	whole    bool // a read has reached the oldest message
}

func newCabinetReaders(client *http.Client, base string, people []*Citizen) []*cabinetReader {
	readers := make([]*cabinetReader, len(people))
	for i, c := range people {
		readers[i] = &cabinetReader{client: client, base: base, citizen: c, seen: map[string]bool{}, accepted: map[string]time.Time{}}
	}
	return readers
}

// eachCabinet runs read on every reader, cabinetsAtOnce at a time, and
// returns the first error.
func eachCabinet(readers []*cabinetReader, read func(*cabinetReader) error) error {
	var g errgroup.Group
	g.SetLimit(cabinetsAtOnce)
	for _, r := range readers {
		g.Go(func() error { return read(r) })
	}
	return g.Wait()
}

// read reads the cabinet from its newest message: all of it, or, when
// onlyNew and an earlier read went all the way, until a page with nothing
// it has not seen. Cabinets are newest first, so what lies beyond such a
// page was read before.
func (r *cabinetReader) read(ctx context.Context, onlyNew bool) error {
	onlyNew = onlyNew && r.whole
	cursor := ""
	for {
		page, err := r.page(ctx, cursor)
		if err != nil {
			// Pages before this one were read: the next look must go past
			// them, to what this one did not reach.
			r.whole = false
			return err
		}
		fresh := 0
		for _, m := range page.Messages {
			if r.seen[m.ID] {
				continue
			}
			r.seen[m.ID] = true
			fresh++
			switch m.Kind {
			case "accepted":
				r.accepted[m.RequestID] = m.At
			case "result", "refusal":
				r.results = append(r.results, Result{RequestID: m.RequestID, Kind: m.Kind, FiledAt: m.At})
			}
		}
		if page.Next == "" {
			r.whole = true
			return nil
		}
		if onlyNew && fresh == 0 {
			return nil
		}
		cursor = page.Next
	}
}

type cabinetPage struct {
	Messages []struct {
		ID, Kind, RequestID string
		At                  time.Time
	}
	Next string
}

// page reads the hundred messages older than cursor ("" for the newest).
func (r *cabinetReader) page(ctx context.Context, cursor string) (*cabinetPage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+"/api/v1/cabinet/messages?limit=100&cursor="+url.QueryEscape(cursor), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+r.citizen.Token)
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
			return nil, &refusedError{status: resp.Status}
		}
		return nil, fmt.Errorf("loadgen: reading a cabinet: %s", resp.Status)
	}
	var page cabinetPage
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return nil, fmt.Errorf("loadgen: reading a cabinet: %w", err)
	}
	return &page, nil
}

// refusedError is a cabinet the portal refuses to show (4xx but 429):
// waiting will not change it.
type refusedError struct{ status string }

func (e *refusedError) Error() string { return "loadgen: reading a cabinet: refused: " + e.status }

// pause waits d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
