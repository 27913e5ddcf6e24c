package transform

import (
	"slices"

	"github.com/pylon-gateway/pylon/internal/config"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

type action uint8

const (
	actSystemPrepend action = iota
	actSystemAppend
	actSystemPrefix
	actSystemSuffix
	actUserTemplate
)

var actions = map[string]action{
	"system_prepend": actSystemPrepend,
	"system_append":  actSystemAppend,
	"system_prefix":  actSystemPrefix,
	"system_suffix":  actSystemSuffix,
	"user_template":  actUserTemplate,
}

// step is one compiled prompt edit.
type step struct {
	act  action
	text *tmpl
	sep  string
}

func compileStep(p string, c *config.LLMPromptStep, vars map[string]string) (step, error) {
	a, ok := actions[c.Action]
	if !ok {
		return step{}, fieldErr(p+".action", "must be one of system_prepend, system_append, system_prefix, system_suffix, user_template, got %q", c.Action)
	}
	if c.Text == "" {
		return step{}, fieldErr(p+".text", "is required")
	}
	st := step{act: a, sep: "\n\n"}
	if c.Separator != nil {
		if a != actSystemPrefix && a != actSystemSuffix {
			return step{}, fieldErr(p+".separator", "applies to system_prefix and system_suffix only")
		}
		st.sep = *c.Separator
	}
	t, err := parseTemplate(c.Text, vars, a == actUserTemplate)
	if err != nil {
		return step{}, fieldErr(p+".text", "%v", err)
	}
	if a == actUserTemplate && !t.input {
		return step{}, fieldErr(p+".text", "a user_template must hold {{input}}, the user's message")
	}
	st.text = t
	return st, nil
}

// editor changes a copy of a request. The messages are copied on the first edit, and a
// changed message gets new Content: nothing the input request points to is written.
type editor struct {
	req     *openai.ChatRequest // the copy being edited
	orig    []openai.Message    // the input's messages
	owned   bool                // req.Messages is our own copy
	changed bool
}

func (ed *editor) own() {
	if !ed.owned {
		ed.req.Messages = slices.Grow(slices.Clone(ed.orig), 2)
		ed.owned = true
	}
	ed.changed = true
}

// leading returns the number of system (or developer) messages that open the conversation.
func leading(ms []openai.Message) int {
	n := 0
	for n < len(ms) && (ms[n].Role == "system" || ms[n].Role == "developer") {
		n++
	}
	return n
}

func (ed *editor) insert(i int, m openai.Message) {
	ed.own()
	ed.req.Messages = slices.Insert(ed.req.Messages, i, m)
}

// apply runs the step. A step whose text renders empty does nothing.
func (st *step) apply(ed *editor, e *env) {
	ms := ed.req.Messages
	if st.act == actUserTemplate {
		i := len(ms) - 1
		for i >= 0 && ms[i].Role != "user" {
			i--
		}
		if i < 0 {
			return
		}
		e.input = ms[i].Content.String()
		text := st.text.render(e)
		e.input = ""
		c := replaceText(ms[i].Content, text)
		ed.own()
		ed.req.Messages[i].Content = c
		return
	}
	text := st.text.render(e)
	if text == "" {
		return
	}
	n := leading(ms)
	switch st.act {
	case actSystemPrepend:
		ed.insert(0, openai.Message{Role: "system", Content: openai.TextContent(text)})
	case actSystemAppend:
		ed.insert(n, openai.Message{Role: "system", Content: openai.TextContent(text)})
	case actSystemPrefix:
		if n == 0 {
			ed.insert(0, openai.Message{Role: "system", Content: openai.TextContent(text)})
			return
		}
		c := addText(ms[0].Content, text, st.sep, true)
		ed.own()
		ed.req.Messages[0].Content = c
	case actSystemSuffix:
		if n == 0 {
			ed.insert(0, openai.Message{Role: "system", Content: openai.TextContent(text)})
			return
		}
		c := addText(ms[n-1].Content, text, st.sep, false)
		ed.own()
		ed.req.Messages[n-1].Content = c
	}
}

// addText returns new content: c with text before (or after) it, joined by sep. Parts get
// a text part of their own, so images and files keep their place.
func addText(c *openai.Content, text, sep string, before bool) *openai.Content {
	switch {
	case c.IsParts():
		parts := make([]openai.Part, 0, len(c.Parts)+1)
		if before {
			parts = append(append(parts, openai.Part{Type: "text", Text: text + sep}), c.Parts...)
		} else {
			parts = append(append(parts, c.Parts...), openai.Part{Type: "text", Text: sep + text})
		}
		return &openai.Content{Parts: parts}
	case c == nil || c.Text == "":
		return openai.TextContent(text)
	case before:
		return openai.TextContent(text + sep + c.Text)
	}
	return openai.TextContent(c.Text + sep + text)
}

// replaceText returns new content holding text instead of c's text. With parts, the text
// parts give way to one text part where the first one was (first when there was none);
// other parts (images, audio, files) keep their order.
func replaceText(c *openai.Content, text string) *openai.Content {
	if !c.IsParts() {
		return openai.TextContent(text)
	}
	parts := make([]openai.Part, 0, len(c.Parts)+1)
	placed := false
	for _, p := range c.Parts {
		if p.Type != "text" {
			parts = append(parts, p)
			continue
		}
		if !placed {
			parts = append(parts, openai.Part{Type: "text", Text: text, CacheControl: p.CacheControl})
			placed = true
		}
	}
	if !placed {
		parts = slices.Insert(parts, 0, openai.Part{Type: "text", Text: text})
	}
	return &openai.Content{Parts: parts}
}
