package stages

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/srdpo/srdpo/bounds"
	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/optim"
	"github.com/srdpo/srdpo/schemas"
)

// TrainResult summarises a finished run.
type TrainResult struct {
	Steps   int
	Metrics []schemas.Metric
	Policy  *model.Decoder
}

// SoftMemoryLimit is the soft memory limit a run sets, with why: the one
// asked for, or by default 90% of the machine's memory — unless
// GOMEMLIMIT is set (env), which Go has applied already, or the limit is
// off (below 0). 0: none to set. Training and the bench's large-model
// figures both take it from here.
func SoftMemoryLimit(asked int64, env bool) (int64, string) {
	switch {
	case asked > 0:
		return asked, "--memory-limit"
	case asked < 0 || env:
		return 0, ""
	}
	total, err := bounds.MachineMemory()
	if err != nil {
		return 0, ""
	}
	return total / 10 * 9, "90% of this machine's memory; --memory-limit to change"
}

// Train runs preference optimisation on scored shards. It stops at ctx's
// end after the step under way, leaving the last checkpoint as it was, as
// a killed run would; --resume then continues with the same data order,
// optimiser state and metrics, to the same result.
func Train(ctx context.Context, cfg TrainConfig, progress io.Writer) (TrainResult, error) {
	if limit, why := SoftMemoryLimit(cfg.MemoryLimit, os.Getenv("GOMEMLIMIT") != ""); limit > 0 {
		fmt.Fprintf(progress, "srdpo train: soft memory limit %.1f GiB (%s)\n", float64(limit)/(1<<30), why)
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(limit))
	}
	r, err := openTraining(ctx, cfg)
	if err != nil {
		return TrainResult{}, err
	}
	defer r.store.Close()
	if r.note != "" {
		fmt.Fprintln(progress, r.note)
	}
	start, metrics, err := r.resume(progress)
	if err != nil {
		return TrainResult{}, err
	}
	return r.loop(ctx, progress, start, metrics)
}

// training is a run's data, model and schedule, checked against each other.
type training struct {
	cfg      TrainConfig
	store    *scoredStore
	train    []rowAt // the training pairs' places, in id order
	eval     []rowAt // the held-out pairs' places
	perEpoch int     // steps per epoch
	total    int     // steps of the run
	opt      optim.Config
	scoredFP string
	policy   *model.Decoder
	note     string // said in the log before training
}

// openTraining opens the shards (mapped, not read into memory), checks
// that their metadata match the model, tokenizer and p given, loads the
// policy and lays out the run.
func openTraining(ctx context.Context, cfg TrainConfig) (r *training, err error) {
	if cfg.BatchSize < 1 {
		return nil, fmt.Errorf("batch size %d: want at least 1", cfg.BatchSize)
	}
	store, err := openScored(ctx, cfg.Scored)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			store.Close()
		}
	}()
	md := store.md
	if cfg.AugPrompt != nil && *cfg.AugPrompt != md.Get(schemas.KeyAugPrompt) {
		return nil, fmt.Errorf("--aug-prompt %q differs from the shards' p %q: Δπ must use the p the reference was scored with", *cfg.AugPrompt, md.Get(schemas.KeyAugPrompt))
	}
	if cfg.AugSeparator != nil && *cfg.AugSeparator != md.Get(schemas.KeyAugSeparator) {
		return nil, fmt.Errorf("--aug-sep %q differs from the shards' separator %q", *cfg.AugSeparator, md.Get(schemas.KeyAugSeparator))
	}
	policy, tok, err := loadModel(ctx, cfg.Model, cfg.Adapter, cfg.Tokenizer)
	if err != nil {
		return nil, err
	}
	got, err := policy.Fingerprint()
	if err != nil {
		return nil, err
	}
	r = &training{cfg: cfg, store: store, policy: policy, opt: cfg.Optim}
	unverified := store.dataset && md.Get(schemas.KeyModelFingerprint) == ""
	switch {
	case unverified:
		// A dataset made elsewhere (TRL) says nothing of how its columns
		// were made: say so, and train on them as they are.
		r.note = fmt.Sprintf("srdpo train: %s carries no srdpo provenance: nothing shows that its ref_chosen_logps / ref_rejected_logps were computed by %s with this tokenizer, chat template and max_length; training on them as they are", cfg.Scored, cfg.Model)
	case md.Get(schemas.KeyModelFingerprint) != got:
		with := ""
		if cfg.Adapter != "" {
			with = " with adapter " + cfg.Adapter
		}
		return nil, fmt.Errorf("the shards were scored with model %s, but %s%s is model %s: train from the reference the shards were scored with (and its srdpo score --adapter, if any)", short(md.Get(schemas.KeyModelFingerprint)), cfg.Model, with, short(got))
	case tok.Fingerprint() != md.Get(schemas.KeyTokenizerFingerprint):
		return nil, fmt.Errorf("the shards were tokenised with tokenizer %s, but the tokenizer here is %s", short(md.Get(schemas.KeyTokenizerFingerprint)), short(tok.Fingerprint()))
	}
	if err := r.setUpAdapter(); err != nil {
		return nil, err
	}
	if md.Get(schemas.KeyRefSource) == RefSourceCorpus {
		r.note = fmt.Sprintf("srdpo train: the x-side sums of %s were given by the corpus scored (--ref-from-corpus), not computed by srdpo: their p⊕x sums are %s's, but nothing shows which model, dtype or max_length made ref_chosen_logps / ref_rejected_logps", cfg.Scored, short(md.Get(schemas.KeyModelFingerprint)))
	}
	if r.train, r.eval, r.scoredFP, err = store.split(cfg.EvalFraction); err != nil {
		return nil, err
	}
	if cfg.Loss.SelfRefined() {
		if err := r.checkAugSide(); err != nil {
			return nil, err
		}
	}
	if len(r.train) == 0 {
		return nil, fmt.Errorf("no training pairs (%d rows, eval fraction %g)", len(r.train)+len(r.eval), cfg.EvalFraction)
	}
	r.perEpoch = (len(r.train) + cfg.BatchSize - 1) / cfg.BatchSize
	r.total = cfg.Steps
	if r.total == 0 {
		r.total = max(cfg.Epochs, 1) * r.perEpoch
	}
	if r.opt.TotalSteps == 0 {
		r.opt.TotalSteps = r.total
	}
	return r, nil
}

