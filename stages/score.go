package stages

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"sync/atomic"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/tokenizer"
	"github.com/srdpo/srdpo/schemas"
)

func init() {
	register.DoFn4x1[context.Context, schemas.Preference, func(schemas.Scored), func(schemas.DeadLetter), error](&scoreFn{})
	register.Emitter1[schemas.Scored]()
}

// ScoreBudgetTokens is the token budget of one forward pass when scoring.
// It is fixed, not a flag: a pair's shape, and so its score to the last
// bit, must not depend on how a run was configured (see model.Scorer).
// 1024 rather than 4096: a batch holds the sequences of one shape, and
// with 4096 tokens a shape with one long sequence ran three empty rows
// beside it; on the realistic length mix (srdpo bench --figure
// scoring-mix-256) 512–1024 scored fastest, 4096 took twice as long.
const ScoreBudgetTokens = 1024

// scoredHere counts pairs and tokens scored in this process (ScoredInProcess).
var scoredHere struct{ pairs, tokens atomic.Int64 }

// ScoredInProcess is how many pairs and tokens this process has scored so
// far: the whole job's progress on the in-process runner, where Beam's
// counters are only read at the end.
func ScoredInProcess() (pairs, tokens int64) {
	return scoredHere.pairs.Load(), scoredHere.tokens.Load()
}

// ReferenceSpec names the frozen reference model and how its inputs are
// formed. It is serialised into Beam DoFns.
type ReferenceSpec struct {
	ModelDir     string // local or gs://
	Adapter      string // a PEFT LoRA adapter folder loaded onto the model (local or gs://), or empty
	Tokenizer    string // "auto", "byte" or a local tokenizer directory
	AugPrompt    string // p
	AugSeparator string // p⊕x = p + separator + x
	AugPosition  string // where p goes in a conversation (Augmentation.Position)
	Tokenization string // TokenizationSrdpo or TokenizationTRL
	// Reuse is an earlier scored set whose settings are this run's
	// (ReuseSettings): its rows of the same id and content are carried
	// over instead of scored. Empty: score every row.
	Reuse       string
	Truncation  model.Truncation // lengths left at 0 follow the model's context
	ResponseEOS bool             // end each response with the tokenizer's EOS
	// RefFromCorpus takes the x-side sums from the rows' given columns and
	// scores only p⊕x (given_ref.go).
	RefFromCorpus bool
}

// Reference is a loaded reference model with its tokenizer.
type Reference struct {
	Spec        ReferenceSpec
	Model       *model.Decoder
	Tokenizer   tokenizer.Tokenizer
	Fingerprint string // the model's, taken once: a reference never changes
	scorer      *model.SharedScorer
}

var references onceCache[ReferenceSpec, *Reference]

// LoadReference loads the model of spec once per process; every DoFn
// instance and bundle shares it.
func LoadReference(ctx context.Context, spec ReferenceSpec) (*Reference, error) {
	return references.get(spec, func() (*Reference, error) { return loadReference(ctx, spec) })
}

func loadReference(ctx context.Context, spec ReferenceSpec) (*Reference, error) {
	m, tok, err := loadFrozen(ctx, spec.ModelDir, spec.Adapter, spec.Tokenizer)
	if err != nil {
		return nil, err
	}
	// Lengths left at 0 follow the model's context (the same on every
	// worker: it depends on the model alone); the metadata records them.
	spec.Truncation = spec.Truncation.ForContext(m.Config.Context)
	if err := spec.Truncation.Validate(); err != nil {
		return nil, err
	}
	if spec.ResponseEOS && tok.EOS() < 0 {
		return nil, fmt.Errorf("--response-eos: the tokenizer has no EOS token")
	}
	if spec.Truncation.MaxLength > m.Config.Context {
		return nil, fmt.Errorf("max length %d is longer than the model's context of %d", spec.Truncation.MaxLength, m.Config.Context)
	}
	scorer, err := m.NewSharedScorer(ScoreBudgetTokens)
	if err != nil {
		return nil, err
	}
	fp, err := m.Fingerprint()
	if err != nil {
		return nil, err
	}
	return &Reference{Spec: spec, Model: m, Tokenizer: tok, Fingerprint: fp, scorer: scorer}, nil
}

// Metadata is the provenance the reference adds to scored files.
func (r *Reference) Metadata() schemas.Metadata {
	t := r.Spec.Truncation
	md := schemas.Metadata{
		schemas.KeyModelFingerprint:     r.Fingerprint,
		schemas.KeyTokenizerFingerprint: r.Tokenizer.Fingerprint(),
		schemas.KeyAugPrompt:            r.Spec.AugPrompt,
		schemas.KeyAugSeparator:         r.Spec.AugSeparator,
		schemas.KeyMaxPromptLength:      fmt.Sprint(t.MaxPromptLength),
		schemas.KeyMaxLength:            fmt.Sprint(t.MaxLength),
		schemas.KeyTruncationMode:       t.Mode(),
		schemas.KeyResponseEOS:          fmt.Sprint(r.Spec.ResponseEOS),
		schemas.KeyAugPosition:          r.Spec.AugPosition,
		schemas.KeyTokenization:         r.tokenization(),
	}
	if r.Spec.RefFromCorpus {
		md[schemas.KeyRefSource] = RefSourceCorpus
	}
	return md
}

