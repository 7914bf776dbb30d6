package gateway

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"egov"
)

//go:embed data/catalogue.json data/holidays.json
var dataFiles embed.FS

// openAPIDocument describes the HTTP API (served at /api/v1/openapi.yaml).
//
//go:embed data/openapi.yaml
var openAPIDocument []byte

// Names are a text in the portal's three languages.
type Names struct {
	RU string `json:"ru"`
	KK string `json:"kk"`
	EN string `json:"en"`
}

// In returns the text in lang (ru, kk or en; Russian otherwise).
func (n Names) In(lang string) string { return egov.Message{RU: n.RU, KK: n.KK, EN: n.EN}.In(lang) }

func (n Names) complete() bool { return n.RU != "" && n.KK != "" && n.EN != "" }

func (n Names) empty() bool { return n == Names{} }

// The channels through which the regulations let a citizen apply.
const (
	ChannelPortal           = "portal"            // egov.kz: signed request through the bus
	ChannelStateCorporation = "state-corporation" // a counter of the State Corporation (ЦОН)
	ChannelProvider         = "provider"          // the provider's own office (канцелярия)
	ChannelEmploymentCentre = "employment-centre" // a centre of employment of the population (ЦЗН)
	ChannelAkim             = "akim"              // the office of the akim of a rural district (село, посёлок, сельский округ)
)

// channelOrder is the order channels are listed in.
var channelOrder = []string{ChannelPortal, ChannelStateCorporation, ChannelProvider, ChannelEmploymentCentre, ChannelAkim}

// Service is one entry of the catalogue (SPEC §2): a state service and,
// per region whose regulation provides it, how it is provided there.
type Service struct {
	Code string `json:"code"`
	// Label is the service's number in the regulations catalogue (S1…S14;
	// S1-end for leaving S1's register, which the regulations do not name).
	Label string `json:"label"`
	// Follows names, for a service the seeds do not name, the service it
	// is provided on the terms of (docs/catalogue-notes.md): each of its
	// regions takes that service's regulation (seed, lines) and portal
	// channel (steps, terms) and keeps only its own recipient and bus
	// service. Leaving the register of job seekers follows the
	// registration.
	Follows  string  `json:"follows,omitempty"`
	Names    Names   `json:"names"`
	Provider Names   `json:"provider"`
	Results  Results `json:"results"`
	// Portal is the form the portal asks for; nil when no region's
	// regulation offers the service on the portal.
	Portal *PortalForm `json:"portal,omitempty"`
	// Desk is the form an operator enters at a desk (an employment
	// centre's, a provider's office) for a service the portal does not
	// offer but whose desk files through the bus; a service on the portal
	// is entered with its portal form everywhere.
	Desk *PortalForm `json:"desk,omitempty"`
	// Regions are the regulations that provide the service, by region.
	Regions map[string]*Regulation `json:"regions"`
}

// Results are what the service ends with: the positive result and the
// refusal (empty when the regulation names none).
type Results struct {
	Positive Names `json:"positive"`
	Refusal  Names `json:"refusal"`
}

// PortalForm is what the portal asks of a citizen for a service.
type PortalForm struct {
	Form      []FormField    `json:"form"`
	Documents []DocumentRule `json:"documents"`
}

// FormField is one field of a service's form.
type FormField struct {
	Name      string   `json:"name"`
	Required  bool     `json:"required"`
	Type      string   `json:"type"` // enum or text
	Values    []string `json:"values,omitempty"`
	MaxLength int      `json:"maxLength,omitempty"`
	// Label is what the portal's page calls the field, ValueLabels what
	// it calls each of Values, in the three languages.
	Label       Names            `json:"label"`
	ValueLabels map[string]Names `json:"valueLabels,omitempty"`
}

// DocumentRule is a document the service accepts.
type DocumentRule struct {
	Kind           string   `json:"kind"`
	Label          Names    `json:"label"`
	Required       bool     `json:"required"`
	MIMETypes      []string `json:"mimeTypes"`
	MaxSize        int64    `json:"maxSize"`
	ExpiryRequired bool     `json:"expiryRequired,omitempty"`
}

