// Package static embeds the stylesheet and script the pages load.
package static

import "embed"

// Files holds app.css and app.js.
//
//go:embed *.css *.js
var Files embed.FS
