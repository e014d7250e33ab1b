package tokenizer

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The small test vocabulary (testdata/bpe) is GPT-2's 256 byte symbols in
// GPT-2's order (so " " is 220 and "\n" is 198, as in GPT-2), then 15
// merges:
//
//	256 he  257 ll  258 Ġt  259 Ġthe  260 's  261 12  262 ĊĊ  263 hell
//	264 hello  265 Ġw  266 or  267 Ġwor  268 ld  269 Ġworld  270 ĠĠ
//
// and <|endoftext|> = 271. The expected ids follow GPT-2's rules by hand:
// split by the pattern, then merge the lowest-ranked pair until none is left.
var bpeCases = []struct {
	text string
	ids  []int32
}{
	{"hello world", []int32{264, 269}},
	// contractions split off; digits merge; no merge across pieces
	{"the cat's 12 apples", []int32{83, 256, 220, 66, 64, 83, 260, 220, 261, 220, 64, 79, 79, 75, 68, 82}},
	{"I'll", []int32{40, 6, 257}},
	// newlines: a run before a word leaves its last one to stand alone
	{"\n\nthe end\n", []int32{198, 198, 83, 256, 220, 68, 77, 67, 198}},
	{"a\n\n\nb", []int32{64, 262, 198, 65}},
	// two spaces before a word: one stands alone, one joins the word
	{" the  the", []int32{259, 220, 259}},
	// trailing spaces stay one piece; merges apply left to right
	{"   ", []int32{270, 220}},
	// an emoji is four bytes with no merges, joined with the "!" after it
	{"hi 👋!", []int32{71, 72, 220, 172, 253, 239, 233, 0}},
	{"", nil},
}

// endoftext is how each form treats the spelled-out special token: the
// vocab.json + merges.txt form encodes it as text, tokenizer.json (where it
// is an added token) as its id.
var endoftext = map[string][]int32{
	"testdata/bpe":      {27, 91, 68, 77, 67, 78, 69, 83, 68, 87, 83, 91, 29},
	"testdata/bpe_json": {271},
}

func TestBPEKnownEncodings(t *testing.T) {
	for dir, eot := range endoftext {
		tok, err := LoadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range append(bpeCases, struct {
			text string
			ids  []int32
		}{"<|endoftext|>", eot}) {
			got, err := tok.Encode(c.text)
			if err != nil || !sameIDs(got, c.ids) {
				t.Errorf("%s: Encode(%q) = %v, %v; want %v", dir, c.text, got, err, c.ids)
			}
			if back := tok.Decode(got); back != c.text {
				t.Errorf("%s: Decode(Encode(%q)) = %q", dir, c.text, back)
			}
		}
		if tok.EOS() != 271 || tok.VocabSize() != 272 || tok.Decode([]int32{271}) != "<|endoftext|>" || len(tok.BOS()) != 0 {
			t.Errorf("%s: EOS %d, vocab %d, BOS %v", dir, tok.EOS(), tok.VocabSize(), tok.BOS())
		}
		if len(tok.Fingerprint()) != 64 {
			t.Errorf("fingerprint %q", tok.Fingerprint())
		}
	}
	a, _ := LoadDir("testdata/bpe")
	b, _ := LoadDir("testdata/bpe_json")
	if a.Fingerprint() == b.Fingerprint() {
		t.Error("different files, same fingerprint")
	}
	// The fingerprint of GPT-2's two files is what it was before the
	// tokenizer package (hash of name, length and bytes of each), so shards
	// scored earlier with them still match (value from hashlib by hand).
	if got := a.Fingerprint(); got != "05f1eb1bcd485c6f3059d5c0945e49061dd3a5228a307328349704a36b07909c" {
		t.Errorf("fingerprint %s", got)
	}
}

func randomText(rng *rand.Rand, alphabet []rune) string {
	var b strings.Builder
	for j := rng.IntN(40); j > 0; j-- {
		if rng.IntN(10) == 0 {
			b.WriteRune(rune(rng.IntN(0x10FFFF)))
		} else {
			b.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
	}
	return strings.ToValidUTF8(b.String(), "?")
}

// Each hand-written split gives its pattern's own spans, on the test
// strings and on random text.
func TestFastSplitsEqualPatterns(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []rune("ab AB the12 345 \n\n\t\r\r\n'sSſllLLdDtTmMveVE👋éß中文\u00a0\u2028\u3000\u0085!?.,-_'٣½(\"")
	strs := testStrings(t)
	for i := 0; i < 5000; i++ {
		strs = append(strs, randomText(rng, alphabet))
	}
	for src, fast := range fastSplits {
		re, err := newRegexPattern(src)
		if err != nil {
			t.Fatal(err)
		}
		slow := &pattern{source: src, re: re.re} // without the fast split
		for _, s := range strs {
			want, err := slow.find(s, time.Now().Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if got := fast(s); !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("pattern %.30q… on %q: fast %v, regex %v", src, s, got, want)
			}
		}
	}
}

// Byte-level tokenizers give back any UTF-8 text; the byte tokenizer too.
func TestRoundTrip(t *testing.T) {
	toks := map[string]Tokenizer{"byte": Byte{}}
	for _, v := range []string{"gpt2", "neox", "smollm", "llama3-layout"} {
		tok, err := LoadHF(variantDir(t, v))
		if err != nil {
			t.Fatal(err)
		}
		toks[v] = tok
	}
	qwen, err := LoadHF(realDir(t, "qwen3"))
	if err != nil {
		t.Fatal(err)
	}
	toks["qwen3 (NFC text)"] = qwen
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("ab the12 \n\t'sll👋éß中文\u00a0\u2028!?.,-_'<|>")
	for i := 0; i < 500; i++ {
		s := randomText(rng, alphabet)
		for name, tok := range toks {
			in := s
			if strings.HasPrefix(name, "qwen3") || name == "neox" {
				in = nfc(s) // their normalizer is NFC: text in NFC comes back as it went in
			}
			ids, err := tok.Encode(in)
			if err != nil {
				t.Fatal(err)
			}
			if got := tok.Decode(ids); got != in {
				t.Fatalf("%s: %q came back as %q", name, in, got)
			}
		}
	}
}

func nfc(s string) string { out, _ := unicodeNorm{formNFC}.normalize(s, time.Time{}); return out }

func TestByteTokenizer(t *testing.T) {
	var tok Byte
	if got, _ := tok.Encode("aé"); !reflect.DeepEqual(got, []int32{97, 0xC3, 0xA9}) {
		t.Errorf("Encode = %v", got)
	}
	if got := tok.Decode([]int32{104, 105, ByteEOS}); got != "hi" || !utf8.ValidString(got) {
		t.Errorf("Decode = %q", got)
	}
}

func TestInvalidUTF8IsAnError(t *testing.T) {
	tok, err := LoadDir("testdata/bpe_json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Encode("ok \xff bad"); err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Errorf("got %v", err)
	}
}

func TestBrokenFilesFail(t *testing.T) {
	if _, err := LoadDir(t.TempDir()); err == nil {
		t.Error("an empty directory loaded")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "vocab.json"), []byte(`{"a": 0}`), 0o644)
	os.WriteFile(filepath.Join(dir, "merges.txt"), []byte("#version: 0.2\n"), 0o644)
	if _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), "not a byte-level BPE") {
		t.Errorf("got %v", err)
	}
}
