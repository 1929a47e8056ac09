package api

import (
	"time"

	"github.com/banq-checkout/checkout/checkout"
)

// Order is an order as the API answers it, and as the shop's notifications carry it.
type Order struct {
	ID          string            `json:"id"`
	Reference   *string           `json:"reference"`
	State       checkout.State    `json:"state"`
	Amount      string            `json:"amount"`
	Currency    string            `json:"currency"`
	Description string            `json:"description"`
	Metadata    map[string]string `json:"metadata"`
	PayerBanq   *string           `json:"payer_banq"`
	PayURL      string            `json:"pay_url"`
	PaymentLink *string           `json:"payment_link"`
	ReturnURL   *string           `json:"return_url"`
	CancelURL   *string           `json:"cancel_url"`
	CreatedAt   time.Time         `json:"created_at"`
	ExpiresAt   time.Time         `json:"expires_at"`
	PaidAt      *time.Time        `json:"paid_at"`
	Late        bool              `json:"late"`
	Error       *string           `json:"error"`
	// Seq grows with every change of the order: of two views of one order, the one with the
	// higher seq is the newer (notifications arrive at least once and not always in order).
	Seq int64 `json:"seq"`
}

func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// NewOrder is o as the API shows it; publicURL is the checkout's base URL, for pay_url, and
// currency the shop's (CHECKOUT_CURRENCY, ISO 4217), which the amount is in.
func NewOrder(o checkout.Order, publicURL, currency string) Order {
	out := Order{
		ID: o.Number(), Reference: orNull(o.Reference), State: o.State, Amount: o.Amount.String(), Currency: currency,
		Description: o.Description, Metadata: o.Metadata, PayerBanq: orNull(o.CustomerBanq),
		PayURL: publicURL + "/pay/" + o.Token, PaymentLink: orNull(o.PaymentLink),
		ReturnURL: orNull(o.ReturnURL), CancelURL: orNull(o.CancelURL),
		CreatedAt: o.CreatedAt.UTC(), ExpiresAt: o.ExpiresAt.UTC(), Late: o.Late, Error: orNull(o.CreateError),
		Seq: o.LastSeq,
	}
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	if !o.PaidAt.IsZero() {
		t := o.PaidAt.UTC()
		out.PaidAt = &t
	}
	return out
}
