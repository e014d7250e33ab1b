package stages

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/srdpo/srdpo/benchmarks"
)

// BenchmarkSpec is one benchmark of an evaluation: the harness task, the
// dataset's files as downloaded, and how many few-shot examples.
type BenchmarkSpec struct {
	Name string // the harness's task name: arc_challenge, hellaswag, mmlu, …
	// Path is a file, a glob, or a folder (local or gs://) of Parquet or
	// JSONL(.gz) files in the dataset's own schema. In a folder, files of
	// the task's evaluated split (a path segment "test", "test-…",
	// "validation…") are the documents and those of its few-shot split
	// ("train…", "dev…") the few-shot pool; a folder without split names
	// is all documents.
	Path    string
	Fewshot string // the few-shot pool's files, when Path is not a folder holding them
	Shots   int    // num_fewshot; -1 for the task's default
	// ChoiceFile: Path is one of srdpo's multiple-choice files (srdpo eval
	// --mc; benchmarks.ChoiceFile) and Name the benchmark's name in the
	// rows, not a harness task. Its items marked fewshot are the pool.
	ChoiceFile bool
}

// task is the benchmark's task: the harness's by name, or a choice file's.
func (bs BenchmarkSpec) task() (*benchmarks.Task, error) {
	if bs.ChoiceFile {
		return benchmarks.ChoiceFile(bs.Name), nil
	}
	return benchmarks.Lookup(bs.Name)
}

// benchmarkRecordLimit bounds one record of a benchmark file.
const benchmarkRecordLimit = 64 << 20

// loadedBenchmark is a benchmark's documents as evaluated: the selected
// documents (after --limit), each with its few-shot examples' indices
// into Pool.
type loadedBenchmark struct {
	Task  *benchmarks.Task
	Docs  []benchmarks.Doc
	Shots [][]int
	Pool  []benchmarks.Doc
}

type benchmarkKey struct {
	Spec      BenchmarkSpec
	Limit     int
	LimitSeed int64
}

var loadedBenchmarks onceCache[benchmarkKey, *loadedBenchmark]

// loadBenchmark reads and selects a benchmark's documents once per process.
func loadBenchmark(ctx context.Context, spec BenchmarkSpec, limit int, limitSeed int64) (*loadedBenchmark, error) {
	return loadedBenchmarks.get(benchmarkKey{spec, limit, limitSeed}, func() (*loadedBenchmark, error) {
		b, err := readBenchmark(ctx, spec, limit, limitSeed)
		if err != nil {
			return nil, fmt.Errorf("benchmark %s (%s): %w", spec.Name, spec.Path, err)
		}
		return b, nil
	})
}

func readBenchmark(ctx context.Context, spec BenchmarkSpec, limit int, limitSeed int64) (*loadedBenchmark, error) {
	task, err := spec.task()
	if err != nil {
		return nil, err
	}
	if spec.ChoiceFile {
		return readChoiceFile(ctx, spec, task, limit, limitSeed)
	}
	evalFiles, poolFiles, err := benchmarkFiles(ctx, spec.Path, task)
	if err != nil {
		return nil, err
	}
	docs, err := readDocs(ctx, task, evalFiles)
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("no documents in %v", evalFiles)
	}
	docs = selectDocs(task, docs, limit, limitSeed)
	k := spec.Shots
	if k < 0 {
		k = task.Fewshot
	}
	b := &loadedBenchmark{Task: task, Docs: docs}
	if k == 0 {
		b.Shots = make([][]int, len(docs))
		return b, nil
	}
	if spec.Fewshot != "" {
		if poolFiles, err = matchFiles(ctx, spec.Fewshot); err != nil {
			return nil, err
		}
	}
	if len(poolFiles) == 0 {
		return nil, fmt.Errorf("%d-shot needs the %s split's files: name a folder holding them or give --fewshot-docs %s=PATH", k, task.FewshotSplit, spec.Name)
	}
	if b.Pool, err = readDocs(ctx, task, poolFiles); err != nil {
		return nil, err
	}
	same := strings.Join(poolFiles, "\n") == strings.Join(evalFiles, "\n")
	if b.Shots, err = task.Shots(docs, b.Pool, k, same); err != nil {
		return nil, err
	}
	return b, nil
}

