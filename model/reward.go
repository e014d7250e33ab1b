package model

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// A reward model as transformers' *ForSequenceClassification heads are
// (read: LlamaForSequenceClassification in models/llama/modeling_llama.py
// and GenericForSequenceClassification in modeling_layers.py, search-index
// files 66458711343 and 55039050907; GPT2-, GPTNeoX-, Qwen2/3- and
// MistralForSequenceClassification have the same head): the decoder's
// final hidden states (after its final norm) through score, an
// nn.Linear(hidden_size, num_labels, bias=False), read at the rightmost
// token that is not config.pad_token_id — the last token when the config
// has no pad_token_id, token 0 when every token is the pad id. (A pad id
// equal to the EOS id so skips a response's trailing EOS, as transformers
// does.)

// RewardModel is a *ForSequenceClassification checkpoint of one label.
type RewardModel struct {
	Net   *Decoder  // the decoder; its head is never used
	Score []float64 // score.weight, [hidden]
	Pad   int32     // config.pad_token_id; −1 for none
	exec  *model.Exec
}

// rewardConfig is what config.json says of the head.
type rewardConfig struct {
	Architectures []string          `json:"architectures"`
	NumLabels     *int              `json:"num_labels"`
	ID2Label      map[string]string `json:"id2label"`
	PadTokenID    *int64            `json:"pad_token_id"`
}

// ImportReward loads a Hugging Face *ForSequenceClassification directory
// of a supported family (config.json, safetensors with the decoder under
// its usual prefix and score.weight).
func ImportReward(dir string, backend compute.Backend, dtype DType) (*RewardModel, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	var rc rewardConfig
	if err := json.Unmarshal(b, &rc); err != nil {
		return nil, fmt.Errorf("%s/config.json: %w", dir, err)
	}
	if len(rc.Architectures) == 0 || !strings.HasSuffix(rc.Architectures[0], "ForSequenceClassification") {
		return nil, fmt.Errorf("%s: architectures %v: a reward model is a *ForSequenceClassification checkpoint", dir, rc.Architectures)
	}
	// transformers' PretrainedConfig: num_labels is len(id2label), 2 when
	// neither is given.
	labels := 2
	switch {
	case rc.ID2Label != nil:
		labels = len(rc.ID2Label)
	case rc.NumLabels != nil:
		labels = *rc.NumLabels
	}
	if labels != 1 {
		return nil, fmt.Errorf("%s: %d labels: a reward model has one (num_labels 1)", dir, labels)
	}
	cfg, err := hfModelConfig(b, dtype)
	if err != nil {
		return nil, fmt.Errorf("%s/config.json: %w", dir, err)
	}
	cfg.TiedHead = true // the LM head is not part of the checkpoint, nor used
	pad := int32(-1)
	if rc.PadTokenID != nil {
		if *rc.PadTokenID < 0 || *rc.PadTokenID >= int64(cfg.Vocab) {
			return nil, fmt.Errorf("%s/config.json: pad_token_id %d is not a token of the vocabulary of %d", dir, *rc.PadTokenID, cfg.Vocab)
		}
		pad = int32(*rc.PadTokenID)
	}
	files, err := openHFWeights(dir)
	if err != nil {
		return nil, err
	}
	defer files.Close()
	sf, ok := files.at["score.weight"]
	if !ok {
		return nil, fmt.Errorf("%s: no score.weight: not a sequence-classification checkpoint", dir)
	}
	if got := sf.entries["score.weight"].Shape; len(got) != 2 || got[0] != 1 || got[1] != cfg.Width {
		return nil, fmt.Errorf("%s: score.weight has shape %v, want [1 %d]", dir, got, cfg.Width)
	}
	if _, ok := files.at["score.bias"]; ok {
		return nil, fmt.Errorf("%s: score.bias: transformers' score layer has no bias", dir)
	}
	score := make([]float64, cfg.Width)
	if err := sf.read("score.weight", func(i int, x float64) { score[i] = x }); err != nil {
		return nil, err
	}
	delete(files.at, "score.weight")
	where, err := files.match(dir, cfg)
	if err != nil {
		return nil, err
	}
	net, err := fromSource(cfg, backend, func(name string, shape []int) (*tensors.Tensor, error) {
		return readWeight(where[name], cfg.DType, shape)
	})
	if err != nil {
		return nil, err
	}
	return newRewardModel(net, score, pad)
}

