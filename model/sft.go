package model

import (
	"fmt"
	"math"
	"math/rand/v2"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/srdpo/srdpo/model/optim"
)

// SFTConfig configures supervised fine-tuning: next-token cross-entropy on
// the response tokens of (prompt, response) pairs, the prompt masked out.
type SFTConfig struct {
	Optim     optim.Config
	BatchSize int    // pairs per step
	Steps     int    // optimiser steps
	Seed      uint64 // data order: a fresh seeded shuffle each epoch
}

// SFTStep is what one training step reports.
type SFTStep struct {
	Step     int
	Loss     float64 // mean negative log-likelihood per response token
	GradNorm float64
	LR       float64
}

// SFT trains the model in place and calls progress after every step. A
// non-finite loss or gradient stops training with an error naming the
// step; the step changes nothing (see optim.State.Apply).
func (m *Decoder) SFT(pairs []Pair, cfg SFTConfig, progress func(SFTStep)) error {
	if err := cfg.Optim.Validate(); err != nil {
		return err
	}
	if cfg.BatchSize < 1 || cfg.Steps < 1 || len(pairs) == 0 {
		return fmt.Errorf("sft: need pairs (%d), a batch size (%d) and steps (%d)", len(pairs), cfg.BatchSize, cfg.Steps)
	}
	for i, p := range pairs {
		if n := len(p.Prompt) + len(p.Response); n > m.Config.Context || len(p.Prompt) == 0 || len(p.Response) == 0 {
			return fmt.Errorf("sft: pair %d has %d prompt and %d response tokens (context %d; truncate first)", i, len(p.Prompt), len(p.Response), m.Config.Context)
		}
	}
	step, err := m.NewSFTStep(cfg.Optim)
	if err != nil {
		return err
	}
	var order []int
	epoch := 0
	for s := 0; s < cfg.Steps; s++ {
		batch := make([]Pair, 0, cfg.BatchSize)
		for len(batch) < cfg.BatchSize {
			if len(order) == 0 {
				order = rand.New(rand.NewPCG(cfg.Seed, uint64(epoch))).Perm(len(pairs))
				epoch++
			}
			batch = append(batch, pairs[order[0]])
			order = order[1:]
		}
		r, err := step.Run(s, batch)
		if err != nil {
			return err
		}
		if progress != nil {
			progress(r)
		}
	}
	return nil
}

// SFTTrainer runs SFT steps; its graph is compiled once per batch shape.
type SFTTrainer struct {
	m    *Decoder
	opt  optim.Config
	exec *model.Exec
}

// NewSFTStep builds the training step: forward, backward, clipping and
// the optimiser update, in one graph.
func (m *Decoder) NewSFTStep(o optim.Config) (*SFTTrainer, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	state, err := m.optimizerState()
	if err != nil {
		return nil, err
	}
	exec, err := model.NewExec(m.Backend, m.Store, func(scope *model.Scope, tokens, targets, mask, lr *Node) (*Node, *Node) {
		m.Store.SetTraining(tokens.Graph(), true)
		sum, count := m.ResponseLogProbs(tokens, targets, mask)
		loss := Neg(Div(ReduceAllSum(sum), ReduceAllSum(count)))
		return loss, state.Apply(o, m.gradients(loss), IsFinite(loss), lr)
	})
	if err != nil {
		return nil, err
	}
	return &SFTTrainer{m: m, opt: o, exec: exec}, nil
}

// Run takes one step on a batch of pairs.
func (t *SFTTrainer) Run(step int, pairs []Pair) (SFTStep, error) {
	longest := 0
	for _, p := range pairs {
		longest = max(longest, len(p.Prompt)+len(p.Response))
	}
	b, err := NewBatch(pairs, nextPow2(len(pairs)), t.m.bucket(longest))
	if err != nil {
		return SFTStep{}, err
	}
	lr := t.opt.LearningRate(step)
	lrT := t.m.floats([]float64{lr})
	res, err := t.exec.Exec(append(t.m.inputs(b), lrT)...)
	if err != nil {
		return SFTStep{}, err
	}
	r := SFTStep{Step: step, Loss: toFloat64(res[0])[0], GradNorm: toFloat64(res[1])[0], LR: lr}
	if math.IsNaN(r.Loss) || math.IsInf(r.Loss, 0) || math.IsNaN(r.GradNorm) || math.IsInf(r.GradNorm, 0) {
		return r, fmt.Errorf("sft step %d: loss %g, gradient norm %g: not finite; the model is left as before the step", step, r.Loss, r.GradNorm)
	}
	return r, nil
}
