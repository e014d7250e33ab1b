package stages

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/srdpo/srdpo/model/chattemplate"
	"github.com/srdpo/srdpo/runners/gcstest"
)

// roleTemplate shows tools and a template variable, then prints each
// message as role:content| and, asked for it, the generation prompt
// "assistant:".
const roleTemplate = `{% if tools %}tools={{ tools | map(attribute='name') | join(',') }}|{% endif %}` +
	`{% if mood is defined %}mood={{ mood }}|{% endif %}` +
	`{% for m in messages %}{{ m.role }}:{{ m.content }}|{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}`

func normalise(t *testing.T, record string, tmpl ChatTemplate, aug Augmentation) (string, string, string, string, error) {
	t.Helper()
	p, err := NormaliseRecord([]byte(record), FormatAuto, tmpl, aug)
	return p.Prompt, p.AugPrompt, p.Chosen, p.Rejected, err
}

// Conversations are split as TRL splits them: the prompt rendered with the
// generation prompt, each completion the whole conversation minus it; p
// goes into the messages where --aug-position says, the rest kept.
func TestJinjaConversationSplitAndAugmentation(t *testing.T) {
	tmpl := ChatTemplate{Name: "roles", Jinja: roleTemplate}
	rec := `{"prompt": [{"role": "system", "content": "S"}, {"role": "user", "content": "u1"}, {"role": "assistant", "content": "a1"}, {"role": "user", "content": "u2"}],
		"chosen": [{"role": "assistant", "content": "yes"}], "rejected": [{"role": "assistant", "content": "no"}]}`
	for _, c := range []struct{ position, aug string }{
		{AugLastUser, "system:S|user:u1|assistant:a1|user:P u2|assistant:"},
		{AugFirstUser, "system:S|user:P u1|assistant:a1|user:u2|assistant:"},
		{AugSystem, "system:P S|user:u1|assistant:a1|user:u2|assistant:"},
	} {
		prompt, aug, chosen, rejected, err := normalise(t, rec, tmpl, Augmentation{Prompt: "P", Separator: " ", Position: c.position})
		if err != nil {
			t.Fatal(err)
		}
		if prompt != "system:S|user:u1|assistant:a1|user:u2|assistant:" || chosen != "yes|" || rejected != "no|" {
			t.Errorf("split: %q / %q / %q", prompt, chosen, rejected)
		}
		if aug != c.aug {
			t.Errorf("%s: p⊕x %q, want %q", c.position, aug, c.aug)
		}
	}
	// Without a system message, "system" adds one.
	_, aug, _, _, err := normalise(t, `{"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "y"}], "rejected": [{"role": "assistant", "content": "n"}]}`,
		tmpl, Augmentation{Prompt: "P", Separator: " ", Position: AugSystem})
	if err != nil || aug != "system:P|user:q|assistant:" {
		t.Errorf("system p⊕x %q, %v", aug, err)
	}
	// A record's tools (a list, or JSON text as TRL stores them) and
	// chat_template_kwargs reach the template beside --chat-template-kwargs.
	for _, tools := range []string{`[{"name": "f"}, {"name": "g"}]`, `"[{\"name\": \"f\"}, {\"name\": \"g\"}]"`} {
		prompt, _, _, _, err := normalise(t, `{"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "y"}], "rejected": [{"role": "assistant", "content": "n"}],
			"tools": `+tools+`, "chat_template_kwargs": {"mood": "calm"}}`, ChatTemplate{Name: "roles", Jinja: roleTemplate, Kwargs: `{"mood": "loud"}`}, Augmentation{})
		if err != nil || prompt != "tools=f,g|mood=calm|user:q|assistant:" {
			t.Errorf("tools %s: %q, %v", tools, prompt, err)
		}
	}
}

// A template that does not render the prompt as a prefix of the whole
// conversation, and one that raises, make dead letters that say so.
func TestJinjaConversationDeadLetters(t *testing.T) {
	rec := `{"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "y"}], "rejected": [{"role": "assistant", "content": "n"}]}`
	for _, c := range []struct{ jinja, reason, detail string }{
		{`{% if add_generation_prompt %}G:{% endif %}{% for m in messages %}{{ m.content }}{% endfor %}`, ReasonTemplatePrefix, "differ from byte 0"},
		{`{{ raise_exception('Only system roles are supported!') }}`, ReasonTemplateError, "raised: Only system roles are supported!"},
		{`{{ messages[0].content + 1 }}`, ReasonTemplateError, "can only concatenate str"},
	} {
		_, _, _, _, err := normalise(t, rec, ChatTemplate{Name: "t.jinja", Jinja: c.jinja}, Augmentation{})
		var re *recordError
		if !errors.As(err, &re) || re.reason != c.reason || !strings.Contains(re.detail, c.detail) || !strings.Contains(re.detail, "t.jinja") {
			t.Errorf("%s: want %s naming the template and %q, got %v", c.jinja, c.reason, c.detail, err)
		}
	}
}

