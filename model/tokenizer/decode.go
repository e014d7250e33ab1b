package tokenizer

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// decoder turns tokens back into text pieces (HF's decode_chain); the
// pieces are joined at the end.
type decoder interface {
	decodeChain(tokens []string) []string
}

// byteLevelDecoder maps each token's characters back to bytes; a token
// with a character outside the byte alphabet (an added token) keeps its
// UTF-8 bytes. Invalid UTF-8 becomes U+FFFD (Rust's from_utf8_lossy).
type byteLevelDecoder struct{}

func (byteLevelDecoder) decodeChain(tokens []string) []string {
	var b []byte
	for _, t := range tokens {
		mapped := make([]byte, 0, len(t))
		ok := true
		for _, r := range t {
			by, in := runeToByte[r]
			if !in {
				ok = false
				break
			}
			mapped = append(mapped, by)
		}
		if !ok {
			mapped = []byte(t)
		}
		b = append(b, mapped...)
	}
	return []string{lossyUTF8(b)}
}

// lossyUTF8 is Rust's String::from_utf8_lossy: each maximal invalid
// sequence becomes one U+FFFD.
func lossyUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			sb.WriteRune(utf8.RuneError)
			b = b[invalidLen(b):]
			continue
		}
		sb.Write(b[:n])
		b = b[n:]
	}
	return sb.String()
}

// invalidLen is the length of the invalid sequence at the start of b, as
// Rust's Utf8Chunks counts it: the longest prefix of a well-formed
// sequence that cannot be completed (at least one byte).
func invalidLen(b []byte) int {
	need := 0
	lo, hi := byte(0x80), byte(0xBF)
	switch c := b[0]; {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	i := 1
	for ; i <= need && i < len(b); i++ {
		if b[i] < lo || b[i] > hi {
			return i
		}
		lo, hi = 0x80, 0xBF
	}
	return i
}

// metaspaceDecoder turns the replacement back into spaces, dropping it in
// the first token when the pre-tokenizer prepends one.
type metaspaceDecoder struct {
	replacement rune
	scheme      string
}

func (d metaspaceDecoder) decodeChain(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		var b strings.Builder
		for _, c := range t {
			switch {
			case c != d.replacement:
				b.WriteRune(c)
			case i == 0 && d.scheme != prependNever:
			default:
				b.WriteByte(' ')
			}
		}
		out[i] = b.String()
	}
	return out
}

type replaceDecoder struct {
	pattern *pattern
	content string
}

func (d replaceDecoder) decodeChain(tokens []string) []string {
	out := make([]string, len(tokens))
	until := time.Now().Add(DefaultEncodeBudget)
	for i, t := range tokens {
		// Past the budget a token is kept as it is (normalize returns it).
		out[i], _ = replace(d).normalize(t, until)
	}
	return out
}

// byteFallbackDecoder turns runs of <0xNN> tokens into the text they
// spell; a run that is not UTF-8 gives one U+FFFD per byte.
type byteFallbackDecoder struct{}

func (byteFallbackDecoder) decodeChain(tokens []string) []string {
	var out []string
	var pending []byte
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if utf8.Valid(pending) {
			out = append(out, string(pending))
		} else {
			for range pending {
				out = append(out, "\uFFFD")
			}
		}
		pending = pending[:0]
	}
	for _, t := range tokens {
		if len(t) == 6 && strings.HasPrefix(t, "<0x") && strings.HasSuffix(t, ">") {
			if v, err := strconv.ParseUint(t[3:5], 16, 8); err == nil {
				pending = append(pending, byte(v))
				continue
			}
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}

type fuseDecoder struct{}

func (fuseDecoder) decodeChain(tokens []string) []string { return []string{strings.Join(tokens, "")} }

// stripDecoder removes up to start leading and stop trailing copies of
// content from each token.
type stripDecoder struct {
	content     rune
	start, stop int
}

func (d stripDecoder) decodeChain(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		runes := []rune(t)
		a, b := 0, len(runes)
		for k := 0; k < d.start && a < b && runes[a] == d.content; k++ {
			a++
		}
		for k := 0; k < d.stop && b > a && runes[b-1] == d.content; k++ {
			b--
		}
		out[i] = string(runes[a:b])
	}
	return out
}

type decoderSequence []decoder

func (seq decoderSequence) decodeChain(tokens []string) []string {
	for _, d := range seq {
		tokens = d.decodeChain(tokens)
	}
	return tokens
}

func parseDecoder(raw json.RawMessage) (decoder, error) {
	if isNull(raw) {
		return nil, nil
	}
	var d struct {
		Type     string            `json:"type"`
		Decoders []json.RawMessage `json:"decoders"`
		Pattern  patternJSON       `json:"pattern"`
		Content  string            `json:"content"`
		Start    int               `json:"start"`
		Stop     int               `json:"stop"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("decoder: %w", err)
	}
	switch d.Type {
	case "ByteLevel":
		return byteLevelDecoder{}, nil
	case "Metaspace":
		var m metaspaceJSON
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("decoder Metaspace: %w", err)
		}
		ms, err := newMetaspace(m)
		if err != nil {
			return nil, fmt.Errorf("decoder %w", err)
		}
		r, _ := utf8.DecodeRuneInString(ms.replacement)
		return metaspaceDecoder{r, ms.scheme}, nil
	case "Replace":
		p, err := d.Pattern.compile()
		if err != nil {
			return nil, fmt.Errorf("decoder Replace: %w", err)
		}
		return replaceDecoder{p, d.Content}, nil
	case "ByteFallback":
		return byteFallbackDecoder{}, nil
	case "Fuse":
		return fuseDecoder{}, nil
	case "Strip":
		if utf8.RuneCountInString(d.Content) != 1 {
			return nil, fmt.Errorf("decoder Strip: content %q is not one character", d.Content)
		}
		r, _ := utf8.DecodeRuneInString(d.Content)
		return stripDecoder{r, d.Start, d.Stop}, nil
	case "Sequence":
		seq, err := parseSequence("decoder", d.Decoders, parseDecoder)
		return decoderSequence(seq), err
	}
	return nil, fmt.Errorf("unsupported decoder %q", d.Type)
}
