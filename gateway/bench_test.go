package gateway_test

import (
	"context"
	"testing"
	"time"

	"egov"
	"egov/gateway"
	"egov/internal/redistest"
)

// BenchmarkDueDate is the working-time computation of an acceptance notice.
func BenchmarkDueDate(b *testing.B) {
	cal, err := gateway.DefaultCalendar()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Date(2026, 12, 15, 17, 45, 0, 0, egov.Almaty) // across Independence Day
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		cal.AddWorkingTime(start, 3*gateway.WorkingDay)
	}
}

// BenchmarkCabinet files messages and reads the newest page, on real Redis.
func BenchmarkCabinet(b *testing.B) {
	r := redistest.New(b)
	app, err := gateway.New(r.Client, gateway.Config{KeyPrefix: r.Prefix})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("write", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := app.FileForBenchmark(ctx, "791028302728"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("page-of-20", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := app.Cabinet(ctx, "791028302728", "", 20, false); err != nil {
				b.Fatal(err)
			}
		}
	})
}
