package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/pylon-gateway/pylon/internal/testutil"
	"github.com/pylon-gateway/pylon/internal/testutil/fakellm"
	"github.com/redis/go-redis/v9"
)

func sessionConfig(upURL, extra string) string {
	return llmConfig(fmt.Sprintf(`
  - {name: oa, type: openai, base_url: %s/v1, api_keys: [{value: k}], models: [gpt-4o-mini]}`, upURL), `
  - {name: chat, targets: [{provider: oa, model: gpt-4o-mini}]}
`+extra)
}

// sentRoles returns the roles and contents the provider received in its last request.
func sentMessages(t *testing.T, up *fakellm.Server) []string {
	t.Helper()
	var out []string
	for _, m := range up.Last(t).JSON(t)["messages"].([]any) {
		mm := m.(map[string]any)
		out = append(out, fmt.Sprintf("%s:%v", mm["role"], mm["content"]))
	}
	return out
}

// A client sends one turn at a time with a session id; the provider receives the whole
// conversation; a second Pylon sharing Redis continues it; the session API shows and erases
// it everywhere; another key does not see it.
func TestLLMSessions(t *testing.T) {
	ctx := context.Background()
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rc.Close()
	requireServiceE2E(t, "Redis", rc.Ping(ctx).Err())
	prefix := redisPrefix(t, rc, "pylon-e2e-s-")
	up := fakellm.OpenAI(t)
	extra := fmt.Sprintf("llm: {sessions: {}}\nredis: {address: 127.0.0.1:6379, prefix: %q}", prefix)
	g1 := testutil.StartGateway(t, sessionConfig(up.URL, extra))
	g2 := testutil.StartGateway(t, sessionConfig(up.URL, extra))

	say := func(g *testutil.Gateway, key, text, reply string, stream bool) string {
		t.Helper()
		up.Script(fakellm.Reply{Text: reply})
		client := openai.NewClient(option.WithBaseURL(g.URL("public")+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0),
			option.WithHeader("X-Session-Id", "conv-1"))
		params := openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("Be brief."), openai.UserMessage(text)}}
		if !stream {
			c, err := client.Chat.Completions.New(ctx, params)
			if err != nil {
				t.Fatal(err)
			}
			return c.Choices[0].Message.Content
		}
		st := client.Chat.Completions.NewStreaming(ctx, params)
		acc := openai.ChatCompletionAccumulator{}
		for st.Next() {
			acc.AddChunk(st.Current())
		}
		if st.Err() != nil {
			t.Fatal(st.Err())
		}
		return acc.Choices[0].Message.Content
	}
	say(g1, "key-a", "My name is Ada.", "Hello Ada.", false)
	say(g1, "key-a", "I like tea.", "Noted.", true)
	// The third turn goes to the other node: it continues the same session from Redis.
	say(g2, "key-a", "What is my name?", "Ada.", false)
	want := []string{"system:Be brief.", "user:My name is Ada.", "assistant:Hello Ada.", "user:I like tea.", "assistant:Noted.", "user:What is my name?"}
	if got := sentMessages(t, up); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("the provider received\n%q\nwant\n%q", got, want)
	}

	// Another key does not reach the session: a fresh conversation.
	say(g1, "key-b", "Who am I?", "I do not know.", false)
	if got := sentMessages(t, up); len(got) != 2 {
		t.Fatalf("another key's call carried history: %q", got)
	}

	// The session API, within the key's scope.
	get := func(g *testutil.Gateway, method, path, key string) (int, string) {
		req, _ := http.NewRequest(method, g.URL("public")+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var sb strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			sb.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.StatusCode, sb.String()
	}
	if code, body := get(g2, "GET", "/v1/sessions/conv-1", "key-a"); code != 200 || !strings.Contains(body, `"id":"conv-1"`) {
		t.Fatalf("session metadata: %d %s", code, body)
	}
	if code, body := get(g1, "GET", "/v1/sessions/conv-1/messages", "key-a"); code != 200 || !strings.Contains(body, "What is my name?") || strings.Contains(body, "Be brief") {
		t.Fatalf("session messages: %d %s", code, body)
	}
	// key-b's "conv-1" is its own session: it never sees key-a's turns.
	if code, body := get(g1, "GET", "/v1/sessions/conv-1/messages", "key-b"); code != 200 || strings.Contains(body, "Ada") {
		t.Fatalf("another key read the session: %d %s", code, body)
	}
	if code, _ := get(g1, "GET", "/v1/sessions/conv-9", "key-a"); code != 404 {
		t.Fatalf("an unknown session: %d", code)
	}
	if code, body := get(g1, "GET", "/v1/sessions", "key-a"); code != 200 || !strings.Contains(body, "conv-1") {
		t.Fatalf("list: %d %s", code, body)
	}
	if code, _ := get(g1, "DELETE", "/v1/sessions/conv-1", "key-a"); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := get(g2, "GET", "/v1/sessions/conv-1", "key-a"); code != 404 {
		t.Fatalf("the erased session is still on the other node: %d", code)
	}
}

