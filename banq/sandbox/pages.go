package sandbox

import (
	"net/url"

	"github.com/a-h/templ"

	"github.com/banq-checkout/checkout/banq"
)

// refreshFor asks a page to reload every 2 s while one of its payments moves on by itself.
func refreshFor(ps ...paymentView) int {
	for _, p := range ps {
		if p.Status == banq.PaymentAccepted {
			return 2
		}
	}
	return 0
}

func actionURL(paymentID, action string) templ.SafeURL {
	return templ.URL("/sandbox/payments/" + url.PathEscape(paymentID) + "/" + action)
}

func actionLabel(action string) string {
	switch action {
	case actionHold:
		return "Put on hold"
	case actionResume:
		return "Resume"
	case actionExpire:
		return "Let it expire"
	case actionCancel:
		return "Cancel (as the merchant)"
	}
	return action
}
