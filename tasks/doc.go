// Package tasks holds the embedded known-reward task (DESIGN §5): a seeded
// generator of preference and SFT corpora whose true reward r*(x, y) a
// program computes, so that alignment is measured, not guessed. It arrives
// with issue 6; until then the package is empty.
package tasks
