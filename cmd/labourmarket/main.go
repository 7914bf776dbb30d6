// Command labourmarket runs the labour-market system (АИС «Рынок труда») as
// its own process: it polls its queue on a SHEP bus over HTTP, checks the
// documents, keeps its registry in Redis and answers with results signed by
// the provider's authorised person. Its settings: labourmarket -h.
package main

import (
	"egov/internal/providerprog"
	"egov/labour"
)

func main() {
	providerprog.Main(providerprog.Spec{Command: "labourmarket", Identity: labour.Identity, Sender: labour.SenderID,
		OpsListen: "127.0.0.1:9092", EnvPrefix: "EGOV_LABOUR_", KeyVar: "EGOV_PROVIDER_KEY", OpsVar: "EGOV_OPS_LISTEN"})
}
