package device

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// fieldSep (FS, 0x1C) separates the key=value fields of a payload.
const fieldSep = 0x1c

// maxReq is the longest request id, in characters (Unicode code points).
const maxReq = 64

// InvalidFieldError names a field of an application message that breaks the
// protocol's rules, and the rule. Its message is what a STATUS REJECTED
// INVALID_FIELD carries in msg: the key, a colon, then the rule, such as
// "amt: 1-18 digits, no leading zero".
type InvalidFieldError struct {
	Key  string
	Rule string
}

func (e *InvalidFieldError) Error() string { return e.Key + ": " + e.Rule }

// Rules of the fields, worded for the register's display.
const (
	ruleReq      = "required, 1-64 characters"
	rulePayReq   = "required, 1-64 printable ASCII characters, no spaces"
	rulePID      = "at most 64 characters"
	ruleAmt      = "1-18 digits, no leading zero"
	ruleCur      = "3 uppercase letters (ISO 4217)"
	ruleExp      = "seconds, 10-86400"
	ruleLane     = "at most 16 characters"
	ruleTwice    = "given more than once"
	ruleControl  = "no control characters"
	ruleUTF8     = "not valid UTF-8"
	ruleKeyValue = "not a key=value field"
	ruleKey      = "keys are lowercase letters"
	ruleRequired = "required"
)

// fieldSet is a parsed payload: the known keys that were present, with their
// values.
type fieldSet map[string]string

// parseFields splits payload into key=value fields. Fields with keys not in
// known are ignored, values included, as the protocol says; empty fields
// (two FS in a row, a trailing FS) are skipped. A field without '=', a key
// that is not lowercase letters, a key given twice (known or not), or a
// known value with control bytes or invalid UTF-8 is an *InvalidFieldError;
// the first one in payload order is returned.
func parseFields(payload []byte, known ...string) (fieldSet, error) {
	fs := make(fieldSet, len(known))
	// A key given twice is refused even when unknown: the protocol allows
	// each key once, and a sender that repeats one has a bug that may not
	// stop at keys this version ignores.
	seen := make(map[string]bool, len(known))
	for raw := range strings.SplitSeq(string(payload), string(rune(fieldSep))) {
		if raw == "" {
			continue
		}
		key, value, ok := strings.Cut(raw, "=")
		if !ok {
			return nil, &InvalidFieldError{Key: cutChars(sanitize(raw), 16), Rule: ruleKeyValue}
		}
		if !isKey(key) {
			return nil, &InvalidFieldError{Key: cutChars(sanitize(key), 16), Rule: ruleKey}
		}
		if seen[key] {
			return nil, &InvalidFieldError{Key: cutChars(key, 16), Rule: ruleTwice}
		}
		seen[key] = true
		if !contains(known, key) {
			continue
		}
		if err := checkValue(value); err != "" {
			return nil, &InvalidFieldError{Key: key, Rule: err}
		}
		fs[key] = value
	}
	return fs, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func isKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 'a' || k[i] > 'z' {
			return false
		}
	}
	return true
}

// checkValue returns the rule a value breaks, or "".
func checkValue(v string) string {
	if !utf8.ValidString(v) {
		return ruleUTF8
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] == 0x7f {
			return ruleControl
		}
	}
	return ""
}

// isPrintableASCII reports whether s holds only the printable ASCII
// characters 0x21-0x7E: no space, nothing outside ASCII.
func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// sanitize makes a received value printable and encodable: control bytes and
// bytes that are not UTF-8 become U+FFFD, everything else is kept as received.
func sanitize(s string) string {
	if checkValue(s) == "" {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r < 0x20 || r == 0x7f {
			r = utf8.RuneError
		}
		b.WriteRune(r)
		i += size
	}
	return b.String()
}

// cutChars returns s cut to its first n characters (code points).
func cutChars(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// RequestID returns the req field of payload as received, cut to its first 64
// characters, with bytes a payload may not carry (control bytes, invalid
// UTF-8) replaced by U+FFFD so it can be sent back; "" when there is none.
// A STATUS answering a request, even an invalid one, carries this value.
func RequestID(payload []byte) string {
	for raw := range strings.SplitSeq(string(payload), string(rune(fieldSep))) {
		if v, ok := strings.CutPrefix(raw, "req="); ok {
			return cutChars(sanitize(v), maxReq)
		}
	}
	return ""
}

// fieldWriter builds a payload; the first value that may not be sent is kept
// as its error.
type fieldWriter struct {
	buf []byte
	err error
}

// add appends key=value. The value must be UTF-8 without control bytes.
func (w *fieldWriter) add(key, value string) {
	if rule := checkValue(value); rule != "" && w.err == nil {
		w.err = fmt.Errorf("field %s cannot be sent (%s): remove the offending bytes", key, rule)
	}
	if len(w.buf) > 0 {
		w.buf = append(w.buf, fieldSep)
	}
	w.buf = append(w.buf, key...)
	w.buf = append(w.buf, '=')
	w.buf = append(w.buf, value...)
}

// addOptional appends key=value when value is not empty.
func (w *fieldWriter) addOptional(key, value string) {
	if value != "" {
		w.add(key, value)
	}
}

// charCount returns the number of characters (code points) of s.
func charCount(s string) int { return utf8.RuneCountInString(s) }
