// Package redisconn opens the Redis connection of the stack's programs
// with timeouts fit for a service: when Redis is unreachable, a command
// fails within about two seconds instead of holding a citizen's request
// for the client library's defaults (3 s reads, three retries).
package redisconn

import (
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults applied unless the URL sets them (dial_timeout, read_timeout,
// write_timeout, max_retries query parameters; protocol, 2 unless set).
const (
	DialTimeout  = time.Second
	ReadTimeout  = time.Second
	WriteTimeout = time.Second
	MaxRetries   = 1
	// Protocol is RESP2: the stack uses no push messages or client-side
	// caching, and with RESP3 the client looks for pending push
	// notifications around every command (2% of the portal's CPU under load).
	Protocol = 2
)

// Open parses a redis:// URL and returns a client that also honours the
// deadlines of its callers' contexts.
func Open(rawURL string) (*redis.Client, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	if !q.Has("dial_timeout") {
		opt.DialTimeout = DialTimeout
	}
	if !q.Has("read_timeout") {
		opt.ReadTimeout = ReadTimeout
	}
	if !q.Has("write_timeout") {
		opt.WriteTimeout = WriteTimeout
	}
	if !q.Has("max_retries") {
		opt.MaxRetries = MaxRetries
	}
	if !q.Has("protocol") {
		opt.Protocol = Protocol
	}
	opt.ContextTimeoutEnabled = true
	return redis.NewClient(opt), nil
}
