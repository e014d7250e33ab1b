package stages

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/srdpo/srdpo/model/chattemplate"
	"github.com/srdpo/srdpo/schemas"
)

// A conversation is rendered as TRL renders it (trl/data_utils.py
// apply_chat_template): the prompt with the generation prompt added, and
// each completion as the whole conversation rendered minus that prompt
// text. p⊕x is the same conversation with p put into its messages
// (Augmentation), rendered the same way.

// conversation is a record's messages: the prompt and each response.
type conversation struct{ prompt, chosen, rejected []message }

// json is the conversation's messages as given, for the scored rows.
func (c conversation) json() (string, *recordError) {
	d := chattemplate.NewDict()
	for _, part := range []struct {
		name string
		msgs []message
	}{{"prompt", c.prompt}, {"chosen", c.chosen}, {"rejected", c.rejected}} {
		l := make([]any, len(part.msgs))
		for i, m := range part.msgs {
			l[i] = m.value
		}
		d.Set(part.name, l)
	}
	s, err := chattemplate.ToJSON(d)
	if err != nil {
		return "", deadf(ReasonBadMessage, "%v", err)
	}
	return s, nil
}

// Augmentation says how p enters a conversation to form p⊕x.
type Augmentation struct {
	Prompt    string // p; "" forms no p⊕x at ingestion
	Separator string // joins p and the content it goes in front of
	Position  string // AugLastUser (default), AugFirstUser or AugSystem
}

// Where p goes in a conversation.
const (
	AugLastUser  = "last-user"  // in front of the last user message's content
	AugFirstUser = "first-user" // in front of the first user message's content
	AugSystem    = "system"     // in front of the system message's content, or as a system message of its own
)

// ParseAugPosition checks --aug-position.
func ParseAugPosition(s string) (string, error) {
	switch s {
	case AugLastUser, AugFirstUser, AugSystem:
		return s, nil
	}
	return "", fmt.Errorf("--aug-position %q: want last-user, first-user or system", s)
}

func newMessage(role, content string) message {
	d := chattemplate.NewDict()
	d.Set("role", role)
	d.Set("content", content)
	return message{role: role, content: content, value: d}
}

func userMessage(content string) message { return newMessage(roleUser, content) }

// sameMessage compares two turns as given.
func sameMessage(a, b message) bool {
	return a.role == b.role && a.content == b.content && fmt.Sprint(a.value) == fmt.Sprint(b.value)
}

// withContent is m with other content, every other field kept.
func (m message) withContent(content string) message {
	d := chattemplate.NewDict()
	if src, ok := m.value.(*chattemplate.Dict); ok {
		for _, k := range src.Keys() {
			v, _ := src.Get(k)
			d.Set(k, v)
		}
	}
	d.Set("content", content)
	return message{role: m.role, content: content, value: d}
}

// augment is the prompt with p put where a says.
func (a Augmentation) augment(prompt []message) []message {
	out := append([]message(nil), prompt...)
	at := -1
	switch a.Position {
	case AugSystem:
		if len(out) > 0 && out[0].role == roleSystem {
			at = 0
		} else {
			return append([]message{newMessage(roleSystem, a.Prompt)}, out...)
		}
	case AugFirstUser:
		for i, m := range out {
			if m.role == roleUser {
				at = i
				break
			}
		}
	default:
		for i, m := range out {
			if m.role == roleUser {
				at = i
			}
		}
	}
	if at >= 0 {
		out[at] = out[at].withContent(schemas.Augment(a.Prompt, a.Separator, out[at].content))
	}
	return out
}

