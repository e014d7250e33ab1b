package stages

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/srdpo/srdpo/runners/gcstest"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages/shardio"
)

const fixtures = "testdata/corpus/"

func hashID(prompt, chosen, rejected string) string {
	h := sha256.Sum256([]byte(prompt + "\x00" + chosen + "\x00" + rejected + "\x00"))
	return hex.EncodeToString(h[:16])
}

func pref(id, format, prompt, chosen, rejected string) schemas.Preference {
	if id == "" {
		id = hashID(prompt, chosen, rejected)
	}
	return schemas.Preference{ID: id, Prompt: prompt, Chosen: chosen, Rejected: rejected, SourceFormat: format}
}

// withMessages is p with its conversation's messages as given (what scored
// rows and exports carry), compact JSON written out by hand.
func withMessages(p schemas.Preference, messages string) schemas.Preference {
	p.Messages = messages
	return p
}

func withScores(p schemas.Preference, c, r float64) schemas.Preference {
	p.ScoreChosen, p.ScoreRejected = &c, &r
	return p
}

var (
	wantTRLStandard = []schemas.Preference{
		pref("std-1", "trl_standard", "What is 2+2?", " 4", " 5"),
		// Implicit prompt: the shared prefix, the space going with the responses.
		withScores(pref("", "trl_standard", "The capital of France is", " Paris.", " Lyon."), 9.5, 3),
		func() schemas.Preference {
			p := pref("", "trl_standard", "Traduis « bonjour » en japonais :", " こんにちは 👋", " さようなら")
			off := 0.5
			p.Offset = &off
			return p
		}(),
	}
	wantConversational = []schemas.Preference{
		withMessages(pref("conv-1", "trl_conversational",
			"You are terse.\n\nHuman: Name a colour.\n\nAssistant: Blue.\n\nHuman: Another?\n\nAssistant:", " Red.", " Blue again."),
			`{"prompt":[{"role":"system","content":"You are terse."},{"role":"user","content":"Name a colour."},{"role":"assistant","content":"Blue."},{"role":"user","content":"Another?"}],`+
				`"chosen":[{"role":"assistant","content":"Red."}],"rejected":[{"role":"assistant","content":"Blue again."}]}`),
		withMessages(pref("42", "trl_conversational", "\n\nHuman: ¿Qué tal?\n\nAssistant:", " Bien, gracias.", " No sé."),
			`{"prompt":[{"role":"user","content":"¿Qué tal?"}],"chosen":[{"role":"assistant","content":"Bien, gracias."}],"rejected":[{"role":"assistant","content":"No sé."}]}`),
	}
	wantHH = []schemas.Preference{
		pref("", "hh_rlhf", "\n\nHuman: Hi there\n\nAssistant: Hello! How can I help?\n\nHuman: Tell me a joke.\n\nAssistant:",
			" Why did the chicken cross the road? To get to the other side.", " No."),
		pref("", "hh_rlhf", "\n\nHuman: Ça va ?\n\nAssistant:", " Oui, merci !", " Non."),
	}
	wantShareGPT = []schemas.Preference{
		withMessages(pref("", "sharegpt", "\n\nHuman: Write a haiku about rain.\n\nAssistant:", " Soft rain on the roof", " Rain is wet."),
			`{"prompt":[{"role":"user","content":"Write a haiku about rain."}],"chosen":[{"role":"assistant","content":"Soft rain on the roof"}],"rejected":[{"role":"assistant","content":"Rain is wet."}]}`),
		withMessages(pref("sg-2", "sharegpt", "あなたは親切です。\n\nHuman: こんにちは\n\nAssistant: こんにちは！\n\nHuman: 元気？\n\nAssistant:", " 元気です 😊", " …"),
			`{"prompt":[{"role":"system","content":"あなたは親切です。"},{"role":"user","content":"こんにちは"},{"role":"assistant","content":"こんにちは！"},{"role":"user","content":"元気？"}],`+
				`"chosen":[{"role":"assistant","content":"元気です 😊"}],"rejected":[{"role":"assistant","content":"…"}]}`),
	}
	wantUltraFeedback = []schemas.Preference{
		withMessages(withScores(pref("", "ultrafeedback", "\n\nHuman: How many legs does a spider have?\n\nAssistant:", " Eight.", " Six."), 9, 2.5),
			`{"prompt":[{"content":"How many legs does a spider have?","role":"user"}],"chosen":[{"content":"Eight.","role":"assistant"}],"rejected":[{"content":"Six.","role":"assistant"}]}`),
		withMessages(withScores(pref("", "ultrafeedback", "\n\nHuman: Spell 'naïve'.\n\nAssistant:", " n-a-ï-v-e", " n-a-i-v-e"), 8, 7.75),
			`{"prompt":[{"content":"Spell 'naïve'.","role":"user"}],"chosen":[{"content":"n-a-ï-v-e","role":"assistant"}],"rejected":[{"content":"n-a-i-v-e","role":"assistant"}]}`),
	}
)

