package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/stream"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// promptPath splits ".../apis/{tenant}/{name}/{version}" into its parts.
func promptPath(p string) (tenant, name, version string, ok bool) {
	i := strings.LastIndex(p, "/apis/")
	if i < 0 {
		return "", "", "", false
	}
	parts := strings.Split(p[i+len("/apis/"):], "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// servePromptAPI answers POST /apis/{tenant}/{name}/{version}: the body's JSON variables are
// checked against the prompt API's input schema, filled into its template, and the prompt
// goes to its model through the chat path (routing, limits, cache, PII), answered as an
// OpenAI chat completion (?stream=true: streamed). Only keys of the tenant that published it
// may call it.
func (g *Gateway) servePromptAPI(w http.ResponseWriter, r *http.Request, info *stream.Info, body []byte, who *caller) {
	d := openaiDialect
	tenant, name, version, _ := promptPath(r.URL.Path)
	if who.principal == nil || g.shared.Access == nil {
		d.WriteError(w, llm.Errorf(llm.KindAuthentication, "prompt APIs need an API key: serve them on a route with llm: {auth: true}"))
		return
	}
	pa := g.shared.Access.PromptAPI(tenant, name, version)
	if pa == nil || pa.TenantID != who.principal.TenantID {
		d.WriteError(w, &llm.Error{Kind: llm.KindNotFound, Code: "not_found", Message: fmt.Sprintf("no prompt API %s/%s/%s", tenant, name, version)})
		return
	}
	vars, e := promptVariables(body, pa.Schema)
	if e != nil {
		info.Details = "llm_bad_request"
		d.WriteError(w, e)
		return
	}
	prompt := render(pa.Template, vars)
	req := &openai.ChatRequest{Model: pa.Model, Messages: []openai.Message{{Role: "user", Content: openai.TextContent(prompt)}}}
	if r.URL.Query().Get("stream") == "true" {
		req.Stream = true
	}
	g.serveChatRequest(w, r, info, d, req, who)
}

// promptVariables parses the body and validates it against the input schema.
func promptVariables(body []byte, sch *jsonschema.Schema) (map[string]any, *llm.Error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return nil, llm.Errorf(llm.KindInvalidRequest, "the body is not valid JSON: %v", err)
	}
	vars, ok := doc.(map[string]any)
	if !ok {
		return nil, llm.Errorf(llm.KindInvalidRequest, "the body must be a JSON object of the prompt's variables")
	}
	if err := sch.Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			leaf := ve
			for len(leaf.Causes) > 0 {
				leaf = leaf.Causes[0]
			}
			field := strings.Join(leaf.InstanceLocation, ".")
			msg := leaf.ErrorKind.LocalizedString(message.NewPrinter(language.English))
			if field == "" {
				return nil, llm.Errorf(llm.KindInvalidRequest, "the variables do not match the input schema: %s", msg)
			}
			return nil, llm.InvalidParam(field, "%s", msg)
		}
		return nil, llm.Errorf(llm.KindInvalidRequest, "the variables do not match the input schema: %v", err)
	}
	return vars, nil
}

// render fills "{{name}}" placeholders: strings as they are, other values as JSON.
func render(tmpl string, vars map[string]any) string {
	var b strings.Builder
	rest := tmpl
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			b.WriteString(rest)
			return b.String()
		}
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 {
			b.WriteString(rest)
			return b.String()
		}
		b.WriteString(rest[:i])
		name := strings.TrimSpace(rest[i+2 : i+2+j])
		switch v := vars[name].(type) {
		case nil:
		case string:
			b.WriteString(v)
		default:
			enc, _ := json.Marshal(v)
			b.Write(enc)
		}
		rest = rest[i+2+j+2:]
	}
}
