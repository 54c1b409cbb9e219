package device

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Message is a typed application message: one of Pay, Cancel, Query, Done,
// Status, Result, Hello and Ping. Its Type is the frame TYPE letter that
// carries it.
type Message interface {
	Type() byte
	appendFields(w *fieldWriter)
}

// STATUS states.
const (
	StateAccepted   = "ACCEPTED"
	StatePending    = "PENDING"
	StateCancelling = "CANCELLING"
	StateSuccess    = "SUCCESS"
	StateFail       = "FAIL"
	StateCancelled  = "CANCELLED"
	StateUnknown    = "UNKNOWN"
	StateRejected   = "REJECTED"
)

// Codes of a STATUS REJECTED and of a RESULT CANCELLED decided by the agent.
const (
	CodeInvalidField   = "INVALID_FIELD"
	CodeConflict       = "CONFLICT"
	CodeStorageError   = "STORAGE_ERROR"
	CodeRegisterCancel = "REGISTER_CANCEL"
	CodeTimeout        = "TIMEOUT"
	CodeAmountMismatch = "AMOUNT_MISMATCH"
)

// Roles a HELLO names.
const (
	RoleAgent    = "agent"
	RoleRegister = "register"
)

// maxMsg is the longest msg of a STATUS or RESULT, in characters.
const maxMsg = 64

// IsFinal reports whether a STATUS state or RESULT status is final.
func IsFinal(state string) bool {
	return state == StateSuccess || state == StateFail || state == StateCancelled
}

// Pay asks the agent to track a payment (register to agent).
type Pay struct {
	Req      string        // paymentRequestId, 1-64 printable ASCII characters (0x21-0x7E)
	PID      string        // paymentId, up to 64 characters; "" when not given
	Amount   int64         // minor units, > 0
	Currency string        // ISO 4217, three uppercase letters
	Expiry   time.Duration // how long to poll before cancelling; 0 when not given
	Lane     string        // up to 16 characters; "" when not given
}

// Cancel asks the agent to cancel a payment (register to agent).
type Cancel struct{ Req string }

// Query asks the agent for the state of a payment (register to agent).
type Query struct{ Req string }

// Done tells the agent the register has recorded the RESULT of Req.
type Done struct{ Req string }

// Status answers a PAY, CANCEL or QUERY (agent to register). For a final
// State the RESULT fields PID, Amount, Currency, Code, Msg and Time are sent
// too; otherwise only Code and Msg, when not empty.
type Status struct {
	Req      string // as received, cut to 64 characters; "" when the request had none
	State    string
	Code     string
	Msg      string // at most 64 characters; longer ones are cut when sent
	PID      string
	Amount   int64
	Currency string
	Time     string // RFC 3339 with an offset
}

// Result pushes the final state of a payment (agent to register), which
// answers with Done.
type Result struct {
	Req      string
	Status   string // StateSuccess, StateFail or StateCancelled
	PID      string // "" when Alipay never gave one (sent as "pid=")
	Amount   int64
	Currency string
	Code     string
	Msg      string // at most 64 characters; longer ones are cut when sent
	Time     string // RFC 3339 with an offset, as Alipay gave it, or UTC
}

// Hello opens a session; each side sends it right after opening the port.
type Hello struct {
	Boot string // 8 hex digits, random for each process start
	Ver  string // protocol version, "1"
	Role string // RoleAgent or RoleRegister
	Name string // software name and version
}

// Ping asks the peer for an ACK after a silence.
type Ping struct{}

func (Pay) Type() byte    { return TypePay }
func (Cancel) Type() byte { return TypeCancel }
func (Query) Type() byte  { return TypeQuery }
func (Done) Type() byte   { return TypeDone }
func (Status) Type() byte { return TypeStatus }
func (Result) Type() byte { return TypeResult }
func (Hello) Type() byte  { return TypeHello }
func (Ping) Type() byte   { return TypePing }

func (m Pay) appendFields(w *fieldWriter) {
	w.add("req", m.Req)
	w.addOptional("pid", m.PID)
	w.add("amt", strconv.FormatInt(m.Amount, 10))
	w.add("cur", m.Currency)
	if m.Expiry > 0 {
		w.add("exp", strconv.FormatInt(int64(m.Expiry/time.Second), 10))
	}
	w.addOptional("lane", m.Lane)
}

