package views

import (
	"strconv"
	"strings"
	"time"

	"github.com/banq-checkout/checkout/notify"
)

// EndpointForm is the add or edit form of a notification endpoint, as typed.
type EndpointForm struct {
	URL         string
	Description string
	Types       []string // empty: all
	Errors      map[string]string
}

func (f EndpointForm) wants(t string) bool {
	return notify.Endpoint{Types: f.Types}.Wants(t)
}

// EndpointsView is the list of the shop's notification endpoints.
type EndpointsView struct {
	Endpoints []notify.Endpoint
	Form      EndpointForm
	Now       time.Time
}

// EndpointView is one endpoint with its recent deliveries.
type EndpointView struct {
	Endpoint   notify.Endpoint
	Secret     string // shown once, right after it was made
	Message    string
	Form       EndpointForm
	Deliveries []notify.Delivery
	More       bool
	NextBefore int64
	Status     string // the delivery log's filter
	Now        time.Time
}

// DeliveryView is one delivery and its attempts.
type DeliveryView struct {
	Delivery notify.Delivery
	Endpoint notify.Endpoint
	Attempts []notify.Attempt
}

func endpointPath(id int64) string { return "/notifications/" + strconv.FormatInt(id, 10) }

func deliveryPath(id int64) string { return "/notifications/deliveries/" + strconv.FormatInt(id, 10) }

func endpointTypes(e notify.Endpoint) string {
	if len(e.Types) == 0 {
		return "all events"
	}
	return strings.Join(e.Types, ", ")
}

func endpointState(e notify.Endpoint) string {
	switch {
	case !e.Enabled && e.DisabledReason != "":
		return "disabled by the checkout"
	case !e.Enabled:
		return "disabled"
	case !e.FailingSince.IsZero():
		return "failing"
	}
	return "enabled"
}

func endpointStateClass(e notify.Endpoint) string {
	switch endpointState(e) {
	case "enabled":
		return "state state-paid"
	case "failing":
		return "state state-waiting"
	}
	return "state state-failed"
}

func deliveryClass(d notify.Delivery) string {
	switch d.Status {
	case notify.DeliverySucceeded:
		return "state state-paid"
	case notify.DeliveryFailed:
		return "state state-failed"
	}
	if d.Attempts > 0 {
		return "state state-waiting"
	}
	return "state state-creating"
}

func deliveryStatus(d notify.Delivery) string {
	if d.Status == notify.DeliveryPending && d.Attempts > 0 {
		return "retrying"
	}
	return d.Status
}

func attemptStatus(a notify.Attempt) string {
	if a.Status == 0 {
		return "no answer"
	}
	return strconv.Itoa(a.Status)
}

func nextDeliveriesURL(v EndpointView) string {
	return endpointPath(v.Endpoint.ID) + "?status=" + v.Status + "&before=" + strconv.FormatInt(v.NextBefore, 10)
}

// deliveryFilters are the delivery log's filters: value and label.
var deliveryFilters = [][2]string{{"", "All"}, {notify.DeliveryPending, "Not yet sent"}, {notify.DeliveryRetrying, "Retrying"},
	{notify.DeliverySucceeded, "Delivered"}, {notify.DeliveryFailed, "Failed"}}
