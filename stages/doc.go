// Package stages holds srdpo's composable units. The Beam stages are
// exported functions from PCollections to PCollections (ReadCorpus,
// ScorePreferences, EvaluatePolicies; shard I/O is package shardio) whose DoFns
// are unexported and registered in init(), configured by options as
// functions — the shape of the Beam Go SDK's io/textio and
// transforms/stats. Beside them: the GoMLX training stage (Train), the
// one rule of how special tokens enter sequences (sequences.go), model
// directories and the process's cache of frozen models (model_dir.go),
// checkpoints, counters, and the evaluation's figures.
//
// The contracts between stages are the Arrow tables of package schemas;
// docs/design.md §3 describes them.
package stages
