//go:build windows

package device

import (
	"os"
	"testing"
)

// pollable is never reached on Windows: there are no ptys to open.
func pollable(_ testing.TB, f *os.File) *os.File { return f }
