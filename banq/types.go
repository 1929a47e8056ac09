package banq

// This file is the one place that states the Banq wire format as this project adopts it
// (see ../shared/banq-open-api.md). Where Banq's published description is silent, the shapes
// here are our choice; correct them here, against a live account, and nothing else changes.

import (
	"time"
)

// DefaultAudience is the OAuth audience of Banq's Open API.
const DefaultAudience = "https://banq.com/open/api/"

// API paths, relative to the API base URL.
const (
	PathToken          = "/oauth/token" // relative to the auth URL
	PathGetPaidDirect  = "/api/v1/payments/get-paid-direct"
	PathGetPaidLink    = "/api/v1/payments/get-paid-link"
	PathPayments       = "/api/v1/payments/"       // + {id}
	PathTransactions   = "/api/v1/transactions"    // list; + "/{id}" for one
	PathBanqs          = "/api/v1/banqs"           // list
	PathMe             = "/api/v1/users/me"        // ?include=accountSpaces,banqAccounts
	PathAccountSpaces  = "/api/v1/account-spaces/" // + {id} + "/webhook-config"
	PathWebhookConfigT = "/api/v1/account-spaces/%d/webhook-config"
)

// Header names.
const (
	HeaderIdempotency = "X-Idempotent-Id"
	HeaderCompanyID   = "X-Company-Id"
	HeaderWebhookHMAC = "X-Banq-Webhook-Hmac"
)

// TokenRequest is the body of POST {authURL}/oauth/token (password grant).
type TokenRequest struct {
	ClientID  string `json:"client_id"`
	Username  string `json:"username"`
	Password  string `json:"password"`
	Audience  string `json:"audience"`
	GrantType string `json:"grant_type"` // always "password"
}

// TokenResponse is the OAuth2 answer to a TokenRequest.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"` // "Bearer"
	ExpiresIn   int    `json:"expires_in"` // seconds
}

// TokenError is the OAuth2 error answer (status 401 or 403 from the auth server).
type TokenError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// ErrorBody is the error answer of every API call (400, 401, 403, 404, 422, 5xx).
type ErrorBody struct {
	Message string              `json:"message"`
	Errors  map[string][]string `json:"errors,omitempty"` // field path ("funds", "source.banqGuid") to messages
}

// Meta describes one page of a paged answer.
type Meta struct {
	ResourceCount int `json:"resourceCount"`
	PageCount     int `json:"pageCount"`
}

// Page is one page of a paged answer. Pages are one-based (query "page" and "pageSize").
type Page[T any] struct {
	Meta Meta `json:"meta"`
	Data []T  `json:"data"`
}

// BanqRef names a banq (a Banq user's wallet) in a payment.
type BanqRef struct {
	BanqGUID string `json:"banqGuid"`
}

// Frequency of a payment request; the checkout only sends FrequencyOnce.
type Frequency string

// FrequencyOnce is a one-time payment.
const FrequencyOnce Frequency = "once"

// CreatePayment is the body of get-paid-direct and get-paid-link.
type CreatePayment struct {
	Destination       BanqRef   `json:"destination"`      // the merchant's banq
	Source            *BanqRef  `json:"source,omitempty"` // the payer's banq (get-paid-direct)
	Funds             Money     `json:"funds"`
	Comment           string    `json:"comment"`
	ExternalOrderCode string    `json:"externalOrderCode"`
	Frequency         Frequency `json:"frequency"`
}

// PaymentStatus is the state of a payment in Banq.
type PaymentStatus string

// Payment statuses. A payment is created Pending; the payer accepts or declines it; an accepted
// payment becomes Completed once its transaction was made (whether that succeeded or failed: look
// at the transactions). Resumed returns an OnHold payment to the status it had before.
const (
	PaymentPending   PaymentStatus = "Pending"
	PaymentAccepted  PaymentStatus = "Accepted"
	PaymentOnHold    PaymentStatus = "OnHold"
	PaymentCompleted PaymentStatus = "Completed"
	PaymentDeclined  PaymentStatus = "Declined"
	PaymentCanceled  PaymentStatus = "Canceled"
	PaymentExpired   PaymentStatus = "Expired"
)

// Payment is a request to get paid, as GET /api/v1/payments/{id} returns it.
type Payment struct {
	ID                string        `json:"id"`
	AccountSpaceID    int64         `json:"accountSpaceId"`
	Status            PaymentStatus `json:"status"`
	Funds             Money         `json:"funds"`
	Comment           string        `json:"comment"`
	ExternalOrderCode string        `json:"externalOrderCode"`
	Frequency         Frequency     `json:"frequency"`
	Source            *BanqRef      `json:"source,omitempty"`
	Destination       BanqRef       `json:"destination"`
	PaymentLink       string        `json:"paymentLink,omitempty"` // get-paid-link only
	CreatedAtUTC      time.Time     `json:"createdAtUtc"`
	UpdatedAtUTC      time.Time     `json:"updatedAtUtc"`
}

