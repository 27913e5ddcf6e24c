package sse

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func readAll(t *testing.T, r io.Reader) ([]Event, error) {
	t.Helper()
	rd := NewReader(r)
	var out []Event
	for {
		ev, err := rd.Next()
		if err != nil {
			return out, err
		}
		out = append(out, Event{Name: ev.Name, Data: append([]byte(nil), ev.Data...)})
	}
}

func TestReader(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string // name|data
		err      error
	}{
		{"openai", "data: {\"a\":1}\n\ndata: [DONE]\n\n", []string{"|{\"a\":1}", "|[DONE]"}, io.EOF},
		{"anthropic named", "event: message_start\ndata: {}\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\n", []string{"message_start|{}", "ping|{\"type\":\"ping\"}"}, io.EOF},
		{"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", []string{"|a", "|b"}, io.EOF},
		{"lone cr", "data: a\r\rdata: b\r\r", []string{"|a", "|b"}, io.EOF},
		{"comments ignored", ": OPENROUTER PROCESSING\n\ndata: x\n\n", []string{"|x"}, io.EOF},
		{"multi data lines", "data: a\ndata: b\n\n", []string{"|a\nb"}, io.EOF},
		{"no space after colon", "data:x\n\n", []string{"|x"}, io.EOF},
		{"truncated event", "data: a\n\ndata: b\n", []string{"|a"}, io.ErrUnexpectedEOF},
		{"truncated no newline", "data: a\n\ndata: b", []string{"|a"}, io.ErrUnexpectedEOF},
		{"id and retry ignored", "id: 1\nretry: 5\ndata: z\n\n", []string{"|z"}, io.EOF},
		{"empty", "", nil, io.EOF},
	}
	for _, tt := range tests {
		for _, oneByte := range []bool{false, true} {
			var r io.Reader = strings.NewReader(tt.in)
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			got, err := readAll(t, r)
			if !errors.Is(err, tt.err) {
				t.Errorf("%s (oneByte=%v): err %v, want %v", tt.name, oneByte, err, tt.err)
			}
			var gs []string
			for _, e := range got {
				gs = append(gs, e.Name+"|"+string(e.Data))
			}
			if strings.Join(gs, ",") != strings.Join(tt.want, ",") {
				t.Errorf("%s (oneByte=%v): got %q, want %q", tt.name, oneByte, gs, tt.want)
			}
		}
	}
}

func TestReaderLongLine(t *testing.T) {
	long := strings.Repeat("x", 100000)
	got, err := readAll(t, strings.NewReader("data: "+long+"\n\n"))
	if err != io.EOF || len(got) != 1 || string(got[0].Data) != long {
		t.Fatalf("long line: %d events, err %v", len(got), err)
	}
}

func TestAppendEvent(t *testing.T) {
	if got := string(AppendEvent(nil, "ping", []byte(`{}`))); got != "event: ping\ndata: {}\n\n" {
		t.Fatalf("got %q", got)
	}
	if got := string(AppendEvent(nil, "", []byte(`[DONE]`))); got != "data: [DONE]\n\n" {
		t.Fatalf("got %q", got)
	}
}

func FuzzReader(f *testing.F) {
	f.Add("data: a\n\nevent: x\ndata: b\r\n\r\n: c\r\rdata: d")
	f.Fuzz(func(t *testing.T, in string) {
		r := NewReader(strings.NewReader(in))
		for i := 0; i < len(in)+2; i++ {
			if _, err := r.Next(); err != nil {
				return
			}
		}
		t.Fatalf("more events than bytes in %q", in)
	})
}

func BenchmarkReader(b *testing.B) {
	in := strings.Repeat("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n", 50)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	sr := strings.NewReader(in)
	for b.Loop() {
		sr.Reset(in)
		r := NewReader(sr)
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
	}
}

// Released readers give their buffers to the next ones, which read as fresh readers do,
// whether the buffers were outgrown (a long event) or not; a released reader only errs.
func TestReaderRelease(t *testing.T) {
	long := strings.Repeat("x", 3*readSize)
	for range 3 {
		for _, in := range []string{"data: a\n\ndata: " + long + "\n\n", "data: b\ndata: c\n\n", "event: e\ndata: " + long[:dataSize+1] + "\n\n"} {
			rd := NewReader(strings.NewReader(in))
			var got []string
			for {
				ev, err := rd.Next()
				if err != nil {
					break
				}
				got = append(got, ev.Name+"|"+string(ev.Data))
			}
			want, _ := readAll(t, strings.NewReader(in))
			if len(got) != len(want) {
				t.Fatalf("%d events, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i].Name+"|"+string(want[i].Data) {
					t.Fatalf("event %d differs", i)
				}
			}
			rd.Release()
			rd.Release()
			if _, err := rd.Next(); err == nil || rd.Ready() {
				t.Fatal("a released reader still reads")
			}
		}
	}
}
