package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"egov/signing"
	"egov/signing/pki"
)

// The bus operator: the organisation that runs the SHEP bus and signs its
// evidence archives (egovctl evidence export --archive), with a BIN of its
// own, distinct from every connected system's.
const (
	busOperatorBIN  = "050740000013"
	busOperatorOrg  = "АО «ОПЕРАТОР ШЛЮЗА ЭЛЕКТРОННОГО ПРАВИТЕЛЬСТВА» (TEST)"
	busOperatorIIN  = "850312300052" // the authorised person who holds the key
	busOperatorName = "ӘБІЛҚАСЫМОВ ТИМУР НҰРЛАНҰЛЫ"
	// busOperatorKey is the key's file prefix under the PKI's keys/.
	busOperatorKey = "shep-operator"
)

// ensureBusOperatorKey makes sure the test PKI in pkiDir holds the bus
// operator's organisation key, pkiDir/keys/shep-operator.p12 (with .crt
// and .key beside it, as the provider's): an organisation certificate of
// busOperatorBIN whose holder has signing right (can-sign), valid from
// from until until, its key store protected by password. An existing key
// is left alone, so a data directory made before the key existed gets it
// on its next start. It returns the .p12 path and whether it issued it.
func ensureBusOperatorKey(a *pki.Authority, pkiDir string, from, until time.Time, password string) (string, bool, error) {
	prefix := filepath.Join(pkiDir, "keys", busOperatorKey)
	if _, err := os.Stat(prefix + ".p12"); err == nil {
		return prefix + ".p12", false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	if err := os.MkdirAll(filepath.Dir(prefix), 0o755); err != nil {
		return "", false, err
	}
	iss, err := a.Issue(pki.IssueOptions{IIN: busOperatorIIN, Name: busOperatorName, Kind: pki.KindOrg,
		BIN: busOperatorBIN, Organization: busOperatorOrg, Role: signing.KeyUserCanSign, NotBefore: from, NotAfter: until})
	if err != nil {
		return "", false, fmt.Errorf("bus operator key: %w", err)
	}
	if err := a.Write(iss, prefix, password); err != nil {
		return "", false, fmt.Errorf("bus operator key: %w", err)
	}
	return prefix + ".p12", true, nil
}
