package checkout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/banq-checkout/checkout/banq"
)

// Merchant is who the checkout is paid as: the banq every payment goes to, and its name in Banq,
// which payers see on requests.
type Merchant struct {
	Banq string // "" until Connect has succeeded
	Name string // "" until Banq has told it
}

// Connect learns from Banq who the merchant is (the user's first account space, and in it
// Config.MerchantBanq, else the space's first banq) and points Banq's webhooks at
// Config.WebhookURL, signed with Config.WebhookSecret. Until it has succeeded, orders wait for it
// and NotConnected says why; call it again after a failure.
func (s *Service) Connect(ctx context.Context) error {
	err := s.connect(ctx)
	if err != nil {
		s.connectErr.Store(&err)
	} else {
		s.connectErr.Store(nil)
	}
	return err
}

func (s *Service) connect(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	me, err := s.banq.Me(ctx)
	if err != nil {
		return fmt.Errorf("ask Banq who we are: %w", err)
	}
	if len(me.AccountSpaces) == 0 {
		return errors.New("the Banq user has no account space")
	}
	space := me.AccountSpaces[0]
	m := Merchant{Banq: s.cfg.MerchantBanq}
	for _, b := range me.BanqAccounts {
		if m.Banq == "" && b.AccountSpaceID == space.ID {
			m.Banq = b.GUID
		}
	}
	if m.Banq == "" {
		return errors.New("the Banq user has no banq to be paid into; set BANQ_MERCHANT_BANQ")
	}
	for _, b := range me.BanqAccounts {
		if b.GUID == m.Banq {
			m.Name = b.Name
		}
	}
	// Payers may see the name before the webhook is set: it is known, the banq is not ours yet.
	s.merchant.Store(&Merchant{Name: m.Name})
	err = s.banq.SetWebhookConfig(ctx, space.ID, banq.WebhookConfig{
		URL: s.cfg.WebhookURL, Enabled: true, RetryCount: 8,
		WebHookTypes: []banq.ResourceType{"payment", "transaction"}, SharedSecret: s.cfg.WebhookSecret,
	})
	if err != nil {
		return fmt.Errorf("set the webhook config: %w", err)
	}
	s.merchant.Store(&m)
	s.log.Info("webhook registered with Banq", "url", s.cfg.WebhookURL, "account_space", space.ID)
	return nil
}

// Merchant is who the checkout is paid as, as far as Connect has learnt it.
func (s *Service) Merchant() Merchant {
	if p := s.merchant.Load(); p != nil {
		return *p
	}
	return Merchant{}
}

// NotConnected says why the merchant's banq is not known yet; nil once it is.
func (s *Service) NotConnected() error {
	if s.Merchant().Banq != "" {
		return nil
	}
	if p := s.connectErr.Load(); p != nil {
		return *p
	}
	return errors.New("not asked yet who the Banq user is")
}
