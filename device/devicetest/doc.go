// Package devicetest holds test doubles for the device package that need no
// hardware: a clock advanced by hand, an in-memory serial line whose ends
// drop, flip, split, hold and duplicate bytes on demand, and an echo that
// answers a fixed frame for each one read.
package devicetest
