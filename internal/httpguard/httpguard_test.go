package httpguard_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"egov/internal/httpguard"
)

// serve runs h behind the guard on a real socket with small budgets.
func serve(t *testing.T, h http.Handler, l httpguard.Limits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httpguard.Server(h, l)
	go srv.Serve(ln)
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

var small = httpguard.Limits{ReadHeaderTimeout: time.Second, BodyGrace: 300 * time.Millisecond, MinBodyRate: 1000,
	WriteTimeout: 500 * time.Millisecond, IdleTimeout: time.Second}

// readAll answers 200 with the body's size, or 408 when it came too slowly.
var readAll = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	n, err := io.Copy(io.Discard, r.Body)
	if httpguard.IsTooSlow(err) {
		w.WriteHeader(http.StatusRequestTimeout)
		return
	}
	fmt.Fprint(w, n)
})

// cutWithin reports whether the server ends the connection (answers and
// closes, or closes) before the bound, with what it answered.
func cutWithin(t *testing.T, conn net.Conn, bound time.Duration) string {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(bound))
	data, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the connection was still open after %s (got %q)", bound, data)
	}
	return string(data)
}

func TestSlowAndIdleBodiesAreCutOff(t *testing.T) {
	addr := serve(t, readAll, small)
	tests := []struct {
		name string
		send func(net.Conn)
	}{
		{"idle after the headers", func(net.Conn) {}},
		{"a byte at a time", func(c net.Conn) {
			for i := 0; i < 100; i++ {
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
			go tt.send(conn)
			// 100,000 bytes at the minimum rate of 1,000 a second would be
			// 100 s; the guard cuts the trickle long before.
			got := cutWithin(t, conn, 20*time.Second)
			if !strings.HasPrefix(got, "HTTP/1.1 408") && got != "" {
				t.Fatalf("answered %q", got)
			}
		})
	}
}

func TestSlowHeadersAreCutOff(t *testing.T) {
	addr := serve(t, readAll, small)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\n") // and never the blank line
	cutWithin(t, conn, 20*time.Second)
}

// A body that came in time leaves no deadline behind: a handler that works
// on after reading it (a long poll) keeps its request alive.
func TestFastBodyThenLongHandlerKeepsItsRequest(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			w.WriteHeader(http.StatusRequestTimeout)
			return
		}
		select {
		case <-time.After(2 * small.BodyGrace):
			fmt.Fprint(w, "done")
		case <-r.Context().Done():
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	addr := serve(t, h, small)
	resp, err := http.Post("http://"+addr+"/poll", "text/plain", strings.NewReader("amount=10"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "done" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
}

// A request with both Content-Length and Transfer-Encoding is answered
// and its connection closed: a second request hidden behind its chunked
// body is never served.
func TestChunkedRequestClosesItsConnection(t *testing.T) {
	var smuggled atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/smuggled" {
			smuggled.Add(1)
		}
		_, _ = io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, "ok")
	})
	addr := serve(t, h, small)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hidden := "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	body := "0\r\n\r\n" + hidden
	fmt.Fprintf(conn, "POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n%s", len(body), body)
	got := cutWithin(t, conn, 10*time.Second)
	if strings.Count(got, "HTTP/1.1 ") != 1 || !strings.Contains(got, "Connection: close") || smuggled.Load() != 0 {
		t.Fatalf("answers %q, smuggled requests served %d", got, smuggled.Load())
	}
}

// A client that does not read its answer cannot hold the writer longer
// than the write timeout.
func TestUnreadAnswerIsCutOff(t *testing.T) {
	wrote := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 1<<20)
		for i := 0; i < 256; i++ {
			if _, err := w.Write(chunk); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	})
	addr := serve(t, h, small)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	_, _ = bufio.NewReader(conn).Peek(1) // read a little, then stop reading
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	select {
	case err := <-wrote:
		if err == nil {
			t.Fatal("256 MiB written to a client that reads nothing")
		}
	case <-ctx.Done():
		t.Fatal("the writer was still blocked")
	}
}

// A handler that refuses without reading the body leaves the server to
// discard it before it answers: that read is bounded too, so the refusal
// reaches a client that declared a body and sends nothing.
func TestRefusalWithoutReadingTheBodyIsAnswered(t *testing.T) {
	refuse := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusRequestEntityTooLarge) })
	addr := serve(t, refuse, small)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{")
	cutWithin(t, conn, 20*time.Second)
}
