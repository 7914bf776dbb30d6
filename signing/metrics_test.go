package signing_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"egov/internal/ops"
	"egov/internal/promtest"
	"egov/signing"
)

func TestVerificationsCountedByResult(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(signing.Collectors()...)
	metrics := ops.Handler(nil, reg)
	count := func(result string) float64 {
		v, _ := promtest.Scrape(t, metrics).Value("egov_signing_verifications_total", "result", result)
		return v
	}
	doc, err := os.ReadFile(filepath.Join(fixturesSigning, "valid.xml"))
	if err != nil {
		t.Fatal(err)
	}
	ok0, expired0 := count("ok"), count("certificate-expired")
	v := fixtureVerifier(t)
	if _, err := v.Verify(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
	v.Now = fixedClock(validUntil.Add(time.Second))
	if _, err := v.Verify(context.Background(), doc); err == nil {
		t.Fatal("an expired certificate verified")
	}
	if got := count("ok") - ok0; got != 1 {
		t.Errorf("ok: +%v, want +1", got)
	}
	if got := count("certificate-expired") - expired0; got != 1 {
		t.Errorf("certificate-expired: +%v, want +1", got)
	}
}