// renderConversation checks turn order and renders the prompt, p⊕x and
// the responses with the chat template.
func renderConversation(c conversation, obj map[string]json.RawMessage, o parseOptions, p *schemas.Preference) *recordError {
	if len(c.prompt) == 0 {
		return deadf(ReasonEmptyPrompt, "no prompt messages")
	}
	if last := c.prompt[len(c.prompt)-1].role; last != roleUser {
		return deadf(ReasonBadTurnOrder, "prompt ends with a %s turn, want user", last)
	}
	for _, r := range []struct {
		name string
		msgs []message
	}{{"chosen", c.chosen}, {"rejected", c.rejected}} {
		if len(r.msgs) == 0 {
			return deadf(map[string]string{"chosen": ReasonEmptyChosen, "rejected": ReasonEmptyRejected}[r.name],
				"%s has no messages after the prompt", r.name)
		}
		if r.msgs[0].role != roleAssistant {
			return deadf(ReasonBadTurnOrder, "%s starts with a %s turn, want assistant", r.name, r.msgs[0].role)
		}
	}
	// Blank contents render to non-blank text; check the contents.
	if strings.TrimSpace(c.chosen[0].content) == "" {
		return deadf(ReasonEmptyChosen, "chosen response is blank")
	}
	if strings.TrimSpace(c.rejected[0].content) == "" {
		return deadf(ReasonEmptyRejected, "rejected response is blank")
	}
	msgs, rerr := c.json()
	if rerr != nil {
		return rerr
	}
	p.Messages = msgs
	t := o.Template
	if !t.IsJinja() {
		p.Prompt = t.renderPrompt(c.prompt)
		p.Chosen = t.renderResponse(c.chosen)
		p.Rejected = t.renderResponse(c.rejected)
		if o.Aug.Prompt != "" {
			p.AugPrompt = t.renderPrompt(o.Aug.augment(c.prompt))
		}
		return nil
	}
	r, rerr := newJinjaRender(t, obj)
	if rerr != nil {
		return rerr
	}
	var err *recordError
	if p.Prompt, err = r.render(c.prompt, true); err != nil {
		return err
	}
	if p.Chosen, err = r.completion(c.prompt, p.Prompt, c.chosen); err != nil {
		return err
	}
	if p.Rejected, err = r.completion(c.prompt, p.Prompt, c.rejected); err != nil {
		return err
	}
	if o.Aug.Prompt != "" {
		if p.AugPrompt, err = r.render(o.Aug.augment(c.prompt), true); err != nil {
			return err
		}
	}
	return nil
}

// jinjaRender renders one record's conversations with a Jinja template,
// the record's tools and the template variables.
type jinjaRender struct {
	chat  *chattemplate.Chat
	name  string
	tools []any
	vars  map[string]any
}

func newJinjaRender(t ChatTemplate, obj map[string]json.RawMessage) (*jinjaRender, *recordError) {
	chat, err := t.compile()
	if err != nil {
		return nil, deadf(ReasonTemplateError, "%v", err)
	}
	r := &jinjaRender{chat: chat, name: t.Name, vars: map[string]any{}}
	if t.Kwargs != "" {
		if err := chattemplate.ParseKwargs([]byte(t.Kwargs), r.vars); err != nil {
			return nil, deadf(ReasonBadTools, "--chat-template-kwargs: %v", err)
		}
	}
	// TRL's columns: tools (a list, or its JSON text) and chat_template_kwargs.
	if raw, ok := obj["chat_template_kwargs"]; ok && string(bytes.TrimSpace(raw)) != "null" {
		if err := chattemplate.ParseKwargs(raw, r.vars); err != nil {
			return nil, deadf(ReasonBadTools, "chat_template_kwargs: %v", err)
		}
	}
	if raw, ok := obj["tools"]; ok && string(bytes.TrimSpace(raw)) != "null" {
		tools, err := parseTools(raw)
		if err != nil {
			return nil, deadf(ReasonBadTools, "tools: %v", err)
		}
		r.tools = tools
	}
	return r, nil
}

// parseTools reads a tools field: a list, or a JSON string holding one.
func parseTools(raw json.RawMessage) ([]any, error) {
	var text string
	if json.Unmarshal(raw, &text) == nil {
		raw = json.RawMessage(text)
	}
	v, err := chattemplate.ParseJSON(raw)
	if err != nil {
		return nil, err
	}
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("want a list of tool schemas")
	}
	return l, nil
}

func (r *jinjaRender) render(msgs []message, addGenerationPrompt bool) (string, *recordError) {
	values := make([]any, len(msgs))
	for i, m := range msgs {
		values[i] = m.value
	}
	text, err := r.chat.Apply(chattemplate.Request{Messages: values, AddGenerationPrompt: addGenerationPrompt, Tools: r.tools, Kwargs: r.vars})
	if err != nil {
		var te *chattemplate.TemplateError
		if errors.As(err, &te) {
			return "", deadf(ReasonTemplateError, "chat template %s raised: %s", r.name, te.Msg)
		}
		return "", deadf(ReasonTemplateError, "chat template %s: %v", r.name, err)
	}
	return text, nil
}

// completion is the conversation with the response rendered, minus the
// prompt's text: it must begin with the prompt's text exactly.
func (r *jinjaRender) completion(prompt []message, promptText string, response []message) (string, *recordError) {
	whole, err := r.render(append(append([]message(nil), prompt...), response...), false)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(whole, promptText) {
		i := 0
		for i < len(whole) && i < len(promptText) && whole[i] == promptText[i] {
			i++
		}
		return "", deadf(ReasonTemplatePrefix, "chat template %s: the prompt rendered with the generation prompt is not a prefix of the conversation rendered with the response: they differ from byte %d (prompt %q…, conversation %q…)",
			r.name, i, clip(promptText[i:], 40), clip(whole[i:], 40))
	}
	return whole[len(promptText):], nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
