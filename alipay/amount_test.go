package alipay_test

import (
	"testing"

	"github.com/posagent/posagent/alipay"
)

func TestAmountEqual(t *testing.T) {
	tests := []struct {
		a, b alipay.Amount
		want bool
	}{
		{alipay.Amount{"USD", "500"}, alipay.Amount{"USD", "500"}, true},
		{alipay.Amount{"USD", "0500"}, alipay.Amount{"USD", "500"}, true},
		{alipay.Amount{"USD", "0"}, alipay.Amount{"USD", "000"}, true},
		{alipay.Amount{"USD", "123456789012345678901234567890"}, alipay.Amount{"USD", "0123456789012345678901234567890"}, true},
		{alipay.Amount{"USD", "500"}, alipay.Amount{"USD", "501"}, false},
		{alipay.Amount{"USD", "500"}, alipay.Amount{"USD", "5000"}, false},
		{alipay.Amount{"USD", "500"}, alipay.Amount{"EUR", "500"}, false},
		{alipay.Amount{"USD", "500"}, alipay.Amount{"usd", "500"}, false},
		{alipay.Amount{"USD", "500"}, alipay.Amount{"USD ", "500"}, false},
		{alipay.Amount{"USD", "5.00"}, alipay.Amount{"USD", "5.00"}, false},
		{alipay.Amount{"USD", "-500"}, alipay.Amount{"USD", "-500"}, false},
		{alipay.Amount{"USD", "+500"}, alipay.Amount{"USD", "500"}, false},
		{alipay.Amount{"USD", " 500"}, alipay.Amount{"USD", "500"}, false},
		{alipay.Amount{"USD", ""}, alipay.Amount{"USD", ""}, false},
		{alipay.Amount{"USD", "５００"}, alipay.Amount{"USD", "500"}, false}, // full-width digits
	}
	for _, tt := range tests {
		if got := tt.a.Equal(tt.b); got != tt.want {
			t.Errorf("%#v.Equal(%#v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := tt.b.Equal(tt.a); got != tt.want {
			t.Errorf("%#v.Equal(%#v) = %v, want %v (not symmetric)", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestAmountString(t *testing.T) {
	if got := (alipay.Amount{Currency: "USD", Value: "500"}).String(); got != "500 USD" {
		t.Fatalf("String = %q", got)
	}
}
