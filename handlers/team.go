package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/views"
)

// The merchant's team: who may sign in, with which role; invitations; the audit log.

// InviteTTL is how long an invitation link may be used.
const InviteTTL = 72 * time.Hour

// requireRole refuses a signed-in user whose role is allowed less than least: the server's
// check of every merchant route, listed beside each route in Routes.
func requireRole(least string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			u, ok := c.Get(userKey).(checkout.User)
			if !ok {
				return echo.NewHTTPError(http.StatusUnauthorized, "Please sign in.")
			}
			if !checkout.RoleAtLeast(u.Role, least) {
				return echo.NewHTTPError(http.StatusForbidden, "Your role ("+u.Role+") may not do this; ask an owner.")
			}
			return next(c)
		}
	}
}

// passwordChosen sends a user who signed in with a password an owner gave them to the account
// page until they choose their own; every other page and action is refused meanwhile.
func passwordChosen(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if u, ok := c.Get(userKey).(checkout.User); ok && u.MustChangePassword {
			if c.Request().Method == http.MethodGet && !strings.HasSuffix(c.Request().URL.Path, "/events") {
				return c.Redirect(http.StatusSeeOther, "/account")
			}
			return echo.NewHTTPError(http.StatusForbidden, "Choose your own password first, under Account.")
		}
		return next(c)
	}
}

const auditSubjectKey = "audit_subject"

// audited records action in the audit log once the handler has succeeded (no error, a status
// below 400). What it was done to is what the handler named (setAuditSubject), else kind and
// the route's :id, else kind and the last part of the redirect (a new order's page).
func (h *Handlers) audited(action, kind string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := next(c); err != nil {
				return err
			}
			// A replayed answer (Idempotency-Key) did nothing again.
			if c.Response().Status >= 400 || c.Response().Header().Get("Idempotent-Replayed") != "" {
				return nil
			}
			subject, _ := c.Get(auditSubjectKey).(string)
			if subject == "" {
				id := c.Param("id")
				if id == "" {
					loc := c.Response().Header().Get(echo.HeaderLocation)
					if u, err := url.Parse(loc); err == nil {
						id = u.Path[strings.LastIndex(u.Path, "/")+1:]
					}
				}
				if unescaped, err := url.PathUnescape(id); err == nil {
					id = unescaped
				}
				subject = strings.TrimSpace(kind + " " + id)
				if action := c.Param("action"); action != "" {
					subject += " (" + action + ")"
				}
			}
			h.audit(c, action, subject)
			return nil
		}
	}
}

func setAuditSubject(c echo.Context, subject string) { c.Set(auditSubjectKey, subject) }

// audit appends to the audit log; a failure to is logged, not shown: what was done is done.
func (h *Handlers) audit(c echo.Context, action, subject string) {
	e := checkout.AuditEntry{At: h.cfg.Now(), Action: action, Subject: subject, Address: c.RealIP()}
	if u, ok := c.Get(userKey).(checkout.User); ok {
		e.ActorID, e.Actor = u.ID, u.Email
	} else if k, ok := c.Get(apiKeyCtx).(checkout.APIKey); ok {
		e.Actor = "API key " + k.Prefix + " (" + k.Name + ")"
	}
	ctx := c.Request().Context()
	if err := h.store.AddAudit(ctx, e); err != nil {
		h.log.ErrorContext(ctx, "write the audit log", "action", action, "subject", subject, "err", err)
	}
}

func (h *Handlers) teamPage(c echo.Context) error {
	return h.renderTeam(c, http.StatusOK, views.TeamView{})
}

func (h *Handlers) renderTeam(c echo.Context, status int, v views.TeamView) error {
	ctx := c.Request().Context()
	users, err := h.store.Users(ctx)
	if err != nil {
		return err
	}
	invites, err := h.store.PendingInvites(ctx, h.cfg.Now())
	if err != nil {
		return err
	}
	v.Users, v.Invites, v.Roles, v.InviteHours = users, invites, checkout.Roles, int(InviteTTL/time.Hour)
	if me, ok := c.Get(userKey).(checkout.User); ok {
		v.Me = me.ID
	}
	return render(c, status, views.Team(h.page(c, "Team", "team"), v))
}

