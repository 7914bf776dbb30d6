// Package labour is the labour-market system (АИС «Рынок труда»), the
// employment centres' system that the portal's S1 and S4 requests go to
// outside Karaganda (002:198-202, 388-392). It polls its SHEP queue, checks
// each request's documents against the Standards' rules (condition C3),
// keeps its registry of job seekers and referrals, and answers with a
// result signed by the provider's authorised person. The machinery is
// package provider's; this package is its configuration.
package labour

import (
	"github.com/redis/go-redis/v9"

	"egov/provider"
)

// SenderID is the system's name on the bus.
const SenderID = "ais-rynok-truda"

// Identity is the system's: its name in logs, its keys' namespace ("lm"),
// its metrics (egov_labour_*), the services it provides.
var Identity = provider.Identity{Name: "labour-market system", Namespace: "lm", Metrics: "labour",
	Services: []string{"job-seeker-registration", "employment-referral", "job-seeker-deregistration", "unemployed-registration", "unemployed-certificate"}}

// The machinery's types, under the names the system's callers know.
type (
	Config    = provider.Config
	System    = provider.System
	Rejection = provider.Rejection
)

// New returns the labour-market system (see provider.Identity.New).
func New(rdb redis.UniversalClient, cfg Config) (*System, error) { return Identity.New(rdb, cfg) }
