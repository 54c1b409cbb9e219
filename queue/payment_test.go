package queue

import (
	"slices"
	"testing"
)

func TestEventOutcomeListsTheFieldsThatAreSet(t *testing.T) {
	tests := []struct {
		name string
		e    Event
		want []string
	}{
		{"answered", Event{Call: CallInquiry, ResultStatus: "S", PaymentStatus: "SUCCESS"}, []string{"S", "SUCCESS"}},
		{"refused", Event{Call: CallCancel, ResultStatus: "F", Code: "ORDER_IS_CLOSED", Note: "already final"}, []string{"F", "ORDER_IS_CLOSED", "already final"}},
		{"failed", Event{Call: CallInquiry, Error: "timeout"}, []string{"error: timeout"}},
		{"nothing", Event{Call: CallInquiry}, nil},
	}
	for _, tt := range tests {
		if got := tt.e.Outcome(); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Outcome() = %q, want %q", tt.name, got, tt.want)
		}
	}
}
