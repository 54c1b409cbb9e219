package device

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fs joins fields with FS, as a payload.
func fs(fields ...string) []byte { return []byte(strings.Join(fields, "\x1c")) }

func TestDecodePayFieldRules(t *testing.T) {
	long := strings.Repeat("é", 64)
	longReq := strings.Repeat("0123456789abcdef", 4)
	const reqRule = "req: required, 1-64 printable ASCII characters, no spaces"
	cases := []struct {
		name    string
		payload []byte
		want    Pay
		wantErr string // the InvalidFieldError message, "" for a valid PAY
	}{
		{"minimal", fs("req=pos-42", "amt=500", "cur=USD"), Pay{Req: "pos-42", Amount: 500, Currency: "USD"}, ""},
		{"all fields in any order", fs("lane=3", "exp=90", "cur=EUR", "pid=2026p", "amt=1", "req=r1"),
			Pay{Req: "r1", PID: "2026p", Amount: 1, Currency: "EUR", Expiry: 90 * time.Second, Lane: "3"}, ""},
		{"unknown keys ignored", fs("req=r", "amt=5", "cur=USD", "tip=abc\x01"), Pay{Req: "r", Amount: 5, Currency: "USD"}, ""},
		{"req of 64 printable ASCII characters", fs("req="+longReq, "amt=5", "cur=USD"), Pay{Req: longReq, Amount: 5, Currency: "USD"}, ""},
		{"req of every printable ASCII kind", fs("req=!~aZ09-_./:#", "amt=5", "cur=USD"), Pay{Req: "!~aZ09-_./:#", Amount: 5, Currency: "USD"}, ""},
		{"pid of 64 characters of any kind", fs("req=r", "pid="+long, "amt=5", "cur=USD"), Pay{Req: "r", PID: long, Amount: 5, Currency: "USD"}, ""},
		{"18 digits", fs("req=r", "amt=999999999999999999", "cur=USD"), Pay{Req: "r", Amount: 999999999999999999, Currency: "USD"}, ""},
		{"exp bounds", fs("req=r", "amt=5", "cur=USD", "exp=86400"), Pay{Req: "r", Amount: 5, Currency: "USD", Expiry: 86400 * time.Second}, ""},
		{"empty fields skipped", fs("req=r", "", "amt=5", "cur=USD", ""), Pay{Req: "r", Amount: 5, Currency: "USD"}, ""},

		{"req missing", fs("amt=5", "cur=USD"), Pay{}, reqRule},
		{"req empty", fs("req=", "amt=5", "cur=USD"), Pay{}, reqRule},
		{"req of 65 characters", fs("req="+longReq+"x", "amt=5", "cur=USD"), Pay{}, reqRule},
		{"req with a zero-width space", fs("req=pos\u200b42", "amt=5", "cur=USD"), Pay{}, reqRule},
		{"req starting with a byte-order mark", fs("req=\ufeffpos-42", "amt=5", "cur=USD"), Pay{}, reqRule},
		{"req with an emoji", fs("req=pos-42\U0001F600", "amt=5", "cur=USD"), Pay{}, reqRule},
		{"req with a letter outside ASCII", fs("req=caf\u00e9", "amt=5", "cur=USD"), Pay{}, reqRule},
		{"req with a space", fs("req=pos 42", "amt=5", "cur=USD"), Pay{}, reqRule},
		{"req with a trailing space", fs("req=pos-42 ", "amt=5", "cur=USD"), Pay{}, reqRule},
		{"req with a no-break space", fs("req=pos\u00a042", "amt=5", "cur=USD"), Pay{}, reqRule},
		{"req of 64 characters outside ASCII", fs("req="+long, "amt=5", "cur=USD"), Pay{}, reqRule},
		{"pid of 65 characters", fs("req=r", "pid="+long+"x", "amt=5", "cur=USD"), Pay{}, "pid: at most 64 characters"},
		{"amt missing", fs("req=r", "cur=USD"), Pay{}, "amt: 1-18 digits, no leading zero"},
		{"amt zero", fs("req=r", "amt=0", "cur=USD"), Pay{}, "amt: 1-18 digits, no leading zero"},
		{"amt leading zero", fs("req=r", "amt=0500", "cur=USD"), Pay{}, "amt: 1-18 digits, no leading zero"},
		{"amt decimal", fs("req=r", "amt=5.00", "cur=USD"), Pay{}, "amt: 1-18 digits, no leading zero"},
		{"amt negative", fs("req=r", "amt=-5", "cur=USD"), Pay{}, "amt: 1-18 digits, no leading zero"},
		{"amt 19 digits", fs("req=r", "amt=1000000000000000000", "cur=USD"), Pay{}, "amt: 1-18 digits, no leading zero"},
		{"cur lowercase", fs("req=r", "amt=5", "cur=usd"), Pay{}, "cur: 3 uppercase letters (ISO 4217)"},
		{"cur missing", fs("req=r", "amt=5"), Pay{}, "cur: 3 uppercase letters (ISO 4217)"},
		{"exp too small", fs("req=r", "amt=5", "cur=USD", "exp=9"), Pay{}, "exp: seconds, 10-86400"},
		{"exp too big", fs("req=r", "amt=5", "cur=USD", "exp=86401"), Pay{}, "exp: seconds, 10-86400"},
		{"exp signed", fs("req=r", "amt=5", "cur=USD", "exp=+60"), Pay{}, "exp: seconds, 10-86400"},
		{"exp empty", fs("req=r", "amt=5", "cur=USD", "exp="), Pay{}, "exp: seconds, 10-86400"},
		{"lane of 17 characters", fs("req=r", "amt=5", "cur=USD", "lane=12345678901234567"), Pay{}, "lane: at most 16 characters"},
		{"key given twice", fs("req=r", "amt=5", "amt=5", "cur=USD"), Pay{}, "amt: given more than once"},
		{"control byte in a value", fs("req=r\x07", "amt=5", "cur=USD"), Pay{}, "req: no control characters"},
		{"invalid UTF-8", fs("req=r\xff", "amt=5", "cur=USD"), Pay{}, "req: not valid UTF-8"},
		{"field without =", fs("req=r", "amt", "cur=USD"), Pay{}, "amt: not a key=value field"},
		{"uppercase key", fs("req=r", "AMT=5", "cur=USD"), Pay{}, "AMT: keys are lowercase letters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := DecodeMessage(TypePay, tc.payload)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("valid PAY refused: %v", err)
				}
				if !reflect.DeepEqual(m, tc.want) {
					t.Fatalf("got %#v, want %#v", m, tc.want)
				}
				return
			}
			var fe *InvalidFieldError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, %v; want an *InvalidFieldError", m, err)
			}
			if err.Error() != tc.wantErr {
				t.Fatalf("message %q, want %q", err.Error(), tc.wantErr)
			}
			if !strings.HasPrefix(tc.wantErr, fe.Key+": ") || fe.Rule == "" {
				t.Fatalf("Key %q and Rule %q do not make the message", fe.Key, fe.Rule)
			}
		})
	}
}

