package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/store/storetest"
)

// BenchmarkUpdatePaymentOrder is the apply path's lookup and read of an order by its payment,
// among 5,000 orders that have one and 50 still being created (no payment id yet).
func BenchmarkUpdatePaymentOrder(b *testing.B) {
	db := mustOpen(b)
	ctx := context.Background()
	const n = 5000
	for i := range n + 50 {
		o := storetest.MustOrder(b, db)
		if i >= n {
			continue
		}
		if _, err := db.UpdateOrder(ctx, o.ID, func(o *checkout.Order) (checkout.Change, error) {
			o.PaymentID = fmt.Sprintf("pay-%d", i)
			return checkout.Change{Events: []checkout.Event{{Kind: checkout.EventState, Message: "sent"}}}, nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	noChange := func(*checkout.Order) (checkout.Change, error) { return checkout.Change{}, checkout.ErrNoChange }
	b.ResetTimer()
	for i := range b.N {
		if _, err := db.UpdatePaymentOrder(ctx, fmt.Sprintf("pay-%d", i%n), "12345", noChange); err != nil {
			b.Fatal(err)
		}
	}
}
