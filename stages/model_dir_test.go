package stages

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/srdpo/srdpo/runners/gcstest"
)

// A gs:// object name may hold "..": copying a model directory must not
// write outside its local copy (fake GCS).
func TestLocalDirRefusesEscapingObjectNames(t *testing.T) {
	gcstest.Start(t, "models")
	ctx := context.Background()
	fs, err := filesystem.New(ctx, "gs://models/")
	if err != nil {
		t.Fatal(err)
	}
	if err := filesystem.Write(ctx, fs, "gs://models/ok/config.json", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	local, err := LocalDir(ctx, "gs://models/ok")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(local)
	if b, err := os.ReadFile(filepath.Join(local, "config.json")); err != nil || string(b) != `{}` {
		t.Fatalf("%q %v", b, err)
	}
	escape := "srdpo-escape-" + filepath.Base(t.TempDir())
	if err := filesystem.Write(ctx, fs, "gs://models/bad/../../"+escape, []byte("x")); err != nil {
		t.Fatal(err)
	}
	_, err = LocalDir(ctx, "gs://models/bad")
	if err == nil || !strings.Contains(err.Error(), `would leave the model's directory`) {
		t.Fatalf("err = %v", err)
	}
	for _, at := range []string{filepath.Join(os.TempDir(), escape), filepath.Join(filepath.Dir(os.TempDir()), escape)} {
		if _, err := os.Stat(at); err == nil {
			os.Remove(at)
			t.Errorf("the object was written to %s", at)
		}
	}
}
