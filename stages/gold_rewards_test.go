package stages

import (
	"strings"
	"testing"

	"github.com/srdpo/srdpo/tasks"
)

// The known-reward task's gold reward, as package pipelines registers it
// in srdpo's binary.
func init() { RegisterGoldReward(tasks.RewardName, tasks.Reward) }

func TestGoldRewardByName(t *testing.T) {
	f, err := goldReward(tasks.RewardName)
	if err != nil {
		t.Fatal(err)
	}
	// "Reverse: ab" answered " ba": the exact reversal, the task's best
	// reward (1, tasks/reverse.go), whatever the registry holds.
	if r, err := f("Reverse: ab\nA:", " ba\n"); err != nil || r != 1 {
		t.Errorf("reward %v, %v; want 1", r, err)
	}
	if _, err := goldReward("gpt-4"); err == nil || !strings.Contains(err.Error(), tasks.RewardName) || !strings.Contains(err.Error(), "--reward-model") {
		t.Errorf("an unknown name: %v, want an error listing the known names and pointing to --reward-model", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("a second registration of a name did not panic")
		}
	}()
	RegisterGoldReward(tasks.RewardName, tasks.Reward)
}