// Score tokenises, truncates and scores preference rows: log π_ref of each
// response given x and given p⊕x. The prompts x and p⊕x are each cut to the
// max prompt length, then both responses to what is left beside the longer
// of the two, so the same response tokens are scored under both prompts.
// Special tokens enter as sequences.go says. Rows the tokenizer refuses
// are left out and returned as dead letters naming the part.
func (r *Reference) Score(rows []schemas.Preference) ([]schemas.Scored, []schemas.DeadLetter, error) {
	out := make([]schemas.Scored, 0, len(rows))
	var dead []schemas.DeadLetter
	var given [][2]float64 // the given x-side sums of out's rows, with RefFromCorpus
	for _, p := range rows {
		reason := ReasonTokenize
		var s schemas.Scored
		var err error
		switch {
		case !r.Spec.RefFromCorpus:
			s, err = r.tokenize(p)
		case p.GivenRefChosen == nil:
			reason, err = ReasonNoGivenRef, fmt.Errorf("--ref-from-corpus, and the record has no ref_chosen_logps / ref_rejected_logps")
		default:
			if s, err = r.tokenizeGiven(p); errors.As(err, new(*errGivenIDs)) {
				reason = ReasonGivenIDsMismatch
			}
		}
		if err != nil {
			dead = append(dead, schemas.DeadLetter{Source: "scoring:" + p.ID, Offset: -1, Reason: reason,
				Detail: fmt.Sprintf("row %s: %v", p.ID, err), Raw: p.ID})
			continue
		}
		out = append(out, s)
		if r.Spec.RefFromCorpus {
			given = append(given, [2]float64{*p.GivenRefChosen, *p.GivenRefRejected})
		}
	}
	if len(out) == 0 {
		return out, dead, nil
	}
	pairs := make([]model.Preference, len(out))
	for i, s := range out {
		pairs[i] = preferenceOf(s)
		pairs[i].PlainGiven = r.Spec.RefFromCorpus
	}
	lp, err := r.scorer.PairLogps(pairs)
	if err != nil {
		return nil, nil, err
	}
	for i := range out {
		if given != nil {
			lp[i].Chosen, lp[i].Rejected = given[i][0], given[i][1]
		}
		setRefLogps(&out[i], lp[i])
	}
	return out, dead, nil
}

// tokenize forms a row's four sequences, before scoring.
func (r *Reference) tokenize(p schemas.Preference) (schemas.Scored, error) {
	if r.tokenization() == TokenizationTRL {
		return r.tokenizeTRL(p)
	}
	tok, t := r.Tokenizer, r.Spec.Truncation
	x, xCut, err := PromptIDs(tok, p.Prompt, t.MaxPromptLength, t.Prompt)
	if err != nil {
		return schemas.Scored{}, fmt.Errorf("prompt: %w", err)
	}
	ax, axCut, err := PromptIDs(tok, r.augmented(p), t.MaxPromptLength, t.Prompt)
	if err != nil {
		return schemas.Scored{}, fmt.Errorf("augmented prompt: %w", err)
	}
	room := t.MaxLength - max(len(x), len(ax))
	c, cCut, err := ResponseIDs(tok, p.Chosen, r.Spec.ResponseEOS, room, t.Response)
	if err != nil {
		return schemas.Scored{}, fmt.Errorf("chosen: %w", err)
	}
	rj, rCut, err := ResponseIDs(tok, p.Rejected, r.Spec.ResponseEOS, room, t.Response)
	if err != nil {
		return schemas.Scored{}, fmt.Errorf("rejected: %w", err)
	}
	if len(x) == 0 || len(ax) == 0 || len(c) == 0 || len(rj) == 0 {
		return schemas.Scored{}, fmt.Errorf("a part tokenises to nothing (prompt %d, augmented %d, chosen %d, rejected %d tokens)", len(x), len(ax), len(c), len(rj))
	}
	return schemas.Scored{ID: p.ID, Prompt: p.Prompt, Chosen: p.Chosen, Rejected: p.Rejected, Messages: p.Messages, SourceFormat: p.SourceFormat,
		PromptIDs: x, AugPromptIDs: ax, ChosenIDs: c, RejectedIDs: rj,
		PromptTokens: int32(len(x)), AugPromptTokens: int32(len(ax)), ChosenTokens: int32(len(c)), RejectedTokens: int32(len(rj)),
		PromptTruncated: xCut, AugPromptTruncated: axCut, ChosenTruncated: cCut, RejectedTruncated: rCut,
		ScoreChosen: p.ScoreChosen, ScoreRejected: p.ScoreRejected, Offset: p.Offset}, nil
}

