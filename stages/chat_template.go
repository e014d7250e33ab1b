package stages

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// ChatTemplate renders message lists (TRL conversational, ShareGPT,
// UltraFeedback) into the prompt and response text the model sees. Each
// field is a format in which {content} stands for the message text.
//
// A prompt is its turns rendered one after another, then Generation, which
// cues the assistant. A response is its first (assistant) message rendered
// with Response, then any further turns with their role's format. Records
// that are already text (TRL standard strings, HH-RLHF dialogues) are kept
// verbatim.
type ChatTemplate struct {
	Name       string `json:"name"`
	System     string `json:"system"`
	User       string `json:"user"`
	Assistant  string `json:"assistant"`
	Generation string `json:"generation"`
	Response   string `json:"response"`
}

// builtinTemplates are the built-in templates. "hh" is the default: it
// renders messages exactly as HH-RLHF dialogues are written, so every
// format of a corpus reaches the model in one shape.
var builtinTemplates = map[string]ChatTemplate{
	"hh": {
		Name:       "hh",
		System:     "{content}",
		User:       "\n\nHuman: {content}",
		Assistant:  "\n\nAssistant: {content}",
		Generation: "\n\nAssistant:",
		Response:   " {content}",
	},
	"chatml": {
		Name:       "chatml",
		System:     "<|im_start|>system\n{content}<|im_end|>\n",
		User:       "<|im_start|>user\n{content}<|im_end|>\n",
		Assistant:  "<|im_start|>assistant\n{content}<|im_end|>\n",
		Generation: "<|im_start|>assistant\n",
		Response:   "{content}<|im_end|>",
	},
	"plain": {
		Name:       "plain",
		System:     "{content}\n",
		User:       "User: {content}\n",
		Assistant:  "Assistant: {content}\n",
		Generation: "Assistant:",
		Response:   " {content}",
	},
}

// BuiltinChatTemplate is the built-in template of that name (hh, chatml,
// plain); the zero template for another name.
func BuiltinChatTemplate(name string) ChatTemplate { return builtinTemplates[name] }

// DefaultChatTemplate is the template used when none is chosen.
const DefaultChatTemplate = "hh"

// ParseChatTemplate takes a built-in name or the path of a JSON file with
// the fields of ChatTemplate.
func ParseChatTemplate(spec string) (ChatTemplate, error) {
	if t, ok := builtinTemplates[spec]; ok {
		return t, nil
	}
	b, err := os.ReadFile(spec)
	if err != nil {
		return ChatTemplate{}, fmt.Errorf("chat template %q is neither a built-in (hh, chatml, plain) nor a readable JSON file: %w", spec, err)
	}
	var t ChatTemplate
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return ChatTemplate{}, fmt.Errorf("chat template %s: %w", spec, err)
	}
	for field, f := range map[string]string{"system": t.System, "user": t.User, "assistant": t.Assistant, "response": t.Response} {
		if !strings.Contains(f, "{content}") {
			return ChatTemplate{}, fmt.Errorf("chat template %s: field %q must contain {content}", spec, field)
		}
	}
	if t.Name == "" {
		t.Name = spec
	}
	return t, nil
}

// String is the template as JSON, as recorded in file metadata.
func (t ChatTemplate) String() string {
	b, _ := json.Marshal(t)
	return string(b)
}

func (t ChatTemplate) turn(m message) string {
	f := map[string]string{roleSystem: t.System, roleUser: t.User, roleAssistant: t.Assistant}[m.role]
	return strings.ReplaceAll(f, "{content}", m.content)
}

// renderPrompt renders a history that ends with a user turn.
func (t ChatTemplate) renderPrompt(msgs []message) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString(t.turn(m))
	}
	b.WriteString(t.Generation)
	return b.String()
}

// renderResponse renders messages that start with an assistant turn.
func (t ChatTemplate) renderResponse(msgs []message) string {
	var b strings.Builder
	b.WriteString(strings.ReplaceAll(t.Response, "{content}", msgs[0].content))
	for _, m := range msgs[1:] {
		b.WriteString(t.turn(m))
	}
	return b.String()
}
