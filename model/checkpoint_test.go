package model

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/ml/model"
)

func TestSaveLoadIsExact(t *testing.T) {
	m := tinyModel(t, "float32", 9)
	dir := filepath.Join(t.TempDir(), "ref")
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir, m.Backend)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := m.Weights()
	b, _ := back.Weights()
	if !reflect.DeepEqual(a, b) || back.Config != m.Config || mustFingerprint(t, back) != mustFingerprint(t, m) {
		t.Fatal("weights or config changed over save and load")
	}
	pairs := randomPairs(10, 3, m.Config.Vocab, m.Config.Context)
	s1, _ := m.NewScorer(m.Config.Context)
	s2, _ := back.NewScorer(m.Config.Context)
	x, _ := s1.LogProbs(pairs)
	y, _ := s2.LogProbs(pairs)
	if !reflect.DeepEqual(x, y) {
		t.Fatalf("scores differ after reload: %v %v", x, y)
	}
	// A different seed, a different fingerprint.
	if mustFingerprint(t, tinyModel(t, "float32", 10)) == mustFingerprint(t, m) {
		t.Fatal("two models share a fingerprint")
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"vocab_size": 37, "n_positions": 48, "n_layer": 3, "n_head": 2, "n_embd": 16}`), 0o644)
	if _, err := Load(dir, m.Backend); err == nil {
		t.Fatal("a config that does not match the weights loaded")
	}
}

func mustFingerprint(t testing.TB, m *Decoder) string {
	t.Helper()
	fp, err := m.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// A model whose weights cannot be read has no fingerprint: an error, not a
// string that would be compared with others.
func TestFingerprintOfUnreadableWeights(t *testing.T) {
	m := &Decoder{Config: Tiny(257), Store: model.NewStore()}
	if fp, err := m.Fingerprint(); err == nil || fp != "" || !strings.Contains(err.Error(), "is not in the model") {
		t.Errorf("fingerprint %q, error %v", fp, err)
	}
}