// Regulation is one region's regulation of a service.
type Regulation struct {
	// Seed is the regulation's number in the seeds (000…004), Lines where
	// it lists the service's channels.
	Seed  string `json:"seed"`
	Lines string `json:"lines"`
	// Provider names this region's provider where it differs from the
	// service's.
	Provider *Names `json:"provider,omitempty"`
	// Channels are the ways to apply this regulation lists, by channel.
	Channels map[string]*Channel `json:"channels"`
}

// Channel is how a service is provided through one channel in one region:
// the procedure's steps, the declared term, and, for a channel the portal
// does not serve, where to go and what to bring.
type Channel struct {
	// Lines are where the regulation gives these steps and terms.
	Lines string `json:"lines"`
	// Recipient is the system the bus delivers the requests to (portal
	// channel: required); BusService the bus's service id for them
	// (default: the service code).
	Recipient  string `json:"recipient,omitempty"`
	BusService string `json:"busService,omitempty"`
	// Flow is, for a desk's channel that goes through the bus, its
	// procedure: at a State Corporation counter FlowGA (the persons
	// register and ЕНИС at intake, 003) or FlowGB (the persons register
	// only, 004); at an employment centre FlowC (the centre enters the
	// applicant into the provider's system, 004:484-492, 001:815-846); at
	// the provider's own office FlowP (001:979-999).
	Flow string `json:"flow,omitempty"`
	// NoticeByPhone: the desk tells the applicant the provider's decision
	// by phone (S2 in Almaty city: the date of the registration, or the
	// refusal, 004:492), rather than that the result waits at the desk.
	NoticeByPhone bool   `json:"noticeByPhone,omitempty"`
	Steps         []Step `json:"steps,omitempty"`
	// TermWorkingDays is the term the regulation declares; 0: the steps'
	// sum is the term.
	TermWorkingDays int `json:"termWorkingDays,omitempty"`
	// TermAfterStep: the declared term counts from the end of this step
	// (1-based), not from the acceptance, as S2's "2 working days from the
	// date of the local body's decision" (001:844-846); 0: from the
	// acceptance.
	TermAfterStep int `json:"termAfterStep,omitempty"`
	// DistrictOfficeExtraWorkingDays are added when the citizen applies
	// at a district (city) office of the State Corporation (001:266-269).
	DistrictOfficeExtraWorkingDays int `json:"districtOfficeExtraWorkingDays,omitempty"`
	// AcceptanceDayNotCounted: the term counts from the working day after
	// the documents were accepted (001:270-272).
	AcceptanceDayNotCounted bool `json:"acceptanceDayNotCounted,omitempty"`
	// TermNote says, for a channel whose regulation gives neither steps
	// nor a term, what it says instead.
	TermNote *Names `json:"termNote,omitempty"`
	// Where the citizen goes, and what to bring, for channels other than
	// the portal.
	Where *Names  `json:"where,omitempty"`
	Bring []Names `json:"bring,omitempty"`
}

// Step is one step of the provider's procedure.
type Step struct {
	Role        Names `json:"role"`
	Action      Names `json:"action"`
	Minutes     int   `json:"minutes,omitempty"`
	WorkingDays int   `json:"workingDays,omitempty"`
}

// Duration is the step's working time.
func (s Step) Duration() time.Duration {
	return time.Duration(s.WorkingDays)*WorkingDay + time.Duration(s.Minutes)*time.Minute
}

// StepsTotal is the sum of the steps' working time.
func (c *Channel) StepsTotal() time.Duration {
	var d time.Duration
	for _, st := range c.Steps {
		d += st.Duration()
	}
	return d
}

// Term is the working time the citizen is promised: the declared term,
// or the sum of the steps where none is declared.
func (c *Channel) Term() time.Duration {
	if c.TermWorkingDays > 0 {
		var before time.Duration
		for _, st := range c.Steps[:min(c.TermAfterStep, len(c.Steps))] {
			before += st.Duration()
		}
		return before + time.Duration(c.TermWorkingDays)*WorkingDay
	}
	return c.StepsTotal()
}

