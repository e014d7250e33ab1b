package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/srdpo/srdpo/model/chattemplate"
	"github.com/srdpo/srdpo/model/tokenizer"
	"github.com/srdpo/srdpo/pipelines"
	"github.com/srdpo/srdpo/stages"
)

const renderSummary = "show the text and token ids scoring would use for corpus records (or a bare chat-template render) read one a line on stdin"

func runRender(args []string, stdout, stderr io.Writer) error {
	return render(args, os.Stdin, stdout, stderr)
}

// renderConfig is srdpo score's settings that shape the text and ids.
type renderConfig struct {
	ingest pipelines.IngestConfig
	score  pipelines.ScoreConfig
}

// renderIO is the part of srdpo render --help that says what goes in and out.
const renderIO = `
Input, one JSON object a line:
  a corpus record in any format srdpo score reads (trl_standard, trl_conversational, hh_rlhf, sharegpt,
  ultrafeedback; its "tools" and "chat_template_kwargs" fields reach the template), or a bare render:
  {"messages": [...], "add_generation_prompt": true|false, "tools": [...], "chat_template_kwargs": {...}}
Output, one JSON object a line:
  for a record: {"prompt", "chosen", "rejected", "aug_prompt", "prompt_ids", "chosen_ids", "rejected_ids",
  "aug_prompt_ids"}: the text and ids scoring uses on x and on p⊕x;
  for a bare render: {"text"}; for a line that fails: {"error"} (and the next line is read).
Example:
  echo '{"messages": [{"role": "user", "content": "Hi"}], "add_generation_prompt": true}' | srdpo render --model DIR
`

func (c *renderConfig) RegisterFlags(fs *flag.FlagSet) {
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprint(fs.Output(), renderIO)
	}
	c.ingest = pipelines.DefaultIngestConfig()
	c.score = pipelines.DefaultScoreConfig()
	all := flag.NewFlagSet("", flag.ContinueOnError)
	c.ingest.RegisterFlags(all)
	c.score.RegisterFlags(all)
	keep := map[string]bool{"chat-template": true, "chat-template-kwargs": true, "corpus-format": true, "model": true,
		"tokenizer": true, "tokenization": true, "aug-prompt": true, "aug-sep": true, "aug-position": true,
		"max-length": true, "max-prompt-length": true, "truncate-prompt": true, "truncate-response": true, "response-eos": true}
	all.VisitAll(func(f *flag.Flag) {
		if keep[f.Name] {
			fs.Var(f.Value, f.Name, f.Usage)
		}
	})
}

func (c *renderConfig) Validate() error {
	r := c.score.Reference
	if r.ModelDir == "" && r.Tokenizer == tokenizer.SpecAuto {
		return fmt.Errorf("give --model DIR, or --tokenizer DIR (or byte) with --chat-template")
	}
	if err := stages.CheckTokenization(r.Tokenization); err != nil {
		return err
	}
	if r.Tokenization == stages.TokenizationTRL && r.ResponseEOS {
		return fmt.Errorf("--response-eos does not apply with --tokenization trl: TRL's rule appends the EOS text to text completions itself")
	}
	if _, err := stages.ParseAugPosition(r.AugPosition); err != nil {
		return err
	}
	if c.ingest.TemplateKwargs != "" {
		var kw map[string]any
		if err := json.Unmarshal([]byte(c.ingest.TemplateKwargs), &kw); err != nil {
			return fmt.Errorf("--chat-template-kwargs: want a JSON object: %v", err)
		}
	}
	return nil
}

// renderedRecord is one record's output line.
type renderedRecord struct {
	Prompt       string  `json:"prompt"`
	Chosen       string  `json:"chosen"`
	Rejected     string  `json:"rejected"`
	AugPrompt    string  `json:"aug_prompt"`
	PromptIDs    []int32 `json:"prompt_ids"`
	ChosenIDs    []int32 `json:"chosen_ids"`
	RejectedIDs  []int32 `json:"rejected_ids"`
	AugPromptIDs []int32 `json:"aug_prompt_ids"`
}

