package pipelines

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
)

// corpusWords are the words synthetic corpora are made of.
var corpusWords = strings.Fields(`the of and to in is was for on that with as by at from his her an were are which this be or had
not but one all their there been has when who will more no if out so said what up its about into than them can only other
new some could time these two may then do first any my now such like our over man me even most made after also did many
before must through back years where much your way well down should because each just those people how too little state good
very make world still own see men work long get here between both life being under never day same another know while last`)

// writeCorpus writes n TRL-standard records (prompt 30 words, responses 60
// each, ~900 bytes a record) and returns the file's size.
func writeCorpus(path string, n int, seed uint64) (int64, error) {
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
		fmt.Fprintf(w, `{"id": "pair-%08d", "prompt": %q, "chosen": %q, "rejected": %q}`+"\n", i, words(30), " "+words(60), " "+words(60))
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

// benchCorpusScale runs `srdpo score --ingest-only` on synthetic corpora
// of each size on the default runner, each in its own process, and reports
// wall time, records/s, MB/s and the process's peak RSS: how memory grows
// with the corpus.
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
	var out []Figure
	for _, n := range sizes {
		corpus := filepath.Join(dir, fmt.Sprintf("corpus-%d.jsonl", n))
		size, err := writeCorpus(corpus, n, 1)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(os.Stderr, "srdpo bench: ingesting %d pairs (%.0f MB)…\n", n, float64(size)/1e6)
		cmd := exec.Command(self, "score", "--ingest-only", "--corpus", corpus, "--out", filepath.Join(dir, fmt.Sprintf("out-%d", n), "prefs"), "--shards", "8")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("ingesting %d pairs: %v\n%s", n, err, stderr.String())
		}
		wall := time.Since(start).Seconds()
		rss := float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024
		out = append(out, Figure{"figure": "corpus-scale", "step": "ingest-only", "runner": "prism (default)", "pairs": n,
			"corpus_mb": float64(size) / 1e6, "wall_s": wall, "records_per_s": float64(n) / wall, "mb_per_s": float64(size) / 1e6 / wall,
			"child_peak_rss_mib": rss})
		os.RemoveAll(filepath.Join(dir, fmt.Sprintf("out-%d", n)))
		os.Remove(corpus)
	}
	return out, nil
}
