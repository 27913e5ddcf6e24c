package store

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Size bounds. They keep one object well under a page of the database and reject
// oversized payloads with a field name rather than a driver error.
const (
	maxName        = 63 // slugs: DNS label length
	maxText        = 200
	maxDescription = 4096
	maxEmail       = 254
	maxScopeItems  = 100
	maxScopeItem   = 200
	maxVersion     = 64
	maxModel       = 200
	MaxTemplate    = 64 << 10
	MaxInputSchema = 64 << 10
)

// checkSlug: lower-case letters, digits and '-', starting and ending with a letter or
// digit; used in URLs, metrics labels and config references.
func checkSlug(field, s string) error {
	if s == "" {
		return invalid(field, "required")
	}
	if len(s) > maxName {
		return invalid(field, "at most %d characters", maxName)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' && i > 0 && i < len(s)-1
		if !ok {
			return invalid(field, "want lower-case letters, digits and '-' (not first or last), got %q", truncate(s, 40))
		}
	}
	return nil
}

// checkText: optional free text of at most n bytes, valid UTF-8, no control characters
// except newlines and tabs when multiline.
func checkText(field, s string, n int, multiline bool) error {
	if len(s) > n {
		return invalid(field, "at most %d bytes", n)
	}
	if !utf8.ValidString(s) {
		return invalid(field, "not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t' || r == '\r')) {
			return invalid(field, "control character %U not allowed", r)
		}
	}
	return nil
}

func required(field, s string) error {
	if s == "" {
		return invalid(field, "required")
	}
	return nil
}

