package alipay

import "strings"

// Amount is an AMS amount: an ISO 4217 currency code and a value in minor
// units written as a decimal string, e.g. {"currency":"USD","value":"500"}
// for five dollars.
type Amount struct {
	Currency string `json:"currency"`
	Value    string `json:"value"`
}

// Equal reports whether a and b are the same amount: the currencies match
// exactly and the values are the same integer, so "0500" equals "500". A value
// that is not a string of decimal digits equals nothing, not even itself, so
// a damaged amount can never pass as a match.
func (a Amount) Equal(b Amount) bool {
	av, aok := canonicalMinor(a.Value)
	bv, bok := canonicalMinor(b.Value)
	return aok && bok && a.Currency == b.Currency && av == bv
}

// String returns the amount as "500 USD", for logs.
func (a Amount) String() string {
	return a.Value + " " + a.Currency
}

// canonicalMinor returns v without leading zeros ("0" for zero) and whether v
// is a non-empty string of ASCII decimal digits. Comparing the canonical
// strings compares the integers without any limit on their size.
func canonicalMinor(v string) (string, bool) {
	if v == "" {
		return "", false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return "", false
		}
	}
	v = strings.TrimLeft(v, "0")
	if v == "" {
		v = "0"
	}
	return v, true
}
