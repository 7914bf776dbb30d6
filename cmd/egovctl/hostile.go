package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// hostileLoad is the background an attacker adds while the load tool
// measures a citizen's submissions: slow clients that each hold a
// connection by trickling a body that never ends (reconnecting when cut
// off), and a flood of challenge requests. What it counts is printed
// beside the figures.
type hostileLoad struct {
	slowCuts       atomic.Int64 // slow connections the portal cut off
	challenges     atomic.Int64 // challenge requests sent
	challengesOK   atomic.Int64 // of them answered 200
	challenges429  atomic.Int64 // of them refused 429
	challengesFail atomic.Int64 // of them failed otherwise
}

// start runs slow clients and rate challenge requests a second against
// base until ctx ends; wait waits for them to stop.
func (h *hostileLoad) start(ctx context.Context, base string, slow int, rate float64) (wait func()) {
	var wg sync.WaitGroup
	u, err := url.Parse(base)
	if err != nil {
		return func() {}
	}
	for i := 0; i < slow; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); h.trickle(ctx, u.Host) }()
	}
	if rate > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); h.flood(ctx, base, rate) }()
	}
	return wg.Wait
}

// trickle holds one connection: a login that declares 50 MiB and sends a
// byte a second, again whenever the portal cuts it off.
func (h *hostileLoad) trickle(ctx context.Context, host string) {
	var d net.Dialer
	for ctx.Err() == nil {
		conn, err := d.DialContext(ctx, "tcp", host)
		if err != nil {
			sleepCtx(ctx, time.Second)
			continue
		}
		fmt.Fprintf(conn, "POST /api/v1/sessions HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", host, 50<<20)
		for ctx.Err() == nil {
			sleepCtx(ctx, time.Second)
			if _, err := conn.Write([]byte(" ")); err != nil {
				break
			}
			// An answer (408) or a closed connection: cut off.
			_ = conn.SetReadDeadline(time.Now().Add(time.Millisecond))
			if n, err := conn.Read(make([]byte, 1)); n > 0 || err == io.EOF {
				break
			}
		}
		conn.Close()
		if ctx.Err() == nil {
			h.slowCuts.Add(1)
		}
	}
}

// flood asks for challenges at rate a second.
func (h *hostileLoad) flood(ctx context.Context, base string, rate float64) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			h.challengesFail.Add(1) // more than 64 in flight: the portal is not keeping up
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			h.challenges.Add(1)
			req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/auth/challenge", nil)
			resp, err := client.Do(req)
			if err != nil {
				h.challengesFail.Add(1)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusOK:
				h.challengesOK.Add(1)
			case http.StatusTooManyRequests:
				h.challenges429.Add(1)
			default:
				h.challengesFail.Add(1)
			}
		}()
	}
}

func (h *hostileLoad) summary() string {
	return fmt.Sprintf("hostile background: %d slow connections cut off; %d challenge requests: %d answered, %d refused 429, %d failed",
		h.slowCuts.Load(), h.challenges.Load(), h.challengesOK.Load(), h.challenges429.Load(), h.challengesFail.Load())
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
