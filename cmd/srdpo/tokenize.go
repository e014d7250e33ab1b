package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/srdpo/srdpo/model/tokenizer"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages"
)

const tokenizeSummary = "print the token ids of JSON strings read one a line on stdin (or decode id arrays with --decode)"

func runTokenize(args []string, stdout, stderr io.Writer) error {
	return tokenize(args, os.Stdin, stdout, stderr)
}

// tokenizeConfig is what srdpo tokenize does.
type tokenizeConfig struct {
	Tokenizer string // a directory, local or gs://, or "byte"
	Special   bool   // add the post-processor's special tokens
	Decode    bool   // ids in, text out
}

func (c *tokenizeConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Tokenizer, "tokenizer", c.Tokenizer, "a model or tokenizer directory, local or gs://, holding tokenizer.json (+ tokenizer_config.json) or vocab.json + merges.txt; or \"byte\"")
	fs.BoolVar(&c.Special, "special", c.Special, "add the post-processor's special tokens (e.g. BOS), as HF's add_special_tokens=True")
	fs.BoolVar(&c.Decode, "decode", c.Decode, "read JSON arrays of ids and print the decoded text as JSON strings (special tokens kept)")
}

func (c tokenizeConfig) Validate() error {
	if c.Tokenizer == "" || c.Tokenizer == tokenizer.SpecAuto {
		return fmt.Errorf("--tokenizer DIR is required (a directory, or \"byte\")")
	}
	return nil
}

func tokenize(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var c tokenizeConfig
	if err := parseSettings("tokenize", tokenizeSummary, &c, false, args, stdout, stderr); err != nil {
		return err
	}
	special, decode := &c.Special, &c.Decode
	spec := c.Tokenizer
	if spec != tokenizer.SpecByte {
		local, err := stages.LocalDir(context.Background(), spec)
		if err != nil {
			return err
		}
		if local != spec {
			defer os.RemoveAll(local)
		}
		spec = local
	}
	tok, err := tokenizer.Load(spec, "")
	if err != nil {
		return err
	}
	in := bufio.NewReader(stdin)
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for line := 1; ; line++ {
		raw, err := in.ReadBytes('\n')
		if len(raw) == 0 && err == io.EOF {
			return nil
		}
		if err != nil && err != io.EOF {
			return err
		}
		raw = trimNewline(raw)
		if *decode {
			var ids []int32
			if err := json.Unmarshal(raw, &ids); err != nil {
				return fmt.Errorf("line %d: want a JSON array of ids: %w", line, err)
			}
			if err := enc.Encode(tok.Decode(ids)); err != nil {
				return err
			}
			continue
		}
		text, err := exactJSONString(raw)
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		encode := tok.Encode
		if *special {
			encode = tok.EncodeSpecial
		}
		ids, err := encode(text)
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if ids == nil {
			ids = []int32{}
		}
		if err := enc.Encode(ids); err != nil {
			return err
		}
	}
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// exactJSONString decodes a JSON string, refusing what Go's decoder would
// silently change: bytes that are not UTF-8 and \u escapes of unpaired
// surrogates (both become U+FFFD there).
func exactJSONString(raw []byte) (string, error) {
	if !utf8.Valid(raw) {
		return "", fmt.Errorf("not valid UTF-8")
	}
	if v, _, found := schemas.UnpairedSurrogate(raw); found {
		return "", fmt.Errorf("unpaired surrogate \\u%04x", v)
	}
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		return "", fmt.Errorf("want a JSON string: %w", err)
	}
	return text, nil
}
