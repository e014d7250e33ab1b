// Package pipelines assembles stages into the jobs srdpo runs: ingestion,
// scoring, evaluation, the end-to-end run and the benchmarks. Each job has
// a config struct with a Default…Config() constructor, RegisterFlags and
// Validate (the one pattern of flags.go), and a Build or Run function.
package pipelines
