// Package benchmarks computes what lm-evaluation-harness computes for the
// Open LLM Leaderboard tasks the Sr-DPO paper reports (ARC, HellaSwag,
// MMLU, TruthfulQA, Winogrande, GSM8K), from the Hugging Face datasets'
// own records: each task's documents, its prompt strings (description,
// few-shot examples drawn as the harness draws them, target delimiter),
// its loglikelihood or generation requests, and its metrics with their
// standard errors.
//
// It is pure: records in, strings and numbers out. Reading the files,
// tokenising and running the model are the evaluation stage's (package
// stages); the harness's tokenisation of a request is EncodePair.
//
// The task definitions follow lm-evaluation-harness v0.4 (task versions:
// arc 1.0, hellaswag 1.0, mmlu default 1.0, truthfulqa_mc1/mc2 2.0,
// winogrande 1.0, gsm8k 3.0); README.md §Benchmarks lists each.
package benchmarks