// TestRequestsOtherThanPayNameAnyReq: CANCEL, QUERY and DONE name a payment
// by the req of its PAY and are not held to the PAY's rule, so a payment
// stored under the looser rule of earlier versions can still be reached.
func TestRequestsOtherThanPayNameAnyReq(t *testing.T) {
	long := strings.Repeat("界", 64)
	cases := []struct {
		name    string
		typ     byte
		payload []byte
		want    Message
		wantErr string
	}{
		{"CANCEL with a letter outside ASCII", TypeCancel, fs("req=caf\u00e9"), Cancel{Req: "caf\u00e9"}, ""},
		{"QUERY with a space", TypeQuery, fs("req=pos 42"), Query{Req: "pos 42"}, ""},
		{"DONE of 64 characters outside ASCII", TypeDone, fs("req=" + long), Done{Req: long}, ""},
		{"CANCEL without req", TypeCancel, fs("x=1"), nil, "req: required, 1-64 characters"},
		{"QUERY with an empty req", TypeQuery, fs("req="), nil, "req: required, 1-64 characters"},
		{"DONE of 65 characters", TypeDone, fs("req=" + long + "x"), nil, "req: required, 1-64 characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := DecodeMessage(tc.typ, tc.payload)
			if tc.wantErr == "" {
				if err != nil || !reflect.DeepEqual(m, tc.want) {
					t.Fatalf("got %#v, %v; want %#v", m, err, tc.want)
				}
				return
			}
			var fe *InvalidFieldError
			if !errors.As(err, &fe) || err.Error() != tc.wantErr {
				t.Fatalf("got %#v, %v; want the *InvalidFieldError %q", m, err, tc.wantErr)
			}
		})
	}
}

