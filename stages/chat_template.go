package stages

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/srdpo/srdpo/model/chattemplate"
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
//
// A Jinja template (the model's own, from its tokenizer_config.json or
// chat_template.jinja, or a .jinja file) is held as text and compiled once
// per process; it renders as transformers' apply_chat_template does
// (model/chattemplate).
type ChatTemplate struct {
	Name       string `json:"name"`
	System     string `json:"system,omitempty"`
	User       string `json:"user,omitempty"`
	Assistant  string `json:"assistant,omitempty"`
	Generation string `json:"generation,omitempty"`
	Response   string `json:"response,omitempty"`
	// Jinja is a template's text; empty with TokenizerConfig set, the
	// config's chat_template is used.
	Jinja string `json:"jinja,omitempty"`
	// TokenizerConfig is tokenizer_config.json's text: the special tokens
	// (bos_token, eos_token, …) a Jinja template sees, and its
	// chat_template when Jinja is empty.
	TokenizerConfig string `json:"tokenizer_config,omitempty"`
	// Kwargs is a JSON object of extra template variables (TRL's
	// chat_template_kwargs, e.g. {"enable_thinking": false}).
	Kwargs string `json:"kwargs,omitempty"`
}

// IsJinja tells a Jinja template from a built-in or JSON one.
func (t ChatTemplate) IsJinja() bool { return t.Jinja != "" || t.TokenizerConfig != "" }

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

// DefaultChatTemplate is the template used when the model has none.
const DefaultChatTemplate = "hh"

// AutoChatTemplate names the model's own template, else DefaultChatTemplate.
const AutoChatTemplate = "auto"

// ParseChatTemplate takes "auto" (resolved later, against the model: see
// ResolveChatTemplate), a built-in name, the path of a .jinja file, or the
// path of a JSON file with the fields of ChatTemplate.
func ParseChatTemplate(spec string) (ChatTemplate, error) {
	if t, ok := builtinTemplates[spec]; ok {
		return t, nil
	}
	if spec == AutoChatTemplate {
		return ChatTemplate{Name: AutoChatTemplate}, nil
	}
	if strings.HasSuffix(spec, ".jinja") {
		b, err := os.ReadFile(spec)
		if err != nil {
			return ChatTemplate{}, fmt.Errorf("chat template: %w", err)
		}
		t := ChatTemplate{Name: spec, Jinja: string(b)}
		if _, err := t.compile(); err != nil {
			return ChatTemplate{}, err
		}
		return t, nil
	}
	b, err := os.ReadFile(spec)
	if err != nil {
		return ChatTemplate{}, fmt.Errorf("chat template %q is neither auto, a built-in (hh, chatml, plain), a .jinja file nor a readable JSON file: %w", spec, err)
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

// String is the template as recorded in file metadata: a built-in or JSON
// template as JSON; a Jinja template by name, the sha256 of its text and
// its extra variables.
func (t ChatTemplate) String() string {
	if t.IsJinja() {
		c, err := t.compile()
		fp := "?"
		if err == nil {
			fp = c.Fingerprint()
		}
		b, _ := json.Marshal(struct {
			Name   string `json:"name"`
			SHA256 string `json:"sha256"`
			Kwargs string `json:"kwargs,omitempty"`
		}{t.Name, fp, t.Kwargs})
		return string(b)
	}
	b, _ := json.Marshal(t)
	return string(b)
}

// Chat is a Jinja template compiled, for a bare render; an error for a
// built-in or JSON template.
func (t ChatTemplate) Chat() (*chattemplate.Chat, error) {
	if !t.IsJinja() {
		return nil, fmt.Errorf("chat template %s is not a Jinja template; a bare render needs one (--chat-template auto with a model that has one, or a .jinja file)", t.Name)
	}
	return t.compile()
}

// compiledTemplates holds each Jinja template compiled once per process.
var compiledTemplates onceCache[string, *chattemplate.Chat]

// compile is the Jinja template, compiled (once per process).
func (t ChatTemplate) compile() (*chattemplate.Chat, error) {
	key := t.Name + "\x00" + t.Jinja + "\x00" + t.TokenizerConfig
	return compiledTemplates.get(key, func() (*chattemplate.Chat, error) {
		if t.Jinja != "" {
			return chattemplate.NewChat(t.Name, t.Jinja, []byte(t.TokenizerConfig))
		}
		c, ok, err := chattemplate.FromTokenizerConfig(t.Name, []byte(t.TokenizerConfig))
		if err == nil && !ok {
			err = fmt.Errorf("%s has no chat_template", t.Name)
		}
		return c, err
	})
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
