package handlers

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// Rate is a token bucket: Burst requests at once, refilled at PerSecond.
type Rate struct {
	PerSecond float64
	Burst     int
}

// maxBuckets bounds the memory of a limiter facing many addresses.
const maxBuckets = 10_000

// buckets keeps one token bucket per key (a client address).
type buckets struct {
	mu   sync.Mutex
	rate Rate
	m    map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newBuckets(r Rate) *buckets {
	return &buckets{rate: r, m: map[string]*bucket{}}
}

// level returns key's bucket refilled up to now, creating a full one when there is none.
func (b *buckets) level(key string, now time.Time) *bucket {
	k, ok := b.m[key]
	if !ok {
		if len(b.m) >= maxBuckets {
			b.prune(now)
		}
		k = &bucket{tokens: float64(b.rate.Burst), at: now}
		b.m[key] = k
		return k
	}
	if now.After(k.at) {
		k.tokens = min(float64(b.rate.Burst), k.tokens+now.Sub(k.at).Seconds()*b.rate.PerSecond)
		k.at = now
	}
	return k
}

// prune forgets the buckets that are full again (a new one would be the same); if that is not
// enough, it forgets them all rather than grow without end.
func (b *buckets) prune(now time.Time) {
	for key, k := range b.m {
		if float64(b.rate.Burst) <= k.tokens+now.Sub(k.at).Seconds()*b.rate.PerSecond {
			delete(b.m, key)
		}
	}
	if len(b.m) >= maxBuckets {
		clear(b.m)
	}
}

// take spends one of key's tokens and returns 0, or returns how long until one is available
// (spending nothing).
func (b *buckets) take(key string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := b.level(key, now)
	if k.tokens >= 1 {
		k.tokens--
		return 0
	}
	return b.until(k)
}

func (b *buckets) until(k *bucket) time.Duration {
	if b.rate.PerSecond <= 0 {
		return time.Hour
	}
	return time.Duration((1 - k.tokens) / b.rate.PerSecond * float64(time.Second))
}

// tooMany answers 429 with Retry-After in whole seconds (at least 1), so that a client that
// honours it, like Banq's webhook retries, comes back when it will be let in.
func tooMany(c echo.Context, wait time.Duration, msg string) error {
	secs := int64(math.Ceil(wait.Seconds()))
	c.Response().Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	return echo.NewHTTPError(http.StatusTooManyRequests, msg)
}
