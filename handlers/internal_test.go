package handlers

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/banq-checkout/checkout/store"
)

func TestBucketsRefill(t *testing.T) {
	b := newBuckets(Rate{PerSecond: 2, Burst: 3})
	now := time.Unix(1_700_000_000, 0)
	for i := 0; i < 3; i++ {
		if w := b.take("a", now); w != 0 {
			t.Fatalf("take %d of the burst: got wait %v, want 0", i+1, w)
		}
	}
	if w := b.take("a", now); w != 500*time.Millisecond {
		t.Fatalf("past the burst: got wait %v, want 500ms (one token at 2/s)", w)
	}
	if w := b.take("b", now); w != 0 {
		t.Fatalf("another address: got wait %v, want 0 (buckets are per address)", w)
	}
	// A refused take spends nothing.
	if w := b.take("a", now.Add(250*time.Millisecond)); w != 250*time.Millisecond {
		t.Fatalf("take after 250ms: got wait %v, want 250ms", w)
	}
	if w := b.take("a", now.Add(500*time.Millisecond)); w != 0 {
		t.Fatalf("after 500ms: got wait %v, want 0 (refilled one)", w)
	}
	if w := b.take("a", now.Add(time.Hour)); w != 0 {
		t.Fatalf("an hour later: got wait %v, want 0", w)
	}
}

func TestBucketsStayBounded(t *testing.T) {
	b := newBuckets(Rate{PerSecond: 1, Burst: 1})
	now := time.Unix(1_700_000_000, 0)
	for i := 0; i < 3*maxBuckets; i++ {
		b.take(strconv.Itoa(i), now.Add(time.Duration(i)*time.Millisecond))
	}
	if n := len(b.m); n > maxBuckets {
		t.Fatalf("%d buckets kept, want at most %d", n, maxBuckets)
	}
}

func TestSignInLimitsDefaults(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "checkout.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Unix(1_700_000_000, 0)
	l := newAttemptLimiter(st, func() time.Time { return now }, SignInLimits{})
	if got := l.limits; got != (SignInLimits{PerAddress: 20, PerAccount: 5, Delay: time.Minute, Window: 15 * time.Minute}) {
		t.Fatalf("defaults: %+v; want 20 per address, 5 per account at an address, 1m doubling up to 15m", got)
	}
	ctx := context.Background()
	blocked := func(ip, user string) time.Duration {
		t.Helper()
		w, err := l.blocked(ctx, ip, user)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	fail := func(ip, user string) {
		t.Helper()
		if err := l.fail(ctx, ip, user); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 4; i++ {
		fail("192.0.2.1", "ada@example.test")
	}
	if w := blocked("192.0.2.1", "ada@example.test"); w != 0 {
		t.Fatalf("after 4 failures: blocked for %v, want not blocked", w)
	}
	fail("192.0.2.1", "ada@example.test")
	if w := blocked("192.0.2.1", "ada@example.test"); w != time.Minute {
		t.Fatalf("after 5 failures: blocked for %v, want 1m", w)
	}
	if w := blocked("192.0.2.2", "ada@example.test"); w != 0 {
		t.Fatalf("after 5 failures at another address: blocked for %v, want not blocked (the owner is not locked out)", w)
	}
	// Each failure after doubles the lock, up to the window.
	for _, want := range []time.Duration{2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute} {
		now = now.Add(blocked("192.0.2.1", "ada@example.test"))
		fail("192.0.2.1", "ada@example.test")
		if w := blocked("192.0.2.1", "ada@example.test"); w != want {
			t.Fatalf("after a further failure: blocked for %v, want %v", w, want)
		}
	}
	// Quiet for the window: forgotten.
	now = now.Add(15*time.Minute + time.Second)
	if w := blocked("192.0.2.1", "ada@example.test"); w != 0 {
		t.Fatalf("after a quiet window: blocked for %v, want not blocked", w)
	}
	for i := 0; i < 20; i++ {
		fail("192.0.2.3", "user"+strconv.Itoa(i)+"@example.test")
	}
	if w := blocked("192.0.2.3", "new@example.test"); w != 15*time.Minute {
		t.Fatalf("after 20 failures from one address: blocked for %v, want 15m (per address)", w)
	}
}

func TestAboutMinutes(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Second: "1 minute", time.Minute: "1 minute", 61 * time.Second: "2 minutes", 15 * time.Minute: "15 minutes",
	} {
		if got := aboutMinutes(d); got != want {
			t.Errorf("aboutMinutes(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestDummyHashHasTheUsersCost(t *testing.T) {
	// An unknown email is compared against the dummy: at another cost than the users' hashes,
	// the answer time would tell which emails exist.
	for _, cost := range []int{bcrypt.MinCost, bcrypt.MinCost + 2, bcrypt.DefaultCost} {
		h := New(Config{PasswordCost: cost}, nil, nil, nil, nil)
		if got, err := bcrypt.Cost(h.dummyHash); err != nil || got != cost {
			t.Errorf("dummy hash cost %d (%v), want %d", got, err, cost)
		}
	}
}