// readCorpus runs ReadCorpus and asserts its rows and dead letters; it
// returns the pipeline's counters.
func readCorpus(t *testing.T, pattern string, rows []schemas.Preference, dead []schemas.DeadLetter, opts ...CorpusOption) map[string]int64 {
	t.Helper()
	p, s := beam.NewPipelineWithRoot()
	got, gotDead := ReadCorpus(s, pattern, opts...)
	passert.Equals(s, got, beam.CreateList(s, rows))
	if len(dead) == 0 {
		passert.Empty(s, gotDead)
	} else {
		passert.Equals(s, gotDead, beam.CreateList(s, dead))
	}
	return Counters(ptest.RunAndValidate(t, p))
}

func TestReadCorpusEachFormat(t *testing.T) {
	for _, c := range []struct {
		file string
		want []schemas.Preference
	}{
		{"trl_standard.jsonl", wantTRLStandard},
		{"trl_conversational.json", wantConversational},
		{"hh_rlhf.jsonl", wantHH},
		{"sharegpt.json", wantShareGPT},
		{"ultrafeedback.jsonl", wantUltraFeedback},
	} {
		t.Run(c.file, func(t *testing.T) {
			counters := readCorpus(t, fixtures+c.file, c.want, nil)
			n := int64(len(c.want))
			if counters[CounterRecordsRead] != n || counters[CounterRecordsGood] != n || counters[CounterRecordsDead] != 0 {
				t.Errorf("counters %v, want %d read and good", counters, n)
			}
		})
	}
}

// Every format forced by flag gives the same rows as detection.
func TestReadCorpusForcedFormat(t *testing.T) {
	readCorpus(t, fixtures+"hh_rlhf.jsonl", wantHH, nil, WithCorpusFormat(FormatHHRLHF))
	readCorpus(t, fixtures+"sharegpt.json", wantShareGPT, nil, WithCorpusFormat(FormatShareGPT))
	// Forcing HH on records that are not dialogues sends them to the dead letters.
	dead := []schemas.DeadLetter{
		{Source: fixtures + "trl_standard.jsonl", Line: 1, Record: 1, Offset: 0, Reason: ReasonHHNoAssistant,
			Detail: `chosen dialogue has no "Assistant:" turn`},
	}
	dir := t.TempDir()
	src, _ := os.ReadFile(fixtures + "trl_standard.jsonl")
	first := strings.SplitN(string(src), "\n", 2)[0] + "\n"
	os.WriteFile(filepath.Join(dir, "one.jsonl"), []byte(first), 0o644)
	dead[0].Source, dead[0].Raw = filepath.Join(dir, "one.jsonl"), strings.TrimSpace(first)
	readCorpus(t, filepath.Join(dir, "one.jsonl"), nil, dead, WithCorpusFormat(FormatHHRLHF))
}

func TestReadCorpusChatTemplate(t *testing.T) {
	chatml := []schemas.Preference{
		withMessages(pref("conv-1", "trl_conversational",
			"<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nName a colour.<|im_end|>\n"+
				"<|im_start|>assistant\nBlue.<|im_end|>\n<|im_start|>user\nAnother?<|im_end|>\n<|im_start|>assistant\n",
			"Red.<|im_end|>", "Blue again.<|im_end|>"), wantConversational[0].Messages),
		withMessages(pref("42", "trl_conversational", "<|im_start|>user\n¿Qué tal?<|im_end|>\n<|im_start|>assistant\n",
			"Bien, gracias.<|im_end|>", "No sé.<|im_end|>"), wantConversational[1].Messages),
	}
	readCorpus(t, fixtures+"trl_conversational.json", chatml, nil, WithChatTemplate(builtinTemplates["chatml"]))

	// A template from a JSON file.
	path := filepath.Join(t.TempDir(), "tmpl.json")
	os.WriteFile(path, []byte(`{"system":"[S]{content}","user":"[U]{content}","assistant":"[A]{content}","generation":"[A]","response":"{content}[E]"}`), 0o644)
	tmpl, err := ParseChatTemplate(path)
	if err != nil {
		t.Fatal(err)
	}
	custom := []schemas.Preference{
		withMessages(pref("conv-1", "trl_conversational", "[S]You are terse.[U]Name a colour.[A]Blue.[U]Another?[A]", "Red.[E]", "Blue again.[E]"),
			wantConversational[0].Messages),
		withMessages(pref("42", "trl_conversational", "[U]¿Qué tal?[A]", "Bien, gracias.[E]", "No sé.[E]"), wantConversational[1].Messages),
	}
	readCorpus(t, fixtures+"trl_conversational.json", custom, nil, WithChatTemplate(tmpl))
	os.WriteFile(path, []byte(`{"user":"no placeholder"}`), 0o644)
	if _, err := ParseChatTemplate(path); err == nil {
		t.Fatal("template without {content} accepted")
	}
}

