// Package demo is `posagent demo`: the real agent, store and Alipay client
// between the register simulator of package device and the simulated Alipay
// of alipay/alipaysim, with no configuration and no network, playing a mix
// of payments whose outcomes it checks.
package demo