// resume loads the run's checkpoint when --resume finds one of the same
// run: the step to start at, the metrics so far, and the policy. A kill
// between the two renames of a checkpoint swap leaves only the previous
// checkpoint (checkpoint.old), which is complete and is resumed from. With
// no checkpoint at all the run says so and starts at step 0.
func (r *training) resume(progress io.Writer) (start int, metrics []schemas.Metric, err error) {
	if !r.cfg.Resume {
		return 0, nil, nil
	}
	ckpt := filepath.Join(r.cfg.Out, CheckpointDir)
	if _, err := os.Stat(ckpt); err != nil {
		if _, errOld := os.Stat(ckpt + oldSuffix); errOld != nil {
			fmt.Fprintf(progress, "srdpo train: --resume: no checkpoint in %s: starting at step 0\n", r.cfg.Out)
			return 0, nil, nil
		}
		ckpt += oldSuffix
	}
	st, ms, p, err := loadCheckpoint(ckpt, r.policy.Backend)
	if err != nil {
		return 0, nil, err
	}
	if st.Seed != r.cfg.Seed || st.Scored != r.scoredFP {
		return 0, nil, fmt.Errorf("the checkpoint in %s is of another run (seed %d, shards %s); not resuming it", ckpt, st.Seed, short(st.Scored))
	}
	if !reflect.DeepEqual(st.Loss, r.cfg.Loss) || !reflect.DeepEqual(st.Optim, r.opt) {
		return 0, nil, fmt.Errorf("the checkpoint in %s was trained with loss %+v and optimiser %+v; this run has %+v and %+v: not resuming it",
			ckpt, st.Loss, st.Optim, r.cfg.Loss, r.opt)
	}
	want, _ := r.policy.LoRA()
	if got, _ := p.LoRA(); !reflect.DeepEqual(got, want) {
		return 0, nil, fmt.Errorf("the checkpoint in %s has LoRA %+v; this run has %+v: not resuming it", ckpt, got, want)
	}
	r.policy = p
	fmt.Fprintf(progress, "srdpo train: resuming at step %d of %d from %s\n", st.Step, r.total, ckpt)
	return st.Step, ms, nil
}

