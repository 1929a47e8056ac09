// Package static embeds the stylesheet, script and icon the pages load.
package static

import "embed"

// Files holds the merchant pages' app.css and app.js, the customer pages' pay.css and pay.js,
// and favicon.svg.
//
//go:embed *.css *.js *.svg
var Files embed.FS
