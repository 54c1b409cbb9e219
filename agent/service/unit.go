package service

import (
	_ "embed"
	"fmt"
	"path"
	"strings"
)

// unitFile is the systemd unit posagent runs under, as shipped by the deb and
// rpm packages. Its ExecStart line names DefaultExecutable and
// DefaultUnixConfig; Unit rewrites only that line.
//
//go:embed posagent.service
var unitFile string

// Paths the packaged unit uses.
const (
	DefaultExecutable = "/usr/bin/posagent"
	DefaultUnixConfig = "/etc/posagent/posagent.toml"
)

// RunArgs returns the arguments the service manager passes to the executable:
// the run command with the configuration file, whose path must be absolute
// because a service does not start in the folder the technician was in.
func RunArgs(configPath string) []string {
	return []string{"run", "-config", configPath}
}

// Unit returns the systemd unit that runs executable with the configuration
// file configPath. With DefaultExecutable and DefaultUnixConfig it is the
// packaged unit byte for byte. Both paths must be absolute Linux paths.
func Unit(executable, configPath string) (string, error) {
	for _, p := range []string{executable, configPath} {
		// path, not filepath: the unit is for Linux whatever builds it.
		if !path.IsAbs(p) {
			return "", fmt.Errorf("service path %q is not absolute; give the full path", p)
		}
	}
	words := append([]string{executable}, RunArgs(configPath)...)
	for i, w := range words {
		words[i] = systemdQuote(w)
	}
	const key = "ExecStart="
	lines := strings.SplitAfter(unitFile, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, key) {
			lines[i] = key + strings.Join(words, " ") + "\n"
			return strings.Join(lines, ""), nil
		}
	}
	// The embedded unit always has an ExecStart line; the tests check it.
	panic("service: the embedded unit has no ExecStart line")
}

// systemdQuote writes s as one word of a systemd command line: specifier and
// variable characters doubled, and double quotes with C-style escapes around
// a word that holds anything but the plain path characters.
func systemdQuote(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	s = strings.ReplaceAll(s, "$", "$$")
	plain := s != ""
	for _, c := range s {
		if !isPlainPathRune(c) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

func isPlainPathRune(c rune) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.ContainsRune("/._-+,:=@%$", c)
}
