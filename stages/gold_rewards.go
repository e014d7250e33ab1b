package stages

import (
	"fmt"
	"sort"
	"sync"
)

// A gold reward scores a response to a prompt by a task's own rule: the
// known-reward task's, or another a caller registers. Evaluation names
// the one it uses (EvalSpec.GoldReward) rather than holding the function,
// since a Beam DoFn's fields travel to workers as data; a worker is the
// same binary, whose init registered the same names.
var goldRewards = struct {
	sync.RWMutex
	byName map[string]func(prompt, response string) (float64, error)
}{byName: map[string]func(prompt, response string) (float64, error){}}

// RegisterGoldReward makes a gold reward known by name, for
// EvalSpec.GoldReward. Call it from an init function; a second
// registration of a name panics, as Beam's registries do.
func RegisterGoldReward(name string, reward func(prompt, response string) (float64, error)) {
	goldRewards.Lock()
	defer goldRewards.Unlock()
	if _, dup := goldRewards.byName[name]; dup {
		panic(fmt.Sprintf("stages.RegisterGoldReward: %q registered twice", name))
	}
	goldRewards.byName[name] = reward
}

// goldReward is the gold reward registered as name.
func goldReward(name string) (func(prompt, response string) (float64, error), error) {
	goldRewards.RLock()
	defer goldRewards.RUnlock()
	if f, ok := goldRewards.byName[name]; ok {
		return f, nil
	}
	var known []string
	for n := range goldRewards.byName {
		known = append(known, n)
	}
	sort.Strings(known)
	return nil, fmt.Errorf("no gold reward is registered as %q (known: %v); give --reward-model to judge with a reward model", name, known)
}
