package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/postest"
)

// postest.Token is a token as the packages write it.
func TestParseRequiresATokenFileForARemoteListener(t *testing.T) {
	doc, _ := docWith("status.listen", `"0.0.0.0:8765"`, "status.allow_remote", `true`, "status.token_file", `""`)
	_, err := Parse("posagent.toml", []byte(doc))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("Parse = %v, want a *Error", err)
	}
	checkProblems(t, ce.Problems, []wantProblem{{10, "status.token_file", `is empty; status.listen "0.0.0.0:8765" can be reached from other hosts`}})

	// A loopback listener needs no token file.
	doc, _ = docWith("status.listen", `"127.0.0.1:8765"`, "status.token_file", `""`)
	if _, err := Parse("posagent.toml", []byte(doc)); err != nil {
		t.Errorf("loopback listener without token_file: %v", err)
	}
}

func TestConfigStatusToken(t *testing.T) {
	tests := []struct {
		name    string
		listen  string
		content *string // of status.token, next to the config; nil: no file
		want    string
		wantErr string
	}{
		{name: "loopback needs none", listen: "127.0.0.1:8765", want: ""},
		{name: "off needs none", listen: "", want: ""},
		{name: "loopback ignores a file", listen: "localhost:8765", content: new(postest.Token), want: ""},
		{name: "remote reads the file", listen: "0.0.0.0:8765", content: new(postest.Token + "\n"), want: postest.Token},
		{name: "remote without the file", listen: "0.0.0.0:8765", wantErr: "status.token_file: " + "@/status.token does not exist"},
		{name: "remote with an empty file", listen: "192.168.1.10:8765", content: new(""), wantErr: "is empty"},
		{name: "remote with a short token", listen: "[::]:8765", content: new("secret"), wantErr: "6 characters, too short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.content != nil {
				if err := os.WriteFile(filepath.Join(dir, "status.token"), []byte(*tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			doc, _ := docWith("status.listen", `"`+tt.listen+`"`, "status.allow_remote", `true`)
			cfg, err := Parse(filepath.Join(dir, "posagent.toml"), []byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			got, err := cfg.StatusToken()
			if tt.wantErr != "" {
				var ce *Error
				want := strings.ReplaceAll(tt.wantErr, "@", dir)
				if !errors.As(err, &ce) || !strings.Contains(err.Error(), want) {
					t.Fatalf("StatusToken = %q, %v; want a *Error saying %q", got, err, want)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("StatusToken = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func new(s string) *string { return &s }

func TestCheckChecksTheTokenFileOfARemoteListener(t *testing.T) {
	dir := t.TempDir()
	writeKeyPair(t, dir)
	path := writeConfig(t, dir, "merchant_private_key.pem", "alipay_public_key.pem")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("[status]\nlisten = \"0.0.0.0:8765\"\nallow_remote = true\n")
	f.Close()

	_, _, err = Check(path)
	if runCreatesStatusToken {
		if err != nil {
			t.Fatalf("Check without the token file, which run writes here: %v", err)
		}
	} else if err == nil || !strings.Contains(err.Error(), "status.token_file") {
		t.Fatalf("Check without the token file = %v, want a problem with status.token_file", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "status.token"), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Check(path); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Fatalf("Check with a short token = %v, want it too short", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "status.token"), []byte(postest.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Check(path); err != nil {
		t.Fatalf("Check with a good token: %v", err)
	}
}
