package model

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// The test vocabulary (testdata/bpe) is GPT-2's 256 byte symbols in GPT-2's
// order (so " " is 220 and "\n" is 198, as in GPT-2), then 15 merges:
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
	// special tokens are not parsed out of text
	{"<|endoftext|>", []int32{27, 91, 68, 77, 67, 78, 69, 83, 68, 87, 83, 91, 29}},
	{"", nil},
}

func TestBPEKnownEncodings(t *testing.T) {
	for _, dir := range []string{"testdata/bpe", "testdata/bpe_json"} {
		tok, err := LoadBPE(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range bpeCases {
			got := tok.Encode(c.text)
			if !reflect.DeepEqual(got, c.ids) && !(len(got) == 0 && len(c.ids) == 0) {
				t.Errorf("%s: Encode(%q) = %v, want %v", dir, c.text, got, c.ids)
			}
			if back := tok.Decode(got); back != c.text {
				t.Errorf("%s: Decode(Encode(%q)) = %q", dir, c.text, back)
			}
		}
		if tok.EOS() != 271 || tok.VocabSize() != 272 || tok.Decode([]int32{271}) != "<|endoftext|>" {
			t.Errorf("%s: EOS %d, vocab %d", dir, tok.EOS(), tok.VocabSize())
		}
		if len(tok.Fingerprint()) != 64 {
			t.Errorf("fingerprint %q", tok.Fingerprint())
		}
	}
	a, _ := LoadBPE("testdata/bpe")
	b, _ := LoadBPE("testdata/bpe_json")
	if a.Fingerprint() == b.Fingerprint() {
		t.Error("different files, same fingerprint")
	}
}

func TestPretokenize(t *testing.T) {
	got := pretokenize("Hello, world! It's 2024.\n\n  Done  ")
	want := []string{"Hello", ",", " world", "!", " It", "'s", " 2024", ".", "\n\n ", " Done", "  "}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// Any UTF-8 text survives encode and decode, with both tokenizers.
func TestTokenizersRoundTrip(t *testing.T) {
	bpe, err := LoadBPE("testdata/bpe")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("ab the12 \n\t'sll👋éß中文\u00a0\u2028!?.,-_'")
	for i := 0; i < 500; i++ {
		var b strings.Builder
		for j := rng.IntN(40); j > 0; j-- {
			if rng.IntN(10) == 0 {
				b.WriteRune(rune(rng.IntN(0x10FFFF)))
			} else {
				b.WriteRune(alphabet[rng.IntN(len(alphabet))])
			}
		}
		s := strings.ToValidUTF8(b.String(), "?")
		for _, tok := range []Tokenizer{bpe, ByteTokenizer{}} {
			if got := tok.Decode(tok.Encode(s)); got != s {
				t.Fatalf("%T: %q came back as %q", tok, s, got)
			}
		}
	}
}

func TestByteTokenizer(t *testing.T) {
	var tok ByteTokenizer
	if got := tok.Encode("aé"); !reflect.DeepEqual(got, []int32{97, 0xC3, 0xA9}) {
		t.Errorf("Encode = %v", got)
	}
	if got := tok.Decode([]int32{104, 105, ByteEOS}); got != "hi" || !utf8.ValidString(got) {
		t.Errorf("Decode = %q", got)
	}
}

func TestBPERejectsBrokenFiles(t *testing.T) {
	if _, err := LoadBPE(t.TempDir()); err == nil {
		t.Error("an empty directory loaded")
	}
	if _, err := newBPE(map[string]int32{"a": 0}, nil, ""); err == nil || !strings.Contains(err.Error(), "not a byte-level BPE") {
		t.Errorf("got %v", err)
	}
}