// Due is the moment the result is promised for a request accepted at
// accepted through this channel: the term in working time, from the next
// working day when the day of acceptance does not count, plus the
// district office's days when it applies. A term that ends beyond the
// calendar's data is refused (calendar-exhausted) rather than guessed.
func (c *Channel) Due(cal *Calendar, accepted time.Time, districtOffice bool) (time.Time, error) {
	start := accepted
	if c.AcceptanceDayNotCounted {
		start = cal.NextWorkingDayStart(accepted)
	}
	term := c.Term()
	if districtOffice {
		term += time.Duration(c.DistrictOfficeExtraWorkingDays) * WorkingDay
	}
	return cal.Due(start, term)
}

// The desks' flows through the bus (regulations catalogue §2.2, §2.4).
const (
	FlowGA = "G-A"
	FlowGB = "G-B"
	FlowC  = "C"
	FlowP  = "P"
)

// deskFlows are the flows each channel's desk may follow.
var deskFlows = map[string][]string{ChannelStateCorporation: {FlowGA, FlowGB}, ChannelEmploymentCentre: {FlowC}, ChannelProvider: {FlowP}}

// validate reports a field or document without a label in the three
// languages, and an enum value without one: the pages show no raw names.
func (f *PortalForm) validate(bad func(string, ...any)) {
	for _, fl := range f.Form {
		if !fl.Label.complete() {
			bad("field %q lacks a label in one of the three languages", fl.Name)
		}
		for _, v := range fl.Values {
			if !fl.ValueLabels[v].complete() {
				bad("value %q of field %q lacks a label in one of the three languages", v, fl.Name)
			}
		}
		if len(fl.ValueLabels) > len(fl.Values) {
			bad("field %q labels a value it does not have", fl.Name)
		}
	}
	for _, d := range f.Documents {
		if !d.Label.complete() {
			bad("document %q lacks a label in one of the three languages", d.Kind)
		}
	}
}

// DeskForm is the form a desk enters for the service: the portal's, or
// the desk's own for a service off the portal.
func (s *Service) DeskForm() *PortalForm {
	if s.Portal != nil {
		return s.Portal
	}
	return s.Desk
}

// BusServiceOf is the bus's service id of the channel's requests of the
// service code.
func (c *Channel) BusServiceOf(code string) string {
	if c.BusService != "" {
		return c.BusService
	}
	return code
}

// Channels are the channels of the service in any region, in the
// catalogue's order.
func (s *Service) Channels() []string {
	var out []string
	for _, ch := range channelOrder {
		for _, r := range s.Regions {
			if r.Channels[ch] != nil {
				out = append(out, ch)
				break
			}
		}
	}
	return out
}

// OnPortal tells whether some region's regulation offers the service on
// the portal: it has the portal's form exactly then (ParseCatalogue
// checks), so a submission does not walk the regions to know.
func (s *Service) OnPortal() bool { return s.Portal != nil }

// Catalogue is the list of services.
type Catalogue struct {
	// Source says where the data comes from.
	Source   string     `json:"_source"`
	Services []*Service `json:"services"`
	byCode   map[string]*Service
}

// Regions are the regions whose regulations the seeds hold, by seed.
var Regions = map[string]string{
	"almaty-oblast":   "000",
	"east-kazakhstan": "001",
	"aktobe":          "002",
	"karaganda":       "003",
	"almaty-city":     "004",
}

// ParseCatalogue reads the catalogue data file and checks that every
// entry is whole: names in three languages, known regions and channels,
// steps with their durations, a recipient for the portal, and for every
// other channel where to go and what to bring.
func ParseCatalogue(data []byte) (*Catalogue, error) {
	var c Catalogue
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("catalogue: %w", err)
	}
	c.byCode = map[string]*Service{}
	var errs []error
	for _, s := range c.Services {
		if c.byCode[s.Code] != nil {
			errs = append(errs, fmt.Errorf("%s: listed twice", s.Code))
		}
		c.byCode[s.Code] = s
	}
	for _, s := range c.Services {
		if s.Follows != "" {
			errs = append(errs, s.follow(c.byCode[s.Follows])...)
		}
		errs = append(errs, s.validate()...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("catalogue: %w", err)
	}
	return &c, nil
}

