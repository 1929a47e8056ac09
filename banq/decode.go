package banq

// Banq's published description gives few field types, so the client reads its answers as a
// tolerant reader: fields it does not know are ignored (encoding/json's default), null and
// absent fields are empty, an id may come as a string or a number, and a time may come with or
// without its offset. Each answer type with such a field decodes through a shadow of itself in
// which those fields have the tolerant types below; the shadow's fields, being shallower, win
// over the embedded type's own.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// text is a string field that Banq may send as a string or a number (an id, an enum); a
// number is kept as written. null leaves it empty.
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(s)
	case json.Valid(b) && (b[0] == '-' || '0' <= b[0] && b[0] <= '9'):
		*t = text(b)
	default:
		return fmt.Errorf("%.40s: want a string or a number", b)
	}
	return nil
}

// integer is an integer field that Banq may send as a number or as a string holding one.
// null or "" leaves it 0.
type integer int64

func (n *integer) UnmarshalJSON(b []byte) error {
	var t text
	if err := t.UnmarshalJSON(b); err != nil {
		return err
	}
	if t == "" {
		return nil
	}
	v, err := strconv.ParseInt(string(t), 10, 64)
	if err != nil {
		return fmt.Errorf("%.40q: want an integer", string(t))
	}
	*n = integer(v)
	return nil
}

// looseInteger is an integer field the checkout does not use: whatever it holds never makes
// the answer unreadable; what is not an integer reads as 0.
type looseInteger int64

func (n *looseInteger) UnmarshalJSON(b []byte) error {
	var v integer
	if v.UnmarshalJSON(b) == nil {
		*n = looseInteger(v)
	}
	return nil
}

// looseTime is a time the checkout only shows: RFC 3339, or without an offset (then UTC, as
// Banq's field names say). Anything else, null included, reads as the zero time.
type looseTime time.Time

func (t *looseTime) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) != nil || s == "" {
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if v, err := time.Parse(layout, s); err == nil {
			*t = looseTime(v)
			return nil
		}
	}
	return nil
}

func (m *Me) UnmarshalJSON(b []byte) error {
	type plain Me
	v := struct {
		*plain
		ID text `json:"id"`
	}{plain: (*plain)(m)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	m.ID = string(v.ID)
	return nil
}

func (s *AccountSpace) UnmarshalJSON(b []byte) error {
	type plain AccountSpace
	v := struct {
		*plain
		ID integer `json:"id"`
	}{plain: (*plain)(s)}
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("account space: %w", err)
	}
	s.ID = int64(v.ID)
	return nil
}

func (a *BanqAccount) UnmarshalJSON(b []byte) error {
	type plain BanqAccount
	v := struct {
		*plain
		GUID           text    `json:"guid"`
		AccountSpaceID integer `json:"accountSpaceId"`
	}{plain: (*plain)(a)}
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("banq account: %w", err)
	}
	a.GUID, a.AccountSpaceID = string(v.GUID), int64(v.AccountSpaceID)
	return nil
}

func (q *Banq) UnmarshalJSON(b []byte) error {
	type plain Banq
	v := struct {
		*plain
		GUID      text `json:"guid"`
		OwnerType text `json:"ownerType"`
	}{plain: (*plain)(q)}
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("banq: %w", err)
	}
	q.GUID, q.OwnerType = string(v.GUID), string(v.OwnerType)
	return nil
}

func (r *BanqRef) UnmarshalJSON(b []byte) error {
	type plain BanqRef
	v := struct {
		*plain
		BanqGUID text `json:"banqGuid"`
	}{plain: (*plain)(r)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	r.BanqGUID = string(v.BanqGUID)
	return nil
}

func (p *Payment) UnmarshalJSON(b []byte) error {
	type plain Payment
	v := struct {
		*plain
		ID             text         `json:"id"`
		AccountSpaceID looseInteger `json:"accountSpaceId"`
		CreatedAtUTC   looseTime    `json:"createdAtUtc"`
		UpdatedAtUTC   looseTime    `json:"updatedAtUtc"`
	}{plain: (*plain)(p)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	p.ID, p.AccountSpaceID = string(v.ID), int64(v.AccountSpaceID)
	p.CreatedAtUTC, p.UpdatedAtUTC = time.Time(v.CreatedAtUTC), time.Time(v.UpdatedAtUTC)
	return nil
}

func (t *Transaction) UnmarshalJSON(b []byte) error {
	type plain Transaction
	v := struct {
		*plain
		ID           text      `json:"id"`
		PaymentID    text      `json:"paymentId"`
		CreatedAtUTC looseTime `json:"createdAtUtc"`
		UpdatedAtUTC looseTime `json:"updatedAtUtc"`
	}{plain: (*plain)(t)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	t.ID, t.PaymentID = string(v.ID), string(v.PaymentID)
	t.CreatedAtUTC, t.UpdatedAtUTC = time.Time(v.CreatedAtUTC), time.Time(v.UpdatedAtUTC)
	return nil
}

func (w *Webhook) UnmarshalJSON(b []byte) error {
	type plain Webhook
	v := struct {
		*plain
		ID             text         `json:"id"`
		ResourceID     text         `json:"resourceId"`
		AccountSpaceID looseInteger `json:"accountSpaceId"`
		CreatedAtUTC   looseTime    `json:"createdAtUtc"`
	}{plain: (*plain)(w)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	w.ID, w.ResourceID, w.AccountSpaceID = string(v.ID), string(v.ResourceID), int64(v.AccountSpaceID)
	w.CreatedAtUTC = time.Time(v.CreatedAtUTC)
	return nil
}