// loop runs the steps from start, logging, evaluating and checkpointing
// as configured.
func (r *training) loop(ctx context.Context, progress io.Writer, start int, metrics []schemas.Metric) (TrainResult, error) {
	cfg, total := r.cfg, r.total
	r.policy.Recompute = cfg.Recompute
	trainer, err := r.policy.NewPreferenceTrainer(cfg.Loss, r.opt, max(cfg.GradAccum, 1))
	if err != nil {
		return TrainResult{}, err
	}
	aug := newAugCache(r.policy, max(cfg.DeltaRefresh, 1))
	order := &dataOrder{seed: cfg.Seed}
	logEvery := max(cfg.LogEvery, 1)
	began := time.Now()
	tokens := 0
	for step := start; step < total; step++ {
		if err := ctx.Err(); err != nil {
			return TrainResult{}, fmt.Errorf("interrupted before step %d: %w", step+1, err)
		}
		batch, err := r.store.pairs(batchAt(order, r.train, cfg.BatchSize, step))
		if err != nil {
			return TrainResult{}, err
		}
		given, err := aug.values(step, batch)
		if err != nil {
			return TrainResult{}, err
		}
		st, err := trainer.StepWithAug(step, batch, given)
		if err != nil { // not finite: no checkpoint is written from this state
			return TrainResult{}, fmt.Errorf("step %d/%d: %w", step+1, total, err)
		}
		tokens += st.Tokens
		done := step + 1
		epoch := float64(done) / float64(r.perEpoch) // progress after the step: 1 at the end of the first epoch
		if done%logEvery == 0 || done == total {
			m := metricRow("train", done, epoch, st)
			lr, tps := r.opt.LearningRate(step), float64(tokens)/time.Since(began).Seconds()
			m.GradNorm, m.LearningRate, m.TokensPerSec = &st.GradNorm, &lr, &tps
			metrics = append(metrics, m)
			fmt.Fprintf(progress, "step %d/%d %s loss %.4f  acc %.2f  margin %.4f  Δπ %.4f  acc(p⊕x) %.2f  %.0f tok/s\n",
				done, total, bar(done, total), m.Loss, m.RewardsAccuracies, m.RewardsMargins, m.DeltaMean, m.AugAccuracies, tps)
		}
		if len(r.eval) > 0 && ((cfg.EvalEvery > 0 && done%cfg.EvalEvery == 0) || done == total) {
			es, err := trainer.EvaluateFrom(len(r.eval), func(lo, hi int) ([]model.PreferencePair, error) {
				return r.store.pairs(r.eval[lo:hi])
			})
			if err != nil {
				return TrainResult{}, err
			}
			metrics = append(metrics, metricRow("eval", done, epoch, es))
		}
		if (cfg.KeepEvery > 0 && done%cfg.KeepEvery == 0 || slices.Contains(cfg.KeepAt, done)) && done < total {
			if err := r.policy.Save(StepDir(cfg.Out, done)); err != nil {
				return TrainResult{}, fmt.Errorf("keeping the policy of step %d: %w", done, err)
			}
		}
		if (cfg.CheckpointEvery > 0 && done%cfg.CheckpointEvery == 0) || done == total {
			if err := saveCheckpoint(cfg.Out, r.policy, trainState{Step: done, Seed: cfg.Seed, Scored: r.scoredFP, Loss: cfg.Loss, Optim: r.opt}, metrics); err != nil {
				return TrainResult{}, err
			}
		}
	}
	if cfg.ExportHF {
		if err := r.export(ctx); err != nil {
			return TrainResult{}, fmt.Errorf("exporting the policy: %w", err)
		}
	}
	return TrainResult{Steps: total, Metrics: metrics, Policy: r.policy}, nil
}

// StepsDir is where --keep-every keeps policies along training.
const StepsDir = "steps"

// checkAugSide refuses a self-refining loss on pairs without their p⊕x side
// (a dataset precomputed by TRL has none).
func (r *training) checkAugSide() error {
	for _, set := range [][]rowAt{r.train, r.eval} {
		for _, at := range set {
			row, err := r.store.row(at)
			if err != nil {
				return err
			}
			if len(row.AugPromptIDs) == 0 {
				return fmt.Errorf("pair %s has no p⊕x side (a dataset precomputed by TRL carries only x's): %s needs it; train dpo or ipo, or score its p⊕x side with srdpo score --tokenization trl --ref-from-corpus", row.ID, r.cfg.Loss.Type)
			}
		}
	}
	return nil
}

// StepDir is the kept policy of a step: <out>/steps/<step, 6 digits>.
func StepDir(out string, step int) string {
	return filepath.Join(out, StepsDir, fmt.Sprintf("%06d", step))
}

// tokenizerFiles are the files of a model directory that go with its
// weights to an exported copy.
var tokenizerFiles = []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "generation_config.json"}

