package bench

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/tokenizer"
)

// corpusWords are the words synthetic corpora are made of.
var corpusWords = strings.Fields(`the of and to in is was for on that with as by at from his her an were are which this be or had
not but one all their there been has when who will more no if out so said what up its about into than them can only other
new some could time these two may then do first any my now such like our over man me even most made after also did many
before must through back years where much your way well down should because each just those people how too little state good
very make world still own see men work long get here between both life being under never day same another know while last`)

// corpusShape is the words of a synthetic record's prompt and of each
// response.
type corpusShape struct{ prompt, response int }

var (
	// ingestShape is ~900 bytes a record, as the issue measured.
	ingestShape = corpusShape{30, 60}
	// scoringShape is ~130 bytes a record: short enough that the byte-level
	// scoring of a million pairs by a tiny model takes minutes, not hours.
	scoringShape = corpusShape{4, 6}
)

// writeCorpus writes n TRL-standard records of the shape and returns the
// file's size.
func writeCorpus(path string, n int, shape corpusShape, seed uint64) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(seed, 5))
	words := func(k int) string {
		s := make([]string, k)
		for i := range s {
			s[i] = corpusWords[rng.IntN(len(corpusWords))]
		}
		return strings.Join(s, " ")
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(w, `{"id": "pair-%08d", "prompt": %q, "chosen": %q, "rejected": %q}`+"\n", i, words(shape.prompt),
			" "+words(shape.response), " "+words(shape.response))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// benchCorpusScale runs `srdpo score --ingest-only` (corpora of ~900-byte
// records) and `srdpo score` with a tiny byte-level model (~130-byte
// records) on synthetic corpora of each size on the default runner, each
// in its own process, and reports wall time, records/s, MB/s and the
// process's peak RSS: how memory grows with the corpus.
func benchCorpusScale(sizes []int) ([]Figure, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "srdpo-corpus-scale-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	backend, err := model.Backend()
	if err != nil {
		return nil, err
	}
	tiny, err := model.New(model.Config{Vocab: tokenizer.Byte{}.VocabSize(), Context: 64, Layers: 1, Heads: 2, Width: 16, NormEps: 1e-5,
		TiedHead: true, DType: model.Float32}, 1, backend)
	if err != nil {
		return nil, err
	}
	modelDir := filepath.Join(dir, "tiny-model")
	if err := tiny.Save(modelDir); err != nil {
		return nil, err
	}
	steps := []struct {
		name  string
		shape corpusShape
		args  []string
	}{
		{"ingest-only", ingestShape, []string{"--ingest-only", "--shards", "8"}},
		{"scoring (tiny model)", scoringShape, []string{"--model", modelDir, "--tokenizer", "byte", "--shards", "auto"}},
	}
	var out []Figure
	for _, st := range steps {
		for _, n := range sizes {
			f, err := benchCorpusStep(self, dir, st.name, st.shape, st.args, n)
			if err != nil {
				return nil, err
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// benchCorpusStep measures one srdpo score process on a corpus of n pairs.
func benchCorpusStep(self, dir, step string, shape corpusShape, args []string, n int) (Figure, error) {
	corpus := filepath.Join(dir, fmt.Sprintf("corpus-%d.jsonl", n))
	outDir := filepath.Join(dir, fmt.Sprintf("out-%d", n))
	defer os.Remove(corpus)
	defer os.RemoveAll(outDir)
	size, err := writeCorpus(corpus, n, shape, 1)
	if err != nil {
		return Figure{}, err
	}
	fmt.Fprintf(os.Stderr, "srdpo bench: %s of %d pairs (%.0f MB)…\n", step, n, float64(size)/1e6)
	cmd := exec.Command(self, append([]string{"score", "--corpus", corpus, "--out", filepath.Join(outDir, "prefs")}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return Figure{}, fmt.Errorf("%s of %d pairs: %v\n%s", step, n, err, stderr.String())
	}
	wall := time.Since(start).Seconds()
	rss := float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024
	return Figure{Name: "corpus-scale", Setting: Setting{"step": step, "runner": "prism (default)", "pairs": n,
		"corpus_mb": float64(size) / 1e6, "wall_s": wall, "records_per_s": float64(n) / wall, "mb_per_s": float64(size) / 1e6 / wall,
		"child_peak_rss_mib": rss}}, nil
}
