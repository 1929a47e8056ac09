package app

// NewBanqHTTPClient is the HTTP client the app gives its Banq client.
var NewBanqHTTPClient = newBanqHTTPClient