// TestDecodeMessageRefusesAKeyGivenTwice: every message the protocol defines
// refuses a key given twice, whether it knows the key or not, even with the
// same value both times; the key and the rule make the error.
func TestDecodeMessageRefusesAKeyGivenTwice(t *testing.T) {
	valid := map[byte][]string{
		TypePay:    {"req=r", "amt=5", "cur=USD"},
		TypeCancel: {"req=r"},
		TypeQuery:  {"req=r"},
		TypeDone:   {"req=r"},
		TypeStatus: {"req=r", "state=ACCEPTED"},
		TypeResult: {"req=r", "status=FAIL", "pid=", "amt=5", "cur=USD", "code=X", "msg=", "time=2026-11-30T04:01:01Z"},
		TypeHello:  {"boot=0a1b2c3d", "ver=1", "role=register", "name=till"},
		TypePing:   nil,
	}
	cases := []struct {
		name  string
		typ   byte
		twice []string // added to the type's valid payload
		key   string   // the key the error names
	}{
		{"PAY known key", TypePay, []string{"amt=5"}, "amt"},
		{"PAY optional key", TypePay, []string{"lane=1", "lane=2"}, "lane"},
		{"PAY unknown key", TypePay, []string{"tip=1", "tip=1"}, "tip"},
		{"PAY unknown key with bytes a known value may not have", TypePay, []string{"tip=\x01", "tip=\xff"}, "tip"},
		{"CANCEL known key", TypeCancel, []string{"req=r"}, "req"},
		{"CANCEL unknown key", TypeCancel, []string{"x=1", "x=2"}, "x"},
		{"QUERY known key", TypeQuery, []string{"req=s"}, "req"},
		{"QUERY unknown key", TypeQuery, []string{"x=", "x="}, "x"},
		{"DONE known key", TypeDone, []string{"req=r"}, "req"},
		{"DONE unknown key", TypeDone, []string{"x=1", "x=1"}, "x"},
		{"STATUS known key", TypeStatus, []string{"state=PENDING"}, "state"},
		{"STATUS unknown key", TypeStatus, []string{"x=1", "x=1"}, "x"},
		{"RESULT known key", TypeResult, []string{"msg="}, "msg"},
		{"RESULT unknown key", TypeResult, []string{"x=1", "x=1"}, "x"},
		{"HELLO known key", TypeHello, []string{"boot=0a1b2c3d"}, "boot"},
		{"HELLO unknown key", TypeHello, []string{"x=1", "x=1"}, "x"},
		{"PING unknown key", TypePing, []string{"x=1", "x=1"}, "x"},
	}
	for typ, fields := range valid {
		if _, err := DecodeMessage(typ, fs(fields...)); err != nil {
			t.Fatalf("the valid %c payload was refused: %v", typ, err)
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			payload := fs(append(append([]string(nil), valid[tc.typ]...), tc.twice...)...)
			m, err := DecodeMessage(tc.typ, payload)
			var fe *InvalidFieldError
			if !errors.As(err, &fe) {
				t.Fatalf("payload %q: got %#v, %v; want an *InvalidFieldError", payload, m, err)
			}
			if want := tc.key + ": given more than once"; err.Error() != want {
				t.Fatalf("payload %q: message %q, want %q", payload, err.Error(), want)
			}
		})
	}
}

