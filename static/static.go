// Package static embeds the stylesheet, script and icon the pages load.
package static

import "embed"

// Files holds app.css, app.js and favicon.svg.
//
//go:embed *.css *.js *.svg
var Files embed.FS