// follow gives each of s's regions the regulation and portal channel of
// the service it follows, keeping its own recipient and bus service.
func (s *Service) follow(base *Service) []error {
	switch {
	case base == nil:
		return []error{fmt.Errorf("%s: follows %q, which is not in the catalogue", s.Code, s.Follows)}
	case base.Follows != "":
		return []error{fmt.Errorf("%s: follows %s, which follows another service itself", s.Code, base.Code)}
	}
	var errs []error
	for region, r := range s.Regions {
		from := base.Regions[region]
		if r == nil || from == nil || from.Channels[ChannelPortal] == nil {
			errs = append(errs, fmt.Errorf("%s: %s has no portal channel in %s to follow", s.Code, base.Code, region))
			continue
		}
		if r.Seed != "" || r.Lines != "" || len(r.Channels) != 1 || r.Channels[ChannelPortal] == nil {
			errs = append(errs, fmt.Errorf("%s: %s: a service that follows another names only its portal channel's recipient and bus service", s.Code, region))
			continue
		}
		own := r.Channels[ChannelPortal]
		if own.Lines != "" || len(own.Steps) > 0 || own.TermWorkingDays != 0 || own.DistrictOfficeExtraWorkingDays != 0 ||
			own.AcceptanceDayNotCounted || own.TermNote != nil || own.Where != nil || len(own.Bring) > 0 {
			errs = append(errs, fmt.Errorf("%s: %s: the portal channel's terms are %s's", s.Code, region, base.Code))
			continue
		}
		ch := *from.Channels[ChannelPortal]
		ch.Recipient, ch.BusService, ch.Steps = own.Recipient, own.BusService, slices.Clone(ch.Steps)
		r.Seed, r.Lines, r.Provider = from.Seed, from.Lines, from.Provider
		r.Channels[ChannelPortal] = &ch
	}
	return errs
}

func (s *Service) validate() []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(s.Code+": "+format, args...))
	}
	if s.Label == "" {
		bad("no label")
	}
	if !s.Names.complete() || !s.Provider.complete() {
		bad("a name or the provider lacks one of the three languages")
	}
	if !s.Results.Positive.complete() || (!s.Results.Refusal.empty() && !s.Results.Refusal.complete()) {
		bad("a result lacks one of the three languages")
	}
	if len(s.Regions) == 0 {
		bad("no region provides it")
	}
	if slices.Contains(s.Channels(), ChannelPortal) != (s.Portal != nil) {
		bad("a portal form needs a region with the portal channel, and the other way round")
	}
	for _, f := range []*PortalForm{s.Portal, s.Desk} {
		if f != nil {
			f.validate(bad)
		}
	}
	filedAtDesk := false
	for _, r := range s.Regions {
		for name, ch := range r.Channels {
			filedAtDesk = filedAtDesk || (name != ChannelPortal && ch != nil && ch.Recipient != "")
		}
	}
	if (s.Desk != nil) != (filedAtDesk && s.Portal == nil) {
		bad("a desk's own form is for a service off the portal that a desk files through the bus, and such a service needs one")
	}
	for region, r := range s.Regions {
		if r == nil {
			bad("region %q is null", region)
			continue
		}
		if seed, ok := Regions[region]; !ok || seed != r.Seed {
			bad("region %q with seed %q is not one of the seeds' regions", region, r.Seed)
		}
		if r.Lines == "" || len(r.Channels) == 0 {
			bad("%s: no lines or no channel", region)
		}
		if r.Provider != nil && !r.Provider.complete() {
			bad("%s: the provider lacks one of the three languages", region)
		}
		for name, ch := range r.Channels {
			at := region + " " + name
			if ch == nil {
				bad("%s: null", at)
				continue
			}
			if ch.TermWorkingDays < 0 || ch.DistrictOfficeExtraWorkingDays < 0 {
				bad("%s: a negative term", at)
			}
			if ch.TermAfterStep < 0 || ch.TermAfterStep > len(ch.Steps) || (ch.TermAfterStep > 0 && ch.TermWorkingDays == 0) {
				bad("%s: a term after a step needs a declared term and one of its steps", at)
			}
			if ch.BusService != "" && ch.Recipient == "" {
				bad("%s: a bus service without a recipient", at)
			}
			if (ch.Flow != "") != (name != ChannelPortal && ch.Recipient != "") || (ch.Flow != "" && !slices.Contains(deskFlows[name], ch.Flow)) {
				bad("%s: a desk's channel through the bus, and only it, names its flow, one of %v", at, deskFlows[name])
			}
			if !slices.Contains(channelOrder, name) {
				bad("%s: unknown channel", at)
			}
			if ch.Lines == "" {
				bad("%s: no lines", at)
			}
			for i, st := range ch.Steps {
				if !st.Role.complete() || !st.Action.complete() || st.Minutes < 0 || st.WorkingDays < 0 || st.Duration() <= 0 {
					bad("%s: step %d lacks a language or a duration", at, i+1)
				}
			}
			switch {
			case ch.Term() > 0 && ch.TermNote != nil:
				bad("%s: a term and a note that there is none", at)
			case ch.Term() <= 0 && (name == ChannelPortal || ch.TermNote == nil || !ch.TermNote.complete()):
				bad("%s: neither steps nor a declared term (only a channel off the portal may have instead a note in three languages)", at)
			}
			if name == ChannelPortal {
				if ch.Recipient == "" {
					bad("%s: no recipient", at)
				}
				continue
			}
			if ch.Recipient != "" && deskFlows[name] == nil {
				bad("%s: only the portal's and the desks' requests go through the bus", at)
			}
			if ch.Where == nil || !ch.Where.complete() || len(ch.Bring) == 0 {
				bad("%s: where to go and what to bring are needed in three languages", at)
			}
			for _, b := range ch.Bring {
				if !b.complete() {
					bad("%s: a document to bring lacks one of the three languages", at)
				}
			}
		}
	}
	return errs
}