func (m Cancel) appendFields(w *fieldWriter) { w.add("req", m.Req) }
func (m Query) appendFields(w *fieldWriter)  { w.add("req", m.Req) }
func (m Done) appendFields(w *fieldWriter)   { w.add("req", m.Req) }

func (m Status) appendFields(w *fieldWriter) {
	w.add("req", cutChars(m.Req, maxReq))
	w.add("state", m.State)
	if !IsFinal(m.State) {
		w.addOptional("code", m.Code)
		w.addOptional("msg", cutChars(m.Msg, maxMsg))
		return
	}
	appendOutcome(w, m.PID, m.Amount, m.Currency, m.Code, m.Msg, m.Time)
}

func (m Result) appendFields(w *fieldWriter) {
	w.add("req", m.Req)
	w.add("status", m.Status)
	appendOutcome(w, m.PID, m.Amount, m.Currency, m.Code, m.Msg, m.Time)
}

// appendOutcome writes the fields a RESULT and a final STATUS share; the
// protocol requires every one of them, even when empty.
func appendOutcome(w *fieldWriter, pid string, amount int64, currency, code, msg, at string) {
	w.add("pid", pid)
	w.add("amt", strconv.FormatInt(amount, 10))
	w.add("cur", currency)
	w.add("code", code)
	w.add("msg", cutChars(msg, maxMsg))
	w.add("time", at)
}

func (m Hello) appendFields(w *fieldWriter) {
	w.add("boot", m.Boot)
	w.add("ver", m.Ver)
	w.add("role", m.Role)
	w.add("name", m.Name)
}

func (Ping) appendFields(*fieldWriter) {}

// EncodePayload returns the payload of m: its fields as key=value separated by
// FS. It fails when a value holds bytes a payload may not carry or the payload
// would be longer than MaxPayload.
func EncodePayload(m Message) ([]byte, error) {
	var w fieldWriter
	m.appendFields(&w)
	if w.err != nil {
		return nil, fmt.Errorf("%c message: %w", m.Type(), w.err)
	}
	if len(w.buf) > MaxPayload {
		return nil, fmt.Errorf("%c message of %d bytes is over the limit of %d: shorten its fields", m.Type(), len(w.buf), MaxPayload)
	}
	return w.buf, nil
}

// ErrUnknownType is returned by DecodeMessage for a TYPE the protocol does not
// define; such a data frame is acknowledged and otherwise ignored.
var ErrUnknownType = errors.New("frame TYPE is not defined by the protocol, so it is ignored")

// DecodeMessage reads the payload of a data frame of the given TYPE. A
// payload that breaks a field rule returns an *InvalidFieldError naming the
// first broken field; RequestID(payload) gives the req to answer with.
func DecodeMessage(typ byte, payload []byte) (Message, error) {
	switch typ {
	case TypePay:
		return decodePay(payload)
	case TypeCancel, TypeQuery, TypeDone:
		fs, err := parseFields(payload, "req")
		if err != nil {
			return nil, err
		}
		req, err := fs.req()
		if err != nil {
			return nil, err
		}
		switch typ {
		case TypeCancel:
			return Cancel{Req: req}, nil
		case TypeQuery:
			return Query{Req: req}, nil
		}
		return Done{Req: req}, nil
	case TypeStatus:
		return decodeStatus(payload)
	case TypeResult:
		return decodeResult(payload)
	case TypeHello:
		fs, err := parseFields(payload, "boot", "ver", "role", "name")
		if err != nil {
			return nil, err
		}
		return Hello{Boot: fs["boot"], Ver: fs["ver"], Role: fs["role"], Name: fs["name"]}, nil
	case TypePing:
		// A PING carries no fields; any it has are read only to hold
		// them to the same rules as every other payload.
		if _, err := parseFields(payload); err != nil {
			return nil, err
		}
		return Ping{}, nil
	}
	return nil, fmt.Errorf("TYPE %q: %w", typ, ErrUnknownType)
}

// payReq reads the req of a PAY: Alipay's paymentRequestId, which Alipay
// takes as 1-64 printable ASCII characters (0x21-0x7E). A req Alipay would
// refuse, or would read as another id (a zero-width space, a byte-order mark,
// a trailing blank), is refused here, before the payment is accepted.
func (fs fieldSet) payReq() (string, error) {
	v, ok := fs["req"]
	if !ok || v == "" || len(v) > maxReq || !isPrintableASCII(v) {
		return "", &InvalidFieldError{Key: "req", Rule: rulePayReq}
	}
	return v, nil
}

