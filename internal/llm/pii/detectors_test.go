package pii

import (
	"slices"
	"strings"
	"testing"
)

type detCase struct {
	name string
	text string
	want []string // the matched substrings; nil for a true negative
}

var detectorCases = map[string][]detCase{
	DetEmail: {
		{"plain", "contact alice.smith+tag@example.co.uk today", []string{"alice.smith+tag@example.co.uk"}},
		{"angle brackets", "From: Bob <bob@mail.example.org>", []string{"bob@mail.example.org"}},
		{"in url query", "https://x.test/?u=carol@example.com&x=1", []string{"carol@example.com"}},
		{"sentence end", "write to dave@example.com.", []string{"dave@example.com"}},
		{"no tld", "ssh user@localhost", nil},
		{"decorator", "@app.route('/x')", nil},
		{"npm version", "install react@18.2.0 now", nil},
		{"one-letter tld", "a@b.c", nil},
		{"spelled out", "alice at example dot com", nil},
	},
	DetPhone: {
		{"nanp parens", "call +1 (415) 555-2671 now", []string{"+1 (415) 555-2671"}},
		{"e164 compact", "sms +14155552671", []string{"+14155552671"}},
		{"uk international", "ring +44 20 7946 0958.", []string{"+44 20 7946 0958"}},
		{"fr international", "+33 1 23 45 67 89", []string{"+33 1 23 45 67 89"}},
		{"uk national", "office 020 7946 0958", []string{"020 7946 0958"}},
		{"fr national dots", "mobile 06.12.34.56.78", []string{"06.12.34.56.78"}},
		{"nanp dashed", "reach me at 212-555-0100 today", []string{"212-555-0100"}},
		{"nanp dotted", "212.555.0100", []string{"212.555.0100"}},
		{"00 prefix", "0049 30 1234567", []string{"0049 30 1234567"}},
		{"keyword bare", "tel: 5550123", []string{"5550123"}},
		{"two numbers", "+1 415 555 2671, 020 7946 0958", []string{"+1 415 555 2671", "020 7946 0958"}},
		{"iso date", "on 2024-01-15 at noon", nil},
		{"eu date", "on 15.01.2024", nil},
		{"date time", "2024-01-15 10:30:45", nil},
		{"year range", "from 1999-2024", nil},
		{"years", "in 2021 2022 2023", nil},
		{"order number", "order 212-555-0100 shipped", nil},
		{"hash number", "ticket #212-555-0100", nil},
		{"area code 1", "123-456-7890", nil},
		{"bare digits", "id 5551234567 found", nil},
		{"decimal", "pi is 3.14159265", nil},
		{"thousands", "1 000 000 000 people", nil},
		{"isbn", "ISBN 978-3-16-148410-0", nil},
		{"version", "version 10.2.3.4567", nil},
		{"ipv4", "192.168.100.200", nil},
		{"all same", "+1 111 111 1111", nil},
	},
	DetCard: {
		{"visa spaced", "card 4111 1111 1111 1111 exp 12/26 cvv 123", []string{"4111 1111 1111 1111"}},
		{"visa dashed", "4111-1111-1111-1111", []string{"4111-1111-1111-1111"}},
		{"mastercard compact", "5555555555554444.", []string{"5555555555554444"}},
		{"mastercard 2-series", "2223003122003222", []string{"2223003122003222"}},
		{"amex", "378282246310005", []string{"378282246310005"}},
		{"amex grouped", "3782 822463 10005", []string{"3782 822463 10005"}},
		{"discover", "6011111111111117", []string{"6011111111111117"}},
		{"after a number", "qty 2 4111 1111 1111 1111", []string{"4111 1111 1111 1111"}},
		{"two in one run", "4111 1111 1111 1111 4111-1111-1111-1111", []string{"4111 1111 1111 1111", "4111-1111-1111-1111"}},
		{"luhn fails", "4111111111111112", nil},
		{"luhn fails spaced", "4111 1111 1111 1112", nil},
		{"unknown iin", "1234567812345670", nil}, // Luhn-valid, no network starts with 1
		{"all zeros", "0000000000000000", nil},
		{"too long", "41111111111111111111", nil},
		{"mixed separators", "4111 1111-1111 1111", nil},
		{"in identifier", "id4111111111111111", nil},
		{"decimal", "0.4111111111111111", nil},
	},
	DetIBAN: {
		{"de spaced", "pay to DE89 3704 0044 0532 0130 00 please", []string{"DE89 3704 0044 0532 0130 00"}},
		{"gb compact", "GB82WEST12345698765432.", []string{"GB82WEST12345698765432"}},
		{"fr with letter", "FR14 2004 1010 0505 0001 3M02 606", []string{"FR14 2004 1010 0505 0001 3M02 606"}},
		{"nl", "NL91ABNA0417164300", []string{"NL91ABNA0417164300"}},
		{"followed by caps", "DE89 3704 0044 0532 0130 00 IS MINE", []string{"DE89 3704 0044 0532 0130 00"}},
		{"bad checksum", "DE89370400440532013001", nil},
		{"unknown country", "XX89370400440532013000", nil},
		{"too short", "DE8937040044053201300", nil},
		{"runs on", "DE89370400440532013000ABC", nil},
	},
	DetSSN: {
		{"dashed", "SSN 123-45-6789.", []string{"123-45-6789"}},
		{"spaced", "my number is 536 22 1234", []string{"536 22 1234"}},
		{"keyword bare", "SSN: 536221234", []string{"536221234"}},
		{"area 000", "000-12-3456", nil},
		{"area 666", "666-12-3456", nil},
		{"area 9xx", "912-12-3456", nil},
		{"group 00", "123-00-4567", nil},
		{"serial 0000", "123-45-0000", nil},
		{"woolworth", "078-05-1120", nil},
		{"longer run", "123-45-6789-12", nil},
		{"bare without keyword", "536221234", nil},
	},
	DetUKNINO: {
		{"spaced", "NI number AB 12 34 56 C", []string{"AB 12 34 56 C"}},
		{"compact", "JG103759A", []string{"JG103759A"}},
		{"bad prefix", "GB123456A", nil},
		{"bad first letter", "DA123456C", nil},
		{"bad suffix", "AB123456E", nil},
	},
	DetESDNI: {
		{"dni", "DNI 12345678Z", []string{"12345678Z"}},
		{"dni dashed", "12345678-Z", []string{"12345678-Z"}},
		{"nie", "NIE X1234567L", []string{"X1234567L"}},
		{"dni bad letter", "12345678A", nil},
		{"nie bad letter", "X1234567A", nil},
	},
	DetFRNIR: {
		{"spaced", "NIR 1 85 05 78 006 084 91", []string{"1 85 05 78 006 084 91"}},
		{"compact", "185057800608491", []string{"185057800608491"}},
		{"corsica", "2 85 05 2A 006 084 82", []string{"2 85 05 2A 006 084 82"}},
		{"bad key", "1 85 05 78 006 084 36", nil},
		{"bad month", "1 85 13 78 006 084 91", nil},
	},
	DetIPv4: {
		{"private", "host 192.168.1.10 is up", []string{"192.168.1.10"}},
		{"dotted version is fine", "version 1.2.3.4", []string{"1.2.3.4"}},
		{"sentence end", "dns 8.8.8.8.", []string{"8.8.8.8"}},
		{"cidr", "10.0.0.0/8", []string{"10.0.0.0"}},
		{"three parts", "version 1.2.3", nil},
		{"five parts", "10.0.0.0.1", nil},
		{"octet range", "256.1.1.1", nil},
		{"leading zeros", "01.02.03.04", nil},
	},
	DetIPv6: {
		{"link local", "via fe80::1 on eth0", []string{"fe80::1"}},
		{"compressed", "2001:db8::8a2e:370:7334", []string{"2001:db8::8a2e:370:7334"}},
		{"full", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", []string{"2001:0db8:85a3:0000:0000:8a2e:0370:7334"}},
		{"loopback", "bind ::1 only", []string{"::1"}},
		{"mapped", "::ffff:192.0.2.1", []string{"::ffff:192.0.2.1"}},
		{"colon after", "address fe80::1: reachable", []string{"fe80::1"}},
		{"cpp", "std::vector<int>", nil},
		{"hex words", "dead::beef", nil},
		{"time", "10:30:45", nil},
		{"mac", "00:1a:2b:3c:4d:5e", nil},
		{"rust path", "a::b::c", nil},
	},
	DetOpenAIKey: {
		{"project key", "OPENAI_API_KEY=sk-proj-abc123DEF456ghi789JKL012mno345", []string{"sk-proj-abc123DEF456ghi789JKL012mno345"}},
		{"legacy key", "sk-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKL", []string{"sk-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKL"}},
		{"inside word", "task-abcdefghijklmnopqrstuvwx1", nil},
		{"slug", "sk-this-is-not-a-real-key-at-all", nil},
		{"anthropic is not openai", "sk-ant-api03-abcdefghij1234567890ABCDEFGHIJ", nil},
	},
	DetAnthropicKey: {
		{"key", "x-api-key: sk-ant-api03-abcdefghij1234567890ABCDEFGHIJ", []string{"sk-ant-api03-abcdefghij1234567890ABCDEFGHIJ"}},
		{"short", "sk-ant-short1", nil},
	},
	DetAWSAccessKey: {
		{"access key id", "AKIAIOSFODNN7EXAMPLE", []string{"AKIAIOSFODNN7EXAMPLE"}},
		{"session key id", "id=ASIAY34FZKBOKMUTVV7A", []string{"ASIAY34FZKBOKMUTVV7A"}},
		{"too long", "AKIAIOSFODNN7EXAMPLEXX", nil},
		{"too short", "AKIA1234", nil},
	},
	DetAWSSecretKey: {
		{"ini", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", []string{"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}},
		{"json", `"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"`, []string{"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}},
		{"no context", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", nil},
		{"41 chars", "secret_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYZ", nil},
	},
	DetGitHubToken: {
		{"classic", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", []string{"ghp_abcdefghijklmnopqrstuvwxyz0123456789"}},
		{"fine grained", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012345678", []string{"github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012345678"}},
		{"short", "ghp_short", nil},
	},
	DetSlackToken: {
		{"bot token", "xoxb-1234567890-abcdefghij", []string{"xoxb-1234567890-abcdefghij"}},
		{"webhook", "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", []string{"https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"}},
		{"not a token", "xox-foo", nil},
	},
	DetGoogleAPIKey: {
		{"key", "key=AIzaSyA1234567890abcdefghijklmnopqrstuv&q=x", []string{"AIzaSyA1234567890abcdefghijklmnopqrstuv"}},
		{"short", "AIzaShort", nil},
	},
	DetJWT: {
		{"token", "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
			[]string{"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"}},
		{"header only", "eyJhbGciOiJIUzI1NiJ9", nil},
		{"header without alg", "eyJ0eXAiOiJ4In0.eyJzdWIiOiIxIn0.c2ln", nil},
		{"payload not json", "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln", nil},
	},
	DetPrivateKey: {
		{"rsa", "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\nthanks",
			[]string{"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"}},
		{"json escaped", `"-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----"`,
			[]string{`-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----`}},
		{"truncated", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\nAAAA",
			[]string{"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\nAAAA"}},
		{"public key", "-----BEGIN PUBLIC KEY-----\nMIIBIjAN\n-----END PUBLIC KEY-----", nil},
		{"certificate", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", nil},
	},
	DetGenericSecret: {
		{"env", "api_key=a8f3K29dk3LmQ0zP7xYw", []string{"a8f3K29dk3LmQ0zP7xYw"}},
		{"json", `{"client_secret": "Zx8Kq2LmN4pR7tV9wY1b"}`, []string{"Zx8Kq2LmN4pR7tV9wY1b"}},
		{"yaml password", "password: hunter2", []string{"hunter2"}},
		{"env password", "DB_PASSWORD=s3cr3t!", []string{"s3cr3t!"}},
		{"bearer", "Authorization: Bearer abcDEF123ghiJKL456mno", []string{"abcDEF123ghiJKL456mno"}},
		{"uuid", "token: 550e8400-e29b-41d4-a716-446655440000", nil},
		{"small number", "max_tokens: 4096", nil},
		{"placeholder", "api_key=YOUR_API_KEY_HERE_12345", nil},
		{"env reference", "api_key=${OPENAI_API_KEY}", nil},
		{"word password", "password: required", nil},
		{"low entropy", "secret=aaaaaaaaaaaaaaaaaaaa1", nil},
		{"prose", "the key: something to remember", nil},
	},
}

func TestDetectors(t *testing.T) {
	for det, cases := range detectorCases {
		r := MustNew(Config{Detectors: []string{det}})
		for _, c := range cases {
			t.Run(det+"/"+c.name, func(t *testing.T) {
				var got []string
				for _, m := range r.Find(c.text) {
					if m.Detector != det {
						t.Errorf("detector %q, want %q", m.Detector, det)
					}
					got = append(got, c.text[m.Start:m.End])
				}
				if !slices.Equal(got, c.want) {
					t.Errorf("Find(%q) = %q, want %q", c.text, got, c.want)
				}
			})
		}
	}
}

// TestDetectorsCovered makes sure every built-in detector has cases.
func TestDetectorsCovered(t *testing.T) {
	for _, name := range groups["all"] {
		cs := detectorCases[name]
		var pos, neg bool
		for _, c := range cs {
			pos = pos || c.want != nil
			neg = neg || c.want == nil
		}
		if !pos || !neg {
			t.Errorf("detector %s lacks a true or a false positive case", name)
		}
	}
}

// TestAllDetectorsOnBenignText runs every detector on text full of near misses.
func TestAllDetectorsOnBenignText(t *testing.T) {
	r := MustNew(Config{})
	if ms := r.Find(benignText); len(ms) != 0 {
		for _, m := range ms {
			t.Errorf("%s matched %q", m.Detector, benignText[m.Start:m.End])
		}
	}
}

const benignText = `Release notes for version 1.2.3 (build 2024-01-15, 10:30:45 UTC).
We fixed 17 bugs in 3 modules; 99.5% of 1 000 000 requests now finish in 12.5 ms.
Request id 550e8400-e29b-41d4-a716-446655440000, order 212-555-0100, ticket #4711.
Use std::vector and a::b paths; ISBN 978-3-16-148410-0; pi = 3.14159265.
The key: keep max_tokens: 4096 and temperature: 0.7; password: required.
Dates: 15.01.2024, 2023/12/31, 1999-2024. Hash 4111111111111112 is not a card.
Contact us at the front desk; user@localhost is a login, not an address.`

func TestCardAnyIIN(t *testing.T) {
	const s = "1234567812345670" // Luhn-valid, unknown network
	if ms := MustNew(Config{Detectors: []string{DetCard}, CardAnyIIN: true}).Find(s); len(ms) != 1 {
		t.Errorf("CardAnyIIN: %v, want one match", ms)
	}
}

func TestCustomPatterns(t *testing.T) {
	r := MustNew(Config{
		Detectors: []string{DetEmail},
		Custom: []CustomPattern{
			{Name: "employee_id", Pattern: `\bE-[0-9]{6}\b`},
			{Name: "order", Pattern: `(?i)order (?P<pii>[0-9]{8})`, Label: "ORDER_NO"},
		},
	})
	got, c := r.Redact("E-123456 placed Order 12345678 for bob@example.com; E-12345 is short", nil)
	want := "[EMPLOYEE_ID] placed Order [ORDER_NO] for [EMAIL]; E-12345 is short"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if c["employee_id"] != 1 || c["order"] != 1 || c[DetEmail] != 1 || c.Total() != 3 {
		t.Errorf("counts %v", c)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Detectors: []string{"nope"}}, `unknown detector "nope"`},
		{Config{Disable: []string{"nope"}}, `unknown detector "nope"`},
		{Config{Mode: ModeHash}, "hash_key is empty"},
		{Config{Mode: "scramble"}, `unknown mode "scramble"`},
		{Config{Modes: map[string]Mode{"nope": ModeMask}}, `unknown detector "nope"`},
		{Config{Custom: []CustomPattern{{Name: "x", Pattern: "("}}}, "custom[0]"},
		{Config{Custom: []CustomPattern{{Name: "email", Pattern: "x"}}}, "already taken"},
		{Config{Custom: []CustomPattern{{Pattern: "x"}}}, "name is required"},
		{Config{HashLen: 2, HashKey: []byte("k")}, "hash_len"},
	} {
		_, err := New(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want an error containing %q", c.cfg, err, c.want)
		}
	}
}

func TestGroups(t *testing.T) {
	r := MustNew(Config{Detectors: []string{"national_id", "ip"}, Disable: []string{DetIPv6}})
	want := []string{DetSSN, DetUKNINO, DetESDNI, DetFRNIR, DetIPv4}
	if got := r.Detectors(); !slices.Equal(got, want) {
		t.Errorf("Detectors() = %v, want %v", got, want)
	}
}

func TestOverlapPriority(t *testing.T) {
	r := MustNew(Config{})
	// The GitHub token is also a generic secret value: the specific detector wins.
	got, c := r.Redact("token: ghp_abcdefghijklmnopqrstuvwxyz0123456789", nil)
	if got != "token: [API_KEY]" || c[DetGitHubToken] != 1 || c[DetGenericSecret] != 0 {
		t.Errorf("got %q %v", got, c)
	}
	// An IPv4 address is not also a phone number.
	got, _ = r.Redact("host 192.168.100.200 up", nil)
	if got != "host [IP] up" {
		t.Errorf("got %q", got)
	}
}
