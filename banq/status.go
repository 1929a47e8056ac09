package banq

type statusText struct {
	customer, merchant string
	terminal           bool
}

var paymentTexts = map[PaymentStatus]statusText{
	PaymentPending: {
		"Waiting for you to approve the request in your Banq app.",
		"Sent to the payer; waiting for them to approve it in the Banq app.",
		false,
	},
	PaymentAccepted: {
		"You approved the payment. Banq is moving the money.",
		"The payer approved the payment; Banq is making the transaction.",
		false,
	},
	PaymentOnHold: {
		"Banq has put this payment on hold. This page will update when it moves on.",
		"Banq put the payment on hold; it will be resumed or cancelled.",
		false,
	},
	PaymentCompleted: {
		"Banq has finished processing your payment.",
		"Banq finished the payment; its transaction tells whether the money moved.",
		true,
	},
	PaymentDeclined: {
		"You declined the payment in your Banq app.",
		"The payer declined the payment.",
		true,
	},
	PaymentCanceled: {
		"The payment request was cancelled.",
		"The payment request was cancelled.",
		true,
	},
	PaymentExpired: {
		"The payment request expired before it was approved.",
		"The payer did not approve the request in time; it expired.",
		true,
	},
}

// Valid reports whether s is a payment status this client knows.
func (s PaymentStatus) Valid() bool { _, ok := paymentTexts[s]; return ok }

// Terminal reports whether a payment in status s will not change any more. Completed is
// terminal, but whether the money moved is told by the payment's transaction.
func (s PaymentStatus) Terminal() bool { return paymentTexts[s].terminal }

// CustomerText is a plain sentence for the payer.
func (s PaymentStatus) CustomerText() string {
	if t, ok := paymentTexts[s]; ok {
		return t.customer
	}
	return "Checking the status of your payment with Banq."
}

// MerchantText is a plain sentence for the merchant's staff.
func (s PaymentStatus) MerchantText() string {
	if t, ok := paymentTexts[s]; ok {
		return t.merchant
	}
	return "Banq reported a payment status this checkout does not know (" + string(s) + ")."
}

var transactionTexts = map[TransactionStatus]statusText{
	TransactionProcessing: {
		"Your payment is being processed.",
		"Banq is moving the funds.",
		false,
	},
	TransactionCompleted: {
		"Your payment went through.",
		"The funds were transferred.",
		true,
	},
	TransactionFailed: {
		"The payment did not go through.",
		"The transaction failed; its fail reason says why.",
		true,
	},
}

// Valid reports whether s is a transaction status this client knows.
func (s TransactionStatus) Valid() bool { _, ok := transactionTexts[s]; return ok }

// Terminal reports whether a transaction in status s will not change any more.
func (s TransactionStatus) Terminal() bool { return transactionTexts[s].terminal }

// CustomerText is a plain sentence for the payer. For a failed transaction, the fail reason's
// CustomerText says more.
func (s TransactionStatus) CustomerText() string {
	if t, ok := transactionTexts[s]; ok {
		return t.customer
	}
	return "Checking the status of your payment with Banq."
}

// MerchantText is a plain sentence for the merchant's staff.
func (s TransactionStatus) MerchantText() string {
	if t, ok := transactionTexts[s]; ok {
		return t.merchant
	}
	return "Banq reported a transaction status this checkout does not know (" + string(s) + ")."
}
