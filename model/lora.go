package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
)

// LoRA is a low-rank adapter's settings, named as PEFT's LoraConfig names
// them. A targeted linear map W x + b becomes W x + b + s·B(A·drop(x)),
// with A [rank, in], B [out, rank] and s = alpha/rank (alpha/√rank with
// rsLoRA), as PEFT's lora.Linear.forward computes it
// (peft/tuners/lora/layer.py, huggingface/peft@00336949).
type LoRA struct {
	Rank    int     `json:"r"`
	Alpha   float64 `json:"lora_alpha"`
	Dropout float64 `json:"lora_dropout"`
	// Targets are module names as PEFT takes them: a name matches a map
	// whose full Hugging Face module name equals it or ends in "."+name
	// ("q_proj", "mlp.c_proj"); "all-linear" is every linear map but the
	// output head. Empty: PEFT's default for the family.
	Targets []string `json:"target_modules"`
	RSLoRA  bool     `json:"use_rslora"`
}

// AllLinear is PEFT's shorthand for every linear map but the output head.
const AllLinear = "all-linear"

// maxLoRARank bounds the rank: far above any adapter in use, and it keeps
// a crafted adapter_config.json from asking for huge buffers.
const maxLoRARank = 1 << 16

// Scaling is s, the factor of the adapter's product.
func (l LoRA) Scaling() float64 {
	if l.RSLoRA {
		return l.Alpha / math.Sqrt(float64(l.Rank))
	}
	return l.Alpha / float64(l.Rank)
}

// Validate checks the settings.
func (l LoRA) Validate() error {
	switch {
	case l.Rank < 1 || l.Rank > maxLoRARank:
		return fmt.Errorf("LoRA rank %d: want 1 to %d", l.Rank, maxLoRARank)
	case !(l.Alpha > 0) || math.IsInf(l.Alpha, 0):
		return fmt.Errorf("LoRA alpha %g: want a positive number", l.Alpha)
	case !(l.Dropout >= 0 && l.Dropout < 1):
		return fmt.Errorf("LoRA dropout %g: want 0 ≤ p < 1", l.Dropout)
	}
	for _, t := range l.Targets {
		if strings.TrimSpace(t) == "" {
			return fmt.Errorf("LoRA targets %q: an empty module name", strings.Join(l.Targets, ","))
		}
	}
	return nil
}

// adapter is a model's LoRA: its settings, the maps it adapts, by the
// map's name (projection.name), and the graphs that apply its dropout.
type adapter struct {
	cfg     LoRA
	targets map[string]projection
	// dropoutIn marks the training-step graphs: every graph here is marked
	// a training graph (design §8, pitfall 1), so IsTraining cannot say
	// which graphs are steps and which score or evaluate.
	dropoutIn sync.Map // *Graph → true
}

// loraA and loraB are the names of a map's adapter weights, PEFT's without
// its "base_model.model." prefix and adapter name.
func loraA(mapName string) string { return mapName + ".lora_A.weight" }
func loraB(mapName string) string { return mapName + ".lora_B.weight" }

// loraTargets resolves l's target names to the config's linear maps, in
// name order. A target that matches no map is an error, as in PEFT.
func (c Config) loraTargets(l LoRA) (map[string]projection, error) {
	targets := l.Targets
	if len(targets) == 0 {
		targets = c.arch().loraTargets
	}
	all := slices.Contains(targets, AllLinear)
	out := map[string]projection{}
	matched := map[string]bool{}
	for layer := 0; layer < c.Layers; layer++ {
		for _, p := range c.projections(layer) {
			module := c.layout().headPrefix + p.name
			for _, t := range targets {
				if all || module == t || strings.HasSuffix(module, "."+t) {
					out[p.name] = p
					matched[t] = true
				}
			}
		}
	}
	for _, t := range targets {
		if t != AllLinear && !matched[t] {
			return nil, fmt.Errorf("LoRA target %q matches no linear map of this %s model (its maps end in %s)",
				t, c.Family.orDefault(), strings.Join(c.mapSuffixes(), ", "))
		}
	}
	return out, nil
}