func render(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var c renderConfig
	if err := parseSettings("render", renderSummary, &c, false, args, stdout, stderr); err != nil {
		return err
	}
	ctx := context.Background()
	spec := c.score.Reference
	note, err := c.ingest.ResolveChatTemplate(ctx, spec.ModelDir, spec.Tokenizer)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "srdpo render: %s; tokenization %s\n", note, spec.Tokenization)
	var ref *stages.Reference
	if spec.ModelDir != "" {
		if ref, err = stages.LoadReference(ctx, spec); err != nil {
			return err
		}
	} else {
		dir := spec.Tokenizer
		if dir != tokenizer.SpecByte {
			if dir, err = stages.LocalDir(ctx, dir); err != nil {
				return err
			}
			if dir != spec.Tokenizer {
				defer os.RemoveAll(dir)
			}
		}
		tok, err := tokenizer.Load(dir, "")
		if err != nil {
			return err
		}
		ref = stages.RenderOnly(spec, tok)
	}
	aug := stages.Augmentation{Prompt: spec.AugPrompt, Separator: spec.AugSeparator, Position: spec.AugPosition}
	in := bufio.NewReader(stdin)
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for {
		raw, err := in.ReadBytes('\n')
		if len(raw) == 0 && err == io.EOF {
			return nil
		}
		if err != nil && err != io.EOF {
			return err
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		v, rerr := renderLine(raw, c.ingest, aug, ref)
		if rerr != nil {
			v = map[string]string{"error": rerr.Error()}
		}
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
}

// renderLine is a bare render ({"messages": …}) or a corpus record's
// text and ids.
func renderLine(raw []byte, ic pipelines.IngestConfig, aug stages.Augmentation, ref *stages.Reference) (any, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	if _, ok := probe["messages"]; ok {
		return bareRender(probe, ic.ChatTemplate)
	}
	p, err := stages.NormaliseRecord(raw, ic.CorpusFormat, ic.ChatTemplate, aug)
	if err != nil {
		return nil, err
	}
	s, err := ref.Sequences(p)
	if err != nil {
		return nil, err
	}
	aug2 := p.AugPrompt
	if aug2 == "" {
		aug2 = aug.Prompt + aug.Separator + p.Prompt
	}
	return renderedRecord{Prompt: p.Prompt, Chosen: p.Chosen, Rejected: p.Rejected, AugPrompt: aug2,
		PromptIDs: s.PromptIDs, ChosenIDs: s.ChosenIDs, RejectedIDs: s.RejectedIDs, AugPromptIDs: s.AugPromptIDs}, nil
}

// bareRender is {"messages", "add_generation_prompt", "tools",
// "chat_template_kwargs"} rendered with the Jinja template.
func bareRender(obj map[string]json.RawMessage, t stages.ChatTemplate) (any, error) {
	chat, err := t.Chat()
	if err != nil {
		return nil, err
	}
	req := chattemplate.Request{Kwargs: map[string]any{}}
	if t.Kwargs != "" {
		if err := chattemplate.ParseKwargs([]byte(t.Kwargs), req.Kwargs); err != nil {
			return nil, err
		}
	}
	for k, raw := range obj {
		v, err := chattemplate.ParseJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", k, err)
		}
		switch k {
		case "messages":
			l, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("messages: want a list")
			}
			req.Messages = l
		case "add_generation_prompt":
			b, ok := v.(bool)
			if !ok {
				return nil, fmt.Errorf("add_generation_prompt: want true or false")
			}
			req.AddGenerationPrompt = b
		case "tools":
			if v != nil {
				l, ok := v.([]any)
				if !ok {
					return nil, fmt.Errorf("tools: want a list")
				}
				req.Tools = l
			}
		case "chat_template_kwargs":
			if err := chattemplate.ParseKwargs(raw, req.Kwargs); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("unknown field %q (want messages, add_generation_prompt, tools, chat_template_kwargs)", k)
		}
	}
	text, err := chat.Apply(req)
	if err != nil {
		return nil, err
	}
	return map[string]string{"text": text}, nil
}
