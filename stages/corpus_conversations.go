package stages

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/srdpo/srdpo/model/chattemplate"
	"github.com/srdpo/srdpo/schemas"
)

// The roles srdpo knows, and the aliases records use for them.
const (
	roleSystem    = "system"
	roleUser      = "user"
	roleAssistant = "assistant"
)

var roleAliases = map[string]string{
	"system": roleSystem,
	"user":   roleUser, "human": roleUser,
	"assistant": roleAssistant, "gpt": roleAssistant, "bot": roleAssistant, "model": roleAssistant,
}

// message is one turn: its role (aliases resolved) and text, and the
// message as a chat template sees it (the record's object as given, or
// {role, content} for ShareGPT's {from, value}).
type message struct {
	role, content string
	value         any
}

// parseMessage reads {role, content} or ShareGPT's {from, value}.
func parseMessage(raw json.RawMessage, where string) (message, *recordError) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return message{}, deadf(ReasonBadMessage, "%s is not an object", where)
	}
	roleKey, contentKey := "role", "content"
	if _, ok := m["from"]; ok {
		roleKey, contentKey = "from", "value"
	}
	var role, content string
	if err := json.Unmarshal(m[roleKey], &role); err != nil || role == "" {
		return message{}, deadf(ReasonBadMessage, "%s has no string %q", where, roleKey)
	}
	if err := json.Unmarshal(m[contentKey], &content); err != nil || m[contentKey] == nil {
		return message{}, deadf(ReasonBadMessage, "%s has no string %q", where, contentKey)
	}
	r, ok := roleAliases[strings.ToLower(role)]
	if !ok {
		return message{}, deadf(ReasonUnknownRole, "%s has role %q (want system, user/human or assistant/gpt)", where, role)
	}
	var value any
	if roleKey == "from" {
		d := chattemplate.NewDict()
		d.Set("role", r)
		d.Set("content", content)
		value = d
	} else {
		v, err := chattemplate.ParseJSON(raw)
		if err != nil {
			return message{}, deadf(ReasonBadMessage, "%s: %v", where, err)
		}
		value = v
	}
	return message{role: r, content: content, value: value}, nil
}

func parseMessages(obj map[string]json.RawMessage, k string) ([]message, *recordError) {
	v, ok := obj[k]
	if !ok {
		return nil, deadf(ReasonMissingField, "field %q is missing", k)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(v, &raws); err != nil {
		return nil, deadf(ReasonWrongType, "field %q is a JSON %s, want a list of messages", k, jsonKind(bytes.TrimSpace(v)))
	}
	msgs := make([]message, len(raws))
	for i, r := range raws {
		m, err := parseMessage(r, fmt.Sprintf("%s[%d]", k, i))
		if err != nil {
			return nil, err
		}
		msgs[i] = m
	}
	return msgs, nil
}

// parseConversational reads TRL conversational records (prompt and responses
// as message lists, or full conversations with an implicit prompt) and
// UltraFeedback binarized records (full conversations plus scores).
func parseConversational(obj map[string]json.RawMessage, o parseOptions, p *schemas.Preference) *recordError {
	chosen, err := parseMessages(obj, "chosen")
	if err != nil {
		return err
	}
	rejected, err := parseMessages(obj, "rejected")
	if err != nil {
		return err
	}
	var prompt []message
	switch pr := bytes.TrimSpace(obj["prompt"]); {
	case len(pr) > 0 && pr[0] == '[':
		if prompt, err = parseMessages(obj, "prompt"); err != nil {
			return err
		}
	case len(chosen) > 0 && chosen[0].role != roleAssistant:
		// Full conversations: the prompt is what they share. A prompt string
		// beside them (UltraFeedback's) repeats the first user turn.
		n := 0
		for n < len(chosen) && n < len(rejected) && sameMessage(chosen[n], rejected[n]) {
			n++
		}
		prompt, chosen, rejected = chosen[:n], chosen[n:], rejected[n:]
	case len(pr) > 0:
		s, err := stringField(obj, "prompt")
		if err != nil {
			return err
		}
		prompt = []message{userMessage(s)}
	}
	return renderConversation(conversation{prompt, chosen, rejected}, obj, o, p)
}

// parseShareGPT reads LLaMA-Factory's ShareGPT preference layout:
// conversations (+ optional system) and chosen/rejected message objects.
func parseShareGPT(obj map[string]json.RawMessage, o parseOptions, p *schemas.Preference) *recordError {
	prompt, err := parseMessages(obj, "conversations")
	if err != nil {
		return err
	}
	if v, ok := obj["system"]; ok && string(v) != "null" {
		s, err := stringField(obj, "system")
		if err != nil {
			return err
		}
		if s != "" {
			prompt = append([]message{newMessage(roleSystem, s)}, prompt...)
		}
	}
	var responses [2][]message
	for i, k := range []string{"chosen", "rejected"} {
		v := bytes.TrimSpace(obj[k])
		if len(v) > 0 && v[0] == '[' {
			if responses[i], err = parseMessages(obj, k); err != nil {
				return err
			}
			continue
		}
		m, err := parseMessage(obj[k], k)
		if err != nil {
			return err
		}
		responses[i] = []message{m}
	}
	return renderConversation(conversation{prompt, responses[0], responses[1]}, obj, o, p)
}