// TransactionStatus is the state of a transaction in Banq.
type TransactionStatus string

// Transaction statuses.
const (
	TransactionProcessing TransactionStatus = "Processing"
	TransactionCompleted  TransactionStatus = "Completed"
	TransactionFailed     TransactionStatus = "Failed"
)

// Transaction moves the funds of an accepted payment.
type Transaction struct {
	ID           string            `json:"id"`
	PaymentID    string            `json:"paymentId"`
	Status       TransactionStatus `json:"status"`
	FailReason   FailReason        `json:"failReason"`
	Funds        Money             `json:"funds"`
	CreatedAtUTC time.Time         `json:"createdAtUtc"`
	UpdatedAtUTC time.Time         `json:"updatedAtUtc"`
}

// Banq is an entry of GET /api/v1/banqs: a wallet a payment can be sent to or requested from.
type Banq struct {
	GUID      string `json:"guid"`
	Name      string `json:"name"`      // display name, e.g. "Ada Lovelace"
	Tag       string `json:"tag"`       // handle, e.g. "@ada"
	OwnerType string `json:"ownerType"` // "Personal" or "Business"
}

// AccountSpace is one of the integrator's account spaces.
type AccountSpace struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// BanqAccount is one of the integrator's own banqs (a possible destination).
type BanqAccount struct {
	GUID           string `json:"guid"`
	Name           string `json:"name"`
	AccountSpaceID int64  `json:"accountSpaceId"`
}

// Me is the answer of GET /api/v1/users/me?include=accountSpaces,banqAccounts.
type Me struct {
	ID            string         `json:"id"`
	Email         string         `json:"email"`
	Name          string         `json:"name"`
	AccountSpaces []AccountSpace `json:"accountSpaces"`
	BanqAccounts  []BanqAccount  `json:"banqAccounts"`
}

// WebhookConfig is the body of POST (create) and PUT (update)
// /api/v1/account-spaces/{id}/webhook-config. POST answers 400 when a config exists;
// PUT answers 404 when none does. GET answers the config without the secret.
type WebhookConfig struct {
	URL          string         `json:"url"`
	Enabled      bool           `json:"enabled"`
	RetryCount   int            `json:"retryCount"`
	WebHookTypes []ResourceType `json:"webHookTypes"` // ["payment","transaction"]
	SharedSecret string         `json:"sharedSecret,omitempty"`
}

// ResourceType is what a webhook is about. The config lists them in lower case, webhooks carry
// them capitalised; compare with strings.EqualFold where both can meet.
type ResourceType string

// Resource types.
const (
	ResourcePayment     ResourceType = "Payment"
	ResourceTransaction ResourceType = "Transaction"
)

// WebhookAction is what happened to the resource.
type WebhookAction string

// Webhook actions of resource type Payment.
const (
	ActionCreated            WebhookAction = "Created"
	ActionCompleted          WebhookAction = "Completed"
	ActionAccepted           WebhookAction = "Accepted"
	ActionDeclined           WebhookAction = "Declined"
	ActionOnHold             WebhookAction = "OnHold"
	ActionCanceled           WebhookAction = "Canceled"
	ActionExpired            WebhookAction = "Expired"
	ActionResumed            WebhookAction = "Resumed"
	ActionOccurrenceCanceled WebhookAction = "OccurrenceCanceled"
)

// Webhook actions of resource type Transaction (Created also applies).
const (
	ActionFailed  WebhookAction = "Failed"
	ActionUpdated WebhookAction = "Updated"
)

// Webhook is the body Banq POSTs to the configured URL. It carries no state: fetch the resource.
type Webhook struct {
	AccountSpaceID int64         `json:"accountSpaceId"`
	Action         WebhookAction `json:"action"`
	ID             string        `json:"id"`
	ResourceID     string        `json:"resourceId"`
	ResourceType   ResourceType  `json:"resourceType"`
	CreatedAtUTC   time.Time     `json:"createdAtUtc"`
}

// CanWithdrawPayments says whether Banq's API lets the payee cancel or expire a payment request
// it sent. It does not: the published Open API (see ../shared/banq-open-api.md) has no such call,
// and a payment leaves Pending only through its payer (Accepted, Declined) or through Banq itself
// (Expired, Canceled; each announced by a webhook). So when an order expires or a merchant
// cancels it, the checkout ends it on its own side only: it tells the customer not to approve
// the request, and it keeps asking Banq about the payment for a while, so that money the payer
// sends anyway is accepted and flagged late, never lost. The sandbox's
// POST /sandbox/payments/{id}/expire and /cancel are test controls that play Banq's side; the
// checkout never calls them. This is the one place that records the choice: should Banq publish
// such a call, add it to Client, set this to true and call it from checkout's expire and cancel.
const CanWithdrawPayments = false
