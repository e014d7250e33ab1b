package bench

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/srdpo/srdpo/model/tokenizer"
)

// tokenizerTestdata holds the shipped tokenizer files; bench runs from the
// repository root (make bench).
const tokenizerTestdata = "model/tokenizer/testdata"

// Llama3TokenizerEnv names a folder with Llama 3's tokenizer.json for the
// tokenizer figure; its licence keeps it out of the repository, so by
// default the figure looks in the project's shared folder beside it.
const Llama3TokenizerEnv = "SRDPO_LLAMA3_TOKENIZER"

// benchTokenizers measures encoding throughput, MB of text per second,
// over 2 MB of SampleText encoded record by record (paragraphs, as a
// corpus is encoded), with a freshly loaded tokenizer (cold word cache)
// each run.
func benchTokenizers(runs int) ([]Figure, error) {
	tmp, err := os.MkdirTemp("", "srdpo-bench-tok-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	dirs := []struct{ name, dir string }{}
	for _, c := range []struct{ name, files string }{
		{"gpt2 (vocab.json + merges.txt)", "gpt2/vocab.json.gz gpt2/merges.txt.gz"},
		{"qwen3 (tokenizer.json)", "qwen3/tokenizer.json.gz qwen3/tokenizer_config.json"},
		{"mistral (tokenizer.json)", "mistral/tokenizer.json.gz mistral/tokenizer_config.json"},
	} {
		dir := filepath.Join(tmp, strings.Fields(c.name)[0])
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		for _, f := range strings.Fields(c.files) {
			if err := copyMaybeGunzip(filepath.Join(tokenizerTestdata, f), filepath.Join(dir, strings.TrimSuffix(filepath.Base(f), ".gz"))); err != nil {
				return nil, fmt.Errorf("%w (run bench from the repository root)", err)
			}
		}
		dirs = append(dirs, struct{ name, dir string }{c.name, dir})
	}
	llama3 := os.Getenv(Llama3TokenizerEnv)
	if llama3 == "" {
		llama3 = "../shared/tokenizers/llama3"
	}
	if _, err := os.Stat(filepath.Join(llama3, "tokenizer.json")); err == nil {
		dirs = append(dirs, struct{ name, dir string }{"llama3 (tokenizer.json)", llama3})
	}
	text := tokenizer.SampleText(1, 2<<20)
	records := strings.SplitAfter(text, "\n\n")
	var figs []Figure
	for _, d := range dirs {
		var mbps []float64
		tokens := 0
		for r := 0; r <= runs; r++ {
			tok, err := tokenizer.LoadDir(d.dir)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", d.name, err)
			}
			began := time.Now()
			tokens = 0
			for _, rec := range records {
				ids, err := tok.Encode(rec)
				if err != nil {
					return nil, err
				}
				tokens += len(ids)
			}
			if r > 0 { // run 0 warms up
				mbps = append(mbps, float64(len(text))/1e6/time.Since(began).Seconds())
			}
		}
		figs = append(figs, Figure{Name: "tokenizer-encode", Unit: "MB/s",
			Setting: Setting{"tokenizer": d.name, "text_bytes": len(text), "records": len(records), "tokens": tokens}}.spread(mbps))
	}
	if len(dirs) == 3 {
		figs = append(figs, Figure{Name: "tokenizer-encode", Note: "no Llama 3 tokenizer.json at " + llama3 + " (set " + Llama3TokenizerEnv + ")", Setting: Setting{"tokenizer": "llama3"}})
	}
	return figs, nil
}

func copyMaybeGunzip(src, dst string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(src, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		r = zr
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