// req reads the req of a CANCEL, QUERY, DONE or RESULT, which names a payment
// by the req of its PAY: 1-64 characters of any kind. It is not held to the
// PAY's rule, so that a payment accepted under the looser rule of earlier
// versions can still be asked about, cancelled and confirmed; a req that no
// PAY was accepted with is simply unknown.
func (fs fieldSet) req() (string, error) {
	v, ok := fs["req"]
	if !ok || v == "" || charCount(v) > maxReq {
		return "", &InvalidFieldError{Key: "req", Rule: ruleReq}
	}
	return v, nil
}

// amount reads an amount in minor units: 1-18 digits, no leading zero (so
// never 0).
func (fs fieldSet) amount() (int64, error) {
	v, ok := fs["amt"]
	if !ok || len(v) < 1 || len(v) > 18 || v[0] == '0' {
		return 0, &InvalidFieldError{Key: "amt", Rule: ruleAmt}
	}
	if !allDigits(v) {
		return 0, &InvalidFieldError{Key: "amt", Rule: ruleAmt}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil { // not reached: 18 digits always fit
		return 0, &InvalidFieldError{Key: "amt", Rule: ruleAmt}
	}
	return n, nil
}

func (fs fieldSet) currency() (string, error) {
	v := fs["cur"]
	if len(v) != 3 {
		return "", &InvalidFieldError{Key: "cur", Rule: ruleCur}
	}
	for i := 0; i < 3; i++ {
		if v[i] < 'A' || v[i] > 'Z' {
			return "", &InvalidFieldError{Key: "cur", Rule: ruleCur}
		}
	}
	return v, nil
}

func decodePay(payload []byte) (Message, error) {
	fs, err := parseFields(payload, "req", "pid", "amt", "cur", "exp", "lane")
	if err != nil {
		return nil, err
	}
	var p Pay
	if p.Req, err = fs.payReq(); err != nil {
		return nil, err
	}
	if p.PID = fs["pid"]; charCount(p.PID) > 64 {
		return nil, &InvalidFieldError{Key: "pid", Rule: rulePID}
	}
	if p.Amount, err = fs.amount(); err != nil {
		return nil, err
	}
	if p.Currency, err = fs.currency(); err != nil {
		return nil, err
	}
	if v, ok := fs["exp"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 10 || n > 86400 || !allDigits(v) {
			return nil, &InvalidFieldError{Key: "exp", Rule: ruleExp}
		}
		p.Expiry = time.Duration(n) * time.Second
	}
	if p.Lane = fs["lane"]; charCount(p.Lane) > 16 {
		return nil, &InvalidFieldError{Key: "lane", Rule: ruleLane}
	}
	return p, nil
}

// decodeStatus reads a STATUS as a register does: req may be empty; amt is
// read when present.
func decodeStatus(payload []byte) (Message, error) {
	fs, err := parseFields(payload, "req", "state", "code", "msg", "pid", "amt", "cur", "time")
	if err != nil {
		return nil, err
	}
	s := Status{Req: fs["req"], State: fs["state"], Code: fs["code"], Msg: fs["msg"], PID: fs["pid"], Currency: fs["cur"], Time: fs["time"]}
	if s.State == "" {
		return nil, &InvalidFieldError{Key: "state", Rule: ruleRequired}
	}
	if IsFinal(s.State) {
		if s.Amount, err = fs.amount(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func decodeResult(payload []byte) (Message, error) {
	fs, err := parseFields(payload, "req", "status", "pid", "amt", "cur", "code", "msg", "time")
	if err != nil {
		return nil, err
	}
	r := Result{Status: fs["status"], PID: fs["pid"], Code: fs["code"], Msg: fs["msg"], Time: fs["time"]}
	if r.Req, err = fs.req(); err != nil {
		return nil, err
	}
	if !IsFinal(r.Status) {
		return nil, &InvalidFieldError{Key: "status", Rule: "SUCCESS, FAIL or CANCELLED"}
	}
	if r.Amount, err = fs.amount(); err != nil {
		return nil, err
	}
	if r.Currency, err = fs.currency(); err != nil {
		return nil, err
	}
	if r.Time == "" {
		return nil, &InvalidFieldError{Key: "time", Rule: ruleRequired}
	}
	return r, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
