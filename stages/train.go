package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gomlx/compute"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/schemas"
)

// TrainConfig is the training stage's whole configuration.
type TrainConfig struct {
	Shards    string // scored shards: a manifest (…/x.manifest.json) or a glob, local or gs://
	Model     string // the reference model directory; the policy starts from it
	Tokenizer string // as for scoring; its fingerprint must match the shards'
	Out       string // local directory: checkpoint/, metrics.arrow

	// AugPrompt and AugSeparator, when set, must equal what the shards were
	// scored with (their metadata); p comes from the shards either way.
	AugPrompt, AugSeparator *string

	Loss      model.LossConfig
	Optim     model.Optim
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
	Resume          bool    // continue from Out/checkpoint if there is one
}

// TrainResult summarises a finished run.
type TrainResult struct {
	Steps   int
	Metrics []schemas.Metric
	Policy  *model.GPT
}

const checkpointDir = "checkpoint"

// trainState is what a checkpoint adds to the model to resume exactly.
type trainState struct {
	Step   int    `json:"step"` // steps done
	Seed   uint64 `json:"seed"`
	Shards string `json:"shards_fingerprint"`
}

// Train runs preference optimisation on scored shards. It stops at ctx's
// end after the step under way, leaving the last checkpoint as it was, as
// a killed run would; --resume then continues with the same data order,
// optimiser state and metrics, to the same result.
func Train(ctx context.Context, cfg TrainConfig, progress io.Writer) (TrainResult, error) {
	var res TrainResult
	if cfg.BatchSize < 1 {
		return res, fmt.Errorf("batch size %d: want at least 1", cfg.BatchSize)
	}
	rows, md, err := readScored(ctx, cfg.Shards)
	if err != nil {
		return res, err
	}
	if cfg.AugPrompt != nil && *cfg.AugPrompt != md.Get(schemas.KeyAugPrompt) {
		return res, fmt.Errorf("--aug-prompt %q differs from the shards' p %q: Δπ must use the p the reference was scored with", *cfg.AugPrompt, md.Get(schemas.KeyAugPrompt))
	}
	if cfg.AugSeparator != nil && *cfg.AugSeparator != md.Get(schemas.KeyAugSeparator) {
		return res, fmt.Errorf("--aug-sep %q differs from the shards' separator %q", *cfg.AugSeparator, md.Get(schemas.KeyAugSeparator))
	}
	policy, tok, err := loadModel(ctx, cfg.Model, cfg.Tokenizer)
	if err != nil {
		return res, err
	}
	if got, want := policy.Fingerprint(), md.Get(schemas.KeyModelFingerprint); got != want {
		return res, fmt.Errorf("the shards were scored with model %s, but %s is model %s: train from the reference the shards were scored with", short(want), cfg.Model, short(got))
	}
	if got, want := tok.Fingerprint(), md.Get(schemas.KeyTokenizerFingerprint); got != want {
		return res, fmt.Errorf("the shards were tokenised with tokenizer %s, but the tokenizer here is %s", short(want), short(got))
	}
	train, eval := splitEval(rows, cfg.EvalFraction)
	if len(train) == 0 {
		return res, fmt.Errorf("no training pairs (%d rows, eval fraction %g)", len(rows), cfg.EvalFraction)
	}
	perEpoch := (len(train) + cfg.BatchSize - 1) / cfg.BatchSize
	total := cfg.Steps
	if total == 0 {
		total = max(cfg.Epochs, 1) * perEpoch
	}
	opt := cfg.Optim
	if opt.TotalSteps == 0 {
		opt.TotalSteps = total
	}
	shardsFP := shardsFingerprint(rows)

	start := 0
	var metrics []schemas.Metric
	ckpt := filepath.Join(cfg.Out, checkpointDir)
	if cfg.Resume {
		if _, err := os.Stat(ckpt); err == nil {
			st, ms, p, err := loadCheckpoint(ckpt, policy.Backend)
			if err != nil {
				return res, err
			}
			if st.Seed != cfg.Seed || st.Shards != shardsFP {
				return res, fmt.Errorf("the checkpoint in %s is of another run (seed %d, shards %s); not resuming it", ckpt, st.Seed, short(st.Shards))
			}
			policy, start, metrics = p, st.Step, ms
			fmt.Fprintf(progress, "srdpo train: resuming at step %d of %d\n", start, total)
		}
	}
	trainer, err := policy.NewPreferenceTrainer(cfg.Loss, opt, max(cfg.GradAccum, 1))
	if err != nil {
		return res, err
	}
	aug := newAugCache(policy, max(cfg.DeltaRefresh, 1))
	save := func(step int) error {
		return saveCheckpoint(cfg.Out, policy, trainState{Step: step, Seed: cfg.Seed, Shards: shardsFP}, metrics)
	}
	logEvery := max(cfg.LogEvery, 1)
	began := time.Now()
	tokens := 0
	for step := start; step < total; step++ {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("interrupted before step %d: %w", step+1, err)
		}
		batch := batchAt(train, cfg.BatchSize, cfg.Seed, step)
		given, err := aug.values(step, batch)
		if err != nil {
			return res, err
		}
		st, err := trainer.StepWithAug(step, batch, given)
		if err != nil { // not finite: no checkpoint is written from this state
			return res, fmt.Errorf("step %d/%d: %w", step+1, total, err)
		}
		tokens += st.Tokens
		done := step + 1
		if done%logEvery == 0 || done == total {
			m := metricRow("train", done, float64(step)/float64(perEpoch), st)
			m.LearningRate = opt.LearningRate(step)
			m.TokensPerSec = float64(tokens) / time.Since(began).Seconds()
			metrics = append(metrics, m)
			fmt.Fprintf(progress, "step %d/%d %s loss %.4f  acc %.2f  margin %.4f  Δπ %.4f  acc(p⊕x) %.2f  %.0f tok/s\n",
				done, total, bar(done, total), m.Loss, m.RewardsAccuracies, m.RewardsMargins, m.DeltaMean, m.AugAccuracies, m.TokensPerSec)
		}
		if len(eval) > 0 && ((cfg.EvalEvery > 0 && done%cfg.EvalEvery == 0) || done == total) {
			es, err := trainer.Evaluate(eval)
			if err != nil {
				return res, err
			}
			metrics = append(metrics, metricRow("eval", done, float64(step)/float64(perEpoch), es))
		}
		if (cfg.CheckpointEvery > 0 && done%cfg.CheckpointEvery == 0) || done == total {
			if err := save(done); err != nil {
				return res, err
			}
		}
	}
	return TrainResult{Steps: total, Metrics: metrics, Policy: policy}, nil
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
		DeltaMean: st.DeltaMean, DeltaStd: st.DeltaStd, AugAccuracies: st.AugAccuracies, GradNorm: st.GradNorm}
}

