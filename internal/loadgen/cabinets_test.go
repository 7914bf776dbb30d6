package loadgen

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// cabinetServer serves one citizen's cabinet the way the portal pages it:
// newest first, a hundred at a time, the cursor the position of the last
// message given.
type cabinetServer struct {
	mu       sync.Mutex
	messages []map[string]any // oldest first
	pages    int
	failNext int // pages to answer 503
	// beforePage, if set, runs before page n (from 1) is served.
	beforePage func(n int)
}

func (s *cabinetServer) file(kind, requestID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.insert(len(s.messages), kind, requestID)
}

// insert files a message at position i of the order, as one filed
// late with an earlier sequence number would land.
func (s *cabinetServer) insert(i int, kind, requestID string) {
	m := map[string]any{"id": kind + "-" + requestID, "kind": kind, "requestId": requestID, "at": time.Unix(1e9, 0).UTC()}
	s.messages = append(s.messages[:i], append([]map[string]any{m}, s.messages[i:]...)...)
}

func (s *cabinetServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pages++
	if s.beforePage != nil {
		s.beforePage(s.pages)
	}
	if r.Header.Get("Authorization") != "Bearer token" {
		http.Error(w, "not yours", http.StatusUnauthorized)
		return
	}
	if s.failNext > 0 {
		s.failNext--
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	end := len(s.messages)
	if c := r.URL.Query().Get("cursor"); c != "" {
		end, _ = strconv.Atoi(c)
	}
	page := map[string]any{}
	var out []map[string]any
	for i := end - 1; i >= 0 && len(out) < 100; i-- {
		out = append(out, s.messages[i])
		if len(out) == 100 && i > 0 {
			page["next"] = strconv.Itoa(i)
		}
	}
	page["messages"] = out
	_ = json.NewEncoder(w).Encode(page)
}

func TestCollectResultsReadsOnlyWhatIsNewWhileWaiting(t *testing.T) {
	srv := &cabinetServer{}
	for i := range 450 {
		id := "r" + strconv.Itoa(i)
		srv.file("accepted", id)
		srv.file("result", id)
	}
	srv.file("accepted", "late")
	ts := httptest.NewServer(srv)
	defer ts.Close()
	people := []*Citizen{{Token: "token"}}

	// The awaited result is filed while the reader waits (after its first
	// look, ten pages, and one more look); a refusal is filed out of its
	// place in the order.
	srv.beforePage = func(n int) {
		if n == 12 {
			srv.insert(5, "refusal", "misplaced")
			srv.insert(len(srv.messages), "result", "late")
		}
	}
	results, err := CollectResults(context.Background(), ts.Client(), ts.URL, people, []string{"r0", "late"}, 30*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range results {
		got[r.RequestID] = r.Kind
		if r.RequestID == "late" && r.AcceptedAt.IsZero() {
			t.Error("the late result has no time of acceptance")
		}
	}
	if len(results) != 452 || got["late"] != "result" || got["misplaced"] != "refusal" {
		t.Fatalf("%d results (late: %q, misplaced: %q), want 452 with both", len(results), got["late"], got["misplaced"])
	}
	// 10 pages of the first look, one of the second (nothing new), two of
	// the third (the late result, then a page seen whole), 10 of the last
	// read: a reader that read everything on every pass asks for 40.
	if srv.pages != 10+1+2+10 {
		t.Errorf("%d pages read", srv.pages)
	}
}

func TestCollectResultsRetriesTheLastRead(t *testing.T) {
	srv := &cabinetServer{}
	srv.file("accepted", "a")
	srv.file("result", "a")
	ts := httptest.NewServer(srv)
	defer ts.Close()
	people := []*Citizen{{Token: "token"}}

	srv.failNext = 2 // nothing is awaited: the first two tries of the last read
	results, err := CollectResults(context.Background(), ts.Client(), ts.URL, people, nil, 0, nil)
	if err != nil || len(results) != 1 {
		t.Fatalf("%v, %v: want the one result after a retry", results, err)
	}

	srv.failNext = 10
	if _, err := CollectResults(context.Background(), ts.Client(), ts.URL, people, nil, 0, nil); err == nil {
		t.Fatal("a cabinet that cannot be read: no error")
	}
}

// A cabinet the portal refuses to show ends the wait at once: waiting
// would not change it.
func TestCollectResultsStopsOnARefusal(t *testing.T) {
	ts := httptest.NewServer(&cabinetServer{})
	defer ts.Close()
	start := time.Now()
	_, err := CollectResults(context.Background(), ts.Client(), ts.URL, []*Citizen{{Token: "not his"}}, []string{"r"}, time.Minute, nil)
	if err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("%v after %s: want the refusal at once", err, time.Since(start))
	}
}

// The wait is for progress: results that keep coming are waited for
// longer than the stall, one that never comes ends the wait a stall after
// the last result.
func TestCollectResultsWaitsWhileResultsKeepComing(t *testing.T) {
	srv := &cabinetServer{}
	want := []string{"a", "b", "c", "never"}
	for _, id := range want {
		srv.file("accepted", id)
	}
	// One result at each of the first looks, about a second apart.
	srv.beforePage = func(n int) {
		if n <= 3 {
			srv.insert(len(srv.messages), "result", want[n-1])
		}
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	var heard []int
	start := time.Now()
	results, err := CollectResults(context.Background(), ts.Client(), ts.URL, []*Citizen{{Token: "token"}}, want,
		1500*time.Millisecond, func(pending int) { heard = append(heard, pending) })
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 3 {
		t.Fatalf("%d results, want a, b and c", len(results))
	}
	if len(heard) < 4 || heard[0] != 3 || heard[2] != 1 || heard[len(heard)-1] != 1 {
		t.Errorf("progress heard %v, want 3, 2, 1 and then 1 until the stall", heard)
	}
	if took := time.Since(start); took < 3*time.Second {
		t.Errorf("gave up after %s, before the last result's stall had passed", took)
	}
}