func newRewardModel(net *Decoder, score []float64, pad int32) (*RewardModel, error) {
	exec, err := model.NewExec(net.Backend, net.Store, func(scope *model.Scope, tokens, at *Node) *Node {
		g := tokens.Graph()
		net.Store.SetTraining(g, true)
		x := net.causalHidden(tokens)
		rows := Iota(g, shapes.Make(dtypes.Int32, tokens.Shape().Dimensions[0]), 0)
		last := Gather(x, Stack([]*Node{rows, at}, -1)) // [B, d]
		return net.norm(net.Config.layout().finalNorm, last)
	})
	if err != nil {
		return nil, err
	}
	exec.SetMaxCache(32)
	return &RewardModel{Net: net, Score: score, Pad: pad, exec: exec}, nil
}

// PoolIndex is the position transformers reads a sequence's reward at.
func (r *RewardModel) PoolIndex(seq []int32) int {
	if r.Pad < 0 {
		return len(seq) - 1
	}
	for i := len(seq) - 1; i >= 0; i-- {
		if seq[i] != r.Pad {
			return i
		}
	}
	return 0
}

// Rewards scores each token sequence (whole: prompt and response).
// Causal attention makes a row's hidden states independent of the padding
// after it, so rows of one length bucket run together.
func (r *RewardModel) Rewards(seqs [][]int32) ([]float64, error) {
	c := r.Net.Config
	out := make([]float64, len(seqs))
	byBucket := map[int][]int{}
	for i, s := range seqs {
		if len(s) == 0 || len(s) > c.Context {
			return nil, fmt.Errorf("sequence %d has %d tokens: want 1 to the context of %d", i, len(s), c.Context)
		}
		b := r.Net.bucket(len(s))
		byBucket[b] = append(byBucket[b], i)
	}
	for padded, idx := range byBucket {
		for lo := 0; lo < len(idx); lo += 16 {
			group := idx[lo:min(lo+16, len(idx))]
			rows := nextPow2(len(group))
			tokens := make([]int32, rows*padded)
			at := make([]int32, rows)
			for k, i := range group {
				copy(tokens[k*padded:], seqs[i])
				at[k] = int32(r.PoolIndex(seqs[i]))
			}
			res, err := r.exec.Exec(tensors.FromFlatDataAndDimensions(tokens, rows, padded), tensors.FromFlatDataAndDimensions(at, rows))
			if err != nil {
				return nil, err
			}
			h := toFloat64(res[0])
			for k, i := range group {
				var s float64
				for j, w := range r.Score {
					s += w * h[k*c.Width+j]
				}
				out[i] = s
			}
		}
	}
	return out, nil
}

// ExportReward writes net with a score head as transformers writes a
// *ForSequenceClassification checkpoint of one label: the decoder's
// tensors (no LM head), score.weight [1, hidden], and the causal LM's
// config.json with the architecture's head renamed (LlamaForCausalLM →
// LlamaForSequenceClassification, GPT2LMHeadModel →
// GPT2ForSequenceClassification), id2label {"0": "LABEL_0"} and
// pad_token_id (pad < 0: none). The decoder's tensors take the head
// model's prefix (GPT-2's "transformer.").
func ExportReward(net *Decoder, score []float64, pad int32, dir string) error {
	c := net.Config
	if len(score) != c.Width {
		return fmt.Errorf("score has %d weights, want the width %d", len(score), c.Width)
	}
	weights, err := net.Weights()
	if err != nil {
		return err
	}
	tensors := map[string]Tensor{"score.weight": {Shape: []int{1, c.Width}, Data: score}}
	for name, v := range weights {
		if name == c.layout().head {
			continue
		}
		stored := c.layout().headPrefix + name
		tensors[stored] = Tensor{Shape: c.WeightShape(name), Data: v}
	}
	b, err := hfConfigJSON(c)
	if err != nil {
		return err
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		return err
	}
	causal := cfg["architectures"].([]any)[0].(string)
	base := strings.TrimSuffix(strings.TrimSuffix(causal, "ForCausalLM"), "LMHeadModel")
	cfg["architectures"], cfg["id2label"], cfg["label2id"] = []string{base + "ForSequenceClassification"}, map[string]string{"0": "LABEL_0"}, map[string]int{"LABEL_0": 0}
	if pad >= 0 {
		cfg["pad_token_id"] = pad
	}
	if b, err = json.MarshalIndent(cfg, "", "  "); err != nil {
		return err
	}
	return writeHFDir(dir, tensorSource(tensors), b, DefaultShardBytes)
}
