package checkout

import (
	"context"
	"strings"
)

// CanCancel reports whether a merchant may still cancel o: while the customer has not approved.
func (o Order) CanCancel() bool {
	return o.State == StateCreating || o.State == StateWaiting || o.State == StateOnHold
}

// CancelOrder ends an order the customer has not approved yet, on the merchant's request (by
// names who, for the timeline). It returns ENotFound for an unknown order and EConflict when
// the order can no longer be canceled. A payment completed anyway is kept and flagged late.
func (s *Service) CancelOrder(ctx context.Context, id int64, by string) (Order, error) {
	up, err := s.store.UpdateOrder(ctx, id, func(o *Order) (Change, error) {
		if !o.CanCancel() {
			return Change{}, Errorf(EConflict, "Order #%s is %s: only an order the customer has not approved yet can be canceled.",
				o.Number(), strings.ToLower(o.State.Label()))
		}
		msg := "Canceled by the merchant."
		if by != "" {
			msg = "Canceled by " + by + "."
		}
		return s.end(o, StateCanceled, msg), nil
	})
	if err != nil {
		return Order{}, err
	}
	s.publish(up)
	return up.Order, nil
}
