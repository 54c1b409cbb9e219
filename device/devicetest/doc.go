// Package devicetest holds test doubles for the device package that need no
// hardware: a clock advanced by hand, and an in-memory serial line whose ends
// drop, flip, split, hold and duplicate bytes on demand.
package devicetest
