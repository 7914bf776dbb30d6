package counter

import (
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"egov"
	"egov/document"
	"egov/fixtures"
	"egov/gateway"
	"egov/sms"
)

// Desk is whose workstation it is. The State Corporation's counter and an
// employment centre's desk take a request the same way (login, registers
// at intake, the operator's signature, the bus, the result at the desk,
// the SMS); they differ in the channels they file through, their name on
// the bus and the notice the applicant gets.
type Desk struct {
	// Name is how logs call it ("counter", "employment centre").
	Name string
	// System is its name on the bus; Namespace begins its Redis keys.
	System, Namespace string
	// Channels are the catalogue's channels its operators file through,
	// looked up in this order.
	Channels []string
	// Filed is how the request document names where it was filed.
	Filed document.Channel
	// Staff is the built-in data set of its operators (fixtures).
	Staff string
	// BIN is its organisation's in the test PKI, which its operators sign
	// for (the programs' default).
	BIN string
	// Cabinet: the citizen follows its filings in his personal cabinet,
	// so the portal is told of each (Config.Portal). An employment
	// centre's S2 has no interaction with the portal (004:255, 004:525).
	Cabinet bool
	// Ready words, in Russian and Kazakh, the SMS that a result waits at
	// the office where (its name, or "" to name none).
	Ready func(where string) string
}

// The desks.
var (
	// StateCorporation is АРМ ИИС ГК, the counters of the State
	// Corporation (flows G-A, G-B).
	StateCorporation = Desk{Name: "counter", System: "gk-counter", Namespace: "gk",
		Channels: []string{gateway.ChannelStateCorporation}, Filed: document.ChannelStateCorporation, Staff: fixtures.Operators,
		BIN: "160540000019", Cabinet: true,
		Ready: func(where string) string {
			if where == "" {
				return "Результат услуги готов, получите его в ЦОН, где подали заявление. Қызмет нәтижесі дайын, оны өтініш берген ХҚКО-дан алыңыз."
			}
			return "Результат услуги готов, получите его: " + where + ". Қызмет нәтижесі дайын, оны көрсетілген ХҚКО бөлімінен алыңыз."
		}}
	// EmploymentCentre is the desk of an employment centre (ЦЗН): its
	// specialists enter applicants into АИС «Рынок труда» (S2, flow C)
	// and take requests at the centre's front office (S3, flow P).
	EmploymentCentre = Desk{Name: "employment centre", System: "czn-desk", Namespace: "czn",
		Channels: []string{gateway.ChannelEmploymentCentre, gateway.ChannelProvider}, Filed: document.ChannelEmploymentCentre, Staff: fixtures.Specialists,
		BIN: "130440000001",
		Ready: func(where string) string {
			if where == "" {
				return "Результат услуги готов, получите его в центре занятости, где подали заявление. Қызмет нәтижесі дайын, оны өтініш берген жұмыспен қамту орталығынан алыңыз."
			}
			return "Результат услуги готов, получите его: " + where + ". Қызмет нәтижесі дайын, оны көрсетілген жұмыспен қамту орталығынан алыңыз."
		}}
)

// Desks are the desks by the name the programs' --desk flag takes.
var Desks = map[string]Desk{"state-corporation": StateCorporation, "employment-centre": EmploymentCentre}

// LoadStaff reads the desk's operators from path, or its built-in data
// set when path is "".
func (d Desk) LoadStaff(path string) (*Operators, error) {
	if path == "" {
		data, err := fixtures.Read(d.Staff)
		if err != nil {
			return nil, err
		}
		return ParseOperators(data, "built-in "+d.Staff)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseOperators(data, path)
}

// channel is the service's channel of this desk through the bus in the
// region, or why there is none.
func (d Desk) channel(cat *gateway.Catalogue, code, region string) (*gateway.Service, *gateway.Channel, error) {
	svc, err := cat.Lookup(code)
	if err != nil {
		return nil, nil, err
	}
	r := svc.Regions[region]
	for _, name := range d.Channels {
		if r == nil || r.Channels[name] == nil {
			continue
		}
		ch := r.Channels[name]
		if ch.Recipient == "" {
			return nil, nil, egov.Errorf(egov.CodeRegionNotServed, "%s in %s is filed on paper: its regulation names no system the bus delivers to", code, region)
		}
		return svc, ch, nil
	}
	return nil, nil, egov.Errorf(egov.CodeRegionNotServed, "%s is not provided at the %s's desk in %s", code, d.Name, region)
}

// decisionText is the notice of flow C (004:492): the centre tells the
// applicant the date of his registration as unemployed, or that it was
// refused and why, in Russian and Kazakh. A ground too long for the
// gateway's segments is left to the centre's paper answer.
func decisionText(f *Filing) string {
	if f.Outcome != string(document.OutcomeRefused) {
		date := f.ResultDate
		if len(date) == len("2006-01-02") {
			date = date[8:10] + "." + date[5:7] + "." + date[0:4]
		}
		return fmt.Sprintf("Вы зарегистрированы в качестве безработного с %s, № %s. Сіз %s бастап жұмыссыз ретінде тіркелдіңіз, № %s.",
			date, f.ResultNumber, date, f.ResultNumber)
	}
	if g := f.GroundText; g != nil {
		// The ground whole, or its first clause where the whole is too
		// long for the segments.
		for _, cut := range []bool{false, true} {
			ru, kk := g.RU, g.KK
			if cut {
				ru, _, _ = strings.Cut(ru, ":")
				kk, _, _ = strings.Cut(kk, ":")
			}
			text := "Отказ в регистрации безработным: " + ru + ". Жұмыссыз ретінде тіркеуден бас тарту: " + kk + "."
			if utf8.RuneCountInString(text) <= sms.MaxText {
				return text
			}
		}
	}
	return "Отказано в регистрации в качестве безработного; причина в ответе центра занятости. " +
		"Жұмыссыз ретінде тіркеуден бас тартылды; себебі жұмыспен қамту орталығының жауабында."
}