// mapSuffixes are the last parts of the config's map names, for errors.
func (c Config) mapSuffixes() []string {
	var out []string
	for _, p := range c.projections(0) {
		out = append(out, p.name[strings.LastIndex(p.name, ".")+1:])
	}
	return slices.Compact(slices.Sorted(slices.Values(out)))
}

// AddLoRA attaches a new adapter initialised as PEFT's default
// (init_lora_weights=True): A by kaiming_uniform_(a=√5), that is
// U(−1/√in, 1/√in), and B zero, so the model computes what it did before
// until B moves. seed fixes A and the dropout masks.
func (m *Decoder) AddLoRA(l LoRA, seed uint64) error {
	if m.lora != nil {
		return fmt.Errorf("the model already has a LoRA adapter")
	}
	if err := l.Validate(); err != nil {
		return err
	}
	targets, err := m.Config.loraTargets(l)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, 0x10ca))
	values := map[string][]float64{}
	for _, name := range sortedKeys(targets) {
		p := targets[name]
		a := make([]float64, l.Rank*p.in)
		bound := 1 / math.Sqrt(float64(p.in))
		for i := range a {
			a[i] = (2*rng.Float64() - 1) * bound
		}
		values[loraA(name)] = a
		values[loraB(name)] = make([]float64, p.out*l.Rank)
	}
	if err := m.setAdapter(l, targets, values); err != nil {
		return err
	}
	return m.SeedDropout(seed)
}

// SeedDropout sets the state of the random numbers LoRA dropout draws, so
// that training with dropout is reproducible. A checkpoint saves the state.
func (m *Decoder) SeedDropout(seed uint64) error {
	return m.Store.SetRNGStateFromSeed(int64(seed & math.MaxInt64))
}

// setAdapter stores an adapter's weights (every target's A and B, in the
// shapes loraShape gives) as trainable variables and freezes the base.
func (m *Decoder) setAdapter(l LoRA, targets map[string]projection, values map[string][]float64) error {
	ad := &adapter{cfg: l, targets: targets}
	for _, name := range ad.weightNames() {
		shape := ad.shape(name)
		v, ok := values[name]
		if !ok {
			return fmt.Errorf("adapter weight %s is missing", name)
		}
		if len(v) != product(shape) {
			return fmt.Errorf("adapter weight %s has %d values, want %d for shape %v", name, len(v), product(shape), shape)
		}
		if _, err := m.Store.CreateVariable(weightPath(name), tensorOf(m.Config.DType, v, shape...)); err != nil {
			return fmt.Errorf("adapter weight %s: %w", name, err)
		}
	}
	m.freezeBase()
	m.lora = ad
	return nil
}

// freezeBase marks the base weights untrainable: with an adapter only the
// adapter trains.
func (m *Decoder) freezeBase() {
	for _, name := range m.Config.WeightNames() {
		m.Store.GetVariable(weightPath(name)).SetTrainable(false)
	}
}

// weightNames are the adapter's weights, in name order.
func (a *adapter) weightNames() []string {
	var out []string
	for _, name := range sortedKeys(a.targets) {
		out = append(out, loraA(name), loraB(name))
	}
	return out
}

// shape of an adapter weight: A [rank, in], B [out, rank], whatever the
// base map's storage (PEFT's lora_A and lora_B are nn.Linear for Conv1D
// maps too).
func (a *adapter) shape(name string) []int {
	if mapName, ok := strings.CutSuffix(name, ".lora_A.weight"); ok {
		return []int{a.cfg.Rank, a.targets[mapName].in}
	}
	mapName := strings.TrimSuffix(name, ".lora_B.weight")
	return []int{a.targets[mapName].out, a.cfg.Rank}
}

// LoRA is the model's adapter settings, if it has one.
func (m *Decoder) LoRA() (LoRA, bool) {
	if m.lora == nil {
		return LoRA{}, false
	}
	return m.lora.cfg, true
}

// LoRATargets are the names of the maps the adapter adapts, sorted.
func (m *Decoder) LoRATargets() []string {
	if m.lora == nil {
		return nil
	}
	return sortedKeys(m.lora.targets)
}

// trainable are the weights training changes, in name order: the
// adapter's when there is one (the base is frozen: no gradient, no
// optimiser state), otherwise every weight.
func (m *Decoder) trainable() []string {
	if m.lora != nil {
		return m.lora.weightNames()
	}
	return m.Config.WeightNames()
}

