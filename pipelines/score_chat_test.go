package pipelines

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/tokenizer/tokenizertest"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages"
)

// trlReference is one row of stages/testdata/trl/expected*.jsonl: TRL's
// ids made with Hugging Face's tokenizers (see its README).
type trlReference struct {
	Tokenizer, Record string
	MaxLength         *int    `json:"max_length"`
	TruncationMode    string  `json:"truncation_mode"`
	PromptIDs         []int32 `json:"prompt_ids"`
	ChosenInputIDs    []int32 `json:"chosen_input_ids"`
	RejectedInputIDs  []int32 `json:"rejected_input_ids"`
}

func readTRLReference(t *testing.T, file string) map[string]trlReference {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]trlReference{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		var r trlReference
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Tokenizer == "qwen3" && r.MaxLength == nil && r.TruncationMode == "keep_start" {
			out[r.Record] = r
		}
	}
	return out
}

// A conversational corpus scored end to end with a Qwen3 model directory
// that carries its chat template: without --chat-template the model's own
// template renders the conversations (its sha256 in the shards'
// metadata), --tokenization trl gives TRL's ids for x, and p⊕x is the
// conversation with p in front of the last user message, rendered by the
// same template (its ids made by HF's tokenizers from a hand-augmented
// copy of the records, stages/testdata/trl/records_aug.jsonl). A record's
// tools and chat_template_kwargs reach the template.
func TestScoreConversationsWithTheModelsTemplate(t *testing.T) {
	out, rows := scoreQwen3Conversations(t)
	templateSHA := sha256.Sum256([]byte(qwen3ChatTemplate(t)))
	out = strings.TrimSuffix(out, schemas.ManifestSuffix)
	x := readTRLReference(t, "../stages/testdata/trl/expected.jsonl")
	aug := readTRLReference(t, "../stages/testdata/trl/expected_aug.jsonl")
	for _, r := range rows {
		want := x[r.ID]
		if !slices.Equal(r.PromptIDs, want.PromptIDs) {
			t.Errorf("%s: prompt ids\n got  %v\n want %v", r.ID, r.PromptIDs, want.PromptIDs)
		}
		if got := slices.Concat(r.PromptIDs, r.ChosenIDs); !slices.Equal(got, want.ChosenInputIDs) {
			t.Errorf("%s: prompt + chosen ids\n got  %v\n want %v", r.ID, got, want.ChosenInputIDs)
		}
		if got := slices.Concat(r.PromptIDs, r.RejectedIDs); !slices.Equal(got, want.RejectedInputIDs) {
			t.Errorf("%s: prompt + rejected ids\n got  %v\n want %v", r.ID, got, want.RejectedInputIDs)
		}
		if wantAug := aug[r.ID+"_aug"].PromptIDs; !slices.Equal(r.AugPromptIDs, wantAug) {
			t.Errorf("%s: p⊕x ids\n got  %v\n want %v", r.ID, r.AugPromptIDs, wantAug)
		}
	}
	md := readManifest(t, out).Metadata
	if got := md.Get(schemas.KeyChatTemplate); !strings.Contains(got, hex.EncodeToString(templateSHA[:])) || !strings.Contains(got, "tokenizer_config.json") {
		t.Errorf("chat template metadata %q does not name the model's template and its sha256", got)
	}
	if got := md.Get(schemas.KeyTokenization); got != stages.TokenizationTRL {
		t.Errorf("tokenization metadata %q", got)
	}
	if got := md.Get(schemas.KeyAugPosition); got != stages.AugLastUser {
		t.Errorf("aug position metadata %q", got)
	}
}

// qwen3Records are the conversational records of stages/testdata/trl.
var qwen3Records = []string{"chat_system", "chat_multiturn", "chat_cjk_emoji_no_thinking", "chat_tools"}

// qwen3ChatTemplate is the chat template of the shipped Qwen3 config.
func qwen3ChatTemplate(t *testing.T) string {
	t.Helper()
	var cfg struct {
		ChatTemplate string `json:"chat_template"`
	}
	b, err := os.ReadFile(filepath.Join(tokenizertest.Testdata(), "qwen3", "tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil || cfg.ChatTemplate == "" {
		t.Fatalf("qwen3's tokenizer_config.json has no chat_template: %v", err)
	}
	return cfg.ChatTemplate
}

// scoreQwen3Conversations scores the conversational records of
// stages/testdata/trl with a tiny Qwen3-family model directory carrying
// Qwen3's tokenizer and template, with --tokenization trl and p
// "Please answer well." at the last user message; it returns the
// manifest and the rows.
func scoreQwen3Conversations(t *testing.T) (string, []schemas.Scored) {
	manifest, rows, _ := scoreQwen3ConversationsWithModel(t)
	return manifest, rows
}

// scoreQwen3ConversationsWithModel is scoreQwen3Conversations that also
// returns the model directory.
func scoreQwen3ConversationsWithModel(t *testing.T) (string, []schemas.Scored, string) {
	t.Helper()

	backend, _ := model.Backend()
	m, err := model.New(model.Config{Family: model.FamilyQwen3, Vocab: 151936, Context: 1024, Layers: 1, Heads: 2, KVHeads: 1, HeadDim: 8,
		Width: 16, Inner: 24, NormEps: 1e-6, RopeTheta: 1e6, DType: model.Float32}, 3, backend)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "qwen3")
	if err := m.ExportHF(dir); err != nil {
		t.Fatal(err)
	}
	tokDir := tokenizertest.Dir(t, "qwen3")
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json"} {
		b, err := os.ReadFile(filepath.Join(tokDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	var corpus strings.Builder
	f, err := os.Open("../stages/testdata/trl/records.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r struct{ ID string }
		_ = json.Unmarshal(sc.Bytes(), &r)
		if slices.Contains(qwen3Records, r.ID) {
			corpus.Write(sc.Bytes())
			corpus.WriteByte('\n')
		}
	}
	f.Close()
	in := filepath.Join(t.TempDir(), "chats.jsonl")
	if err := os.WriteFile(in, []byte(corpus.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	spec := stages.ReferenceSpec{ModelDir: dir, Tokenizer: "auto", AugPrompt: "Please answer well.", AugSeparator: " ",
		AugPosition: stages.AugLastUser, Tokenization: stages.TokenizationTRL,
		Truncation: model.Truncation{MaxPromptLength: 512, MaxLength: 1024, Prompt: model.KeepEnd, Response: model.KeepStart}}
	out := filepath.Join(t.TempDir(), "scored")
	scoreFiles(t, ScoreConfig{Reference: spec, BatchPairs: 64}, out, 1, in)
	rows := readAll[schemas.Scored](t, out, schemas.ScoredRows)
	if len(rows) != len(qwen3Records) {
		t.Fatalf("%d rows scored, want %d", len(rows), len(qwen3Records))
	}
	return out + schemas.ManifestSuffix, rows, dir
}