// readChoiceFile reads a choice file: its items marked fewshot are the
// pool, the first k of which go in front of every other item.
func readChoiceFile(ctx context.Context, spec BenchmarkSpec, task *benchmarks.Task, limit int, limitSeed int64) (*loadedBenchmark, error) {
	all, err := readDocs(ctx, task, []string{spec.Path})
	if err != nil {
		return nil, err
	}
	b := &loadedBenchmark{Task: task}
	for _, d := range all {
		if d.Fewshot {
			b.Pool = append(b.Pool, d)
		} else {
			b.Docs = append(b.Docs, d)
		}
	}
	if len(b.Docs) == 0 {
		return nil, fmt.Errorf("no items to evaluate: all %d are marked fewshot", len(all))
	}
	b.Docs = selectDocs(task, b.Docs, limit, limitSeed)
	k := max(spec.Shots, 0)
	if len(b.Pool) < k {
		return nil, fmt.Errorf("%d-shot needs %d items marked fewshot, the file has %d", k, k, len(b.Pool))
	}
	b.Shots, err = task.Shots(b.Docs, b.Pool, k, false)
	return b, err
}

// selectDocs keeps limit documents (0: all): the first ones, as the
// harness's --limit, or with limitSeed ≠ 0 a seeded random subset in
// their file order. MMLU's limit applies to each subject, as the harness
// applies it to each subtask.
func selectDocs(task *benchmarks.Task, docs []benchmarks.Doc, limit int, limitSeed int64) []benchmarks.Doc {
	if limit <= 0 {
		return docs
	}
	groups := map[string][]int{}
	var order []string
	for i, d := range docs {
		g := ""
		if task.PerSubject {
			g = d.Subject
		}
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], i)
	}
	var keep []int
	for _, g := range order {
		idx := groups[g]
		if limitSeed != 0 && len(idx) > limit {
			rng := rand.New(rand.NewPCG(uint64(limitSeed), 0x5eed))
			rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
			idx = idx[:limit]
			sort.Ints(idx)
		}
		keep = append(keep, idx[:min(limit, len(idx))]...)
	}
	sort.Ints(keep)
	out := make([]benchmarks.Doc, len(keep))
	for i, j := range keep {
		out[i] = docs[j]
	}
	return out
}

