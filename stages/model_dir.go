package stages

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/tokenizer"
)

// onceCache loads each key's value once per process: workers share a
// frozen model across DoFn instances and bundles.
type onceCache[K comparable, V any] struct{ m sync.Map }

type onceEntry[V any] struct {
	once sync.Once
	v    V
	err  error
}

func (c *onceCache[K, V]) get(key K, load func() (V, error)) (V, error) {
	e, _ := c.m.LoadOrStore(key, &onceEntry[V]{})
	entry := e.(*onceEntry[V])
	entry.once.Do(func() { entry.v, entry.err = load() })
	return entry.v, entry.err
}

type modelKey struct{ dir, adapter, tokenizer string }

type frozenModel struct {
	m   *model.Decoder
	tok tokenizer.Tokenizer
}

// frozenModels holds the models that are only read (references), one per
// directory and tokenizer in a process; a model being trained is loaded
// with loadModel, its own copy.
var frozenModels onceCache[modelKey, frozenModel]

// loadFrozen is loadModel through the process's cache.
func loadFrozen(ctx context.Context, dir, adapter, tokenizerSpec string) (*model.Decoder, tokenizer.Tokenizer, error) {
	f, err := frozenModels.get(modelKey{dir, adapter, tokenizerSpec}, func() (frozenModel, error) {
		m, tok, err := loadModel(ctx, dir, adapter, tokenizerSpec)
		return frozenModel{m, tok}, err
	})
	return f.m, f.tok, err
}

// loadModel loads a model directory (local or gs://), with the PEFT LoRA
// adapter folder adapter (local or gs://) on it when one is given, and its
// tokenizer, which must fit the model's vocabulary.
func loadModel(ctx context.Context, dir, adapter, tokenizerSpec string) (*model.Decoder, tokenizer.Tokenizer, error) {
	local, err := LocalDir(ctx, dir)
	if err != nil {
		return nil, nil, err
	}
	if local != dir { // a copy of a remote model: it is all in memory once loaded
		defer os.RemoveAll(local)
	}
	backend, err := model.Backend()
	if err != nil {
		return nil, nil, err
	}
	m, err := model.LoadDir(local, backend, model.Float32)
	if err != nil {
		return nil, nil, err
	}
	if adapter != "" {
		if err := attachAdapter(ctx, m, adapter); err != nil {
			return nil, nil, err
		}
	}
	if strings.Contains(tokenizerSpec, "://") { // a tokenizer folder of its own on gs://
		if tokenizerSpec, err = LocalDir(ctx, tokenizerSpec); err != nil {
			return nil, nil, err
		}
		defer os.RemoveAll(tokenizerSpec)
	}
	tok, err := tokenizer.Load(tokenizerSpec, local)
	if err != nil {
		return nil, nil, err
	}
	if tok.VocabSize() > m.Config.Vocab {
		return nil, nil, fmt.Errorf("the tokenizer has %d tokens, the model only %d", tok.VocabSize(), m.Config.Vocab)
	}
	return m, tok, nil
}

// LocalDir copies a model directory on a remote filesystem (gs://) to a
// local temporary one; local paths are used as they are.
func LocalDir(ctx context.Context, dir string) (string, error) {
	if !strings.Contains(dir, "://") {
		return dir, nil
	}
	fs, err := filesystem.New(ctx, dir)
	if err != nil {
		return "", err
	}
	defer fs.Close()
	prefix := strings.TrimSuffix(dir, "/") + "/"
	names, err := fs.List(ctx, prefix+"**")
	if err != nil {
		return "", fmt.Errorf("listing %s: %w", dir, err)
	}
	if len(names) == 0 {
		return "", fmt.Errorf("no model files under %s", dir)
	}
	local, err := os.MkdirTemp("", "srdpo-model-")
	if err != nil {
		return "", err
	}
	for _, name := range names {
		rel := strings.TrimPrefix(name, prefix)
		if !filepath.IsLocal(rel) || strings.Contains(rel, `\`) {
			// An object name may hold "..": it must not place a file
			// outside the copy.
			os.RemoveAll(local)
			return "", fmt.Errorf("%s: the object name %q would leave the model's directory", dir, rel)
		}
		dst := filepath.Join(local, filepath.FromSlash(rel))
		if err := copyOut(ctx, fs, name, dst); err != nil {
			os.RemoveAll(local)
			return "", err
		}
	}
	return local, nil
}

// copyOut streams one remote file to a local path: a model's multi-GB
// shards never sit in memory whole.
func copyOut(ctx context.Context, fs filesystem.Interface, name, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	r, err := fs.OpenRead(ctx, name)
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	defer r.Close()
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("reading %s: %w", name, err)
	}
	return f.Close()
}

// attachAdapter loads the PEFT LoRA adapter folder dir (local or gs://)
// onto m.
func attachAdapter(ctx context.Context, m *model.Decoder, dir string) error {
	local, err := LocalDir(ctx, dir)
	if err != nil {
		return err
	}
	if local != dir {
		defer os.RemoveAll(local)
	}
	if err := m.LoadPEFTAdapter(local); err != nil {
		return fmt.Errorf("adapter %s: %w", dir, err)
	}
	return nil
}
