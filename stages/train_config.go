package stages

import (
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/optim"
	"github.com/srdpo/srdpo/model/tokenizer"
	"github.com/srdpo/srdpo/runners"
)

// TrainConfig is the training stage's whole configuration.
type TrainConfig struct {
	Scored    string // the scored set to train on: its manifest (…/x.manifest.json) or a glob of its shards, local or gs://
	Model     string // the reference model directory; the policy starts from it
	Tokenizer string // as for scoring; its fingerprint must match the shards'
	Out       string // local directory: checkpoint/, metrics.arrow

	// AugPrompt and AugSeparator, when set, must equal what the shards were
	// scored with (their metadata); p comes from the shards either way.
	AugPrompt, AugSeparator *string

	Loss      model.LossConfig
	Optim     optim.Config
	BatchSize int // pairs per step
	GradAccum int // micro-batches per step (1: none)
	// DeltaRefresh K > 1 recomputes a pair's policy log-probs on p⊕x only
	// when the cached ones are K or more steps old; in between Δπ uses the
	// stale values. An approximation: K = 1 (default) is exact, and with one
	// epoch every pair is fresh anyway.
	DeltaRefresh int
	Epochs       int // used when Steps is 0
	Steps        int
	Seed         uint64

	EvalFraction    float64 // share of pairs held out (by a hash of the id)
	EvalEvery       int     // steps between evaluations; 0: only at the end
	LogEvery        int     // steps between metric rows
	CheckpointEvery int     // steps between checkpoints; one is always written at the end
	KeepEvery       int     // also keep the policy every K steps in Out/steps/<step>, for curves; 0: never
	KeepAt          []int   // also keep the policy at these steps (as KeepEvery does)
	Resume          bool    // continue from Out/checkpoint if there is one
	ExportHF        bool    // also write the final policy to Out/hf as a Hugging Face directory (a PEFT adapter folder with LoRA)
	Merge           bool    // with LoRA and ExportHF, also write the merged model to Out/hf-merged

	// LoRA, when its rank is above 0, trains a new low-rank adapter on
	// the frozen reference instead of every weight. Adapter loads a PEFT
	// adapter folder onto the model first (the reference is then the
	// model with it, as scored with srdpo score --adapter), and trains it.
	LoRA    model.LoRA
	Adapter string
	// Recompute trades time for memory: each block's activations are
	// computed again in the backward pass instead of being kept.
	Recompute bool
	// MemoryLimit, above 0, is the Go runtime's soft memory limit for the
	// run in bytes (runtime/debug.SetMemoryLimit, as GOMEMLIMIT): the
	// garbage collector then works to keep the heap under it, instead of
	// letting it grow to twice what is live. 0 (the default) is 90% of
	// the machine's memory (bounds.MachineMemory) unless GOMEMLIMIT is set,
	// so a model whose live memory fits is not killed by the collector's
	// pacing; below 0 (--memory-limit off), Go's own default.
	MemoryLimit int64
}

// DefaultTrainConfig has the paper's settings: Sr-DPO, β 0.1, λ 0.5,
// RMSprop at 5e-7, batch 64. Shards, Model and Out are the caller's.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{Tokenizer: tokenizer.SpecAuto,
		Loss:      model.LossConfig{Type: model.LossSrDPO, Beta: 0.1, Lambda: 0.5, IPONorm: model.IPONormSum},
		Optim:     optim.Config{Name: "rmsprop", LR: 5e-7, Schedule: "constant", MaxGradNorm: 1},
		BatchSize: 64, GradAccum: 1, DeltaRefresh: 1, Epochs: 1, Seed: 1,
		LoRA:         model.LoRA{Alpha: 8}, // PEFT's default lora_alpha; rank 0 (no adapter) until --lora-rank
		EvalFraction: 0.05, LogEvery: 10, CheckpointEvery: 100}
}

// RegisterFlags binds the training settings to flags.
func (c *TrainConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Scored, "shards", c.Scored, "scored shards: <prefix>.manifest.json or a glob of .arrow/.parquet files, local or gs://")
	fs.StringVar(&c.Model, "model", c.Model, "the reference model the shards were scored with (local or gs://); the policy starts from it")
	fs.StringVar(&c.Tokenizer, "tokenizer", c.Tokenizer, "tokenizer, as for scoring; its fingerprint must match the shards'")
	fs.StringVar(&c.Out, "out", c.Out, "local output directory: "+CheckpointDir+"/ (a loadable model with optimiser state) and "+MetricsFile)
	fs.Var(optionalString{&c.AugPrompt}, "aug-prompt", "if given, must equal the p the shards were scored with (p is always taken from the shards)")
	fs.Var(optionalString{&c.AugSeparator}, "aug-sep", "if given, must equal the shards' separator")
	l, o := &c.Loss, &c.Optim
	fs.Var(&l.Type, "loss", fmt.Sprintf("loss: one of %v", model.LossTypes()))
	fs.Float64Var(&l.Beta, "beta", l.Beta, "β")
	fs.Float64Var(&l.Lambda, "lambda", l.Lambda, "λ, the weight of Δπ in sr-dpo and sr-ipo")
	fs.Float64Var(&l.LabelSmoothing, "label-smoothing", l.LabelSmoothing, "ε for cdpo and robust")
	fs.StringVar(&l.IPONorm, "ipo-norm", l.IPONorm, "IPO log-prob normalisation: sum (paper, OpenRLHF) or mean (per token, TRL)")
	fs.BoolVar(&l.UseOffset, "use-offset", l.UseOffset, "ODPO: subtract the corpus offset column from the margin")
	fs.Float64Var(&l.SFTWeight, "sft-weight", l.SFTWeight, "weight of an added NLL term on the chosen response")
	fs.StringVar(&o.Name, "optimizer", o.Name, "rmsprop (paper), adam or adamw")
	fs.Float64Var(&o.LR, "lr", o.LR, "peak learning rate")
	fs.IntVar(&o.Warmup, "warmup", o.Warmup, "warm-up steps")
	fs.StringVar(&o.Schedule, "schedule", o.Schedule, "learning-rate schedule after warm-up: constant or cosine")
	fs.Float64Var(&o.WeightDecay, "weight-decay", o.WeightDecay, "AdamW weight decay")
	fs.Float64Var(&o.MaxGradNorm, "max-grad-norm", o.MaxGradNorm, "clip the global gradient norm (0: off)")
	fs.IntVar(&c.BatchSize, "batch-size", c.BatchSize, "pairs per optimiser step")
	fs.IntVar(&c.GradAccum, "grad-accum", c.GradAccum, "micro-batches per step")
	fs.IntVar(&c.Epochs, "epochs", c.Epochs, "passes over the training pairs (when --steps is 0)")
	fs.IntVar(&c.Steps, "steps", c.Steps, "optimiser steps (0: --epochs)")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed of the data order")
	fs.Float64Var(&c.EvalFraction, "eval-fraction", c.EvalFraction, "share of pairs held out for evaluation, by a hash of the id")
	fs.IntVar(&c.EvalEvery, "eval-every", c.EvalEvery, "steps between evaluations (0: at the end only)")
	fs.IntVar(&c.LogEvery, "log-every", c.LogEvery, "steps between metric rows and progress lines")
	fs.IntVar(&c.CheckpointEvery, "checkpoint-every", c.CheckpointEvery, "steps between checkpoints (one is always written at the end)")
	fs.IntVar(&c.KeepEvery, "keep-every", c.KeepEvery, "also keep the policy every K steps in <out>/"+StepsDir+"/<step> (a loadable model each), to evaluate along training; 0: never")
	fs.IntVar(&c.DeltaRefresh, "delta-refresh", c.DeltaRefresh, "recompute a pair's Δπ only when K steps old (1: exact, every step; >1 is an approximation)")
	fs.BoolVar(&c.Resume, "resume", c.Resume, "continue from <out>/"+CheckpointDir+": same data order, optimiser state and metrics")
	fs.BoolVar(&c.ExportHF, "export-hf", c.ExportHF, "also write the final policy to <out>/"+HFExportDir+" as a Hugging Face directory in its family's layout (config.json, model.safetensors, and the model directory's tokenizer files); with LoRA, as a PEFT adapter folder (adapter_config.json, adapter_model.safetensors) for the --model it was trained on")
	fs.BoolVar(&c.Merge, "merge", c.Merge, "with LoRA and --export-hf, also write the model with the adapter merged into its weights to <out>/"+HFMergedDir+" (a plain Hugging Face directory)")
	fs.IntVar(&c.LoRA.Rank, "lora-rank", c.LoRA.Rank, "train a LoRA adapter of this rank on the frozen --model instead of every weight (0: full fine-tuning); its optimiser state is the adapter's only")
	fs.Float64Var(&c.LoRA.Alpha, "lora-alpha", c.LoRA.Alpha, "LoRA alpha: the adapter's product is scaled by alpha/rank (alpha/√rank with --lora-rslora)")
	fs.Float64Var(&c.LoRA.Dropout, "lora-dropout", c.LoRA.Dropout, "dropout on the adapter's input in training steps, as PEFT's lora_dropout (seeded by --seed)")
	fs.Var(loraTargets{&c.LoRA.Targets}, "lora-targets", "the maps to adapt, comma-separated module names as PEFT takes them (q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj for Llama and Qwen; c_attn,c_proj,c_fc or mlp.c_proj for GPT-2; query_key_value,dense,dense_h_to_4h,dense_4h_to_h for GPT-NeoX) or all-linear; default PEFT's for the family (q_proj,v_proj; c_attn; query_key_value)")
	fs.BoolVar(&c.LoRA.RSLoRA, "lora-rslora", c.LoRA.RSLoRA, "rank-stabilised LoRA: scale by alpha/√rank (PEFT's use_rslora)")
	fs.BoolVar(&c.Recompute, "recompute", c.Recompute, "gradient checkpointing: keep only each transformer block's input for the backward pass and compute the block again there (the same steps bit for bit; less memory, more time: see README, Training memory)")
	fs.Var(byteSize{&c.MemoryLimit}, "memory-limit", "a soft limit on the process's memory, as Go's GOMEMLIMIT (e.g. 3500MiB, 20GiB): the garbage collector works harder to stay under it, instead of letting the heap grow to about twice what is live (see README, Training memory); 0: 90% of the machine's (or container's) memory unless GOMEMLIMIT is set; off: none")
	fs.StringVar(&c.Adapter, "adapter", c.Adapter, "a PEFT LoRA adapter folder (adapter_config.json, adapter_model.safetensors; local or gs://) to load onto --model and train further; the shards must have been scored with the same --adapter")
}

// byteSize reads a size as GOMEMLIMIT does: a number of bytes with an
// optional unit B, KiB, MiB, GiB or TiB.
type byteSize struct{ n *int64 }

func (b byteSize) String() string {
	switch {
	case b.n == nil:
		return "0"
	case *b.n < 0:
		return "off"
	}
	return fmt.Sprint(*b.n)
}

func (b byteSize) Set(v string) error {
	if v == "off" {
		*b.n = -1
		return nil
	}
	units := []struct {
		suffix string
		scale  float64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	num, scale := v, 1.0
	for _, u := range units {
		if strings.HasSuffix(v, u.suffix) {
			num, scale = strings.TrimSuffix(v, u.suffix), u.scale
			break
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || !(f >= 0) || f*scale > math.MaxInt64/2 {
		return fmt.Errorf("%q: want a size such as 3500MiB or 20GiB", v)
	}
	*b.n = int64(f * scale)
	return nil
}

// loraTargets reads --lora-targets as a comma-separated list.
type loraTargets struct{ list *[]string }

func (l loraTargets) String() string {
	if l.list == nil {
		return ""
	}
	return strings.Join(*l.list, ",")
}

func (l loraTargets) Set(v string) error {
	*l.list = nil
	for _, t := range strings.Split(v, ",") {
		if t = strings.TrimSpace(t); t == "" {
			return fmt.Errorf("an empty module name in %q", v)
		}
		*l.list = append(*l.list, t)
	}
	return nil
}

// Validate checks the settings, in a fixed order.
func (c TrainConfig) Validate() error {
	if c.KeepEvery < 0 {
		return fmt.Errorf("--keep-every %d: want 0 (never) or a number of steps", c.KeepEvery)
	}
	for _, f := range [][2]string{{"shards", c.Scored}, {"model", c.Model}, {"out", c.Out}} {
		if f[1] == "" {
			return fmt.Errorf("--%s is required", f[0])
		}
	}
	for _, p := range []string{c.Scored, c.Model} {
		if err := runners.CheckPath(p); err != nil {
			return err
		}
	}
	if strings.Contains(c.Out, "://") {
		return fmt.Errorf("--out %s: training writes to a local directory", c.Out)
	}
	if err := c.Loss.Validate(); err != nil {
		return err
	}
	// The total step count a schedule needs is filled in by the stage
	// (from --steps, or from the epochs once the shards are read): check the
	// optimiser as the run will use it.
	o := c.Optim
	if o.TotalSteps == 0 {
		o.TotalSteps = c.Steps
		if o.TotalSteps == 0 {
			o.TotalSteps = o.Warmup + 1 // epochs: known with the shards; the stage checks it again then
		}
	}
	if err := o.Validate(); err != nil {
		return err
	}
	switch {
	case c.BatchSize < 1 || c.GradAccum < 1 || c.GradAccum > c.BatchSize:
		return fmt.Errorf("--batch-size %d and --grad-accum %d: want 1 ≤ grad-accum ≤ batch-size", c.BatchSize, c.GradAccum)
	case c.Steps < 0 || c.Epochs < 1:
		return fmt.Errorf("--steps %d / --epochs %d: want steps ≥ 0 and epochs ≥ 1", c.Steps, c.Epochs)
	case c.EvalFraction < 0 || c.EvalFraction >= 1:
		return fmt.Errorf("--eval-fraction %g: want 0 ≤ f < 1", c.EvalFraction)
	case c.DeltaRefresh < 1:
		return fmt.Errorf("--delta-refresh %d: want at least 1", c.DeltaRefresh)
	case c.LoRA.Rank < 0:
		return fmt.Errorf("--lora-rank %d: want 0 (full fine-tuning) or a rank", c.LoRA.Rank)
	case c.LoRA.Rank > 0 && c.Adapter != "":
		return fmt.Errorf("--lora-rank and --adapter: --adapter trains the adapter it loads; give one of them")
	case c.Merge && !c.ExportHF:
		return fmt.Errorf("--merge writes the merged model beside the --export-hf adapter: give --export-hf too")
	case c.Merge && c.LoRA.Rank == 0 && c.Adapter == "":
		return fmt.Errorf("--merge merges a LoRA adapter: give --lora-rank or --adapter")
	}
	if c.LoRA.Rank > 0 {
		if err := c.LoRA.Validate(); err != nil {
			return fmt.Errorf("--lora-*: %w", err)
		}
	}
	if c.Adapter != "" {
		if err := runners.CheckPath(c.Adapter); err != nil {
			return err
		}
	}
	return nil
}

// optionalString is a string flag whose pointer stays nil unless the flag
// is given: "not given" and "given empty" differ.
type optionalString struct{ p **string }

func (o optionalString) String() string {
	if o.p == nil || *o.p == nil {
		return ""
	}
	return **o.p
}

func (o optionalString) Set(v string) error { *o.p = &v; return nil }
