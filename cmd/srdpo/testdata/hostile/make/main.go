// Command make writes the hostile corpus of cmd/srdpo's TestHostileInputs:
// one folder per attack, each a model directory, a corpus or shards that
// srdpo must refuse with a clear error in bounded time and memory. The
// valid parts (a tiny GPT-2 in Hugging Face's layout, one scored shard)
// are made by srdpo's writers; each attack is then written byte by byte.
//
//	go run ./cmd/srdpo/testdata/hostile/make   # from the repository root
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/schemas"
)

const root = "cmd/srdpo/testdata/hostile"

func main() {
	tmp, err := os.MkdirTemp("", "hostile-")
	check(err)
	defer os.RemoveAll(tmp)
	backend, err := model.Backend()
	check(err)
	m, err := model.New(model.Config{Vocab: 272, Context: 64, Layers: 1, Heads: 2, Width: 8, NormEps: 1e-5, TiedHead: true, DType: model.Float32}, 1, backend)
	check(err)
	check(m.ExportHF(tmp))
	var v validModel
	v.config = read(filepath.Join(tmp, "config.json"))
	v.header, v.data = splitSafetensors(read(filepath.Join(tmp, "model.safetensors")))
	v.weights = joinSafetensors(v.header, v.data)

	weightAttacks(v)
	configAttacks(v)
	templateAttacks(v)
	corpusAttacks()
	shardAttacks()
}

// validModel is the tiny GPT-2's files, which each model attack edits.
type validModel struct {
	config, header, data, weights []byte
}

// modelDir writes one attack's model folder: the valid config unless the
// attack gives its own, and the files it names.
func (v validModel) modelDir(name string, files map[string][]byte) {
	dir := filepath.Join(root, name, "model")
	if _, ok := files["config.json"]; !ok {
		files["config.json"] = v.config
	}
	for _, f := range []string{"config.json", "model.safetensors", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json"} {
		if b, ok := files[f]; ok {
			write(filepath.Join(dir, f), b)
		}
	}
}

// withHeader is the valid weights under a safetensors header edited by edit.
func (v validModel) withHeader(edit func(h map[string]map[string]any)) []byte {
	h := map[string]map[string]any{}
	check(json.Unmarshal(v.header, &h))
	edit(h)
	b, err := json.Marshal(h)
	check(err)
	return joinSafetensors(b, v.data)
}

// weightAttacks are safetensors files that lie about their sizes.
func weightAttacks(v validModel) {
	// A header that claims 2^62 bytes.
	v.modelDir("header-2e62", map[string][]byte{"model.safetensors": append(binary.LittleEndian.AppendUint64(nil, 1<<62), v.header...)})
	// A tensor whose offsets end past the data section.
	v.modelDir("offsets-past-end", map[string][]byte{"model.safetensors": v.withHeader(func(h map[string]map[string]any) {
		h["wte.weight"]["data_offsets"] = []int64{0, int64(len(v.data)) + 1<<40}
	})})
	// Two tensors on the same bytes.
	v.modelDir("overlapping-tensors", map[string][]byte{"model.safetensors": v.withHeader(func(h map[string]map[string]any) {
		h["wpe.weight"]["data_offsets"], h["wpe.weight"]["shape"] = h["wte.weight"]["data_offsets"], h["wte.weight"]["shape"]
	})})
	// A shape whose product overflows int64.
	v.modelDir("shape-overflow", map[string][]byte{"model.safetensors": v.withHeader(func(h map[string]map[string]any) {
		h["wte.weight"]["shape"] = []int64{1 << 32, 1 << 32, 4}
	})})
}

// configAttacks are a config and an index that ask for too much or for a
// file outside the model.
func configAttacks(v validModel) {
	// A config with a billion-wide layer, beside the small weights.
	var c map[string]any
	check(json.Unmarshal(v.config, &c))
	c["n_embd"], c["n_inner"] = 1_000_000_000, 4_000_000_000
	wide, err := json.Marshal(c)
	check(err)
	v.modelDir("billion-wide-config", map[string][]byte{"config.json": wide, "model.safetensors": v.weights})
	// An index that sends the loader out of the model's directory.
	write(filepath.Join(root, "index-escape", "outside.safetensors"), v.weights)
	v.modelDir("index-escape", map[string][]byte{"model.safetensors.index.json": []byte(`{"metadata":{},"weight_map":{"wte.weight":"../outside.safetensors"}}`)})
}

