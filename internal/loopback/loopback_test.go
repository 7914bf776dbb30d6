package loopback

import (
	"net"
	"strconv"
	"testing"
)

// The ports chosen lie below the range outgoing connections draw from, and
// are free.
func TestPortIsFreeAndBelowTheEphemeralRange(t *testing.T) {
	start := ephemeralStart()
	for range 50 {
		port, err := Port()
		if err != nil {
			t.Fatal(err)
		}
		if port < lowest || port >= start {
			t.Fatalf("port %d outside [%d, %d)", port, lowest, start)
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Fatalf("port %d is not free: %v", port, err)
		}
		ln.Close()
	}
}

// An outgoing connection's source port is never one Port would give.
func TestOutgoingConnectionsUseTheEphemeralRange(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if p := c.LocalAddr().(*net.TCPAddr).Port; p < ephemeralStart() {
		t.Fatalf("source port %d below the ephemeral range start %d: Port's choice could collide", p, ephemeralStart())
	}
}

func TestPortWithLeavesRoomForTheOffset(t *testing.T) {
	for range 20 {
		port, err := PortWith(10000)
		if err != nil {
			t.Fatal(err)
		}
		if port < lowest || port+10000 >= ephemeralStart() {
			t.Fatalf("port %d and %d: not both in [%d, %d)", port, port+10000, lowest, ephemeralStart())
		}
	}
}
