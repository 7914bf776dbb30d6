// Command regionaldesk runs АРМ РШЭП, the workstation of Karaganda's
// regional e-government gateway, as its own process: it polls its queue on
// a SHEP bus over HTTP, checks the documents, asks the persons register and
// the register of recipients of targeted social assistance, keeps its
// registry in Redis and answers with results signed by its organisation's
// authorised person. Its settings: regionaldesk -h.
package main

import (
	"egov/internal/providerprog"
	"egov/regionaldesk"
)

func main() {
	providerprog.Main(providerprog.Spec{Command: "regionaldesk", Identity: regionaldesk.Identity, Sender: regionaldesk.SenderID,
		OpsListen: "127.0.0.1:9093", EnvPrefix: "EGOV_REGIONALDESK_", KeyVar: "EGOV_REGIONALDESK_KEY"})
}
