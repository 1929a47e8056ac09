package notify_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/notify"
	"github.com/banq-checkout/checkout/store"
)

func newManager(t *testing.T, now *time.Time) *notify.Manager {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "n.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return notify.NewManager(db, notify.Policy{}, func() time.Time { return *now }, nil)
}

// A rotated secret keeps signing beside the new one for a day, so the shop can switch over.
func TestRotateKeepsTheOldSecretForADay(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	m := newManager(t, &now)
	ctx := context.Background()
	e, err := m.Create(ctx, notify.Input{URL: "https://shop.example/hook"})
	if err != nil {
		t.Fatal(err)
	}
	old := e.Secret
	r, err := m.RotateSecret(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Secret == old {
		t.Fatal("rotation kept the secret")
	}
	body := []byte(`{}`)
	sig, _ := notify.Sign("msg_1", now, body, r.Secrets(now)...)
	h := http.Header{}
	h.Set(notify.HeaderID, "msg_1")
	h.Set(notify.HeaderTimestamp, itoa(now.Unix()))
	h.Set(notify.HeaderSignature, sig)
	for name, s := range map[string]string{"old": old, "new": r.Secret} {
		if err := notify.Verify(s, h, body, now); err != nil {
			t.Errorf("during the overlap a receiver with the %s secret cannot verify: %v", name, err)
		}
	}
	later := now.Add(notify.RotationOverlap + time.Second)
	if got := r.Secrets(later); len(got) != 1 || got[0] != r.Secret {
		t.Errorf("a day later it signs with %d secrets, want only the new one", len(got))
	}
}

func TestManagerValidates(t *testing.T) {
	now := time.Now()
	m := newManager(t, &now)
	_, err := m.Create(context.Background(), notify.Input{URL: "http://shop.example", Types: []string{"order.shipped"}})
	var ce *checkout.Error
	if !errors.As(err, &ce) || ce.Code != checkout.EInvalid || ce.Fields["url"] == "" || ce.Fields["types"] == "" {
		t.Fatalf("got %v, want EInvalid naming url and types", err)
	}
	e, err := m.Create(context.Background(), notify.Input{URL: "https://shop.example", Types: notify.EventTypes})
	if err != nil || len(e.Types) != 0 || !e.Wants("order.paid") {
		t.Fatalf("every type ticked should mean all: %+v, %v", e, err)
	}
}