// gzip by extension, JSON arrays and Parquet, from one glob over a folder.
func TestReadCorpusGzipParquetGlob(t *testing.T) {
	dir := t.TempDir()
	gz := func(name string) {
		src, err := os.ReadFile(fixtures + name)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(src)
		zw.Close()
		os.WriteFile(filepath.Join(dir, name+".gz"), buf.Bytes(), 0o644)
	}
	gz("hh_rlhf.jsonl")
	gz("sharegpt.json")
	writeUltraFeedbackParquet(t, filepath.Join(dir, "ultrafeedback.parquet"))
	want := append(append(append([]schemas.Preference{}, wantHH...), wantShareGPT...), wantUltraFeedback...)
	counters := readCorpus(t, filepath.Join(dir, "*"), want, nil)
	if counters[CounterRecordsGood] != int64(len(want)) {
		t.Errorf("counters %v", counters)
	}
}

// writeUltraFeedbackParquet converts the JSONL fixture into Parquet with the
// nested message-list columns UltraFeedback ships.
func writeUltraFeedbackParquet(t testing.TB, path string) {
	t.Helper()
	msg := arrow.ListOf(arrow.StructOf(
		arrow.Field{Name: "content", Type: arrow.BinaryTypes.String},
		arrow.Field{Name: "role", Type: arrow.BinaryTypes.String}))
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "prompt", Type: arrow.BinaryTypes.String},
		{Name: "prompt_id", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "chosen", Type: msg},
		{Name: "rejected", Type: msg},
		{Name: "score_chosen", Type: arrow.PrimitiveTypes.Float64},
		{Name: "score_rejected", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	jsonlToParquet(t, schema, fixtures+"ultrafeedback.jsonl", path)
}

// jsonlToParquet writes a JSONL file's records as Parquet with schema.
func jsonlToParquet(t testing.TB, schema *arrow.Schema, src, path string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, schema, strings.NewReader("["+strings.Join(lines, ",")+"]"))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(schema, f, nil, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil { // closes f too
		t.Fatal(err)
	}
}

