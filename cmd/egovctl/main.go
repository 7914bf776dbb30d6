// Command egovctl is the operator's and tester's tool: a test PKI in the
// style of the NCA, signing and verifying documents from the command line,
// the whole stack in one process, and the tools that look into it.
//
// Exit codes (rootLong says the same to the user): 0 ok, 1 refused or
// different, 2 usage, 3 could not run. exitCode is the one place that
// decides.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

const rootLong = `egovctl: tools for egov-gateway operators and testers.

Run "egovctl COMMAND -h" for the flags of one command.

Exit codes:
  0  ok (a valid signature, an intact chain, a journey that worked)
  1  refused or different: verify refused the signature, evidence verify found
     the chain broken, replay met differences, the demo failed at a step
  2  usage: an unknown command or flag, a bad value (on the command line or in
     an EGOV_* variable), a missing required flag
  3  could not run: a file or the trust directory not found, Redis unreachable,
     a listener that cannot bind, any other failure

Environment: a flag not given on the command line takes a variable. The
flags that name the stack have one each, the same in every command (and as
the other programs name them): --data EGOV_DATA, --redis EGOV_REDIS_URL,
--prefix and --key-prefix EGOV_KEY_PREFIX, --trust EGOV_TRUST_DIR, --routing
EGOV_SHEP_ROUTING, --persons EGOV_GBDFL_PERSONS, --phones EGOV_MOBILE_PHONES,
--ocsp EGOV_OCSP_URL, --record EGOV_RECORD_DIR, --gateway EGOV_GATEWAY_URL,
--log-level EGOV_LOG_LEVEL, --http-* EGOV_HTTP_*. Any other flag's variable
names its command: EGOV_<COMMAND>_<FLAG>, upper-cased, ' ' and '-' as '_'
(up --pace: EGOV_UP_PACE; pki issue --out: EGOV_PKI_ISSUE_OUT), so that a
password meant for one command never reaches another. Each flag's help names
its variable. An empty variable counts as unset.

A running stack: "egovctl up" writes DIR/stack.json (its Redis URL, key
prefix and URLs) in its data directory while it runs. The tools that reach a
stack (evidence, shep dead-letters, sms outbox, replay, loadtest, demo) take
from it, through --data DIR (default "data"), whatever neither the command
line nor a variable gives, and say so on stderr.

Times T are RFC 3339 (2026-06-01T09:00:00+05:00) or dates (2026-06-01, UTC
midnight).`

// Exit codes.
const (
	exitOK        = 0
	exitRefused   = 1
	exitUsage     = 2
	exitCannotRun = 3
)

var (
	// errUsage marks a command line that cannot be run: exit 2.
	errUsage = errors.New("usage")
	// errRefused marks a verdict against what was checked: exit 1. Alone,
	// it says the verdict was printed already.
	errRefused = errors.New("refused")
	// errHelp is parseFlags' answer to -h and --help.
	errHelp = errors.New("help requested")
)

// refusal is a verdict with its reason (errors.Is(r, errRefused)).
type refusal struct{ err error }

func (r refusal) Error() string        { return r.err.Error() }
func (r refusal) Unwrap() error        { return r.err }
func (r refusal) Is(target error) bool { return target == errRefused }

// asRefusal marks err as a verdict: exit 1, its message printed.
func asRefusal(err error) error { return refusal{err} }

// ranError is what a command's own function returned, as opposed to an
// error of cobra's reading of the command line (an unknown command).
type ranError struct{ err error }

func (r ranError) Error() string { return r.err.Error() }
func (r ranError) Unwrap() error { return r.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return exitCode(root.ExecuteContext(ctx), stderr)
}

