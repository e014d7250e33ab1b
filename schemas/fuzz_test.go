package schemas

import (
	"bytes"
	"testing"
)

// FuzzReadFile: any bytes read as an Arrow or Parquet shard of any table,
// whole or mapped in place, give valid rows or an error — never a panic (offsets past the buffers,
// lengths the file cannot hold, schemas of another table).
func FuzzReadFile(f *testing.F) {
	md := NewMetadata().With(KeyAugPrompt, DefaultAugPrompt)
	for _, tb := range []*Table{Preferences, ScoredRows, Metrics, Evals} {
		var rows []Row
		switch tb {
		case Preferences:
			rows = samplePreferences()
		case ScoredRows:
			rows = []Row{Scored{ID: "a", PromptIDs: []int32{1, 2}, AugPromptIDs: []int32{7, 1, 2}, ChosenIDs: []int32{3},
				RejectedIDs: []int32{4, 5}, PromptTokens: 2, AugPromptTokens: 3, ChosenTokens: 1, RejectedTokens: 2}}
		}
		for _, fm := range []Format{FormatArrow, FormatParquet} {
			var buf bytes.Buffer
			if err := WriteFile(&buf, fm, tb, md, rows); err != nil {
				f.Fatal(err)
			}
			f.Add(buf.Bytes(), uint8(0))
			f.Add(buf.Bytes()[:buf.Len()/2], uint8(1))
		}
	}
	tables := []*Table{Preferences, ScoredRows, Metrics, Evals, Sweeps, DeadLetters}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		tb := tables[int(which)%len(tables)]
		if af, err := OpenArrowFile(data, tb); err == nil { // as shards are read in place
			for i := int64(0); i < af.Rows() && i < 1000; i++ {
				af.Row(i)
			}
			af.Close()
		}
		for _, fm := range []Format{FormatArrow, FormatParquet} {
			rows, _, err := ReadFile(data, fm, tb)
			if err != nil {
				continue
			}
			for _, r := range rows {
				if err := r.Validate(); err != nil {
					t.Errorf("%s/%s: a row read back is not valid: %v", tb.Name, fm, err)
				}
			}
		}
	})
}