// A session over its token budget is trimmed by whole turns, oldest first.
func TestLLMSessionTrimmed(t *testing.T) {
	up := fakellm.OpenAI(t)
	g := testutil.StartGateway(t, sessionConfig(up.URL, "llm: {sessions: {max_history_tokens: 60}}"))
	client := openai.NewClient(option.WithBaseURL(g.URL("public")+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0),
		option.WithHeader("X-Session-Id", "long"))
	for i := range 6 {
		up.Script(fakellm.Reply{Text: fmt.Sprintf("Answer number %d with some words in it.", i)})
		var resp *http.Response
		_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "chat",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(fmt.Sprintf("Question number %d with a few words.", i))}},
			option.WithResponseInto(&resp))
		if err != nil {
			t.Fatal(err)
		}
		if i == 5 && resp.Header.Get("X-Session-Trimmed-Messages") == "0" {
			t.Fatalf("nothing was trimmed: %v", resp.Header)
		}
	}
	got := sentMessages(t, up)
	if len(got) >= 11 || !strings.HasPrefix(got[len(got)-1], "user:Question number 5") || !strings.HasPrefix(got[0], "user:") {
		t.Fatalf("trimmed history %q: want fewer than all turns, whole turns, the new turn last", got)
	}
}

func requireServiceE2E(t *testing.T, name string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is unreachable and CI is set: %v", name, err)
	}
	t.Skipf("%s is unreachable (%v): test skipped", name, err)
}

// A long session is summarized by the configured model off the request path: its older
// turns give way to the summary, which the next call carries as a system message.
func TestLLMSessionSummary(t *testing.T) {
	up := fakellm.OpenAI(t)
	g := testutil.StartGateway(t, sessionConfig(up.URL, `llm:
  sessions:
    summary: {model: chat, threshold_tokens: 40, keep_turns: 1}`))
	client := openai.NewClient(option.WithBaseURL(g.URL("public")+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0),
		option.WithHeader("X-Session-Id", "s1"))
	turn := func(i int) {
		t.Helper()
		_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "chat",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(fmt.Sprintf("Tell me fact number %d about the sea, please.", i))}})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Every answer of the fake, the summary's included, is this text.
	up.Script(fakellm.Reply{Text: "The sea is deep and wide, and it covers most of the planet."})
	for i := range 3 {
		turn(i)
	}
	eventually(t, "the session is summarized", func() error {
		req, _ := http.NewRequest("GET", g.URL("public")+"/v1/sessions/s1", nil)
		req.Header.Set("Authorization", "Bearer k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var meta struct {
			Summary struct {
				Text     string `json:"text"`
				Replaced int    `json:"replaced_messages"`
			} `json:"summary"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil {
			return err
		}
		if meta.Summary.Text == "" || meta.Summary.Replaced == 0 {
			return fmt.Errorf("no summary yet: %+v", meta.Summary)
		}
		return nil
	})
	turn(9)
	// The call of turn 9 (summaries may run in the background meanwhile).
	var got []string
	for _, rq := range up.Received() {
		if strings.Contains(string(rq.Body), "fact number 9") && !strings.Contains(string(rq.Body), "Summarize this conversation") {
			got = nil
			for _, m := range rq.JSON(t)["messages"].([]any) {
				mm := m.(map[string]any)
				got = append(got, fmt.Sprintf("%s:%v", mm["role"], mm["content"]))
			}
		}
	}
	// Without a summary the call would carry 3 turns (6 messages) and the new one. Summaries
	// run in the background and may race each other (one wins, the other changes nothing),
	// so how many turns the summary replaced varies; it replaced some.
	if !strings.HasPrefix(got[0], "system:") || !strings.Contains(got[0], "The sea is deep") || len(got) >= 7 {
		t.Fatalf("the call after the summary sent %q", got)
	}
}

// Two Pylons sharing Redis share the response cache: an answer cached through one is a hit
// on the other, streamed replay included.
func TestLLMCacheSharedThroughRedis(t *testing.T) {
	ctx := context.Background()
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rc.Close()
	requireServiceE2E(t, "Redis", rc.Ping(ctx).Err())
	prefix := redisPrefix(t, rc, "pylon-e2e-c-")
	up := fakellm.OpenAI(t)
	extra := fmt.Sprintf("llm: {cache: {ttl: 1m}}\nredis: {address: 127.0.0.1:6379, prefix: %q}", prefix)
	g1 := testutil.StartGateway(t, sessionConfig(up.URL, extra))
	g2 := testutil.StartGateway(t, sessionConfig(up.URL, extra))
	up.Script(fakellm.Reply{Text: "Shared answer."})
	params := openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("cache me once")}}
	c1 := openai.NewClient(option.WithBaseURL(g1.URL("public")+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0))
	if _, err := c1.Chat.Completions.New(ctx, params); err != nil {
		t.Fatal(err)
	}
	c2 := openai.NewClient(option.WithBaseURL(g2.URL("public")+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0))
	var resp *http.Response
	c, err := c2.Chat.Completions.New(ctx, params, option.WithResponseInto(&resp))
	if err != nil || c.Choices[0].Message.Content != "Shared answer." || resp.Header.Get("X-Pylon-Cache") != "hit" {
		t.Fatalf("the other node: %v %v", err, resp.Header)
	}
	st := c2.Chat.Completions.NewStreaming(ctx, params)
	acc := openai.ChatCompletionAccumulator{}
	for st.Next() {
		acc.AddChunk(st.Current())
	}
	if st.Err() != nil || acc.Choices[0].Message.Content != "Shared answer." || len(up.Received()) != 1 {
		t.Fatalf("streamed hit on the other node: %v %q (%d upstream calls)", st.Err(), acc.Choices[0].Message.Content, len(up.Received()))
	}
}

// redisPrefix returns a key prefix of its own for a test on the shared Redis, and deletes
// the test's keys when it ends.
func redisPrefix(t *testing.T, rc *redis.Client, name string) string {
	var b [4]byte
	rand.Read(b[:])
	prefix := name + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		keys, _ := rc.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			rc.Del(context.Background(), keys...)
		}
	})
	return prefix
}
