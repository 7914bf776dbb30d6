// Package regionaldesk is АРМ РШЭП, the workstation of the regional
// e-government gateway that the local executive bodies of Karaganda oblast
// answer the portal's requests from (003:915-917, 1178-1180, 1950-1952): S1
// and S4 there, and S7, the certificate of belonging to the recipients of
// targeted social assistance, which the regulation makes fully automated
// (003:717-718) and which this system answers from that register. Like the
// labour-market system it is package provider's machinery with its own
// configuration: its queue, its organisation and authorised person, its
// keys in Redis.
package regionaldesk

import (
	"github.com/redis/go-redis/v9"

	"egov/provider"
)

// SenderID is the system's name on the bus.
const SenderID = "arm-rshep"

// Identity is the system's: its name in logs, its keys' namespace
// ("rshep"), its metrics (egov_regionaldesk_*), the services it provides
// (S7 first: its queue is polled by it).
var Identity = provider.Identity{Name: "АРМ РШЭП", Namespace: "rshep", Metrics: "regionaldesk",
	Services: []string{"tsa-membership-certificate", "job-seeker-registration", "employment-referral", "job-seeker-deregistration"}}

// The machinery's types, under the names the system's callers know.
type (
	Config = provider.Config
	System = provider.System
)

// New returns АРМ РШЭП (see provider.Identity.New).
func New(rdb redis.UniversalClient, cfg Config) (*System, error) { return Identity.New(rdb, cfg) }
