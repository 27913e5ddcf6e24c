package pii

import "strings"

// scanAssignments finds "name: value", "name=value", "name := value", "name => value"
// (the name optionally quoted, the value optionally quoted or after Bearer/Basic/Token)
// where the name ends in a secret word (key, secret, token, password, passwd, pwd,
// credential(s), auth, authorization), case-insensitively. It returns locations shaped
// like regexp submatches: whole, name, value. A hand scan, so that prose costs one pass
// over its bytes.
func scanAssignments(s string) [][]int {
	var out [][]int
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != ':' && c != '=' {
			continue
		}
		op := i + 1
		switch {
		case c == ':' && op < len(s) && s[op] == ':', // a path such as a::b
			c == '=' && op < len(s) && s[op] == '=', // a comparison
			c == '=' && i > 0 && strings.IndexByte("!<>=", s[i-1]) >= 0:
			i = op
			continue
		case c == ':' && op < len(s) && s[op] == '=', c == '=' && op < len(s) && s[op] == '>':
			op++
		}
		j := i
		for j > 0 && (s[j-1] == ' ' || s[j-1] == '\t') {
			j--
		}
		if j > 0 && (s[j-1] == '"' || s[j-1] == '\'') {
			j--
		}
		ne := j
		for j > 0 && isNameByte(s[j-1]) {
			j--
		}
		ns := j
		if ns == ne || !endsWithSecretWord(s[ns:ne]) {
			continue
		}
		k := op
		for k < len(s) && (s[k] == ' ' || s[k] == '\t') {
			k++
		}
		if k < len(s) && (s[k] == '"' || s[k] == '\'') {
			k++
		}
		for _, w := range [...]string{"bearer", "basic", "token"} {
			if k+len(w) < len(s) && strings.EqualFold(s[k:k+len(w)], w) && (s[k+len(w)] == ' ' || s[k+len(w)] == '\t') {
				k += len(w)
				for k < len(s) && (s[k] == ' ' || s[k] == '\t') {
					k++
				}
				break
			}
		}
		vs := k
		for k < len(s) && !isValueStop(s[k]) {
			k++
		}
		if k == vs {
			continue
		}
		out = append(out, []int{ns, k, ns, ne, vs, k})
		i = k - 1
	}
	return out
}

// secretWords are the name endings of a generic secret assignment, lower case.
var secretWords = [...]string{"key", "secret", "token", "password", "passwd", "pwd", "credential", "credentials", "auth", "authorization"}

func endsWithSecretWord(name string) bool {
	for _, w := range secretWords {
		if len(name) >= len(w) && strings.EqualFold(name[len(name)-len(w):], w) {
			return true
		}
	}
	return false
}

func isNameByte(c byte) bool { return isAlnum(c) || c == '_' || c == '.' || c == '-' }

func isValueStop(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '\v', '"', '\'', '<', '>', ';', ',', '(', ')', '[', ']', '{', '}', '`':
		return true
	}
	return false
}
