// Command srdpo aligns language models with Sr-DPO, Sr-IPO and the DPO
// family as a dataflow of Beam and GoMLX stages.
//
//	srdpo <command> [flags]
//
// Commands: run (the end-to-end job on the embedded task), score, train,
// eval, gen, tokenize and bench. Run "srdpo <command> --help" for a
// command's flags. Beam's pipeline flags (--runner, --endpoint,
// --environment_type, …) are accepted by every command that runs a
// pipeline. The design, with the formulas, is docs/design.md.
package main
