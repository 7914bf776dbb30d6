// Command egovctl is the operator's and tester's tool: a test PKI in the
// style of the NCA, signing and verifying documents from the command line.
//
// Exit codes: 0 success (a valid signature for verify), 1 a refusal or a
// failure, 2 a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `egovctl: tools for egov-gateway operators and testers

Usage:
  egovctl pki init   --dir D
  egovctl pki issue  --dir D --iin IIN --name "SURNAME GIVEN [PATRONYMIC]" [--kind sign|auth|org]
                     [--bin BIN] [--org NAME] [--role ceo|can-sign|employee]
                     [--not-before T --not-after T] [--password P] --out PREFIX
  egovctl pki revoke --dir D --cert PREFIX.crt [--at T] [--reason N]
  egovctl pki crl    --dir D --out FILE [--validity DURATION]
  egovctl pki ocsp   --dir D --listen ADDR
  egovctl sign       --key PREFIX.p12 --password P --in FILE --out FILE
  egovctl verify     --trust D/trust [--crl FILE] [--ocsp URL] [--iin IIN] [--bin BIN] [--at T] --in FILE
  egovctl evidence verify [--redis URL] [--prefix P]      check the bus's evidence chain
  egovctl evidence export [--redis URL] [--prefix P] [--out FILE]
  egovctl shep hash-password --password P                 an argon2id hash for the routing file
  egovctl shep dead-letters [--redis URL] [--recipient SYS] [--redeliver ID|all]   stuck messages, with the reason
  egovctl sms outbox --phone +7XXXXXXXXXX [--url URL | --redis URL --prefix P]   the messages a phone received (one-time codes)
  egovctl up   [--data DIR] [--listen ADDR] [--pace fast|regulation]   the whole stack in one process
  egovctl demo [--gateway URL] [--data DIR] [--iin IIN] [--proof signature|sms]   a citizen's whole journey against a running stack
  egovctl loadtest [--gateway URL] [--data DIR] (--rate R | --concurrency C) [--duration D] [--json FILE]
  egovctl replay DIR [--target URL] [--bus URL] [--junit FILE] [--concurrency N] [--rate R]
                     [--only PATTERN] [--resign-with KEY.p12] [--prove-with KEY.p12] [--password P]   replay a recorded corpus

Times T are RFC 3339 (2026-06-01T09:00:00+05:00) or dates (2026-06-01, UTC midnight).
Run "egovctl COMMAND -h" for the flags of one command.
`

// errUsage marks a command line that cannot be run; it exits with 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		if msg := err.Error(); msg != errUsage.Error() {
			fmt.Fprintln(stderr, "egovctl:", msg)
		}
		return 2
	case errors.Is(err, errRefused):
		return 1
	default:
		fmt.Fprintln(stderr, "egovctl:", err)
		return 1
	}
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "pki":
		if len(args) < 2 {
			fmt.Fprint(stderr, usage)
			return errUsage
		}
		switch args[1] {
		case "init":
			return pkiInit(args[2:], stdout, stderr)
		case "issue":
			return pkiIssue(args[2:], stdout, stderr)
		case "revoke":
			return pkiRevoke(args[2:], stdout, stderr)
		case "crl":
			return pkiCRL(args[2:], stdout, stderr)
		case "ocsp":
			return pkiOCSP(ctx, args[2:], stdout, stderr)
		}
	case "evidence":
		if len(args) >= 2 && args[1] == "verify" {
			return evidenceVerify(ctx, args[2:], stdout, stderr)
		}
		if len(args) >= 2 && args[1] == "export" {
			return evidenceExport(ctx, args[2:], stdout, stderr)
		}
	case "shep":
		if len(args) >= 2 && args[1] == "hash-password" {
			return shepHashPassword(args[2:], stdout, stderr)
		}
		if len(args) >= 2 && args[1] == "dead-letters" {
			return shepDeadLetters(ctx, args[2:], stdout, stderr)
		}
	case "sms":
		if len(args) >= 2 && args[1] == "outbox" {
			return smsOutbox(ctx, args[2:], stdout, stderr)
		}
	case "up":
		return up(ctx, args[1:], stdout, stderr)
	case "demo":
		return demo(ctx, args[1:], stdout, stderr)
	case "replay":
		return replay(ctx, args[1:], stdout, stderr)
	case "loadtest":
		return loadtest(ctx, args[1:], stdout, stderr)
	case "sign":
		return sign(args[1:], stdout, stderr)
	case "verify":
		return verify(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
}

// parseFlags parses a command's flags and insists on the required ones.
func parseFlags(fs *flag.FlagSet, args []string, required ...string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	for _, name := range required {
		if f := fs.Lookup(name); f == nil || f.Value.String() == "" {
			return fmt.Errorf("%w: --%s is required", errUsage, name)
		}
	}
	return nil
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("egovctl "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
