// Package loopback finds free TCP ports on 127.0.0.1 for tests that must
// name a port before a process binds it (a child process, a server
// restarted on the same address).
//
// A port the kernel hands out for "127.0.0.1:0" comes from the ephemeral
// range, the same range every outgoing connection's source port comes
// from: once the probe closes it, the next Redis connection of any test
// binary running beside this one may take it. Ports are therefore chosen
// at random below that range, where only listeners that name their port
// live.
package loopback

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// lowest is the first port chosen: above the well-known and the commonly
// configured service ports.
const lowest = 10000

// Port returns a loopback port that nothing listened on a moment ago and
// that no outgoing connection will be given.
func Port() (int, error) {
	highest := ephemeralStart() - 1
	if highest <= lowest {
		return 0, fmt.Errorf("loopback: no ports below the ephemeral range (it starts at %d)", highest+1)
	}
	for range 64 {
		if port := lowest + rand.IntN(highest-lowest+1); free(port) {
			return port, nil
		}
	}
	return 0, errors.New("loopback: 64 random ports below the ephemeral range were all taken")
}

// PortWith returns a port p such that p and p+offset are both free and
// below the ephemeral range: a Redis Cluster node listens on p and talks
// to the other nodes on p+10000.
func PortWith(offset int) (int, error) {
	highest := ephemeralStart() - 1 - offset
	if highest <= lowest {
		return 0, fmt.Errorf("loopback: no port pairs %d apart below the ephemeral range", offset)
	}
	for range 64 {
		port := lowest + rand.IntN(highest-lowest+1)
		if free(port) && free(port+offset) {
			return port, nil
		}
	}
	return 0, errors.New("loopback: 64 random port pairs below the ephemeral range were all taken")
}

func free(port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

// Addr is Port as "127.0.0.1:PORT".
func Addr() (string, error) {
	port, err := Port()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}

// ephemeralStart reads where Linux starts handing out source ports; 32768
// (Linux's default) where that cannot be read.
func ephemeralStart() int {
	raw, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	fields := strings.Fields(string(raw))
	if len(fields) != 2 {
		return 32768
	}
	start, err := strconv.Atoi(fields[0])
	if err != nil || start <= 0 {
		return 32768
	}
	return start
}
