package gateway

import (
	"strings"
	"unicode/utf8"
)

// Kazakh writes a case ending after a number with a hyphen and chooses it
// by how the number is read aloud: "09:15-тен" (он бес), "09:30-дан"
// (отыз), "09:10-нан" (он), "09:00-ден" (нөл нөл). The ending follows the
// vowel harmony of the number's last word and the sound that word ends in.

var (
	kkUnits = [10]string{"нөл", "бір", "екі", "үш", "төрт", "бес", "алты", "жеті", "сегіз", "тоғыз"}
	kkTens  = [10]string{"", "он", "жиырма", "отыз", "қырық", "елу", "алпыс", "жетпіс", "сексен", "тоқсан"}
	// kkGroups names the powers of a thousand, from 10³ up.
	kkGroups = []string{"мың", "миллион", "миллиард", "триллион", "квадриллион", "квинтиллион"}
)

// kkLastWord is the word whose sound decides the ending after s. When s
// ends in digits it is the last word of that number read aloud: "09:15"
// ends in он бес (бес), "09:05" in нөл бес (бес), "09:00" in нөл нөл
// (нөл), "09:40" in қырық, "300" in үш жүз (жүз), "2000" in екі мың
// (мың). Otherwise it is s's own last word.
func kkLastWord(s string) string {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	if digits := s[i:]; digits != "" {
		zeros := len(digits) - len(strings.TrimRight(digits, "0"))
		if zeros == len(digits) {
			return kkUnits[0]
		}
		d := digits[len(digits)-1-zeros] - '0'
		switch {
		case zeros == 0:
			return kkUnits[d]
		case zeros == 1:
			return kkTens[d]
		case zeros == 2:
			return "жүз"
		case zeros/3-1 < len(kkGroups):
			return kkGroups[zeros/3-1]
		}
		return kkGroups[len(kkGroups)-1]
	}
	if j := strings.LastIndexAny(s, " \t\n-"); j >= 0 {
		s = s[j+1:]
	}
	return strings.ToLower(s)
}

// kkFront reports whether word takes the front (soft) endings: its last
// vowel that is not neutral (и, у, ю are neutral) is a front one.
func kkFront(word string) bool {
	for word != "" {
		r, size := utf8.DecodeLastRuneInString(word)
		word = word[:len(word)-size]
		switch {
		case strings.ContainsRune("аоұыя", r):
			return false
		case strings.ContainsRune("әеөүіэё", r):
			return true
		}
	}
	return false
}

// The sound a word ends in, as the case endings see it.
const (
	kkVoiced    = iota // a vowel or р, л, й, у, з, ж
	kkNasal            // м, н, ң
	kkVoiceless        // any other consonant (б, в, г, д sound voiceless at the end)
)

func kkFinal(word string) int {
	r, _ := utf8.DecodeLastRuneInString(word)
	switch {
	case strings.ContainsRune("аәеёиоөуұүыіэюярлйзж", r):
		return kkVoiced
	case strings.ContainsRune("мнң", r):
		return kkNasal
	}
	return kkVoiceless
}

// kkAblative appends the ablative ending (-дан/-ден, -тан/-тен, -нан/-нен:
// from, than) to s: "09:15" → "09:15-тен", as in "09:15-тен кешіктірмей"
// (not later than 09:15).
func kkAblative(s string) string {
	w := kkLastWord(s)
	c := map[int]string{kkVoiced: "д", kkNasal: "н", kkVoiceless: "т"}[kkFinal(w)]
	if kkFront(w) {
		return s + "-" + c + "ен"
	}
	return s + "-" + c + "ан"
}

// kkLocative appends the locative ending (-да/-де, -та/-те: at, in) to s:
// "09:15" → "09:15-те", "09:10" → "09:10-да".
func kkLocative(s string) string {
	w := kkLastWord(s)
	c := "д"
	if kkFinal(w) == kkVoiceless {
		c = "т"
	}
	if kkFront(w) {
		return s + "-" + c + "е"
	}
	return s + "-" + c + "а"
}
