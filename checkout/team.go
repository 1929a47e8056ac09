package checkout

import (
	"slices"
	"time"
)

// Roles of the merchant's team, from the most to the least allowed. An owner may do everything
// (the team, API keys, notification endpoints, settings, the audit log); staff create, cancel
// and retry orders and read what operating them needs; a viewer only reads (the CSV too).
const (
	RoleOwner  = "owner"
	RoleStaff  = "staff"
	RoleViewer = "viewer"
)

// Roles lists every role, the most allowed first.
var Roles = []string{RoleOwner, RoleStaff, RoleViewer}

// ValidRole reports whether role is one of Roles.
func ValidRole(role string) bool { return slices.Contains(Roles, role) }

// RoleAtLeast reports whether role is allowed at least what least is.
func RoleAtLeast(role, least string) bool {
	i, j := slices.Index(Roles, role), slices.Index(Roles, least)
	return i >= 0 && j >= 0 && i <= j
}

// Invite is a one-time link to join the team: the link carries a token, of which only the
// hash is stored.
type Invite struct {
	ID        int64
	TokenHash string
	Email     string
	Role      string
	CreatedBy int64
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
}

// AuditEntry is one line of the audit log: who did what, to what, when and from where.
type AuditEntry struct {
	ID      int64
	At      time.Time
	ActorID int64  // 0 when nobody was signed in (a failed sign-in)
	Actor   string // the email at the time
	Action  string // AuditSignIn...
	Subject string // what it was done to: "order 12", "user bob@shop.test (staff)"
	Address string // the client address
}

// Audit actions.
const (
	AuditSignIn           = "signed in"
	AuditSignInFailed     = "sign-in failed"
	AuditOrderCreated     = "created order"
	AuditOrderCancelled   = "cancelled order"
	AuditOrderRetried     = "retried order"
	AuditWebhookReprocess = "reprocessed webhook"
	AuditInvited          = "invited"
	AuditInviteAccepted   = "joined by invitation"
	AuditUserAdded        = "added user"
	AuditRoleChanged      = "changed role"
	AuditUserDisabled     = "disabled user"
	AuditUserEnabled      = "enabled user"
	AuditPasswordChanged  = "changed password"
	AuditAPIKeyCreated    = "created API key"
	AuditAPIKeyRevoked    = "revoked API key"
	AuditEndpointCreated  = "added notification endpoint"
	AuditEndpointChanged  = "changed notification endpoint"
	AuditRedelivered      = "redelivered notification"
)
