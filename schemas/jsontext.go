package schemas

import "strconv"

// UnpairedSurrogate finds a \u escape of a UTF-16 surrogate without its
// pair in raw JSON text — what Go's encoding/json silently turns into
// U+FFFD. It returns the escape's value and byte offset.
func UnpairedSurrogate(raw []byte) (v uint16, at int, found bool) {
	hex4 := func(i int) (uint16, bool) {
		if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
			return 0, false
		}
		x, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 16)
		return uint16(x), err == nil
	}
	for i := 0; i+1 < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		x, ok := hex4(i)
		if !ok {
			i++ // a one-character escape such as \\ or \"
			continue
		}
		switch {
		case x >= 0xD800 && x < 0xDC00:
			if y, ok := hex4(i + 6); !ok || y < 0xDC00 || y > 0xDFFF {
				return x, i, true
			}
			i += 11
		case x >= 0xDC00 && x <= 0xDFFF:
			return x, i, true
		default:
			i += 5
		}
	}
	return 0, 0, false
}
