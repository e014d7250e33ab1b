package chattemplate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Chat is a model's chat template with its tokenizer's special tokens,
// applied as transformers' apply_chat_template(tokenize=False) applies it.
type Chat struct {
	// Source names where the template came from (a file, or
	// tokenizer_config.json).
	Source string
	// named holds the templates by name: "" for a single template, or the
	// names of tokenizer_config.json's list form ("default", "tool_use").
	named map[string]*Template
	texts map[string]string
	// special is the tokenizer's special_tokens_map: the tokens that are
	// set, as strings (additional_special_tokens as a list).
	special map[string]any
}

// specialTokenKeys are PreTrainedTokenizerBase.SPECIAL_TOKENS_ATTRIBUTES.
var specialTokenKeys = []string{"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token",
	"additional_special_tokens"}

// NewChat is a single template with the given special tokens (values as
// tokenizer_config.json writes them: strings or {"content": …} objects).
func NewChat(source, text string, config []byte) (*Chat, error) {
	t, err := Compile(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	special, err := specialTokens(config)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return &Chat{Source: source, named: map[string]*Template{"": t}, texts: map[string]string{"": text}, special: special}, nil
}

// FromTokenizerConfig reads the chat_template of a tokenizer_config.json:
// a string, or a list of {"name", "template"}. ok is false when it has none.
func FromTokenizerConfig(source string, config []byte) (c *Chat, ok bool, err error) {
	var cfg struct {
		ChatTemplate json.RawMessage `json:"chat_template"`
	}
	if err := json.Unmarshal(config, &cfg); err != nil {
		return nil, false, fmt.Errorf("%s: %w", source, err)
	}
	raw := strings.TrimSpace(string(cfg.ChatTemplate))
	if raw == "" || raw == "null" {
		return nil, false, nil
	}
	var one string
	if err := json.Unmarshal(cfg.ChatTemplate, &one); err == nil {
		c, err := NewChat(source, one, config)
		return c, err == nil, err
	}
	var list []struct{ Name, Template string }
	if err := json.Unmarshal(cfg.ChatTemplate, &list); err != nil || len(list) == 0 {
		return nil, false, fmt.Errorf("%s: chat_template is neither a string nor a list of {name, template}", source)
	}
	special, err := specialTokens(config)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", source, err)
	}
	c = &Chat{Source: source, named: map[string]*Template{}, texts: map[string]string{}, special: special}
	for _, t := range list {
		ct, err := Compile(t.Template)
		if err != nil {
			return nil, false, fmt.Errorf("%s: chat template %q: %w", source, t.Name, err)
		}
		c.named[t.Name], c.texts[t.Name] = ct, t.Template
	}
	return c, true, nil
}

// specialTokens is special_tokens_map from a tokenizer_config.json.
func specialTokens(config []byte) (map[string]any, error) {
	out := map[string]any{}
	if len(config) == 0 {
		return out, nil
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(config, &cfg); err != nil {
		return nil, err
	}
	content := func(raw json.RawMessage) string {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		var t struct{ Content string }
		if json.Unmarshal(raw, &t) == nil {
			return t.Content
		}
		return ""
	}
	for _, k := range specialTokenKeys {
		raw, ok := cfg[k]
		if !ok {
			continue
		}
		if k == "additional_special_tokens" {
			var list []json.RawMessage
			if json.Unmarshal(raw, &list) != nil {
				continue
			}
			var toks []any
			for _, e := range list {
				if s := content(e); s != "" {
					toks = append(toks, s)
				}
			}
			if len(toks) > 0 {
				out[k] = toks
			}
			continue
		}
		if s := content(raw); s != "" {
			out[k] = s
		}
	}
	return out, nil
}

// Names are the template's names: [""] for a single template.
func (c *Chat) Names() []string {
	out := make([]string, 0, len(c.named))
	for n := range c.named {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Fingerprint is the sha256 of the template text, as sha256sum gives it
// for chat_template.jinja (for the list form, of every named template with
// its name: name NUL text NUL, in name order).
func (c *Chat) Fingerprint() string {
	h := sha256.New()
	if t, ok := c.texts[""]; ok && len(c.texts) == 1 {
		h.Write([]byte(t))
		return hex.EncodeToString(h.Sum(nil))
	}
	for _, n := range c.Names() {
		if n != "" {
			fmt.Fprintf(h, "%s\x00", n)
		}
		h.Write([]byte(c.texts[n]))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Text is the source of the template Apply would use without tools.
func (c *Chat) Text() string {
	name, err := c.pick("", false)
	if err != nil {
		return ""
	}
	return c.texts[name]
}

// WithLimits applies limits to every render.
func (c *Chat) WithLimits(l Limits) *Chat {
	out := *c
	out.named = map[string]*Template{}
	for n, t := range c.named {
		out.named[n] = t.WithLimits(l)
	}
	return &out
}

// WithClock makes strftime_now read the given clock.
func (c *Chat) WithClock(now func() time.Time) *Chat {
	out := *c
	out.named = map[string]*Template{}
	for n, t := range c.named {
		out.named[n] = t.WithClock(now)
	}
	return &out
}

// Request is one apply_chat_template call.
type Request struct {
	Messages            []any // template values: []any of *Dict (FromJSON)
	AddGenerationPrompt bool
	Tools, Documents    []any // nil: None, as transformers passes them
	// Kwargs are extra template variables (TRL's chat_template_kwargs);
	// they override the special tokens, as in transformers.
	Kwargs map[string]any
	// Name picks a named template; "" picks as transformers does.
	Name string
}

// pick is transformers' get_chat_template: the named one, else "tool_use"
// when tools are given and it exists, else "default".
func (c *Chat) pick(name string, tools bool) (string, error) {
	if _, ok := c.named[""]; ok && len(c.named) == 1 {
		return "", nil
	}
	if name != "" {
		if _, ok := c.named[name]; ok {
			return name, nil
		}
		return "", fmt.Errorf("%s has no chat template named %q (it has %s)", c.Source, name, strings.Join(c.Names(), ", "))
	}
	if _, ok := c.named["tool_use"]; ok && tools {
		return "tool_use", nil
	}
	if _, ok := c.named["default"]; ok {
		return "default", nil
	}
	return "", fmt.Errorf("%s has several chat templates and none named default (it has %s)", c.Source, strings.Join(c.Names(), ", "))
}

// Apply renders a conversation.
func (c *Chat) Apply(req Request) (string, error) {
	name, err := c.pick(req.Name, req.Tools != nil)
	if err != nil {
		return "", err
	}
	for _, d := range req.Documents {
		if _, ok := d.(*Dict); !ok {
			return "", fmt.Errorf("documents should be a list of dicts with 'title' and 'text' keys")
		}
	}
	vars := map[string]any{}
	for k, v := range c.special {
		vars[k] = v
	}
	for k, v := range req.Kwargs {
		vars[k] = v
	}
	messages := req.Messages
	if messages == nil {
		messages = []any{}
	}
	var tools, docs any
	if req.Tools != nil {
		tools = req.Tools
	}
	if req.Documents != nil {
		docs = req.Documents
	}
	vars["messages"], vars["tools"], vars["documents"], vars["add_generation_prompt"] = messages, tools, docs, req.AddGenerationPrompt
	return c.named[name].Render(vars)
}
