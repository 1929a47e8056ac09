package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// Faults are the sandbox's deliberate misbehaviours. Rates are shares between 0 and 1. In JSON the
// durations are Go duration strings ("250ms", "2s"); a bare number is read as nanoseconds.
type Faults struct {
	// Seed seeds the fault RNG so that a run is reproducible. Setting faults reseeds it.
	Seed int64 `json:"seed"`
	// DropWebhooks is the share of webhook deliveries silently dropped (never sent, logged as dropped).
	DropWebhooks float64 `json:"dropWebhooks"`
	// DuplicateWebhooks is the share of webhooks delivered twice (same webhook id).
	DuplicateWebhooks float64 `json:"duplicateWebhooks"`
	// DelayWebhooks makes each delivery wait a random 0..DelayWebhooks first, so that deliveries
	// arrive late and out of order.
	DelayWebhooks time.Duration `json:"delayWebhooks"`
	// APILatency is added to every API call (token included).
	APILatency time.Duration `json:"apiLatency"`
	// APIErrorRate is the share of API calls (token excluded) answered 500 or 503 without doing anything.
	APIErrorRate float64 `json:"apiErrorRate"`
	// CreateErrorAfterRate is the share of create calls that do the work, store the idempotent
	// answer, and then answer 503: the "timeout after commit" case.
	CreateErrorAfterRate float64 `json:"createErrorAfterRate"`
	// TokenErrorRate is the share of token calls answered 503.
	TokenErrorRate float64 `json:"tokenErrorRate"`
	// TokenTTL, when > 0, overrides Config.TokenTTL for tokens issued from now on.
	TokenTTL time.Duration `json:"tokenTTL"`
}

// Validate reports the first rate outside 0..1 or negative duration.
func (f Faults) Validate() error {
	var errs []error
	for _, r := range []struct {
		name string
		v    float64
	}{
		{"dropWebhooks", f.DropWebhooks}, {"duplicateWebhooks", f.DuplicateWebhooks},
		{"apiErrorRate", f.APIErrorRate}, {"createErrorAfterRate", f.CreateErrorAfterRate},
		{"tokenErrorRate", f.TokenErrorRate},
	} {
		if !(r.v >= 0 && r.v <= 1) { // also catches NaN
			errs = append(errs, fmt.Errorf("%s must be between 0 and 1, got %v", r.name, r.v))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"delayWebhooks", f.DelayWebhooks}, {"apiLatency", f.APILatency}, {"tokenTTL", f.TokenTTL},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %v", d.name, d.v))
		}
	}
	return errors.Join(errs...)
}

// faultsJSON is Faults with durations as strings.
type faultsJSON struct {
	Seed                 int64    `json:"seed"`
	DropWebhooks         float64  `json:"dropWebhooks"`
	DuplicateWebhooks    float64  `json:"duplicateWebhooks"`
	DelayWebhooks        duration `json:"delayWebhooks"`
	APILatency           duration `json:"apiLatency"`
	APIErrorRate         float64  `json:"apiErrorRate"`
	CreateErrorAfterRate float64  `json:"createErrorAfterRate"`
	TokenErrorRate       float64  `json:"tokenErrorRate"`
	TokenTTL             duration `json:"tokenTTL"`
}

// MarshalJSON writes durations as Go duration strings.
func (f Faults) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultsJSON{
		Seed: f.Seed, DropWebhooks: f.DropWebhooks, DuplicateWebhooks: f.DuplicateWebhooks,
		DelayWebhooks: duration(f.DelayWebhooks), APILatency: duration(f.APILatency),
		APIErrorRate: f.APIErrorRate, CreateErrorAfterRate: f.CreateErrorAfterRate,
		TokenErrorRate: f.TokenErrorRate, TokenTTL: duration(f.TokenTTL),
	})
}

// UnmarshalJSON reads durations as Go duration strings or nanoseconds. Absent fields are zero.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var j faultsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*f = Faults{
		Seed: j.Seed, DropWebhooks: j.DropWebhooks, DuplicateWebhooks: j.DuplicateWebhooks,
		DelayWebhooks: time.Duration(j.DelayWebhooks), APILatency: time.Duration(j.APILatency),
		APIErrorRate: j.APIErrorRate, CreateErrorAfterRate: j.CreateErrorAfterRate,
		TokenErrorRate: j.TokenErrorRate, TokenTTL: time.Duration(j.TokenTTL),
	}
	return nil
}

type duration time.Duration

func (d duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *duration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			*d = 0
			return nil
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = duration(v)
		return nil
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("duration %s: want a string like \"250ms\" or integer nanoseconds", b)
	}
	*d = duration(v)
	return nil
}

// SetFaults replaces the faults in force and reseeds the fault RNG from f.Seed. Invalid rates are
// clamped to 0..1 and negative durations to 0.
func (s *Sandbox) SetFaults(f Faults) {
	clamp := func(v float64) float64 {
		if !(v > 0) { // NaN too
			return 0
		}
		return min(v, 1)
	}
	f.DropWebhooks = clamp(f.DropWebhooks)
	f.DuplicateWebhooks = clamp(f.DuplicateWebhooks)
	f.APIErrorRate = clamp(f.APIErrorRate)
	f.CreateErrorAfterRate = clamp(f.CreateErrorAfterRate)
	f.TokenErrorRate = clamp(f.TokenErrorRate)
	f.DelayWebhooks = max(f.DelayWebhooks, 0)
	f.APILatency = max(f.APILatency, 0)
	f.TokenTTL = max(f.TokenTTL, 0)

	s.faultsMu.Lock()
	defer s.faultsMu.Unlock()
	s.faults = f
	s.rng = rand.New(rand.NewPCG(uint64(f.Seed), uint64(f.Seed)^0x9e3779b97f4a7c15))
	s.log.Info("sandbox faults set", "faults", f)
}

// Faults returns the faults in force.
func (s *Sandbox) Faults() Faults {
	s.faultsMu.Lock()
	defer s.faultsMu.Unlock()
	return s.faults
}

// roll draws whether a fault with the share picked from the faults in force happens.
func (s *Sandbox) roll(share func(Faults) float64) bool {
	s.faultsMu.Lock()
	defer s.faultsMu.Unlock()
	p := share(s.faults)
	if p <= 0 {
		return false
	}
	return s.rng.Float64() < p
}

// randDuration draws a duration in [0, the one picked from the faults in force].
func (s *Sandbox) randDuration(pick func(Faults) time.Duration) time.Duration {
	s.faultsMu.Lock()
	defer s.faultsMu.Unlock()
	d := pick(s.faults)
	if d <= 0 {
		return 0
	}
	return time.Duration(s.rng.Int64N(int64(d) + 1))
}

// pick draws n in [0, n) from the fault RNG.
func (s *Sandbox) pick(n int) int {
	s.faultsMu.Lock()
	defer s.faultsMu.Unlock()
	return s.rng.IntN(n)
}
