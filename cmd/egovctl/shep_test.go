package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"egov/internal/redistest"
	"egov/shep"
	"egov/shep/soap"
)

func TestEvidenceCommands(t *testing.T) {
	out := mustRun(t, "shep", "hash-password", "--password", "portal-secret")
	hash := strings.TrimSpace(out)
	routing := &shep.Routing{
		Services: map[string]*shep.Service{"open-data": {Recipient: "ais-rynok-truda", Channel: "async"}},
		Systems:  map[string]*shep.System{"egov-portal": {PasswordHash: hash, Send: []string{"open-data"}, Poll: []string{"egov-portal"}}},
	}
	r := redistest.New(t)
	bus, err := shep.New(r.Client, routing, shep.Config{KeyPrefix: r.Prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	sender := soap.SenderInfo{SenderID: "egov-portal", Password: "portal-secret"}
	for i := 0; i < 3; i++ {
		if _, err := bus.SendMessage(context.Background(), shep.NewSendMessage(sender, "open-data", soap.TypeRequest, "", "<D/>")); err != nil {
			t.Fatalf("hash from hash-password not accepted: %v", err)
		}
	}

	var rep shep.EvidenceReport
	if err := json.Unmarshal([]byte(mustRun(t, "evidence", "verify", "--redis", r.URL, "--prefix", r.Prefix)), &rep); err != nil || !rep.Intact || rep.Records != 3 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	file := filepath.Join(t.TempDir(), "evidence.jsonl")
	mustRun(t, "evidence", "export", "--redis", r.URL, "--prefix", r.Prefix, "--out", file)
	data, err := os.ReadFile(file)
	if err != nil || strings.Count(string(data), "\n") != 3 || !strings.Contains(string(data), `"envelopeSHA256"`) {
		t.Fatalf("export: %s %v", data, err)
	}

	// Delete the middle entry: verify names the broken link and exits 1.
	msgs, _ := r.Client.XRange(context.Background(), r.Prefix+"shep:{evidence}:log", "-", "+").Result()
	r.Client.XDel(context.Background(), r.Prefix+"shep:{evidence}:log", msgs[1].ID)
	code, out, _ := egovctl(t, "evidence", "verify", "--redis", r.URL, "--prefix", r.Prefix)
	if code != 1 || !strings.Contains(out, `"brokenAt": 2`) {
		t.Fatalf("tampered chain: exit %d\n%s", code, out)
	}
	if code, _, _ := egovctl(t, "evidence", "verify", "--redis", ""); code != 2 {
		t.Fatalf("no redis: exit %d, want 2", code)
	}
}
