package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/pflag"

	"egov/internal/redisconn"
	"egov/shep"
)

// redisFlags adds the flags that name a Redis and a key prefix.
func redisFlags(fs *pflag.FlagSet) (url, prefix *string) {
	url = fs.String("redis", "", "Redis URL")
	prefix = fs.String("prefix", "", "key prefix the bus runs with")
	check(fs, validRedisURL, "redis")
	return url, prefix
}

// dataFlag adds --data: the data directory of egovctl up, whose stack.json
// gives the flags fromStack names when nothing else does.
func dataFlag(fs *pflag.FlagSet) *string {
	return fs.String("data", "data", "the data directory of a running egovctl up (its stack.json)")
}

func openRedis(url string) (*redis.Client, error) {
	if url == "" {
		return nil, fmt.Errorf("%w: --redis or EGOV_REDIS_URL is required (or --data of a running egovctl up)", errUsage)
	}
	rdb, err := redisconn.Open(url)
	if err != nil {
		return nil, fmt.Errorf("%w: --redis: %v", errUsage, err)
	}
	return rdb, nil
}

func evidenceVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("evidence verify", stderr)
	url, prefix := redisFlags(fs)
	dataFlag(fs)
	fromStack(fs, "redis", "redis", "prefix", "prefix")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rdb, err := openRedis(*url)
	if err != nil {
		return err
	}
	defer rdb.Close()
	rep, err := shep.VerifyEvidence(ctx, rdb, *prefix)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return err
	}
	if !rep.Intact {
		return errRefused
	}
	return nil
}

func evidenceExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("evidence export", stderr)
	url, prefix := redisFlags(fs)
	dataFlag(fs)
	fromStack(fs, "redis", "redis", "prefix", "prefix")
	out := fs.String("out", "-", "file to write JSON lines to (- for stdout)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rdb, err := openRedis(*url)
	if err != nil {
		return err
	}
	defer rdb.Close()
	w := stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	n, err := shep.ExportEvidence(ctx, rdb, *prefix, w)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "exported %d records\n", n)
	return nil
}

func shepHashPassword(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("shep hash-password", stderr)
	password := fs.String("password", "", "a system's password for the routing file")
	if err := parseFlags(fs, args, "password"); err != nil {
		return err
	}
	h, err := shep.HashPassword(*password)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, h)
	return nil
}

// shepDeadLetters lists the messages the bus stopped delivering, with the
// reason, and hands them out again on request.
func shepDeadLetters(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("shep dead-letters", stderr)
	url, prefix := redisFlags(fs)
	routing := fs.String("routing", "", "routing table: whose queues to look at (default: the built-in one, as fixtures/shep/routing.json)")
	recipient := fs.String("recipient", "", "only this system's queue")
	redeliver := fs.String("redeliver", "", `hand this message id out again ("all": every one listed)`)
	dataFlag(fs)
	fromStack(fs, "redis", "redis", "prefix", "prefix")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	routes, err := loadRouting(*routing)
	if err != nil {
		return err
	}
	rdb, err := openRedis(*url)
	if err != nil {
		return err
	}
	defer rdb.Close()
	var systems []string
	for id := range routes.Systems {
		if *recipient == "" || id == *recipient {
			systems = append(systems, id)
		}
	}
	sort.Strings(systems)
	found := 0
	for _, sys := range systems {
		letters, err := shep.DeadLetters(ctx, rdb, *prefix, sys)
		if err != nil {
			return err
		}
		for _, d := range letters {
			found++
			fmt.Fprintf(stdout, "%s  %s  to %s from %s  %s %s  correlation %s  reason %s", d.StoppedAt.Format(time.RFC3339), d.MessageID,
				d.Recipient, d.Info.Sender.SenderID, d.Info.ServiceID, d.Info.MessageType, d.Info.CorrelationID, d.Reason)
			if d.LastError != "" {
				fmt.Fprintf(stdout, " (last refusal: %s)", d.LastError)
			}
			fmt.Fprintln(stdout)
			if *redeliver == "all" || *redeliver == d.MessageID {
				if err := shep.Redeliver(ctx, rdb, *prefix, sys, d.MessageID); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "  handed out again\n")
			}
		}
	}
	fmt.Fprintf(stderr, "%d dead letters\n", found)
	return nil
}