// teamError shows the team page with what went wrong, or returns an error that is not the
// user's to correct.
func (h *Handlers) teamError(c echo.Context, v views.TeamView, err error) error {
	switch checkout.ErrorCode(err) {
	case checkout.EInvalid:
		v.Errors = fieldErrors(err)
		if v.Errors == nil {
			v.Error = checkout.ErrorMessage(err)
		}
		return h.renderTeam(c, http.StatusUnprocessableEntity, v)
	case checkout.EConflict, checkout.ENotFound:
		v.Error = checkout.ErrorMessage(err)
		return h.renderTeam(c, http.StatusConflict, v)
	}
	return err
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func validEmail(email string) bool {
	at := strings.LastIndexByte(email, '@')
	return at > 0 && at < len(email)-1 && len(email) <= 254 && !strings.ContainsAny(email, " \t\r\n<>")
}

// newMember reads and checks the email and role of an invitation or a new user.
func newMember(c echo.Context, prefix string) (email, role string, errs map[string]string) {
	email, role = strings.TrimSpace(c.FormValue("email")), c.FormValue("role")
	errs = map[string]string{}
	if !validEmail(email) {
		errs[prefix+"email"] = "Enter an email address, like name@shop.com."
	}
	if !checkout.ValidRole(role) {
		errs[prefix+"role"] = "Choose owner, staff or viewer."
	}
	return email, role, errs
}

// invite makes a one-time link for someone to join with a role, shown once on the page.
func (h *Handlers) invite(c echo.Context) error {
	email, role, errs := newMember(c, "invite-")
	v := views.TeamView{InviteEmail: email, InviteRole: role}
	if len(errs) > 0 {
		v.Errors = errs
		return h.renderTeam(c, http.StatusUnprocessableEntity, v)
	}
	token := randomID()
	u := c.Get(userKey).(checkout.User)
	in, err := h.store.CreateInvite(c.Request().Context(), checkout.Invite{TokenHash: tokenHash(token), Email: email, Role: role,
		CreatedBy: u.ID, ExpiresAt: h.cfg.Now().Add(InviteTTL)})
	if err != nil {
		return h.teamError(c, v, err)
	}
	setAuditSubject(c, in.Email+" ("+in.Role+")")
	link := strings.TrimRight(h.cfg.PublicURL, "/") + "/invite/" + token
	// Answered with the page, not a redirect: the link must not travel in a URL of ours.
	return h.renderTeam(c, http.StatusCreated, views.TeamView{InviteLink: link, InvitedEmail: in.Email,
		InviteExpires: in.ExpiresAt})
}

// addUser adds someone with a temporary password, which they must change when they sign in.
func (h *Handlers) addUser(c echo.Context) error {
	email, role, errs := newMember(c, "add-")
	password := c.FormValue("password")
	if msg := passwordProblem(password); msg != "" {
		errs["add-password"] = msg
	}
	v := views.TeamView{AddEmail: email, AddRole: role}
	if len(errs) > 0 {
		v.Errors = errs
		return h.renderTeam(c, http.StatusUnprocessableEntity, v)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), h.cfg.PasswordCost)
	if err != nil {
		return err
	}
	u, err := h.store.CreateUser(c.Request().Context(), checkout.User{Email: email, PasswordHash: hash, Role: role, MustChangePassword: true})
	if checkout.ErrorCode(err) == checkout.EConflict {
		err = checkout.Errorf(checkout.EConflict, "%s is on the team already.", email)
	}
	if err != nil {
		return h.teamError(c, v, err)
	}
	setAuditSubject(c, u.Email+" ("+u.Role+")")
	return h.renderTeam(c, http.StatusCreated, views.TeamView{Message: u.Email + " was added as " + u.Role +
		". Give them the password; they must choose their own when they first sign in."})
}