// TrainableParams counts the values training changes: the adapter's with
// one, otherwise every weight's.
func (m *Decoder) TrainableParams() int {
	n := 0
	for _, name := range m.trainable() {
		n += product(m.shapeOf(name))
	}
	return n
}

// shapeOf is the shape of a base or adapter weight.
func (m *Decoder) shapeOf(name string) []int {
	if m.lora != nil && (strings.HasSuffix(name, ".lora_A.weight") || strings.HasSuffix(name, ".lora_B.weight")) {
		return m.lora.shape(name)
	}
	return m.Config.WeightShape(name)
}

// loraDelta is s·B(A·drop(x)) for map p on x [B, T, in], or nil when p is
// not adapted. Dropout (PEFT's nn.Dropout: zero with probability p, scale
// the rest by 1/(1−p)) runs in training steps only (dropoutOn).
func (m *Decoder) loraDelta(p projection, x *Node) *Node {
	if m.lora == nil {
		return nil
	}
	if _, ok := m.lora.targets[p.name]; !ok {
		return nil
	}
	g := x.Graph()
	cfg := m.lora.cfg
	if _, on := m.lora.dropoutIn.Load(g); on && cfg.Dropout > 0 {
		u := m.Store.RandomUniform(g, shapes.Make(x.DType(), x.Shape().Dimensions...))
		keep := GreaterOrEqual(u, Scalar(g, x.DType(), cfg.Dropout))
		x = Where(keep, MulScalar(x, 1/(1-cfg.Dropout)), Scalar(g, x.DType(), 0))
	}
	a := Einsum("bti,ri->btr", x, m.w(g, loraA(p.name)))
	return MulScalar(Einsum("btr,or->bto", a, m.w(g, loraB(p.name))), cfg.Scaling())
}

// dropoutOn makes graph g, a training step, apply the adapter's dropout.
func (m *Decoder) dropoutOn(g *Graph) {
	if m.lora != nil {
		m.lora.dropoutIn.Store(g, true)
	}
}

// AdapterWeights returns the adapter's weights as float64, by name.
func (m *Decoder) AdapterWeights() (map[string][]float64, error) {
	if m.lora == nil {
		return nil, fmt.Errorf("the model has no LoRA adapter")
	}
	return m.values(m.lora.weightNames())
}

// MergedWeights are the base weights with the adapter merged in, as PEFT's
// merge does: W + s·B·A for nn.Linear maps, W + s·(B·A)ᵀ for Conv1D
// (fan_in_fan_out). Without an adapter, the weights.
func (m *Decoder) MergedWeights() (map[string][]float64, error) {
	out := map[string][]float64{}
	for _, name := range m.Config.WeightNames() {
		w, err := m.mergedWeight(name)
		if err != nil {
			return nil, err
		}
		out[name] = w
	}
	return out, nil
}

// mergedWeight is one weight with the adapter merged in, where the adapter
// adapts its map.
func (m *Decoder) mergedWeight(name string) ([]float64, error) {
	v, err := m.values([]string{name})
	if err != nil {
		return nil, err
	}
	w := v[name]
	if m.lora == nil {
		return w, nil
	}
	target := strings.TrimSuffix(name, ".weight")
	p, ok := m.lora.targets[target]
	if !ok || target == name {
		return w, nil
	}
	ad, err := m.values([]string{loraA(target), loraB(target)})
	if err != nil {
		return nil, err
	}
	a, b := ad[loraA(target)], ad[loraB(target)]
	r, s := m.lora.cfg.Rank, m.lora.cfg.Scaling()
	for o := 0; o < p.out; o++ {
		for i := 0; i < p.in; i++ {
			var d float64
			for k := 0; k < r; k++ {
				d += b[o*r+k] * a[k*p.in+i]
			}
			at := o*p.in + i
			if p.conv1D {
				at = i*p.out + o
			}
			w[at] += s * d
		}
	}
	return w, nil
}

// Merged is a model without adapter computing what m computes: its
// weights merged.
func (m *Decoder) Merged() (*Decoder, error) {
	w, err := m.MergedWeights()
	if err != nil {
		return nil, err
	}
	return FromWeights(m.Config, w, m.Backend)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
