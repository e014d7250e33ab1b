package pipelines

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/srdpo/srdpo/runners"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages"
)

// ExportConfig is srdpo export's settings: scored shards to a dataset
// folder in another library's format.
type ExportConfig struct {
	Format       string // hf-dataset
	Scored       string // the scored set: its manifest, or a glob of its shards
	Out          string // the folder, local or gs://
	TestFraction float64
	RowsPerFile  int64
	Config       string
	Split        string
}

// DefaultExportConfig has every setting at its default.
func DefaultExportConfig() ExportConfig {
	return ExportConfig{Format: "hf-dataset", RowsPerFile: 100_000, Config: "default", Split: "train"}
}

// RegisterFlags binds the settings to flags.
func (c *ExportConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Format, "format", c.Format, "output format: hf-dataset (a folder Hugging Face datasets loads as it is: data/{split}-NNNNN-of-NNNNN.parquet with its features, and a README.md card)")
	fs.StringVar(&c.Scored, "shards", c.Scored, "the scored shards: the --out prefix of srdpo score (its manifest), or a glob, local or gs://")
	fs.StringVar(&c.Out, "out", c.Out, "the dataset folder, local or gs://; it must not hold a dataset already")
	fs.Float64Var(&c.TestFraction, "test-fraction", c.TestFraction, "pairs held out as the \"test\" split, chosen by a hash of the pair's id: the same pairs srdpo train --eval-fraction holds out; 0: one \"train\" split")
	fs.Int64Var(&c.RowsPerFile, "rows-per-file", c.RowsPerFile, "rows a Parquet file holds at most")
	fs.StringVar(&c.Config, "config", c.Config, "the config's name in the dataset card")
	fs.StringVar(&c.Split, "split", c.Split, "the split the pairs go to (train_prefs, test, …); a folder that holds other splits with the same columns gains this one, so a corpus's splits scored apart are exported as they were given")
}

// shardsPattern is a manifest, a glob or a shard as given, and srdpo
// score's --out prefix as its manifest.
func shardsPattern(s string) string {
	if strings.ContainsAny(s, "*?[") || strings.HasSuffix(s, schemas.ManifestSuffix) {
		return s
	}
	if f, err := schemas.FormatOf(s); err == nil && f != schemas.FormatJSONL {
		return s
	}
	return s + schemas.ManifestSuffix
}

// Validate checks the settings.
func (c ExportConfig) Validate() error {
	if c.Format != "hf-dataset" {
		return fmt.Errorf("--format %q: want hf-dataset", c.Format)
	}
	if err := required([2]string{"shards", c.Scored}, [2]string{"out", c.Out}); err != nil {
		return err
	}
	for _, p := range []string{c.Scored, c.Out} {
		if err := runners.CheckPath(p); err != nil {
			return err
		}
	}
	if c.TestFraction < 0 || c.TestFraction >= 1 {
		return fmt.Errorf("--test-fraction %g: want 0 ≤ f < 1", c.TestFraction)
	}
	if c.RowsPerFile < 1 {
		return fmt.Errorf("--rows-per-file %d: want at least 1", c.RowsPerFile)
	}
	return nil
}

// Export writes the dataset folder.
func (c ExportConfig) Export(ctx context.Context) (stages.HFExportResult, error) {
	return stages.ExportHFDataset(ctx, shardsPattern(c.Scored), stages.HFExport{Out: c.Out, TestFraction: c.TestFraction, RowsPerFile: c.RowsPerFile,
		Config: c.Config, Split: c.Split})
}
