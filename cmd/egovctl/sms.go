package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"egov/sms"
)

// smsOutbox prints the messages the SMS gateway delivered to a phone,
// newest first: how a tester at `make run` reads his one-time code. It asks
// the outbox view of `egovctl up` (--url), or reads the gateway's keys in
// Redis directly (--redis), as for the bus running as its own process.
func smsOutbox(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sms outbox", stderr)
	phone := fs.String("phone", "", "the phone, +7XXXXXXXXXX")
	view := fs.String("url", "http://127.0.0.1:8083", "the SMS gateway's outbox view (egovctl up --sms-listen)")
	redisURL, prefix := redisFlags(fs)
	asJSON := fs.Bool("json", false, "print the messages as JSON")
	dataFlag(fs)
	fromStack(fs, "url", "sms")
	check(fs, httpURL, "url")
	if err := parseFlags(fs, args, "phone"); err != nil {
		return err
	}
	p, err := sms.ParsePhone(*phone)
	if err != nil {
		return fmt.Errorf("%w: --phone: %v", errUsage, err)
	}
	var msgs []sms.Message
	if *redisURL != "" {
		rdb, err := openRedis(*redisURL)
		if err != nil {
			return err
		}
		defer rdb.Close()
		if msgs, err = sms.Outbox(ctx, rdb, *prefix, p); err != nil {
			return err
		}
	} else if msgs, err = fetchOutbox(ctx, *view, p); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(msgs)
	}
	if len(msgs) == 0 {
		fmt.Fprintf(stdout, "no messages for %s\n", p)
		return nil
	}
	for _, m := range msgs {
		fmt.Fprintf(stdout, "%s  from %s  %s\n    %s\n", m.DeliveredAt.Local().Format(time.DateTime), m.Sender, m.Status, m.Text)
	}
	return nil
}

func fetchOutbox(ctx context.Context, base string, p sms.Phone) ([]sms.Message, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+sms.OutboxPath+"?phone="+url.QueryEscape(string(p)), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: --url: %v", errUsage, err)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("the SMS gateway's outbox view: %w (is egovctl up running?)", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the SMS gateway's outbox view: %s", resp.Status)
	}
	var body struct {
		Messages []sms.Message `json:"messages"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return nil, err
	}
	return body.Messages, nil
}
