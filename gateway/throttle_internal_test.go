package gateway

import "testing"

// TestClientKeys: which address and network a client counts against.
func TestClientKeys(t *testing.T) {
	tests := []struct {
		ip            string
		v4, v6        int
		addr, network string
	}{
		{"192.0.2.77", 24, 64, "192.0.2.77", "192.0.2.0/24"},
		{"192.0.2.77", 16, 64, "192.0.2.77", "192.0.0.0/16"},
		{"::ffff:192.0.2.77", 24, 64, "192.0.2.77", "192.0.2.0/24"}, // IPv4 in IPv6 is IPv4
		{"2001:db8:1:2:3:4:5:6", 24, 64, "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:3:4:5:6", 24, 48, "2001:db8:1:2:3:4:5:6", "2001:db8:1::/48"},
		{"fe80::1%eth0", 24, 64, "fe80::1", "fe80::/64"},
		{"not an address", 24, 64, "unparsed-not_an_address", "unparsed"},
	}
	for _, tt := range tests {
		addr, network := clientKeys(tt.ip, tt.v4, tt.v6)
		if addr != tt.addr || network != tt.network {
			t.Errorf("%s (/%d, /%d): %s in %s, want %s in %s", tt.ip, tt.v4, tt.v6, addr, network, tt.addr, tt.network)
		}
	}
}
