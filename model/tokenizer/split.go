package tokenizer

import "fmt"

// piece is a part of the text on its way through the pipeline.
type piece struct {
	text string
	// atStart: the piece begins at offset 0 of the original text (HF's
	// offsets_original().0 == 0, which Metaspace's prepend_scheme "first"
	// asks).
	atStart bool
	// token is the id of an added token the piece already is, or -1.
	token int32
}

// behavior is HF's SplitDelimiterBehavior: what happens to the matched
// delimiters when a piece is split.
type behavior int

const (
	removed behavior = iota
	isolated
	mergedWithPrevious
	mergedWithNext
	contiguous
)

func parseBehavior(s string) (behavior, error) {
	switch s {
	case "Removed":
		return removed, nil
	case "Isolated":
		return isolated, nil
	case "MergedWithPrevious":
		return mergedWithPrevious, nil
	case "MergedWithNext":
		return mergedWithNext, nil
	case "Contiguous":
		return contiguous, nil
	}
	return 0, fmt.Errorf("unsupported split behavior %q", s)
}

// cover turns matches into spans covering all of s, each marked as a
// match or not (HF's Pattern::find_matches).
type mark struct {
	span
	match bool
}

func cover(n int, matches []span) []mark {
	if n == 0 {
		return []mark{{span{0, 0}, false}}
	}
	out := make([]mark, 0, 2*len(matches)+1)
	prev := 0
	for _, m := range matches {
		if prev != m.start {
			out = append(out, mark{span{prev, m.start}, false})
		}
		out = append(out, mark{m, true})
		prev = m.end
	}
	if prev != n {
		out = append(out, mark{span{prev, n}, false})
	}
	return out
}

// splitPiece cuts p at the matches with the given behavior, as HF's
// NormalizedString::split does; empty parts are dropped (as
// PreTokenizedString::split drops them).
func splitPiece(p piece, matches []span, invert bool, b behavior) []piece {
	marks := cover(len(p.text), matches)
	if invert {
		for i := range marks {
			marks[i].match = !marks[i].match
		}
	}
	type part struct {
		span
		remove bool
	}
	parts := make([]part, 0, len(marks))
	switch b {
	case isolated:
		for _, m := range marks {
			parts = append(parts, part{m.span, false})
		}
	case removed:
		for _, m := range marks {
			parts = append(parts, part{m.span, m.match})
		}
	case contiguous:
		prev := false
		for _, m := range marks {
			if m.match == prev && len(parts) > 0 {
				parts[len(parts)-1].end = m.end
			} else {
				parts = append(parts, part{m.span, false})
			}
			prev = m.match
		}
	case mergedWithPrevious:
		prev := false
		for _, m := range marks {
			if m.match && !prev && len(parts) > 0 {
				parts[len(parts)-1].end = m.end
			} else {
				parts = append(parts, part{m.span, false})
			}
			prev = m.match
		}
	case mergedWithNext:
		prev := false
		for i := len(marks) - 1; i >= 0; i-- {
			m := marks[i]
			if m.match && !prev && len(parts) > 0 {
				parts[len(parts)-1].start = m.start
			} else {
				parts = append(parts, part{m.span, false})
			}
			prev = m.match
		}
		for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
			parts[i], parts[j] = parts[j], parts[i]
		}
	}
	out := make([]piece, 0, len(parts))
	for _, pt := range parts {
		if pt.remove || pt.end == pt.start {
			continue
		}
		out = append(out, piece{text: p.text[pt.start:pt.end], atStart: p.atStart && pt.start == 0, token: -1})
	}
	return out
}
