//go:build !linux && !windows

package queue

import (
	"errors"
	"os"
)

func diskSpace(string) (Space, error) { return Space{}, errors.ErrUnsupported }

func preallocate(*os.File, int64) error { return errors.ErrUnsupported }
