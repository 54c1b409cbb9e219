// Package postest holds what the tests of several posagent packages share,
// in the manner of tailscale's tstest: the bound on every wait, a
// pseudo-terminal for a simulated register, the real binary, and
// configuration files for it. Only tests import it.
package postest