// setUpAdapter gives the policy the run's new LoRA adapter (--lora-rank),
// after the shards' fingerprint was checked against the reference, and
// seeds the dropout of an adapter loaded with --adapter.
func (r *training) setUpAdapter() error {
	if r.cfg.LoRA.Rank > 0 {
		return r.policy.AddLoRA(r.cfg.LoRA, r.cfg.Seed)
	}
	if _, ok := r.policy.LoRA(); ok {
		return r.policy.SeedDropout(r.cfg.Seed)
	}
	return nil
}

// export writes the final policy to <out>/hf: a Hugging Face directory,
// or with an adapter a PEFT adapter folder for --model (and with --merge
// the merged model in <out>/hf-merged); each with the model directory's
// tokenizer files.
func (r *training) export(ctx context.Context) error {
	dir := filepath.Join(r.cfg.Out, HFExportDir)
	if _, ok := r.policy.LoRA(); !ok {
		return exportHF(ctx, r.policy.ExportHF, r.cfg.Model, dir)
	}
	write := func(d string) error { return r.policy.WritePEFTAdapter(d, r.cfg.Model) }
	if err := exportHF(ctx, write, r.cfg.Model, dir); err != nil {
		return err
	}
	if !r.cfg.Merge {
		return nil
	}
	return exportHF(ctx, r.policy.ExportHF, r.cfg.Model, filepath.Join(r.cfg.Out, HFMergedDir)) // ExportHF merges the adapter
}

// exportHF writes a model folder with write, then the reference
// directory's tokenizer files beside it, so the folder loads in the HF
// ecosystem as the reference did.
func exportHF(ctx context.Context, write func(dir string) error, refDir, dir string) error {
	if err := write(dir); err != nil {
		return err
	}
	local, err := LocalDir(ctx, refDir)
	if err != nil {
		return err
	}
	if local != refDir {
		defer os.RemoveAll(local)
	}
	for _, f := range tokenizerFiles {
		b, err := os.ReadFile(filepath.Join(local, f))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// bar draws progress as [=====>    ].
func bar(done, total int) string {
	const width = 20
	n := done * width / total
	s := strings.Repeat("=", n)
	if n < width {
		s += ">" + strings.Repeat(" ", width-n-1)
	}
	return "[" + s + "]"
}

func short(fp string) string {
	if len(fp) > 12 {
		return fp[:12]
	}
	if fp == "" {
		return "(none recorded)"
	}
	return fp
}

func metricRow(split string, step int, epoch float64, st model.PreferenceStats) schemas.Metric {
	return schemas.Metric{Split: split, Step: int64(step), Epoch: epoch, Loss: st.Loss,
		RewardsChosen: st.RewardsChosen, RewardsRejected: st.RewardsRejected, RewardsAccuracies: st.RewardsAccuracies,
		RewardsMargins: st.RewardsMargins, LogpsChosen: st.LogpsChosen, LogpsRejected: st.LogpsRejected,
		DeltaMean: st.DeltaMean, DeltaStd: st.DeltaStd, AugAccuracies: st.AugAccuracies}
}

// preferencePair is a scored row as a training pair.
func preferencePair(r schemas.Scored) model.PreferencePair {
	p := model.PreferencePair{ID: r.ID, Prompt: r.PromptIDs, AugPrompt: r.AugPromptIDs, Chosen: r.ChosenIDs, Rejected: r.RejectedIDs,
		Ref: RefLogps(r)}
	if r.Offset != nil {
		p.Offset = *r.Offset
	}
	return p
}

// heldOut says whether a pair of this id is held out for evaluation: a
// hash of the id below the fraction.
func heldOut(id string, fraction float64) bool {
	h := fnv.New64a()
	h.Write([]byte(id))
	return float64(h.Sum64()%1_000_000)/1_000_000 < fraction
}

// dataOrder is the order pairs are trained in: epoch e = step /
// batches-per-epoch walks a permutation seeded by (seed, e). It depends on
// nothing else, so a resumed run sees the data in the same order. The
// epoch's permutation is kept, not redrawn each step.
type dataOrder struct {
	seed  uint64
	epoch int
	perm  []int
}

// batchAt is the step's batch of pairs.
func batchAt[T any](o *dataOrder, pairs []T, size int, step int) []T {
	perEpoch := (len(pairs) + size - 1) / size
	epoch, i := step/perEpoch, step%perEpoch
	if o.perm == nil || o.epoch != epoch || len(o.perm) != len(pairs) {
		o.epoch, o.perm = epoch, rand.New(rand.NewPCG(o.seed, uint64(epoch))).Perm(len(pairs))
	}
	var out []T
	for _, j := range o.perm[i*size : min((i+1)*size, len(pairs))] {
		out = append(out, pairs[j])
	}
	return out
}
