package handlers

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/views"
)

const (
	sessionName = "checkout_session"
	userKey     = "user"
	sessionKey  = "session_id"
)

func (h *Handlers) newCookieStore(keys ...[]byte) *sessions.CookieStore {
	st := sessions.NewCookieStore(keys...)
	// The library's defaults (SameSite=None, no HttpOnly) are not what a checkout wants.
	st.Options = &sessions.Options{
		Path:     "/",
		MaxAge:   int(h.cfg.SessionMaxAge / time.Second),
		HttpOnly: true,
		Secure:   h.secure,
		SameSite: http.SameSiteLaxMode,
	}
	st.MaxAge(st.Options.MaxAge)
	return st
}

// loadUser puts the signed-in user, if any, in the context. A cookie that does not decode, or
// names a session the server ended, idled out or outlived, counts as signed out.
func (h *Handlers) loadUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess, _ := h.sessions.Get(c.Request(), sessionName)
		sid, _ := sess.Values["sid"].(string)
		if sid == "" {
			return next(c)
		}
		ctx := c.Request().Context()
		s, err := h.store.Session(ctx, sid)
		now := h.cfg.Now()
		if err != nil || now.After(s.ExpiresAt) || now.Sub(s.LastSeen) > h.cfg.IdleTimeout {
			if err == nil {
				h.store.DeleteSession(ctx, sid)
			}
			return next(c)
		}
		u, err := h.store.User(ctx, s.UserID)
		if err != nil {
			return next(c)
		}
		if !u.DisabledAt.IsZero() {
			// Disabling deletes the sessions; this covers one read just before.
			h.store.DeleteSession(ctx, sid)
			return next(c)
		}
		if now.Sub(s.LastSeen) > time.Minute {
			h.store.TouchSession(ctx, sid, now)
		}
		if h.current != nil {
			if _, err := h.current.New(c.Request(), sessionName); err != nil {
				// Written under the previous key: write it again under the current one, so the
				// previous key can be dropped once every session has been seen.
				sess.Options.MaxAge = max(1, int(s.ExpiresAt.Sub(now)/time.Second))
				if err := sess.Save(c.Request(), c.Response()); err != nil {
					return err
				}
			}
		}
		c.Set(userKey, u)
		c.Set(sessionKey, sid)
		return next(c)
	}
}

// requireUser sends the signed-out to the sign-in page (or answers 401 to non-page requests).
func requireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, ok := c.Get(userKey).(checkout.User); ok {
			return next(c)
		}
		if c.Request().Method == http.MethodGet && !strings.HasSuffix(c.Request().URL.Path, "/events") {
			return c.Redirect(http.StatusSeeOther, "/login")
		}
		return echo.NewHTTPError(http.StatusUnauthorized, "Please sign in.")
	}
}

func (h *Handlers) loginPage(c echo.Context) error {
	if _, ok := c.Get(userKey).(checkout.User); ok {
		return c.Redirect(http.StatusSeeOther, "/orders")
	}
	return render(c, http.StatusOK, views.Login(h.page(c, "Sign in", ""), "", ""))
}

// dummyHash is compared against when the email is unknown, so both failures take as long.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not a real password"), bcrypt.DefaultCost)

// newDummyHash returns a dummy hash of the given cost, the cost of users' hashes.
func newDummyHash(cost int) []byte {
	if cost == bcrypt.DefaultCost {
		return dummyHash
	}
	h, _ := bcrypt.GenerateFromPassword([]byte("not a real password"), cost)
	return h
}