func TestRequestIDIsAsReceivedCutTo64Characters(t *testing.T) {
	long := strings.Repeat("界", 70)
	cases := []struct {
		name    string
		payload []byte
		want    string
	}{
		{"plain", fs("amt=0", "req=pos-42"), "pos-42"},
		{"none", fs("amt=0"), ""},
		{"cut to 64 characters", fs("req=" + long), strings.Repeat("界", 64)},
		{"bytes a payload cannot carry are replaced", fs("req=a\x07b\xffc"), "a\uFFFDb\uFFFDc"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := RequestID(tc.payload); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMessagesRoundTrip(t *testing.T) {
	msgs := []Message{
		Pay{Req: "pos-42", Amount: 500, Currency: "USD"},
		Pay{Req: "r", PID: "p", Amount: 7, Currency: "JPY", Expiry: time.Minute, Lane: "L1"},
		Cancel{Req: "pos-42"},
		Query{Req: "pos-42"},
		Done{Req: "pos-42"},
		Status{Req: "pos-42", State: StateAccepted},
		Status{Req: "", State: StateRejected, Code: CodeInvalidField, Msg: "req: required, 1-64 characters"},
		Status{Req: "pos-42", State: StateSuccess, PID: "2026", Amount: 500, Currency: "USD", Code: "SUCCESS", Msg: "paid", Time: "2026-11-30T12:01:01+08:00"},
		Result{Req: "pos-42", Status: StateCancelled, Amount: 500, Currency: "USD", Code: CodeTimeout, Time: "2026-11-30T04:01:01Z"},
		Hello{Boot: "0a1b2c3d", Ver: "1", Role: RoleAgent, Name: "posagent 1.2.3"},
		Ping{},
	}
	for _, m := range msgs {
		p, err := EncodePayload(m)
		if err != nil {
			t.Fatalf("%#v: %v", m, err)
		}
		got, err := DecodeMessage(m.Type(), p)
		if err != nil {
			t.Fatalf("%#v: payload %q: %v", m, p, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("round trip of %q: got %#v, want %#v", p, got, m)
		}
	}
}

func TestEncodePayloadFieldsAsSpecified(t *testing.T) {
	cases := []struct {
		m    Message
		want []byte
	}{
		{Status{Req: "pos-42", State: StateAccepted}, fs("req=pos-42", "state=ACCEPTED")},
		{Result{Req: "r", Status: StateFail, Amount: 5, Currency: "USD", Code: "X", Time: "2026-11-30T04:01:01Z"},
			fs("req=r", "status=FAIL", "pid=", "amt=5", "cur=USD", "code=X", "msg=", "time=2026-11-30T04:01:01Z")},
		{Status{Req: "r", State: StateCancelled, Amount: 5, Currency: "USD", Code: CodeRegisterCancel, Msg: strings.Repeat("m", 70), Time: "t"},
			fs("req=r", "state=CANCELLED", "pid=", "amt=5", "cur=USD", "code=REGISTER_CANCEL", "msg="+strings.Repeat("m", 64), "time=t")},
		{Ping{}, nil},
	}
	for _, tc := range cases {
		got, err := EncodePayload(tc.m)
		if err != nil || string(got) != string(tc.want) {
			t.Errorf("%#v: got %q, %v; want %q", tc.m, got, err, tc.want)
		}
	}
}

func TestEncodePayloadRefusesControlBytes(t *testing.T) {
	if _, err := EncodePayload(Status{Req: "a\x1cb", State: StateAccepted}); err == nil {
		t.Fatal("a req holding FS was encoded")
	}
}

func TestDecodeMessageUnknownType(t *testing.T) {
	if _, err := DecodeMessage('Z', nil); !errors.Is(err, ErrUnknownType) {
		t.Fatalf("got %v, want ErrUnknownType", err)
	}
}
