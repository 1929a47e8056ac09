package app

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/banq-checkout/checkout/handlers"
)

// maxLogo bounds the logo file: it is held in memory and sent with every customer page.
const maxLogo = 512 << 10

// loadBrand reads the merchant's logo (CHECKOUT_MERCHANT_LOGO) when it is a file, checking that
// it is a PNG, JPEG, GIF, WebP or SVG picture of reasonable size; a URL is used as it is.
func loadBrand(cfg Config) (handlers.Brand, error) {
	b := handlers.Brand{Accent: cfg.AccentColor}
	switch logo := cfg.MerchantLogo; {
	case logo == "":
	case strings.Contains(logo, "://"):
		b.LogoURL = logo // validated as same-origin by ParseConfig
	default:
		data, err := os.ReadFile(logo)
		if err != nil {
			return b, fmt.Errorf("CHECKOUT_MERCHANT_LOGO: %w", err)
		}
		if len(data) > maxLogo {
			return b, fmt.Errorf("CHECKOUT_MERCHANT_LOGO=%q is %d KiB; keep the logo under %d KiB", logo, len(data)>>10, maxLogo>>10)
		}
		typ := http.DetectContentType(data)
		if strings.EqualFold(filepath.Ext(logo), ".svg") && bytes.Contains(data[:min(len(data), 1024)], []byte("<svg")) {
			typ = "image/svg+xml"
		}
		switch typ {
		case "image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml":
		default:
			return b, fmt.Errorf("CHECKOUT_MERCHANT_LOGO=%q is %s, not a PNG, JPEG, GIF, WebP or SVG picture", logo, typ)
		}
		b.Logo, b.LogoType = data, typ
	}
	return b, nil
}