// templateAttacks are a tokenizer and a chat template that would run
// without end, each with a record that sets it off.
func templateAttacks(v validModel) {
	// A tokenizer.json whose split pattern backtracks catastrophically on
	// "aaa…ab" ((a+)+$ takes 2^n steps), and a record that triggers it.
	var tok map[string]any
	check(json.Unmarshal(read("model/tokenizer/testdata/bpe_json/tokenizer.json"), &tok))
	tok["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
		map[string]any{"type": "Split", "pattern": map[string]any{"Regex": "(a+)+$"}, "behavior": "Isolated", "invert": false},
		map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}}}
	tb, err := json.Marshal(tok)
	check(err)
	v.modelDir("regex-backtracking", map[string][]byte{"model.safetensors": v.weights, "tokenizer.json": tb})
	write(filepath.Join(root, "regex-backtracking", "corpus.jsonl"),
		[]byte(`{"id":"r1","prompt":"`+strings.Repeat("a", 60)+`b","chosen":"yes","rejected":"no"}`+"\n"))
	// A chat template that loops forever, and a conversation to render.
	v.modelDir("template-loop", map[string][]byte{"model.safetensors": v.weights,
		"tokenizer_config.json": []byte(`{"chat_template": "{% for i in range(100000) %}{% for j in range(100000) %}{% for m in messages %}{{ m.content }}{% endfor %}{% endfor %}{% endfor %}"}`)})
	write(filepath.Join(root, "template-loop", "corpus.jsonl"), []byte(`{"id":"c1","chosen":[{"role":"user","content":"hi"},{"role":"assistant","content":"yes"}],`+
		`"rejected":[{"role":"user","content":"hi"},{"role":"assistant","content":"no"}]}`+"\n"))
}

// corpusAttacks are corpus files too deep or too large once read.
func corpusAttacks() {
	// A record nested 100,000 deep.
	write(filepath.Join(root, "deep-json", "corpus.jsonl"), []byte(`{"id":"d1","prompt":"q","chosen":`+
		strings.Repeat("[", 100_000)+strings.Repeat("]", 100_000)+`,"rejected":"no"}`+"\n"))
	// A gzip bomb: 300 MiB of one byte in a record that never ends.
	var bomb bytes.Buffer
	zw, err := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	check(err)
	zw.Write([]byte(`{"id":"b1","prompt":"`))
	chunk := bytes.Repeat([]byte("a"), 1<<20)
	for i := 0; i < 300; i++ {
		zw.Write(chunk)
	}
	check(zw.Close())
	write(filepath.Join(root, "gzip-bomb", "corpus.jsonl.gz"), bomb.Bytes())
}

// shardAttacks are a manifest and a shard that point outside what they own.
func shardAttacks() {
	// A manifest that names a shard outside its folder.
	write(filepath.Join(root, "manifest-escape", "scored.manifest.json"), []byte(`{"table":"scored","schema_version":"1","format":"arrow","rows":1,`+
		`"shards":[{"name":"../arrow-offsets/scored-00000-of-00001.arrow","rows":1}],"metadata":{}}`+"\n"))
	// A scored shard whose string offsets point past its buffers.
	write(filepath.Join(root, "arrow-offsets", "scored-00000-of-00001.arrow"), badOffsets())
}

// badOffsets writes one scored row whose prompt is "PPPPPPPP" and moves
// the end offset of that string (the int32 8 right before the bytes, after
// the offsets' padding) to 2^31−1.
func badOffsets() []byte {
	var buf bytes.Buffer
	row := schemas.Scored{ID: "a1", Prompt: "PPPPPPPP", Chosen: "c", Rejected: "r", PromptIDs: []int32{1}, AugPromptIDs: []int32{1},
		ChosenIDs: []int32{2}, RejectedIDs: []int32{3}, PromptTokens: 1, AugPromptTokens: 1, ChosenTokens: 1, RejectedTokens: 1}
	check(schemas.WriteFile(&buf, schemas.FormatArrow, schemas.ScoredRows, schemas.NewMetadata(), []schemas.Row{row}))
	b := buf.Bytes()
	at := bytes.Index(b, []byte("PPPPPPPP"))
	end := bytes.LastIndex(b[:max(at, 0)], []byte{8, 0, 0, 0})
	if at < 0 || end < 0 || at-end > 16 {
		log.Fatal("the prompt's offsets were not found")
	}
	binary.LittleEndian.PutUint32(b[end:], 1<<31-1)
	return b
}

func splitSafetensors(b []byte) (header, data []byte) {
	n := binary.LittleEndian.Uint64(b)
	return b[8 : 8+n], b[8+n:]
}

func joinSafetensors(header, data []byte) []byte {
	return append(append(binary.LittleEndian.AppendUint64(nil, uint64(len(header))), header...), data...)
}

func read(path string) []byte {
	b, err := os.ReadFile(path)
	check(err)
	return b
}

func write(path string, b []byte) {
	check(os.MkdirAll(filepath.Dir(path), 0o755))
	check(os.WriteFile(path, b, 0o644))
	fmt.Printf("%-72s %8d bytes\n", path, len(b))
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
