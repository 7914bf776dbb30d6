package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"egov/counter"
	"egov/signing"
	"egov/signing/pki"
)

// orgKey is an organisation of the stack whose authorised person holds an
// organisation key of the test PKI: a BIN of its own, the holder, the
// holder's role, and the key's file prefix under the PKI's keys/.
type orgKey struct {
	file, bin, org, iin, name string
	role                      signing.KeyUser
}

// The bus operator: the organisation that runs the SHEP bus and signs its
// evidence archives (egovctl evidence export --archive).
const (
	busOperatorBIN = "050740000013"
	busOperatorKey = "shep-operator"
)

var (
	busOperator = orgKey{file: busOperatorKey, bin: busOperatorBIN, org: "АО «ОПЕРАТОР ШЛЮЗА ЭЛЕКТРОННОГО ПРАВИТЕЛЬСТВА» (TEST)",
		iin: "850312300052", name: "ӘБІЛҚАСЫМОВ ТИМУР НҰРЛАНҰЛЫ", role: signing.KeyUserCanSign}
	// labourProvider: the employment centre whose head signs the
	// labour-market system's results.
	labourProvider = orgKey{file: "provider", bin: "940140000385", org: "КГУ «ЦЕНТР ЗАНЯТОСТИ НАСЕЛЕНИЯ» (TEST)",
		iin: "800515400122", name: "СЕЙТҚАЛИЕВА ГҮЛНАР МАРАТҚЫЗЫ", role: signing.KeyUserCEO}
	// regionalDesk: the Karaganda department of employment and social
	// programmes whose head signs АРМ РШЭП's results.
	regionalDesk = orgKey{file: "regionaldesk", bin: "070540000713", org: "ГУ «ОТДЕЛ ЗАНЯТОСТИ И СОЦИАЛЬНЫХ ПРОГРАММ ГОРОДА КАРАГАНДЫ» (TEST)",
		iin: "760903400210", name: "ЖҰМАБЕКОВА СӘУЛЕ ТАЛҒАТҚЫЗЫ", role: signing.KeyUserCEO}
)

// The State Corporation's operators (fixtures/counter/operators.json), who
// sign the requests they file at a counter (003:300-302): one in
// Karaganda (G-A), one in Almaty (G-B).
var stateCorporationBIN = counter.StateCorporation.BIN

var (
	stateCorporationOrg = "НАО «ГОСУДАРСТВЕННАЯ КОРПОРАЦИЯ «ПРАВИТЕЛЬСТВО ДЛЯ ГРАЖДАН»» (TEST)"
	counterOperatorKRG  = orgKey{file: "counter-operator-krg", bin: stateCorporationBIN, org: stateCorporationOrg,
		iin: "901201400012", name: "ТӨЛЕУБАЕВА ДИНАРА АСЫЛБЕКҚЫЗЫ", role: signing.KeyUserCanSign}
	counterOperatorALA = orgKey{file: "counter-operator-ala", bin: stateCorporationBIN, org: stateCorporationOrg,
		iin: "850312300012", name: "ЕСЕНОВ АРМАН БОЛАТҰЛЫ", role: signing.KeyUserCanSign}
)

// The employment centres' specialists
// (fixtures/employment-centre/specialists.json), who sign what they enter
// into АИС «Рынок труда» (004:484-486).
var (
	employmentCentreOrg = "КГУ «ЦЕНТР ЗАНЯТОСТИ НАСЕЛЕНИЯ» (TEST)"
	specialistALA       = orgKey{file: "employment-centre-ala", bin: counter.EmploymentCentre.BIN, org: employmentCentreOrg,
		iin: "880715400005", name: "ҚАСЫМОВА АЙГЕРІМ СЕРІКҚЫЗЫ", role: signing.KeyUserCanSign}
	specialistVKO = orgKey{file: "employment-centre-vko", bin: counter.EmploymentCentre.BIN, org: employmentCentreOrg,
		iin: "880715401965", name: "ОРАЛБАЕВ ДӘУРЕН ЖАНБОЛАТҰЛЫ", role: signing.KeyUserCanSign}
)

// orgKeys are every organisation key egovctl up issues.
var orgKeys = []orgKey{labourProvider, regionalDesk, busOperator, counterOperatorKRG, counterOperatorALA, specialistALA, specialistVKO}

// ensure makes sure the test PKI in pkiDir holds the organisation's key,
// pkiDir/keys/<file>.p12 (with .crt and .key beside it): an organisation
// certificate of its BIN whose holder has its role, valid from from until
// until, the key store protected by password. An existing key is left
// alone, so a data directory made before the key existed gets it on its
// next start. It returns the .p12 path and whether it issued it.
func (k orgKey) ensure(a *pki.Authority, pkiDir string, from, until time.Time, password string) (string, bool, error) {
	prefix := filepath.Join(pkiDir, "keys", k.file)
	if _, err := os.Stat(prefix + ".p12"); err == nil {
		return prefix + ".p12", false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	if err := os.MkdirAll(filepath.Dir(prefix), 0o755); err != nil {
		return "", false, err
	}
	iss, err := a.Issue(pki.IssueOptions{IIN: k.iin, Name: k.name, Kind: pki.KindOrg,
		BIN: k.bin, Organization: k.org, Role: k.role, NotBefore: from, NotAfter: until})
	if err != nil {
		return "", false, fmt.Errorf("%s key: %w", k.file, err)
	}
	if err := a.Write(iss, prefix, password); err != nil {
		return "", false, fmt.Errorf("%s key: %w", k.file, err)
	}
	return prefix + ".p12", true, nil
}

// ensureOrgKeys issues every organisation key the PKI in pkiDir lacks and
// returns the files of those it issued.
func ensureOrgKeys(a *pki.Authority, pkiDir string, from, until time.Time, password string) ([]string, error) {
	var issued []string
	for _, k := range orgKeys {
		_, fresh, err := k.ensure(a, pkiDir, from, until, password)
		if err != nil {
			return issued, err
		}
		if fresh {
			issued = append(issued, k.file+".p12")
		}
	}
	return issued, nil
}

// ensureBusOperatorKey is busOperator.ensure.
func ensureBusOperatorKey(a *pki.Authority, pkiDir string, from, until time.Time, password string) (string, bool, error) {
	return busOperator.ensure(a, pkiDir, from, until, password)
}
