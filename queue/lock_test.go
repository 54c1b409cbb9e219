package queue

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// openGuarded opens path with a short lock timeout and fails the test if
// Open does not come back at all.
func openGuarded(t *testing.T, path string, opts Options) (*Store, error) {
	t.Helper()
	type result struct {
		s   *Store
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := Open(path, opts)
		ch <- result{s, err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-time.After(30 * time.Second):
		t.Fatalf("Open(%s) hung on a locked file", path)
		return nil, nil
	}
}

func wantLocked(t *testing.T, s *Store, err error, path string) {
	t.Helper()
	if err == nil {
		s.Close()
		t.Fatal("a second Open of a file in use succeeded")
	}
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "another posagent is using "+path) {
		t.Fatalf("second Open = %v; want ErrLocked naming the file", err)
	}
}

func TestSecondOpenInSameProcessIsLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := openGuarded(t, path, Options{LockTimeout: 200 * time.Millisecond})
	wantLocked(t, s2, err, path)
	ro, err := openGuarded(t, path, Options{LockTimeout: 200 * time.Millisecond, ReadOnly: true})
	wantLocked(t, ro, err, path)

	s.Close()
	s2, err = openGuarded(t, path, Options{LockTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open after the holder closed = %v", err)
	}
	s2.Close()
}

func TestSecondProcessIsLocked(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "q.db")
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"=hold", childPathEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("holder said %q, %v: %s", line, err, stderr.String())
	}

	s, err := openGuarded(t, path, Options{LockTimeout: 200 * time.Millisecond})
	wantLocked(t, s, err, path)

	stdin.Close() // the holder closes the store and exits
	if err := cmd.Wait(); err != nil {
		t.Fatalf("holder: %v: %s", err, stderr.String())
	}
	s, err = openGuarded(t, path, Options{LockTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open after the holder exited = %v", err)
	}
	s.Close()
}