// readScored reads every row of the shards, which must share one set of
// metadata.
func readScored(ctx context.Context, pattern string) ([]schemas.Scored, schemas.Metadata, error) {
	refs, err := listShards(ctx, pattern)
	if err != nil {
		return nil, nil, err
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Path < refs[j].Path })
	var rows []schemas.Scored
	var md schemas.Metadata
	for _, ref := range refs {
		rs, m, err := readShard(ctx, ref, schemas.ScoredRows)
		if err != nil {
			return nil, nil, err
		}
		if md == nil {
			md = m
		} else if err := m.Expect(md); err != nil {
			return nil, nil, fmt.Errorf("%s was written by another scoring run than %s: %w", ref.Path, refs[0].Path, err)
		}
		for _, r := range rs {
			rows = append(rows, r.(schemas.Scored))
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
	return rows, md, nil
}

// splitEval holds out, by a hash of the id, about a fraction of the pairs.
func splitEval(rows []schemas.Scored, fraction float64) (train, eval []model.PreferencePair) {
	for _, r := range rows {
		p := model.PreferencePair{ID: r.ID, Prompt: r.PromptIDs, AugPrompt: r.AugPromptIDs, Chosen: r.ChosenIDs, Rejected: r.RejectedIDs,
			Ref: RefLogps(r)}
		if r.Offset != nil {
			p.Offset = *r.Offset
		}
		h := fnv.New64a()
		h.Write([]byte(r.ID))
		if float64(h.Sum64()%1_000_000)/1_000_000 < fraction {
			eval = append(eval, p)
		} else {
			train = append(train, p)
		}
	}
	return train, eval
}

// batchAt is the batch of a step: epoch e = step / batches-per-epoch walks
// a permutation seeded by (seed, e). It depends on nothing else, so a
// resumed run sees the data in the same order.
func batchAt(pairs []model.PreferencePair, size int, seed uint64, step int) []model.PreferencePair {
	perEpoch := (len(pairs) + size - 1) / size
	epoch, i := step/perEpoch, step%perEpoch
	perm := rand.New(rand.NewPCG(seed, uint64(epoch))).Perm(len(pairs))
	var out []model.PreferencePair
	for _, j := range perm[i*size : min((i+1)*size, len(pairs))] {
		out = append(out, pairs[j])
	}
	return out
}

func shardsFingerprint(rows []schemas.Scored) string {
	h := fnv.New64a()
	for _, r := range rows {
		fmt.Fprintf(h, "%s\x00%v\x00%v\x00", r.ID, r.RefLogpChosen, r.RefLogpRejected)
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

// saveCheckpoint writes the policy (weights and optimiser state), the
// training state and the metrics so far into out/checkpoint, atomically:
// everything goes to a fresh folder that then replaces the old one.
func saveCheckpoint(out string, policy *model.GPT, st trainState, metrics []schemas.Metric) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(out, ".checkpoint-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := policy.Save(tmp); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, "state.json"), b, 0o644); err != nil {
		return err
	}
	if err := writeMetrics(filepath.Join(tmp, "metrics.arrow"), metrics); err != nil {
		return err
	}
	final := filepath.Join(out, checkpointDir)
	old := final + ".old"
	os.RemoveAll(old)
	if err := os.Rename(final, old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	os.RemoveAll(old)
	// The metrics also sit beside the checkpoint, for readers of the run.
	return writeMetrics(filepath.Join(out, "metrics.arrow"), metrics)
}

func writeMetrics(path string, metrics []schemas.Metric) error {
	rows := make([]schemas.Row, len(metrics))
	for i, m := range metrics {
		rows[i] = m
	}
	var buf bytes.Buffer
	if err := schemas.WriteFile(&buf, schemas.FormatArrow, schemas.Metrics, schemas.NewMetadata(), rows); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func loadCheckpoint(dir string, backend compute.Backend) (trainState, []schemas.Metric, *model.GPT, error) {
	var st trainState
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return st, nil, nil, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, nil, nil, fmt.Errorf("%s/state.json: %w", dir, err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "metrics.arrow"))
	if err != nil {
		return st, nil, nil, err
	}
	rows, _, err := schemas.ReadFile(data, schemas.FormatArrow, schemas.Metrics)
	if err != nil {
		return st, nil, nil, err
	}
	metrics := make([]schemas.Metric, len(rows))
	for i, r := range rows {
		metrics[i] = r.(schemas.Metric)
	}
	p, err := model.Load(dir, backend)
	return st, metrics, p, err
}

// augCache holds the policy's log-probs on p⊕x per pair for --delta-refresh.
type augCache struct {
	k      int
	scorer *model.Scorer
	policy *model.GPT
	at     map[string]cachedAug
}

type cachedAug struct {
	chosen, rejected float64
	step             int
}

func newAugCache(policy *model.GPT, k int) *augCache {
	return &augCache{k: k, policy: policy, at: map[string]cachedAug{}}
}

// values returns nil when K = 1 (the step computes them, exactly), else the
// cached values, refreshing those K or more steps old with the current
// policy. The cache is not checkpointed: a resumed run recomputes, which
// for K > 1 can differ from an uninterrupted one.
func (c *augCache) values(step int, batch []model.PreferencePair) ([]float64, error) {
	if c.k == 1 {
		return nil, nil
	}
	if c.scorer == nil {
		s, err := c.policy.NewScorer(max(ScoreBudgetTokens, c.policy.Config.Context))
		if err != nil {
			return nil, err
		}
		c.scorer = s
	}
	var stale []model.Pair
	var staleIdx []int
	for i, p := range batch {
		if e, ok := c.at[p.ID]; !ok || step-e.step >= c.k {
			stale = append(stale, model.Pair{Prompt: p.AugPrompt, Response: p.Chosen}, model.Pair{Prompt: p.AugPrompt, Response: p.Rejected})
			staleIdx = append(staleIdx, i)
		}
	}
	if len(stale) > 0 {
		lp, err := c.scorer.LogProbs(stale)
		if err != nil {
			return nil, err
		}
		for j, i := range staleIdx {
			c.at[batch[i].ID] = cachedAug{chosen: lp[2*j].Sum, rejected: lp[2*j+1].Sum, step: step}
		}
	}
	out := make([]float64, 0, 2*len(batch))
	for _, p := range batch {
		e := c.at[p.ID]
		out = append(out, e.chosen, e.rejected)
	}
	return out, nil
}