// --chat-template auto takes the model's own template: chat_template.jinja
// before tokenizer_config.json's, the tokenizer directory before the
// model's; without one, hh, and the log says so. A .jinja file gets the
// directory's special tokens.
func TestResolveChatTemplate(t *testing.T) {
	ctx := context.Background()
	auto := ChatTemplate{Name: AutoChatTemplate}
	model, tok, bare := t.TempDir(), t.TempDir(), t.TempDir()
	write := func(dir, name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(model, "tokenizer_config.json", `{"eos_token": "</m>", "chat_template": "model-config {{ eos_token }}"}`)
	write(tok, "tokenizer_config.json", `{"eos_token": "</t>", "chat_template": "tok-config {{ eos_token }}"}`)
	render := func(c ChatTemplate) string {
		chat, err := c.Chat()
		if err != nil {
			t.Fatal(err)
		}
		s, err := chat.Apply(chatRequest())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	c, note, err := ResolveChatTemplate(ctx, auto, model, "auto")
	if err != nil || render(c) != "model-config </m>" || !strings.Contains(note, "the model's own") {
		t.Errorf("model dir: %q %q %v", render(c), note, err)
	}
	c, _, err = ResolveChatTemplate(ctx, auto, model, tok)
	if err != nil || render(c) != "tok-config </t>" {
		t.Errorf("tokenizer dir first: %q %v", render(c), err)
	}
	write(model, "chat_template.jinja", "jinja-file {{ eos_token }}")
	c, _, err = ResolveChatTemplate(ctx, auto, model, "auto")
	if err != nil || render(c) != "jinja-file </m>" || !strings.HasSuffix(c.Name, "chat_template.jinja") {
		t.Errorf("chat_template.jinja first: %q %q %v", render(c), c.Name, err)
	}
	c, note, err = ResolveChatTemplate(ctx, auto, bare, "auto")
	if err != nil || c.Name != "hh" || c.IsJinja() || !strings.Contains(note, "hh") || !strings.Contains(note, bare) {
		t.Errorf("no template: %+v %q %v", c, note, err)
	}
	file := filepath.Join(t.TempDir(), "mine.jinja")
	write(filepath.Dir(file), "mine.jinja", "mine {{ eos_token }}")
	mine, err := ParseChatTemplate(file)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err = ResolveChatTemplate(ctx, mine, tok, "auto")
	if err != nil || render(c) != "mine </t>" {
		t.Errorf(".jinja with the directory's tokens: %q %v", render(c), err)
	}
	write(model, "tokenizer_config.json", `{"chat_template": "{% for %}"}`)
	os.Remove(filepath.Join(model, "chat_template.jinja"))
	if _, _, err := ResolveChatTemplate(ctx, auto, model, "auto"); err == nil || !strings.Contains(err.Error(), "chat template") {
		t.Errorf("a template that does not parse: %v", err)
	}
	// The metadata names a Jinja template by its sha256, as sha256sum gives it.
	if got := (ChatTemplate{Name: "x", Jinja: "abc"}).String(); !strings.Contains(got, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") {
		t.Errorf("metadata %s", got)
	}
}

func chatRequest() chattemplate.Request { return chattemplate.Request{} }

// The model's template is found on gs:// too (fake GCS).
func TestResolveChatTemplateOnGCS(t *testing.T) {
	gcstest.Start(t, "models")
	ctx := context.Background()
	fs, err := filesystem.New(ctx, "gs://models/")
	if err != nil {
		t.Fatal(err)
	}
	if err := filesystem.Write(ctx, fs, "gs://models/m/tokenizer_config.json", []byte(`{"eos_token": "E", "chat_template": "gs {{ eos_token }}"}`)); err != nil {
		t.Fatal(err)
	}
	c, note, err := ResolveChatTemplate(ctx, ChatTemplate{Name: AutoChatTemplate}, "gs://models/m", "auto")
	if err != nil || !strings.Contains(note, "gs://models/m/tokenizer_config.json") {
		t.Fatalf("%q %v", note, err)
	}
	chat, err := c.Chat()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := chat.Apply(chatRequest()); err != nil || got != "gs E" {
		t.Errorf("%q %v", got, err)
	}
	c, note, err = ResolveChatTemplate(ctx, ChatTemplate{Name: AutoChatTemplate}, "gs://models/empty", "auto")
	if err != nil || c.Name != "hh" {
		t.Errorf("no template on gs://: %+v %q %v", c, note, err)
	}
}