// exitCode classifies the error of a command line and prints it.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var ran ranError
	if !errors.As(err, &ran) {
		// cobra's own reading of the command line: an unknown command.
		fmt.Fprintf(stderr, "egovctl: %v\nRun \"egovctl -h\" for the commands.\n", err)
		return exitUsage
	}
	code := exitCannotRun
	switch {
	case errors.Is(err, errUsage):
		code = exitUsage
		if err.Error() == errUsage.Error() {
			return code
		}
	case errors.Is(err, errRefused):
		code = exitRefused
		if err.Error() == errRefused.Error() {
			return code
		}
	}
	fmt.Fprintln(stderr, "egovctl:", err)
	return code
}

// commandFunc is a command's body: it defines its flags on the set
// newFlagSet gives it, reads them with parseFlags, then runs.
type commandFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// noContext adapts a command that does not wait.
func noContext(fn func(args []string, stdout, stderr io.Writer) error) commandFunc {
	return func(_ context.Context, args []string, stdout, stderr io.Writer) error {
		return fn(args, stdout, stderr)
	}
}

// newRoot builds the command tree. A new command is one leaf(...) line
// here and a commandFunc that uses newFlagSet and parseFlags.
func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "egovctl",
		Short:         "tools for egov-gateway operators and testers",
		Long:          rootLong,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE:          needsSubcommand,
	}

	pkiCmd := group("pki", "a test PKI in the style of the NCA",
		leaf("init", "create a new authority (root and issuing CA)", `Creates the root and issuing CA of a test authority under --dir; its trust
directory is DIR/trust. Refuses a directory that already holds one.`, noContext(pkiInit)),
		leaf("issue", "issue a key and certificate", `Issues a certificate of the authority in --dir and writes PREFIX.p12,
PREFIX.crt and PREFIX.key: an individual's signing key (--kind sign), an
authentication key (--kind auth) or an organisation's signing key (--kind org,
with --bin, --org and --role).`, noContext(pkiIssue)),
		leaf("revoke", "revoke a certificate", `Records a certificate of the authority in --dir as revoked (the OCSP
responder and the next CRL say so).`, noContext(pkiRevoke)),
		leaf("crl", "write a CRL", `Writes the authority's CRL (PEM), valid for --validity.`, noContext(pkiCRL)),
		leaf("ocsp", "serve OCSP", `Serves the authority's OCSP responder on --listen until interrupted.`, pkiOCSP),
	)
	evidenceCmd := group("evidence", "the bus's evidence chain",
		leaf("verify", "check the bus's evidence chain, live or archived", `Checks the hash chain of the bus's evidence log and prints a JSON report;
exit 1 and "brokenAt" when a link is broken. With --archive FILE (repeatable,
oldest first) it checks archives offline instead: every link, every
manifest's signature (the bus operator's BIN, as of its signing time, against
the archive's own CRLs), the links between segments and between archives,
and the signed index: edits, deletions, reordering and truncation are found.`, evidenceVerify),
		leaf("export", "export the evidence log: JSON lines, or a signed archive", `Writes the bus's evidence log as JSON lines {"seq","prev","record","hash"},
or, with --archive FILE, a signed archive that proves itself offline: a ZIP of
segments, each with a manifest signed by the bus operator's organisation key
(its first and last links, the previous segment's head, its own head, the
count and the signing time), and a signed index of the whole. Check it with
"egovctl evidence verify --archive FILE", without Redis.`, evidenceExport),
		leaf("trim", "delete archived links from Redis, keeping the anchor", `Verifies an archive (as evidence verify --archive) and deletes exactly the
links it holds from the live chain, keeping the last one's hash as the anchor
the live chain is verified from; refuses an archive younger than --keep-live.`, evidenceTrim),
	)
	shepCmd := group("shep", "the simulated government bus",
		leaf("hash-password", "an argon2id hash for the routing file", `Prints the argon2id hash of a system's password, for its entry in the
routing file.`, noContext(shepHashPassword)),
		leaf("dead-letters", "stuck messages, with the reason", `Lists the messages the bus stopped delivering, with the reason, and hands
them out again with --redeliver.`, shepDeadLetters),
	)
	smsCmd := group("sms", "the simulated SMS gateway",
		leaf("outbox", "the messages a phone received", `Prints the messages the SMS gateway delivered to a phone, newest first (the
one-time codes): from the outbox view of egovctl up (--url), or from Redis
directly (--redis, --prefix) for the bus running as its own process.`, smsOutbox),
	)
	root.AddCommand(pkiCmd, evidenceCmd, shepCmd, smsCmd,
		leaf("sign", "sign a document", `Signs an XML document with a key of the test PKI (XMLDSig, as NCALayer).`, noContext(sign)),
		leaf("signer", "a local signer that speaks NCALayer's protocol", `Serves, on a loopback WebSocket (wss://127.0.0.1:13579, where a citizen's
NCALayer listens), the methods the portal's page uses: kz.gov.pki.knca.basics
sign and kz.gov.pki.knca.commonUtils signXml, getKeyInfo and getActiveTokens,
answered as NCALayer answers them, with the key stores given by --key. It
asks for nothing over the network; only pages of the --origin list (and
programs that send no Origin) may use it.`, signerCmd),
		leaf("verify", "verify a signed document", `Verifies a signed document against the trusted CAs and the revocation
sources and prints one JSON report; exit 1 when the signature is refused,
exit 3 when the trust directory or the document cannot be read.`, verify),
		leaf("up", "the whole stack in one process", `Runs the SHEP bus, the registers, the SMS gateway, the labour-market system,
the portal API, an OCSP responder and the metrics listener in one process,
on EGOV_REDIS_URL (--redis) or an embedded in-memory Redis. It creates the
test PKI and the demo citizens under --data on first start, prints what an
operator needs (the Redis URL, the demo accounts and their passwords, the
commands that reach this stack) and writes DIR/stack.json while it runs.
The routing table, the persons and the phones are the built-in ones unless
--routing, --persons, --phones name files.`, up),
		leaf("demo", "a citizen's whole journey against a running stack", `Walks a demo citizen through proving his IIN, registering, logging in,
filling in, signing and submitting a request, and reading the result in his
cabinet; exit 1 when a step fails.`, demo),
		leaf("loadtest", "drive a load against a running stack", `Prepares synthetic citizens and signed submissions and drives them at a
rate (--rate, open loop) or a concurrency (--concurrency, closed loop), then
prints latencies, floors and the stack's CPU and memory.`, loadtest),
		leaf("replay [DIR]", "replay a recorded corpus", `Replays a recorded corpus (egovctl up --record DIR; without DIR, the curated
corpus built into egovctl, the same as fixtures/envelopes) against a portal
and a bus and compares every answer; exit 1 when an answer differs.`, replay),
	)
	return root
}

// group is a command that only holds subcommands.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, RunE: needsSubcommand}
	c.AddCommand(subs...)
	return c
}

// needsSubcommand answers a group (or the root) run without a known
// subcommand.
func needsSubcommand(c *cobra.Command, args []string) error {
	c.SetOut(c.ErrOrStderr())
	_ = c.Usage()
	if len(args) > 0 {
		return ranError{fmt.Errorf("%w: unknown command %q for %q", errUsage, args[0], c.CommandPath())}
	}
	return ranError{fmt.Errorf("%w: %s needs a command", errUsage, c.CommandPath())}
}

// leaf is a command run by fn. Its flags are fn's: fn is called once here
// with describe's flag set, where parseFlags stops it before it does
// anything, so that help and completion know them; cobra leaves the command
// line to fn's own parseFlags.
func leaf(use, short, long string, fn commandFunc) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Long: long, DisableFlagParsing: true}
	c.Flags().AddFlagSet(describe(fn))
	c.RunE = func(c *cobra.Command, args []string) error {
		err := fn(c.Context(), args, c.OutOrStdout(), c.ErrOrStderr())
		if errors.Is(err, errHelp) {
			return c.Help()
		}
		if err != nil {
			return ranError{err}
		}
		return nil
	}
	return c
}
