package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/banq-checkout/checkout/banq"
	"github.com/banq-checkout/checkout/checkout"
	"github.com/banq-checkout/checkout/views"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func (h *Handlers) listOrders(c echo.Context) error {
	f, v := orderFilter(c)
	f.Limit = 50
	f.Before, _ = strconv.ParseInt(c.QueryParam("before"), 10, 64)
	orders, more, err := h.store.ListOrders(c.Request().Context(), f)
	if err != nil {
		return err
	}
	v.Orders, v.More, v.Before = orders, more, f.Before
	if more {
		v.NextBefore = orders[len(orders)-1].ID
	}
	return render(c, http.StatusOK, views.Orders(h.page(c, "Orders", "orders"), v))
}

// newOrderView fills the form's customer list from Banq (search and paging from the query).
func (h *Handlers) newOrderView(c echo.Context, v views.NewOrderView) views.NewOrderView {
	if v.Search == "" {
		// The query of the form page, or the hidden fields of the order form: the page the
		// customer was chosen from.
		v.Search = strings.TrimSpace(c.FormValue("q"))
	}
	if v.ExpiresIn == "" {
		v.ExpiresIn = strconv.Itoa(int(h.cfg.OrderTTL.Minutes()))
	}
	v.Search = boundSearch(v.Search)
	page := formPage(c)
	// The list only helps the merchant choose: it must not hold up the form when Banq is slow.
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	res, err := h.banqs.Banqs(ctx, banq.BanqQuery{Search: v.Search, Page: page, PageSize: formPageSize})
	if err != nil {
		h.log.WarnContext(c.Request().Context(), "browse banqs", "err", err)
		v.BanqError = "Banq's directory did not answer; try the search again in a moment."
		return v
	}
	merchant := h.checkout.Merchant().Banq
	for _, b := range res.Data {
		if b.GUID != merchant {
			v.Banqs = append(v.Banqs, b)
		}
	}
	v.BanqPage, v.BanqPages = page, res.Meta.PageCount
	return v
}

func (h *Handlers) newOrderForm(c echo.Context) error {
	v := h.newOrderView(c, views.NewOrderView{
		Amount:      c.QueryParam("amount"),
		Description: c.QueryParam("description"),
		ExpiresIn:   c.QueryParam("expires"),
	})
	return render(c, http.StatusOK, views.NewOrderForm(h.page(c, "New order", "new"), v))
}

func (h *Handlers) createOrder(c echo.Context) error {
	ctx := c.Request().Context()
	u := c.Get(userKey).(checkout.User)
	v := views.NewOrderView{
		Amount:      c.FormValue("amount"),
		Description: c.FormValue("description"),
		Customer:    c.FormValue("customer"),
		ExpiresIn:   c.FormValue("expires"),
	}
	n, err := checkout.ParseNewOrder(checkout.OrderForm{Amount: v.Amount, Description: v.Description,
		ByLink: v.Customer == views.CustomerByLink, CustomerBanq: v.Customer, ExpiresIn: v.ExpiresIn}, h.cfg.OrderTTL)
	if err != nil {
		return h.orderFormError(c, v, err)
	}
	if n.CustomerBanq != "" {
		// The payer's name is Banq's, never the form's; a link's payer says who they are at Banq.
		payer, found, err := h.payer(ctx, boundSearch(strings.TrimSpace(c.FormValue("q"))), formPage(c), n.CustomerBanq)
		switch {
		case err != nil:
			// Banq's directory is away: the order is kept, named by its GUID; sending it waits
			// for Banq anyway.
			h.log.WarnContext(ctx, "look up the payer's banq", "err", err)
		case !found:
			return h.orderFormError(c, v, &checkout.Error{Code: checkout.EInvalid, Message: "Please correct the highlighted fields.",
				Fields: map[string]string{"customer": "Banq's directory has no such banq; search for the customer again."}})
		default:
			v.CustomerName = payer.Name
			n.CustomerBanq = payer.GUID
			if payer.Name != "" {
				n.CustomerName = payer.Name
			}
		}
	}
	n.CreatedBy = u.ID
	o, err := h.checkout.CreateOrder(ctx, n)
	if err != nil {
		if o.State == checkout.StateCreating {
			v.RetryOrderID = o.ID
		}
		return h.orderFormError(c, v, err)
	}
	return c.Redirect(http.StatusSeeOther, "/orders/"+itoa(o.ID))
}

