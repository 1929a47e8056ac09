package views

import (
	"bytes"
	"fmt"

	"github.com/boombuler/barcode/qr"
)

// qrQuiet is the blank border around a QR code, in modules; readers need four.
const qrQuiet = 4

// QRSVG renders text as a QR code in SVG: dark modules as one path over a white square with
// the quiet zone, one unit per module, to be scaled by CSS. Error correction is level M, which
// survives a screen's glare and a smudge.
func QRSVG(text string) ([]byte, error) {
	code, err := qr.Encode(text, qr.M, qr.Auto)
	if err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	n := code.Bounds().Dx()
	size := n + 2*qrQuiet
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges">`, size, size)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, size, size)
	dark := func(x, y int) bool { r, _, _, _ := code.At(x, y).RGBA(); return r < 0x8000 }
	for y := 0; y < n; y++ {
		for x := 0; x < n; {
			if !dark(x, y) {
				x++
				continue
			}
			run := 1
			for x+run < n && dark(x+run, y) {
				run++
			}
			// One rectangle per horizontal run of dark modules.
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", x+qrQuiet, y+qrQuiet, run, run)
			x += run
		}
	}
	b.WriteString(`"/></svg>`)
	return b.Bytes(), nil
}
