package store

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCursorRoundTrip(t *testing.T) {
	id := "01900000-0000-7000-8000-00000000abcd"
	got, err := DecodeCursor(EncodeCursor(id))
	if err != nil || got != id {
		t.Fatalf("round trip: %q %v", got, err)
	}
	for _, bad := range []string{"x", "!!!!", EncodeCursor("not-an-id"), EncodeCursor("01900000-0000-7000-8000-00000000ABCD"), strings.Repeat("a", 200)} {
		if _, err := DecodeCursor(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("DecodeCursor(%q) = %v, want invalid", bad, err)
		}
	}
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add("")
	f.Add(EncodeCursor("01900000-0000-7000-8000-00000000abcd"))
	f.Add("YzE6")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := DecodeCursor(s)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "cursor" {
				t.Fatalf("error %v is not an invalid cursor", err)
			}
			return
		}
		if id != "" && (!validID(id) || EncodeCursor(id) != s) {
			t.Fatalf("accepted %q as %q", s, id)
		}
	})
}

func TestKeys(t *testing.T) {
	plain, hash, prefix := NewKey()
	if len(plain) != KeyLen || !strings.HasPrefix(plain, prefix) || !strings.HasPrefix(prefix, KeyPrefix) {
		t.Fatalf("key %q prefix %q", plain, prefix)
	}
	got, err := ParseKey(plain)
	if err != nil || got != hash || got != HashKey(plain) {
		t.Fatalf("ParseKey: %v %v", got, err)
	}
	other, _, _ := NewKey()
	if other == plain {
		t.Fatal("two keys are equal")
	}
	for _, bad := range []string{"", plain[:len(plain)-1], "sk_live_" + plain[8:], plain[:20] + "A" + plain[21:], plain + "a", plain[:20] + "1" + plain[21:]} {
		if _, err := ParseKey(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseKey(%q) = %v, want invalid", bad, err)
		}
	}
}

func FuzzParseKey(f *testing.F) {
	plain, _, _ := NewKey()
	f.Add(plain)
	f.Add("pk_live_")
	f.Add("pk_live_" + strings.Repeat("a", 52))
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseKey(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if len(s) != KeyLen || !strings.HasPrefix(s, KeyPrefix) || h != HashKey(s) {
			t.Fatalf("accepted %q", s)
		}
	})
}

func TestTemplateVariables(t *testing.T) {
	cases := []struct {
		in    string
		want  []string
		error bool
	}{
		{"no placeholders", nil, false},
		{"{{a}} and {{ b }} and {{a}}", []string{"a", "b"}, false},
		{"{{_x1}}", []string{"_x1"}, false},
		{"{{a", nil, true},
		{"{{}}", nil, true},
		{"{{1a}}", nil, true},
		{"{{a b}}", nil, true},
		{"}} alone is text", nil, false},
	}
	for _, c := range cases {
		got, err := TemplateVariables(c.in)
		if (err != nil) != c.error || !slices.Equal(got, c.want) {
			t.Errorf("TemplateVariables(%q) = %v, %v", c.in, got, err)
		}
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "template" {
				t.Errorf("error %v does not name the template", err)
			}
		}
	}
}

func FuzzTemplateVariables(f *testing.F) {
	f.Add("Summarise {{ topic }} in {{words}} words")
	f.Add("{{")
	f.Add("{{a}}{{b")
	f.Fuzz(func(t *testing.T, s string) {
		vars, err := TemplateVariables(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		for _, v := range vars {
			if !isIdent(v) || !strings.Contains(s, v) {
				t.Fatalf("variable %q of %q", v, s)
			}
		}
		if len(vars) > strings.Count(s, "{{") {
			t.Fatalf("%d variables from %d placeholders", len(vars), strings.Count(s, "{{"))
		}
	})
}

func TestCheckInputSchema(t *testing.T) {
	ok := `{"type":"object","properties":{"topic":{"type":"string"}},"required":["topic"]}`
	cases := []struct {
		schema string
		vars   []string
		field  string
	}{
		{ok, []string{"topic"}, ""},
		{`{"properties":{"topic":{}}}`, []string{"topic"}, ""},
		{``, nil, "input_schema"},
		{`[]`, nil, "input_schema"},
		{`{"type":"object"`, nil, "input_schema"},
		{`{"type":"array"}`, nil, "input_schema.type"},
		{`{"properties":[]}`, nil, "input_schema"},
		{`{"properties":{"a b":{}}}`, nil, "input_schema.properties"},
		{`{"properties":{"a":1}}`, nil, "input_schema.properties.a"},
		{`{"properties":{},"required":["x"]}`, nil, "input_schema.required[0]"},
		{ok, []string{"other"}, "template"},
	}
	for _, c := range cases {
		err := CheckInputSchema(json.RawMessage(c.schema), c.vars)
		var fe *FieldError
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s: %v", c.schema, err)
		case c.field != "" && (!errors.As(err, &fe) || fe.Field != c.field):
			t.Errorf("%s: got %v, want invalid %s", c.schema, err, c.field)
		}
	}
}