// augmented is a row's p⊕x: rendered with p in its messages at ingestion
// (conversations), else p + separator + x.
func (r *Reference) augmented(p schemas.Preference) string {
	if p.AugPrompt != "" {
		return p.AugPrompt
	}
	return schemas.Augment(r.Spec.AugPrompt, r.Spec.AugSeparator, p.Prompt)
}

// preferenceOf is a scored row's token ids as the model scores them.
func preferenceOf(s schemas.Scored) model.Preference {
	return model.Preference{Prompt: s.PromptIDs, AugPrompt: s.AugPromptIDs, Chosen: s.ChosenIDs, Rejected: s.RejectedIDs}
}

// RefLogps are a scored row's four reference sums.
func RefLogps(s schemas.Scored) model.PairLogps {
	return model.PairLogps{Chosen: s.RefLogpChosen, Rejected: s.RefLogpRejected, ChosenAug: s.RefLogpChosenAug, RejectedAug: s.RefLogpRejectedAug}
}

func setRefLogps(s *schemas.Scored, lp model.PairLogps) {
	s.RefLogpChosen, s.RefLogpRejected, s.RefLogpChosenAug, s.RefLogpRejectedAug = lp.Chosen, lp.Rejected, lp.ChosenAug, lp.RejectedAug
}

// invalidScoreReason tells a scored row's dead-letter reason: not finite,
// or otherwise invalid.
func invalidScoreReason(s schemas.Scored) string {
	lp := RefLogps(s)
	for _, v := range []float64{lp.Chosen, lp.Rejected, lp.ChosenAug, lp.RejectedAug} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return ReasonNonFiniteScore
		}
	}
	return ReasonInvalidScore
}

// TokensScored is how many tokens the reference ran over for a row: each
// response after x and after p⊕x.
func TokensScored(s schemas.Scored) int64 {
	return int64(2*(s.PromptTokens+s.AugPromptTokens) + 2*(s.ChosenTokens+s.RejectedTokens))
}

// tokensScored is TokensScored of this reference: the p⊕x side only when
// the x side's sums were given.
func (r *Reference) tokensScored(s schemas.Scored) int64 {
	if r.Spec.RefFromCorpus {
		return int64(2*s.AugPromptTokens + s.ChosenTokens + s.RejectedTokens)
	}
	return TokensScored(s)
}

// ScoreOption configures ScorePreferences.
type ScoreOption func(*scoreFn)

// WithBatchPairs sets how many pairs a worker gathers before scoring them
// (default 64). It changes memory and speed, never the scores.
func WithBatchPairs(n int) ScoreOption { return func(fn *scoreFn) { fn.BatchPairs = n } }

// ScorePreferences scores preference rows with the reference model. Rows
// the tokenizer refuses (reason "tokenize") and rows whose scores are not
// finite ("nonfinite_score") or otherwise not log-probs ("invalid_score")
// go to the dead letters; a model that cannot be loaded fails the
// pipeline.
func ScorePreferences(s beam.Scope, spec ReferenceSpec, rows beam.PCollection, opts ...ScoreOption) (scored, dead beam.PCollection) {
	s = s.Scope("stages.ScorePreferences")
	fn := &scoreFn{Spec: spec, BatchPairs: 64}
	for _, o := range opts {
		o(fn)
	}
	return beam.ParDo2(s, fn, rows)
}

// FaultScoreIDEnv names a row whose scoring fails, for tests of failed
// jobs (test-only; unset in real runs).
const FaultScoreIDEnv = "SRDPO_TEST_FAIL_SCORING_ROW"

// Dead-letter reasons of scoring.
const (
	// ReasonNonFiniteScore marks a row whose reference log-prob is NaN or ±Inf.
	ReasonNonFiniteScore = "nonfinite_score"
	// ReasonInvalidScore marks a row whose scores are finite but not
	// log-probs (a positive sum).
	ReasonInvalidScore = "invalid_score"
	// ReasonTokenize marks a row the tokenizer refused or that tokenises
	// to an empty part.
	ReasonTokenize = "tokenize"
)

type scoreFn struct {
	Spec       ReferenceSpec
	BatchPairs int

	ref                            *Reference
	reuse                          *reuseIndex // nil without Spec.Reuse
	failID                         string      // FaultScoreIDEnv, read once in Setup
	batch                          []schemas.Preference
	pairs, tokens, truncated, dead beam.Counter
	reused, missNew, missChanged   beam.Counter
}

