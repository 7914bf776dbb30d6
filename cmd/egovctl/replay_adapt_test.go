package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"egov/internal/redistest"
)

// upFresh runs `egovctl up` in process as `make run` does: its data
// directory empty, so that it creates a test PKI of its own (which trusts
// none of the corpus's certificates) and the demo citizens. It returns
// the portal and bus base URLs and the data directory.
func upFresh(t *testing.T) (portal, bus, data string) {
	t.Helper()
	r := redistest.New(t)
	data = t.TempDir()
	p, b := freeAddr(t), freeAddr(t)
	args := []string{"up", "--data", data, "--listen", p, "--bus-listen", b, "--ocsp-listen", freeAddr(t), "--sms-listen", freeAddr(t), "--metrics-listen", freeAddr(t), "--counter-listen", freeAddr(t), "--centre-listen", freeAddr(t),
		"--redis", r.URL, "--key-prefix", r.Prefix,
		"--routing", "../../fixtures/shep/routing.json", "--persons", "../../fixtures/gbdfl/persons.json"}
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan int)
	go func() { done <- run(ctx, args, &out, &out) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("up exited %d:\n%s", code, out.String())
		}
	})
	waitUp(t, p, &out)
	waitUp(t, b, &out)
	return "http://" + p, "http://" + b, data
}

// TestCuratedCorpusAdaptedToAFreshStackAfterTheDemo is the README's
// replay against `make run`: a stack with a test PKI of its own, on which
// the demo journey already ran (its citizen is registered). Adapted with
// --data, the curated corpus must replay with no difference, and the
// report must say what was adapted.
func TestCuratedCorpusAdaptedToAFreshStackAfterTheDemo(t *testing.T) {
	portal, bus, data := upFresh(t)
	var demoOut bytes.Buffer
	if code := run(context.Background(), []string{"demo", "--gateway", portal, "--data", data, "--timeout", "30s"}, &demoOut, &demoOut); code != 0 {
		t.Fatalf("demo: exit %d\n%s", code, demoOut.String())
	}
	junitPath := filepath.Join(t.TempDir(), "replay.xml")
	var out bytes.Buffer
	code := run(context.Background(), []string{"replay", envelopes, "--target", portal, "--bus", bus, "--data", data, "--junit", junitPath, "--concurrency", "4"}, &out, &out)
	if code != 0 {
		t.Fatalf("adapted replay differs (exit %d):\n%s", code, out.String())
	}
	t.Logf("%s", out.String())
	text := out.String()
	if !regexp.MustCompile(`0 different`).MatchString(text) || !strings.Contains(text, "keys issued by") || !regexp.MustCompile(`identities: [1-9]\d* mapped`).MatchString(text) {
		t.Fatalf("the report does not say what was adapted:\n%s", text)
	}
	raw, err := os.ReadFile(junitPath)
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Suites []struct {
			Failures   int `xml:"failures,attr"`
			Properties []struct {
				Name string `xml:"name,attr"`
			} `xml:"properties>property"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(raw, &suites); err != nil || len(suites.Suites) != 1 || suites.Suites[0].Failures != 0 || len(suites.Suites[0].Properties) < 3 {
		t.Fatalf("junit report (%v):\n%s", err, raw)
	}
}
