package pipelines

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages"
)

// writeTRLDataset writes rows as TRL's DPOTrainer leaves a precomputed
// dataset: prompt/chosen/rejected text, int64 id lists and float32
// ref_*_logps, and nothing of srdpo's (built here with arrow-go, not with
// srdpo's exporter).
func writeTRLDataset(t *testing.T, dir string, rows []schemas.Scored) {
	t.Helper()
	ids := arrow.ListOf(arrow.PrimitiveTypes.Int64)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "prompt", Type: arrow.BinaryTypes.String}, {Name: "chosen", Type: arrow.BinaryTypes.String}, {Name: "rejected", Type: arrow.BinaryTypes.String},
		{Name: "prompt_ids", Type: ids}, {Name: "chosen_ids", Type: ids}, {Name: "rejected_ids", Type: ids},
		{Name: "ref_chosen_logps", Type: arrow.PrimitiveTypes.Float32}, {Name: "ref_rejected_logps", Type: arrow.PrimitiveTypes.Float32},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, r := range rows {
		for i, s := range []string{r.Prompt, r.Chosen, r.Rejected} {
			b.Field(i).(*array.StringBuilder).Append(s)
		}
		for i, l := range [][]int32{r.PromptIDs, r.ChosenIDs, r.RejectedIDs} {
			lb := b.Field(3 + i).(*array.ListBuilder)
			lb.Append(true)
			for _, id := range l {
				lb.ValueBuilder().(*array.Int64Builder).Append(int64(id))
			}
		}
		b.Field(6).(*array.Float32Builder).Append(float32(r.RefLogpChosen))
		b.Field(7).(*array.Float32Builder).Append(float32(r.RefLogpRejected))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	tbl := array.NewTableFromRecords(schema, []arrow.RecordBatch{rec})
	defer tbl.Release()
	var buf bytes.Buffer
	if err := pqarrow.WriteTable(tbl, &buf, 1024, nil, pqarrow.DefaultWriterProps()); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data", "train-00000-of-00001.parquet"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func trainOn(t *testing.T, shards, modelDir string, loss model.LossType) (stages.TrainResult, string, error) {
	t.Helper()
	tc := stages.DefaultTrainConfig()
	tc.Scored, tc.Model, tc.Out = shards, modelDir, t.TempDir()
	tc.BatchSize, tc.Steps, tc.EvalFraction, tc.LogEvery = 2, 3, 0, 1
	tc.Loss.Type = loss
	tc.Optim.LR = 1e-2
	var log bytes.Buffer
	res, err := stages.Train(context.Background(), tc, &log)
	return res, log.String(), err
}

// Datasets train without scoring: srdpo's own export trains Sr-DPO exactly
// as its shards do (the same metrics and weights, bit for bit: provenance,
// ids and p⊕x sums come back); a dataset shaped as TRL writes it trains
// DPO — its float32 sums line up with the policy's own (the first loss is
// ln 2, as at π = π_ref), the log says the columns carry no provenance —
// and Sr-DPO is refused, there being no p⊕x side.
func TestTrainFromDatasets(t *testing.T) {
	manifest, rows, modelDir := scoreQwen3ConversationsWithModel(t)
	exported := filepath.Join(t.TempDir(), "srdpo-export")
	c := DefaultExportConfig()
	c.Scored, c.Out = manifest, exported
	if _, err := c.Export(context.Background()); err != nil {
		t.Fatal(err)
	}
	fromShards, _, err := trainOn(t, manifest, modelDir, model.LossSrDPO)
	if err != nil {
		t.Fatal(err)
	}
	fromExport, log, err := trainOn(t, exported, modelDir, model.LossSrDPO)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(withoutSpeed(fromShards.Metrics), withoutSpeed(fromExport.Metrics)) || len(fromShards.Metrics) == 0 {
		t.Errorf("Sr-DPO from the exported dataset differs from the shards:\n%+v\n%+v", fromExport.Metrics, fromShards.Metrics)
	}
	a, _ := fromShards.Policy.Weights()
	b, _ := fromExport.Policy.Weights()
	if !reflect.DeepEqual(a, b) {
		t.Error("the policies differ")
	}
	if strings.Contains(log, "provenance") {
		t.Errorf("srdpo's own export is checked, not unverified: %s", log)
	}

	trl := filepath.Join(t.TempDir(), "trl")
	writeTRLDataset(t, trl, rows)
	res, log, err := trainOn(t, trl, modelDir, model.LossDPO)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log, "carries no srdpo provenance") {
		t.Errorf("the log does not say the columns are unverified: %s", log)
	}
	first := res.Metrics[0]
	if first.Step != 1 || first.Split != "train" || math.Abs(first.Loss-math.Ln2) > 1e-3 {
		t.Errorf("first step of DPO on the TRL dataset: %+v; want loss ln 2 = %v", first, math.Ln2)
	}
	if _, _, err := trainOn(t, trl, modelDir, model.LossSrDPO); err == nil || !strings.Contains(err.Error(), "no p⊕x side") {
		t.Errorf("Sr-DPO on a TRL dataset: %v", err)
	}
}

// withoutSpeed drops the one figure that is a measurement of time.
func withoutSpeed(ms []schemas.Metric) []schemas.Metric {
	out := append([]schemas.Metric(nil), ms...)
	for i := range out {
		out[i].TokensPerSec = nil
	}
	return out
}
