package stages

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/srdpo/srdpo/model/tokenizer"
)

// maxTemplateFileBytes bounds tokenizer_config.json and chat_template.jinja
// as read for a template (real ones are tens of KB).
const maxTemplateFileBytes = 8 << 20

// ResolveChatTemplate turns --chat-template auto into the model's own
// template: chat_template.jinja, else tokenizer_config.json's
// chat_template, from the tokenizer directory (when --tokenizer names one)
// then the model directory, local or gs://; else the built-in hh. Any
// Jinja template gets the directory's special tokens. note says what was
// chosen, for the job's log.
func ResolveChatTemplate(ctx context.Context, t ChatTemplate, modelDir, tokenizerSpec string) (ChatTemplate, string, error) {
	var dirs []string
	if tokenizerSpec != "" && tokenizerSpec != tokenizer.SpecAuto && tokenizerSpec != tokenizer.SpecByte {
		dirs = append(dirs, tokenizerSpec)
	}
	if modelDir != "" {
		dirs = append(dirs, modelDir)
	}
	if t.Name != AutoChatTemplate && !(t.IsJinja() && t.TokenizerConfig == "") {
		return t, "chat template: " + t.Name, nil
	}
	for _, dir := range dirs {
		config, err := readSmallFile(ctx, dir, "tokenizer_config.json")
		if err != nil {
			return t, "", err
		}
		if t.Name != AutoChatTemplate { // a .jinja file: the special tokens only
			t.TokenizerConfig = string(config)
			return t, fmt.Sprintf("chat template: %s, with the special tokens of %s", t.Name, dir), nil
		}
		jinja, err := readSmallFile(ctx, dir, "chat_template.jinja")
		if err != nil {
			return t, "", err
		}
		name := joinPath(dir, "chat_template.jinja")
		if jinja == nil {
			name = joinPath(dir, "tokenizer_config.json")
			if config == nil || !strings.Contains(string(config), `"chat_template"`) {
				continue
			}
		}
		out := ChatTemplate{Name: name, Jinja: string(jinja), TokenizerConfig: string(config), Kwargs: t.Kwargs}
		if _, err := out.compile(); err != nil {
			return t, "", fmt.Errorf("the model's chat template: %w", err)
		}
		return out, "chat template: the model's own, " + name, nil
	}
	if t.Name != AutoChatTemplate {
		return t, "chat template: " + t.Name + " (no tokenizer_config.json beside the model: no special tokens)", nil
	}
	hh := builtinTemplates[DefaultChatTemplate]
	return hh, fmt.Sprintf("chat template: hh (built in): no chat template in %s", strings.Join(dirs, " or ")), nil
}

func joinPath(dir, name string) string { return strings.TrimSuffix(dir, "/") + "/" + name }

// readSmallFile reads dir/name (local or gs://); nil when there is none.
func readSmallFile(ctx context.Context, dir, name string) ([]byte, error) {
	p := joinPath(dir, name)
	fs, err := filesystem.New(ctx, p)
	if err != nil {
		return nil, err
	}
	defer fs.Close()
	names, err := fs.List(ctx, p)
	if err != nil || len(names) == 0 {
		return nil, nil
	}
	r, err := fs.OpenRead(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxTemplateFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	if len(b) > maxTemplateFileBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, maxTemplateFileBytes)
	}
	return b, nil
}