// The malformed fixture holds a record of each kind of fault; the test adds
// those a text file cannot carry (invalid UTF-8, an over-long line) and
// broken files. Every one lands in the dead letters with its reason, the
// good rows are all there, and read = good + dead.
func TestReadCorpusDeadLetters(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(fixtures + "malformed.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	long := `{"prompt": "p", "chosen": "` + strings.Repeat("x", 5000) + `", "rejected": "b"}`
	badUTF8 := "{\"prompt\": \"p\xff\xfe\", \"chosen\": \"a\", \"rejected\": \"b\"}"
	corpus := filepath.Join(dir, "corpus.jsonl")
	os.WriteFile(corpus, append(src, []byte(badUTF8+"\n"+long+"\n")...), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a corpus"), 0o644)
	os.WriteFile(filepath.Join(dir, "broken.jsonl.gz"), []byte("\x1f\x8bnot really gzip"), 0o644)
	os.WriteFile(filepath.Join(dir, "truncated.json"),
		[]byte(`[{"id": "arr-1", "prompt": "p", "chosen": "a", "rejected": "b"}, {"prompt": "p", "chos`), 0o644)

	byLine := []struct {
		line   int64
		reason string
	}{
		{2, ReasonMalformedJSON}, {3, ReasonNotAnObject}, {4, ReasonMissingField}, {5, ReasonWrongType},
		{6, ReasonEmptyPrompt}, {7, ReasonEmptyChosen}, {8, ReasonEmptyRejected}, {9, ReasonIdentical},
		{10, ReasonNoSharedPrompt}, {11, ReasonHHPrefixMismatch}, {12, ReasonBadMessage}, {13, ReasonUnknownRole},
		{14, ReasonBadTurnOrder}, {15, ReasonBadScore}, {16, ReasonBadScore}, {17, ReasonBadID},
		{19, ReasonDuplicateID}, {20, ReasonBadMessage}, {22, ReasonWrongType},
		{24, ReasonInvalidUTF8}, {25, ReasonTooLarge},
	}
	good := []schemas.Preference{
		pref("good-1", "trl_standard", "Say yes.", " Yes.", " No."),
		pref("dup-1", "trl_standard", "First of two.", " a", " b"),
		withMessages(pref("good-2", "sharegpt", "\n\nHuman: Count to two.\n\nAssistant:", " 1, 2", " 2, 1"),
			`{"prompt":[{"role":"user","content":"Count to two."}],"chosen":[{"role":"assistant","content":"1, 2"}],"rejected":[{"role":"assistant","content":"2, 1"}]}`),
		func() schemas.Preference {
			p := pref("good-3", "trl_standard", "p", "a", "b")
			off := -1.5
			p.Offset = &off
			return p
		}(),
		pref("arr-1", "trl_standard", "p", "a", "b"),
	}

	// Whole, and cut into chunks of lines (every ~300 bytes, and at every
	// record): the same rows and dead letters, with the same lines.
	for _, split := range []int64{DefaultSplitBytes, 300, 1} {
		t.Run(fmt.Sprint("split-", split), func(t *testing.T) {
			readDeadLetterCorpus(t, dir, split, good, byLine)
		})
	}
}

func readDeadLetterCorpus(t *testing.T, dir string, split int64, good []schemas.Preference, byLine []struct {
	line   int64
	reason string
}) {
	p, s := beam.NewPipelineWithRoot()
	rows, dead := ReadCorpus(s, filepath.Join(dir, "*"), WithMaxRecordBytes(4096), WithSplitBytes(split))
	passert.Equals(s, rows, beam.CreateList(s, good))
	// Dead letters as "source:line:reason", to compare as a set.
	var want []string
	for _, d := range byLine {
		want = append(want, fmt.Sprintf("corpus.jsonl:%d:%s", d.line, d.reason))
	}
	want = append(want, "notes.txt:0:"+ReasonUnsupportedFile, "broken.jsonl.gz:0:"+ReasonUnreadableFile,
		"truncated.json:0:"+ReasonUnreadableFile)
	passert.Equals(s, beam.ParDo(s, deadLetterSummary, dead), beam.CreateList(s, want))
	counters := Counters(ptest.RunAndValidate(t, p))
	if counters[CounterRecordsGood] != int64(len(good)) || counters[CounterRecordsDead] != int64(len(want)) ||
		counters[CounterRecordsRead] != counters[CounterRecordsGood]+counters[CounterRecordsDead] {
		t.Errorf("counters %v: want good %d, dead %d, read = good + dead", counters, len(good), len(want))
	}
	kinds := map[string]bool{}
	for _, w := range want {
		kinds[w[strings.LastIndex(w, ":")+1:]] = true
	}
	if len(kinds) < 15 {
		t.Errorf("only %d kinds of bad record covered", len(kinds))
	}
}

func deadLetterSummary(d schemas.DeadLetter) string {
	return fmt.Sprintf("%s:%d:%s", filepath.Base(d.Source), d.Line, d.Reason)
}

func fromBrokenFiles(p schemas.Preference) bool {
	return p.ID == "bom-1" && p.Prompt == "p" || strings.HasPrefix(p.ID, "gz-")
}

func init() {
	beam.RegisterFunction(deadLetterSummary)
	beam.RegisterFunction(fromBrokenFiles)
}

// The dead letter keeps where and why, and the raw text cut to a limit.
func TestDeadLetterContents(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.jsonl")
	long := `{"prompt": "p", "chosen": "` + strings.Repeat("é", 3000) + `", "rejected": "b"}`
	os.WriteFile(path, []byte("\n{\"prompt\": \"p\", \"chosen\": \"a\"}\n"+long+"\n"), 0o644)
	dead := []schemas.DeadLetter{
		{Source: path, Line: 2, Record: 1, Offset: 1, Reason: ReasonMissingField,
			Detail: `field "rejected" is missing`, Raw: `{"prompt": "p", "chosen": "a"}`},
		{Source: path, Line: 3, Record: 2, Offset: 32, Reason: ReasonTooLarge,
			Detail: "record is over the limit of 4096 bytes", Raw: cutRaw([]byte(long[:4096]))},
	}
	readCorpus(t, path, nil, dead, WithMaxRecordBytes(4096))
	if r := dead[1].Raw; len(r) > rawLimit || !strings.HasPrefix(r, `{"prompt": "p", "chosen": "éé`) || !strings.HasSuffix(r, "é") {
		t.Errorf("raw not cut on a rune boundary: %d bytes", len(r))
	}
}

func TestReadCorpusNoMatchFails(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	ReadCorpus(s, filepath.Join(t.TempDir(), "*.jsonl"))
	if err := ptest.Run(p); err == nil {
		t.Fatal("a pattern matching nothing did not fail the pipeline")
	}
}

func TestReadCorpusFromGCS(t *testing.T) {
	gcstest.Start(t, "corpora")
	ctx := t.Context()
	for _, name := range []string{"trl_standard.jsonl", "sharegpt.json"} {
		src, _ := os.ReadFile(fixtures + name)
		if err := shardio.WriteAtomically(ctx, "gs://corpora/prefs/"+name, func(b *bytes.Buffer) error { _, err := b.Write(src); return err }); err != nil {
			t.Fatal(err)
		}
	}
	want := append(append([]schemas.Preference{}, wantTRLStandard...), wantShareGPT...)
	readCorpus(t, "gs://corpora/prefs/*", want, nil)
}

// Rows from every format go through the sink and come back through the
// plain Arrow reader unchanged.
func TestCorpusToShards(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "prefs")
	p, s := beam.NewPipelineWithRoot()
	var all []beam.PCollection
	for _, f := range []string{"trl_standard.jsonl", "trl_conversational.json", "hh_rlhf.jsonl", "sharegpt.json", "ultrafeedback.jsonl"} {
		rows, _ := ReadCorpus(s.Scope(f), fixtures+f)
		all = append(all, rows)
	}
	shardio.WriteShards(s, prefix, schemas.Preferences, schemas.NewMetadata(), beam.Flatten(s, all...), shardio.WithShards(2))
	ptest.RunAndValidate(t, p)
	refs, err := shardio.List(t.Context(), prefix+schemas.ManifestSuffix)
	if err != nil {
		t.Fatal(err)
	}
	var got []schemas.Preference
	for _, ref := range refs {
		rows, _, err := shardio.ReadShard(t.Context(), ref, schemas.Preferences)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			got = append(got, r.(schemas.Preference))
		}
	}
	sort.Slice(got, func(i, j int) bool { return got[i].ID < got[j].ID })
	var want []schemas.Preference
	for _, w := range [][]schemas.Preference{wantTRLStandard, wantConversational, wantHH, wantShareGPT, wantUltraFeedback} {
		want = append(want, w...)
	}
	sort.Slice(want, func(i, j int) bool { return want[i].ID < want[j].ID })
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

// Files broken part-way: the records before the fault are kept, the fault
// is one dead letter, and a byte-order mark is not a fault.
func TestReadCorpusBrokenFiles(t *testing.T) {
	dir := t.TempDir()
	line := `{"id": "bom-1", "prompt": "p", "chosen": "a", "rejected": "b"}`
	os.WriteFile(filepath.Join(dir, "bom.jsonl"), []byte("\xEF\xBB\xBF"+line+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "garbage.parquet"), []byte("PAR1 this is not parquet PAR1"), 0o644)
	var lines, buf bytes.Buffer
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&lines, `{"id": "gz-%04d", "prompt": "prompt %d", "chosen": " yes %d", "rejected": " no"}`+"\n", i, i, i*7919)
	}
	zw := gzip.NewWriter(&buf)
	zw.Write(lines.Bytes())
	zw.Close()
	os.WriteFile(filepath.Join(dir, "cut.jsonl.gz"), buf.Bytes()[:buf.Len()/2], 0o644)

	p, s := beam.NewPipelineWithRoot()
	rows, dead := ReadCorpus(s, filepath.Join(dir, "*"))
	passert.Equals(s, beam.ParDo(s, deadLetterSummary, dead),
		"garbage.parquet:0:"+ReasonUnreadableFile, "cut.jsonl.gz:0:"+ReasonUnreadableFile)
	passert.True(s, rows, fromBrokenFiles)
	counters := Counters(ptest.RunAndValidate(t, p))
	// Half the compressed stream holds a good part of the 2,000 records.
	if good := counters[CounterRecordsGood]; good < 500 || good >= 2001 ||
		counters[CounterRecordsRead] != good+counters[CounterRecordsDead] || counters[CounterRecordsDead] != 2 {
		t.Errorf("counters %v", counters)
	}
}
