// Package registers hosts the state registers the stack simulates on a
// bus's synchronous channel: the persons register (ГБД ФЛ, shep/gbdfl),
// the register of recipients of targeted social assistance (tsa), the
// register of employment contracts (contracts), the mobile citizens'
// register (mobile) and ЕНИС's notarised powers of attorney (enis). Each is a system of its own that the portal and the
// providers reach only through the bus.
package registers

import (
	"egov/registers/contracts"
	"egov/registers/enis"
	"egov/registers/mobile"
	"egov/registers/tsa"
	"egov/shep"
	"egov/shep/gbdfl"
)

// Files name the registers' data sets; "" is the built-in one.
type Files struct {
	Persons, Assistance, Contracts, Phones, Powers string
	// NoPersons leaves the persons register out (a bus that another
	// process's register answers for).
	NoPersons bool
}

// Host loads every register's data set and serves it on bus; a data set
// that cannot be read stops it before any is served.
func Host(bus *shep.Bus, f Files) error {
	handlers := map[string]shep.SyncHandler{}
	if !f.NoPersons {
		persons, err := gbdfl.LoadOrBuiltIn(f.Persons)
		if err != nil {
			return err
		}
		handlers[gbdfl.ServiceID] = persons
	}
	assistance, err := tsa.LoadOrBuiltIn(f.Assistance)
	if err != nil {
		return err
	}
	handlers[tsa.ServiceID] = assistance
	employment, err := contracts.LoadOrBuiltIn(f.Contracts)
	if err != nil {
		return err
	}
	handlers[contracts.ServiceID] = employment
	powers, err := enis.LoadOrBuiltIn(f.Powers)
	if err != nil {
		return err
	}
	handlers[enis.ServiceID] = powers
	phones := mobile.Default()
	if f.Phones != "" {
		if phones, err = mobile.Load(f.Phones); err != nil {
			return err
		}
	}
	handlers[mobile.ServiceID] = phones
	for id, h := range handlers {
		bus.HandleSync(id, h)
	}
	return nil
}
