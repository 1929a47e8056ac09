package notify_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/notify"
)

// A notification's order names the shop's currency, as the API does.
func TestRenderNamesTheShopsCurrency(t *testing.T) {
	o := checkout.Order{ID: 3, Token: "tok", Amount: 1250, State: checkout.StatePaid}
	body, err := notify.Render(notify.NewSnapshot(notify.OrderPaid, time.Now(), o).JSON(), "https://pay.example", "EUR")
	if err != nil {
		t.Fatal(err)
	}
	var b notify.Body
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatal(err)
	}
	if b.Data.Currency != "EUR" || b.Data.Amount != "12.50" {
		t.Errorf("got %s %s, want 12.50 EUR", b.Data.Amount, b.Data.Currency)
	}
}
