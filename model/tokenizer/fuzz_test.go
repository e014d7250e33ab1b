package tokenizer

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/srdpo/srdpo/model/tokenizer/tokenizertest"
)

// FuzzTokenizerJSON: any tokenizer.json (with a real tokenizer_config.json
// beside it) loads or is refused, and a loaded one encodes text to ids of
// its vocabulary in bounded time — never a panic.
func FuzzTokenizerJSON(f *testing.F) {
	for _, name := range []string{"qwen3", "mistral", "bpe_json"} {
		matches, _ := filepath.Glob(filepath.Join(tokenizertest.Testdata(), name, "tokenizer.json*"))
		for _, m := range matches {
			f.Add(tokenizertest.Read(f, m), "Hello, wörld! 123 \n\t 你好 🙂")
		}
	}
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":["a b"]},"pre_tokenizer":{"type":"Split","pattern":{"Regex":"(a+)+b"},"behavior":"Isolated"}}`), "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac")
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{},"merges":[]}}`), "x")
	f.Fuzz(func(t *testing.T, js []byte, text string) {
		tok, err := parseHF(js, nil)
		if err != nil {
			return
		}
		start := time.Now()
		ids, err := tok.EncodeSpecial(text)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("encoding %d bytes took %v", len(text), d)
		}
		if err != nil {
			return
		}
		for _, id := range ids {
			if id < 0 || int(id) >= tok.VocabSize() {
				t.Errorf("id %d outside the vocabulary of %d", id, tok.VocabSize())
			}
		}
	})
}
