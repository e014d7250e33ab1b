// Package tasks holds the embedded known-reward task (docs/design.md §5): a task
// whose true reward r*(x, y) a program computes, so that alignment is
// measured, not guessed.
//
// The task: reverse a short lowercase word. x is "Reverse: <word>\nA:",
// a response is " <letters>\n", and r* is the share of the reversed word's
// positions the response gets right, over the longer of the two lengths —
// graded from 0 to 1, so pairs of responses have a spread of quality gaps.
// A tiny byte-level model learns it by SFT in minutes. The SFT corpus pairs
// x with responses of 0–3 corruptions and p⊕x with better ones (0–1 by
// default; exact answers with AugCorruptions 0, the first design, on which
// Δπ cannot follow quality: docs/design.md §5).
package tasks
