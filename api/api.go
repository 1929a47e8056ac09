// Package api holds the shop API's OpenAPI document, the contract that handlers serves and the
// API tests check every request and answer against.
package api

import _ "embed"

// OpenAPI is api/openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte
