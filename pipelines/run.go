package pipelines

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/tokenizer"
	"github.com/srdpo/srdpo/runners"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages"
	"github.com/srdpo/srdpo/tasks"
)

// RunConfig is the end-to-end job on the embedded known-reward task.
type RunConfig struct {
	Out          string
	Seeds        int // seeds 1..Seeds, each a full run; the report has their mean and spread
	SFTWords     int
	SFTSteps     int
	Pairs        int
	HeldoutPairs int
	EvalPrompts  int
	TrainSteps   int
	BatchSize    int
	LR           float64
	Beta, Lambda float64
	Width        int // the reference's width (2 layers, context 64, bytes)
}

// Methods are the losses the run compares, trained from the same reference
// with the same data order.
func Methods() []model.LossType {
	return []model.LossType{model.LossDPO, model.LossIPO, model.LossSrDPO, model.LossSrIPO}
}

// Run generates the task, trains the reference by SFT, samples and labels
// preference pairs from it, scores them with the Beam pipeline, trains
// every method, evaluates them all with the evaluation pipeline and writes
// the report, once per seed. It returns the report's main table.
func Run(ctx context.Context, c RunConfig, progress io.Writer) (string, error) {
	var all []schemas.Eval
	var metrics map[string][]schemas.Metric
	for seed := 1; seed <= c.Seeds; seed++ {
		began := time.Now()
		rows, ms, err := runSeed(ctx, c, uint64(seed), progress)
		if err != nil {
			return "", fmt.Errorf("seed %d: %w", seed, err)
		}
		all = append(all, rows...)
		if metrics == nil {
			metrics = ms // training curves of the first seed
		}
		fmt.Fprintf(progress, "srdpo run: seed %d done in %s\n", seed, time.Since(began).Round(time.Second))
	}
	return WriteReport(c.Out, all, metrics)
}

func runSeed(ctx context.Context, c RunConfig, seed uint64, progress io.Writer) ([]schemas.Eval, map[string][]schemas.Metric, error) {
	dir := filepath.Join(c.Out, fmt.Sprintf("seed-%d", seed))
	gen := tasks.GenConfig{Out: filepath.Join(dir, "task"), Seed: seed, SFTWords: c.SFTWords, Pairs: c.Pairs,
		HeldoutPairs: c.HeldoutPairs, EvalPrompts: c.EvalPrompts, Temperature: 0.1, AugPrompt: tasks.DefaultAugPrompt, AugSeparator: " "}
	if err := tasks.Generate(gen); err != nil {
		return nil, nil, err
	}
	// The reference: SFT on the task's corpus, where p⊕x gets exact answers.
	fmt.Fprintf(progress, "srdpo run: seed %d: SFT of the reference (%d steps)\n", seed, c.SFTSteps)
	backend, err := model.Backend()
	if err != nil {
		return nil, nil, err
	}
	ref, err := model.New(model.Config{Vocab: 257, Context: 64, Layers: 2, Heads: 4, Width: c.Width, NormEps: 1e-5,
		TiedHead: true, DType: model.Float32}, seed, backend)
	if err != nil {
		return nil, nil, err
	}
	sft, err := readSFT(filepath.Join(gen.Out, "sft.jsonl"))
	if err != nil {
		return nil, nil, err
	}
	if err := ref.SFT(sft, model.SFTConfig{Optim: model.Optim{Name: "adamw", LR: 3e-3, Warmup: min(20, c.SFTSteps/10), Schedule: "cosine",
		TotalSteps: c.SFTSteps, MaxGradNorm: 1, WeightDecay: 0.01}, BatchSize: 32, Steps: c.SFTSteps, Seed: seed}, nil); err != nil {
		return nil, nil, err
	}
	refDir := filepath.Join(dir, "reference")
	if err := ref.Save(refDir); err != nil {
		return nil, nil, err
	}
	// Pairs from the reference's own samples, labelled by r*.
	sampler, err := Sampler(ref, tokenizer.Byte{})
	if err != nil {
		return nil, nil, err
	}
	gen.Sample = sampler
	if err := tasks.Generate(gen); err != nil {
		return nil, nil, err
	}
	// Scoring on the Beam pipeline.
	fmt.Fprintf(progress, "srdpo run: seed %d: scoring %d + %d pairs\n", seed, c.Pairs, c.HeldoutPairs)
	spec := stages.ReferenceSpec{ModelDir: refDir, Tokenizer: "byte", AugPrompt: tasks.DefaultAugPrompt, AugSeparator: " ",
		Truncation: model.Truncation{MaxPromptLength: 48, MaxLength: 64, Prompt: model.KeepEnd, Response: model.KeepStart}}
	p, s := beam.NewPipelineWithRoot()
	scored := map[string]string{}
	for _, set := range []string{"prefs", "heldout"} {
		ic, err := DefaultIngestConfig(filepath.Join(dir, "scored", set), 2, filepath.Join(gen.Out, set+".jsonl"))
		if err != nil {
			return nil, nil, err
		}
		if _, _, err := BuildScore(ctx, s.Scope(set), ic, spec, 64); err != nil {
			return nil, nil, err
		}
		scored[set] = ic.Out + schemas.ManifestSuffix
	}
	if _, err := runners.Run(ctx, p); err != nil {
		return nil, nil, fmt.Errorf("scoring: %w", err)
	}
	// Every method from the same reference, with the same data order.
	var policies []stages.PolicyRef
	for _, method := range Methods() {
		fmt.Fprintf(progress, "srdpo run: seed %d: training %s (%d steps)\n", seed, method, c.TrainSteps)
		out := filepath.Join(dir, string(method))
		_, err := stages.Train(ctx, stages.TrainConfig{Shards: scored["prefs"], Model: refDir, Tokenizer: "byte", Out: out,
			Loss:  model.LossConfig{Type: method, Beta: c.Beta, Lambda: c.Lambda, IPONorm: model.IPONormSum},
			Optim: model.Optim{Name: "adam", LR: c.LR, MaxGradNorm: 1}, BatchSize: c.BatchSize, Steps: c.TrainSteps,
			Seed: seed, LogEvery: max(1, c.TrainSteps/20)}, io.Discard)
		if err != nil {
			return nil, nil, fmt.Errorf("training %s: %w", method, err)
		}
		policies = append(policies, stages.PolicyRef{Name: string(method), Dir: filepath.Join(out, stages.CheckpointDir)})
	}
	fmt.Fprintf(progress, "srdpo run: seed %d: evaluating\n", seed)
	rows, _, err := RunEval(ctx, EvalConfig{Out: filepath.Join(dir, "eval"), Policies: policies, Spec: stages.EvalSpec{
		Reference: refDir, Tokenizer: "byte", Prompts: filepath.Join(gen.Out, "eval_prompts.jsonl"), Shards: scored["heldout"],
		Beta: c.Beta, Seed: int64(seed), MaxNew: 16}})
	if err != nil {
		return nil, nil, err
	}
	return rows, TrainingMetrics(policies), nil
}

// Sampler draws responses from a model at temperature 1, stopping at a
// newline, for srdpo gen and run.
func Sampler(m *model.GPT, tok tokenizer.Tokenizer) (tasks.Sampler, error) {
	gen, err := m.NewGenerator()
	if err != nil {
		return nil, err
	}
	return func(prompts []string, n int, seed uint64) ([][]string, error) {
		ids := make([][]int32, len(prompts))
		for i, p := range prompts {
			var err error
			if ids[i], _, err = stages.PromptIDs(tok, p, math.MaxInt32, model.KeepEnd); err != nil {
				return nil, fmt.Errorf("prompt %d: %w", i, err)
			}
		}
		out := make([][]string, len(prompts))
		for k := 0; k < n; k++ {
			for lo := 0; lo < len(ids); lo += 64 {
				res, err := gen.Generate(ids[lo:min(lo+64, len(ids))], model.GenerateConfig{MaxNewTokens: 16, Temperature: 1,
					Seed: seed*1_000_000 + uint64(k*100_000+lo), EOS: int32('\n')})
				if err != nil {
					return nil, err
				}
				for i, r := range res {
					out[lo+i] = append(out[lo+i], tok.Decode(r)+"\n")
				}
			}
		}
		return out, nil
	}, nil
}

func readSFT(path string) ([]model.Pair, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []model.Pair
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var e struct{ Prompt, Response string }
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, model.Pair{Prompt: tokenizer.Bytes(e.Prompt), Response: tokenizer.Bytes(e.Response)})
	}
	return out, nil
}
