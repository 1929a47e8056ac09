package banq_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/banq-checkout/checkout/banq"
)

// Banq's published description gives no types for most fields, and its examples give account
// space ids as numbers. The client reads what the checkout uses and no more: ids as strings or
// numbers, fields it does not know ignored, null and missing optional fields as empty, times
// with or without an offset (Banq's fields say UTC). These answers are written as Banq might.

const (
	meAnswer = `{"id": 7, "email": null, "firstName": "Ada", "isVerified": true,
		"accountSpaces": [{"id": "12", "name": "Shop", "type": "Business", "settings": {"currency": "USD"}}],
		"banqAccounts": [{"guid": "b-merchant", "name": null, "accountSpaceId": 12, "balance": 10.5, "tags": []}],
		"links": null}`
	paymentAnswer = `{"id": 9001, "accountSpaceId": "12", "status": "Pending", "funds": 12.50,
		"comment": null, "externalOrderCode": "order-1", "frequency": null,
		"source": {"banqGuid": "b-payer", "name": "Payer"}, "destination": {"banqGuid": "b-merchant"},
		"createdAtUtc": "2021-01-11T12:12:12.5431424", "updatedAtUtc": null,
		"fees": [{"amount": 0.1}], "recurring": false}`
	transactionsAnswer = `{"meta": {"resourceCount": 2, "pageCount": 1, "page": 1},
		"data": [
			{"id": 55, "paymentId": 9001, "status": "Completed", "failReason": null, "funds": "12.50",
			 "createdAtUtc": "2021-01-11T12:12:12+00:00", "extra": {"a": 1}},
			{"id": "tx-2", "paymentId": "9001", "status": "Failed", "failReason": "InsufficientBalance", "funds": 12.5}
		]}`
	transactionAnswer = `{"id": 55, "paymentId": 9001, "status": "Processing", "funds": 1}`
	banqsAnswer       = `{"meta": {"resourceCount": 2, "pageCount": 1}, "data": [
			{"guid": "b-1", "name": "Ada", "tag": null, "ownerType": 0, "avatar": {"url": "x"}},
			{"guid": 2, "name": "Bob"}
		]}`
)

func TestContractTolerantReader(t *testing.T) {
	f := newFakeBanq(t)
	raw := func(pattern, body string) {
		f.handle(pattern, func(w http.ResponseWriter, r *http.Request, _ string) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(body))
		})
	}
	raw("GET /api/v1/users/me", meAnswer)
	raw("GET /api/v1/payments/9001", paymentAnswer)
	raw("GET /api/v1/transactions", transactionsAnswer)
	raw("GET /api/v1/transactions/55", transactionAnswer)
	raw("GET /api/v1/banqs", banqsAnswer)
	c := mustClient(t, f.srv.URL)
	ctx := t.Context()

	me, err := c.Me(ctx)
	if err != nil {
		t.Fatalf("users/me: %v", err)
	}
	if me.ID != "7" || len(me.AccountSpaces) != 1 || me.AccountSpaces[0].ID != 12 ||
		len(me.BanqAccounts) != 1 || me.BanqAccounts[0].GUID != "b-merchant" || me.BanqAccounts[0].AccountSpaceID != 12 {
		t.Errorf("users/me: got %+v, want id 7, account space 12, banq b-merchant in space 12", me)
	}

	p, err := c.Payment(ctx, "9001")
	if err != nil {
		t.Fatalf("payments.get: %v", err)
	}
	created := time.Date(2021, 1, 11, 12, 12, 12, 543142400, time.UTC)
	if p.ID != "9001" || p.AccountSpaceID != 12 || p.Status != banq.PaymentPending || p.Funds != 1250 ||
		p.Source == nil || p.Source.BanqGUID != "b-payer" || p.Destination.BanqGUID != "b-merchant" ||
		p.ExternalOrderCode != "order-1" || !p.CreatedAtUTC.Equal(created) || !p.UpdatedAtUTC.IsZero() {
		t.Errorf("payments.get: got %+v", p)
	}

	txs, err := c.Transactions(ctx, banq.TransactionQuery{PaymentID: "9001"})
	if err != nil {
		t.Fatalf("transactions.list: %v", err)
	}
	if len(txs.Data) != 2 || txs.Data[0].ID != "55" || txs.Data[0].PaymentID != "9001" || txs.Data[0].Funds != 1250 ||
		txs.Data[0].FailReason != "" || txs.Data[1].ID != "tx-2" || txs.Data[1].FailReason != banq.FailReason("InsufficientBalance") {
		t.Errorf("transactions.list: got %+v", txs.Data)
	}
	tx, err := c.Transaction(ctx, "55")
	if err != nil || tx.ID != "55" || tx.PaymentID != "9001" || tx.Status != banq.TransactionProcessing {
		t.Errorf("transactions.get: got %+v, %v", tx, err)
	}

	bs, err := c.Banqs(ctx, banq.BanqQuery{})
	if err != nil {
		t.Fatalf("banqs.list: %v", err)
	}
	if len(bs.Data) != 2 || bs.Data[0].GUID != "b-1" || bs.Data[0].Tag != "" || bs.Data[1].GUID != "2" || bs.Data[1].Name != "Bob" {
		t.Errorf("banqs.list: got %+v", bs.Data)
	}
}

// The webhook's body is read as tolerantly as the API's answers.
func TestContractTolerantWebhook(t *testing.T) {
	for name, body := range map[string]string{
		"numeric ids":  `{"accountSpaceId": 12, "action": "Created", "id": 77, "resourceId": 9001, "resourceType": "Payment", "createdAtUtc": "2021-01-11T12:12:12.5431424+00:00"}`,
		"string ids":   `{"accountSpaceId": "12", "action": "Created", "id": "77", "resourceId": "9001", "resourceType": "Payment", "createdAtUtc": "2021-01-11T12:12:12.5431424"}`,
		"extra, nulls": `{"accountSpaceId": null, "action": "Created", "id": "77", "resourceId": "9001", "resourceType": "Payment", "createdAtUtc": null, "version": 2, "data": {"x": 1}}`,
		"no optionals": `{"action": "Created", "id": "77", "resourceId": "9001", "resourceType": "Payment"}`,
	} {
		t.Run(name, func(t *testing.T) {
			w, err := banq.ParseWebhook([]byte(body))
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			if w.ID != "77" || w.ResourceID != "9001" || w.ResourceType != banq.ResourcePayment || w.Action != banq.ActionCreated {
				t.Errorf("got %+v, want id 77 about payment 9001", w)
			}
		})
	}
}
