package alipay_test

import (
	"testing"

	"github.com/posagent/posagent/alipay"
)

func TestParseMajor(t *testing.T) {
	tests := []struct {
		value, currency string
		want            string // minor units; "" for an error
	}{
		{"12.50", "USD", "1250"},
		{"12.5", "USD", "1250"},
		{"12", "USD", "1200"},
		{"0.01", "USD", "1"},
		{"0", "USD", "0"},
		{"12.500", "USD", "1250"},
		{"1250", "JPY", "1250"},
		{"1250.0", "JPY", "1250"},
		{"18000", "KRW", "18000"},
		{"1.250", "KWD", "1250"},
		{"1.25", "KWD", "1250"},
		{"0.0001", "CLF", "1"},
		{"007.10", "EUR", "710"},
		{"92233720368547758.07", "USD", "9223372036854775807"},
		{"123456789012345678901234567890.12", "USD", "12345678901234567890123456789012"},
		{"12.505", "USD", ""},
		{"1250.5", "JPY", ""},
		{"1.2501", "KWD", ""},
		{"", "USD", ""},
		{".50", "USD", ""},
		{"12.", "USD", ""},
		{"-12.50", "USD", ""},
		{"+12.50", "USD", ""},
		{"1,250.00", "USD", ""},
		{"1e3", "USD", ""},
		{" 12.50", "USD", ""},
		{"12.50 ", "USD", ""},
		{"12.5.0", "USD", ""},
		{"１２", "JPY", ""},
		{"12.50", "usd", ""},
		{"12.50", "XAU", ""},
		{"12.50", "ABC", ""},
		{"12.50", "", ""},
		{"12.50", "US", ""},
		{"12.50", "D A", ""},
	}
	for _, tt := range tests {
		got, err := alipay.ParseMajor(tt.value, tt.currency)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("ParseMajor(%q, %q) = %v; want an error", tt.value, tt.currency, got)
		case tt.want != "" && err != nil:
			t.Errorf("ParseMajor(%q, %q): %v; want %s", tt.value, tt.currency, err, tt.want)
		case tt.want != "" && (got.Value != tt.want || got.Currency != tt.currency):
			t.Errorf("ParseMajor(%q, %q) = %v; want %s %s", tt.value, tt.currency, got, tt.want, tt.currency)
		}
	}
}

func TestMinorDigits(t *testing.T) {
	for cur, want := range map[string]int{"USD": 2, "EUR": 2, "CNY": 2, "HKD": 2, "IDR": 2, "TWD": 2, "JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "KWD": 3, "BHD": 3, "CLF": 4} {
		if got, ok := alipay.MinorDigits(cur); !ok || got != want {
			t.Errorf("MinorDigits(%s) = %d, %v; want %d", cur, got, ok, want)
		}
	}
	for _, cur := range []string{"", "usd", "XAU", "XXX", "ABC", "USDX", "SD ", " US"} {
		if d, ok := alipay.MinorDigits(cur); ok {
			t.Errorf("MinorDigits(%q) = %d, true; want not ok", cur, d)
		}
	}
}

func TestFormatMajor(t *testing.T) {
	tests := []struct {
		a    alipay.Amount
		want string
	}{
		{alipay.Amount{Currency: "USD", Value: "1250"}, "12.50 USD"},
		{alipay.Amount{Currency: "USD", Value: "5"}, "0.05 USD"},
		{alipay.Amount{Currency: "USD", Value: "0"}, "0.00 USD"},
		{alipay.Amount{Currency: "USD", Value: "0100"}, "1.00 USD"},
		{alipay.Amount{Currency: "JPY", Value: "1250"}, "1250 JPY"},
		{alipay.Amount{Currency: "KWD", Value: "1250"}, "1.250 KWD"},
		{alipay.Amount{Currency: "XYZ", Value: "1250"}, "1250 XYZ"},
		{alipay.Amount{Currency: "USD", Value: "-5"}, "-5 USD"},
	}
	for _, tt := range tests {
		if got := tt.a.FormatMajor(); got != tt.want {
			t.Errorf("%#v.FormatMajor() = %q; want %q", tt.a, got, tt.want)
		}
	}
}
