package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

func TestDeadLettersCommand(t *testing.T) {
	hash, err := shep.HashPassword("secret")
	if err != nil {
		t.Fatal(err)
	}
	routing := &shep.Routing{
		Services: map[string]*shep.Service{"open-data": {Recipient: "ais-rynok-truda", Channel: "async"}},
		Systems: map[string]*shep.System{
			"egov-portal":     {PasswordHash: hash, Send: []string{"open-data"}, Poll: []string{"egov-portal"}},
			"ais-rynok-truda": {PasswordHash: hash, Poll: []string{"ais-rynok-truda"}},
		},
	}
	data, _ := json.Marshal(routing)
	routingFile := filepath.Join(t.TempDir(), "routing.json")
	if err := os.WriteFile(routingFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := shep.LoadRouting(routingFile); err != nil {
		t.Fatal(err)
	}
	r := redistest.New(t)
	bus, err := shep.New(r.Client, routing, shep.Config{KeyPrefix: r.Prefix, MaxDeliveries: 1, Visibility: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	portal := soap.SenderInfo{SenderID: "egov-portal", Password: "secret"}
	labour := soap.SenderInfo{SenderID: "ais-rynok-truda", Password: "secret"}
	ctx := context.Background()
	sent, err := bus.SendMessage(ctx, shep.NewSendMessage(portal, "open-data", soap.TypeRequest, "", "<D/>"))
	if err != nil {
		t.Fatal(err)
	}
	id := sent.Response.MessageID
	poll := func() []soap.AsyncMessage {
		resp, err := bus.GetMessages(ctx, shep.NewGetMessages(labour, "open-data", 10, 0))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Response.Messages
	}
	if got := poll(); len(got) != 1 {
		t.Fatalf("first lease: %d messages", len(got))
	}
	time.Sleep(250 * time.Millisecond) // the lease expires: with one delivery allowed it is a dead letter
	if got := poll(); len(got) != 0 {
		t.Fatalf("handed out past MaxDeliveries: %d", len(got))
	}

	out := mustRun(t, "shep", "dead-letters", "--redis", r.URL, "--prefix", r.Prefix, "--routing", routingFile)
	if !strings.Contains(out, id) || !strings.Contains(out, "reason max-deliveries") || !strings.Contains(out, "to ais-rynok-truda from egov-portal") {
		t.Fatalf("dead-letters did not list the stuck message with its reason:\n%s", out)
	}
	out = mustRun(t, "shep", "dead-letters", "--redis", r.URL, "--prefix", r.Prefix, "--routing", routingFile, "--redeliver", "all")
	if !strings.Contains(out, "handed out again") {
		t.Fatalf("--redeliver all: %s", out)
	}
	if got := poll(); len(got) != 1 || got[0].MessageInfo.MessageID != id {
		t.Fatalf("the redelivered message was not handed out: %+v", got)
	}
	if out := mustRun(t, "shep", "dead-letters", "--redis", r.URL, "--prefix", r.Prefix, "--routing", routingFile); strings.Contains(out, id) {
		t.Fatalf("a redelivered message is still listed:\n%s", out)
	}
}
