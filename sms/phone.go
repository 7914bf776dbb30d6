package sms

import (
	"regexp"

	"egov"
)

// Phone is a Kazakh mobile number in international form, +7 and ten
// digits. Every system that handles a phone number (the SMS gateway, the
// mobile citizens' register, the portal) reads it with ParsePhone.
type Phone string

var phoneFormat = regexp.MustCompile(`^\+7[0-9]{10}$`)

// ParsePhone accepts +7XXXXXXXXXX and refuses anything else with
// phone-invalid.
func ParsePhone(s string) (Phone, error) {
	if !phoneFormat.MatchString(s) {
		return "", egov.Errorf(egov.CodePhoneInvalid, "phone is not +7 and ten digits")
	}
	return Phone(s), nil
}

// Masked shows only the first digit after the country code and the last
// two, "+7 7** *** **34": enough for a citizen to recognise his number,
// too little to learn it. Logs and answers show phones only this way.
func (p Phone) Masked() string {
	s := string(p)
	if !phoneFormat.MatchString(s) {
		return "+7 *** *** ****"
	}
	return "+7 " + s[2:3] + "** *** **" + s[10:]
}
