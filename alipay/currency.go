package alipay

import (
	"fmt"
	"strings"
)

// minorDigits maps the ISO 4217 codes whose minor unit is not two digits
// to their number of digits. AMS amounts are in the minor unit ISO 4217
// gives each currency; every code in twoDigits has two.
var minorDigits = map[string]int{
	// No minor unit.
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
	"PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	// Thousandths.
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	// Ten-thousandths.
	"CLF": 4, "UYW": 4,
}

// twoDigits lists the ISO 4217 codes in use whose minor unit is a hundredth.
const twoDigits = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN " +
	"BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD " +
	"FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK " +
	"LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR " +
	"NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN " +
	"SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW " +
	"ZWG ZWL"

// MinorDigits returns how many decimal digits the minor unit of currency
// has under ISO 4217 (2 for USD, 0 for JPY, 3 for KWD), the unit AMS
// amounts are written in. ok is false for a code that is not a currency in
// use with a minor unit, such as "usd", "XAU" or "ABC".
func MinorDigits(currency string) (digits int, ok bool) {
	if d, ok := minorDigits[currency]; ok {
		return d, true
	}
	for _, c := range strings.Fields(twoDigits) {
		if c == currency {
			return 2, true
		}
	}
	return 0, false
}

// ParseMajor reads value, an amount written in the main unit of currency
// as financial reports write it ("12.50" USD, "1250" JPY, "1.250" KWD),
// and returns it as an Amount in minor units ("1250"). It works on the
// decimal digits, never through floating point, so every amount converts
// exactly. A value with more decimals than the currency has is refused
// unless the extra ones are zeros ("12.500" USD is 1250); so are signs,
// blanks, thousands separators, exponents and an empty value.
func ParseMajor(value, currency string) (Amount, error) {
	digits, ok := MinorDigits(currency)
	if !ok {
		return Amount{}, fmt.Errorf("currency %q is not an ISO 4217 code in use", currency)
	}
	whole, frac, dot := strings.Cut(value, ".")
	if whole == "" || !decimal(whole) || (dot && (frac == "" || !decimal(frac))) {
		return Amount{}, fmt.Errorf("amount %q is not a decimal number such as 12.50", value)
	}
	if len(frac) > digits {
		if strings.Trim(frac[digits:], "0") != "" {
			return Amount{}, fmt.Errorf("amount %q has more decimals than %s has (%d)", value, currency, digits)
		}
		frac = frac[:digits]
	}
	minor := strings.TrimLeft(whole+frac+strings.Repeat("0", digits-len(frac)), "0")
	if minor == "" {
		minor = "0"
	}
	return Amount{Currency: currency, Value: minor}, nil
}

// FormatMajor writes a in the main unit of its currency ("12.50 USD" for
// {"USD","1250"}), for people. An amount whose value or currency cannot be
// read is written as it is, as String does.
func (a Amount) FormatMajor() string {
	digits, ok := MinorDigits(a.Currency)
	v, vok := canonicalMinor(a.Value)
	if !ok || !vok {
		return a.String()
	}
	if digits == 0 {
		return v + " " + a.Currency
	}
	if len(v) <= digits {
		v = strings.Repeat("0", digits-len(v)+1) + v
	}
	return v[:len(v)-digits] + "." + v[len(v)-digits:] + " " + a.Currency
}

// decimal reports whether s is a non-empty string of ASCII decimal digits.
func decimal(s string) bool {
	_, ok := canonicalMinor(s)
	return ok
}
