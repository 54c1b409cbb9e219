package status

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
)

// MinTokenLength is the fewest characters a status token may have. The
// packages write 64 hex digits (32 random bytes); 32 characters keep a
// hand-made token from being guessable.
const MinTokenLength = 32

// maxTokenFile bounds what ReadToken reads: a token file is one line.
const maxTokenFile = 4096

// NeedsToken reports whether a listener on addr (status.listen) can be
// reached from other hosts and so must demand the bearer token: every
// address but a loopback one does, including the unspecified 0.0.0.0 and ::.
func NeedsToken(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return true
	}
	return !isLoopback(host)
}

// ReadToken reads the bearer token from the file at path (status.token_file):
// its content without the surrounding blanks and line end. A file that is
// missing, unreadable, empty, holds a token shorter than MinTokenLength or
// with characters other than visible ASCII gives an error saying so; one
// that is missing wraps fs.ErrNotExist.
func ReadToken(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%s does not exist; a status endpoint other hosts can reach needs it to hold a random token (see docs/install.md, Status page from other computers): %w", path, err)
		}
		return "", fmt.Errorf("%s cannot be read; let the user posagent runs as read it (Linux: chgrp posagent %s; chmod 0640 %s): %w", path, path, path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return "", fmt.Errorf("%s cannot be read: %w", path, err)
	}
	if len(data) > maxTokenFile {
		return "", fmt.Errorf("%s is longer than %d bytes, so it is not a token file; put one random token of %d or more characters in it", path, maxTokenFile, MinTokenLength)
	}
	token := strings.TrimSpace(string(data))
	switch {
	case token == "":
		return "", fmt.Errorf("%s is empty; put a random token of %d or more characters in it (see docs/install.md, Status page from other computers)", path, MinTokenLength)
	case strings.IndexFunc(token, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0:
		return "", fmt.Errorf("%s holds blanks, line breaks or characters other than visible ASCII; put a single random token of letters and digits in it", path)
	case len(token) < MinTokenLength:
		return "", fmt.Errorf("%s holds a token of %d characters, too short to resist guessing; put a random token of %d or more characters in it", path, len(token), MinTokenLength)
	}
	return token, nil
}

// tokenGate demands "Authorization: Bearer TOKEN" of every request but
// those for /healthz, which tells only whether the agent is healthy and
// shows no payment. The token is compared through its SHA-256 hash with
// subtle.ConstantTimeCompare, so neither its content nor its length can be
// learned from how long a refusal takes.
type tokenGate struct {
	sum  [sha256.Size]byte // of the token
	next http.Handler
}

func (g *tokenGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		g.next.ServeHTTP(w, r)
		return
	}
	given, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="posagent"`)
		writeError(w, http.StatusUnauthorized, errors.New("this status endpoint needs the token of status.token_file in an Authorization: Bearer header"))
		return
	}
	sum := sha256.Sum256([]byte(given))
	if subtle.ConstantTimeCompare(sum[:], g.sum[:]) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="posagent", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, errors.New("the bearer token is not the one in status.token_file"))
		return
	}
	g.next.ServeHTTP(w, r)
}

// bearer returns the token of an Authorization header value of the Bearer
// scheme, whose name is case-insensitive (RFC 9110, RFC 6750).
func bearer(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