func FuzzCheckInputSchema(f *testing.F) {
	f.Add(`{"type":"object","properties":{"topic":{"type":"string"}},"required":["topic"]}`, "{{topic}}")
	f.Add(`{"properties":{"a":{}}}`, "{{b}}")
	f.Add(`{"type":["object"]}`, "")
	f.Fuzz(func(t *testing.T, schema, tmpl string) {
		p := PromptAPI{TenantID: "t", Name: "p", APIVersion: "v1", Model: "m", Template: tmpl, InputSchema: json.RawMessage(schema)}
		err := p.Validate()
		if err == nil {
			if !json.Valid([]byte(schema)) {
				t.Fatalf("accepted invalid JSON %q", schema)
			}
			return
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field == "" {
			t.Fatalf("error %v names no field", err)
		}
	})
}

func TestTransitions(t *testing.T) {
	all := []Lifecycle{Draft, Published, Deprecated, Retired}
	allowed := map[[2]Lifecycle]bool{
		{Draft, Published}: true, {Published, Deprecated}: true, {Deprecated, Published}: true, {Deprecated, Retired}: true,
	}
	for _, from := range all {
		for _, to := range all {
			err := CheckTransition("api", "x", from, to)
			if allowed[[2]Lifecycle{from, to}] != (err == nil) || err != nil && !errors.Is(err, ErrConflict) {
				t.Errorf("%s -> %s: %v", from, to, err)
			}
		}
	}
	if err := CheckTransition("api", "x", Draft, "gone"); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown state: %v", err)
	}
	states := []SubscriptionState{SubPending, SubApproved, SubRejected, SubRevoked}
	subAllowed := map[[2]SubscriptionState]bool{
		{SubPending, SubApproved}: true, {SubPending, SubRejected}: true, {SubPending, SubRevoked}: true, {SubApproved, SubRevoked}: true,
	}
	for _, from := range states {
		for _, to := range states {
			err := CheckSubscriptionTransition("x", from, to)
			if subAllowed[[2]SubscriptionState{from, to}] != (err == nil) {
				t.Errorf("%s -> %s: %v", from, to, err)
			}
		}
	}
}

func TestKeyUsable(t *testing.T) {
	now := time.Now()
	past, future := now.Add(-time.Second), now.Add(time.Second)
	cases := []struct {
		k    APIKey
		want error
	}{
		{APIKey{}, nil},
		{APIKey{ExpiresAt: &future}, nil},
		{APIKey{ExpiresAt: &now}, ErrKeyExpired},
		{APIKey{ExpiresAt: &past}, ErrKeyExpired},
		{APIKey{RevokedAt: &past, ExpiresAt: &future}, ErrKeyRevoked},
	}
	for i, c := range cases {
		if err := c.k.Usable(now); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("case %d: %v, want %v", i, err, c.want)
		}
	}
}

func TestUserTokenFormat(t *testing.T) {
	plain, hash, prefix := NewUserToken()
	if len(plain) != UserTokenLen || !strings.HasPrefix(plain, prefix) || prefix != plain[:len(UserTokenPrefix)+8] {
		t.Fatalf("token %q prefix %q", plain, prefix)
	}
	if got, err := ParseUserToken(plain); err != nil || got != hash {
		t.Fatalf("ParseUserToken: %v %v", got, err)
	}
	key, _, _ := NewKey()
	for _, bad := range []string{"", key, plain[:len(plain)-1], plain + "a", plain[:10] + "A" + plain[11:]} {
		var fe *FieldError
		if _, err := ParseUserToken(bad); !errors.As(err, &fe) || fe.Field != "token" {
			t.Errorf("ParseUserToken(%q) = %v, want invalid token", bad, err)
		}
	}
	if _, err := ParseKey(plain); !errors.Is(err, ErrInvalid) {
		t.Errorf("ParseKey accepts a user token: %v", err)
	}
}

func TestStaleIsConflict(t *testing.T) {
	err := Stale("tenant", "x", 3)
	if !errors.Is(err, ErrStale) || !errors.Is(err, ErrConflict) {
		t.Fatalf("Stale = %v: want ErrStale and ErrConflict", err)
	}
}
