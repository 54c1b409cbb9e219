package config

import (
	"errors"
	"io/fs"
	"os"

	"github.com/posagent/posagent/agent/status"
)

// StatusToken returns the bearer token the status endpoint demands, read
// from status.token_file, or "" when status.listen is off or loopback, which
// demands none. A token file that cannot be used (missing, unreadable,
// empty, too short) gives a *Error naming status.token_file.
func (c *Config) StatusToken() (string, error) {
	if c.Status.Listen == "" || !status.NeedsToken(c.Status.Listen) {
		return "", nil
	}
	token, err := status.ReadToken(c.Status.TokenFile)
	if err != nil {
		return "", &Error{Problems: []Problem{c.problem("status.token_file", err)}}
	}
	return token, nil
}

// StatusEndpoint returns how commands reach the running agent's status
// endpoint: at status.listen, with the token of status.token_file when the
// listener demands one. The file is read only then, so that a user who may
// not read it can still use commands that read the store file itself.
func (c *Config) StatusEndpoint() status.Endpoint {
	path := c.Status.TokenFile
	return status.Endpoint{
		Listen: c.Status.Listen,
		Token:  func() (string, error) { return status.ReadToken(path) },
	}
}

// CheckStatusToken is StatusToken for `posagent config check` and `posagent
// doctor`: a missing token file is no problem where `posagent run` writes
// it (EnsureStatusToken), any other problem is.
func (c *Config) CheckStatusToken() error {
	_, err := c.StatusToken()
	if err == nil {
		return nil
	}
	if _, serr := os.Stat(c.Status.TokenFile); runCreatesStatusToken && errors.Is(serr, fs.ErrNotExist) {
		return nil
	}
	return err
}

// EnsureStatusToken writes a new random token to status.token_file where
// `posagent run` does so (on Windows, whose installer cannot) and no file is
// there yet, and reports whether it did. It does nothing for a listener
// that demands no token, and never replaces an existing file: StatusToken
// judges it. An error is a *Error naming status.token_file.
func (c *Config) EnsureStatusToken() (created bool, err error) {
	if c.Status.Listen == "" || !status.NeedsToken(c.Status.Listen) {
		return false, nil
	}
	created, err = ensureStatusToken(c.Status.TokenFile)
	if err != nil {
		return false, &Error{Problems: []Problem{c.problem("status.token_file", err)}}
	}
	return created, nil
}
