package gateway

import (
	"embed"
	"encoding/json"
	"fmt"
	"slices"
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

// Service is one entry of the catalogue (SPEC §2).
type Service struct {
	Code     string   `json:"code"`
	Names    Names    `json:"names"`
	Provider Names    `json:"provider"`
	Channels []string `json:"channels"`
	Results  struct {
		Positive string `json:"positive"`
		Refusal  string `json:"refusal"`
	} `json:"results"`
	// Portal is nil for services the portal does not provide.
	Portal *PortalService `json:"portal,omitempty"`
}

// PortalService is how the portal provides a service.
type PortalService struct {
	Recipient string               `json:"recipient"`
	Form      []FormField          `json:"form"`
	Documents []DocumentRule       `json:"documents"`
	Regions   map[string]*Schedule `json:"regions"`
}

// FormField is one field of a service's form.
type FormField struct {
	Name      string   `json:"name"`
	Required  bool     `json:"required"`
	Type      string   `json:"type"` // enum or text
	Values    []string `json:"values,omitempty"`
	MaxLength int      `json:"maxLength,omitempty"`
}

// DocumentRule is a document the service accepts.
type DocumentRule struct {
	Kind           string   `json:"kind"`
	Required       bool     `json:"required"`
	MIMETypes      []string `json:"mimeTypes"`
	MaxSize        int64    `json:"maxSize"`
	ExpiryRequired bool     `json:"expiryRequired,omitempty"`
}

// Schedule is a region's regulation of a service: its procedure steps and
// the declared term, when the regulation declares one.
type Schedule struct {
	Seed            string `json:"seed"`
	TermWorkingDays int    `json:"termWorkingDays,omitempty"`
	Steps           []Step `json:"steps"`
}

// Step is one step of the provider's procedure.
type Step struct {
	Role    string `json:"role"`
	Action  string `json:"action"`
	Minutes int    `json:"minutes"`
}

// Term is the working time the citizen is promised: the declared term,
// or the sum of the steps where none is declared.
func (s *Schedule) Term() time.Duration {
	if s.TermWorkingDays > 0 {
		return time.Duration(s.TermWorkingDays) * WorkingDay
	}
	var d time.Duration
	for _, st := range s.Steps {
		d += time.Duration(st.Minutes) * time.Minute
	}
	return d
}

// Catalogue is the list of services.
type Catalogue struct {
	Services []*Service `json:"services"`
	byCode   map[string]*Service
}

// ParseCatalogue reads the catalogue data file.
func ParseCatalogue(data []byte) (*Catalogue, error) {
	var c Catalogue
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("catalogue: %w", err)
	}
	c.byCode = map[string]*Service{}
	for _, s := range c.Services {
		if s.Names.RU == "" || s.Names.KK == "" || s.Names.EN == "" {
			return nil, fmt.Errorf("catalogue: %s lacks a name in one of the three languages", s.Code)
		}
		if s.Portal != nil && (!slices.Contains(s.Channels, "portal") || len(s.Portal.Regions) == 0) {
			return nil, fmt.Errorf("catalogue: %s has portal data but no portal channel or region", s.Code)
		}
		c.byCode[s.Code] = s
	}
	return &c, nil
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

// PortalSchedule returns the service's portal provision in a region, or
// the refusal saying why there is none.
func (c *Catalogue) PortalSchedule(code, region string) (*Service, *Schedule, error) {
	s, err := c.Lookup(code)
	if err != nil {
		return nil, nil, err
	}
	if s.Portal == nil {
		return nil, nil, egov.Errorf(egov.CodeServiceNotOnPortal, "service %s", code)
	}
	sch, ok := s.Portal.Regions[region]
	if !ok {
		return nil, nil, egov.Errorf(egov.CodeRegionNotServed, "service %s in region %q", code, region)
	}
	return s, sch, nil
}
