package gateway

import (
	"strings"
	"testing"
	"time"

	"egov"
)

func TestKazakhEndingsAfterNumbers(t *testing.T) {
	for _, tc := range []struct {
		in, word, ablative, locative string
	}{
		{"12.06.2026 09:00", "нөл", "-ден", "-де"},
		{"12.06.2026 09:01", "бір", "-ден", "-де"},
		{"12.06.2026 09:02", "екі", "-ден", "-де"},
		{"12.06.2026 09:03", "үш", "-тен", "-те"},
		{"12.06.2026 09:04", "төрт", "-тен", "-те"},
		{"12.06.2026 09:15", "бес", "-тен", "-те"},
		{"12.06.2026 09:16", "алты", "-дан", "-да"},
		{"12.06.2026 09:27", "жеті", "-ден", "-де"},
		{"12.06.2026 09:38", "сегіз", "-ден", "-де"},
		{"12.06.2026 09:49", "тоғыз", "-дан", "-да"},
		{"12.06.2026 09:10", "он", "-нан", "-да"},
		{"12.06.2026 09:20", "жиырма", "-дан", "-да"},
		{"12.06.2026 09:30", "отыз", "-дан", "-да"},
		{"12.06.2026 09:40", "қырық", "-тан", "-та"},
		{"12.06.2026 09:50", "елу", "-ден", "-де"},
		{"60", "алпыс", "-тан", "-та"},
		{"70", "жетпіс", "-тен", "-те"},
		{"80", "сексен", "-нен", "-де"},
		{"90", "тоқсан", "-нан", "-да"},
		{"300", "жүз", "-ден", "-де"},
		{"2000", "мың", "-нан", "-да"},
		{"100000", "мың", "-нан", "-да"},
		{"1000000", "миллион", "-нан", "-да"},
		{"5000000000", "миллиард", "-тан", "-та"},
		{"12.06.2026", "алты", "-дан", "-да"},
		{"Астана", "астана", "-дан", "-да"},
		{"мектеп", "мектеп", "-тен", "-те"},
	} {
		if got := kkLastWord(tc.in); got != tc.word {
			t.Errorf("kkLastWord(%q) = %q, want %q", tc.in, got, tc.word)
		}
		if got := kkAblative(tc.in); got != tc.in+tc.ablative {
			t.Errorf("kkAblative(%q) = %q, want %q", tc.in, got, tc.in+tc.ablative)
		}
		if got := kkLocative(tc.in); got != tc.in+tc.locative {
			t.Errorf("kkLocative(%q) = %q, want %q", tc.in, got, tc.in+tc.locative)
		}
	}
}

func TestAcceptedMessageDueInKazakh(t *testing.T) {
	due := time.Date(2026, 6, 12, 9, 15, 0, 0, egov.Almaty)
	m := acceptedMessage(&Request{ID: "r", DueAt: due}, &Service{Code: "s"})
	if want := "Нәтиже 12.06.2026 09:15-тен кешіктірмей дайын болады"; !strings.Contains(m.Text.KK, want) {
		t.Errorf("Kazakh text %q lacks %q", m.Text.KK, want)
	}
}
