package config

import (
	"strings"
)

// keyLines maps every key a TOML document defines, written as its dotted path
// ("polling.interval"), to the line that defines it (counted from 1), so that
// problems found after parsing can name the line. Table headers are included
// ("polling"). It is only run on documents the TOML parser has accepted, and
// needs only to be right for them: it follows table headers and key/value
// lines and skips the inside of multi-line strings and multi-line arrays,
// which cannot define keys at the top of a line.
func keyLines(doc string) map[string]int {
	lines := make(map[string]int)
	var table []string
	closer := "" // while inside a multi-line string, its closing delimiter
	for i, line := range strings.Split(doc, "\n") {
		n := i + 1
		if closer != "" {
			if strings.Contains(line, closer) {
				closer = ""
			}
			continue
		}
		s := strings.TrimSpace(line)
		if strings.HasPrefix(s, "[") {
			s = strings.TrimLeft(s, "[")
			if parts, _, ok := parseKey(s); ok {
				table = parts
				record(lines, parts, n)
			}
			continue
		}
		parts, rest, ok := parseKey(s)
		if !ok || !strings.HasPrefix(rest, "=") {
			continue
		}
		full := append(append([]string(nil), table...), parts...)
		record(lines, full, n)
		closer = openMultiline(strings.TrimSpace(rest[1:]))
	}
	return lines
}

// record stores line n for key and, unless already known, for each table
// the key implicitly creates.
func record(lines map[string]int, key []string, n int) {
	for i := 1; i < len(key); i++ {
		p := strings.Join(key[:i], ".")
		if _, ok := lines[p]; !ok {
			lines[p] = n
		}
	}
	lines[strings.Join(key, ".")] = n
}

// openMultiline reports the delimiter that closes a multi-line string opened,
// and not closed, by the value v; "" when v leaves none open.
func openMultiline(v string) string {
	for _, d := range []string{`"""`, `'''`} {
		if strings.HasPrefix(v, d) && strings.Count(v, d)%2 == 1 {
			return d
		}
	}
	return ""
}

// parseKey reads a TOML key (bare, quoted or dotted) from the start of s and
// returns its parts and what follows it, without leading blanks.
func parseKey(s string) (parts []string, rest string, ok bool) {
	for {
		s = strings.TrimLeft(s, " \t")
		var part string
		switch {
		case s == "":
			return nil, "", false
		case s[0] == '"':
			end := closingQuote(s)
			if end < 0 {
				return nil, "", false
			}
			part, s = unescapeBasic(s[1:end]), s[end+1:]
		case s[0] == '\'':
			end := strings.IndexByte(s[1:], '\'')
			if end < 0 {
				return nil, "", false
			}
			part, s = s[1:end+1], s[end+2:]
		default:
			end := 0
			for end < len(s) && isBareKeyChar(s[end]) {
				end++
			}
			if end == 0 {
				return nil, "", false
			}
			part, s = s[:end], s[end:]
		}
		parts = append(parts, part)
		s = strings.TrimLeft(s, " \t")
		if !strings.HasPrefix(s, ".") {
			return parts, s, true
		}
		s = s[1:]
	}
}

// closingQuote returns the index of the '"' that ends the basic string opening
// s, skipping escaped characters, or -1.
func closingQuote(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// unescapeBasic undoes the two escapes that can matter in a quoted key name
// of this file; keys with other escapes simply go without a line number.
func unescapeBasic(s string) string {
	return strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(s)
}

func isBareKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}
