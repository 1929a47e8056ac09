package apptest

import (
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/color"
	"strconv"
	"strings"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
	"github.com/makiuchi-d/gozxing/qrcode/detector"
)

// DecodeQRSVG reads a QR code the checkout rendered as SVG (views.QRSVG: a viewBox with one unit
// per module, dark modules as a path of "M x y h w v 1 h -w z" runs) the way a phone would: it
// draws the SVG at scale pixels per module and hands the picture to a QR reader (ZXing's Go port).
func DecodeQRSVG(svg []byte, scale int) (string, error) {
	var doc struct {
		ViewBox string `xml:"viewBox,attr"`
		Paths   []struct {
			D    string `xml:"d,attr"`
			Fill string `xml:"fill,attr"`
		} `xml:"path"`
	}
	if err := xml.Unmarshal(svg, &doc); err != nil {
		return "", fmt.Errorf("parse svg: %w", err)
	}
	var box [4]int
	for i, f := range strings.Fields(doc.ViewBox) {
		if i < 4 {
			box[i], _ = strconv.Atoi(f)
		}
	}
	if box[2] <= 0 || box[2] != box[3] || len(doc.Paths) != 1 {
		return "", fmt.Errorf("want a square viewBox and one path, got %q and %d paths", doc.ViewBox, len(doc.Paths))
	}
	img := image.NewGray(image.Rect(0, 0, box[2]*scale, box[3]*scale))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	// Walk the runs: M x y, h w, v 1, h -w, z.
	d := strings.NewReplacer("M", " M ", "h", " h ", "v", " v ", "z", " z ").Replace(doc.Paths[0].D)
	tok := strings.Fields(d)
	for i := 0; i < len(tok); {
		if i+10 > len(tok) || tok[i] != "M" || tok[i+3] != "h" || tok[i+5] != "v" || tok[i+7] != "h" || tok[i+9] != "z" {
			return "", fmt.Errorf("unexpected path data at %q", strings.Join(tok[i:min(i+10, len(tok))], " "))
		}
		x, _ := strconv.Atoi(tok[i+1])
		y, _ := strconv.Atoi(tok[i+2])
		w, _ := strconv.Atoi(tok[i+4])
		if tok[i+6] != "1" || tok[i+8] != strconv.Itoa(-w) {
			return "", errors.New("a run is not one module high")
		}
		for py := y * scale; py < (y+1)*scale; py++ {
			for px := x * scale; px < (x+w)*scale; px++ {
				img.SetGray(px, py, color.Gray{Y: 0})
			}
		}
		i += 10
	}
	// ZXing's detector misreads about one valid code in a hundred at a given angle (a false
	// finder pattern); a phone simply reads the next frame, held a little differently. So the
	// picture is tried turned by quarter turns, and the code must be read in one of them.
	var err error
	for turn := range 4 {
		if turn > 0 {
			img = quarterTurn(img)
		}
		var text string
		if text, err = readQR(img); err == nil {
			return text, nil
		}
	}
	return "", err
}

// readQR finds and reads the QR code in img.
func readQR(img *image.Gray) (string, error) {
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", err
	}
	matrix, err := bmp.GetBlackMatrix()
	if err != nil {
		return "", err
	}
	found, err := detector.NewDetector(matrix).Detect(nil)
	if err != nil {
		return "", fmt.Errorf("find the QR code: %w", err)
	}
	res, err := decoder.NewDecoder().Decode(found.GetBits(), nil)
	if err != nil {
		return "", fmt.Errorf("read the QR code: %w", err)
	}
	// ZXing also reads a mirrored code, which some phone readers refuse: not good enough.
	if meta, ok := res.GetOther().(*decoder.QRCodeDecoderMetaData); ok && meta.IsMirrored() {
		return res.GetText(), errors.New("the QR code is mirrored")
	}
	return res.GetText(), nil
}

// quarterTurn returns img turned a quarter turn clockwise.
func quarterTurn(img *image.Gray) *image.Gray {
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, b.Dy(), b.Dx()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			out.SetGray(b.Dy()-1-y, x, img.GrayAt(x, y))
		}
	}
	return out
}