func (h *Handlers) login(c echo.Context) error {
	email := strings.TrimSpace(c.FormValue("email"))
	password := c.FormValue("password")
	ip := c.RealIP()
	fail := func(status int, msg string) error {
		return render(c, status, views.Login(h.page(c, "Sign in", ""), email, msg))
	}
	ctx := c.Request().Context()
	account := strings.ToLower(email)
	wait, err := h.limiter.blocked(ctx, ip, account)
	if err != nil {
		return err
	}
	if wait > 0 {
		c.Response().Header().Set("Retry-After", itoa(int64((wait+time.Second-1)/time.Second)))
		return fail(http.StatusTooManyRequests, "Too many failed sign-ins from here. Try again in "+aboutMinutes(wait)+".")
	}
	u, err := h.store.UserByEmail(ctx, email)
	hash := h.dummyHash
	if err == nil {
		hash = u.PasswordHash
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || err != nil {
		if err := h.limiter.fail(ctx, ip, account); err != nil {
			return err
		}
		h.audit(c, checkout.AuditSignInFailed, email[:min(len(email), 254)])
		return fail(http.StatusUnauthorized, "The email or password is wrong.")
	}
	if !u.DisabledAt.IsZero() {
		// Told only to whoever knows the password: the account exists, and is off.
		h.audit(c, checkout.AuditSignInFailed, u.Email+" (disabled)")
		return fail(http.StatusForbidden, "This account is disabled. Ask an owner of the shop to enable it.")
	}
	if err := h.limiter.success(ctx, ip, account); err != nil {
		return err
	}
	// A new session id at every sign-in: an id planted before sign-in is worth nothing.
	if old, ok := c.Get(sessionKey).(string); ok {
		h.store.DeleteSession(ctx, old)
	}
	now := h.cfg.Now()
	s := checkout.Session{ID: randomID(), UserID: u.ID, CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(h.cfg.SessionMaxAge)}
	if err := h.store.CreateSession(ctx, s); err != nil {
		return err
	}
	sess, _ := h.sessions.New(c.Request(), sessionName)
	sess.Values = map[any]any{"sid": s.ID}
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	h.log.InfoContext(ctx, "signed in", "user_id", u.ID)
	c.Set(userKey, u)
	h.audit(c, checkout.AuditSignIn, "")
	if u.MustChangePassword {
		return c.Redirect(http.StatusSeeOther, "/account")
	}
	return c.Redirect(http.StatusSeeOther, "/orders")
}

func (h *Handlers) logout(c echo.Context) error {
	if sid, ok := c.Get(sessionKey).(string); ok {
		if err := h.store.DeleteSession(c.Request().Context(), sid); err != nil {
			return err
		}
	}
	sess, _ := h.sessions.New(c.Request(), sessionName)
	sess.Options.MaxAge = -1
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}

func (h *Handlers) accountPage(c echo.Context) error {
	v := views.AccountView{}
	if u, ok := c.Get(userKey).(checkout.User); ok && u.MustChangePassword {
		v.Message = "Choose your own password to go on: the one you were given works only for this."
	}
	return render(c, http.StatusOK, views.Account(h.page(c, "Account", "account"), v))
}

// MinPassword is the shortest password accepted.
const MinPassword = 10

func (h *Handlers) changePassword(c echo.Context) error {
	u := c.Get(userKey).(checkout.User)
	cur, next := c.FormValue("current"), c.FormValue("new")
	errs := map[string]string{}
	if bcrypt.CompareHashAndPassword(u.PasswordHash, []byte(cur)) != nil {
		errs["current"] = "That is not your current password."
	}
	switch {
	case len([]rune(next)) < MinPassword:
		errs["new"] = "Use at least 10 characters."
	case len(next) > 72:
		errs["new"] = "Use at most 72 bytes (a bcrypt limit)."
	case next == cur:
		errs["new"] = "Choose a password different from the current one."
	}
	if len(errs) > 0 {
		return render(c, http.StatusUnprocessableEntity, views.Account(h.page(c, "Account", "account"), views.AccountView{Errors: errs}))
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(next), h.cfg.PasswordCost)
	if err != nil {
		return err
	}
	sid, _ := c.Get(sessionKey).(string)
	if err := h.store.SetPassword(c.Request().Context(), u.ID, hash, sid); err != nil {
		return err
	}
	u.Demo, u.MustChangePassword = false, false
	c.Set(userKey, u)
	return render(c, http.StatusOK, views.Account(h.page(c, "Account", "account"),
		views.AccountView{Message: "Password changed. Other sessions were signed out."}))
}

func randomID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// attemptLimiter limits failed sign-ins, following OWASP's advice on lockout: an account is
// locked at one client address only, for a delay that doubles with each further failure, so
// that a stranger guessing from elsewhere cannot lock the owner out; and an address failing
// on many accounts is refused for a while. The counts are kept in the database, where every
// instance sees them: N instances allow no more guesses than one.
type attemptLimiter struct {
	store  Store
	now    func() time.Time
	limits SignInLimits
}

// SignInLimits bound failed sign-ins.
type SignInLimits struct {
	PerAddress int           // failures from one client address, on any accounts, within Window; 20
	PerAccount int           // failures for one email from one address before it is locked there; 5
	Delay      time.Duration // the first such lock; it doubles with each failure after, up to Window; 1m
	Window     time.Duration // a count quiet this long is forgotten; 15m
}

func newAttemptLimiter(st Store, now func() time.Time, l SignInLimits) *attemptLimiter {
	if l.PerAddress <= 0 {
		l.PerAddress = 20
	}
	if l.PerAccount <= 0 {
		l.PerAccount = 5
	}
	if l.Window <= 0 {
		l.Window = 15 * time.Minute
	}
	if l.Delay <= 0 {
		l.Delay = min(time.Minute, l.Window)
	}
	return &attemptLimiter{store: st, now: now, limits: l}
}

func addressKey(ip string) string { return "ip:" + ip }
func pairKey(ip, user string) string {
	// An email is at most 254 bytes; a longer one, which no account has, is cut rather than
	// stored whole.
	return "account:" + user[:min(len(user), 254)] + " ip:" + ip
}
func (l *attemptLimiter) since() time.Time { return l.now().Add(-l.limits.Window) }

// lockFor is how long an account stays locked at an address after its failures-th failure there.
func (l *attemptLimiter) lockFor(failures int) time.Duration {
	d := l.limits.Delay
	for i := l.limits.PerAccount; i < failures && d < l.limits.Window; i++ {
		d *= 2
	}
	return min(d, l.limits.Window)
}

// blocked returns how long the account must wait at this address, 0 when it may try.
func (l *attemptLimiter) blocked(ctx context.Context, ip, user string) (time.Duration, error) {
	now, since := l.now(), l.since()
	addr, err := l.store.SignInFailures(ctx, addressKey(ip), since)
	if err != nil {
		return 0, err
	}
	pair, err := l.store.SignInFailures(ctx, pairKey(ip, user), since)
	if err != nil {
		return 0, err
	}
	var wait time.Duration
	if addr.Count >= l.limits.PerAddress {
		wait = addr.Last.Add(l.limits.Window).Sub(now)
	}
	if pair.Count >= l.limits.PerAccount {
		wait = max(wait, pair.Last.Add(l.lockFor(pair.Count)).Sub(now))
	}
	return max(wait, 0), nil
}

func (l *attemptLimiter) fail(ctx context.Context, ip, user string) error {
	_, err := l.store.AddSignInFailure(ctx, l.now(), l.since(), addressKey(ip), pairKey(ip, user))
	return err
}

func (l *attemptLimiter) success(ctx context.Context, ip, user string) error {
	return l.store.ClearSignInFailures(ctx, pairKey(ip, user))
}

// aboutMinutes says a wait in whole minutes, rounded up: "1 minute", "15 minutes".
func aboutMinutes(d time.Duration) string {
	n := int64((d + time.Minute - 1) / time.Minute)
	if n <= 1 {
		return "1 minute"
	}
	return itoa(n) + " minutes"
}