// DefaultCatalogue and DefaultCalendar are the embedded data files.
func DefaultCatalogue() (*Catalogue, error) {
	data, err := dataFiles.ReadFile("data/catalogue.json")
	if err != nil {
		return nil, err
	}
	return ParseCatalogue(data)
}

// DefaultCalendar reads the embedded holiday file.
func DefaultCalendar() (*Calendar, error) {
	data, err := dataFiles.ReadFile("data/holidays.json")
	if err != nil {
		return nil, err
	}
	return ParseCalendar(data)
}

// Lookup returns a service by code.
func (c *Catalogue) Lookup(code string) (*Service, error) {
	s, ok := c.byCode[code]
	if !ok {
		return nil, egov.Errorf(egov.CodeServiceUnknown, "service %q", code)
	}
	return s, nil
}

// PortalChannel returns the service's portal channel in a region, or the
// refusal saying why there is none.
func (c *Catalogue) PortalChannel(code, region string) (*Service, *Channel, error) {
	s, err := c.Lookup(code)
	if err != nil {
		return nil, nil, err
	}
	if !s.OnPortal() {
		return nil, nil, egov.Errorf(egov.CodeServiceNotOnPortal, "service %s", code)
	}
	r, ok := s.Regions[region]
	if !ok || r.Channels[ChannelPortal] == nil {
		return nil, nil, egov.Errorf(egov.CodeRegionNotServed, "service %s in region %q", code, region)
	}
	return s, r.Channels[ChannelPortal], nil
}

// DeskChannel is the desk channel (state-corporation, employment-centre,
// provider) through which the bus brings requests of the service in the
// region under busService, and its flow; "" where there is none.
func (c *Catalogue) DeskChannel(code, region, busService string) (channel, flow string) {
	if s, ok := c.byCode[code]; ok && s.Regions[region] != nil {
		for name, ch := range s.Regions[region].Channels {
			if name != ChannelPortal && ch.Recipient != "" && ch.BusServiceOf(code) == busService {
				return name, ch.Flow
			}
		}
	}
	return "", ""
}

// PortalTerm is the working time the portal promises for the service in
// the region; 0 where the portal does not serve it (a provider pacing its
// answers by the regulation reads it).
func (c *Catalogue) PortalTerm(code, region string) time.Duration {
	if _, ch, err := c.PortalChannel(code, region); err == nil {
		return ch.Term()
	}
	return 0
}
