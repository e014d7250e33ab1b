// Package model is where the network lives: the GoMLX causal language
// model (one decoder, configured by Config), exact response log-probs and
// the Scorer, the preference losses (losses.go: each formula of
// docs/design.md §1 in one function), the preference training step,
// generation with a KV cache, SFT, optimisers, checkpoints and Hugging
// Face import/export. Tokenizers are the sub-package model/tokenizer. The
// package knows nothing of Beam.
package model
