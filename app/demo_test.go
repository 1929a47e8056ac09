package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/banq-checkout/checkout/app"
	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/store"
)

// The demo login is printed at every start until its password is changed; after that the
// generated password is forgotten, and no start prints or stores one again.
func TestDemoPasswordForgottenOnceChanged(t *testing.T) {
	dir := t.TempDir()
	a := apptest.Start(t, apptest.Options{Dir: dir})
	demo := a.DemoPassword(t)
	if line := demoLine(a.Stdout.String()); !strings.Contains(line, app.DemoEmail+" / "+demo) {
		t.Fatalf("first start: the demo line %q lacks the login and its password", line)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	a = apptest.Start(t, apptest.Options{Dir: dir})
	if line := demoLine(a.Stdout.String()); !strings.Contains(line, app.DemoEmail+" / "+demo) {
		t.Fatalf("second start: the demo line %q lacks the same password", line)
	}

	m := a.SignIn(t)
	if r := m.PostForm(t, "/account", "/account/password", url.Values{"current": {demo}, "new": {"a-password-of-my-own"}}); r.Status != http.StatusOK {
		t.Fatalf("change password: got %d, want 200", r.Status)
	}
	if v, err := a.DB.Setting(context.Background(), store.DemoPasswordSetting); checkout.ErrorCode(err) != checkout.ENotFound {
		t.Fatalf("after the change the database still holds a demo password (%d characters, err %v)", len(v), err)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}

	a = apptest.Start(t, apptest.Options{Dir: dir})
	line := demoLine(a.Stdout.String())
	if !strings.Contains(line, "password changed") || strings.Contains(line, demo) {
		t.Fatalf("start after the change: demo line %q, want it to say the password was changed and not show the old one", line)
	}
	if _, err := a.DB.Setting(context.Background(), store.DemoPasswordSetting); checkout.ErrorCode(err) != checkout.ENotFound {
		t.Fatalf("a start after the change stored a new demo password (err %v)", err)
	}
}

func demoLine(stdout string) string {
	for _, l := range strings.Split(stdout, "\n") {
		if strings.Contains(l, "Demo login:") {
			return l
		}
	}
	return ""
}