// formPageSize is how many banqs the new-order form lists a page.
const formPageSize = 10

// formPage is the page of Banq's directory the form listed (its "page" value), 1 at least.
func formPage(c echo.Context) int {
	page, _ := strconv.Atoi(c.FormValue("page"))
	return max(page, 1)
}

// boundSearch keeps a search of the directory to the length the form allows.
func boundSearch(s string) string {
	if len(s) > 100 {
		return s[:100]
	}
	return s
}

// payer returns the banq guid as Banq's directory has it, name included: from the first pages
// of the form's search (and the page the form listed, when those do not reach it), else of the
// whole directory. found is false when Banq answered and has no such banq; err when it could not
// be asked.
func (h *Handlers) payer(ctx context.Context, search string, page int, guid string) (banq.Banq, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// find looks for guid on one page of the directory; pages is how many it has.
	find := func(search string, page, size int) (b banq.Banq, found bool, pages int, err error) {
		res, err := h.banqs.Banqs(ctx, banq.BanqQuery{Search: search, Page: page, PageSize: size})
		if err != nil {
			return banq.Banq{}, false, 0, err
		}
		for _, b := range res.Data {
			if strings.EqualFold(b.GUID, guid) {
				return b, true, 0, nil
			}
		}
		if len(res.Data) == 0 {
			return banq.Banq{}, false, 0, nil
		}
		return banq.Banq{}, false, res.Meta.PageCount, nil
	}
	const pageSize, maxPages = 100, 5 // bounded: the merchant is waiting
	if page > maxPages*pageSize/formPageSize {
		if b, found, _, err := find(search, page, formPageSize); found || err != nil {
			return b, found, err
		}
	}
	searches := []string{search}
	if search != "" {
		searches = append(searches, "")
	}
	for _, search := range searches {
		for page, pages := 1, 1; page <= min(pages, maxPages); page++ {
			b, found, n, err := find(search, page, pageSize)
			if found || err != nil {
				return b, found, err
			}
			pages = n
		}
	}
	return banq.Banq{}, false, nil
}

// orderFormError shows the form again with everything the merchant typed and what to fix.
func (h *Handlers) orderFormError(c echo.Context, v views.NewOrderView, err error) error {
	var ce *checkout.Error
	if !errors.As(err, &ce) || ce.Code == checkout.EInternal {
		return err
	}
	v = h.newOrderView(c, v)
	v.Message, v.Errors = ce.Message, ce.Fields
	status := http.StatusUnprocessableEntity
	if ce.Code == checkout.EUnavailable {
		status = http.StatusServiceUnavailable
	}
	return render(c, status, views.NewOrderForm(h.page(c, "New order", "new"), v))
}

func (h *Handlers) orderID(c echo.Context) (int64, error) { return idParam(c, "No such order.") }

func (h *Handlers) showOrder(c echo.Context) error {
	id, err := h.orderID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	o, err := h.store.Order(ctx, id)
	if err != nil {
		return err
	}
	events, err := h.store.Events(ctx, o.ID, 0)
	if err != nil {
		return err
	}
	if len(events) > 0 {
		o.LastSeq = events[len(events)-1].Seq
	}
	return render(c, http.StatusOK, views.OrderPage(h.page(c, "Order #"+o.Number(), "orders"),
		views.OrderView{Order: o, Events: events, PayURL: h.payURL(o), QRURL: qrURL(o.Token)}))
}

func (h *Handlers) retryOrder(c echo.Context) error {
	id, err := h.orderID(c)
	if err != nil {
		return err
	}
	if _, err := h.checkout.RetryCreate(c.Request().Context(), id); err != nil && checkout.ErrorCode(err) == checkout.EInternal {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/orders/"+itoa(id))
}

// cancelOrder cancels an order the customer has not approved yet; its pages say so at once.
func (h *Handlers) cancelOrder(c echo.Context) error {
	id, err := h.orderID(c)
	if err != nil {
		return err
	}
	u := c.Get(userKey).(checkout.User)
	if _, err := h.checkout.CancelOrder(c.Request().Context(), id, u.Email); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/orders/"+itoa(id))
}

func (h *Handlers) payURL(o checkout.Order) string {
	return strings.TrimRight(h.cfg.PublicURL, "/") + "/pay/" + url.PathEscape(o.Token)
}