// benchmarkFiles resolves a benchmark path into the evaluated split's
// files and the few-shot split's, each sorted by name (the dataset's
// order).
func benchmarkFiles(ctx context.Context, p string, task *benchmarks.Task) (evalFiles, poolFiles []string, err error) {
	if strings.ContainsAny(p, "*?[") {
		files, err := matchFiles(ctx, p)
		return files, nil, err
	}
	dir := strings.TrimSuffix(p, "/") + "/"
	if !strings.Contains(p, "://") {
		dir = strings.TrimSuffix(filepath.ToSlash(filepath.Clean(p)), "/") + "/"
	}
	all, isFile, err := folderFiles(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	if isFile {
		return []string{p}, nil, nil
	}
	if len(all) == 0 {
		return nil, nil, fmt.Errorf("no .parquet or .jsonl files at %s", p)
	}
	if configs := datasetConfigs(dir, all); len(configs) > 1 {
		names := configNames(configs)
		return nil, nil, fmt.Errorf("%s holds several dataset configs (%s): name the one %s is evaluated on, e.g. %s%s", p, strings.Join(names, ", "), task.Name, dir, names[0])
	}
	for _, f := range all {
		rel := strings.TrimPrefix(f, dir)
		switch {
		case ofSplit(rel, task.EvalSplit):
			evalFiles = append(evalFiles, f)
		case ofSplit(rel, task.FewshotSplit):
			poolFiles = append(poolFiles, f)
		}
	}
	if task.FewshotSplit == task.EvalSplit {
		poolFiles = evalFiles
	}
	if evalFiles == nil {
		named := false
		for _, f := range all {
			for _, s := range []string{"train", "test", "validation", "dev"} {
				named = named || ofSplit(strings.TrimPrefix(f, dir), s)
			}
		}
		if named {
			return nil, nil, fmt.Errorf("no files of the %s split under %s (the harness evaluates %s on it)", task.EvalSplit, p, task.Name)
		}
		evalFiles = all
	}
	return evalFiles, poolFiles, nil
}

// ofSplit tells whether a path inside a dataset folder belongs to split:
// a segment that is the split's name or begins with it and "-", "." or
// "_" (Hugging Face's "test-00000-of-00001.parquet", "default/train/0000.parquet").
func ofSplit(rel, split string) bool {
	for _, seg := range strings.Split(rel, "/") {
		if seg == split {
			return true
		}
		if rest, ok := strings.CutPrefix(seg, split); ok && rest != "" && strings.ContainsRune("-._", rune(rest[0])) {
			return true
		}
	}
	return false
}

// folderFiles lists the Parquet and JSONL files under a folder, at any
// depth, sorted; or tells that p is a file.
func folderFiles(ctx context.Context, p string) (files []string, isFile bool, err error) {
	if !strings.Contains(p, "://") {
		info, err := os.Stat(p)
		if err != nil {
			return nil, false, err
		}
		if !info.IsDir() {
			return nil, true, nil
		}
		err = filepath.WalkDir(p, func(f string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && hasDocExt(f) {
				files = append(files, filepath.ToSlash(f))
			}
			return err
		})
		sort.Strings(files)
		return files, false, err
	}
	fs, err := filesystem.New(ctx, p)
	if err != nil {
		return nil, false, err
	}
	defer fs.Close()
	if found, err := fs.List(ctx, p); err == nil && len(found) == 1 && found[0] == p {
		return nil, true, nil
	}
	found, err := fs.List(ctx, strings.TrimSuffix(p, "/")+"/**")
	if err != nil {
		return nil, false, fmt.Errorf("listing %s: %w", p, err)
	}
	for _, f := range found {
		if hasDocExt(f) {
			files = append(files, f)
		}
	}
	sort.Strings(files)
	return files, false, nil
}

// hasDocExt tells a benchmark folder's document files from the rest.
func hasDocExt(name string) bool {
	f, _, ok := fileFormatOf(name)
	return ok && !f.metadata
}

// matchFiles lists a glob's Parquet and JSONL files, sorted.
func matchFiles(ctx context.Context, glob string) ([]string, error) {
	fs, err := filesystem.New(ctx, glob)
	if err != nil {
		return nil, err
	}
	defer fs.Close()
	found, err := fs.List(ctx, glob)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", glob, err)
	}
	var out []string
	for _, f := range found {
		if hasDocExt(f) {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("no .parquet or .jsonl files match %s", glob)
	}
	return out, nil
}

// readDocs parses the files' records into documents, in order.
func readDocs(ctx context.Context, task *benchmarks.Task, files []string) ([]benchmarks.Doc, error) {
	var docs []benchmarks.Doc
	for _, f := range files {
		records, err := readRecords(ctx, f)
		if err != nil {
			return nil, err
		}
		ds, err := task.ParseAll(records, func(i int) string { return fmt.Sprintf("%s record %d", f, i+1) })
		if err != nil {
			return nil, err
		}
		docs = append(docs, ds...)
	}
	return docs, nil
}

// readRecords reads a Parquet or JSONL(.gz) file's records as JSON objects.
func readRecords(ctx context.Context, name string) ([][]byte, error) {
	fs, err := filesystem.New(ctx, name)
	if err != nil {
		return nil, err
	}
	defer fs.Close()
	rc, err := fs.OpenRead(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	defer rc.Close()
	var r io.Reader = rc
	if isGzip(name) {
		zr, err := gzip.NewReader(rc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		size, err := fs.Size(ctx, name)
		if err != nil {
			size = 0 // the floor alone bounds it
		}
		r = limitExpansion(zr, size, GzipMaxRatio, GzipMinLimit)
	}
	var out [][]byte
	var over error
	emit := func(rec rawRecord) {
		if rec.Over && over == nil {
			over = fmt.Errorf("%s record %d is longer than %d bytes", name, rec.Record, benchmarkRecordLimit)
		}
		out = append(out, rec.Data)
	}
	format, ext, ok := fileFormatOf(name)
	if !ok || format.metadata {
		return nil, fmt.Errorf("%s: extension %q is not a benchmark's documents (want Parquet or JSON Lines, optionally .gz)", name, ext)
	}
	err = format.read(r, lineRange{End: -1}, benchmarkRecordLimit, emit)
	if err != nil {
		var pe *positionedError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s: %w", name, pe.err)
		}
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return out, over
}
