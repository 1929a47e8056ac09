package views_test

import (
	"strings"
	"testing"

	"github.com/banq-checkout/checkout/app/apptest"
	"github.com/banq-checkout/checkout/views"
)

func TestQRSVGDecodesToTheLink(t *testing.T) {
	for _, link := range []string{
		"http://localhost:8080/pay/3q2-7Yy_Jm0aQzK1cW9xLrT5vB8nHdUe",
		"https://pay.example.com/pay/" + strings.Repeat("A", 32),
	} {
		svg, err := views.QRSVG(link)
		if err != nil {
			t.Fatal(err)
		}
		got, err := apptest.DecodeQRSVG(svg, 4)
		if err != nil {
			t.Fatalf("%s: %v", link, err)
		}
		if got != link {
			t.Fatalf("QR decodes to %q, want %q", got, link)
		}
	}
}
