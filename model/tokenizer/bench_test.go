package tokenizer

import (
	"strings"
	"testing"
	"time"
)

// BenchmarkEncode measures encoding throughput (bytes of text per second)
// on SampleText, encoded paragraph by paragraph as a corpus is, with a
// fresh word cache each run.
func BenchmarkEncode(b *testing.B) {
	text := SampleText(1, 1<<20)
	records := strings.SplitAfter(text, "\n\n")
	for _, c := range []struct {
		name string
		dir  func(testing.TB) string
	}{
		{"gpt2-files", func(t testing.TB) string { return gpt2Files(t) }},
		{"qwen3", func(t testing.TB) string { return realDir(t, "qwen3") }},
		{"llama3-layout", func(t testing.TB) string { return variantDir(t, "llama3-layout") }},
		{"mistral", func(t testing.TB) string { return realDir(t, "mistral") }},
	} {
		b.Run(c.name, func(b *testing.B) {
			dir := c.dir(b)
			b.SetBytes(int64(len(text)))
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				tok, err := LoadDir(dir)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				for _, r := range records {
					if _, err := tok.Encode(r); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkSplit compares each hand-written split with its regex.
func BenchmarkSplit(b *testing.B) {
	records := strings.SplitAfter(SampleText(1, 1<<20), "\n\n")
	for _, c := range []struct{ name, src string }{{"gpt2", gpt2Pattern}, {"llama3", llama3Pattern}, {"qwen2", qwen2Pattern}} {
		re, err := newRegexPattern(c.src)
		if err != nil {
			b.Fatal(err)
		}
		slow := &pattern{source: c.src, re: re.re}
		for _, p := range []struct {
			kind string
			p    *pattern
		}{{"fast", re}, {"regexp2", slow}} {
			b.Run(c.name+"/"+p.kind, func(b *testing.B) {
				b.SetBytes(1 << 20)
				for i := 0; i < b.N; i++ {
					for _, r := range records {
						if _, err := p.p.find(r, time.Now().Add(time.Hour)); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}
