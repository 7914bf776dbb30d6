package loadgen

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"egov/internal/redistest"
)

// The counters move by what was done between two reads: commands (the
// reads' own INFO left out), CPU and memory.
func TestRedisStatsCountWhatWasDone(t *testing.T) {
	// A Redis of the test's own: the counters are the server's.
	url, err := redistest.StartServer(t, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := redistest.On(t, url)
	ctx := context.Background()
	before, err := ReadRedisStats(ctx, r.Client)
	if err != nil {
		t.Fatal(err)
	}
	value := strings.Repeat("x", 4096)
	for i := range 200 {
		if err := r.Client.Set(ctx, r.Key("stats", strconv.Itoa(i)), value, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	after, err := ReadRedisStats(ctx, r.Client)
	if err != nil {
		t.Fatal(err)
	}
	d := after.Sub(before)
	if d.Commands < 200 || d.Commands > 210 || d.UsedMemory < 200*4096 || d.CPUSeconds < 0 {
		t.Fatalf("after 200 SETs of 4 KiB: %+v", d)
	}
}