func first(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// Validate checks the fields a caller sets.
func (t *Tenant) Validate() error {
	return first(checkSlug("name", t.Name), checkText("display_name", t.DisplayName, maxText, false))
}

// Normalize lower-cases the email, which is unique without regard to case.
func (u *User) Normalize() { u.Email = strings.ToLower(strings.TrimSpace(u.Email)) }

// Validate checks the fields a caller sets.
func (u *User) Validate() error {
	if err := required("email", u.Email); err != nil {
		return err
	}
	if len(u.Email) > maxEmail {
		return invalid("email", "at most %d bytes", maxEmail)
	}
	if a, err := mail.ParseAddress(u.Email); err != nil || a.Address != u.Email || a.Name != "" {
		return invalid("email", "want an address like ada@example.com, got %q", truncate(u.Email, 40))
	}
	if err := checkText("name", u.Name, maxText, false); err != nil {
		return err
	}
	switch u.Role {
	case RoleAdmin:
		if u.TenantID != "" {
			return invalid("tenant_id", "an admin belongs to no tenant")
		}
	case RoleTenantAdmin, RoleDeveloper, RoleViewer:
		if u.TenantID == "" {
			return invalid("tenant_id", "required for role %s", u.Role)
		}
	case "":
		return invalid("role", "required")
	default:
		return invalid("role", "want admin, tenant_admin, developer or viewer, got %q", truncate(string(u.Role), 40))
	}
	return nil
}

// Validate checks the fields a caller sets.
func (a *Application) Validate() error {
	return first(required("tenant_id", a.TenantID), checkSlug("name", a.Name),
		checkText("description", a.Description, maxDescription, true))
}

// Validate checks the fields a caller sets on create or update; now is the time the
// expiry must be after.
func (k *APIKey) Validate(now time.Time) error {
	if err := first(required("application_id", k.ApplicationID), checkText("name", k.Name, maxText, false)); err != nil {
		return err
	}
	if k.ExpiresAt != nil && !k.ExpiresAt.After(now) {
		return invalid("expires_at", "must be in the future")
	}
	return k.Scopes.Validate()
}

// Validate checks every list: bounded, no empty, blank or duplicate entries.
func (s *Scopes) Validate() error {
	for _, l := range []struct {
		name  string
		items []string
	}{{"models", s.Models}, {"routes", s.Routes}, {"apis", s.APIs}} {
		if len(l.items) > maxScopeItems {
			return invalid("scopes."+l.name, "at most %d entries", maxScopeItems)
		}
		for i, it := range l.items {
			field := fmt.Sprintf("scopes.%s[%d]", l.name, i)
			if it == "" {
				return invalid(field, "empty")
			}
			if len(it) > maxScopeItem {
				return invalid(field, "at most %d bytes", maxScopeItem)
			}
			if strings.IndexFunc(it, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 || !utf8.ValidString(it) {
				return invalid(field, "no spaces or control characters, got %q", truncate(it, 40))
			}
			for j := range i {
				if l.items[j] == it {
					return invalid(field, "duplicate of entry %d", j)
				}
			}
		}
	}
	return nil
}

// checkVersion: "v1", "1.2.0", "2024-06-01", "v2-beta": letters, digits, '.', '-', '_',
// starting with a letter or digit.
func checkVersion(v string) error {
	if v == "" {
		return invalid("api_version", "required")
	}
	if len(v) > maxVersion {
		return invalid("api_version", "at most %d characters", maxVersion)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || i > 0 && (c == '.' || c == '-' || c == '_')
		if !ok {
			return invalid("api_version", "want letters, digits, '.', '-' or '_', like v1 or 1.2.0, got %q", truncate(v, 40))
		}
	}
	return nil
}

// Validate checks the fields a caller sets; Lifecycle is set by the store.
func (a *API) Validate() error {
	return first(required("tenant_id", a.TenantID), checkSlug("name", a.Name), checkVersion(a.APIVersion),
		checkText("title", a.Title, maxText, false), checkText("description", a.Description, maxDescription, true))
}

// Validate checks the fields a caller sets; State is set by the store.
func (s *Subscription) Validate() error {
	return first(required("application_id", s.ApplicationID), required("api_id", s.APIID),
		checkText("reason", s.Reason, maxDescription, true))
}

// Validate checks the fields a caller sets.
func (l *Limit) Validate() error {
	switch l.Scope {
	case ScopeKey, ScopeApplication, ScopeTenant:
	case "":
		return invalid("scope", "required")
	default:
		return invalid("scope", "want key, application or tenant, got %q", truncate(string(l.Scope), 40))
	}
	if err := required("scope_id", l.ScopeID); err != nil {
		return err
	}
	switch l.Kind {
	case RequestsPerMinute, TokensPerMinute, Concurrent:
		if l.Unit != "" {
			return invalid("unit", "only a spend limit has a unit")
		}
		if l.Period != "" {
			return invalid("period", "only a spend limit has a period")
		}
	case Spend:
		switch l.Unit {
		case UnitTokens, UnitPicodollars:
		case "":
			return invalid("unit", "required for a spend limit")
		default:
			return invalid("unit", "want tokens or picodollars, got %q", truncate(string(l.Unit), 40))
		}
		switch l.Period {
		case PeriodDay, PeriodMonth:
		case "":
			return invalid("period", "required for a spend limit")
		default:
			return invalid("period", "want day or month, got %q", truncate(string(l.Period), 40))
		}
	case "":
		return invalid("kind", "required")
	default:
		return invalid("kind", "want requests_per_minute, tokens_per_minute, concurrent or spend, got %q", truncate(string(l.Kind), 40))
	}
	if l.Limit <= 0 {
		return invalid("limit", "must be positive")
	}
	return nil
}

// Validate checks the fields a caller sets, including that every placeholder of the
// template is declared in the input schema.
func (p *PromptAPI) Validate() error {
	if err := first(required("tenant_id", p.TenantID), checkSlug("name", p.Name), checkVersion(p.APIVersion),
		checkText("description", p.Description, maxDescription, true)); err != nil {
		return err
	}
	if p.Model == "" {
		return invalid("model", "required")
	}
	if len(p.Model) > maxModel || strings.IndexFunc(p.Model, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 || !utf8.ValidString(p.Model) {
		return invalid("model", "want a model name without spaces, at most %d bytes", maxModel)
	}
	if strings.TrimSpace(p.Template) == "" {
		return invalid("template", "required")
	}
	if err := checkText("template", p.Template, MaxTemplate, true); err != nil {
		return err
	}
	if len(p.InputSchema) > MaxInputSchema {
		return invalid("input_schema", "at most %d bytes", MaxInputSchema)
	}
	vars, err := TemplateVariables(p.Template)
	if err != nil {
		return err
	}
	return CheckInputSchema(p.InputSchema, vars)
}
