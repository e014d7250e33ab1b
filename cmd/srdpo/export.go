package main

import (
	"context"
	"fmt"
	"io"

	"github.com/srdpo/srdpo/pipelines"
)

const exportSummary = "write scored shards as a Hugging Face dataset folder (TRL's columns with --tokenization trl)"

func runExport(args []string, stdout, stderr io.Writer) error {
	c := pipelines.DefaultExportConfig()
	if err := parseSettings("export", exportSummary, &c, false, args, stdout, stderr); err != nil {
		return err
	}
	return export(context.Background(), c, stdout, stderr)
}

// export writes the dataset and says what it wrote.
func export(ctx context.Context, c pipelines.ExportConfig, stdout, stderr io.Writer) error {
	res, err := c.Export(ctx)
	if err != nil {
		return fmt.Errorf("export to %s: %w", c.Out, err)
	}
	if !res.TRL {
		fmt.Fprintln(stderr, "srdpo export: these shards were scored with --tokenization srdpo: TRL's columns (prompt_ids, chosen_ids, rejected_ids, ref_chosen_logps, ref_rejected_logps) are left out; score with --tokenization trl for a TRL run")
	}
	fmt.Fprintf(stdout, "exported %s to %s as a Hugging Face dataset:", c.Scored, c.Out)
	for _, split := range []string{c.Split, "test"} {
		if n, ok := res.Rows[split]; ok {
			fmt.Fprintf(stdout, " %s %d rows;", split, n)
		}
	}
	fmt.Fprintf(stdout, " %d files\n", len(res.Files))
	return nil
}