func (h *Handlers) memberID(c echo.Context) (int64, error) {
	return idParam(c, "There is no such person on the team.")
}

func (h *Handlers) setRole(c echo.Context) error {
	id, err := h.memberID(c)
	if err != nil {
		return err
	}
	u, err := h.store.SetRole(c.Request().Context(), id, c.FormValue("role"))
	if err != nil {
		return h.teamError(c, views.TeamView{}, err)
	}
	setAuditSubject(c, u.Email+" → "+u.Role)
	return c.Redirect(http.StatusSeeOther, "/team")
}

// setDisabled disables someone, ending their sessions at once, or enables them again.
func (h *Handlers) setDisabled(disabled bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := h.memberID(c)
		if err != nil {
			return err
		}
		u, err := h.store.SetDisabled(c.Request().Context(), id, disabled)
		if err != nil {
			return h.teamError(c, views.TeamView{}, err)
		}
		setAuditSubject(c, u.Email)
		return c.Redirect(http.StatusSeeOther, "/team")
	}
}

// invitation shows the form to accept an invitation, or why it cannot be used.
func (h *Handlers) invitation(c echo.Context) error {
	in, err := h.store.Invite(c.Request().Context(), tokenHash(c.Param("token")), h.cfg.Now())
	if err != nil {
		return inviteRefused(err)
	}
	return render(c, http.StatusOK, views.InvitePage(h.page(c, "Join the team", ""), views.InviteView{Email: in.Email, Role: in.Role}))
}

// inviteRefused answers 410 Gone for a used or expired invitation, 404 for an unknown one.
func inviteRefused(err error) error {
	switch checkout.ErrorCode(err) {
	case checkout.EConflict:
		return echo.NewHTTPError(http.StatusGone, checkout.ErrorMessage(err))
	case checkout.ENotFound:
		return echo.NewHTTPError(http.StatusNotFound, "There is no such invitation. Check the link, or ask an owner for a new one.")
	}
	return err
}

// acceptInvite creates the invited user with the password they chose; the link is used up.
func (h *Handlers) acceptInvite(c echo.Context) error {
	ctx := c.Request().Context()
	hash := tokenHash(c.Param("token"))
	in, err := h.store.Invite(ctx, hash, h.cfg.Now())
	if err != nil {
		return inviteRefused(err)
	}
	password := c.FormValue("password")
	if msg := passwordProblem(password); msg != "" {
		return render(c, http.StatusUnprocessableEntity, views.InvitePage(h.page(c, "Join the team", ""),
			views.InviteView{Email: in.Email, Role: in.Role, Errors: map[string]string{"password": msg}}))
	}
	pw, err := bcrypt.GenerateFromPassword([]byte(password), h.cfg.PasswordCost)
	if err != nil {
		return err
	}
	u, err := h.store.AcceptInvite(ctx, hash, h.cfg.Now(), pw)
	if err != nil {
		return inviteRefused(err)
	}
	c.Set(userKey, u) // the audit log names who joined
	h.audit(c, checkout.AuditInviteAccepted, u.Email+" ("+u.Role+")")
	return c.Redirect(http.StatusSeeOther, "/login")
}

// passwordProblem says what is wrong with a new password, or "".
func passwordProblem(p string) string {
	switch {
	case len([]rune(p)) < MinPassword:
		return "Use at least 10 characters."
	case len(p) > 72:
		return "Use at most 72 bytes (a bcrypt limit)."
	}
	return ""
}

// AuditPage is how many entries the audit log shows per page.
const AuditPage = 50

func (h *Handlers) auditLog(c echo.Context) error {
	before, _ := strconv.ParseInt(c.QueryParam("before"), 10, 64)
	entries, more, err := h.store.AuditLog(c.Request().Context(), before, AuditPage)
	if err != nil {
		return err
	}
	v := views.AuditView{Entries: entries, Before: before}
	if more && len(entries) > 0 {
		v.NextBefore = entries[len(entries)-1].ID
	}
	return render(c, http.StatusOK, views.Audit(h.page(c, "Audit log", "audit"), v))
}
