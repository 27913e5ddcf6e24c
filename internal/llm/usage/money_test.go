package usage

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseMoney(t *testing.T) {
	tests := []struct {
		in   string
		want Money
	}{
		{"0", 0},
		{"-0", 0},
		{"1", Dollar},
		{"0.15", 15 * Cent},
		{"2.50", 2*Dollar + 50*Cent},
		{"007.5", 7*Dollar + 50*Cent},
		{"0.000001", Microdollar},
		{"0.000000000001", Picodollar},
		{"0.01875", 18_750_000_000},
		{"-3.25", -(3*Dollar + 25*Cent)},
		{"9223372.036854775807", MaxMoney},
		{"-9223372.036854775807", -MaxMoney},
	}
	for _, tt := range tests {
		got, err := ParseMoney(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseMoney(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestParseMoneyErrors(t *testing.T) {
	tests := []struct {
		in, msg string
	}{
		{"", `invalid money "": empty`},
		{"2.5e-6", `invalid money "2.5e-6": exponent notation is not allowed; write a plain decimal such as 0.0000025`},
		{"1E3", "exponent notation is not allowed"},
		{"0.0000000000001", "more than 12 decimal places (the smallest unit is 1e-12 USD)"},
		{"9223372.036854775808", "out of range (the largest amount is 9223372.036854775807)"},
		{"10000000", "out of range"},
		{"-", "want digits before the decimal point"},
		{".5", "want digits before the decimal point"},
		{"1.", "want digits after the decimal point"},
		{"+1", `unexpected '+' at offset 0`},
		{"$1", `unexpected '$' at offset 0`},
		{" 1", `unexpected ' ' at offset 0`},
		{"1 ", `unexpected ' ' at offset 1`},
		{"1,000", `unexpected ',' at offset 1`},
		{"1_000", `unexpected '_' at offset 1`},
		{"1.2.3", `unexpected '.' at offset 3`},
		{"--1", `unexpected '-' at offset 1`},
		{"0.1€", `unexpected '€' at offset 3`},
		{"NaN", `unexpected 'N' at offset 0`},
		{"free", `unexpected 'f' at offset 0`},
	}
	for _, tt := range tests {
		_, err := ParseMoney(tt.in)
		if err == nil {
			t.Errorf("ParseMoney(%q) succeeded, want an error containing %q", tt.in, tt.msg)
			continue
		}
		if !errors.Is(err, ErrInvalidMoney) {
			t.Errorf("ParseMoney(%q) error %v does not wrap ErrInvalidMoney", tt.in, err)
		}
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ParseMoney(%q) error = %q, want it to contain %q", tt.in, err, tt.msg)
		}
	}
}

func TestMoneyString(t *testing.T) {
	tests := []struct {
		in   Money
		want string
	}{
		{0, "0"},
		{Dollar, "1"},
		{15 * Cent, "0.15"},
		{2*Dollar + 50*Cent, "2.5"},
		{Picodollar, "0.000000000001"},
		{-Microdollar, "-0.000001"},
		{MaxMoney, "9223372.036854775807"},
		{-MaxMoney - 1, "-9223372.036854775808"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Money(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
	}
}

func TestMoneyStringFixed(t *testing.T) {
	tests := []struct {
		in     Money
		places int
		want   string
	}{
		{0, 2, "0.00"},
		{Dollar, 0, "1"},
		{5 * Nanodollar * 1e6, 2, "0.01"}, // $0.005 rounds half away from zero
		{-5 * Nanodollar * 1e6, 2, "-0.01"},
		{4_999_999_999, 2, "0.00"},  // just under half a cent
		{-4_999_999_999, 2, "0.00"}, // no "-0.00"
		{15 * Cent, 1, "0.2"},
		{25 * Cent, 1, "0.3"}, // half away from zero, not half to even
		{2*Dollar + 49*Cent, 0, "2"},
		{2*Dollar + 50*Cent, 0, "3"},
		{Picodollar, 12, "0.000000000001"},
		{Picodollar, 20, "0.000000000001"}, // clamped to 12
		{1234 * Microdollar, -1, "0"},      // clamped to 0
		{MaxMoney, 6, "9223372.036855"},
		{-MaxMoney - 1, 0, "-9223372"},
	}
	for _, tt := range tests {
		if got := tt.in.StringFixed(tt.places); got != tt.want {
			t.Errorf("Money(%d).StringFixed(%d) = %q, want %q", int64(tt.in), tt.places, got, tt.want)
		}
	}
}

func TestMoneyJSON(t *testing.T) {
	type rec struct {
		Cost Money `json:"cost"`
	}
	b, err := json.Marshal(rec{Cost: 25 * Microdollar})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"cost":"0.000025"}`; got != want {
		t.Errorf("Marshal = %s, want %s", got, want)
	}
	var r rec
	if err := json.Unmarshal(b, &r); err != nil || r.Cost != 25*Microdollar {
		t.Errorf("Unmarshal(%s) = %d, %v", b, r.Cost, err)
	}
	if err := json.Unmarshal([]byte(`{"cost":"1e-6"}`), &r); !errors.Is(err, ErrInvalidMoney) {
		t.Errorf("Unmarshal of an exponent = %v, want ErrInvalidMoney", err)
	}
}

func BenchmarkParseMoney(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseMoney("0.01875"); err != nil {
			b.Fatal(err)
		}
	}
}
