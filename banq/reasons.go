package banq

// FailReason tells why a transaction failed (from Banq's published description).
type FailReason string

// Fail reasons, every value of the seed.
const (
	FailNone                                 FailReason = "None"
	FailProcessingFailed                     FailReason = "ProcessingFailed"
	FailLimitsExceeded                       FailReason = "LimitsExceeded"
	FailFingerprintBlacklisted               FailReason = "FingerprintBlacklisted"
	FailBanqError                            FailReason = "BanqError"
	FailPrimeTrustError                      FailReason = "PrimeTrustError"
	FailInsufficientBalance                  FailReason = "InsufficientBalance"
	FailCustodialAccountContactIsNotApproved FailReason = "CustodialAccountContactIsNotApproved"
	FailExternalAccountIsDeactivated         FailReason = "ExternalAccountIsDeactivated"
	FailPlaidRequiresReAuthentication        FailReason = "PlaidRequiresReAuthentication"
	FailAccountIsFrozen                      FailReason = "AccountIsFrozen"
	FailReversed                             FailReason = "Reversed"
	FailCancelled                            FailReason = "Cancelled"
)

// FailReasons lists every fail reason, in the seed's order.
var FailReasons = []FailReason{
	FailNone, FailProcessingFailed, FailLimitsExceeded, FailFingerprintBlacklisted, FailBanqError,
	FailPrimeTrustError, FailInsufficientBalance, FailCustodialAccountContactIsNotApproved,
	FailExternalAccountIsDeactivated, FailPlaidRequiresReAuthentication, FailAccountIsFrozen,
	FailReversed, FailCancelled,
}

type reasonText struct{ customer, merchant string }

var reasonTexts = map[FailReason]reasonText{
	FailNone: {
		"The payment could not be completed.",
		"The transaction failed without a reason given by Banq.",
	},
	FailProcessingFailed: {
		"Banq could not process the payment. Please try again in a few minutes.",
		"Banq's processing failed. The customer can try again; if it repeats, contact Banq support.",
	},
	FailLimitsExceeded: {
		"This payment is over your Banq spending limit.",
		"The payer's Banq limits were exceeded. Ask for a smaller amount or another payment method.",
	},
	FailFingerprintBlacklisted: {
		"Banq blocked this payment for security reasons. Please contact Banq support.",
		"Banq blocked the payer's device (fingerprint blacklisted). The payer must contact Banq.",
	},
	FailBanqError: {
		"Something went wrong at Banq. Please try again later.",
		"An error inside Banq stopped the transaction. Retry later; contact Banq if it persists.",
	},
	FailPrimeTrustError: {
		"Banq's banking partner could not move the money. Please try again later.",
		"Banq's custody partner (Prime Trust) reported an error. Retry later.",
	},
	FailInsufficientBalance: {
		"There was not enough money in your account to pay.",
		"The payer's balance was insufficient.",
	},
	FailCustodialAccountContactIsNotApproved: {
		"Your Banq account is not fully verified yet. Finish verification in the Banq app, then try again.",
		"The payer's custodial account contact is not approved yet (verification pending).",
	},
	FailExternalAccountIsDeactivated: {
		"The bank account linked to your Banq is deactivated. Link another account in the Banq app.",
		"The payer's linked external bank account is deactivated.",
	},
	FailPlaidRequiresReAuthentication: {
		"Your bank connection needs you to sign in again. Reconnect your bank in the Banq app, then try again.",
		"The payer's bank link (Plaid) needs re-authentication before funds can move.",
	},
	FailAccountIsFrozen: {
		"Your Banq account is frozen. Please contact Banq support.",
		"The payer's account is frozen.",
	},
	FailReversed: {
		"The payment was reversed and the money returned.",
		"The transaction was reversed; the funds went back to the payer.",
	},
	FailCancelled: {
		"The payment was cancelled.",
		"The transaction was cancelled.",
	},
}

// Valid reports whether r is one of the seed's fail reasons.
func (r FailReason) Valid() bool { _, ok := reasonTexts[r]; return ok }

// CustomerText is a plain sentence for the payer.
func (r FailReason) CustomerText() string {
	if t, ok := reasonTexts[r]; ok {
		return t.customer
	}
	return reasonTexts[FailNone].customer
}

// MerchantText is a plain sentence for the merchant's staff.
func (r FailReason) MerchantText() string {
	if t, ok := reasonTexts[r]; ok {
		return t.merchant
	}
	return "The transaction failed (" + string(r) + ")."
}
