package device

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestOpenErrorSaysWhatToDo(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		advice string
	}{
		{"permission", &os.PathError{Op: "open", Path: "/dev/ttyUSB0", Err: os.ErrPermission}, "dialout group"},
		{"gone", &os.PathError{Op: "open", Path: "/dev/ttyUSB0", Err: os.ErrNotExist}, "plug in the register's cable"},
		{"other", errors.New("input/output error"), "check the cable and the adapter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := openError("/dev/ttyUSB0", tt.err)
			if !errors.Is(err, tt.err) {
				t.Errorf("openError does not wrap %v", tt.err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "cannot open the register port /dev/ttyUSB0: ") || !strings.Contains(msg, tt.advice) {
				t.Errorf("openError = %q, want the port named and the advice %q", msg, tt.advice)
			}
		})
	}
}
