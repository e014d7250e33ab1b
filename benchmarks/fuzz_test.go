package benchmarks

import (
	"bufio"
	"os"
	"path/filepath"
	"testing"
)

// FuzzBenchmarkDocument: any record of a benchmark file parses into a
// document of the task or is an error, never a panic; a parsed document
// makes its requests (with itself as the one few-shot example) without
// a panic, and its gold answer is one of its choices.
func FuzzBenchmarkDocument(f *testing.F) {
	tasks := All()
	files, _ := filepath.Glob(filepath.Join("testdata", "*.jsonl"))
	for _, p := range files {
		file, err := os.Open(p)
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(file)
		sc.Buffer(nil, 1<<20)
		for n := 0; n < 3 && sc.Scan(); n++ {
			for i := range tasks {
				f.Add(uint8(i), append([]byte(nil), sc.Bytes()...))
			}
		}
		file.Close()
	}
	f.Add(uint8(0), []byte(`{"choices":{"text":[],"label":[]},"answerKey":"A","question":"q"}`))
	f.Add(uint8(0), []byte(`{"choices":{"text":["a"],"label":["A","B"]},"answerKey":"B","question":"q"}`))
	f.Fuzz(func(t *testing.T, which uint8, record []byte) {
		task := tasks[int(which)%len(tasks)]
		d, err := task.Parse(record)
		if err != nil {
			return
		}
		task.Requests(d, []Doc{d})
		if task.Kind == MultipleChoice && (d.Gold < 0 || d.Gold >= len(d.Choices)) {
			t.Errorf("%s: gold %d of %d choices from %q", task.Name, d.Gold, len(d.Choices), record)
		}
	})
}
