package service

import (
	"strings"
)

// configArg returns the configuration file named in a service's command line
// (the words after the executable), or "" when none is named. It accepts the
// forms the flag package accepts: -config PATH, -config=PATH, and the same
// with two dashes.
func configArg(args []string) string {
	for i, a := range args {
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "config" {
			continue
		}
		if hasValue {
			return value
		}
		if i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// execStartWords returns the words of the first ExecStart line of a systemd
// unit, undoing the quoting systemdQuote applies, or nil when the unit has no
// such line.
func execStartWords(unit string) []string {
	for _, line := range strings.Split(unit, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			return splitSystemd(v)
		}
	}
	return nil
}

// splitSystemd splits a systemd command line into words: words are separated
// by blanks, double-quoted words take C-style backslash escapes, and doubled
// % and $ stand for themselves.
func splitSystemd(s string) []string {
	// A leading prefix such as "-" or "@" changes how systemd runs the
	// command, not the command itself.
	s = strings.TrimLeft(s, "-@:+!")
	var words []string
	var w strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '"':
			quoted = false
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				w.WriteByte('\n')
			case 't':
				w.WriteByte('\t')
			default:
				w.WriteByte(s[i])
			}
		case quoted:
			w.WriteByte(c)
		case c == '"':
			quoted, inWord = true, true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, unescapeSpecifiers(w.String()))
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, unescapeSpecifiers(w.String()))
	}
	return words
}

func unescapeSpecifiers(s string) string {
	return strings.NewReplacer("%%", "%", "$$", "$").Replace(s)
}