func (fn *scoreFn) Setup(ctx context.Context) error {
	ref, err := LoadReference(ctx, fn.Spec)
	if err != nil {
		return fmt.Errorf("loading the reference model %s: %w", fn.Spec.ModelDir, err)
	}
	fn.ref = ref
	fn.failID = os.Getenv(FaultScoreIDEnv)
	fn.pairs = beam.NewCounter(CounterNamespace, CounterPairsScored)
	fn.tokens = beam.NewCounter(CounterNamespace, CounterTokensScored)
	fn.truncated = beam.NewCounter(CounterNamespace, CounterRowsTruncated)
	fn.dead = beam.NewCounter(CounterNamespace, CounterScoringDead)
	if fn.Spec.Reuse != "" {
		if fn.reuse, err = loadReuseIndex(ctx, fn.Spec.Reuse); err != nil {
			return err
		}
		fn.reused = beam.NewCounter(CounterNamespace, CounterPairsReused)
		fn.missNew = beam.NewCounter(CounterNamespace, CounterReuseNew)
		fn.missChanged = beam.NewCounter(CounterNamespace, CounterReuseChanged)
	}
	return nil
}

// carryOver emits the batch's rows the earlier set already holds and
// returns the others, to be scored.
func (fn *scoreFn) carryOver(ctx context.Context, emit func(schemas.Scored)) ([]schemas.Preference, error) {
	if fn.reuse == nil {
		return fn.batch, nil
	}
	var rest []schemas.Preference
	for _, p := range fn.batch {
		r, miss, err := fn.reuse.lookup(p)
		if err != nil {
			return nil, err
		}
		switch miss {
		case "":
			fn.reused.Inc(ctx, 1)
			emit(r)
			continue
		case CounterReuseNew:
			fn.missNew.Inc(ctx, 1)
		default:
			fn.missChanged.Inc(ctx, 1)
		}
		rest = append(rest, p)
	}
	return rest, nil
}

func (fn *scoreFn) StartBundle(_ context.Context, _ func(schemas.Scored), _ func(schemas.DeadLetter)) {
	fn.batch = fn.batch[:0]
}

func (fn *scoreFn) ProcessElement(ctx context.Context, row schemas.Preference, emit func(schemas.Scored), dead func(schemas.DeadLetter)) error {
	if fn.failID != "" && fn.failID == row.ID {
		return fmt.Errorf("row %s: injected failure (%s)", row.ID, FaultScoreIDEnv)
	}
	fn.batch = append(fn.batch, row)
	if len(fn.batch) >= fn.BatchPairs {
		return fn.flush(ctx, emit, dead)
	}
	return nil
}

func (fn *scoreFn) FinishBundle(ctx context.Context, emit func(schemas.Scored), dead func(schemas.DeadLetter)) error {
	return fn.flush(ctx, emit, dead)
}

func (fn *scoreFn) flush(ctx context.Context, emit func(schemas.Scored), dead func(schemas.DeadLetter)) error {
	if len(fn.batch) == 0 {
		return nil
	}
	todo, err := fn.carryOver(ctx, emit)
	if err != nil {
		return err
	}
	scored, refused, err := fn.ref.Score(todo)
	if err != nil {
		return err
	}
	for _, d := range refused {
		fn.dead.Inc(ctx, 1)
		dead(d)
	}
	for _, s := range scored {
		if err := s.Validate(); err != nil {
			fn.dead.Inc(ctx, 1)
			dead(schemas.DeadLetter{Source: "scoring:" + s.ID, Offset: -1, Reason: invalidScoreReason(s),
				Detail: fmt.Sprintf("row %s: %v", s.ID, err), Raw: s.ID})
			continue
		}
		n := fn.ref.tokensScored(s)
		fn.pairs.Inc(ctx, 1)
		fn.tokens.Inc(ctx, n)
		scoredHere.pairs.Add(1)
		scoredHere.tokens.Add(n)
		if s.PromptTruncated || s.AugPromptTruncated || s.ChosenTruncated || s.RejectedTruncated {
			fn.truncated.Inc(ctx, 1)
		}
		emit(s)
	}
	fn.batch = fn.batch[:0]
	return nil
}

// Sequences are a row's token ids as scoring forms them, without scoring.
func (r *Reference) Sequences(p schemas.Preference) (schemas.Scored, error) { return r.tokenize(p) }

// RenderOnly is a Reference without a model: its Sequences need only the
// tokenizer (lengths left at 0 follow the paper's 512).
func RenderOnly(spec ReferenceSpec, tok tokenizer.Tokenizer) *Reference {
	spec.Truncation = spec.Truncation.ForContext(model.DefaultTruncation.MaxLength)
	return &Reference{Spec: spec, Tokenizer: tok}
}
