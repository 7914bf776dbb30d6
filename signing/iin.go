package signing

import (
	"fmt"
	"time"

	"egov"
)

// Sex of a person as encoded in the seventh digit of an IIN.
type Sex string

const (
	Male   Sex = "male"
	Female Sex = "female"
)

// IIN is a validated individual identification number (ИИН/ЖСН).
type IIN struct {
	number    string
	BirthDate time.Time // midnight UTC of the encoded birth date; zero when not encoded
	Sex       Sex       // "" when not encoded
	Century   int       // first two digits of the birth year (19 for 1979); 0 when not encoded
}

// ParseIIN validates s as an IIN: 12 digits with a correct check digit. The
// birth date and sex are read from it when the seventh digit encodes them
// (1..6); other values are kept as valid numbers without a birth date,
// because the check digit, not the date, is authoritative.
func ParseIIN(s string) (IIN, error) {
	if err := checkDigits(s); err != nil {
		return IIN{}, egov.Errorf(egov.CodeIINInvalid, "iin: %v", err)
	}
	iin := IIN{number: s}
	c := s[6] - '0'
	if c >= 1 && c <= 6 {
		iin.Century = 18 + int(c-1)/2
		iin.Sex = Male
		if c%2 == 0 {
			iin.Sex = Female
		}
		year := iin.Century*100 + atoi2(s[0:2])
		month, day := atoi2(s[2:4]), atoi2(s[4:6])
		d := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
		if d.Year() != year || int(d.Month()) != month || d.Day() != day {
			return IIN{}, egov.Errorf(egov.CodeIINInvalid, "iin: no such birth date")
		}
		iin.BirthDate = d
	}
	return iin, nil
}

// String returns the 12 digits.
func (i IIN) String() string { return i.number }

// AgeAt returns the full years of age at t in the Asia/Almaty calendar day
// of t, or -1 when the IIN encodes no birth date.
func (i IIN) AgeAt(t time.Time) int {
	if i.BirthDate.IsZero() {
		return -1
	}
	ty, tm, td := t.In(egov.Almaty).Date()
	age := ty - i.BirthDate.Year()
	if tm < i.BirthDate.Month() || (tm == i.BirthDate.Month() && td < i.BirthDate.Day()) {
		age--
	}
	return age
}

// EntityType is the kind of organisation encoded in the fifth digit of a BIN.
type EntityType string

const (
	ResidentLegalEntity    EntityType = "resident-legal-entity"
	NonResidentLegalEntity EntityType = "non-resident-legal-entity"
	IndividualEntrepreneur EntityType = "individual-entrepreneur"
)

// BIN is a validated business identification number (БИН/БСН).
type BIN struct {
	number            string
	RegistrationYear  int
	RegistrationMonth time.Month
	Type              EntityType
	Division          string // head-office, branch, representative-office, peasant-farm
}

// ParseBIN validates s as a BIN: 12 digits, a real registration month, a
// known entity type and a correct check digit.
func ParseBIN(s string) (BIN, error) {
	if err := checkDigits(s); err != nil {
		return BIN{}, egov.Errorf(egov.CodeBINInvalid, "bin: %v", err)
	}
	month := atoi2(s[2:4])
	if month < 1 || month > 12 {
		return BIN{}, egov.Errorf(egov.CodeBINInvalid, "bin: registration month %02d", month)
	}
	b := BIN{number: s, RegistrationMonth: time.Month(month)}
	// Two digits of year: entities registered since Kazakhstan's independence
	// (1991) were re-numbered with their original registration date, so
	// 80..99 reads as the 1900s and the rest as the 2000s.
	b.RegistrationYear = 2000 + atoi2(s[0:2])
	if b.RegistrationYear >= 2080 {
		b.RegistrationYear -= 100
	}
	switch s[4] {
	case '4':
		b.Type = ResidentLegalEntity
	case '5':
		b.Type = NonResidentLegalEntity
	case '6':
		b.Type = IndividualEntrepreneur
	default:
		return BIN{}, egov.Errorf(egov.CodeBINInvalid, "bin: unknown entity type %q", s[4])
	}
	switch s[5] {
	case '0':
		b.Division = "head-office"
	case '1':
		b.Division = "branch"
	case '2':
		b.Division = "representative-office"
	case '3':
		b.Division = "peasant-farm"
	default:
		return BIN{}, egov.Errorf(egov.CodeBINInvalid, "bin: unknown division %q", s[5])
	}
	return b, nil
}

// String returns the 12 digits.
func (b BIN) String() string { return b.number }

var (
	firstWeights  = [11]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	secondWeights = [11]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2}
)

// checkDigits validates the format and the official two-pass check digit
// shared by IIN and BIN.
func checkDigits(s string) error {
	if len(s) != 12 {
		return fmt.Errorf("must be 12 digits, got %d characters", len(s))
	}
	var d [12]int
	for i := 0; i < 12; i++ {
		if s[i] < '0' || s[i] > '9' {
			return fmt.Errorf("must be 12 digits")
		}
		d[i] = int(s[i] - '0')
	}
	k := weighted(d, firstWeights) % 11
	if k == 10 {
		k = weighted(d, secondWeights) % 11
		if k == 10 {
			return fmt.Errorf("never issued: no check digit exists")
		}
	}
	if k != d[11] {
		return fmt.Errorf("check digit mismatch")
	}
	return nil
}

func weighted(d [12]int, w [11]int) int {
	sum := 0
	for i := range w {
		sum += d[i] * w[i]
	}
	return sum
}

func atoi2(s string) int { return int(s[0]-'0')*10 + int(s[1]-'0') }

// MaskIIN hides the middle of an IIN or BIN for logs: 7910******28.
func MaskIIN(s string) string {
	if len(s) != 12 {
		return "************"
	}
	return s[:4] + "******" + s[10:]
}
