package counter_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"egov"
	"egov/counter"
	"egov/internal/redistest"
	"egov/registers"
	"egov/shep"
	"egov/shep/soap"
)

// The IINs of the registers' test data sets (fixtures/gbdfl, fixtures/enis).
const (
	father    = "900101300811" // principal of every ЕНИС test power but one
	daughter  = "791028302728" // father's attorney for every service; principal of a job-services power
	neighbour = "800515400122" // daughter's attorney for job services; holds a revoked power of father's
	student   = "050815600217" // holds father's expired power
	nobody    = "950302500359" // a valid IIN the persons register does not know
)

// The day of the intake: inside every valid test power, after the revocation.
var today = time.Date(2026, 12, 3, 10, 0, 0, 0, egov.Almaty)

// counterOnBus starts a bus with the routing table and registers of make
// run and returns the intake's check as the State Corporation's system.
func counterOnBus(t *testing.T) *counter.Registers {
	t.Helper()
	r := redistest.New(t)
	routing, err := shep.LoadRoutingOrBuiltIn("")
	if err != nil {
		t.Fatal(err)
	}
	bus, err := shep.New(r.Client, routing, shep.Config{KeyPrefix: r.Prefix, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.Close() })
	if err := registers.Host(bus, registers.Files{}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(bus.Handler())
	t.Cleanup(srv.Close)
	return &counter.Registers{Bus: &shep.HTTPClient{BaseURL: srv.URL},
		Sender: soap.SenderInfo{SenderID: "gk-counter", Password: "counter-secret"},
		Now:    func() time.Time { return today }}
}

func TestIntakeAsksTheRegisters(t *testing.T) {
	regs := counterOnBus(t)
	rep := func(iin, number string) *counter.Representative {
		return &counter.Representative{IIN: iin, PowerOfAttorney: number}
	}
	tests := []struct {
		name     string
		flow     counter.Flow
		in       counter.Intake
		code     egov.Code        // "" when the intake goes on
		register counter.Register // the register that has no data
		reason   string           // a word of the operator's message
	}{
		{"applicant in person", counter.FlowGA, counter.Intake{Service: "unemployed-registration", Applicant: father}, "", "", ""},
		{"applicant unknown to the persons register", counter.FlowGA, counter.Intake{Service: "unemployed-registration", Applicant: nobody},
			egov.CodeDataUnobtainable, counter.RegisterPersons, "no record"},
		{"representative with a power for every service", counter.FlowGA,
			counter.Intake{Service: "unemployed-registration", Applicant: father, Representative: rep(daughter, "ENIS-2026-KRG-0001873")}, "", "", ""},
		{"power limited to the service asked", counter.FlowGA,
			counter.Intake{Service: "job-seeker-registration", Applicant: daughter, Representative: rep(neighbour, "ENIS-2026-ALM-0040217")}, "", "", ""},
		{"power limited to other services", counter.FlowGA,
			counter.Intake{Service: "unemployed-registration", Applicant: daughter, Representative: rep(neighbour, "ENIS-2026-ALM-0040217")},
			egov.CodeDataUnobtainable, counter.RegisterPowers, "does not cover"},
		{"power given to another person", counter.FlowGA,
			counter.Intake{Service: "unemployed-registration", Applicant: father, Representative: rep(student, "ENIS-2026-KRG-0001873")},
			egov.CodeDataUnobtainable, counter.RegisterPowers, "another person"},
		{"expired power", counter.FlowGA,
			counter.Intake{Service: "unemployed-registration", Applicant: father, Representative: rep(student, "ENIS-2024-KRG-0000542")},
			egov.CodeDataUnobtainable, counter.RegisterPowers, "expired"},
		{"revoked power", counter.FlowGA,
			counter.Intake{Service: "unemployed-registration", Applicant: father, Representative: rep(neighbour, "ENIS-2026-KRG-0001510")},
			egov.CodeDataUnobtainable, counter.RegisterPowers, "revoked"},
		{"power not in the register", counter.FlowGA,
			counter.Intake{Service: "unemployed-registration", Applicant: father, Representative: rep(daughter, "ENIS-2026-KRG-9999999")},
			egov.CodeDataUnobtainable, counter.RegisterPowers, "not in the register"},
		{"another principal's power", counter.FlowGA,
			counter.Intake{Service: "unemployed-registration", Applicant: student, Representative: rep(daughter, "ENIS-2026-KRG-0001873")},
			egov.CodeDataUnobtainable, counter.RegisterPowers, "not in the register"},
		{"G-B asks only the persons register", counter.FlowGB,
			counter.Intake{Service: "unemployed-registration", Applicant: father, Representative: rep(neighbour, "ENIS-2026-KRG-0001510")}, "", "", ""},
		{"G-B: applicant unknown", counter.FlowGB, counter.Intake{Service: "unemployed-registration", Applicant: nobody},
			egov.CodeDataUnobtainable, counter.RegisterPersons, "no record"},
		{"applicant's IIN malformed", counter.FlowGA, counter.Intake{Service: "unemployed-registration", Applicant: "900101300812"},
			egov.CodeIINInvalid, "", ""},
		{"representative's IIN malformed", counter.FlowGA,
			counter.Intake{Service: "unemployed-registration", Applicant: father, Representative: rep("79102830272", "ENIS-2026-KRG-0001873")},
			egov.CodeIINInvalid, "", ""},
		{"applicant as his own representative", counter.FlowGA,
			counter.Intake{Service: "unemployed-registration", Applicant: father, Representative: rep(father, "ENIS-2026-KRG-0001873")},
			egov.CodeFormInvalid, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := regs.Check(context.Background(), tt.flow, tt.in)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if got.Applicant == nil || got.Applicant.IIN != tt.in.Applicant {
					t.Errorf("applicant = %+v", got.Applicant)
				}
				asked := tt.in.Representative != nil && tt.flow.CheckPowers
				if (got.Power != nil) != asked {
					t.Errorf("power = %+v, asked of ЕНИС: %v", got.Power, asked)
				}
				return
			}
			if egov.ErrorCode(err) != tt.code {
				t.Fatalf("err = %v, want %s", err, tt.code)
			}
			if tt.register == "" {
				return
			}
			var u *counter.Unobtainable
			if !errors.As(err, &u) || u.Register != tt.register || !strings.Contains(u.Reason, tt.reason) {
				t.Errorf("cause = %+v, want %s: …%s…", u, tt.register, tt.reason)
			}
			if strings.Contains(err.Error(), tt.in.Applicant) {
				t.Errorf("the message carries the applicant's whole IIN: %v", err)
			}
		})
	}
}

// A register that cannot be reached, or a bus that refuses the counter, is
// not "no data": the operator is told to try again, not that the citizen
// does not exist.
func TestIntakeWithoutTheRegistersIsUnavailable(t *testing.T) {
	regs := counterOnBus(t)
	wrong := *regs
	wrong.Sender.Password = "not-the-password"
	closed := httptest.NewServer(nil)
	closed.Close()
	gone := *regs
	gone.Bus = &shep.HTTPClient{BaseURL: closed.URL}
	in := counter.Intake{Service: "unemployed-registration", Applicant: father}
	for name, r := range map[string]*counter.Registers{"refused by the bus": &wrong, "bus unreachable": &gone} {
		_, err := r.Check(context.Background(), counter.FlowGA, in)
		var u *counter.Unobtainable
		if egov.ErrorCode(err) != egov.CodeUnavailable || errors.As(err, &u) {
			t.Errorf("%s: %v, want service-unavailable", name, err)
		}
	}
}
