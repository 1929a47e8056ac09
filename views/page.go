// Package views holds the templ components of every page, and the view models they take.
package views

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/a-h/templ"
	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/locale"
)

// Page is what every merchant page's layout needs.
type Page struct {
	Title        string
	CSRF         string
	User         string // signed-in email; "" when signed out
	Role         string // the signed-in user's role
	Sandbox      bool
	SandboxURL   string
	DemoPassword bool // the demo login still has its printed password
	Nav          string
	Banner       string
}

// OrdersView is the merchant's order list.
type OrdersView struct {
	Orders     []checkout.Order
	State      string
	Search     string
	More       bool
	NextBefore int64
	Before     int64
	Filtered   bool
	From       string // created on or after this day, YYYY-MM-DD
	To         string // created on or before this day, YYYY-MM-DD
	Errors     map[string]string
}

// CustomerByLink is the new-order form's customer choice for "anyone with Banq's link".
const CustomerByLink = "link"

// customerLabel names an order's customer for the merchant.
func customerLabel(o checkout.Order) string {
	if o.ByLink() {
		return "Anyone with the link"
	}
	return o.CustomerName
}

// NewOrderView is the new-order form with what was typed and what is wrong with it.
type NewOrderView struct {
	Amount       string
	Description  string
	Customer     string // chosen banq guid
	CustomerName string
	Search       string
	Banqs        []banq.Banq
	BanqPage     int
	BanqPages    int
	BanqError    string
	Errors       map[string]string
	Message      string
	RetryOrderID int64
	ExpiresIn    string // minutes the customer has to pay
}

// OrderView is one order for the merchant.
type OrderView struct {
	Order  checkout.Order
	Events []checkout.Event
	PayURL string
	QRURL  string // the payment link as a QR code, for a customer at the counter
}

// PayView is the customer's status page.
type PayView struct {
	Order         checkout.Order
	Merchant      string
	SandboxPayURL string // the sandbox's payer page for this payment, in sandbox mode
	Now           time.Time
	LogoURL       string // the merchant's logo; "" for none
	QRURL         string // the payment link as a QR code, to continue on a phone
	// BanqName is the merchant banq's name in Banq, which the payer's app shows on the request;
	// "" while Banq has not told us (then Merchant).
	BanqName string
	// BackURL is where a finished order sends the customer back to the shop ("" for none),
	// after BackSeconds unless they stop it.
	BackURL     string
	BackSeconds int
}

// requester is the name the payer's Banq app shows the request from.
func (v PayView) requester() string {
	if v.BanqName != "" {
		return v.BanqName
	}
	return v.Merchant
}

// AccountView is the account page.
type AccountView struct {
	Message string
	Errors  map[string]string
}

func stateClass(s checkout.State) string { return "state state-" + string(s) }

func stateIcon(s checkout.State) string {
	switch s {
	case checkout.StatePaid:
		return "✓"
	case checkout.StateDeclined, checkout.StateFailed, checkout.StateRejected, checkout.StateCanceled:
		return "✕"
	case checkout.StateExpired:
		return "⌛"
	case checkout.StateOnHold:
		return "❚❚"
	case checkout.StateAccepted:
		return "…"
	}
	return "•"
}

// customerHeadline is the state in words for the payer.
func customerHeadline(ctx context.Context, o checkout.Order) string {
	if customerStates[o.State] {
		return locale.From(ctx).T("state_" + string(o.State) + "_headline")
	}
	return o.State.Label()
}

// customerStates are the states the catalogues have a headline and a detail for
// (state_<state>_headline, state_<state>_detail).
var customerStates = map[checkout.State]bool{
	checkout.StateCreating: true, checkout.StateWaiting: true, checkout.StateOnHold: true,
	checkout.StateAccepted: true, checkout.StatePaid: true, checkout.StateDeclined: true,
	checkout.StateExpired: true, checkout.StateCanceled: true, checkout.StateFailed: true,
	checkout.StateRejected: true,
}

// customerDetail is what the payer can do now, in a sentence. For a failed payment the reason
// follows in its own paragraph.
func customerDetail(ctx context.Context, v PayView) string {
	if !customerStates[v.Order.State] {
		return ""
	}
	if v.Order.ByLink() && v.Order.State == checkout.StateWaiting {
		return locale.From(ctx).T("state_waiting_link_detail", "Requester", v.requester())
	}
	return locale.From(ctx).T("state_"+string(v.Order.State)+"_detail", "Merchant", v.Merchant, "Requester", v.requester())
}

func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func eventKindLabel(kind string) string {
	switch kind {
	case checkout.EventCreated:
		return "Created"
	case checkout.EventRequestSent:
		return "Request sent"
	case checkout.EventRequestFailed:
		return "Send failed"
	case checkout.EventWebhook:
		return "Webhook"
	case checkout.EventState:
		return "State"
	case checkout.EventReconciled:
		return "Reconciled"
	}
	return kind
}

func errorTitle(status int) string {
	switch status {
	case 400, 422:
		return "That did not work"
	case 401:
		return "Please sign in"
	case 403:
		return "Not allowed"
	case 404:
		return "Not found"
	case 409:
		return "Conflict"
	case 413:
		return "Too large"
	case 429:
		return "Too many attempts"
	case 503:
		return "Temporarily unavailable"
	}
	return "Something went wrong"
}

// prepend tells the live list whether new orders belong at its top: only on the unfiltered
// first page.
func prepend(v OrdersView) string {
	if v.Filtered || v.Before != 0 {
		return "0"
	}
	return "1"
}

func nextPageURL(v OrdersView) string {
	q := ordersQuery(v)
	q.Set("before", strconv.FormatInt(v.NextBefore, 10))
	return "/orders?" + q.Encode()
}

func banqPageURL(v NewOrderView, page int) string {
	q := url.Values{}
	q.Set("q", v.Search)
	q.Set("page", strconv.Itoa(page))
	q.Set("amount", v.Amount)
	q.Set("description", v.Description)
	q.Set("expires", v.ExpiresIn)
	return "/orders/new?" + q.Encode()
}

func containsBanq(v NewOrderView) bool {
	for _, b := range v.Banqs {
		if b.GUID == v.Customer {
			return true
		}
	}
	return false
}

// fieldAria marks a field invalid when it has an error, and ties the error's text to it
// (fieldError renders it with id field-error) so a screen reader reads it with the field.
func fieldAria(errs map[string]string, field string) templ.Attributes {
	if _, ok := errs[field]; ok {
		return templ.Attributes{"aria-invalid": "true", "aria-describedby": field + "-error"}
	}
	return templ.Attributes{"aria-invalid": "false"}
}

func payErrorHeadline(ctx context.Context, status int) string {
	if status == 404 {
		return locale.From(ctx).T("pay_error_title_not_found")
	}
	return locale.From(ctx).T("pay_error_title_other")
}

// payErrorDetail says what went wrong with a payment link, in words the customer can use.
func payErrorDetail(ctx context.Context, status int) string {
	switch status {
	case 404:
		return locale.From(ctx).T("pay_error_detail_not_found")
	case 429:
		return locale.From(ctx).T("pay_error_detail_busy")
	}
	return locale.From(ctx).T("pay_error_detail_other")
}

// payErrorNext is what the customer can do about a payment link that does not work.
func payErrorNext(ctx context.Context, status int, merchant string) string {
	if status == 404 {
		return locale.From(ctx).T("pay_error_next_not_found", "Merchant", merchant)
	}
	return locale.From(ctx).T("pay_error_next_other", "Merchant", merchant)
}
