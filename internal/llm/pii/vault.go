package pii

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Token syntax. A reversible token is TokenOpen + LABEL + "_" + N + TokenClose, e.g.
// "⟦EMAIL_1⟧". The brackets are U+27E6 and U+27E7 (mathematical white square brackets):
// they almost never occur in prose, code or data, so a token cannot be confused with the
// user's own text, and models copy them verbatim as they copy other rare symbols (the
// bracketed upper-case label also reads as "a placeholder, keep it" to a model). Labels are
// [A-Z0-9_], so a token never contains another bracket: two token-shaped strings cannot
// overlap, which is what lets Restore and the streaming Restorer work on plain bytes.
const (
	TokenOpen  = "\u27e6" // ⟦, 3 bytes in UTF-8
	TokenClose = "\u27e7" // ⟧, 3 bytes in UTF-8
)

// Vault is the per-request map of reversible tokens to the originals they replace. The
// same original under the same label always gets the same token, so that a value repeated
// across messages stays one entity for the model. A Vault is safe for concurrent use.
type Vault struct {
	mu      sync.RWMutex
	byToken map[string]string
	byValue map[vaultKey]string
	next    map[string]int
	maxLen  int
}

type vaultKey struct{ label, value string }

// NewVault returns an empty vault.
func NewVault() *Vault {
	return &Vault{byToken: map[string]string{}, byValue: map[vaultKey]string{}, next: map[string]int{}}
}

// token returns the token of value under label, minting one if needed.
func (v *Vault) token(label, value string) string {
	k := vaultKey{label, value}
	v.mu.RLock()
	t, ok := v.byValue[k]
	v.mu.RUnlock()
	if ok {
		return t
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if t, ok := v.byValue[k]; ok {
		return t
	}
	v.next[label]++
	t = TokenOpen + label + "_" + strconv.Itoa(v.next[label]) + TokenClose
	v.byValue[k] = t
	v.byToken[t] = value
	v.maxLen = max(v.maxLen, len(t))
	return t
}

// Lookup returns the original that token stands for.
func (v *Vault) Lookup(token string) (string, bool) {
	if v == nil {
		return "", false
	}
	v.mu.RLock()
	s, ok := v.byToken[token]
	v.mu.RUnlock()
	return s, ok
}

// Len returns the number of tokens in the vault.
func (v *Vault) Len() int {
	if v == nil {
		return 0
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	return len(v.byToken)
}

// MaxTokenLen returns the length in bytes of the longest token in the vault: the
// look-behind bound of a Restorer (0 when the vault is empty).
func (v *Vault) MaxTokenLen() int {
	if v == nil {
		return 0
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.maxLen
}

// Entries returns a copy of the token → original map, for a caller that keeps the vault
// with a session (encrypted: the values are the raw PII).
func (v *Vault) Entries() map[string]string {
	v.mu.RLock()
	defer v.mu.RUnlock()
	m := make(map[string]string, len(v.byToken))
	for t, s := range v.byToken {
		m[t] = s
	}
	return m
}

// Load adds entries saved by Entries. Later tokens of a label are numbered after the
// highest loaded one. A malformed token or a token already bound to another value is an
// error, and nothing is loaded.
func (v *Vault) Load(entries map[string]string) error {
	type parsed struct {
		label string
		n     int
	}
	ps := make(map[string]parsed, len(entries))
	for t := range entries {
		label, n, ok := parseToken(t)
		if !ok {
			return fmt.Errorf("pii: load vault: malformed token %q", t)
		}
		ps[t] = parsed{label, n}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for t, s := range entries {
		if old, ok := v.byToken[t]; ok && old != s {
			return fmt.Errorf("pii: load vault: token %q already bound", t)
		}
	}
	for t, s := range entries {
		p := ps[t]
		v.byToken[t] = s
		v.byValue[vaultKey{p.label, s}] = t
		v.next[p.label] = max(v.next[p.label], p.n)
		v.maxLen = max(v.maxLen, len(t))
	}
	return nil
}

// parseToken splits "⟦LABEL_N⟧" into LABEL and N.
func parseToken(t string) (string, int, bool) {
	if !strings.HasPrefix(t, TokenOpen) || !strings.HasSuffix(t, TokenClose) || len(t) < 2*len(TokenOpen)+3 {
		return "", 0, false
	}
	in := t[len(TokenOpen) : len(t)-len(TokenClose)]
	for i := 0; i < len(in); i++ {
		if !isLabelByte(in[i]) {
			return "", 0, false
		}
	}
	i := strings.LastIndexByte(in, '_')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(in[i+1:])
	if err != nil || n <= 0 {
		return "", 0, false
	}
	return in[:i], n, true
}

// isLabelByte reports whether c may appear between the token brackets.
func isLabelByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// normLabel turns a detector name into a token label: upper case, [A-Z0-9_] only.
func normLabel(name string) string {
	b := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z':
			b = append(b, c-'a'+'A')
		case isLabelByte(c):
			b = append(b, c)
		default:
			b = append(b, '_')
		}
	}
	if len(b) == 0 {
		return "PII"
	}
	return string(b)
}
