package handlers

import (
	"io"

	"github.com/labstack/echo/v4"

	"github.com/banq-checkout/checkout/ingest"
)

// markReceived marks a request on gate from the moment its whole body has been read until it is
// answered. Until then it marks nothing: a sender trickling its body holds up no one.
func markReceived(gate *ingest.Gate) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if gate == nil {
			return next
		}
		return func(c echo.Context) error {
			r := c.Request()
			body := &receivedBody{ReadCloser: r.Body, gate: gate, answered: func() {}}
			r.Body = body
			defer func() { body.answered() }()
			return next(c)
		}
	}
}

// receivedBody marks its request received when a read reaches the end of the body.
type receivedBody struct {
	io.ReadCloser
	gate     *ingest.Gate
	received bool
	answered func()
}

func (b *receivedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.received {
		b.received = true
		b.answered = b.gate.Received()
	}
	return n, err
}
