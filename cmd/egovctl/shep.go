package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/redis/go-redis/v9"

	"egov/shep"
)

// redisFlags adds the flags that name a Redis and a key prefix.
func redisFlags(fs interface {
	String(name, value, usage string) *string
}) (url, prefix *string) {
	url = fs.String("redis", os.Getenv("EGOV_REDIS_URL"), "Redis URL (default $EGOV_REDIS_URL)")
	prefix = fs.String("prefix", "", "key prefix the bus runs with")
	return url, prefix
}

func openRedis(url string) (*redis.Client, error) {
	if url == "" {
		return nil, fmt.Errorf("%w: --redis or EGOV_REDIS_URL is required", errUsage)
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("%w: --redis: %v", errUsage, err)
	}
	return redis.NewClient(opt), nil
}

func evidenceVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("evidence verify", stderr)
	url, prefix := redisFlags(fs)
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
