package provider

import (
	"context"
	"testing"

	"egov/internal/redistest"
)

// A worker whose decision lock ran out while it decided (a stalled
// process) stores nothing: the worker that took the lock after it does,
// and only its own lock is released.
func TestAnExpiredLockStoresNothing(t *testing.T) {
	r := redistest.New(t)
	ctx := context.Background()
	k := func(name string) string { return r.Prefix + "{791028302728}:" + name }
	keys := []string{k("request"), k("request:lock"), k("job-seeker"), k("referrals"), k("job-seeker")}
	claim := func(token string) string {
		out, err := claimScript.Run(ctx, r.Client, keys[:3], 10_000, token, "number").Slice()
		if err != nil {
			t.Fatal(err)
		}
		return out[0].(string)
	}
	store := func(record, token string) int {
		n, err := storeScript.Run(ctx, r.Client, keys, record, "registered", "JS-2026-000001", 1, "id", "", "job-seeker-registration",
			"egov-portal", "", "", token, "", "", "ТЕСТОВ ТЕСТ", "aktobe").Int()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := claim("first"); got != "claimed" {
		t.Fatalf("first claim: %s", got)
	}
	if got := claim("second"); got != "busy" {
		t.Fatalf("a claim while the lock holds: %s", got)
	}
	r.Client.Del(ctx, keys[1]) // the first worker's lock runs out
	if got := claim("second"); got != "claimed" {
		t.Fatalf("claim after the lock ran out: %s", got)
	}
	if n := store(`{"by":"first"}`, "first"); n != 0 {
		t.Fatal("the worker that lost its lock stored its decision")
	}
	if _, err := releaseScript.Run(ctx, r.Client, keys[1:2], "first").Result(); err != nil {
		t.Fatal(err)
	}
	if exists, _ := r.Client.Exists(ctx, keys[1]).Result(); exists != 1 {
		t.Fatal("the stalled worker released the lock of the worker after it")
	}
	if n := store(`{"by":"second"}`, "second"); n != 1 {
		t.Fatal("the lock's holder could not store")
	}
	if got, _ := r.Client.Get(ctx, keys[0]).Result(); got != `{"by":"second"}` {
		t.Fatalf("stored %s", got)
	}
	if got := claim("third"); got != "done" {
		t.Fatalf("a claim after the decision: %s", got)
	}

	// A request to end a registration that ended meanwhile stores nothing.
	keys[0] = k("request2")
	keys[1] = keys[0] + ":lock"
	if got := claim("fourth"); got != "claimed" {
		t.Fatalf("claim: %s", got)
	}
	n, err := storeScript.Run(ctx, r.Client, append(keys[:4:4], k("job-seeker:ended:JS-2026-000009")), `{"by":"fourth"}`, "deregistered",
		"JS-2026-000009", 1, "id2", "", "job-seeker-deregistration", "egov-portal", "at-own-request", "<notice/>", "fourth", "JS-2026-000001", "", "ТЕСТОВ ТЕСТ", "aktobe").Int()
	if err != nil || n != -1 {
		t.Fatalf("ending a registration that is not the current one: %d %v", n, err)
	}
	if exists, _ := r.Client.Exists(ctx, keys[0], keys[1]).Result(); exists != 0 {
		t.Fatal("the decision was stored, or its lock kept")
	}
	if number, _ := r.Client.HGet(ctx, k("job-seeker"), "number").Result(); number != "JS-2026-000001" {
		t.Fatalf("the current registration is now %q", number)
	}
}

// Two requests of one citizen decided at the same time both claim with no
// registration (the lock is per request): the first to store registers
// him; the second stores nothing, releases its lock and is decided again,
// when it sees the registration. Without the check both registered him.
func TestTwoRequestsOfOneCitizenRegisterHimOnce(t *testing.T) {
	r := redistest.New(t)
	ctx := context.Background()
	k := func(name string) string { return r.Prefix + "{791028302728}:" + name }
	keysOf := func(request string) []string {
		return []string{k(request), k(request + ":lock"), k("job-seeker"), k("referrals"), k("job-seeker")}
	}
	a, b := keysOf("request-a"), keysOf("request-b")
	for _, keys := range [][]string{a, b} {
		out, err := claimScript.Run(ctx, r.Client, keys[:3], 10_000, "token", "number").Slice()
		if err != nil || out[0] != "claimed" || out[1] != nil {
			t.Fatalf("claim %s: %v %v, want claimed with no registration", keys[0], out, err)
		}
	}
	store := func(keys []string, number string) int {
		n, err := storeScript.Run(ctx, r.Client, keys, `{"request":"`+keys[0]+`"}`, "registered", number, 1, "id", "", "job-seeker-registration",
			"egov-portal", "", "", "token", "", "", "ТЕСТОВ ТЕСТ", "aktobe").Int()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := store(a, "JS-2026-000001"); n != 1 {
		t.Fatalf("the first request's registration: %d", n)
	}
	if n := store(b, "JS-2026-000002"); n != -2 {
		t.Fatalf("the second request, decided on no registration, stored %d, want -2", n)
	}
	if number, _ := r.Client.HGet(ctx, k("job-seeker"), "number").Result(); number != "JS-2026-000001" {
		t.Fatalf("the registration is %q, want the first one's", number)
	}
	if exists, _ := r.Client.Exists(ctx, b[0], b[1]).Result(); exists != 0 {
		t.Fatal("the second decision was stored, or its lock kept")
	}
}
