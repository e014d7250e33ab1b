package stages

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// A Hugging Face dataset folder — a Hub repository as downloaded — holds
// one config's data files (data/{split}-*.parquet, {split}/…, or files at
// its root) or several configs, each in a folder of its own
// (<config>/{split}-*.parquet, as cais/mmlu's all/ and abstract_algebra/,
// or ai2_arc's ARC-Challenge/ and ARC-Easy/). Reading several configs as
// one would mix them, so such a root is refused with the configs' names.

// splitNames are the split names (and their common spellings) that may
// head a path inside one config.
var splitNames = []string{"train", "test", "validation", "valid", "dev", "eval"}

// datasetConfigs groups a folder's data files by config: the first path
// segment when it is neither "data" nor a split, else "" (one config).
func datasetConfigs(dir string, files []string) map[string][]string {
	out := map[string][]string{}
	for _, f := range files {
		rel := strings.TrimPrefix(f, dir)
		seg, rest, nested := strings.Cut(rel, "/")
		config := ""
		if nested && rest != "" && seg != "data" && !isSplitSegment(seg) {
			config = seg
		}
		out[config] = append(out[config], f)
	}
	return out
}

func isSplitSegment(seg string) bool {
	for _, s := range splitNames {
		if ofSplit(seg, s) {
			return true
		}
	}
	return false
}

// configNames lists the configs of a folder holding several.
func configNames(configs map[string][]string) []string {
	var names []string
	for n := range configs {
		if n == "" {
			n = "(files outside a config folder)"
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// folderPrefix is a folder's path with one trailing slash, as listed files begin.
func folderPrefix(p string) string {
	if strings.Contains(p, "://") {
		return strings.TrimSuffix(p, "/") + "/"
	}
	return strings.TrimSuffix(filepath.ToSlash(filepath.Clean(p)), "/") + "/"
}

// DatasetFiles resolves a corpus path: a file or glob is returned as it is;
// a dataset folder (local or gs://) is its data files, of one config (a
// folder of several is an error naming them), and of one split when split
// is not "" (its files named by the split, as Hugging Face names them).
func DatasetFiles(ctx context.Context, p, split string) ([]string, error) {
	if strings.ContainsAny(p, "*?[") {
		return []string{p}, nil
	}
	all, isFile, err := folderFiles(ctx, p)
	if err != nil || isFile {
		return []string{p}, nil // a file, or nothing there: the reader says which
	}
	dir := folderPrefix(p)
	configs := datasetConfigs(dir, all)
	if len(configs) > 1 {
		return nil, fmt.Errorf("%s holds several dataset configs (%s): name one, e.g. %s%s", p, strings.Join(configNames(configs), ", "), dir, configNames(configs)[0])
	}
	var files []string
	for _, f := range all {
		if split == "" || ofSplit(strings.TrimPrefix(f, dir), split) {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		if split != "" {
			return nil, fmt.Errorf("no files of the split %q under %s", split, p)
		}
		return nil, fmt.Errorf("no .parquet or .jsonl files under %s", p)
	}
	return files, nil
}
