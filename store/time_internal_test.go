package store

import (
	"testing"
	"time"
)

// referenceParse is parseTime as it was: time.Parse, the zero time for anything it refuses.
func referenceParse(s string) time.Time {
	t, _ := time.Parse(timeFormat, s)
	return t
}

var storedTimes = []string{"", "2026-12-02T07:13:20.123456789Z", "2024-02-29T23:59:59.999999999Z",
	"2025-02-29T00:00:00.000000000Z", "2100-02-29T00:00:00.000000000Z", "2000-02-29T12:00:00.000000000Z",
	"2026-04-31T00:00:00.000000000Z", "2026-04-30T00:00:00.000000000Z", "2026-12-31T24:00:00.000000000Z",
	"2026-12-31T23:60:00.000000000Z", "2026-12-31T23:59:60.000000000Z", "2026-00-10T00:00:00.000000000Z",
	"2026-13-10T00:00:00.000000000Z", "2026-01-00T00:00:00.000000000Z", "0000-01-01T00:00:00.000000000Z",
	"9999-12-31T23:59:59.999999999Z", "-001-01-01T00:00:00.000000000Z", "+001-01-01T00:00:00.000000000Z",
	"2026-1-02T07:13:20.123456789ZZ", "2026-12-02T07:13:20.12345678Z", "2026-12-02T07:13:20.123456789+",
	"2026-12-02 07:13:20.123456789Z", "2026-12-02T07:13:20,123456789Z", "2026-12-02T07:13:2x.123456789Z",
	"2026-12-02T07:13:20.12345678xZ", "2026-12-02T07:13:20Z", "2026-12-02T07:13:20.123456789Z "}

// parseTime reads what time.Parse reads, to the nanosecond, and refuses what it refuses.
func TestParseTimeAsTimeParse(t *testing.T) {
	for _, s := range storedTimes {
		if got, want := parseTime(s), referenceParse(s); got != want {
			t.Errorf("parseTime(%q) = %v, want %v", s, got, want)
		}
	}
	for _, at := range []time.Time{time.Date(2026, 12, 2, 7, 13, 20, 1, time.FixedZone("CET", 3600)), time.Unix(0, 0),
		time.Unix(1<<33, 999_999_999)} {
		if got := parseTime(formatTime(at)); !got.Equal(at) || got.Location() != time.UTC {
			t.Errorf("parseTime(formatTime(%v)) = %v, want the same instant in UTC", at, got)
		}
	}
}

func FuzzParseTime(f *testing.F) {
	for _, s := range storedTimes {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := parseTime(s), referenceParse(s); got != want {
			t.Fatalf("parseTime(%q) = %v, want %v", s, got, want)
		}
	})
}

func BenchmarkParseTime(b *testing.B) {
	for b.Loop() {
		parseTime("2026-12-02T07:13:20.123456789Z")
	}
}

func BenchmarkTimeParse(b *testing.B) {
	for b.Loop() {
		referenceParse("2026-12-02T07:13:20.123456789Z")
	}
}
