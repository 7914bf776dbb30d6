package signing_test

import (
	"testing"
	"time"

	"egov"
	"egov/signing"
)

func TestParseIIN(t *testing.T) {
	tests := []struct {
		in      string
		valid   bool
		birth   string
		sex     signing.Sex
		century int
	}{
		{"791028302728", true, "1979-10-28", signing.Male, 19},
		{"900101300811", true, "1990-01-01", signing.Male, 19}, // second weight set
		{"800515400122", true, "1980-05-15", signing.Female, 19},
		{"050815600217", true, "2005-08-15", signing.Female, 20},
		{"100203500443", true, "2010-02-03", signing.Male, 20},
		{"123456789011", false, "", "", 0}, // the NCA test certificates' IIN
		{"780322300455", false, "", "", 0}, // check digit wrong
		{"900101300800", false, "", "", 0}, // both passes give 10: never issued
		{"79102830272", false, "", "", 0},
		{"7910283027281", false, "", "", 0},
		{"79102830272a", false, "", "", 0},
		{"", false, "", "", 0},
		{"791328302720", false, "", "", 0}, // month 13
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			iin, err := signing.ParseIIN(tt.in)
			if !tt.valid {
				if egov.ErrorCode(err) != egov.CodeIINInvalid {
					t.Fatalf("got %v, want iin-invalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := iin.BirthDate.Format(time.DateOnly); got != tt.birth {
				t.Errorf("birth date %s, want %s", got, tt.birth)
			}
			if iin.Sex != tt.sex || iin.Century != tt.century || iin.String() != tt.in {
				t.Errorf("got %+v", iin)
			}
		})
	}
}

func TestIINAgeAt(t *testing.T) {
	iin, err := signing.ParseIIN("100203500443") // born 2010-02-03
	if err != nil {
		t.Fatal(err)
	}
	// 2026-02-02 19:30 UTC is already 2026-02-03 00:30 in Almaty: the birthday.
	if got := iin.AgeAt(time.Date(2026, 2, 2, 18, 0, 0, 0, time.UTC)); got != 15 {
		t.Errorf("age the day before = %d, want 15", got)
	}
	if got := iin.AgeAt(time.Date(2026, 2, 2, 19, 30, 0, 0, time.UTC)); got != 16 {
		t.Errorf("age on the birthday in Almaty = %d, want 16", got)
	}
}

func TestParseBIN(t *testing.T) {
	b, err := signing.ParseBIN("940140000385")
	if err != nil {
		t.Fatal(err)
	}
	if b.RegistrationYear != 1994 || b.RegistrationMonth != time.January || b.Type != signing.ResidentLegalEntity || b.Division != "head-office" {
		t.Errorf("got %+v", b)
	}
	if b, err := signing.ParseBIN("990140004654"); err != nil || b.RegistrationYear != 1999 {
		t.Errorf("990140004654: %+v %v", b, err)
	}
	for _, bad := range []string{"123456789021", "941340000385", "940190000385", "94014000038"} {
		if _, err := signing.ParseBIN(bad); egov.ErrorCode(err) != egov.CodeBINInvalid {
			t.Errorf("%s: got %v, want bin-invalid", bad, err)
		}
	}
}

func TestMaskIIN(t *testing.T) {
	if got := signing.MaskIIN("791028302728"); got != "7910******28" {
		t.Errorf("got %s", got)
	}
	if got := signing.MaskIIN("short"); got != "************" {
		t.Errorf("got %s", got)
	}
}
